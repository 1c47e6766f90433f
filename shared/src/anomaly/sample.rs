//! The totals of one bucket as the detector sees them.

use std::ops::Add;

use crate::stats::Stats;

/// Observed or expected totals of one bucket: payments that succeeded
/// (refunded ones included), payments that failed, and the gross succeeded
/// volume in minor units.
///
/// The fields are `f64` because a seasonal sample is often a share of a
/// longer interval (a quarter hour stands for a quarter of its hour's totals),
/// and rounding such a share to whole payments would lose both small counts
/// and the success rate.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    pub succeeded: f64,
    pub failed: f64,
    pub volume_minor: f64,
}

impl Sample {
    /// Totals of `succeeded` and `failed` payments with this gross volume.
    pub fn new(succeeded: u64, failed: u64, volume_minor: i64) -> Self {
        Self {
            succeeded: succeeded as f64,
            failed: failed as f64,
            volume_minor: volume_minor as f64,
        }
    }

    /// Payments that succeeded or failed.
    pub fn attempts(&self) -> f64 {
        self.succeeded + self.failed
    }

    /// Failed / attempts × 100; `None` without attempts.
    pub fn failure_rate(&self) -> Option<f64> {
        let attempts = self.attempts();
        (attempts > 0.0).then(|| self.failed * 100.0 / attempts)
    }

    /// The same totals at `factor` times the size: volume and counts
    /// scale, the failure rate stays. This is how an hour's totals stand for
    /// a five-minute bucket inside it (`factor` = 1/12), or how a whole
    /// bucket's expected totals become those of the part already elapsed.
    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            succeeded: self.succeeded * factor,
            failed: self.failed * factor,
            volume_minor: self.volume_minor * factor,
        }
    }
}

impl From<&Stats> for Sample {
    fn from(stats: &Stats) -> Self {
        Self::new(stats.succeeded, stats.failed, stats.volume_minor)
    }
}

impl Add for Sample {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            succeeded: self.succeeded + other.succeeded,
            failed: self.failed + other.failed,
            volume_minor: self.volume_minor + other.volume_minor,
        }
    }
}

impl std::iter::Sum for Sample {
    fn sum<I: Iterator<Item = Self>>(samples: I) -> Self {
        samples.fold(Self::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::PaymentStatus;

    #[test]
    fn a_sample_of_stats_counts_refunds_as_succeeded_volume() {
        let mut stats = Stats::default();
        stats.record(PaymentStatus::Succeeded, 1_000);
        stats.record(PaymentStatus::Refunded, 500);
        stats.record(PaymentStatus::Failed, 700);
        let sample = Sample::from(&stats);
        assert_eq!(sample, Sample::new(2, 1, 1_500));
        assert_eq!(sample.attempts(), 3.0);
        assert!((sample.failure_rate().unwrap() - 100.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn scaling_keeps_the_rate_and_sums_add_up() {
        let hour = Sample::new(90, 10, 45_000);
        let five_minutes = hour.scaled(1.0 / 12.0);
        assert!((five_minutes.attempts() - 100.0 / 12.0).abs() < 1e-12);
        assert!((five_minutes.volume_minor - 3_750.0).abs() < 1e-9);
        assert!((five_minutes.failure_rate().unwrap() - 10.0).abs() < 1e-12);
        let twelve: Sample = std::iter::repeat_n(five_minutes, 12).sum();
        assert!((twelve.volume_minor - hour.volume_minor).abs() < 1e-6);
        assert_eq!(Sample::default().failure_rate(), None);
    }
}
