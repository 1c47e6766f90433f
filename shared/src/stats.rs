//! Additive payment statistics and the 15-minute cells they are kept in.
//!
//! Every metric and trend point is a sum of cells, so the same arithmetic
//! serves a query over raw payments and one over stored rollups. Cells are 15
//! minutes of UTC long because every time-zone offset in use is a multiple of
//! 15 minutes: a cell then lies inside exactly one local hour of any tenant.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::payment::PaymentStatus;

/// Length of one cell in minutes.
pub const CELL_MINUTES: i64 = 15;

/// Sums over a set of payments. Refunded payments had succeeded first: they
/// count in `succeeded` and `volume_minor` (gross) and again in `refunded`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Payments that succeeded, refunded ones included.
    pub succeeded: u64,
    pub failed: u64,
    /// Payments refunded after succeeding (a subset of `succeeded`).
    pub refunded: u64,
    /// Gross succeeded amount in minor units.
    pub volume_minor: i64,
    /// Amount refunded, in minor units.
    pub refunded_minor: i64,
}

impl Stats {
    /// Counts one payment.
    pub fn record(&mut self, status: PaymentStatus, amount_minor: i64) {
        match status {
            PaymentStatus::Succeeded => {
                self.succeeded += 1;
                self.volume_minor += amount_minor;
            }
            PaymentStatus::Refunded => {
                self.succeeded += 1;
                self.volume_minor += amount_minor;
                self.refunded += 1;
                self.refunded_minor += amount_minor;
            }
            PaymentStatus::Failed => self.failed += 1,
        }
    }

    /// Adds another set of sums to this one.
    pub fn merge(&mut self, other: &Self) {
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.refunded += other.refunded;
        self.volume_minor += other.volume_minor;
        self.refunded_minor += other.refunded_minor;
    }

    /// Takes away sums that were added to this one (a subset of the
    /// payments it counts). Saturates at zero rather than wrapping.
    pub fn remove(&mut self, other: &Self) {
        self.succeeded = self.succeeded.saturating_sub(other.succeeded);
        self.failed = self.failed.saturating_sub(other.failed);
        self.refunded = self.refunded.saturating_sub(other.refunded);
        self.volume_minor -= other.volume_minor;
        self.refunded_minor -= other.refunded_minor;
    }

    /// Whether no payment is counted.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Payments counted, whatever their outcome.
    pub const fn count(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// Succeeded / (succeeded + failed) × 100; 0 when there is nothing.
    pub fn success_rate(&self) -> f64 {
        match self.count() {
            0 => 0.0,
            count => self.succeeded as f64 * 100.0 / count as f64,
        }
    }
}

/// The statistics of one payment method within one 15-minute cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// Start of the cell, a multiple of 15 minutes in UTC.
    pub start: DateTime<Utc>,
    pub method: String,
    pub stats: Stats,
}

/// The start of the cell that holds `instant`.
pub fn cell_start(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant
        .duration_trunc(TimeDelta::minutes(CELL_MINUTES))
        .expect("15 minutes divides every representable instant")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn refunds_stay_in_gross_volume_and_success() {
        let mut stats = Stats::default();
        stats.record(PaymentStatus::Succeeded, 1000);
        stats.record(PaymentStatus::Refunded, 500);
        stats.record(PaymentStatus::Failed, 700);
        assert_eq!(stats.succeeded, 2);
        assert_eq!(stats.volume_minor, 1500);
        assert_eq!(stats.refunded_minor, 500);
        assert_eq!(stats.count(), 3);
        assert!((stats.success_rate() - 200.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn removing_a_subset_leaves_the_rest() {
        let mut whole = Stats::default();
        let mut part = Stats::default();
        let mut rest = Stats::default();
        for (index, (status, amount)) in [
            (PaymentStatus::Succeeded, 1000),
            (PaymentStatus::Refunded, 500),
            (PaymentStatus::Failed, 700),
            (PaymentStatus::Succeeded, 250),
        ]
        .into_iter()
        .enumerate()
        {
            whole.record(status, amount);
            if index % 2 == 0 { &mut part } else { &mut rest }.record(status, amount);
        }
        whole.remove(&part);
        assert_eq!(whole, rest);
        whole.remove(&rest);
        assert!(whole.is_empty());
    }

    #[test]
    fn empty_stats_have_a_zero_rate() {
        assert_eq!(Stats::default().success_rate(), 0.0);
    }

    #[test]
    fn cells_are_quarter_hours_of_utc() {
        let instant = Utc.with_ymd_and_hms(2026, 11, 24, 10, 44, 59).unwrap();
        assert_eq!(
            cell_start(instant),
            Utc.with_ymd_and_hms(2026, 11, 24, 10, 30, 0).unwrap()
        );
    }
}
