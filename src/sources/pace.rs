//! The pace of one source: the plan's `rate` (`count` per `per`) kept over a long run and
//! never exceeded over the rate's own window, with a source-wide pause after a 429.
//!
//! Why turns are slots on a fixed schedule: a task waiting for its turn is woken late by the
//! timer, by about a millisecond on an idle machine and by several on a loaded one. An even
//! pace counted from each request as it went (governor's GCRA without a burst, used before)
//! started the next period at that late moment, so every late wake-up was lost for good: 91–93%
//! of 40/s was measured that way (docs/benchmarks.md). Here the turns are slots one `period`
//! (`per / count`) apart, and a late turn does not move the slots after it: the next one
//! comes sooner and pays the delay back. The schedule never lags the clock by more than
//! `burst` periods (the source's `burst`, 1 by default), so after a quiet spell `burst + 1`
//! requests may go at once, and any stretch of `m` periods holds at most `m + burst` requests.
//!
//! Paying back alone could still put `count + 1` requests into one window of `per` (a late
//! turn, then `count` turns later an on-time one), and that window is what an API counts
//! ("40 requests per second"). So the last `count` turns are kept, and a turn also waits until
//! the one `count` turns before it is a whole `per` ago: no window of `per` ever holds more
//! than `count`. A count above [`MAX_WINDOW`], which no real API has, shrinks the window in
//! proportion (at most `MAX_WINDOW` turns in any `per × MAX_WINDOW / count`) to bound the
//! memory.
//!
//! That window is also why a stall longer than a period is lost for good with `burst = 1`:
//! the turns paid back after it fill their window, so a window later the same number of turns
//! must wait, and the gap comes back instead of closing (4,000 turns at 40/s with a 200 ms
//! stall every 200 turns take 104.1 s against a floor of 100 s, and the same with ten periods
//! paid back; docs/benchmarks.md). A machine under load stalls that long now and then. With
//! `burst = b` the window allows `count + b - 1` turns, and the stalls are paid back (100.2 s):
//! the choice for an API that meters with a token bucket, which a window of `count + b - 1`
//! never overruns when its bucket holds at least `b`.
//!
//! governor could not do both: a GCRA with a burst of two pays late wake-ups back the same way,
//! but it has no window, so it lets `count + 1` requests into some windows of `per`; and its
//! `until_ready` wakes every waiting task at the same instant to race for one turn. Here the
//! waiting tasks queue on a fair tokio mutex, held by the first of them while it sleeps. The
//! arithmetic ([`Schedule`]) takes the time as an argument, so it is tested without sleeping.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::plan::Rate;

/// The most turns a schedule remembers (see the module docs).
pub const MAX_WINDOW: u32 = 1024;

/// The longest period or window kept: a plan may write a period of up to `u64::MAX`
/// milliseconds, and an instant that far ahead cannot be represented.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 86_400);

/// When the next turn may be taken: pure arithmetic over instants passed in.
#[derive(Debug, Clone)]
pub struct Schedule {
    period: Duration,
    /// No more than `per_window` turns in any `window`.
    window: Duration,
    per_window: usize,
    /// How far the schedule may lag the clock: `burst` periods.
    slack: Duration,
    /// The slot of the next turn; `None` before the first.
    next: Option<Instant>,
    /// The last `per_window` turns, oldest first.
    recent: VecDeque<Instant>,
}

impl Schedule {
    pub fn new(rate: Rate, burst: u32) -> Self {
        let count = rate.count.max(1);
        let burst = burst.clamp(1, MAX_WINDOW);
        let per_window = count.min(MAX_WINDOW);
        // Rounded up, so that rounding never makes the pace faster than the plan's rate.
        let period = nanos_ceil(rate.per.as_nanos(), u128::from(count));
        let window = if per_window == count {
            rate.per
        } else {
            nanos_ceil(
                rate.per.as_nanos() * u128::from(per_window),
                u128::from(count),
            )
        };
        let period = period.clamp(Duration::from_nanos(1), LONGEST);
        // The window's turns, and the memory, grow with the burst: at most twice MAX_WINDOW.
        let per_window = per_window + burst - 1;
        Schedule {
            period,
            slack: period.saturating_mul(burst).min(LONGEST),
            window: window.min(LONGEST),
            per_window: per_window as usize,
            next: None,
            recent: VecDeque::with_capacity(per_window as usize),
        }
    }

    /// Takes a turn at `now` if the schedule allows one, or says when it will.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Instant> {
        let mut at = self.next.unwrap_or(now);
        if self.recent.len() == self.per_window
            && let Some(&oldest) = self.recent.front()
        {
            at = at.max(oldest + self.window);
        }
        if now < at {
            return Err(at);
        }
        // The slot after this one: the delay is paid back, but never more than `slack` of it
        // (with one period of slack, the next slot is now at the earliest). The first turn
        // starts the schedule; a burst there would come back every `per` through the window
        // check.
        let earliest = (now + self.period).checked_sub(self.slack).unwrap_or(now);
        self.next = Some(
            self.next
                .map_or(now + self.period, |slot| (slot + self.period).max(earliest)),
        );
        if self.recent.len() == self.per_window {
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        Ok(())
    }
}

fn nanos_ceil(numerator: u128, denominator: u128) -> Duration {
    Duration::from_nanos(u64::try_from(numerator.div_ceil(denominator.max(1))).unwrap_or(u64::MAX))
}

/// A source's turns, shared by every task using the source.
#[derive(Debug)]
pub struct Pacer {
    schedule: tokio::sync::Mutex<Schedule>,
    /// A 429 slows the whole source, not just the task that met it.
    paused_until: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(rate: Rate, burst: u32) -> Self {
        Pacer {
            schedule: tokio::sync::Mutex::new(Schedule::new(rate, burst)),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits for the source's next turn and takes it; returns the instant it was taken at.
    pub async fn turn(&self) -> Instant {
        // Waiting tasks queue here in order; only the first sleeps on the clock.
        let mut schedule = self.schedule.lock().await;
        loop {
            let now = Instant::now();
            if let Some(until) = self.paused_until()
                && until > now
            {
                tokio::time::sleep_until(until).await;
                continue;
            }
            match schedule.try_take(now) {
                Ok(()) => return now,
                Err(at) => tokio::time::sleep_until(at).await,
            }
        }
    }

    /// Holds every turn back for `pause` from now (or longer, if already paused longer).
    pub fn pause(&self, pause: Duration) {
        let until = Instant::now() + pause;
        let mut slot = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none_or(|t| t < until) {
            *slot = Some(until);
        }
    }

    fn paused_until(&self) -> Option<Instant> {
        *self.paused_until.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A pace kept beyond this process: a source whose workers share one rate (`rate_scope =
/// "cluster"`) waits for a turn of the whole cluster after its own.
#[async_trait::async_trait]
pub trait SharedPace: Send + Sync + std::fmt::Debug {
    /// Waits for this request's turn.
    async fn turn(&self);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rate(count: u32, per_ms: u64) -> Rate {
        Rate {
            count,
            per: Duration::from_millis(per_ms),
        }
    }

    /// The most of `turns` (sorted) in any half-open stretch of `length`.
    fn most_within(turns: &[Instant], length: Duration) -> usize {
        let mut most = 0;
        let mut first = 0;
        for (i, &t) in turns.iter().enumerate() {
            while t - turns[first] >= length {
                first += 1;
            }
            most = most.max(i + 1 - first);
        }
        most
    }

    /// Drives a schedule the way [`Pacer::turn`] does, with a request always waiting and each
    /// wake-up late by `lateness(i)`: the turns taken.
    fn drive(rate: Rate, n: usize, lateness: impl Fn(usize) -> Duration) -> Vec<Instant> {
        drive_with(rate, 1, n, lateness)
    }

    /// [`drive`] with a burst.
    fn drive_with(
        rate: Rate,
        burst: u32,
        n: usize,
        lateness: impl Fn(usize) -> Duration,
    ) -> Vec<Instant> {
        let mut s = Schedule::new(rate, burst);
        let mut now = Instant::now();
        let mut turns = Vec::with_capacity(n);
        for i in 0..n {
            loop {
                match s.try_take(now) {
                    Ok(()) => break,
                    Err(at) => {
                        assert!(at > now, "a refusal names a later instant");
                        now = at + lateness(i);
                    }
                }
            }
            turns.push(now);
        }
        turns
    }

    /// A deterministic spread of wake-up delays: 0 to `max_us` microseconds.
    fn spread(i: usize, max_us: u64) -> Duration {
        let mixed = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        Duration::from_micros(mixed % (max_us + 1))
    }

    #[test]
    fn on_time_wake_ups_give_an_even_pace_at_exactly_the_rate() {
        let turns = drive(rate(40, 1000), 401, |_| Duration::ZERO);
        let gaps: Vec<Duration> = turns.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|&g| g == Duration::from_millis(25)),
            "{gaps:?}"
        );
        assert_eq!(most_within(&turns, Duration::from_secs(1)), 40);
    }

    #[test]
    fn late_wake_ups_are_paid_back_so_a_long_run_keeps_the_rate() {
        // Every wake-up late by up to 10 ms, 40% of the 25 ms period (an idle machine is late
        // by about 1 ms): 4,000 turns at 40/s still take no more than 1% longer than the rate.
        let turns = drive(rate(40, 1000), 4001, |i| spread(i, 10_000));
        let took = turns[4000] - turns[0];
        let floor = Duration::from_secs(100);
        assert!(took < floor.mul_f64(1.01), "{took:?}");
        assert!(most_within(&turns, Duration::from_secs(1)) <= 40);
    }

    #[test]
    fn a_count_of_one_is_an_even_pace_with_nothing_paid_back() {
        // "At most one per window" leaves no room to pay a late turn back.
        let turns = drive(rate(1, 100), 50, |i| spread(i, 5_000));
        assert!(
            turns
                .windows(2)
                .all(|w| w[1] - w[0] >= Duration::from_millis(100))
        );
    }

    #[test]
    fn a_long_quiet_spell_is_not_paid_back() {
        let mut s = Schedule::new(rate(10, 1000), 1);
        let t0 = Instant::now();
        assert!(s.try_take(t0).is_ok());
        let later = t0 + Duration::from_secs(60);
        // One period of slack at most: two turns at once, then the even pace.
        assert!(s.try_take(later).is_ok());
        assert!(s.try_take(later).is_ok());
        assert_eq!(s.try_take(later), Err(later + Duration::from_millis(100)));
    }

    /// Every 200th wake-up 200 ms late (8 periods: the process held off the CPU), the others up
    /// to 2 ms: the time 4,000 turns at 40/s take, and the most turns in one second.
    fn stalled(burst: u32) -> (Duration, usize) {
        let turns = drive_with(rate(40, 1000), burst, 4001, |i| {
            if i % 200 == 0 {
                Duration::from_millis(200)
            } else {
                spread(i, 2_000)
            }
        });
        (
            turns[4000] - turns[0],
            most_within(&turns, Duration::from_secs(1)),
        )
    }

    #[test]
    fn stalls_are_lost_within_the_window_and_paid_back_with_a_burst() {
        let floor = Duration::from_secs(100);
        // burst = 1: each stall is lost (20 of 175 ms over the period), and no second holds 41.
        let (took, most) = stalled(1);
        assert!(took > floor.mul_f64(1.03), "{took:?}");
        assert_eq!(most, 40);
        // burst = 10: within 0.5% of the floor (the last turn's own stall is 0.2%), and a second
        // holds at most 49.
        let (took, most) = stalled(10);
        assert!(took < floor.mul_f64(1.005), "{took:?}");
        assert!((41..=49).contains(&most), "{most}");
    }

    #[test]
    fn a_burst_lets_that_many_more_turns_go_at_once_after_a_quiet_spell() {
        let mut s = Schedule::new(rate(40, 1000), 10);
        let t0 = Instant::now();
        assert!(s.try_take(t0).is_ok());
        let later = t0 + Duration::from_secs(60);
        for _ in 0..11 {
            assert!(s.try_take(later).is_ok());
        }
        assert_eq!(s.try_take(later), Err(later + Duration::from_millis(25)));
    }

    #[test]
    fn huge_counts_keep_a_bounded_window_in_proportion() {
        let s = Schedule::new(rate(100_000, 1000), 1);
        assert_eq!(s.per_window, MAX_WINDOW as usize);
        assert_eq!(s.period, Duration::from_micros(10));
        assert_eq!(s.window, Duration::from_micros(10_240));
        // Rounded up: 3 per 1 s is a turn every 333,333,334 ns, never faster than the rate.
        assert_eq!(
            Schedule::new(rate(3, 1000), 1).period,
            Duration::from_nanos(333_333_334)
        );
    }

    #[test]
    fn a_period_longer_than_a_century_waits_a_century() {
        let mut s = Schedule::new(
            Rate {
                count: 1,
                per: Duration::from_millis(u64::MAX),
            },
            1,
        );
        let t0 = Instant::now();
        assert!(s.try_take(t0).is_ok());
        assert_eq!(s.try_take(t0), Err(t0 + LONGEST));
    }

    proptest! {
        /// Whatever the arrivals and the lateness of wake-ups, no window of `per` holds more
        /// than `count + burst - 1` turns, and no stretch of `m` periods more than `m + burst`.
        #[test]
        fn no_window_ever_holds_more_than_the_rate(
            count in 1u32..12,
            burst in prop_oneof![Just(1u32), 1u32..12],
            per_ms in 10u64..200,
            // (gap before the request arrives, lateness of its wake-up), microseconds
            steps in prop::collection::vec((0u64..60_000, 0u64..40_000), 1..300),
        ) {
            let r = rate(count, per_ms);
            let mut s = Schedule::new(r, burst);
            let mut now = Instant::now();
            let mut turns = Vec::new();
            for (gap, late) in steps {
                now += Duration::from_micros(gap);
                while let Err(at) = s.try_take(now) {
                    now = at + Duration::from_micros(late);
                }
                turns.push(now);
            }
            prop_assert!(most_within(&turns, r.per) <= (count + burst - 1) as usize);
            let period = s.period;
            for m in 1..=(2 * count) {
                prop_assert!(most_within(&turns, period * m) <= (m + burst) as usize);
            }
        }
    }

    /// The pacer under real tasks and the real clock: the turns it hands out keep the same
    /// bounds, however late the machine wakes the tasks up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_tasks_never_take_more_turns_than_the_rate() {
        let r = rate(20, 100);
        let pacer = std::sync::Arc::new(Pacer::new(r, 1));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let pacer = std::sync::Arc::clone(&pacer);
            tasks.push(tokio::spawn(async move {
                let mut turns = Vec::new();
                for _ in 0..40 {
                    turns.push(pacer.turn().await);
                }
                turns
            }));
        }
        let mut turns = Vec::new();
        for t in tasks {
            turns.extend(t.await.unwrap());
        }
        turns.sort();
        assert_eq!(turns.len(), 320);
        assert!(most_within(&turns, r.per) <= 20);
        let period = Duration::from_millis(5);
        for m in 1..=40 {
            assert!(most_within(&turns, period * m) <= m as usize + 1, "{m}");
        }
    }
}
