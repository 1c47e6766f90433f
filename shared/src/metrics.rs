//! The metric definitions of SPEC §3, computed from 15-minute cells.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;

use crate::money::Amount;
use crate::stats::{Cell, Stats};
use crate::wire::{MethodBreakdown, PaymentMetrics};

/// Metrics over `[from, to)` from the cells of that range, hours of day read
/// in `tz`, amounts at `scale` decimal places of `currency`.
pub fn compute_metrics(
    cells: &[Cell],
    tz: Tz,
    currency: &str,
    scale: u8,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> PaymentMetrics {
    let mut total = Stats::default();
    let mut by_method: BTreeMap<&str, Stats> = BTreeMap::new();
    let mut hourly_counts = vec![0u64; 24];
    for cell in cells {
        total.merge(&cell.stats);
        by_method.entry(cell.method.as_str()).or_default().merge(&cell.stats);
        let hour = cell.start.with_timezone(&tz).hour() as usize;
        hourly_counts[hour] += cell.stats.count();
    }

    // `max_by_key` keeps the last maximum, so iterate in reverse to keep the
    // earliest hour / alphabetically first method on ties.
    let peak_hour = hourly_counts
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, count)| **count > 0)
        .max_by_key(|(_, count)| **count)
        .map(|(hour, _)| hour as u8);
    let top_payment_method = by_method
        .iter()
        .rev()
        .filter(|(_, stats)| stats.succeeded > 0)
        .max_by_key(|(_, stats)| stats.volume_minor)
        .map(|(method, _)| (*method).to_owned());
    let active_methods = by_method.values().filter(|stats| stats.count() > 0).count();
    let mut methods: Vec<MethodBreakdown> = by_method
        .iter()
        .filter(|(_, stats)| stats.count() > 0)
        .map(|(method, stats)| MethodBreakdown {
            method: (*method).to_owned(),
            count: stats.count(),
            failed_count: stats.failed,
            volume: Amount::from_minor(stats.volume_minor, scale),
            success_rate: stats.success_rate(),
        })
        .collect();
    // Stable: methods with equal volume stay in alphabetical order.
    methods.sort_by_key(|row| std::cmp::Reverse(row.volume));

    let amount = |minor: i64| Amount::from_minor(minor, scale);
    PaymentMetrics {
        total_volume: amount(total.volume_minor),
        success_rate: total.success_rate(),
        average_amount: amount(total.volume_minor).div_round(total.succeeded),
        peak_hour,
        top_payment_method,
        active_methods: u32::try_from(active_methods).unwrap_or(u32::MAX),
        count: total.count(),
        succeeded_count: total.succeeded,
        failed_count: total.failed,
        refunded_count: total.refunded,
        net_volume: amount(total.volume_minor - total.refunded_minor),
        refunded_volume: amount(total.refunded_minor),
        hourly_counts,
        methods,
        currency: currency.to_owned(),
        timezone: tz.name().to_owned(),
        from,
        to,
        previous: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::PaymentStatus;
    use crate::stats::cell_start;
    use crate::time::parse_utc;
    use chrono_tz::{America::New_York, Asia::Kolkata, UTC};

    /// Cells from `(timestamp, method, status, minor)` rows, as a store would
    /// produce them.
    fn cells(rows: &[(&str, &str, PaymentStatus, i64)]) -> Vec<Cell> {
        let mut grouped: BTreeMap<(DateTime<Utc>, String), Stats> = BTreeMap::new();
        for (at, method, status, minor) in rows {
            let key = (cell_start(parse_utc(at).unwrap()), (*method).to_owned());
            grouped.entry(key).or_default().record(*status, *minor);
        }
        grouped
            .into_iter()
            .map(|((start, method), stats)| Cell { start, method, stats })
            .collect()
    }

    fn metrics(rows: &[(&str, &str, PaymentStatus, i64)], tz: Tz) -> PaymentMetrics {
        let range = (
            parse_utc("2026-11-01T00:00:00Z").unwrap(),
            parse_utc("2026-12-01T00:00:00Z").unwrap(),
        );
        compute_metrics(&cells(rows), tz, "USD", 2, range.0, range.1)
    }

    use PaymentStatus::{Failed, Refunded, Succeeded};

    #[test]
    fn empty_range_has_zeros_and_nulls() {
        let metrics = metrics(&[], UTC);
        assert_eq!(metrics.total_volume.minor(), 0);
        assert_eq!(metrics.success_rate, 0.0);
        assert_eq!(metrics.average_amount.minor(), 0);
        assert_eq!(metrics.peak_hour, None);
        assert_eq!(metrics.top_payment_method, None);
        assert_eq!(metrics.active_methods, 0);
        assert_eq!(
            serde_json::to_value(&metrics).unwrap()["peakHour"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn refunds_count_in_gross_volume_and_success_rate() {
        let metrics = metrics(
            &[
                ("2026-11-24T10:00:00Z", "card", Succeeded, 1000),
                ("2026-11-24T10:05:00Z", "card", Refunded, 500),
                ("2026-11-24T10:10:00Z", "paypal", Failed, 9999),
                ("2026-11-24T10:20:00Z", "paypal", Failed, 1),
            ],
            UTC,
        );
        assert_eq!(metrics.total_volume.minor(), 1500);
        assert_eq!(metrics.net_volume.minor(), 1000);
        assert_eq!(metrics.refunded_volume.minor(), 500);
        assert_eq!(metrics.success_rate, 50.0);
        assert_eq!(metrics.average_amount.minor(), 750);
        assert_eq!(metrics.active_methods, 2, "a method with only failures is still active");
        assert_eq!(metrics.top_payment_method.as_deref(), Some("card"));
    }

    #[test]
    fn ties_pick_the_earliest_hour_and_the_first_method_alphabetically() {
        let metrics = metrics(
            &[
                ("2026-11-24T15:00:00Z", "paypal", Succeeded, 500),
                ("2026-11-24T03:00:00Z", "card", Succeeded, 500),
                ("2026-11-24T22:00:00Z", "apple_pay", Failed, 10_000),
            ],
            UTC,
        );
        assert_eq!(metrics.peak_hour, Some(3));
        assert_eq!(
            metrics.top_payment_method.as_deref(),
            Some("card"),
            "apple_pay has no succeeded volume"
        );
    }

    #[test]
    fn no_succeeded_payment_means_no_top_method() {
        let metrics = metrics(&[("2026-11-24T15:00:00Z", "paypal", Failed, 500)], UTC);
        assert_eq!(metrics.top_payment_method, None);
        assert_eq!(metrics.peak_hour, Some(15));
        assert_eq!(metrics.average_amount.minor(), 0);
    }

    #[test]
    fn peak_hour_is_read_on_the_tenants_half_hour_clock() {
        // 09:40 UTC is 15:10 IST; 10:29 UTC is 15:59 IST; 10:30 UTC is 16:00 IST.
        let rows = [
            ("2026-11-24T09:40:00Z", "upi", Succeeded, 100),
            ("2026-11-24T10:29:00Z", "upi", Succeeded, 100),
            ("2026-11-24T10:30:00Z", "upi", Succeeded, 100),
        ];
        let metrics = metrics(&rows, Kolkata);
        assert_eq!(metrics.peak_hour, Some(15));
        assert_eq!(metrics.hourly_counts[15], 2);
        assert_eq!(metrics.hourly_counts[16], 1);
    }

    #[test]
    fn the_repeated_hour_of_a_dst_change_is_one_hour_of_day() {
        // 05:30Z is 01:30 EDT and 06:30Z is 01:30 EST on 2026-11-01.
        let rows = [
            ("2026-11-01T05:30:00Z", "card", Succeeded, 100),
            ("2026-11-01T06:30:00Z", "card", Succeeded, 100),
            ("2026-11-01T07:30:00Z", "card", Succeeded, 100),
        ];
        let metrics = metrics(&rows, New_York);
        assert_eq!(metrics.hourly_counts[1], 2);
        assert_eq!(metrics.hourly_counts[2], 1);
        assert_eq!(metrics.peak_hour, Some(1));
    }

    #[test]
    fn cents_sum_exactly() {
        let rows = [
            ("2026-11-24T10:00:00Z", "card", Succeeded, 10),
            ("2026-11-24T10:01:00Z", "card", Succeeded, 20),
        ];
        let value = serde_json::to_value(metrics(&rows, UTC)).unwrap();
        assert_eq!(value["totalVolume"], serde_json::json!(0.3));
        assert_eq!(value["averageAmount"], serde_json::json!(0.15));
    }
}
