//! Trend series: cells summed into local-clock buckets, zero-filled, flagged.

use chrono::{DateTime, Utc};

use crate::anomaly::failure_spikes;
use crate::money::Amount;
use crate::stats::{Cell, Stats};
use crate::wire::TrendData;

/// One point per bucket start; a bucket runs to the next start (the last one
/// to the end of the range). `cells` must lie inside the range.
pub fn build_trend(starts: &[DateTime<Utc>], cells: &[Cell], scale: u8) -> Vec<TrendData> {
    let mut sums = vec![Stats::default(); starts.len()];
    for cell in cells {
        // The bucket holding a cell is the last one that starts at or before it.
        let index = starts.partition_point(|start| *start <= cell.start);
        if let Some(slot) = index.checked_sub(1) {
            sums[slot].merge(&cell.stats);
        }
    }
    let shape: Vec<(u64, f64)> = sums.iter().map(|stats| (stats.count(), stats.success_rate())).collect();
    let flags = failure_spikes(&shape);
    starts
        .iter()
        .zip(sums.iter().zip(flags))
        .map(|(start, (stats, anomaly))| TrendData {
            timestamp: *start,
            amount: Amount::from_minor(stats.volume_minor, scale),
            count: stats.count(),
            success_rate: stats.success_rate(),
            anomaly,
            anomaly_kinds: Vec::new(),
            expected: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buckets::bucket_starts;
    use crate::payment::PaymentStatus;
    use crate::stats::cell_start;
    use crate::time::parse_utc;
    use crate::wire::Bucket;
    use chrono_tz::America::New_York;

    fn cell(at: &str, method: &str, status: PaymentStatus, minor: i64) -> Cell {
        let mut stats = Stats::default();
        stats.record(status, minor);
        Cell {
            start: cell_start(parse_utc(at).unwrap()),
            method: method.into(),
            stats,
        }
    }

    #[test]
    fn zero_fills_empty_buckets() {
        let from = parse_utc("2026-11-24T00:00:00Z").unwrap();
        let to = parse_utc("2026-11-24T05:00:00Z").unwrap();
        let starts = bucket_starts(from, to, Bucket::Hour, chrono_tz::UTC).unwrap();
        let points = build_trend(
            &starts,
            &[cell("2026-11-24T02:30:00Z", "card", PaymentStatus::Succeeded, 250)],
            2,
        );
        let counts: Vec<u64> = points.iter().map(|point| point.count).collect();
        assert_eq!(counts, [0, 0, 1, 0, 0]);
        assert_eq!(points[2].amount.minor(), 250);
        assert_eq!(points[0].success_rate, 0.0);
        assert!(points.iter().all(|point| !point.anomaly));
    }

    #[test]
    fn dst_day_in_new_york_sums_its_25_hours_into_one_daily_bucket() {
        let from = parse_utc("2026-10-31T04:00:00Z").unwrap();
        let to = parse_utc("2026-11-03T05:00:00Z").unwrap();
        let starts = bucket_starts(from, to, Bucket::Day, New_York).unwrap();
        assert_eq!(starts.len(), 3);
        let cells = [
            cell("2026-11-01T04:00:00Z", "card", PaymentStatus::Succeeded, 100), // 00:00 EDT
            cell("2026-11-01T06:30:00Z", "card", PaymentStatus::Failed, 100),    // 01:30 EST
            cell("2026-11-02T04:59:00Z", "card", PaymentStatus::Refunded, 300),  // 23:59 EST
            cell("2026-11-02T05:00:00Z", "card", PaymentStatus::Succeeded, 7),   // next day
        ];
        let points = build_trend(&starts, &cells, 2);
        assert_eq!(points[1].count, 3);
        assert_eq!(points[1].amount.minor(), 400);
        assert!((points[1].success_rate - 200.0 / 3.0).abs() < 1e-12);
        assert_eq!(points[2].count, 1);
    }
}
