//! How long to wait before trying a server again: doubling from `first` up
//! to `cap`, each wait shortened by a random share of up to half, so that
//! many services cut off together do not all come back at the same moment.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(first: Duration, cap: Duration) -> Self {
        Backoff {
            first,
            cap: cap.max(first),
            failures: 0,
        }
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Counts a failure and gives the wait before the next try. `jitter`
    /// is a random number in [0, 1).
    pub fn fail(&mut self, jitter: f64) -> Duration {
        let full = self
            .first
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.cap);
        self.failures = self.failures.saturating_add(1);
        full.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
    }

    pub fn succeed(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_starts_over_after_a_success() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let waits: Vec<u64> = (0..8).map(|_| b.fail(0.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(b.failures(), 8);
        b.succeed();
        assert_eq!(b.fail(0.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_takes_off_at_most_half() {
        let mut b = Backoff::new(Duration::from_secs(8), Duration::from_secs(8));
        assert_eq!(b.fail(0.999_999).as_millis(), 4000);
        assert_eq!(b.fail(0.5), Duration::from_secs(6));
        // Out-of-range jitter cannot make a wait negative or longer.
        assert_eq!(b.fail(7.0), Duration::from_secs(4));
        assert_eq!(b.fail(-1.0), Duration::from_secs(8));
    }
}
