//! The HTTP source layer against the simulator over loopback: answers over `max_body` fail
//! unread (with and without `Content-Length`) and are neither retried nor cached, a server
//! that keeps answering 429 fails a request once `max_rate_limited_wait` is spent, and TMDB's
//! `{"success":false}` in a 200 is read with TMDB's own code and message, on simulated and on
//! recorded bodies; a source paced at exactly the rate the server allows meets no 429; recorded
//! collection answers served over loopback give exactly their movies; a client bound to a
//! local address reaches servers from that address, downloads and a plan's sources included.

#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use popctl::plan::{
    Backoff, CacheConfig, CacheMode, DiscoverFilters, Interpolated, ListKind, RetryPolicy,
    SourceConfig, SourceKind,
};
use popctl::sim::{self, Api, OddMovies, RateLimit, Sandbox, SandboxConfig, Unsuccessful};
use popctl::sources::cache::SourceCache;
use popctl::sources::http::{HttpError, SourceClient};
use popctl::sources::retry::Retrier;
use popctl::sources::tmdb::client::{Details, NotFound, TmdbClient, TmdbError, unsuccessful};
use popctl::stages::Sources;

use crate::cache::{cache_config, source};
use crate::support::fixtures_dir;

const MIB: u64 = 1 << 20;

async fn sandbox(odd_movies: OddMovies) -> Sandbox {
    let _ = rustls::crypto::ring::default_provider().install_default();
    sim::start(SandboxConfig {
        movies: 500,
        odd_movies,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn ids(s: &Sandbox, n: usize) -> Vec<u32> {
    s.catalog().entries().iter().take(n).map(|e| e.id).collect()
}

fn retrier(attempts: u32) -> Retrier {
    Retrier::new(RetryPolicy {
        attempts,
        backoff: Backoff::Fixed,
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
        jitter: false,
    })
}

/// A TMDB client of the sandbox with `max_body`, through `cache` unless it is off.
fn tmdb(s: &Sandbox, max_body: u64, cache: &CacheConfig) -> SourceClient {
    let config = SourceConfig {
        rate_scope: popctl::plan::RateScope::Worker,
        max_body,
        ..source(SourceKind::Tmdb, s.tmdb_base_url())
    };
    let client =
        SourceClient::new(&config, Some(popctl::secret::Secret::new(s.tmdb_key()))).unwrap();
    match SourceCache::open(cache, &config).unwrap() {
        Some(c) => client.with_cache(std::sync::Arc::new(c)),
        None => client,
    }
}

fn cache_entries(dir: &Path) -> usize {
    crate::run_support::files_under(dir)
        .iter()
        .filter(|p| p.file_name().unwrap().len() == 62)
        .count()
}

#[tokio::test]
async fn an_answer_over_max_body_fails_unread_once_and_is_not_cached() {
    let s0 = sandbox(OddMovies::default()).await;
    let picked = ids(&s0, 3);
    s0.shutdown().await;
    let (with_length, chunked, plain) = (picked[0], picked[1], picked[2]);
    let s = sandbox(OddMovies {
        padded: vec![with_length, chunked],
        padded_bytes: 3 * MIB,
        chunked: vec![chunked],
        ..OddMovies::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_config(dir.path(), CacheMode::ReadWrite);
    let c = tmdb(&s, MIB, &cache);

    let err = c
        .get(&format!("movie/{with_length}"), &[], &retrier(4))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "tmdb: TMDB answered 3.0 MiB for GET {}/movie/{with_length}, more than max_body = 1MiB (sources.tmdb.max_body)",
            s.tmdb_base_url()
        )),
        "{text}"
    );
    assert!(!text.contains(s.tmdb_key()), "{text}");
    assert!(
        matches!(
            err,
            HttpError::TooLarge {
                announced: Some(n),
                attempts: 1,
                ..
            } if n == 3 * MIB
        ),
        "{err:?}"
    );
    // Refused on its Content-Length: not a byte of the body was read.
    assert_eq!(c.totals().bytes, 0);

    let err = c
        .get(&format!("movie/{chunked}"), &[], &retrier(4))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "tmdb: TMDB answered more than 1.0 MiB for GET {}/movie/{chunked} (without a Content-Length; reading stopped there), more than max_body = 1MiB (sources.tmdb.max_body)",
            s.tmdb_base_url()
        )),
        "{text}"
    );
    assert!(matches!(
        err,
        HttpError::TooLarge {
            announced: None,
            attempts: 1,
            ..
        }
    ));
    // Read up to the limit and not past the chunk that crossed it (the sandbox sends 64 KiB
    // chunks), not the 3 MiB sent.
    let read = c.totals().bytes;
    assert!(read > MIB && read <= MIB + 64 * 1024, "{read} bytes read");
    // Not retried: the same answer would come back.
    let stats = s.stats();
    assert_eq!(stats.count("GET /3/movie/{id}", 200), 2, "{stats:?}");
    assert_eq!(c.totals().requests, 2);
    // Neither was stored; a normal answer is.
    assert_eq!(cache_entries(dir.path()), 0);
    let ok = c
        .get(&format!("movie/{plain}"), &[], &retrier(1))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(cache_entries(dir.path()), 1);

    // Under a higher limit both padded answers are whole JSON of the right movie, read over
    // either transfer.
    let roomy = tmdb(
        &s,
        4 * MIB,
        &cache_config(&dir.path().join("b"), CacheMode::Off),
    );
    for id in [with_length, chunked] {
        let r = roomy
            .get(&format!("movie/{id}"), &[], &retrier(1))
            .await
            .unwrap();
        assert_eq!(r.body.len() as u64, 3 * MIB);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["id"], id);
    }
    s.shutdown().await;
}

#[tokio::test]
async fn a_source_that_keeps_answering_429_fails_the_request_after_its_wait() {
    let s = sandbox(OddMovies::default()).await;
    s.set_limits(
        Api::Tmdb,
        Some(RateLimit {
            rps: 0.001,
            burst: 1,
        }),
    );
    let config = SourceConfig {
        rate_scope: popctl::plan::RateScope::Worker,
        max_rate_limited_wait: Duration::from_millis(300),
        store_raw: true,
        ..source(SourceKind::Tmdb, s.tmdb_base_url())
    };
    let c = SourceClient::new(&config, Some(popctl::secret::Secret::new(s.tmdb_key()))).unwrap();
    let id = ids(&s, 2);
    // One try allowed: the 429s do not use it up.
    let mut r = retrier(1);
    r.max_server_wait = Duration::from_millis(5);
    assert_eq!(
        c.get(&format!("movie/{}", id[0]), &[], &r)
            .await
            .unwrap()
            .status,
        200
    );
    let err = c
        .get(&format!("movie/{}", id[1]), &[], &r)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("was answered 429 Too Many Requests")
            && text.ends_with(
                "would go past max_rate_limited_wait = 300ms (sources.tmdb.max_rate_limited_wait)"
            ),
        "{text}"
    );
    let HttpError::RateLimited {
        rate_limited,
        attempts,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert!(rate_limited >= 2, "{rate_limited}");
    assert_eq!(attempts, rate_limited, "every try was answered 429");
    assert_eq!(s.stats().tmdb.rate_limited, u64::from(rate_limited));
    assert_eq!(c.totals().rate_limited, u64::from(rate_limited));
    s.shutdown().await;
}

/// The pace pays late timer wake-ups back, but never by going over the plan's rate: 16 tasks
/// sharing a source at 50/s send 300 requests (six seconds' worth) to a server that allows
/// exactly 50 a second (a bucket of 50, refilled at 50/s), and not one is answered 429 — with
/// the default `burst` and with `burst = 12`, which the server's bucket holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_at_exactly_the_servers_rate_meets_no_429() {
    for burst in [1, 12] {
        at_exactly_the_servers_rate(burst).await;
    }
}

async fn at_exactly_the_servers_rate(burst: u32) {
    let s = sandbox(OddMovies::default()).await;
    s.set_limits(
        Api::Tmdb,
        Some(RateLimit {
            rps: 50.0,
            burst: 50,
        }),
    );
    let config = SourceConfig {
        rate_scope: popctl::plan::RateScope::Worker,
        rate: popctl::plan::Rate {
            count: 50,
            per: Duration::from_secs(1),
        },
        burst,
        ..source(SourceKind::Tmdb, s.tmdb_base_url())
    };
    let c = SourceClient::new(&config, Some(popctl::secret::Secret::new(s.tmdb_key()))).unwrap();
    let ids = ids(&s, 300);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (c, ids, next) = (c.clone(), ids.clone(), std::sync::Arc::clone(&next));
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            while let Some(id) = ids.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                let r = c.get(&format!("movie/{id}"), &[], &retrier(1)).await;
                statuses.push(
                    r.map(|r| (r.status, r.rate_limited))
                        .map_err(|e| e.to_string()),
                );
            }
            statuses
        });
    }
    let mut answers = Vec::new();
    while let Some(statuses) = tasks.join_next().await {
        answers.extend(statuses.unwrap());
    }
    assert_eq!(answers.len(), 300);
    assert!(
        answers.iter().all(|a| a == &Ok((200, 0))),
        "burst {burst}: {answers:?}"
    );
    assert_eq!(s.stats().tmdb.rate_limited, 0);
    assert_eq!(s.stats().tmdb.requests, 300);
    assert_eq!(c.totals().requests, 300);
    s.shutdown().await;
}

#[tokio::test]
async fn tmdb_success_false_in_a_200_is_read_with_tmdbs_code_and_message() {
    let s0 = sandbox(OddMovies::default()).await;
    let picked = ids(&s0, 3);
    s0.shutdown().await;
    let (missing, broken, plain) = (picked[0], picked[1], picked[2]);
    let s = sandbox(OddMovies {
        unsuccessful: vec![
            Unsuccessful {
                id: missing,
                status_code: 34,
                status_message: None,
            },
            Unsuccessful {
                id: broken,
                status_code: 11,
                status_message: None,
            },
        ],
        ..OddMovies::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cache = cache_config(dir.path(), CacheMode::ReadWrite);
    let t = TmdbClient::new(tmdb(&s, MIB, &cache), Some("TMDB_API_KEY".into()));
    let append = ["credits".to_string()];

    // 34: "could not be found", as a 404 would say; kept as a negative answer.
    let found = t.details(i64::from(missing), &append, &retrier(1)).await;
    assert!(
        matches!(
            found.as_ref().map(|f| &f.value),
            Ok(Details::NotFound(NotFound::StatusCode34))
        ),
        "{found:?}"
    );
    assert_eq!(cache_entries(dir.path()), 1);

    // Any other code is an error in TMDB's words, not a parser's "missing field `id`".
    let err = t
        .details(i64::from(broken), &append, &retrier(1))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        TmdbError::Unsuccessful {
            status: 200,
            status_code: 11,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        format!(
            "tmdb: GET {}/movie/{broken}?append_to_response=credits: TMDB answered 200 with status_code 11: Internal error: Something went wrong, contact TMDb.",
            s.tmdb_base_url()
        )
    );
    assert_eq!(cache_entries(dir.path()), 1, "not kept");

    assert!(matches!(
        t.details(i64::from(plain), &append, &retrier(1))
            .await
            .unwrap()
            .value,
        Details::Found(_)
    ));
    // Other endpoints go through the same door and answer normally.
    let page = t
        .list_page(
            ListKind::Popular,
            &DiscoverFilters::default(),
            1,
            &retrier(1),
        )
        .await
        .unwrap();
    assert_eq!(page.value.ids.len(), 20);
    assert_eq!(t.genres(&retrier(1)).await.unwrap().value.len(), 19);
    s.shutdown().await;
}

/// Every recorded TMDB body: the real answers are not mistaken for an error envelope, and every
/// recorded envelope that says `"success": false` is read with its code.
#[test]
fn recorded_tmdb_bodies_are_read_as_answers_or_envelopes() {
    let mut answers = 0;
    let mut envelopes = 0;
    for entry in walk(&fixtures_dir().join("tmdb")) {
        let body = std::fs::read(&entry).unwrap();
        let name = entry.to_string_lossy().into_owned();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        match unsuccessful(&body) {
            None => {
                assert_ne!(value["success"], false, "{name}");
                answers += 1;
            }
            Some(u) => {
                assert!(name.contains("/errors/"), "{name}");
                assert_eq!(value["success"], false, "{name}");
                assert_eq!(
                    u.status_code,
                    value["status_code"].as_i64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    u.message,
                    value["status_message"].as_str().unwrap(),
                    "{name}"
                );
                envelopes += 1;
            }
        }
    }
    assert!(answers >= 100, "{answers} recorded answers");
    assert!(envelopes >= 5, "{envelopes} recorded envelopes");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    crate::run_support::files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

/// A server on loopback that answers every request with 200 and `body`, as TMDB answered when
/// the body was recorded.
async fn recorded_server(body: Vec<u8>) -> String {
    let addr = crate::support::loopback_server(move |_| body.clone()).await;
    format!("http://{addr}/3")
}

/// Every recorded `collection/{id}` answer, served over loopback: `collection = ID` takes
/// exactly the movies of its `parts`, in order.
#[tokio::test]
async fn recorded_collections_give_exactly_their_parts() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let bodies = crate::store_collection::collection_fixtures();
    assert!(bodies.len() >= 7, "{}", bodies.len());
    let mut counts = Vec::new();
    for (name, value, body) in bodies {
        let expected: Vec<i64> = value["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        let id = value["id"].as_u64().unwrap();
        let base = recorded_server(body).await;
        let config = source(SourceKind::Tmdb, base);
        let http = SourceClient::new(&config, Some(popctl::secret::Secret::new("k"))).unwrap();
        let t = TmdbClient::new(http, None);
        let got = t.collection(id, &retrier(1)).await.unwrap().value;
        let got = got.map(|c| c.parts);
        assert_eq!(got.as_ref(), Some(&expected), "{name}");
        counts.push((name, expected.len()));
    }
    // Exact counts of some, as the recordings hold them.
    let count_of = |prefix: &str| {
        counts
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .map(|(_, c)| *c)
            .unwrap()
    };
    assert_eq!(count_of("10-star-wars__c-eg"), 9);
    assert_eq!(count_of("119-lotr__kiwilan"), 3);
    assert_eq!(count_of("264-back-to-the-future__tmdblib"), 3);
}

/// A loopback server that answers every request with 200 `{}` and keeps each connection's
/// peer address, the way an upstream limiting per client address tells clients apart.
async fn peer_recording_server() -> (String, Arc<Mutex<Vec<IpAddr>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&peers);
    tokio::spawn(async move {
        while let Ok((mut conn, peer)) = listener.accept().await {
            seen.lock().unwrap().push(peer.ip());
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf[len..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => len += n,
                }
            }
            let _ = conn
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                      content-length: 2\r\nconnection: close\r\n\r\n{}",
                )
                .await;
        }
    });
    (format!("http://{addr}"), peers)
}

#[tokio::test]
async fn a_client_bound_to_127_0_0_2_reaches_a_loopback_server_from_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (base, peers) = peer_recording_server().await;
    let bound_to = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let config = source(SourceKind::Tmdb, format!("{base}/3"));
    let bound = SourceClient::new_bound(&config, None, Some(bound_to)).unwrap();
    let reply = bound.get("configuration", &[], &retrier(1)).await.unwrap();
    assert_eq!(reply.status, 200);
    // The download path (TMDB's files host) goes out from the same address.
    let download = bound.download(&format!("{base}/p/exports/x.json.gz")).await;
    assert_eq!(download.unwrap().status, 200);
    // Unbound, the system picks 127.0.0.1 to reach 127.0.0.1: the binding made the difference.
    let unbound = SourceClient::new(&config, None).unwrap();
    unbound
        .get("configuration", &[], &retrier(1))
        .await
        .unwrap();
    assert_eq!(
        *peers.lock().unwrap(),
        [bound_to, bound_to, IpAddr::V4(Ipv4Addr::LOCALHOST)]
    );
}

/// `Sources::build_bound` binds every source of a plan: the sandbox counts each worker's
/// requests under its own address.
#[tokio::test]
async fn a_plans_sources_built_bound_reach_the_sandbox_from_their_address() {
    let s = sandbox(OddMovies::default()).await;
    let mut plan = crate::run_support::load_plan("plans/base.toml");
    plan.cache.mode = CacheMode::Off;
    for config in plan.sources.values_mut() {
        let (base_url, key) = match config.kind {
            SourceKind::Tmdb => (s.tmdb_base_url(), s.tmdb_key()),
            SourceKind::Omdb => (s.omdb_base_url(), s.omdb_key()),
        };
        config.base_url = base_url;
        config.api_key = Interpolated::Value(popctl::secret::Secret::new(key));
    }
    for last in [None, Some(3), Some(4)] {
        let sources = match last {
            None => Sources::build(&plan, None),
            Some(n) => {
                Sources::build_bound(&plan, None, Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))))
            }
        }
        .unwrap();
        let tmdb = sources.tmdb.values().next().unwrap().http();
        let reply = tmdb.get("configuration", &[], &retrier(1)).await.unwrap();
        assert_eq!(reply.status, 200);
        let omdb = sources.omdb.values().next().unwrap().http();
        let query = [("i", "tt0000001".to_string())];
        assert_eq!(omdb.get("", &query, &retrier(1)).await.unwrap().status, 200);
    }
    let by_address = s.stats().by_address;
    let expected = ["127.0.0.1", "127.0.0.3", "127.0.0.4"].map(|a| (a.to_string(), 2));
    assert_eq!(by_address, expected.into_iter().collect());
    s.shutdown().await;
}
