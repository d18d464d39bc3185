//! Shared test helpers: where the real upstream fixtures are, and which PostgreSQL to use.

#![allow(dead_code)] // each test module uses a different subset
#![allow(clippy::print_stderr)] // a skipped test must say so loudly
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

/// `tests/fixtures`: the recorded TMDB and OMDb bodies (see its `PROVENANCE.md`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The `.json` files directly in `tests/fixtures/<sub>`, sorted; panics when there are none, so
/// that no test passes by testing zero files.
pub fn fixture_files(sub: &str) -> Vec<PathBuf> {
    let dir = fixtures_dir().join(sub);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .json fixture in {}", dir.display());
    files
}

/// The PostgreSQL server URL for tests (`POPCTL_TEST_PG`, set by `scripts/test`), or `None`
/// after a loud message. Under `CI=true` a missing server fails instead of skipping.
pub fn pg_url() -> Option<String> {
    match std::env::var("POPCTL_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "POPCTL_TEST_PG is unset under CI=true: PostgreSQL tests must run in CI"
            );
            eprintln!(
                "\n!!! SKIPPED: POPCTL_TEST_PG is unset; PostgreSQL tests did not run (use scripts/test) !!!\n"
            );
            None
        }
    }
}

/// A server on loopback that answers every request with 200 and the JSON `answer` gives for
/// the request line (`GET /3/movie/1?… HTTP/1.1`); its address, `127.0.0.1:PORT`.
pub async fn loopback_server(
    answer: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static,
) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf[len..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => len += n,
                }
            }
            let head = String::from_utf8_lossy(&buf[..len]).into_owned();
            let body = answer(head.lines().next().unwrap_or_default());
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes()).await;
            let _ = conn.write_all(&body).await;
        }
    });
    addr
}
