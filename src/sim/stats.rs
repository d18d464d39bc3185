//! What the sandbox has served, for tests and benchmarks to assert on: requests per API, per
//! route and status and per client address, 429s, OMDb quota answers, faults injected, and the
//! highest number of requests in flight at once. `GET /__sandbox/stats` serves the same
//! [`Stats`] as JSON.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::config::Api;

/// Counters of one API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStats {
    /// Every request that reached the API, whatever the answer.
    pub requests: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// 401 answers for a missing or wrong key.
    pub unauthorized: u64,
}

/// Faults the sandbox injected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    pub http_500: u64,
    pub http_502: u64,
    pub http_503: u64,
    pub stalled: u64,
    pub truncated: u64,
    pub short_body: u64,
    pub dropped: u64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// TMDB and OMDb requests (`/__sandbox/*` is not counted).
    pub requests: u64,
    pub tmdb: ApiStats,
    pub omdb: ApiStats,
    /// Answers by route (`GET /3/movie/{id}`, `GET /?i=`) and HTTP status. A dropped
    /// connection has no status and is only in `faults.dropped`.
    pub routes: BTreeMap<String, BTreeMap<u16, u64>>,
    /// All 429 answers, both APIs.
    pub rate_limited: u64,
    /// OMDb requests counted against the daily quota since the last reset.
    pub omdb_quota_used: u64,
    /// `Request limit reached!` answers.
    pub omdb_quota_exhausted: u64,
    pub faults: FaultStats,
    /// API requests being handled right now.
    pub in_flight: u64,
    /// The most API requests ever handled at the same time.
    pub max_in_flight: u64,
    /// API answers (any status) by the client's IP address (`"127.0.0.2"`), to tell workers
    /// bound to their own loopback addresses apart. Like `routes`, a dropped connection has no
    /// answer and is not counted. Absent from the JSON of sandboxes older than it.
    #[serde(default)]
    pub by_address: BTreeMap<String, u64>,
}

impl Stats {
    /// How many answers `route` got with `status`.
    pub fn count(&self, route: &str, status: u16) -> u64 {
        self.routes
            .get(route)
            .and_then(|s| s.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// All answers with `status`, every route.
    pub fn status_total(&self, status: u16) -> u64 {
        self.routes.values().filter_map(|s| s.get(&status)).sum()
    }
}

/// The live counters behind [`Stats`].
#[derive(Default)]
pub(crate) struct Recorder {
    tmdb: ApiCounters,
    omdb: ApiCounters,
    routes: Mutex<HashMap<(&'static str, u16), u64>>,
    by_address: Mutex<HashMap<IpAddr, u64>>,
    quota_exhausted: AtomicU64,
    faults: [AtomicU64; 7],
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

#[derive(Default)]
struct ApiCounters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    unauthorized: AtomicU64,
}

/// Index into `Recorder::faults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultKind {
    Http500 = 0,
    Http502 = 1,
    Http503 = 2,
    Stalled = 3,
    Truncated = 4,
    ShortBody = 5,
    Dropped = 6,
}

/// Counts a request in flight until dropped, however the handling ends (answered, dropped,
/// or the client going away during a stall).
pub(crate) struct InFlight<'a>(&'a Recorder);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Recorder {
    fn api(&self, api: Api) -> &ApiCounters {
        match api {
            Api::Tmdb => &self.tmdb,
            Api::Omdb => &self.omdb,
        }
    }

    pub fn begin(&self, api: Api) -> InFlight<'_> {
        self.api(api).requests.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn answered(&self, api: Api, peer: IpAddr, route: &'static str, status: u16) {
        match status {
            429 => {
                self.api(api).rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            401 => {
                self.api(api).unauthorized.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        self.count_peer(peer);
        self.counted(route, status);
    }

    fn count_peer(&self, peer: IpAddr) {
        *self
            .by_address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(peer)
            .or_default() += 1;
    }

    /// An answer counted by route only: the export files are neither TMDB's API requests nor
    /// OMDb's.
    pub fn counted(&self, route: &'static str, status: u16) {
        *self
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((route, status))
            .or_default() += 1;
    }

    /// OMDb's `Request limit reached!`: a 401 on the route, but not an auth failure.
    pub fn quota_exhausted(&self, peer: IpAddr, route: &'static str) {
        self.quota_exhausted.fetch_add(1, Ordering::Relaxed);
        self.count_peer(peer);
        self.counted(route, 401);
    }

    pub fn fault(&self, kind: FaultKind) {
        self.faults[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, omdb_quota_used: u64) -> Stats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let api = |c: &ApiCounters| ApiStats {
            requests: load(&c.requests),
            rate_limited: load(&c.rate_limited),
            unauthorized: load(&c.unauthorized),
        };
        let mut routes: BTreeMap<String, BTreeMap<u16, u64>> = BTreeMap::new();
        for (&(route, status), &n) in self.routes.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            *routes
                .entry(route.to_string())
                .or_default()
                .entry(status)
                .or_default() += n;
        }
        let by_address = self
            .by_address
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(peer, &n)| (peer.to_string(), n))
            .collect();
        let tmdb = api(&self.tmdb);
        let omdb = api(&self.omdb);
        Stats {
            requests: tmdb.requests + omdb.requests,
            rate_limited: tmdb.rate_limited + omdb.rate_limited,
            tmdb,
            omdb,
            routes,
            omdb_quota_used,
            omdb_quota_exhausted: load(&self.quota_exhausted),
            faults: FaultStats {
                http_500: load(&self.faults[0]),
                http_502: load(&self.faults[1]),
                http_503: load(&self.faults[2]),
                stalled: load(&self.faults[3]),
                truncated: load(&self.faults[4]),
                short_body: load(&self.faults[5]),
                dropped: load(&self.faults[6]),
            },
            in_flight: load(&self.in_flight),
            max_in_flight: load(&self.max_in_flight),
            by_address,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn counts_and_in_flight_high_water_mark() {
        let r = Recorder::default();
        {
            let _a = r.begin(Api::Tmdb);
            let _b = r.begin(Api::Tmdb);
            let _c = r.begin(Api::Omdb);
            assert_eq!(r.snapshot(0).in_flight, 3);
        }
        let _d = r.begin(Api::Omdb);
        r.answered(Api::Tmdb, PEER, "GET /3/movie/{id}", 200);
        r.answered(Api::Tmdb, PEER, "GET /3/movie/{id}", 200);
        r.answered(Api::Tmdb, PEER, "GET /3/movie/{id}", 429);
        r.quota_exhausted(PEER, "GET /?i=");
        r.fault(FaultKind::Dropped);
        let s = r.snapshot(5);
        assert_eq!(s.in_flight, 1);
        assert_eq!(s.max_in_flight, 3);
        assert_eq!(s.requests, 4);
        assert_eq!(s.tmdb.requests, 2);
        assert_eq!(s.count("GET /3/movie/{id}", 200), 2);
        assert_eq!(s.rate_limited, 1);
        assert_eq!(s.omdb.unauthorized, 0);
        assert_eq!(s.omdb_quota_exhausted, 1);
        assert_eq!(s.omdb_quota_used, 5);
        assert_eq!(s.faults.dropped, 1);
        assert_eq!(s.status_total(200), 2);
        assert_eq!(s.count("GET /?i=", 401), 1);
        assert_eq!(s.by_address, BTreeMap::from([("127.0.0.1".to_string(), 4)]));

        let json = serde_json::to_string(&s).unwrap();
        let back: Stats = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn stats_from_a_sandbox_without_by_address_still_read() {
        let r = Recorder::default();
        let _a = r.begin(Api::Tmdb);
        r.answered(Api::Tmdb, PEER, "GET /3/configuration", 200);
        let mut json = serde_json::to_value(r.snapshot(0)).unwrap();
        assert_eq!(json["by_address"]["127.0.0.1"], 1);
        json.as_object_mut().unwrap().remove("by_address");
        let old: Stats = serde_json::from_value(json).unwrap();
        assert!(old.by_address.is_empty());
        assert_eq!(old.count("GET /3/configuration", 200), 1);
    }
}
