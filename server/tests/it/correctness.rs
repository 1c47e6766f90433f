//! The analytics served by the API equal an independent computation over the
//! raw payment documents, for two tenants in two time zones (New York with its
//! DST change, Kolkata with its half-hour offset), for metrics over several
//! ranges and for every trend period.
//!
//! The served numbers come from the rollups (whole 15-minute cells) and from
//! raw payments only for partial cells at the range's ends; the ranges below
//! include both kinds. The expected values here are computed directly from
//! the documents with chrono-tz, not with the shared crate's bucketing and
//! metric code (nor the store's raw-payment reads), so a mistake there cannot
//! hide itself. The range planner's cells are checked the same way.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use mongodb::bson::doc;
use paypulse_server::store::documents::{PaymentDoc, to_chrono};
use paypulse_server::store::rollups::Level;
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::stats::{Cell, Stats};
use paypulse_shared::time::{format_utc, parse_utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::common::{TestApp, payment};

const METHODS: [&str; 4] = ["card", "paypal", "bank_transfer", "upi"];

/// Random payments over the last 35 days, denser in the last day, plus some
/// placed on both sides of New York's 2026 fall-back hour.
fn dataset(tenant: &str, seed: u64) -> Vec<PaymentDoc> {
    let mut rng = StdRng::seed_from_u64(seed);
    let now = Utc::now();
    let mut documents = Vec::new();
    let mut add = |at: DateTime<Utc>, rng: &mut StdRng| {
        let status = match rng.random_range(0..20) {
            0..=2 => PaymentStatus::Failed,
            3 => PaymentStatus::Refunded,
            _ => PaymentStatus::Succeeded,
        };
        let method = METHODS[rng.random_range(0..METHODS.len())];
        documents.push(payment(tenant, at, rng.random_range(1..200_000), method, status));
    };
    for _ in 0..400 {
        let at = now - TimeDelta::milliseconds(rng.random_range(1..35 * 24 * 3_600_000));
        add(at, &mut rng);
    }
    for _ in 0..150 {
        let at = now - TimeDelta::milliseconds(rng.random_range(1..24 * 3_600_000));
        add(at, &mut rng);
    }
    for at in [
        "2026-11-01T04:59:59.999Z",
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:00:00Z",
        "2026-11-01T06:30:00Z",
    ] {
        add(parse_utc(at).unwrap(), &mut rng);
    }
    documents
}

async fn raw_payments(app: &TestApp, tenant: &str) -> Vec<PaymentDoc> {
    app.stored_payments(tenant).await
}

/// The sums of a set of payments, computed the plain way.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    gross_minor: i64,
    refunded_minor: i64,
    succeeded: u64,
    failed: u64,
    refunded: u64,
}

impl Expected {
    fn of<'a>(payments: impl Iterator<Item = &'a PaymentDoc>) -> Self {
        let mut expected = Self::default();
        for payment in payments {
            expected.add(payment);
        }
        expected
    }

    fn add(&mut self, payment: &PaymentDoc) {
        match payment.status {
            PaymentStatus::Failed => self.failed += 1,
            PaymentStatus::Succeeded => {
                self.succeeded += 1;
                self.gross_minor += payment.amount_minor;
            }
            PaymentStatus::Refunded => {
                self.succeeded += 1;
                self.gross_minor += payment.amount_minor;
                self.refunded += 1;
                self.refunded_minor += payment.amount_minor;
            }
        }
    }

    fn merge(&mut self, other: &Self) {
        self.gross_minor += other.gross_minor;
        self.refunded_minor += other.refunded_minor;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.refunded += other.refunded;
    }

    /// The same sums as the product's cells carry them.
    fn served(stats: &Stats) -> Self {
        Self {
            gross_minor: stats.volume_minor,
            refunded_minor: stats.refunded_minor,
            succeeded: stats.succeeded,
            failed: stats.failed,
            refunded: stats.refunded,
        }
    }

    fn success_rate(&self) -> f64 {
        let total = self.succeeded + self.failed;
        if total == 0 {
            0.0
        } else {
            self.succeeded as f64 / total as f64 * 100.0
        }
    }
}

fn major(minor: i64) -> f64 {
    minor as f64 / 100.0
}

fn assert_close(actual: &Value, expected: f64, what: &str) {
    let actual = actual
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {actual}"));
    assert!(
        (actual - expected).abs() < 1e-9,
        "{what}: served {actual}, expected {expected}"
    );
}

fn in_range(payment: &PaymentDoc, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    let at = to_chrono(payment.created_at);
    from <= at && at < to
}

fn check_metrics(served: &Value, raw: &[PaymentDoc], tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>, label: &str) {
    let chosen: Vec<&PaymentDoc> = raw.iter().filter(|payment| in_range(payment, from, to)).collect();
    let expected = Expected::of(chosen.iter().copied());
    for (field, minor) in [
        ("totalVolume", expected.gross_minor),
        ("netVolume", expected.gross_minor - expected.refunded_minor),
        ("refundedVolume", expected.refunded_minor),
    ] {
        assert_eq!(served[field].as_f64(), Some(major(minor)), "{label} {field}");
    }
    for (field, count) in [
        ("count", expected.succeeded + expected.failed),
        ("succeededCount", expected.succeeded),
        ("failedCount", expected.failed),
        ("refundedCount", expected.refunded),
    ] {
        assert_eq!(served[field].as_u64(), Some(count), "{label} {field}");
    }
    assert_close(
        &served["successRate"],
        expected.success_rate(),
        &format!("{label} successRate"),
    );
    let average = if expected.succeeded == 0 {
        0
    } else {
        // Half away from zero, in integers: (2·sum + n) div (2·n) for positive sums.
        (2 * expected.gross_minor + expected.succeeded as i64) / (2 * expected.succeeded as i64)
    };
    assert_eq!(
        served["averageAmount"].as_f64(),
        Some(major(average)),
        "{label} averageAmount"
    );

    let mut per_hour = [0u64; 24];
    let mut volume_per_method: BTreeMap<&str, i64> = BTreeMap::new();
    for payment in &chosen {
        per_hour[to_chrono(payment.created_at).with_timezone(&tz).hour() as usize] += 1;
        if payment.status != PaymentStatus::Failed {
            *volume_per_method.entry(payment.method.as_str()).or_default() += payment.amount_minor;
        }
    }
    let busiest = per_hour.iter().max().copied().unwrap_or(0);
    let peak = (busiest > 0).then(|| per_hour.iter().position(|count| *count == busiest).unwrap());
    assert_eq!(
        served["peakHour"].as_u64(),
        peak.map(|hour| hour as u64),
        "{label} peakHour"
    );
    let hourly: Vec<u64> = served["hourlyCounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|count| count.as_u64().unwrap())
        .collect();
    assert_eq!(hourly, per_hour, "{label} hourlyCounts");
    let best = volume_per_method.values().max().copied();
    let top = volume_per_method
        .iter()
        .find(|(_, volume)| Some(**volume) == best)
        .map(|(method, _)| *method);
    assert_eq!(served["topPaymentMethod"].as_str(), top, "{label} topPaymentMethod");
    let mut methods: Vec<&str> = chosen.iter().map(|payment| payment.method.as_str()).collect();
    methods.sort_unstable();
    methods.dedup();
    assert_eq!(
        served["activeMethods"].as_u64(),
        Some(methods.len() as u64),
        "{label} activeMethods"
    );
    // The breakdown: every active method, largest volume first (name on ties).
    let mut breakdown: Vec<(i64, &str, u64, u64)> = methods
        .iter()
        .map(|method| {
            let of_method: Vec<&&PaymentDoc> = chosen.iter().filter(|payment| payment.method == *method).collect();
            let failed = of_method
                .iter()
                .filter(|payment| payment.status == PaymentStatus::Failed)
                .count() as u64;
            let volume = volume_per_method.get(method).copied().unwrap_or(0);
            (volume, *method, of_method.len() as u64, failed)
        })
        .collect();
    breakdown.sort_by(|left, right| right.0.cmp(&left.0).then(left.1.cmp(right.1)));
    let served_breakdown: Vec<(f64, &str, u64, u64)> = served["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["volume"].as_f64().unwrap(),
                row["method"].as_str().unwrap(),
                row["count"].as_u64().unwrap(),
                row["failedCount"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected_breakdown: Vec<(f64, &str, u64, u64)> = breakdown
        .iter()
        .map(|(volume, method, count, failed)| (major(*volume), *method, *count, *failed))
        .collect();
    assert_eq!(served_breakdown, expected_breakdown, "{label} methods");
}

/// The start of the tenant's wall-clock hour or day that holds `instant`,
/// computed with chrono-tz directly rather than with the product's
/// `floor_local`.
fn local_start(instant: DateTime<Utc>, tz: Tz, level: Level) -> DateTime<Utc> {
    let local = instant.with_timezone(&tz);
    let into_hour = TimeDelta::minutes(i64::from(local.minute()))
        + TimeDelta::seconds(i64::from(local.second()))
        + TimeDelta::nanoseconds(i64::from(local.nanosecond()));
    match level {
        Level::Quarter => unreachable!("the planner is checked at hours and days"),
        Level::Hour => instant - into_hour,
        Level::Day => {
            let midnight = local.date_naive().and_hms_opt(0, 0, 0).unwrap();
            tz.from_local_datetime(&midnight)
                .earliest()
                .expect("midnight exists in the zones tested here")
                .with_timezone(&Utc)
        }
    }
}

/// Whether the tenant's wall clock at `instant` shows the start of a bucket
/// of `bucket` (a `bucket=` value, or a period's name).
fn is_boundary(instant: DateTime<Utc>, tz: Tz, bucket: &str) -> bool {
    let local = instant.with_timezone(&tz);
    let whole_minute = local.second() == 0 && local.nanosecond() == 0;
    let whole_hour = whole_minute && local.minute() == 0;
    match bucket {
        "1m" => whole_minute,
        "5m" => whole_minute && local.minute().is_multiple_of(5),
        "15m" => whole_minute && local.minute().is_multiple_of(15),
        "day" | "1h" => whole_hour,
        "week" | "6h" => whole_hour && local.hour().is_multiple_of(6),
        "month" | "1d" => whole_hour && local.hour() == 0,
        other => panic!("unknown bucket {other}"),
    }
}

/// Checks a served trend: each point starts on a local boundary, no boundary
/// is skipped between points, the points cover `[from, to)`, and each point's
/// sums equal those of the raw payments inside it.
fn check_trend(
    served: &Value,
    raw: &[PaymentDoc],
    tz: Tz,
    period: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    label: &str,
) {
    let points = served.as_array().expect("an array");
    let starts: Vec<DateTime<Utc>> = points
        .iter()
        .map(|point| parse_utc(point["timestamp"].as_str().unwrap()).unwrap())
        .collect();
    assert!(!starts.is_empty(), "{label}: no points");
    assert!(starts[0] <= from, "{label}: first bucket starts after the range");
    assert!(
        *starts.last().unwrap() < to,
        "{label}: last bucket starts at or after the end"
    );
    for (index, start) in starts.iter().enumerate() {
        assert!(
            is_boundary(*start, tz, period),
            "{label}: {start} is not a bucket boundary"
        );
        let end = starts.get(index + 1).copied().unwrap_or(to);
        let mut probe = *start + TimeDelta::minutes(1);
        while probe < end {
            assert!(
                !is_boundary(probe, tz, period),
                "{label}: a bucket starting at {probe} is missing"
            );
            probe += TimeDelta::minutes(1);
        }
        let inside = raw
            .iter()
            .filter(|payment| in_range(payment, (*start).max(from), end.min(to)));
        let expected = Expected::of(inside);
        let point = &points[index];
        let what = format!("{label} bucket {}", format_utc(start));
        assert_eq!(
            point["amount"].as_f64(),
            Some(major(expected.gross_minor)),
            "{what} amount"
        );
        assert_eq!(
            point["count"].as_u64(),
            Some(expected.succeeded + expected.failed),
            "{what} count"
        );
        assert_close(
            &point["successRate"],
            expected.success_rate(),
            &format!("{what} successRate"),
        );
    }
    // The window just before the first bucket holds no payment we counted.
    let total: u64 = points.iter().map(|point| point["count"].as_u64().unwrap()).sum();
    let expected_total = raw.iter().filter(|payment| in_range(payment, from, to)).count() as u64;
    assert_eq!(
        total, expected_total,
        "{label}: every payment in range is in exactly one bucket"
    );
}

#[tokio::test]
async fn metrics_and_trends_equal_a_recomputation_over_raw_payments() {
    let app = TestApp::spawn().await;
    for (tenant, seed) in [("globex", 11), ("initech", 12)] {
        app.insert(&dataset(tenant, seed)).await;
    }
    for (tenant, zone) in [("globex", "America/New_York"), ("initech", "Asia/Kolkata")] {
        let tz: Tz = zone.parse().unwrap();
        let raw = raw_payments(&app, tenant).await;
        assert!(raw.len() > 500);
        assert!(
            app.store.drift(tenant).await.unwrap().is_empty(),
            "rollups of {tenant} match its payments"
        );

        // Metrics: the default window and explicit ranges, one across DST.
        let served = app.json(tenant, "/api/analytics/metrics").await;
        let (from, to) = (
            parse_utc(served["from"].as_str().unwrap()).unwrap(),
            parse_utc(served["to"].as_str().unwrap()).unwrap(),
        );
        assert_eq!(to - from, TimeDelta::hours(24));
        check_metrics(&served, &raw, tz, from, to, &format!("{tenant} default metrics"));
        let now = Utc::now();
        for (from, to) in [
            (
                parse_utc("2026-10-31T00:00:00Z").unwrap(),
                parse_utc("2026-11-02T12:00:00Z").unwrap(),
            ),
            (now - TimeDelta::days(33), now),
            (
                now - TimeDelta::days(7) - TimeDelta::minutes(7),
                now - TimeDelta::days(2),
            ),
        ] {
            let path = format!(
                "/api/analytics/metrics?from={}&to={}",
                format_utc(&from),
                format_utc(&to)
            );
            let served = app.json(tenant, &path).await;
            check_metrics(&served, &raw, tz, from, to, &format!("{tenant} metrics {path}"));
        }

        // Trends: every period's default window, and explicit windows across
        // the New York DST change.
        for period in ["day", "week", "month"] {
            let served = app
                .json(tenant, &format!("/api/analytics/trends?period={period}"))
                .await;
            let points = served.as_array().unwrap();
            let expected_points = match period {
                "day" => 24,
                "week" => 28,
                _ => 30,
            };
            assert_eq!(points.len(), expected_points, "{tenant} {period}");
            let from = parse_utc(points[0]["timestamp"].as_str().unwrap()).unwrap();
            let to = Utc::now();
            check_trend(
                &served,
                &raw,
                tz,
                period,
                from,
                to,
                &format!("{tenant} {period} default"),
            );
        }
        let (from, to) = (
            parse_utc("2026-10-30T13:00:00Z").unwrap(),
            parse_utc("2026-11-03T00:00:00Z").unwrap(),
        );
        for period in ["day", "week", "month"] {
            let path = format!(
                "/api/analytics/trends?period={period}&from={}&to={}",
                format_utc(&from),
                format_utc(&to)
            );
            let served = app.json(tenant, &path).await;
            check_trend(&served, &raw, tz, period, from, to, &format!("{tenant} {path}"));
        }
    }
}

/// Trends for any range: without a period the bucket follows the span (1
/// minute for an hour, up to days for two months) and `bucket=` forces one;
/// every point equals the raw payments inside it, across the New York DST
/// change and in Kolkata's half-hour zone, for spans from 1 minute to 60
/// days, absolute and relative. Metrics of the same ranges, and of the
/// previous period with `compare=previous`, equal a recomputation too.
#[tokio::test]
async fn any_range_in_any_bucket_equals_a_recomputation() {
    let app = TestApp::spawn().await;
    for (tenant, seed) in [("globex", 21), ("initech", 22)] {
        app.insert(&dataset(tenant, seed)).await;
    }
    let now = Utc::now();
    let dst = parse_utc("2026-11-01T04:07:30Z").unwrap();
    for (tenant, zone) in [("globex", "America/New_York"), ("initech", "Asia/Kolkata")] {
        let tz: Tz = zone.parse().unwrap();
        let raw = raw_payments(&app, tenant).await;
        // (from, to, bucket asked for, bucket expected)
        type Case = (DateTime<Utc>, DateTime<Utc>, Option<&'static str>, &'static str);
        let cases: Vec<Case> = vec![
            (now - TimeDelta::minutes(1), now, None, "1m"),
            (now - TimeDelta::hours(1), now, None, "1m"),
            (
                now - TimeDelta::minutes(97) - TimeDelta::seconds(13),
                now - TimeDelta::minutes(3),
                None,
                "1m",
            ),
            (now - TimeDelta::hours(6), now, None, "5m"),
            (now - TimeDelta::hours(24), now, None, "15m"),
            (now - TimeDelta::days(7), now, None, "6h"),
            (now - TimeDelta::days(60), now, None, "1d"),
            (now - TimeDelta::hours(20), now - TimeDelta::hours(2), Some("1h"), "1h"),
            (dst, dst + TimeDelta::hours(3), Some("1m"), "1m"),
            // Starting on a payment's very millisecond: it is in the range.
            (
                parse_utc("2026-11-01T05:30:00Z").unwrap(),
                parse_utc("2026-11-01T06:00:00Z").unwrap(),
                None,
                "1m",
            ),
            (dst, dst + TimeDelta::hours(3), Some("5m"), "5m"),
            (dst - TimeDelta::hours(5), dst + TimeDelta::hours(5), Some("15m"), "15m"),
            (dst - TimeDelta::days(2), dst + TimeDelta::days(2), Some("1h"), "1h"),
            (dst - TimeDelta::days(3), dst + TimeDelta::days(3), Some("6h"), "6h"),
            (dst - TimeDelta::days(5), dst + TimeDelta::days(5), Some("1d"), "1d"),
        ];
        for (from, to, asked, expected) in cases {
            let mut path = format!(
                "/api/analytics/trends?from={}&to={}",
                format_utc(&from),
                format_utc(&to)
            );
            if let Some(bucket) = asked {
                path.push_str(&format!("&bucket={bucket}"));
            }
            let served = app.json(tenant, &path).await;
            let points = served.as_array().unwrap().len();
            if asked.is_none() {
                assert!(points <= 120, "{tenant} {path}: {points} points");
            }
            check_trend(&served, &raw, tz, expected, from, to, &format!("{tenant} {path}"));
            let path = format!(
                "/api/analytics/metrics?from={}&to={}&compare=previous",
                format_utc(&from),
                format_utc(&to)
            );
            let served = app.json(tenant, &path).await;
            check_metrics(&served, &raw, tz, from, to, &format!("{tenant} {path}"));
            let before = from - (to - from);
            check_metrics(
                &served["previous"],
                &raw,
                tz,
                before,
                from,
                &format!("{tenant} previous of {path}"),
            );
        }
        // Relative ranges resolve in the tenant's zone: today so far, and
        // yesterday, both from local midnight.
        let midnight = |instant: DateTime<Utc>| {
            let local = instant.with_timezone(&tz).date_naive().and_hms_opt(0, 0, 0).unwrap();
            tz.from_local_datetime(&local).earliest().unwrap().with_timezone(&Utc)
        };
        let served = app.json(tenant, "/api/analytics/metrics?from=now-1d/d&to=now/d").await;
        let (from, to) = (
            parse_utc(served["from"].as_str().unwrap()).unwrap(),
            parse_utc(served["to"].as_str().unwrap()).unwrap(),
        );
        let today = midnight(Utc::now());
        assert!(
            to == today || to == midnight(now),
            "{tenant}: to={to}, local midnight {today}"
        );
        assert_eq!(
            from,
            midnight(to - TimeDelta::hours(1)),
            "{tenant}: yesterday's midnight"
        );
        check_metrics(&served, &raw, tz, from, to, &format!("{tenant} yesterday"));
        let served = app.json(tenant, "/api/analytics/trends?from=now-1h").await;
        let points = served.as_array().unwrap();
        assert!((60..=61).contains(&points.len()), "{tenant}: an hour in minutes");
    }
}

/// Buckets finer than the rollups come from quarters kept in memory, the
/// current one included, which this process updates with what it writes:
/// after its own payments and refunds, and after another instance's, a
/// minute trend still equals the raw payments.
#[tokio::test]
async fn minute_trends_stay_exact_under_writes_of_any_instance() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_sharing(&app).await;
    let tz: Tz = "America/New_York".parse().unwrap();
    let body = |id: &str, amount: f64, status: &str| {
        let mut body =
            json!({"externalId": id, "amount": amount, "currency": "USD", "method": "card", "status": status});
        if status == "failed" {
            body["failureReason"] = json!("card_declined");
        }
        body
    };
    let check = |label: &'static str| {
        let app = &app;
        async move {
            // An hour in whole minutes ending after every write, fixed so
            // both reads mean the same buckets.
            let now = Utc::now();
            let (from, to) = (now - TimeDelta::hours(1), now + TimeDelta::minutes(1));
            let path = format!(
                "/api/analytics/trends?from={}&to={}&bucket=1m",
                format_utc(&from),
                format_utc(&to)
            );
            let served = app.json("globex", &path).await;
            let raw = raw_payments(app, "globex").await;
            check_trend(&served, &raw, tz, "1m", from, to, label);
        }
    };
    app.create("globex", body("m1", 10.0, "succeeded")).await;
    check("first read keeps the quarter").await;
    let second = app.create("globex", body("m2", 20.5, "succeeded")).await;
    app.create("globex", body("m3", 3.0, "failed")).await;
    check("after this process's payments").await;
    assert_eq!(app.refund("globex", second["id"].as_str().unwrap()).await.status(), 200);
    check("after this process's refund").await;
    other.create("globex", body("m4", 7.25, "succeeded")).await;
    check("after another instance's payment").await;
}

/// The planner behind every analytics read takes a range's whole local days
/// (when the question allows) from the day rollups, whole local hours from
/// the hour rollups, whole quarters from the quarter rollups, and a partial
/// quarter at either end from the raw payments inside the range or from the
/// quarter's rollup less the raw payments outside it. Whichever it picks, per
/// interval of the level asked for (found with chrono-tz, not the product's
/// `floor_local`) and method, every count and sum (succeeded, failed,
/// refunded, volume, refunded volume) must equal the raw documents in the
/// range, for any range: long and short, within one quarter, on and
/// off boundaries, reaching into the future (where a sender with a fast clock
/// may already have put a payment), in a time zone whose hours start at :30
/// UTC.
#[tokio::test]
async fn cells_equal_the_raw_payments_for_any_range() {
    let app = TestApp::spawn().await;
    let tz: Tz = "Asia/Kolkata".parse().unwrap();
    let now = Utc::now();
    let mut documents = dataset("initech", 13);
    for minutes in [1, 2, 4] {
        documents.push(payment(
            "initech",
            now + TimeDelta::minutes(minutes),
            1_234,
            "card",
            PaymentStatus::Succeeded,
        ));
    }
    app.insert(&documents).await;
    let raw = raw_payments(&app, "initech").await;
    // Both sides per interval of the level asked for and method, the
    // interval found with chrono-tz; empty sums are no information.
    type ByInterval = BTreeMap<(DateTime<Utc>, String), Expected>;
    let planned_by_interval = |level: Level, cells: &[Cell]| -> ByInterval {
        let mut intervals = ByInterval::new();
        for cell in cells {
            intervals
                .entry((local_start(cell.start, tz, level), cell.method.clone()))
                .or_default()
                .merge(&Expected::served(&cell.stats));
        }
        intervals.retain(|_, sums| *sums != Expected::default());
        intervals
    };
    let raw_by_interval = |level: Level, from: DateTime<Utc>, to: DateTime<Utc>| -> ByInterval {
        let mut intervals = ByInterval::new();
        for payment in raw.iter().filter(|payment| in_range(payment, from, to)) {
            let start = local_start(to_chrono(payment.created_at), tz, level);
            intervals
                .entry((start, payment.method.clone()))
                .or_default()
                .add(payment);
        }
        intervals
    };
    let mut rng = StdRng::seed_from_u64(14);
    let mut ranges = Vec::new();
    for _ in 0..60 {
        let from = now - TimeDelta::milliseconds(rng.random_range(0..36 * 24 * 3_600_000));
        let length = match rng.random_range(0..4) {
            0 => TimeDelta::milliseconds(rng.random_range(1..15 * 60_000)),
            1 => TimeDelta::milliseconds(rng.random_range(1..6 * 3_600_000)),
            2 => TimeDelta::milliseconds(rng.random_range(1..3 * 24 * 3_600_000)),
            _ => TimeDelta::milliseconds(rng.random_range(1..40 * 24 * 3_600_000)),
        };
        ranges.push((from, from + length));
    }
    for _ in 0..20 {
        let ahead = TimeDelta::milliseconds(rng.random_range(0..10 * 60_000));
        let back = TimeDelta::milliseconds(rng.random_range(1..2 * 3_600_000));
        ranges.push((now - back, now + ahead));
        let back = TimeDelta::milliseconds(rng.random_range(1..31 * 24 * 3_600_000));
        ranges.push((now - back, now + ahead));
    }
    // The month trend's window: 30 local days ending now.
    let today = local_start(now, tz, Level::Day);
    ranges.push((today - TimeDelta::days(29), now));
    ranges.push((now - TimeDelta::days(60), now + TimeDelta::minutes(30)));
    for (from, to) in ranges {
        for level in [Level::Hour, Level::Day] {
            let planned = app.store.cells("initech", tz, from, to, level).await.unwrap();
            for cell in &planned {
                assert!(
                    cell.start < to,
                    "a cell starting at {} is outside the range",
                    cell.start
                );
                assert!(
                    local_start(cell.start, tz, level) >= local_start(from, tz, level),
                    "a cell starting at {} is before the range",
                    cell.start
                );
            }
            assert_eq!(
                planned_by_interval(level, &planned),
                raw_by_interval(level, from, to),
                "{level:?} cells of [{}, {})",
                format_utc(&from),
                format_utc(&to)
            );
        }
    }
}

/// A range that starts inside a past quarter reads that quarter's payments
/// once and keeps them in memory, and keeps the hour rollups it read; it
/// must never answer from them once they changed, whichever instance
/// changed them: a refund and late payments written through a second server
/// show at the next read of the first.
#[tokio::test]
async fn kept_rollups_follow_writes_of_any_instance() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_sharing(&app).await;
    let tz: Tz = "UTC".parse().unwrap();
    let quarter = Level::Quarter.floor(Utc::now() - TimeDelta::hours(30), tz);
    let at = |minutes: i64| quarter + TimeDelta::minutes(minutes);
    let created = other
        .create(
            "acme",
            json!({"externalId": "edge-1", "amount": 10, "currency": "USD", "method": "card", "status": "succeeded",
                   "createdAt": format_utc(&at(9))}),
        )
        .await;
    app.insert(&[
        payment("acme", at(2), 1_000, "card", PaymentStatus::Succeeded),
        payment("acme", at(8), 2_000, "paypal", PaymentStatus::Failed),
        // In a whole hour of the ranges below: its rollup is read and kept.
        payment("acme", at(95), 500, "card", PaymentStatus::Succeeded),
    ])
    .await;
    // Ranges cutting the quarter at minute 5: its later part is read.
    let (from, to) = (at(5), at(5) + TimeDelta::hours(3));
    let check = |when: &'static str| {
        let app = &app;
        async move {
            // Per method, every count and sum, against the raw documents.
            let mut planned: BTreeMap<String, Expected> = BTreeMap::new();
            for cell in app.store.cells("acme", tz, from, to, Level::Hour).await.unwrap() {
                planned
                    .entry(cell.method)
                    .or_default()
                    .merge(&Expected::served(&cell.stats));
            }
            planned.retain(|_, sums| *sums != Expected::default());
            let mut raw: BTreeMap<String, Expected> = BTreeMap::new();
            for payment in raw_payments(app, "acme").await {
                if in_range(&payment, from, to) {
                    raw.entry(payment.method.clone()).or_default().add(&payment);
                }
            }
            assert_eq!(planned, raw, "{when}");
        }
    };
    check("first read, from the database").await;
    check("second read, from memory").await;

    let refund = other.refund("acme", created["id"].as_str().unwrap()).await;
    assert!(refund.status().is_success());
    check("after another instance's refund").await;
    other
        .create(
            "acme",
            json!({"externalId": "edge-2", "amount": 7, "currency": "USD", "method": "card", "status": "succeeded",
                   "createdAt": format_utc(&at(6))}),
        )
        .await;
    check("after another instance's late payment").await;
    // And into a whole hour of the range, read from the (kept) hour rollups.
    other
        .create(
            "acme",
            json!({"externalId": "edge-3", "amount": 3, "currency": "USD", "method": "paypal", "status": "succeeded",
                   "createdAt": format_utc(&at(100))}),
        )
        .await;
    check("after another instance's payment in a whole hour").await;
}
