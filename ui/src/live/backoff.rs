//! Reconnection delays: exponential with a cap and "equal jitter" (half the
//! delay fixed, half random), so a server restart is not met by every
//! dashboard reconnecting in the same millisecond, and a dashboard left on
//! through a long outage retries every half minute or so rather than never
//! or constantly.

/// First delay, before jitter.
const BASE_MS: f64 = 500.0;
/// Longest delay, before jitter.
const CAP_MS: f64 = 30_000.0;

/// Consecutive failed attempts since the last good connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// Failures since the last success.
    pub fn failures(self) -> u32 {
        self.failures
    }

    /// Counts a failure and returns how long to wait before the next
    /// attempt; `random` is uniform in `[0, 1)`.
    pub fn fail(&mut self, random: f64) -> u32 {
        let ceiling = (BASE_MS * 2f64.powi(self.failures.min(16) as i32)).min(CAP_MS);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2.0;
        (half + half * random.clamp(0.0, 1.0)).round() as u32
    }

    /// A connection succeeded (the server said hello): start again from the
    /// shortest delay.
    pub fn succeed(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_a_cap_with_jitter_inside_bounds() {
        let mut backoff = Backoff::default();
        let lowest: Vec<u32> = (0..10).map(|_| backoff.fail(0.0)).collect();
        assert_eq!(
            lowest,
            [250, 500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000, 15_000]
        );
        let mut backoff = Backoff::default();
        let highest: Vec<u32> = (0..8).map(|_| backoff.fail(0.999_999)).collect();
        assert_eq!(highest, [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
        assert_eq!(backoff.failures(), 8);
    }

    #[test]
    fn a_success_starts_again_from_the_shortest_delay() {
        let mut backoff = Backoff::default();
        for _ in 0..5 {
            backoff.fail(0.5);
        }
        backoff.succeed();
        assert_eq!(backoff.fail(0.0), 250);
    }

    #[test]
    fn survives_a_very_long_outage() {
        let mut backoff = Backoff::default();
        for _ in 0..10_000 {
            assert!(backoff.fail(0.5) <= 30_000);
        }
    }
}
