//! Where a database URL leads, for the `reset` guard.
//!
//! A reset (or the swap that ends one) replaces data. The guard keeps a shared or production
//! database from being wiped by a plan copied from a laptop: only a database on this machine
//! may be reset without `allow_remote = true`.
//!
//! The URL is judged as the driver itself reads it — sqlx's own `PgConnectOptions` parser,
//! with everything it honours: `?host=` and `?hostaddr=` (which win over the authority part),
//! unix socket directories, and `PGHOST`/`PGHOSTADDR` when the URL names no host. Judging the
//! text by hand got this wrong once (`postgres://u@localhost/db?host=192.0.2.2` looked local
//! and connected elsewhere). The store confirms the verdict after connecting by asking the
//! server which address it answered on.

use std::net::IpAddr;
use std::str::FromStr;

use sea_orm::sqlx::postgres::PgConnectOptions;

/// Where a database URL leads, as the driver will connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locality {
    /// A SQLite file or in-memory database: always this machine.
    Sqlite,
    /// A PostgreSQL unix socket in this directory.
    Socket(String),
    /// A PostgreSQL server over TCP at `localhost` or a loopback address.
    Loopback { host: String, port: u16 },
    /// A PostgreSQL server over TCP anywhere else.
    Remote { host: String, port: u16 },
    /// Not a URL the drivers can read; why.
    Invalid(String),
}

impl Locality {
    /// True when the database can only be on this machine.
    pub fn is_local(&self) -> bool {
        matches!(
            self,
            Locality::Sqlite | Locality::Socket(_) | Locality::Loopback { .. }
        )
    }

    /// Where the driver connects, for messages: "192.0.2.2:5432", "the unix socket in /run/x".
    pub fn place(&self) -> String {
        match self {
            Locality::Sqlite => "a SQLite database".to_owned(),
            Locality::Socket(dir) => format!("the unix socket in {dir}"),
            Locality::Loopback { host, port } | Locality::Remote { host, port } => {
                if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                }
            }
            Locality::Invalid(why) => format!("an address popctl cannot read ({why})"),
        }
    }
}

/// Where `url` leads, read by the driver's own parser.
pub fn locality(url: &str) -> Locality {
    if url.starts_with("sqlite:") {
        return Locality::Sqlite;
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Locality::Invalid("not a sqlite: or postgres:// URL".to_owned());
    }
    let options = match PgConnectOptions::from_str(url) {
        Ok(o) => o,
        Err(e) => return Locality::Invalid(e.to_string()),
    };
    let port = options.get_port();
    if let Some(dir) = options.get_socket() {
        return Locality::Socket(dir.display().to_string());
    }
    let host = options.get_host();
    if host.starts_with('/') {
        return Locality::Socket(host.to_owned());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let host = bare.to_owned();
    if loopback {
        Locality::Loopback { host, port }
    } else {
        Locality::Remote { host, port }
    }
}

/// True when `url` can only name a database on this machine.
pub fn is_local_database_url(url: &str) -> bool {
    locality(url).is_local()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(url: &str) -> bool {
        is_local_database_url(url)
    }

    #[test]
    fn local_urls() {
        assert!(local("sqlite://popctl-dev.db?mode=rwc"));
        assert!(local("sqlite::memory:"));
        assert!(local("postgres://u:p@localhost/db"));
        assert!(local("postgres://u@127.0.0.1:5432/db"));
        assert!(local("postgres://u@127.9.0.1/db"));
        assert!(local("postgres://u@[::1]:5432/db"));
        assert!(local("postgres://%2Frun%2Fpostgresql/db"));
        assert!(local("postgres://u@localhost/db?host=/var/run/postgresql"));
        assert!(local("postgres://u@db.example.com/db?host=/tmp"));
        assert!(local("postgres://u@db.example.com/db?hostaddr=127.0.0.1"));
        assert!(local("postgres://u@db.example.com/db?hostaddr=::1"));
    }

    #[test]
    fn remote_urls() {
        assert!(!local("postgres://u:p@db.example.com/prod"));
        assert!(!local("postgres://u@10.0.0.5/db"));
        assert!(!local("postgres://u@localhost.example.com/db"));
        assert!(!local("postgres://u@[2001:db8::1]:5432/db"));
        assert!(!local("mysql//broken"));
        assert!(!local(""));
    }

    #[test]
    fn query_parameters_win_over_the_authority_as_in_the_driver() {
        let l = locality("postgres://u@localhost:5432/db?host=192.0.2.2");
        assert_eq!(
            l,
            Locality::Remote {
                host: "192.0.2.2".into(),
                port: 5432
            }
        );
        assert!(!local("postgres://u@localhost:5432/db?hostaddr=192.0.2.2"));
        assert!(!local("postgres://u@127.0.0.1/db?host=db.example.com"));
        assert_eq!(
            locality("postgres://u@localhost/db?hostaddr=192.0.2.2&port=6543").place(),
            "192.0.2.2:6543"
        );
        // A hostaddr that is not an address is an error for the driver too.
        assert!(matches!(
            locality("postgres://u@localhost/db?hostaddr=nothost"),
            Locality::Invalid(_)
        ));
    }

    #[test]
    fn sockets_are_named_by_their_directory() {
        assert_eq!(
            locality("postgres://u@localhost/db?host=/run/pg"),
            Locality::Socket("/run/pg".into())
        );
        // An empty host is no URL the driver reads, whatever follows.
        assert!(matches!(
            locality("postgres://u@/db?host=/run/pg"),
            Locality::Invalid(_)
        ));
        assert_eq!(
            locality("postgres://%2Frun%2Fpg/db").place(),
            "the unix socket in /run/pg"
        );
    }
}
