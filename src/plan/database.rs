//! Which database URLs count as local, for the `reset` guard.
//!
//! A reset drops every table. The guard keeps a shared or production database from being wiped
//! by a plan copied from a laptop: only URLs that can only reach this machine are local.

use url::Url;

/// True when `url` can only name a database on this machine: a SQLite file or memory
/// database, or a server on localhost, a loopback address or a unix socket.
pub fn is_local_database_url(url: &str) -> bool {
    if url.starts_with("sqlite:") {
        return true;
    }
    // libpq's `?host=/path` names a unix socket and wins over the authority part, which may
    // then be empty (`postgres://u@/db?host=…`), a form `Url::parse` rejects.
    if let Some((_, query)) = url.split_once('?') {
        let socket_param = url::form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k == "host" && v.starts_with('/'));
        if socket_param {
            return true;
        }
    }
    let Ok(parsed) = Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or("");
    match host {
        // `postgres:///db` and `postgres://%2Frun%2Fpostgresql/db` reach a unix socket.
        "" => true,
        h if h.starts_with("%2F") || h.starts_with("%2f") || h.starts_with('/') => true,
        "localhost" => true,
        h => {
            let bare = h.trim_start_matches('[').trim_end_matches(']');
            bare.parse::<std::net::IpAddr>()
                .map(|ip| ip.is_loopback())
                .unwrap_or(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_local_database_url as local;

    #[test]
    fn local_urls() {
        assert!(local("sqlite://popctl-dev.db?mode=rwc"));
        assert!(local("sqlite::memory:"));
        assert!(local("postgres://u:p@localhost/db"));
        assert!(local("postgres://u@127.0.0.1:5432/db"));
        assert!(local("postgres://u@127.9.0.1/db"));
        assert!(local("postgres://u@[::1]:5432/db"));
        assert!(local("postgres:///db"));
        assert!(local("postgres://%2Frun%2Fpostgresql/db"));
        assert!(local("postgres://u@/db?host=/var/run/postgresql"));
    }

    #[test]
    fn remote_urls() {
        assert!(!local("postgres://u:p@db.example.com/prod"));
        assert!(!local("postgres://u@10.0.0.5/db"));
        assert!(!local("postgres://u@localhost.example.com/db"));
        assert!(!local("mysql//broken"));
        assert!(!local(""));
    }
}
