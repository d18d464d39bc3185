//! What one source did second by second: requests sent, 429 answers, retries, requests that
//! failed for good and cache hits, for the run report's requests-per-second chart.
//!
//! The HTTP client records every event as it happens, so recording must stay cheap: one
//! short lock and an addition into a bucket, with every bucket allocated when the series is
//! made (no allocation per request). The size is bounded for long runs: once the run passes
//! [`MAX_POINTS`] buckets, neighbouring buckets are merged two by two and the bucket width
//! doubles, so a run of any length keeps at most that many points (one-second buckets for
//! the first ten minutes, two-second ones up to twenty, and so on).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The most buckets a series keeps.
pub const MAX_POINTS: usize = 600;

/// The width of a bucket before any merging.
const FIRST_BUCKET: Duration = Duration::from_secs(1);

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A request sent (each try counts).
    Request = 0,
    /// An HTTP 429 answer.
    RateLimited = 1,
    /// A try sent again after a transient failure or a 429.
    Retry = 2,
    /// A request that failed for good (gave up, too large, rate limited too long).
    Error = 3,
    /// An answer from the response cache (no request sent).
    CacheHit = 4,
}

const KINDS: usize = 5;

/// A live series; see the module docs.
#[derive(Debug)]
pub struct Series {
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    width: Duration,
    points: Vec<[u32; KINDS]>,
}

impl Default for Series {
    fn default() -> Self {
        Series::new()
    }
}

impl Series {
    /// A series starting now.
    pub fn new() -> Self {
        Series {
            started: Instant::now(),
            started_at: chrono::Utc::now(),
            buckets: Mutex::new(Buckets {
                width: FIRST_BUCKET,
                points: Vec::with_capacity(MAX_POINTS),
            }),
        }
    }

    /// Counts `event` now.
    pub fn record(&self, event: Event) {
        self.record_at(event, self.started.elapsed());
    }

    /// Counts `event` at `at` after the start.
    fn record_at(&self, event: Event, at: Duration) {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let mut i = b.index(at);
        while i >= MAX_POINTS {
            b.coarsen();
            i = b.index(at);
        }
        if b.points.len() <= i {
            // Within the capacity reserved at the start: no allocation.
            b.points.resize(i + 1, [0; KINDS]);
        }
        let slot = &mut b.points[i][event as usize];
        *slot = slot.saturating_add(1);
    }

    /// The series so far.
    pub fn snapshot(&self) -> SeriesReport {
        let b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let column = |k: Event| b.points.iter().map(|p| p[k as usize]).collect();
        SeriesReport {
            started_at: Some(self.started_at),
            bucket_seconds: b.width.as_secs_f64(),
            requests: column(Event::Request),
            rate_limited: column(Event::RateLimited),
            retries: column(Event::Retry),
            errors: column(Event::Error),
            cache_hits: column(Event::CacheHit),
        }
    }
}

impl Buckets {
    fn index(&self, at: Duration) -> usize {
        usize::try_from(at.as_nanos() / self.width.as_nanos().max(1)).unwrap_or(usize::MAX)
    }

    /// Merges buckets two by two and doubles their width.
    fn coarsen(&mut self) {
        let merged: usize = self.points.len().div_ceil(2);
        for j in 0..merged {
            let a = self.points[2 * j];
            let b = self.points.get(2 * j + 1).copied().unwrap_or([0; KINDS]);
            self.points[j] = std::array::from_fn(|k| a[k].saturating_add(b[k]));
        }
        self.points.truncate(merged);
        self.width *= 2;
    }
}

/// A series as the report carries it: one column per event, bucket `i` covering
/// `[i * bucket_seconds, (i + 1) * bucket_seconds)` after `started_at`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeriesReport {
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub bucket_seconds: f64,
    pub requests: Vec<u32>,
    pub rate_limited: Vec<u32>,
    pub retries: Vec<u32>,
    pub errors: Vec<u32>,
    pub cache_hits: Vec<u32>,
}

impl SeriesReport {
    /// Buckets in the series.
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_land_in_their_second() {
        let s = Series::new();
        s.record_at(Event::Request, Duration::from_millis(10));
        s.record_at(Event::Request, Duration::from_millis(990));
        s.record_at(Event::RateLimited, Duration::from_millis(2500));
        s.record_at(Event::CacheHit, Duration::from_millis(2999));
        let r = s.snapshot();
        assert_eq!(r.bucket_seconds, 1.0);
        assert_eq!(r.requests, [2, 0, 0]);
        assert_eq!(r.rate_limited, [0, 0, 1]);
        assert_eq!(r.cache_hits, [0, 0, 1]);
        assert_eq!(r.errors, [0, 0, 0]);
    }

    #[test]
    fn a_long_run_keeps_at_most_max_points_with_nothing_lost() {
        let s = Series::new();
        let seconds = 3 * MAX_POINTS as u64 + 7;
        for t in 0..seconds {
            s.record_at(Event::Request, Duration::from_secs(t));
        }
        let r = s.snapshot();
        assert!(r.len() <= MAX_POINTS, "{}", r.len());
        assert_eq!(r.bucket_seconds, 4.0);
        assert_eq!(
            r.requests.iter().map(|&n| u64::from(n)).sum::<u64>(),
            seconds
        );
        // Every full bucket holds its four seconds.
        assert!(r.requests[..r.len() - 1].iter().all(|&n| n == 4));
    }
}
