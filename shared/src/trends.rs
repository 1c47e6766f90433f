//! Trend series: cells summed into local-clock buckets, zero-filled, and
//! judged by the anomaly detector.

use chrono::{DateTime, Utc};

use crate::anomaly::{Sample, judge_series};
use crate::money::Amount;
use crate::stats::{Cell, Stats};
use crate::wire::TrendData;

/// One point per bucket start; a bucket runs to the next start (the last one
/// to the end of the range). `cells` must lie inside the range. Without
/// history the flags come from the detector's rolling baseline (the buckets
/// before each one), and every bucket counts as whole.
pub fn build_trend(starts: &[DateTime<Utc>], cells: &[Cell], scale: u8) -> Vec<TrendData> {
    build_trend_with_history(starts, cells, scale, &[], &[])
}

/// [`build_trend`] judged against history: `seasons[i]` holds bucket `i`'s
/// totals of the same local interval 1, 2, … weeks earlier (nearest first,
/// scaled to the bucket's length; `anomaly::seasons::trend_season_windows`
/// says where), and `shares[i]` the share of bucket `i` inside the range
/// (`anomaly::seasons::covered_shares`: below 1 for the bucket in progress
/// and for a first bucket cut by `from`). Missing entries mean no seasons
/// and a whole bucket.
pub fn build_trend_with_history(
    starts: &[DateTime<Utc>],
    cells: &[Cell],
    scale: u8,
    seasons: &[Vec<Sample>],
    shares: &[f64],
) -> Vec<TrendData> {
    let mut sums = vec![Stats::default(); starts.len()];
    for cell in cells {
        // The bucket holding a cell is the last one that starts at or before it.
        let index = starts.partition_point(|start| *start <= cell.start);
        if let Some(slot) = index.checked_sub(1) {
            sums[slot].merge(&cell.stats);
        }
    }
    let samples: Vec<Sample> = sums.iter().map(Sample::from).collect();
    let verdicts = judge_series(&samples, seasons, shares);
    starts
        .iter()
        .zip(sums.iter().zip(verdicts))
        .map(|(start, (stats, verdict))| TrendData {
            timestamp: *start,
            amount: Amount::from_minor(stats.volume_minor, scale),
            count: stats.count(),
            success_rate: stats.success_rate(),
            anomaly: verdict.is_anomaly(),
            expected: verdict.band.map(|band| band.to_expected(scale)),
            anomaly_kinds: verdict.kinds,
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
    use crate::wire::{AnomalyKind, Bucket, ExpectedBasis};
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
        assert!(
            points.iter().all(|point| point.expected.is_none()),
            "no payment before: no band"
        );
    }

    /// A cell of `succeeded` payments of 10.00 and `failed` failures.
    fn totals(start: DateTime<Utc>, succeeded: u64, failed: u64) -> Cell {
        Cell {
            start,
            method: "card".into(),
            stats: Stats {
                succeeded,
                failed,
                volume_minor: succeeded as i64 * 1_000,
                ..Stats::default()
            },
        }
    }

    #[test]
    fn without_history_the_hours_before_judge_each_hour() {
        let from = parse_utc("2026-11-23T10:00:00Z").unwrap();
        let starts = bucket_starts(from, from + chrono::TimeDelta::hours(24), Bucket::Hour, chrono_tz::UTC).unwrap();
        let mut cells: Vec<Cell> = starts[..23].iter().map(|start| totals(*start, 98, 2)).collect();
        cells.push(totals(starts[23], 60, 40));
        let points = build_trend(&starts, &cells, 2);
        assert!(
            points[..6].iter().all(|point| point.expected.is_none()),
            "too few hours before"
        );
        assert!(points[..23].iter().all(|point| !point.anomaly));
        let last = &points[23];
        assert_eq!(last.anomaly_kinds, [AnomalyKind::FailureRateHigh]);
        assert!(last.anomaly);
        let expected = last.expected.as_ref().unwrap();
        assert_eq!((expected.basis, expected.samples), (ExpectedBasis::Rolling, 23));
        assert!(expected.success_rate.low > 60.0, "{expected:?}");
        assert_eq!(
            expected.volume.low,
            Amount::from_minor(0, 2),
            "a rolling band never judges a drop"
        );
        assert!(expected.volume.high > Amount::from_minor(98_000, 2));
    }

    #[test]
    fn with_history_each_bucket_has_a_seasonal_band_and_the_last_its_share() {
        let from = parse_utc("2026-11-24T00:00:00Z").unwrap();
        let starts = bucket_starts(from, from + chrono::TimeDelta::hours(3), Bucket::Hour, chrono_tz::UTC).unwrap();
        let cells = [
            totals(starts[0], 100, 1),
            totals(starts[1], 97, 2),
            totals(starts[2], 30, 0),
        ];
        let seasons = vec![vec![Sample::new(100, 1, 100_000); 6]; 3];
        // Three tenths of the last hour have passed: 30 payments is on course.
        let points = build_trend_with_history(&starts, &cells, 2, &seasons, &[1.0, 1.0, 0.3]);
        assert!(points.iter().all(|point| !point.anomaly), "{points:?}");
        let expected: Vec<_> = points.iter().map(|point| point.expected.clone().unwrap()).collect();
        assert!(
            expected
                .iter()
                .all(|band| band.basis == ExpectedBasis::Seasonal && band.samples == 6)
        );
        assert!(
            expected[2].volume.high < Amount::from_minor(100_000, 2),
            "{:?}",
            expected[2]
        );
        assert!(expected[1].volume.low < Amount::from_minor(97_000, 2));
        assert!(expected[1].volume.high > Amount::from_minor(100_000, 2));
        // Had the hour ended there, it would be a drop.
        let ended = build_trend_with_history(&starts, &cells, 2, &seasons, &[]);
        assert_eq!(ended[2].anomaly_kinds, [AnomalyKind::VolumeLow]);
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
