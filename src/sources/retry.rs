//! When to try a request again, and after how long: a pure function of the failure, the attempt
//! number and a random draw, so every branch is unit-tested without sleeping or a network.
//!
//! Why these rules:
//! - 429, 5xx, timeouts, dropped connections and truncated or unparsable bodies are transient:
//!   the same request can succeed later. Anything else (401, 404, 400) will answer the same
//!   every time and is never retried here; the source decides what it means.
//! - Backoff grows exponentially from `initial` and is capped at `max`, so a long outage does
//!   not turn into hour-long sleeps. Jitter spreads retries of many tasks that failed together.
//! - A server's `Retry-After` is honoured, but never below the computed backoff (a
//!   `Retry-After: 0` must not become a tight loop) and never above `max_server_wait` (a server
//!   must not be able to park the run for a day).

use std::time::Duration;

use crate::plan::{Backoff, RetryPolicy};

/// What went wrong with one try of a request, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transient {
    /// HTTP 429, with the server's `Retry-After` if it sent one.
    RateLimited {
        retry_after: Option<Duration>,
    },
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

    /// The decision after try number `attempt` (1-based) failed with `failure`.
    /// `draw` is a uniform random number in `[0, 1)`, used for jitter.
    pub fn next(&self, failure: &Transient, attempt: u32, draw: f64) -> Decision {
        if attempt >= self.policy.attempts {
            return Decision::GiveUp;
        }
        let backoff = self.backoff(attempt, draw);
        match failure {
            Transient::RateLimited {
                retry_after: Some(server),
            } => {
                let wait = (*server).min(self.max_server_wait).max(backoff);
                Decision::RetryAfter(wait)
            }
            _ => Decision::RetryAfter(backoff),
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

    #[test]
    fn retry_after_is_honoured_but_capped_and_never_zero() {
        let r = Retrier::new(policy(5, false));
        let ra = |s| Transient::RateLimited {
            retry_after: Some(Duration::from_secs(s)),
        };
        assert_eq!(wait(r.next(&ra(7), 1, 0.0)), Duration::from_secs(7));
        assert_eq!(wait(r.next(&ra(86_400), 1, 0.0)), DEFAULT_MAX_SERVER_WAIT);
        // Retry-After: 0 falls back to the backoff, not an immediate retry.
        assert_eq!(wait(r.next(&ra(0), 1, 0.0)), Duration::from_millis(500));
        let none = Transient::RateLimited { retry_after: None };
        assert_eq!(wait(r.next(&none, 2, 0.0)), Duration::from_secs(1));
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
