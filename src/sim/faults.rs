//! Turning the configured fault probabilities into a decision per request, and the bodies of
//! injected server errors.
//!
//! A decision is `hash(seed, request number)`, so a run with the same seed and the same
//! request order meets the same faults; with concurrent clients the order (and so which
//! request gets which fault) varies, but the rates do not.

use std::time::Duration;

use super::config::{Api, Faults, Latency};
use super::http::Response;
use super::rng::{hash, tag, unit};

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    Status(u16),
    Stall(Duration),
    Truncate,
    ShortBody,
    Drop,
}

/// The fault for request number `seq`, if any.
pub(crate) fn pick(faults: &Faults, seed: u64, seq: u64) -> Option<Fault> {
    if faults.is_none() {
        return None;
    }
    let mut x = unit(hash(&[seed, tag::FAULT, seq]));
    let outcomes = [
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::Stall(Duration::from_millis(faults.stall_ms)),
        Fault::Truncate,
        Fault::ShortBody,
        Fault::Drop,
    ];
    for ((_, p), fault) in faults.probabilities().into_iter().zip(outcomes) {
        if x < p {
            return Some(fault);
        }
        x -= p;
    }
    None
}

/// Where to cut a body of `len` bytes (1..len, so something is sent and something is not).
pub(crate) fn cut_point(seed: u64, seq: u64, len: usize) -> usize {
    if len < 2 {
        return 0;
    }
    1 + (hash(&[seed, tag::FAULT, seq, 1]) % (len as u64 - 1)) as usize
}

/// The extra wait of request `seq`.
pub(crate) fn latency(latency: &Latency, seed: u64, seq: u64) -> Duration {
    if latency.max_ms == 0 {
        return Duration::ZERO;
    }
    let span = (latency.max_ms - latency.min_ms) as f64;
    let ms = latency.min_ms as f64 + unit(hash(&[seed, tag::LATENCY, seq])) * span;
    Duration::from_micros((ms * 1000.0) as u64)
}

/// An injected server error as each API's front would answer it. TMDB's bodies follow its
/// error table (11 for 500, 43 for 502, 9 for 503); OMDb has no recorded 5xx body, so it gets
/// its CDN's short plain-text page and clients must go by the status.
pub(crate) fn server_error(api: Api, status: u16) -> Response {
    match api {
        Api::Tmdb => {
            let code = match status {
                502 => 43,
                503 => 9,
                _ => 11,
            };
            Response::json_bytes(
                status,
                serde_json::to_vec(&serde_json::json!({
                    "status_code": code,
                    "status_message": super::tmdb::status_message(code).unwrap_or_default(),
                }))
                .unwrap_or_default(),
            )
        }
        Api::Omdb => Response::text(status, &format!("error code: {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_follow_the_probabilities() {
        let f = Faults {
            p500: 0.1,
            p503: 0.05,
            drop: 0.2,
            ..Faults::none()
        };
        let mut counts = [0u32; 4];
        for seq in 0..20_000 {
            match pick(&f, 9, seq) {
                Some(Fault::Status(500)) => counts[0] += 1,
                Some(Fault::Status(503)) => counts[1] += 1,
                Some(Fault::Drop) => counts[2] += 1,
                None => counts[3] += 1,
                Some(other) => panic!("unexpected {other:?}"),
            }
        }
        let share = |n: u32| f64::from(n) / 20_000.0;
        assert!((share(counts[0]) - 0.1).abs() < 0.01, "{counts:?}");
        assert!((share(counts[1]) - 0.05).abs() < 0.01, "{counts:?}");
        assert!((share(counts[2]) - 0.2).abs() < 0.015, "{counts:?}");
        assert!((share(counts[3]) - 0.65).abs() < 0.015, "{counts:?}");
    }

    #[test]
    fn certain_and_impossible_faults() {
        let all = Faults {
            short_body: 1.0,
            ..Faults::none()
        };
        assert!((0..100).all(|s| pick(&all, 1, s) == Some(Fault::ShortBody)));
        assert!((0..100).all(|s| pick(&Faults::none(), 1, s).is_none()));
    }

    #[test]
    fn cut_points_and_latency_stay_in_range() {
        for seq in 0..1000 {
            let c = cut_point(3, seq, 50);
            assert!((1..50).contains(&c));
            let l = latency(
                &Latency {
                    min_ms: 30,
                    max_ms: 150,
                },
                3,
                seq,
            );
            assert!(l >= Duration::from_millis(30) && l <= Duration::from_millis(150));
        }
        assert_eq!(latency(&Latency::default(), 3, 1), Duration::ZERO);
    }
}
