//! One exponential backoff for every retry loop: the socket's reconnects, the login, the
//! persister's database, the publisher's and the consumer's Redis, the scheduler's events.
//! Which failure deserves which wait stays with each actor's failure enum; this only counts.
//! (Hand-written: the loops wait on actix timers and their own clocks, so a crate's sleeping
//! iterator would not fit; the arithmetic is ten lines.)

use std::time::Duration;

/// Waits from `first`, doubling each time up to `max`, until [`Backoff::reset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A backoff from `first` up to `max` (`max` is raised to `first` if below it).
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max: max.max(first),
            next: first,
        }
    }

    /// The wait before the next attempt; the one after is twice as long (up to the maximum).
    pub fn next_delay(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// The wait the next attempt would get, without taking it.
    pub fn peek(&self) -> Duration {
        self.next
    }

    /// Back to the first wait (after a success).
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Whether nothing has been waited since the last reset.
    pub fn is_reset(&self) -> bool {
        self.next == self.first
    }

    /// The wait before attempt `attempt` (1-based) of a fresh backoff: `first × 2^(attempt-1)`,
    /// at most `max`.
    pub fn nth(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// `wait` spread by ±`fraction` (0.2: 80 %–120 %) by `r` in [0, 1], so that clients that failed
/// together do not retry together.
pub fn jittered(wait: Duration, fraction: f64, r: f64) -> Duration {
    let factor = 1.0 - fraction + 2.0 * fraction * r.clamp(0.0, 1.0);
    wait.mul_f64(factor.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(350));
        let waits: Vec<_> = (0..4).map(|_| b.next_delay()).collect();
        assert_eq!(waits, [ms(100), ms(200), ms(350), ms(350)]);
        assert!(!b.is_reset());
        b.reset();
        assert_eq!(b.next_delay(), ms(100));
        assert_eq!(b.nth(1), ms(100));
        assert_eq!(b.nth(3), ms(350));
        assert_eq!(b.nth(100), ms(350), "no overflow");
    }

    #[test]
    fn jitter_spreads_within_the_fraction() {
        let s = Duration::from_secs(10);
        assert_eq!(jittered(s, 0.2, 0.0), Duration::from_secs(8));
        assert_eq!(jittered(s, 0.2, 1.0), Duration::from_secs(12));
        assert_eq!(jittered(s, 0.2, 0.5), s);
    }
}
