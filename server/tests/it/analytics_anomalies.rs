//! Trend points judged against their seasons (the same local hour 1 to 6
//! weeks earlier, read from the hour rollups): a normal day is not flagged
//! and carries seasonal bands; a failure spike and a missing busy hour are
//! flagged; a tenant with one week of history falls back to the rolling
//! baseline; a half-hour zone finds its seasons; and the seasons cost one
//! document per past hour, read once.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use paypulse_server::store::documents::PaymentDoc;
use paypulse_shared::anomaly::seasons::bucket_end;
use paypulse_shared::buckets::{bucket_starts, floor_local};
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::time::format_utc;
use paypulse_shared::wire::{AnomalyKind, Bucket, ExpectedBasis, TrendData};

use crate::common::{TestApp, payment};

/// Payments of 10.00 per local hour of day: busy from 10:00 to 18:00, the
/// same every day of every week. Busy hours hold enough payments for a
/// missing one to be a drop; there are few of them, so that importing the
/// weeks stays quick.
fn rhythm(local_hour: u32) -> usize {
    if (10..18).contains(&local_hour) { 20 } else { 2 }
}

/// What one hour holds: `count` payments, every `failing_every`-th failed
/// (none when 0).
#[derive(Clone, Copy)]
struct HourShape {
    count: usize,
    failing_every: usize,
}

impl HourShape {
    /// The rhythm's hour: one payment in twenty fails.
    fn usual(local_hour: u32) -> Self {
        Self {
            count: rhythm(local_hour),
            failing_every: 20,
        }
    }
}

/// Payments of `tenant` for every local hour from the one holding `from`
/// to `now` (none at or after `now`), spread evenly through each hour, as
/// `shape` says (the rhythm unless it says otherwise).
fn payments(
    tenant: &str,
    tz: Tz,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    shape: impl Fn(DateTime<Utc>) -> Option<HourShape>,
) -> Vec<PaymentDoc> {
    let mut documents = Vec::new();
    for start in bucket_starts(from, now, Bucket::Hour, tz).unwrap() {
        let local_hour = start.with_timezone(&tz).hour();
        let hour = shape(start).unwrap_or(HourShape::usual(local_hour));
        let length = bucket_end(start, Bucket::Hour, tz) - start;
        for index in 0..hour.count {
            let at = start + length * (2 * index as i32 + 1) / (2 * hour.count as i32);
            if at >= now {
                break;
            }
            let failed = hour.failing_every > 0 && index % hour.failing_every == hour.failing_every / 2;
            let status = if failed {
                PaymentStatus::Failed
            } else {
                PaymentStatus::Succeeded
            };
            documents.push(payment(tenant, at, 1_000, "card", status));
        }
    }
    documents
}

/// A trend of the 24 hours up to `now` (the last one in progress), in
/// hourly buckets: what the dashboard's day trend shows, pinned to the
/// instant the test's data ends at.
struct Day {
    now: DateTime<Utc>,
    starts: Vec<DateTime<Utc>>,
}

impl Day {
    fn ending_now(tz: Tz) -> Self {
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
        let current = floor_local(now, Bucket::Hour, tz);
        let starts = bucket_starts(current - TimeDelta::hours(23), now, Bucket::Hour, tz).unwrap();
        assert_eq!(starts.len(), 24);
        Self { now, starts }
    }

    fn path(&self) -> String {
        format!(
            "/api/analytics/trends?from={}&to={}&bucket=1h",
            format_utc(&self.starts[0]),
            format_utc(&self.now)
        )
    }

    async fn read(&self, app: &TestApp, tenant: &str) -> Vec<TrendData> {
        let served = app.json(tenant, &self.path()).await;
        serde_json::from_value(served).expect("trend points")
    }

    /// The indices of the finished buckets whose local hour is busy, latest
    /// first.
    fn busy_finished(&self, tz: Tz) -> Vec<usize> {
        (0..self.starts.len() - 1)
            .rev()
            .filter(|index| rhythm(self.starts[*index].with_timezone(&tz).hour()) >= 20)
            .collect()
    }
}

/// A server whose alert evaluator is off. The evaluator reads the same
/// hours' seasons through the same per-process store of past totals, which
/// keeps what it reads for `store::history::TTL`, as it keeps any past hour
/// (a late import is seen that much later: ARCHITECTURE "Analytics"). These
/// tests import weeks of history into a running server, so an evaluation
/// during the import would keep half-imported seasons and judge the trend
/// read after it by them: the failure this once was, whenever the window
/// of the evaluator's rules covered a busy hour. Off, the documents the
/// first test counts are also the trend's own.
async fn app_without_evaluator() -> TestApp {
    TestApp::spawn_with(|config| config.limits.alerts.enabled = false).await
}

fn expected_of(point: &TrendData) -> &paypulse_shared::wire::Expected {
    point
        .expected
        .as_ref()
        .unwrap_or_else(|| panic!("a band for {}", point.timestamp))
}

#[tokio::test]
async fn a_day_is_judged_against_the_same_hours_of_five_weeks() {
    let app = app_without_evaluator().await;
    let tz: Tz = "UTC".parse().unwrap();
    let day = Day::ending_now(tz);
    let busy = day.busy_finished(tz);
    let (gap, spike) = (day.starts[busy[0]], day.starts[busy[1]]);
    let weeks = 5;
    let history_start = day.starts[0] - TimeDelta::weeks(weeks);
    let documents = payments("acme", tz, history_start, day.now, |start| {
        if start == gap {
            Some(HourShape {
                count: 0,
                failing_every: 0,
            })
        } else if start == spike {
            // Half of a busy hour fails.
            Some(HourShape {
                count: 20,
                failing_every: 2,
            })
        } else {
            None
        }
    });
    let started = Instant::now();
    app.insert(&documents).await;
    println!("imported {} payments in {:?}", documents.len(), started.elapsed());

    let read_before = app.store.past_documents_read();
    let started = Instant::now();
    let points = day.read(&app, "acme").await;
    let first = started.elapsed();
    let read = app.store.past_documents_read() - read_before;
    assert_eq!(points.len(), 24);
    for point in &points {
        let expected = expected_of(point);
        assert_eq!(
            (expected.basis, expected.samples),
            (ExpectedBasis::Seasonal, weeks as u32),
            "{}: the five weeks before, the sixth is before the history",
            point.timestamp
        );
        if point.timestamp == gap || point.timestamp == spike {
            continue;
        }
        assert!(!point.anomaly, "a normal hour: {point:?}");
        assert!(point.anomaly_kinds.is_empty());
        assert!(
            expected.volume.low <= point.amount && point.amount <= expected.volume.high,
            "{point:?}"
        );
    }

    let spiked = points.iter().find(|point| point.timestamp == spike).unwrap();
    assert!(spiked.anomaly);
    assert_eq!(spiked.anomaly_kinds, [AnomalyKind::FailureRateHigh], "{spiked:?}");
    assert_eq!((spiked.count, spiked.success_rate), (20, 50.0));
    assert!(expected_of(spiked).success_rate.low > spiked.success_rate, "{spiked:?}");

    let missing = points.iter().find(|point| point.timestamp == gap).unwrap();
    assert_eq!(missing.count, 0);
    assert!(missing.anomaly);
    assert_eq!(missing.anomaly_kinds, [AnomalyKind::VolumeLow], "{missing:?}");
    assert!(expected_of(missing).volume.low.to_f64() > 0.0);

    // The seasons cost one hour document each, whatever the payments in it:
    // 24 buckets of 5 weeks. Computed again (a write invalidates the answer),
    // they come from memory.
    assert_eq!(read, 24 * weeks as u64, "hour documents read for the seasons");
    let computations = app.state.cache.computations();
    app.create("acme", crate::common::card_payment("invalidates", 1.0))
        .await;
    let started = Instant::now();
    let again = day.read(&app, "acme").await;
    let second = started.elapsed();
    assert_eq!(app.state.cache.computations(), computations + 1, "computed again");
    assert_eq!(app.store.past_documents_read() - read_before, read, "seasons kept");
    assert_eq!(
        again.iter().map(|point| &point.expected).collect::<Vec<_>>(),
        points.iter().map(|point| &point.expected).collect::<Vec<_>>()
    );
    println!("day trend: {first:?} reading {read} season documents, {second:?} with them kept");

    // The dashboard's periods, for the record: documents and time.
    for period in ["day", "week", "month"] {
        let before = app.store.past_documents_read();
        let started = Instant::now();
        app.json("acme", &format!("/api/analytics/trends?period={period}"))
            .await;
        println!(
            "{period} trend: {:?}, {} season documents read",
            started.elapsed(),
            app.store.past_documents_read() - before
        );
    }
}

#[tokio::test]
async fn one_week_of_history_is_not_a_season() {
    let app = app_without_evaluator().await;
    let tz: Tz = "America/New_York".parse().unwrap();
    let day = Day::ending_now(tz);
    let gap = day.starts[day.busy_finished(tz)[0]];
    let documents = payments("globex", tz, day.starts[0] - TimeDelta::weeks(1), day.now, |start| {
        (start == gap).then_some(HourShape {
            count: 0,
            failing_every: 0,
        })
    });
    app.insert(&documents).await;
    let points = day.read(&app, "globex").await;
    // Had the weeks before the history counted as empty ones, every bucket
    // would have six seasons, five of them of nothing.
    assert!(
        points.iter().all(|point| point
            .expected
            .as_ref()
            .is_none_or(|band| band.basis == ExpectedBasis::Rolling)),
        "{points:?}"
    );
    assert!(
        points.iter().any(|point| point.expected.is_some()),
        "the hours before judge: {points:?}"
    );
    assert!(
        points
            .iter()
            .all(|point| !point.anomaly_kinds.contains(&AnomalyKind::VolumeLow)),
        "a rolling band never judges a drop: {points:?}"
    );
}

#[tokio::test]
async fn a_half_hour_zone_finds_its_seasons() {
    let app = app_without_evaluator().await;
    let tz: Tz = "Asia/Kolkata".parse().unwrap();
    let day = Day::ending_now(tz);
    assert_eq!(day.starts[0].minute(), 30, "Kolkata's hours start at :30 UTC");
    let weeks = 3;
    let documents = payments("initech", tz, day.starts[0] - TimeDelta::weeks(weeks), day.now, |_| {
        None
    });
    app.insert(&documents).await;
    let points = day.read(&app, "initech").await;
    for point in &points {
        let expected = expected_of(point);
        assert_eq!(
            (expected.basis, expected.samples),
            (ExpectedBasis::Seasonal, weeks as u32),
            "{point:?}"
        );
        assert!(!point.anomaly, "{point:?}");
        assert!(
            expected.volume.low <= point.amount && point.amount <= expected.volume.high,
            "{point:?}"
        );
    }
    // A busy hour's band holds its usual 19 succeeded payments of 10.00,
    // and an hour without them would be too low.
    let busy = &points[day.busy_finished(tz)[0]];
    assert_eq!(busy.amount.to_f64(), 190.0);
    assert!(expected_of(busy).volume.low.to_f64() > 0.0, "{busy:?}");
}
