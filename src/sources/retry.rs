//! When to try a request again, and after how long: pure functions of the failure, the attempt
//! number, the time already waited and a random draw, so every branch is unit-tested without
//! sleeping or a network.
//!
//! Why these rules:
//! - 5xx, timeouts, dropped connections and truncated or unparsable bodies are transient: the
//!   same request can succeed later, within the stage's `retry.attempts`. Anything else (401,
//!   404, 400, a body over `max_body`) will answer the same every time and is never retried
//!   here; the source decides what it means.
//! - A 429 is not a failure: the server says "later", not "no". It is waited out and does not
//!   use up a try, or a server slower than the plan's rate would fail items that are fine. What
//!   bounds it is time: a request may spend at most the source's `max_rate_limited_wait`
//!   waiting out 429s, so a server that never lets up ends in failed items, not a hung run.
//! - Backoff grows exponentially from `initial` and is capped at `max`, so a long outage does
//!   not turn into hour-long sleeps. Jitter spreads retries of many tasks that failed together.
//! - A server's `Retry-After` is honoured, but never below the computed backoff nor below
//!   [`MIN_RATE_LIMITED_PAUSE`] (a `Retry-After: 0` must not become a tight loop, even with
//!   `initial = "0ms"`) and never above `max_server_wait` (a server must not be able to park
//!   the run for a day with one answer).

use std::time::Duration;

use crate::plan::{Backoff, RetryPolicy};

/// What went wrong with one try of a request, as far as retrying is concerned. (A 429 is not
/// here: see [`Retrier::after_rate_limited`].)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transient {
    /// HTTP 5xx.
    Server {
        status: u16,
    },
    Timeout,
    /// Connection refused, reset or closed before a full response.
    Connection,
    /// The body ended early or is not the JSON the API sends.
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

/// The longest a server's `Retry-After` may make us wait for one retry.
pub const DEFAULT_MAX_SERVER_WAIT: Duration = Duration::from_secs(60);

/// The least pause after a 429, whatever the server and the retry policy say.
pub const MIN_RATE_LIMITED_PAUSE: Duration = Duration::from_millis(100);

/// What to do after a 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitedStep {
    /// How long the whole source pauses, so the other requests in flight slow down too: what
    /// the server asked for (capped), at least the policy's first backoff.
    pub source_pause: Duration,
    /// The wait this 429 calls for before the request tries again.
    pub wait: Duration,
    /// `RetryAfter(wait)`, or `GiveUp` when the wait would go past the budget.
    pub decision: Decision,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retrier {
    pub policy: RetryPolicy,
    pub max_server_wait: Duration,
}

impl Retrier {
    pub fn new(policy: RetryPolicy) -> Self {
        Retrier {
            policy,
            max_server_wait: DEFAULT_MAX_SERVER_WAIT,
        }
    }

    /// The decision after try number `attempt` (1-based, 429 answers not counted) failed with
    /// `_failure`. `draw` is a uniform random number in `[0, 1)`, used for jitter.
    pub fn next(&self, _failure: &Transient, attempt: u32, draw: f64) -> Decision {
        if attempt >= self.policy.attempts {
            return Decision::GiveUp;
        }
        Decision::RetryAfter(self.backoff(attempt, draw))
    }

    /// The step after a request's `count`-th 429 answer (1-based), with `retry_after` the
    /// server's `Retry-After`, `waited` the time the request already spent waiting out earlier
    /// 429s and `budget` the most it may spend (the source's `max_rate_limited_wait`).
    ///
    /// `policy.attempts` plays no part. The request gives up only when the next wait would take
    /// it past `budget`, so the waits it is told to make never add up to more than that.
    pub fn after_rate_limited(
        &self,
        retry_after: Option<Duration>,
        count: u32,
        waited: Duration,
        budget: Duration,
        draw: f64,
    ) -> RateLimitedStep {
        let server = retry_after.map_or(Duration::ZERO, |d| d.min(self.max_server_wait));
        let source_pause = server.max(self.backoff(1, 1.0)).max(MIN_RATE_LIMITED_PAUSE);
        // The backoff grows with this request's 429s, so one that keeps meeting them backs off
        // further than the source as a whole.
        let wait = server
            .max(self.backoff(count.max(1), draw))
            .max(MIN_RATE_LIMITED_PAUSE);
        let decision = if waited.saturating_add(wait) > budget {
            Decision::GiveUp
        } else {
            Decision::RetryAfter(wait)
        };
        RateLimitedStep {
            source_pause,
            wait,
            decision,
        }
    }

    /// The pause before retry number `attempt`, jittered into `[d/2, d]` when jitter is on
    /// (half is kept so a retry is never immediate).
    fn backoff(&self, attempt: u32, draw: f64) -> Duration {
        let p = &self.policy;
        let base = match p.backoff {
            Backoff::Fixed => p.initial,
            Backoff::Exponential => {
                let factor = 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
                let secs = (p.initial.as_secs_f64() * factor).min(p.max.as_secs_f64());
                Duration::from_secs_f64(secs)
            }
        };
        let capped = base.min(p.max);
        if p.jitter {
            let draw = draw.clamp(0.0, 1.0);
            capped.mul_f64(0.5 + 0.5 * draw)
        } else {
            capped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(attempts: u32, jitter: bool) -> RetryPolicy {
        RetryPolicy {
            attempts,
            backoff: Backoff::Exponential,
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter,
        }
    }

    fn wait(d: Decision) -> Duration {
        match d {
            Decision::RetryAfter(d) => d,
            Decision::GiveUp => panic!("expected a retry"),
        }
    }

    #[test]
    fn exponential_backoff_doubles_and_caps() {
        let r = Retrier::new(policy(20, false));
        let t = Transient::Server { status: 503 };
        assert_eq!(wait(r.next(&t, 1, 0.0)), Duration::from_millis(500));
        assert_eq!(wait(r.next(&t, 2, 0.0)), Duration::from_secs(1));
        assert_eq!(wait(r.next(&t, 3, 0.0)), Duration::from_secs(2));
        assert_eq!(wait(r.next(&t, 10, 0.0)), Duration::from_secs(30));
    }

    #[test]
    fn gives_up_after_the_last_attempt() {
        let r = Retrier::new(policy(4, false));
        assert!(matches!(
            r.next(&Transient::Timeout, 3, 0.5),
            Decision::RetryAfter(_)
        ));
        assert_eq!(r.next(&Transient::Timeout, 4, 0.5), Decision::GiveUp);
        let once = Retrier::new(policy(1, false));
        assert_eq!(once.next(&Transient::Connection, 1, 0.5), Decision::GiveUp);
    }

    #[test]
    fn jitter_stays_between_half_and_full() {
        let r = Retrier::new(policy(5, true));
        let t = Transient::Body;
        assert_eq!(wait(r.next(&t, 2, 0.0)), Duration::from_millis(500));
        assert_eq!(wait(r.next(&t, 2, 0.999_999)).as_millis(), 999);
        let mid = wait(r.next(&t, 2, 0.5));
        assert_eq!(mid, Duration::from_millis(750));
    }

    const TEN_MIN: Duration = Duration::from_secs(600);

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn retry_after_is_honoured_but_capped_and_never_zero() {
        let r = Retrier::new(policy(5, false));
        let step = |ra, count| r.after_rate_limited(ra, count, Duration::ZERO, TEN_MIN, 0.0);
        assert_eq!(wait(step(secs(7), 1).decision), Duration::from_secs(7));
        assert_eq!(step(secs(7), 1).source_pause, Duration::from_secs(7));
        assert_eq!(
            wait(step(secs(86_400), 1).decision),
            DEFAULT_MAX_SERVER_WAIT
        );
        assert_eq!(step(secs(86_400), 1).source_pause, DEFAULT_MAX_SERVER_WAIT);
        // Retry-After: 0 falls back to the backoff, not an immediate retry.
        assert_eq!(wait(step(secs(0), 1).decision), Duration::from_millis(500));
        assert_eq!(step(secs(0), 1).source_pause, Duration::from_millis(500));
        // Without Retry-After the request's own backoff grows with its 429s; the source's
        // pause stays at the first backoff.
        assert_eq!(wait(step(None, 2).decision), Duration::from_secs(1));
        assert_eq!(wait(step(None, 4).decision), Duration::from_secs(4));
        assert_eq!(step(None, 4).source_pause, Duration::from_millis(500));
    }

    #[test]
    fn a_429_does_not_use_up_tries() {
        // One try allowed: a 5xx gives up at once, a 429 is waited out, however many.
        let r = Retrier::new(policy(1, true));
        assert_eq!(
            r.next(&Transient::Server { status: 503 }, 1, 0.5),
            Decision::GiveUp
        );
        for count in 1..=50 {
            let step = r.after_rate_limited(secs(1), count, Duration::ZERO, TEN_MIN, 0.5);
            assert!(matches!(step.decision, Decision::RetryAfter(_)), "{count}");
        }
    }

    #[test]
    fn waiting_out_429s_stops_at_the_budget() {
        let r = Retrier::new(policy(1, false));
        let at = |waited: Duration| {
            r.after_rate_limited(secs(1), 3, waited, TEN_MIN, 0.0)
                .decision
        };
        // The third 429's wait is 2 s (backoff 500 ms doubled twice, above Retry-After).
        assert_eq!(
            at(TEN_MIN - Duration::from_secs(2)),
            Decision::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(at(TEN_MIN - Duration::from_millis(1999)), Decision::GiveUp);
        assert_eq!(at(TEN_MIN), Decision::GiveUp);
        assert_eq!(at(Duration::MAX), Decision::GiveUp);
        // A budget smaller than one wait fails at the first 429.
        assert_eq!(
            r.after_rate_limited(secs(5), 1, Duration::ZERO, Duration::from_secs(1), 0.0)
                .decision,
            Decision::GiveUp
        );
    }

    /// A server that answers every request 429 with `Retry-After: 0`, under a policy that
    /// waits 0 ms: every wait still lasts [`MIN_RATE_LIMITED_PAUSE`] or more, so the request
    /// sends a bounded number of tries before its budget is spent.
    #[test]
    fn a_429_storm_is_not_a_tight_loop() {
        let mut p = policy(1, true);
        p.backoff = Backoff::Fixed;
        p.initial = Duration::ZERO;
        p.max = Duration::ZERO;
        let r = Retrier::new(p);
        let budget = Duration::from_secs(10);
        let (mut waited, mut tries) = (Duration::ZERO, 0u32);
        loop {
            tries += 1;
            let step = r.after_rate_limited(secs(0), tries, waited, budget, 0.0);
            assert!(step.source_pause >= MIN_RATE_LIMITED_PAUSE);
            match step.decision {
                Decision::RetryAfter(w) => {
                    assert!(w >= MIN_RATE_LIMITED_PAUSE, "{w:?}");
                    waited += w;
                }
                Decision::GiveUp => break,
            }
        }
        assert!(waited <= budget);
        assert_eq!(tries, 101, "100 waits of 100 ms, then the budget is spent");

        // With the default policy the waits grow: a 10-minute budget is a few dozen tries.
        let r = Retrier::new(RetryPolicy::default());
        let (mut waited, mut tries) = (Duration::ZERO, 0u32);
        while let Decision::RetryAfter(w) = r
            .after_rate_limited(None, tries + 1, waited, TEN_MIN, 0.0)
            .decision
        {
            tries += 1;
            waited += w;
        }
        assert!((10..60).contains(&tries), "{tries} tries");
    }

    #[test]
    fn fixed_backoff_does_not_grow() {
        let mut p = policy(5, false);
        p.backoff = Backoff::Fixed;
        let r = Retrier::new(p);
        assert_eq!(
            wait(r.next(&Transient::Timeout, 4, 0.0)),
            Duration::from_millis(500)
        );
    }
}
