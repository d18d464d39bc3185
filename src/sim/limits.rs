//! Rate limits per API (a token bucket per client address) and OMDb's daily quota.
//!
//! TMDB meters requests per client IP address, so the sandbox keeps one bucket per peer IP:
//! several workers bound to their own loopback addresses (127.0.0.2, 127.0.0.3, …) each get
//! the configured limit, as they would from TMDB. A bucket starts full (`burst` tokens) when
//! its address first shows up and refills at `rps` per second; a request takes a token or is
//! refused with the whole seconds until one is back (TMDB's `Retry-After`). Time is passed in,
//! so the arithmetic is tested without sleeping. The OMDb quota belongs to the API key, not
//! to an address, so it stays one counter.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::config::RateLimit;

/// Why a request was refused, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Whole seconds until a token is available (at least 1).
    pub retry_after: u64,
    /// Requests from the address in the current one-second window, for TMDB's message.
    pub count: u64,
    pub limit: u32,
}

struct Bucket {
    tokens: f64,
    last: Instant,
    window_start: Instant,
    window_count: u64,
}

struct Buckets {
    /// `None`: unlimited, and no buckets are kept.
    limit: Option<RateLimit>,
    by_address: HashMap<IpAddr, Bucket>,
}

/// One token bucket per client IP address, all with the same limit, which can be switched off
/// (`None`) or replaced while the server runs.
///
/// The map only ever holds the addresses seen since the limit was last set, and is never
/// pruned: the sandbox listens on 127.0.0.1, so its peers are the few loopback addresses
/// local processes bind to. That is fine for a test server, not for one facing the internet.
pub(crate) struct Limiter {
    buckets: Mutex<Buckets>,
}

impl Limiter {
    pub fn new(limit: Option<RateLimit>) -> Self {
        Limiter {
            buckets: Mutex::new(Buckets {
                limit,
                by_address: HashMap::new(),
            }),
        }
    }

    /// Replaces the limit for every address; each address's next request finds a full bucket.
    pub fn set(&self, limit: Option<RateLimit>) {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        b.limit = limit;
        b.by_address.clear();
    }

    pub fn limit(&self) -> Option<RateLimit> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner()).limit
    }

    /// Takes a token from `peer`'s bucket, or says how long until one is back.
    pub fn check(&self, peer: IpAddr, now: Instant) -> Result<(), Refused> {
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Buckets { limit, by_address } = &mut *guard;
        let Some(limit) = *limit else {
            return Ok(());
        };
        let b = by_address
            .entry(peer)
            .or_insert_with(|| Bucket::full(limit, now));
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * limit.rps).min(f64::from(limit.burst));
        b.last = now;
        if now.saturating_duration_since(b.window_start) >= Duration::from_secs(1) {
            b.window_start = now;
            b.window_count = 0;
        }
        b.window_count += 1;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - b.tokens) / limit.rps;
        Err(Refused {
            retry_after: (wait.ceil() as u64).max(1),
            count: b.window_count,
            limit: limit.burst,
        })
    }
}

impl Bucket {
    fn full(limit: RateLimit, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(limit.burst),
            last: now,
            window_start: now,
            window_count: 0,
        }
    }
}

/// OMDb's daily quota: counts answered requests until `quota`, then refuses until reset.
pub(crate) struct Quota {
    /// `u64::MAX` when there is no quota.
    quota: AtomicU64,
    used: AtomicU64,
}

impl Quota {
    pub fn new(quota: Option<u32>) -> Self {
        Quota {
            quota: AtomicU64::new(quota.map_or(u64::MAX, u64::from)),
            used: AtomicU64::new(0),
        }
    }

    /// Counts one request; false when the quota was already used up (the request is not
    /// counted then).
    pub fn take(&self) -> bool {
        let quota = self.quota.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                (u < quota).then_some(u + 1)
            })
            .is_ok()
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    pub fn quota(&self) -> Option<u32> {
        match self.quota.load(Ordering::Relaxed) {
            u64::MAX => None,
            q => Some(q as u32),
        }
    }

    pub fn set(&self, quota: Option<u32>) {
        self.quota
            .store(quota.map_or(u64::MAX, u64::from), Ordering::Relaxed);
    }

    /// A new day.
    pub fn reset(&self) {
        self.used.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

    #[test]
    fn burst_then_refusal_then_refill() {
        let t0 = Instant::now();
        let l = Limiter::new(Some(RateLimit { rps: 2.0, burst: 3 }));
        for _ in 0..3 {
            assert!(l.check(A, t0).is_ok());
        }
        let refused = l.check(A, t0).unwrap_err();
        assert_eq!(refused.retry_after, 1);
        assert_eq!(refused.count, 4);
        assert_eq!(refused.limit, 3);
        // Half a second at 2 rps gives back one token.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.check(A, t1).is_ok());
        assert!(l.check(A, t1).is_err());
        // Never more than the burst, however long the pause.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(l.check(A, t2).is_ok());
        }
        assert!(l.check(A, t2).is_err());
    }

    #[test]
    fn slow_rates_ask_for_longer_waits_and_none_means_unlimited() {
        let t0 = Instant::now();
        let l = Limiter::new(Some(RateLimit { rps: 0.1, burst: 1 }));
        assert!(l.check(A, t0).is_ok());
        assert_eq!(l.check(A, t0).unwrap_err().retry_after, 10);
        l.set(None);
        for _ in 0..1000 {
            assert!(l.check(A, t0).is_ok());
        }
        assert_eq!(l.limit(), None);
    }

    #[test]
    fn each_address_gets_its_own_burst() {
        let t0 = Instant::now();
        let l = Limiter::new(Some(RateLimit { rps: 0.1, burst: 2 }));
        for _ in 0..2 {
            assert!(l.check(A, t0).is_ok());
        }
        let refused = l.check(A, t0).unwrap_err();
        assert_eq!((refused.count, refused.limit), (3, 2));
        // A's spent bucket neither empties B's nor counts B's requests in its window.
        for _ in 0..2 {
            assert!(l.check(B, t0).is_ok());
        }
        assert_eq!(l.check(B, t0).unwrap_err().count, 3);
        assert_eq!(l.check(A, t0).unwrap_err().count, 4);
    }

    #[test]
    fn set_gives_every_address_a_full_bucket_of_the_new_limit() {
        let t0 = Instant::now();
        let l = Limiter::new(Some(RateLimit { rps: 0.1, burst: 1 }));
        for peer in [A, B] {
            assert!(l.check(peer, t0).is_ok());
            assert!(l.check(peer, t0).is_err());
        }
        let new = RateLimit { rps: 0.1, burst: 3 };
        l.set(Some(new));
        assert_eq!(l.limit(), Some(new));
        for peer in [A, B] {
            for _ in 0..3 {
                assert!(l.check(peer, t0).is_ok());
            }
            let refused = l.check(peer, t0).unwrap_err();
            assert_eq!((refused.count, refused.limit), (4, 3));
        }
    }

    #[test]
    fn quota_counts_until_used_up_and_resets() {
        let q = Quota::new(Some(2));
        assert!(q.take());
        assert!(q.take());
        assert!(!q.take());
        assert_eq!(q.used(), 2);
        q.reset();
        assert!(q.take());
        q.set(None);
        for _ in 0..10 {
            assert!(q.take());
        }
        assert_eq!(q.quota(), None);
    }
}
