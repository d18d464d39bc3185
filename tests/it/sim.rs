//! The sandbox over real loopback HTTP: auth, paging, append_to_response, determinism, rate
//! limits (per client address), the OMDb quota, every fault kind, the steering API and the
//! stats it reports.

#![expect(
    clippy::disallowed_methods,
    reason = "tests call the simulator with a plain client, as any HTTP client would"
)]
// Test helpers panic with the failure in hand, like the tests themselves.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use popctl::sim::{self, Api, Faults, RateLimit, Sandbox, SandboxConfig, Stats};
use serde_json::Value;

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

/// A sandbox on a free port with a small catalog (fast to build in debug tests).
pub async fn sandbox(seed: u64) -> Sandbox {
    sandbox_with(SandboxConfig {
        seed,
        movies: 2_000,
        ..SandboxConfig::default()
    })
    .await
}

pub async fn sandbox_with(config: SandboxConfig) -> Sandbox {
    sim::start(config).await.expect("the sandbox starts")
}

/// GET `url` and return status and raw body.
pub async fn get_raw(c: &reqwest::Client, url: &str) -> (u16, Vec<u8>) {
    let resp = c.get(url).send().await.expect("a response");
    let status = resp.status().as_u16();
    (status, resp.bytes().await.expect("a body").to_vec())
}

pub async fn get_json(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let (status, body) = get_raw(c, url).await;
    let v = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{url}: not JSON ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )
    });
    (status, v)
}

/// `…/3/{path}` with the sandbox key, `path` may already have a query.
pub fn tmdb(s: &Sandbox, path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{}/{path}{sep}api_key={}", s.tmdb_base_url(), s.tmdb_key())
}

pub fn omdb(s: &Sandbox, query: &str) -> String {
    format!("{}/?{query}&apikey={}", s.omdb_base_url(), s.omdb_key())
}

/// Polls the stats until `done` holds; fails after a generous deadline. Waiting for a state,
/// not asserting how long it took.
async fn wait_for(s: &Sandbox, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
    for _ in 0..600 {
        let stats = s.stats();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting for {what}: {:?}", s.stats());
}

#[tokio::test]
async fn same_seed_gives_byte_identical_bodies_and_another_seed_does_not() {
    let (a, b, other) = (sandbox(5).await, sandbox(5).await, sandbox(6).await);
    let c = client();
    let some = a.catalog().entries()[100].clone();
    let imdb = a
        .catalog()
        .entries()
        .iter()
        .find_map(|e| e.imdb_id.clone().filter(|_| e.omdb_has_data))
        .unwrap();
    let collection = a.catalog().collection_ids()[0];
    let parts = sim::Part::ALL.map(|p| p.name()).join(",");
    let paths = vec![
        format!("movie/{}?append_to_response={parts}", some.id),
        format!("movie/{}/credits", some.id),
        format!("movie/{}/reviews", some.id),
        "movie/popular?page=3".to_string(),
        "movie/top_rated".to_string(),
        "movie/now_playing".to_string(),
        "movie/upcoming?page=2".to_string(),
        "discover/movie?sort_by=vote_average.desc&vote_count.gte=50&with_genres=18".to_string(),
        "movie/changes?start_date=2025-06-01&end_date=2025-06-10".to_string(),
        format!("find/{imdb}?external_source=imdb_id"),
        format!("collection/{collection}"),
        "genre/movie/list".to_string(),
        "configuration".to_string(),
    ];
    for path in &paths {
        let (sa, ba) = get_raw(&c, &tmdb(&a, path)).await;
        let (sb, bb) = get_raw(&c, &tmdb(&b, path)).await;
        assert_eq!(sa, 200, "{path}");
        assert_eq!((sa, &ba), (sb, &bb), "{path} differs between equal seeds");
    }
    for q in [format!("i={imdb}"), format!("i={imdb}&plot=full")] {
        assert_eq!(
            get_raw(&c, &omdb(&a, &q)).await,
            get_raw(&c, &omdb(&b, &q)).await
        );
    }
    let pa = get_raw(&c, &tmdb(&a, "movie/popular")).await;
    let po = get_raw(&c, &tmdb(&other, "movie/popular")).await;
    assert_ne!(pa, po, "another seed must give another catalog");
    for s in [a, b, other] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn tmdb_accepts_the_key_as_query_or_bearer_and_refuses_others_with_status_7() {
    let s = sandbox(1).await;
    let c = client();
    let id = s.catalog().entries()[0].id;
    let url = format!("{}/movie/{id}", s.tmdb_base_url());
    let (status, body) = get_json(&c, &format!("{url}?api_key=wrong")).await;
    assert_eq!(status, 401);
    assert_eq!(body["status_code"], 7);
    assert_eq!(
        body["status_message"],
        "Invalid API key: You must be granted a valid key."
    );
    assert_eq!(body["success"], false);
    let (status, _) = get_json(&c, &url).await;
    assert_eq!(status, 401);
    let resp = c.get(&url).bearer_auth("sandbox").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = c.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let (status, body) = get_json(&c, &tmdb(&s, &format!("movie/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], id);

    let stats = s.stats();
    assert_eq!(stats.tmdb.unauthorized, 3);
    assert_eq!(stats.tmdb.requests, 5);
    assert_eq!(stats.count("GET /3/movie/{id}", 200), 2);
    assert_eq!(stats.count("GET /3/movie/{id}", 401), 3);
    s.shutdown().await;
}

#[tokio::test]
async fn omdb_key_errors_quota_and_reset() {
    let s = sandbox_with(SandboxConfig {
        movies: 500,
        omdb_daily_quota: Some(3),
        ..SandboxConfig::default()
    })
    .await;
    let c = client();
    let base = s.omdb_base_url();
    let (status, body) = get_json(&c, &format!("{base}/?i=tt0137523")).await;
    assert_eq!(
        (status, body["Error"].as_str()),
        (401, Some("No API key provided."))
    );
    assert_eq!(body["Response"], "False");
    let (status, body) = get_json(&c, &format!("{base}/?i=tt0137523&apikey=x")).await;
    assert_eq!(
        (status, body["Error"].as_str()),
        (401, Some("Invalid API key!"))
    );

    let imdb = s
        .catalog()
        .entries()
        .iter()
        .find_map(|e| e.imdb_id.clone().filter(|_| e.omdb_has_data))
        .unwrap();
    for _ in 0..3 {
        let (status, body) = get_json(&c, &omdb(&s, &format!("i={imdb}"))).await;
        assert_eq!(status, 200);
        assert_eq!(body["Response"], "True");
    }
    let (status, body) = get_json(&c, &omdb(&s, &format!("i={imdb}"))).await;
    assert_eq!(
        (status, body["Error"].as_str()),
        (401, Some("Request limit reached!"))
    );
    let stats = s.stats();
    assert_eq!(stats.omdb_quota_used, 3);
    assert_eq!(stats.omdb_quota_exhausted, 1);
    assert_eq!(
        stats.omdb.unauthorized, 2,
        "quota answers are not auth failures"
    );
    assert_eq!(stats.count("GET /?i=", 401), 3);

    // Another process steers a standalone sandbox over HTTP.
    let resp = c
        .post(format!("{base}/__sandbox/reset-quota"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _) = get_json(&c, &omdb(&s, &format!("i={imdb}"))).await;
    assert_eq!(status, 200);
    s.reset_quota();
    assert_eq!(s.stats().omdb_quota_used, 0);
    s.shutdown().await;
}

#[tokio::test]
async fn lists_page_by_twenty_in_tmdb_order_and_check_the_page_number() {
    let s = sandbox(2).await;
    let c = client();
    let (status, p1) = get_json(&c, &tmdb(&s, "movie/popular")).await;
    assert_eq!(status, 200);
    assert_eq!(p1["page"], 1);
    assert_eq!(p1["results"].as_array().unwrap().len(), 20);
    assert_eq!(p1["total_results"], 2_000);
    assert_eq!(p1["total_pages"], 100);
    let (_, p2) = get_json(&c, &tmdb(&s, "movie/popular?page=2")).await;
    let pops: Vec<f64> = p1["results"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["results"].as_array().unwrap())
        .map(|m| m["popularity"].as_f64().unwrap())
        .collect();
    assert!(
        pops.windows(2).all(|w| w[0] >= w[1]),
        "popular is not ordered: {pops:?}"
    );

    for bad in ["0", "501", "x", "-3"] {
        let (status, body) = get_json(&c, &tmdb(&s, &format!("movie/popular?page={bad}"))).await;
        assert_eq!(status, 400, "page={bad}");
        assert_eq!(body["status_code"], 22);
    }
    let (status, past) = get_json(&c, &tmdb(&s, "movie/popular?page=101")).await;
    assert_eq!(status, 200);
    assert_eq!(past["results"].as_array().unwrap().len(), 0);
    assert_eq!(past["page"], 101);

    let (_, top) = get_json(&c, &tmdb(&s, "movie/top_rated")).await;
    let avgs: Vec<f64> = top["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["vote_average"].as_f64().unwrap())
        .collect();
    assert!(avgs.windows(2).all(|w| w[0] >= w[1]));

    for list in ["now_playing", "upcoming"] {
        let (_, body) = get_json(&c, &tmdb(&s, &format!("movie/{list}"))).await;
        let min = body["dates"]["minimum"].as_str().unwrap().to_string();
        let max = body["dates"]["maximum"].as_str().unwrap().to_string();
        let results = body["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{list} is empty");
        for m in results {
            let d = m["release_date"].as_str().unwrap();
            assert!(
                d >= min.as_str() && d <= max.as_str(),
                "{list}: {d} not in {min}..{max}"
            );
        }
    }

    let (_, d) = get_json(
        &c,
        &tmdb(
            &s,
            "discover/movie?sort_by=primary_release_date.asc&primary_release_year=2015&with_genres=18",
        ),
    )
    .await;
    let results = d["results"].as_array().unwrap();
    assert!(!results.is_empty());
    let dates: Vec<&str> = results
        .iter()
        .map(|m| m["release_date"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    assert!(dates.iter().all(|d| d.starts_with("2015")));
    assert!(results.iter().all(|m| {
        m["genre_ids"]
            .as_array()
            .unwrap()
            .contains(&Value::from(18))
    }));
    s.shutdown().await;
}

#[tokio::test]
async fn append_to_response_adds_parts_as_asked_and_refuses_more_than_twenty() {
    let s = sandbox(3).await;
    let c = client();
    let id = s.catalog().list_ids(sim::ListKind::Popular)[0];
    let (status, body) = get_json(
        &c,
        &tmdb(
            &s,
            &format!("movie/{id}?append_to_response=videos,credits,watch/providers,lists,credits"),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys[keys.len() - 3..],
        ["videos", "credits", "watch/providers"]
    );
    assert!(body.get("lists").is_none());
    assert!(body["watch/providers"]["results"].is_object());
    assert!(body["credits"].get("id").is_none());

    let (_, alone) = get_json(&c, &tmdb(&s, &format!("movie/{id}/credits"))).await;
    assert_eq!(alone["id"], id);
    assert_eq!(alone["cast"], body["credits"]["cast"]);
    assert_eq!(alone["crew"], body["credits"]["crew"]);
    let typed = s.catalog().credits(id).unwrap();
    assert_eq!(serde_json::to_value(&typed.cast).unwrap(), alone["cast"]);

    let many = vec!["credits"; 21].join(",");
    let (status, body) = get_json(
        &c,
        &tmdb(&s, &format!("movie/{id}?append_to_response={many}")),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["status_code"], 27);

    let (status, body) =
        get_json(&c, &tmdb(&s, "movie/999999999?append_to_response=credits")).await;
    assert_eq!(status, 404);
    assert_eq!(body["status_code"], 34);
    s.shutdown().await;
}

#[tokio::test]
async fn imdb_ids_find_collections_and_related_ids_all_point_into_the_catalog() {
    let s = sandbox(4).await;
    let c = client();
    let cat = s.catalog();
    let e = cat
        .entries()
        .iter()
        .find(|e| e.imdb_id.is_some() && e.vote_count > 20)
        .unwrap();
    let imdb = e.imdb_id.clone().unwrap();
    let (status, by_imdb) = get_json(&c, &tmdb(&s, &format!("movie/{imdb}"))).await;
    assert_eq!(
        (status, by_imdb["id"].as_u64()),
        (200, Some(u64::from(e.id)))
    );
    let (_, found) = get_json(
        &c,
        &tmdb(&s, &format!("find/{imdb}?external_source=imdb_id")),
    )
    .await;
    assert_eq!(found["movie_results"][0]["id"], e.id);
    assert_eq!(found["movie_results"][0]["media_type"], "movie");
    let (_, none) = get_json(&c, &tmdb(&s, "find/tt0000001?external_source=imdb_id")).await;
    assert_eq!(none["movie_results"].as_array().unwrap().len(), 0);

    let member = cat
        .entries()
        .iter()
        .find(|e| cat.movie(e.id).unwrap().belongs_to_collection.is_some())
        .unwrap();
    let (_, details) = get_json(&c, &tmdb(&s, &format!("movie/{}", member.id))).await;
    let cid = details["belongs_to_collection"]["id"].as_u64().unwrap();
    let (status, coll) = get_json(&c, &tmdb(&s, &format!("collection/{cid}"))).await;
    assert_eq!(status, 200);
    assert_eq!(coll["name"], details["belongs_to_collection"]["name"]);
    let parts: Vec<u64> = coll["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert!(parts.len() >= 2 && parts.contains(&u64::from(member.id)));

    let (_, recs) = get_json(
        &c,
        &tmdb(&s, &format!("movie/{}/recommendations?page=2", e.id)),
    )
    .await;
    assert!(recs["total_results"].as_u64().unwrap() <= 40);
    let mut outside_first_pages = 0;
    let first_pages: Vec<u32> = cat.list_ids(sim::ListKind::Popular)[..100].to_vec();
    for id in cat.recommendation_ids(e.id).unwrap() {
        let (status, _) = get_json(&c, &tmdb(&s, &format!("movie/{id}"))).await;
        assert_eq!(status, 200, "recommended id {id} is not in the catalog");
        if !first_pages.contains(&id) {
            outside_first_pages += 1;
        }
    }
    assert!(outside_first_pages > 0);
    s.shutdown().await;
}

#[tokio::test]
async fn omdb_records_agree_with_tmdb_and_some_ids_have_no_data() {
    let s = sandbox(8).await;
    let c = client();
    let cat = s.catalog();
    let mut checked = 0;
    let mut no_data = 0;
    for e in cat
        .entries()
        .iter()
        .filter(|e| e.imdb_id.is_some())
        .take(400)
    {
        let imdb = e.imdb_id.clone().unwrap();
        let (status, o) = get_json(&c, &omdb(&s, &format!("i={imdb}"))).await;
        assert_eq!(status, 200);
        if !e.omdb_has_data {
            assert_eq!(o["Error"], "Error getting data.");
            no_data += 1;
            continue;
        }
        let (_, t) = get_json(&c, &tmdb(&s, &format!("movie/{}", e.id))).await;
        assert_eq!(o["Title"], t["title"]);
        assert_eq!(o["imdbID"], t["imdb_id"]);
        if let Some(date) = t["release_date"].as_str().filter(|d| !d.is_empty()) {
            assert_eq!(o["Year"].as_str().unwrap(), &date[..4]);
        }
        let runtime = t["runtime"].as_u64().unwrap();
        let expected = if runtime == 0 {
            "N/A".to_string()
        } else {
            format!("{runtime} min")
        };
        assert_eq!(o["Runtime"], expected.as_str());
        checked += 1;
    }
    assert!(
        checked > 300 && no_data > 0,
        "checked {checked}, no data {no_data}"
    );

    let (_, bad) = get_json(&c, &omdb(&s, "i=tt596799")).await;
    assert_eq!(bad["Error"], "Incorrect IMDb ID.");
    let e = cat
        .entries()
        .iter()
        .find(|e| e.omdb_has_data && e.imdb_id.is_some())
        .unwrap();
    let (_, by_title) = get_json(
        &c,
        &omdb(
            &s,
            &format!("t={}&y={}", e.title.replace(' ', "+"), e.year()),
        ),
    )
    .await;
    assert_eq!(by_title["Title"], e.title.as_str());
    let (_, series) = get_json(&c, &omdb(&s, "t=Nothing&type=series")).await;
    assert_eq!(series["Error"], "Series not found!");
    s.shutdown().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_and_lift_when_unset() {
    let s = sandbox_with(SandboxConfig {
        movies: 300,
        tmdb_limit: Some(RateLimit {
            rps: 0.01,
            burst: 3,
        }),
        ..SandboxConfig::default()
    })
    .await;
    let c = client();
    for _ in 0..3 {
        assert_eq!(get_raw(&c, &tmdb(&s, "genre/movie/list")).await.0, 200);
    }
    let resp = c.get(tmdb(&s, "genre/movie/list")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=100).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status_code"], 25);
    assert!(
        body["status_message"]
            .as_str()
            .unwrap()
            .contains("over the allowed limit of 3")
    );
    let stats = s.stats();
    assert_eq!((stats.rate_limited, stats.tmdb.rate_limited), (1, 1));
    assert_eq!(stats.count("GET /3/genre/movie/list", 429), 1);

    s.set_limits(Api::Tmdb, None);
    assert_eq!(get_raw(&c, &tmdb(&s, "genre/movie/list")).await.0, 200);

    s.set_limits(
        Api::Omdb,
        Some(RateLimit {
            rps: 0.01,
            burst: 1,
        }),
    );
    let q = "i=tt0000001";
    assert_eq!(get_raw(&c, &omdb(&s, q)).await.0, 200);
    let resp = c.get(omdb(&s, q)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(s.stats().omdb.rate_limited, 1);
    s.shutdown().await;
}

/// A client whose connections go out from `local`, as a worker bound to its own loopback
/// address would.
fn client_from(local: IpAddr) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(local)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

#[tokio::test]
async fn each_client_address_gets_its_own_burst_and_is_counted_apart() {
    let s = sandbox_with(SandboxConfig {
        movies: 300,
        tmdb_limit: Some(RateLimit {
            rps: 0.01,
            burst: 2,
        }),
        ..SandboxConfig::default()
    })
    .await;
    let (a, b) = (Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3));
    let (ca, cb) = (client_from(a.into()), client_from(b.into()));
    let url = tmdb(&s, "genre/movie/list");
    for _ in 0..2 {
        assert_eq!(get_raw(&ca, &url).await.0, 200);
    }
    assert_eq!(get_raw(&ca, &url).await.0, 429);
    // 127.0.0.2 spent its burst; 127.0.0.3 still has all of its own.
    for _ in 0..2 {
        assert_eq!(get_raw(&cb, &url).await.0, 200);
    }
    let resp = cb.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["status_message"]
            .as_str()
            .unwrap()
            .contains("Your request count (3) is over the allowed limit of 2"),
        "{body}"
    );

    let stats = s.stats();
    let per_address = |ip: Ipv4Addr| stats.by_address.get(&ip.to_string()).copied();
    assert_eq!((per_address(a), per_address(b)), (Some(3), Some(3)));
    assert_eq!(stats.by_address.len(), 2, "{:?}", stats.by_address);
    assert_eq!(stats.tmdb.rate_limited, 2);

    // New limits refill every address's bucket.
    s.set_limits(
        Api::Tmdb,
        Some(RateLimit {
            rps: 0.01,
            burst: 1,
        }),
    );
    for c in [&ca, &cb] {
        assert_eq!(get_raw(c, &url).await.0, 200);
        assert_eq!(get_raw(c, &url).await.0, 429);
    }
    // The steering API is not an API request: not counted for 127.0.0.1.
    let base = format!("{}/__sandbox", s.omdb_base_url());
    let (_, served) = get_json(&client(), &format!("{base}/stats")).await;
    assert_eq!(served["by_address"]["127.0.0.2"], 5);
    assert_eq!(served["by_address"]["127.0.0.3"], 5);
    assert!(served["by_address"].get("127.0.0.1").is_none(), "{served}");
    s.shutdown().await;
}

#[tokio::test]
async fn server_errors_carry_tmdb_bodies_and_are_counted() {
    let s = sandbox(9).await;
    let c = client();
    for (field, status, code) in [("p500", 500, 11), ("p502", 502, 43), ("p503", 503, 9)] {
        let faults: Faults = serde_json::from_value(serde_json::json!({ field: 1.0 })).unwrap();
        s.set_faults(faults).unwrap();
        let (got, body) = get_json(&c, &tmdb(&s, "configuration")).await;
        assert_eq!(got, status);
        assert_eq!(body["status_code"], code);
        let (got, _) = get_raw(&c, &omdb(&s, "i=tt0000001")).await;
        assert_eq!(got, status);
    }
    let f = s.stats().faults;
    assert_eq!((f.http_500, f.http_502, f.http_503), (2, 2, 2));
    assert_eq!(s.stats().count("GET /3/configuration", 503), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn broken_connections_truncated_bodies_and_stalls() {
    let s = sandbox(10).await;
    let c = client();
    let url = tmdb(&s, "genre/movie/list");
    let (_, whole) = get_raw(&c, &url).await;

    s.set_faults(Faults {
        drop: 1.0,
        ..Faults::none()
    })
    .unwrap();
    let err = c.get(&url).send().await.unwrap_err();
    assert!(
        !err.is_timeout(),
        "a dropped connection is not a timeout: {err}"
    );
    // Faults never touch the steering API.
    let (status, _) = get_json(&c, &format!("{}/__sandbox/stats", s.omdb_base_url())).await;
    assert_eq!(status, 200);

    s.set_faults(Faults {
        truncate: 1.0,
        ..Faults::none()
    })
    .unwrap();
    let (status, cut) = get_raw(&c, &url).await;
    assert_eq!(status, 200);
    assert!(cut.len() < whole.len() && whole.starts_with(&cut));
    assert!(serde_json::from_slice::<Value>(&cut).is_err());

    s.set_faults(Faults {
        short_body: 1.0,
        ..Faults::none()
    })
    .unwrap();
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.content_length(), Some(whole.len() as u64));
    assert!(resp.bytes().await.is_err(), "the body must end early");

    s.set_faults(Faults {
        stall: 1.0,
        stall_ms: 120_000,
        ..Faults::none()
    })
    .unwrap();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient.get(&url).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // The client gave up; the sandbox notices and stops counting the request as in flight.
    let stats = wait_for(&s, "the stalled request to end", |st| st.in_flight == 0).await;
    let f = stats.faults;
    assert_eq!(
        (f.dropped, f.truncated, f.short_body, f.stalled),
        (1, 1, 1, 1)
    );
    s.shutdown().await;
}

#[tokio::test]
async fn in_flight_high_water_mark_counts_concurrent_requests() {
    let s = sandbox(11).await;
    s.set_faults(Faults {
        stall: 1.0,
        stall_ms: 120_000,
        ..Faults::none()
    })
    .unwrap();
    let url = tmdb(&s, "configuration");
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { client().get(url).send().await })
        })
        .collect();
    let stats = wait_for(&s, "six requests in flight", |st| st.in_flight == 6).await;
    assert_eq!(stats.max_in_flight, 6);
    for t in &tasks {
        t.abort();
    }
    let stats = wait_for(&s, "the aborted requests to end", |st| st.in_flight == 0).await;
    assert_eq!(stats.max_in_flight, 6);
    s.shutdown().await;
}

#[tokio::test]
async fn the_steering_api_sets_faults_limits_and_latency_and_serves_stats() {
    let s = sandbox(12).await;
    let c = client();
    let base = format!("{}/__sandbox", s.omdb_base_url());
    let (_, info) = get_json(&c, &base).await;
    assert_eq!(info["tmdb_base_url"], s.tmdb_base_url());
    assert_eq!(info["omdb_key"], "sandbox");

    let resp = c
        .post(format!("{base}/faults"))
        .json(&serde_json::json!({ "p503": 1.0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(get_raw(&c, &tmdb(&s, "configuration")).await.0, 503);
    let (_, f) = get_json(&c, &format!("{base}/faults")).await;
    assert_eq!(f["p503"], 1.0);
    for bad in [
        serde_json::json!({ "p500": 2.0 }),
        serde_json::json!({ "p500": 0.7, "drop": 0.7 }),
        serde_json::json!({ "p404": 0.1 }),
    ] {
        let resp = c
            .post(format!("{base}/faults"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{bad}");
    }
    c.post(format!("{base}/faults"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(get_raw(&c, &tmdb(&s, "configuration")).await.0, 200);

    let resp = c
        .post(format!("{base}/limits"))
        .json(&serde_json::json!({ "tmdb": { "rps": 0.01, "burst": 1 }, "omdb_daily_quota": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(get_raw(&c, &tmdb(&s, "configuration")).await.0, 200);
    assert_eq!(get_raw(&c, &tmdb(&s, "configuration")).await.0, 429);
    let (status, body) = get_json(&c, &omdb(&s, "i=tt0000001")).await;
    assert_eq!(
        (status, body["Error"].as_str()),
        (401, Some("Request limit reached!"))
    );

    let resp = c
        .post(format!("{base}/latency"))
        .json(&serde_json::json!({ "min_ms": 5, "max_ms": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let resp = c
        .post(format!("{base}/latency"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(get_raw(&c, &format!("{base}/nothing")).await.0, 404);

    let (_, served) = get_json(&c, &format!("{base}/stats")).await;
    let served: Stats = serde_json::from_value(served).unwrap();
    assert_eq!(served, s.stats(), "steering requests are not counted");
    assert_eq!(served.count("GET /3/configuration", 429), 1);
    s.shutdown().await;
}

#[tokio::test]
async fn keep_alive_pipelining_and_malformed_requests_on_a_raw_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = sandbox(13).await;
    let mut sock = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    let req = "GET /3/genre/movie/list?api_key=sandbox HTTP/1.1\r\nHost: x\r\n\r\n";
    let last =
        "GET /3/configuration?api_key=sandbox HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    sock.write_all(format!("{req}{req}{last}").as_bytes())
        .await
        .unwrap();
    let mut all = Vec::new();
    sock.read_to_end(&mut all).await.unwrap();
    let text = String::from_utf8(all).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3, "{text}");
    assert_eq!(text.matches("{\"genres\":[").count(), 2);
    assert!(text.contains("\"change_keys\""));

    let mut sock = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    sock.write_all(b"NOT A REQUEST\r\n\r\n").await.unwrap();
    let mut all = Vec::new();
    sock.read_to_end(&mut all).await.unwrap();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 400"));
    s.shutdown().await;
}

#[tokio::test]
async fn the_project_http_client_gets_through_faults_with_retries() {
    use popctl::plan::{Backoff, Interpolated, Rate, RetryPolicy, SourceConfig, SourceKind};
    use popctl::sources::http::SourceClient;
    use popctl::sources::retry::Retrier;

    let s = sandbox(14).await;
    s.set_faults(Faults {
        p503: 0.2,
        truncate: 0.1,
        drop: 0.1,
        ..Faults::none()
    })
    .unwrap();
    let config = SourceConfig {
        rate_scope: popctl::plan::RateScope::Worker,
        burst: 1,
        name: "tmdb".to_string(),
        kind: SourceKind::Tmdb,
        api_key: Interpolated::Value(popctl::secret::Secret::new("sandbox")),
        api_key_var: None,
        base_url: s.tmdb_base_url(),
        rate: Rate {
            count: 1000,
            per: Duration::from_secs(1),
        },
        timeout: Duration::from_secs(10),
        daily_quota: None,
        max_body: SourceKind::Tmdb.default_max_body(),
        max_rate_limited_wait: popctl::plan::DEFAULT_MAX_RATE_LIMITED_WAIT,
        store_raw: true,
        files_url: popctl::plan::DEFAULT_FILES_URL.to_string(),
        language: None,
        region: None,
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = SourceClient::new(&config, Some(popctl::secret::Secret::new("sandbox"))).unwrap();
    let retrier = Retrier::new(RetryPolicy {
        attempts: 12,
        backoff: Backoff::Fixed,
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
        jitter: false,
    });
    let ids: Vec<u32> = s
        .catalog()
        .entries()
        .iter()
        .take(40)
        .map(|e| e.id)
        .collect();
    for id in &ids {
        let reply = client
            .get(&format!("movie/{id}"), &[], &retrier)
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        let v: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(v["id"], *id);
    }
    let stats = s.stats();
    assert_eq!(
        stats.count("GET /3/movie/{id}", 200) as usize,
        ids.len() + stats.faults.truncated as usize
    );
    assert!(stats.faults.http_503 + stats.faults.dropped + stats.faults.truncated > 0);
    assert_eq!(client.totals().requests, stats.tmdb.requests);
    s.shutdown().await;
}
