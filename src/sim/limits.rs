//! Rate limits per API (a token bucket) and OMDb's daily quota.
//!
//! The bucket starts full (`burst` tokens) and refills at `rps` per second; a request takes a
//! token or is refused with the whole seconds until one is back (TMDB's `Retry-After`). Time is
//! passed in, so the arithmetic is tested without sleeping.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::config::RateLimit;

/// Why a request was refused, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Whole seconds until a token is available (at least 1).
    pub retry_after: u64,
    /// Requests seen in the current one-second window, for TMDB's message.
    pub count: u64,
    pub limit: u32,
}

struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
    window_start: Instant,
    window_count: u64,
}

/// A token bucket that can be switched off (`None`) or replaced while the server runs.
pub(crate) struct Limiter {
    bucket: Mutex<Option<Bucket>>,
}

impl Limiter {
    pub fn new(limit: Option<RateLimit>, now: Instant) -> Self {
        Limiter {
            bucket: Mutex::new(limit.map(|l| Bucket::full(l, now))),
        }
    }

    /// Replaces the limit; the new bucket starts full.
    pub fn set(&self, limit: Option<RateLimit>, now: Instant) {
        *self.bucket.lock().unwrap_or_else(|e| e.into_inner()) =
            limit.map(|l| Bucket::full(l, now));
    }

    pub fn limit(&self) -> Option<RateLimit> {
        self.bucket
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|b| b.limit)
    }

    /// Takes a token, or says how long until one is back.
    pub fn check(&self, now: Instant) -> Result<(), Refused> {
        let mut guard = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let Some(b) = guard.as_mut() else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * b.limit.rps).min(f64::from(b.limit.burst));
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
        let wait = (1.0 - b.tokens) / b.limit.rps;
        Err(Refused {
            retry_after: (wait.ceil() as u64).max(1),
            count: b.window_count,
            limit: b.limit.burst,
        })
    }
}

impl Bucket {
    fn full(limit: RateLimit, now: Instant) -> Self {
        Bucket {
            limit,
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
    use super::*;

    #[test]
    fn burst_then_refusal_then_refill() {
        let t0 = Instant::now();
        let l = Limiter::new(Some(RateLimit { rps: 2.0, burst: 3 }), t0);
        for _ in 0..3 {
            assert!(l.check(t0).is_ok());
        }
        let refused = l.check(t0).unwrap_err();
        assert_eq!(refused.retry_after, 1);
        assert_eq!(refused.count, 4);
        assert_eq!(refused.limit, 3);
        // Half a second at 2 rps gives back one token.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.check(t1).is_ok());
        assert!(l.check(t1).is_err());
        // Never more than the burst, however long the pause.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(l.check(t2).is_ok());
        }
        assert!(l.check(t2).is_err());
    }

    #[test]
    fn slow_rates_ask_for_longer_waits_and_none_means_unlimited() {
        let t0 = Instant::now();
        let l = Limiter::new(Some(RateLimit { rps: 0.1, burst: 1 }), t0);
        assert!(l.check(t0).is_ok());
        assert_eq!(l.check(t0).unwrap_err().retry_after, 10);
        l.set(None, t0);
        for _ in 0..1000 {
            assert!(l.check(t0).is_ok());
        }
        assert_eq!(l.limit(), None);
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
