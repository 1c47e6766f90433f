//! Responses match SPEC §3 field for field: names, types, formats, sizes.
//! Each is read twice, as an outside client would (the raw JSON's keys and
//! values) and as our own clients do (into `paypulse_shared`'s wire types,
//! which must give back exactly the same JSON).

use chrono::{DurationRound, TimeDelta, Utc};
use paypulse_shared::Amount;
use paypulse_shared::payment::{Payment, PaymentStatus};
use paypulse_shared::wire::{PaymentMetrics, PaymentsPage, TrendData};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::common::{TestApp, payment};

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// `value` read into the product's wire type `T`, which must write it back
/// unchanged: no field of the response is unknown to our clients, and none
/// is read differently from what was sent.
fn typed<T: DeserializeOwned + Serialize>(value: &Value) -> T {
    let parsed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|error| panic!("{value} is not a {}: {error}", std::any::type_name::<T>()));
    assert_eq!(
        &serde_json::to_value(&parsed).unwrap(),
        value,
        "{} writes back what the server sent",
        std::any::type_name::<T>()
    );
    parsed
}

fn is_utc_timestamp(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| text.ends_with('Z') && paypulse_shared::time::parse_utc(text).is_ok())
}

#[tokio::test]
async fn metrics_have_every_contract_field() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    app.insert(&[
        payment(
            "acme",
            now - TimeDelta::minutes(30),
            10,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment(
            "acme",
            now - TimeDelta::minutes(20),
            20,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment(
            "acme",
            now - TimeDelta::minutes(10),
            999,
            "paypal",
            PaymentStatus::Failed,
        ),
    ])
    .await;
    let metrics = app.json("acme", "/api/analytics/metrics").await;
    assert_eq!(
        keys(&metrics),
        [
            "activeMethods",
            "averageAmount",
            "count",
            "currency",
            "failedCount",
            "from",
            "hourlyCounts",
            "methods",
            "netVolume",
            "peakHour",
            "refundedCount",
            "refundedVolume",
            "succeededCount",
            "successRate",
            "timezone",
            "to",
            "topPaymentMethod",
            "totalVolume"
        ]
    );
    assert_eq!(
        metrics["totalVolume"],
        serde_json::json!(0.3),
        "0.10 + 0.20 is exactly 0.3"
    );
    assert_eq!(metrics["averageAmount"], serde_json::json!(0.15));
    assert!((metrics["successRate"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(metrics["topPaymentMethod"], "card");
    assert_eq!(metrics["activeMethods"], 2);
    assert!(metrics["peakHour"].as_u64().is_some_and(|hour| hour < 24));
    assert_eq!(metrics["hourlyCounts"].as_array().unwrap().len(), 24);
    assert!(is_utc_timestamp(&metrics["from"]) && is_utc_timestamp(&metrics["to"]));
    let read: PaymentMetrics = typed(&metrics);
    assert_eq!(read.total_volume, Amount::from_minor(30, 2));
    assert_eq!(read.average_amount, Amount::from_minor(15, 2));
    assert_eq!(read.net_volume, Amount::from_minor(30, 2));
    assert_eq!(read.refunded_volume, Amount::from_minor(0, 2));
    assert_eq!(
        (read.count, read.succeeded_count, read.failed_count, read.refunded_count),
        (3, 2, 1, 0)
    );
    assert_eq!(
        (read.active_methods, read.top_payment_method.as_deref()),
        (2, Some("card"))
    );
    assert_eq!(read.hourly_counts.iter().sum::<u64>(), 3);
    assert_eq!((read.currency.as_str(), read.timezone.as_str()), ("USD", "UTC"));
    assert_eq!(read.to - read.from, TimeDelta::hours(24));

    let empty = app.json("globex", "/api/analytics/metrics").await;
    assert_eq!(keys(&empty), keys(&metrics), "no field is left out when empty");
    assert_eq!(empty["peakHour"], Value::Null);
    assert_eq!(empty["topPaymentMethod"], Value::Null);
    assert_eq!(empty["successRate"], serde_json::json!(0.0));
    assert_eq!(empty["totalVolume"], serde_json::json!(0.0));
    let read: PaymentMetrics = typed(&empty);
    assert_eq!((read.peak_hour, read.top_payment_method), (None, None));
    assert_eq!((read.count, read.active_methods), (0, 0));
    assert_eq!(read.timezone, "America/New_York");
}

/// The keys every trend point has.
const TREND_POINT_KEYS: [&str; 5] = ["amount", "anomaly", "count", "successRate", "timestamp"];

/// Checks one trend point's keys and the shape of its optional `expected`
/// (the band, SPEC §3) and `anomalyKinds`; says which of the two it has.
fn check_trend_point(point: &Value) -> (bool, bool) {
    let present = keys(point);
    let optional: Vec<&str> = present
        .iter()
        .copied()
        .filter(|key| !TREND_POINT_KEYS.contains(key))
        .collect();
    assert!(
        TREND_POINT_KEYS.iter().all(|key| present.contains(key)),
        "every point has {TREND_POINT_KEYS:?}: {point}"
    );
    assert!(
        optional.iter().all(|key| ["anomalyKinds", "expected"].contains(key)),
        "no other key: {point}"
    );
    assert!(is_utc_timestamp(&point["timestamp"]));
    let kinds = point.get("anomalyKinds");
    if let Some(kinds) = kinds {
        let kinds = kinds.as_array().expect("anomalyKinds is an array");
        assert!(!kinds.is_empty(), "left out when empty: {point}");
        assert!(
            kinds
                .iter()
                .all(|kind| ["volume_low", "volume_high", "failure_rate_high"].contains(&kind.as_str().unwrap_or(""))),
            "{point}"
        );
    }
    assert_eq!(point["anomaly"].as_bool(), Some(kinds.is_some()), "{point}");
    let expected = point.get("expected");
    if let Some(expected) = expected {
        assert_eq!(keys(expected), ["basis", "samples", "successRate", "volume"], "{point}");
        for bounds in [&expected["volume"], &expected["successRate"]] {
            assert_eq!(keys(bounds), ["high", "low"], "{point}");
            let (low, high) = (bounds["low"].as_f64().unwrap(), bounds["high"].as_f64().unwrap());
            assert!(0.0 <= low && low <= high, "{point}");
        }
        assert!(expected["successRate"]["high"].as_f64().unwrap() <= 100.0, "{point}");
        assert!(
            ["seasonal", "rolling"].contains(&expected["basis"].as_str().unwrap_or("")),
            "{point}"
        );
        assert!(
            expected["samples"].as_u64().is_some_and(|samples| samples > 0),
            "{point}"
        );
    }
    (expected.is_some(), kinds.is_some())
}

#[tokio::test]
async fn trends_have_the_contract_shape_and_sizes() {
    let app = TestApp::spawn().await;
    for (period, points, step_hours) in [("day", 24, 1), ("week", 28, 6), ("month", 30, 24)] {
        for tenant in ["acme", "initech"] {
            let trend = app
                .json(tenant, &format!("/api/analytics/trends?period={period}"))
                .await;
            let trend = trend.as_array().expect("an array");
            assert_eq!(trend.len(), points, "{period} for {tenant}");
            for point in trend {
                assert_eq!(
                    check_trend_point(point),
                    (false, false),
                    "nothing to judge without payments"
                );
                assert_eq!(point["count"], 0, "zero-filled");
            }
            let read: Vec<TrendData> = trend.iter().map(typed).collect();
            // These zones have no DST: every bucket is as long as the period says.
            assert!(
                read.windows(2)
                    .all(|pair| pair[1].timestamp - pair[0].timestamp == TimeDelta::hours(step_hours)),
                "{period} for {tenant}"
            );
        }
    }
    let default = app.json("acme", "/api/analytics/trends").await;
    assert_eq!(default.as_array().unwrap().len(), 24, "period defaults to day");

    // With payments, points carry their band and, when flagged, why: twelve
    // payments an hour (one failing), and an hour in which ten fail.
    let current = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap();
    let mut documents = Vec::new();
    for hours_back in 1..24 {
        let start = current - TimeDelta::hours(hours_back);
        let failing = if hours_back == 3 { 10 } else { 1 };
        for index in 0..12 {
            let status = if index < failing {
                PaymentStatus::Failed
            } else {
                PaymentStatus::Succeeded
            };
            documents.push(payment(
                "acme",
                start + TimeDelta::minutes(5 * index),
                1_000,
                "card",
                status,
            ));
        }
    }
    app.insert(&documents).await;
    // An import bypasses the writer, which is what invalidates answers.
    app.state.cache.invalidate("acme").await;
    let trend = app.json("acme", "/api/analytics/trends?period=day").await;
    let trend = trend.as_array().expect("an array");
    let shapes: Vec<(bool, bool)> = trend.iter().map(check_trend_point).collect();
    assert!(shapes.iter().any(|(expected, _)| *expected), "some points have a band");
    assert!(shapes.iter().any(|(_, kinds)| *kinds), "the failing hour is flagged");
    let _: Vec<TrendData> = trend.iter().map(typed).collect();
}

#[tokio::test]
async fn payments_page_newest_first_with_filters_and_a_cursor() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let mut documents = Vec::new();
    for index in 0..23 {
        let status = if index % 5 == 0 {
            PaymentStatus::Failed
        } else {
            PaymentStatus::Succeeded
        };
        let method = if index % 2 == 0 { "card" } else { "paypal" };
        documents.push(payment(
            "acme",
            now - TimeDelta::minutes(index),
            100 * (index + 1),
            method,
            status,
        ));
    }
    // Two payments at the same millisecond must both appear, once each.
    let mut twin = payment(
        "acme",
        now - TimeDelta::minutes(3),
        777,
        "card",
        PaymentStatus::Succeeded,
    );
    twin.created_at = documents[3].created_at;
    documents.push(twin);
    app.insert(&documents).await;

    let mut seen = Vec::new();
    let mut path = "/api/payments?limit=5".to_owned();
    loop {
        let page = app.json("acme", &path).await;
        assert_eq!(keys(&page), ["items", "nextCursor"]);
        let read: PaymentsPage = typed(&page);
        assert_eq!(read.next_cursor.as_deref(), page["nextCursor"].as_str());
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        seen.extend(items.iter().cloned());
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/payments?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), documents.len());
    let mut ids: Vec<&str> = seen.iter().map(|item| item["id"].as_str().unwrap()).collect();
    let created: Vec<&str> = seen.iter().map(|item| item["createdAt"].as_str().unwrap()).collect();
    assert!(
        created.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first: {created:?}"
    );
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), documents.len(), "no payment twice");

    let first = seen
        .iter()
        .find(|item| item["status"] == "succeeded")
        .expect("a succeeded payment");
    assert_eq!(
        keys(first),
        [
            "amount",
            "createdAt",
            "currency",
            "externalId",
            "id",
            "method",
            "status",
            "tenantId",
            "updatedAt"
        ]
    );
    let one = app
        .json("acme", &format!("/api/payments/{}", first["id"].as_str().unwrap()))
        .await;
    assert_eq!(&one, first);
    let read: Payment = typed(&one);
    assert_eq!(
        (read.tenant_id.as_str(), read.status),
        ("acme", PaymentStatus::Succeeded)
    );
    assert!(read.failure_reason.is_none() && read.refunded_at.is_none());
    assert_eq!(read.created_at, read.updated_at);
    let failed_one = seen
        .iter()
        .find(|item| item["status"] == "failed")
        .expect("a failed payment");
    assert_eq!(
        failed_one["failureReason"], "card_declined",
        "failed payments carry their reason"
    );
    let read: Payment = typed(failed_one);
    assert_eq!(read.status, PaymentStatus::Failed);
    assert_eq!(read.failure_reason.as_deref(), Some("card_declined"));

    let failed = app.json("acme", "/api/payments?status=failed&limit=100").await;
    let failed = failed["items"].as_array().unwrap();
    assert_eq!(failed.len(), 5);
    assert!(
        failed
            .iter()
            .all(|item| item["status"] == "failed" && item["failureReason"] == "card_declined")
    );
    let paypal_over_10 = app
        .json("acme", "/api/payments?method=paypal&minAmount=10.00&limit=100")
        .await;
    let amounts: Vec<f64> = paypal_over_10["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["amount"].as_f64().unwrap())
        .collect();
    assert_eq!(
        amounts,
        [10.0, 12.0, 14.0, 16.0, 18.0, 20.0, 22.0],
        "minAmount is inclusive, newest first"
    );
    let from = paypulse_shared::time::format_utc(&(now - TimeDelta::seconds(150)));
    let recent = app.json("acme", &format!("/api/payments?from={from}")).await;
    assert_eq!(recent["items"].as_array().unwrap().len(), 3);
}
