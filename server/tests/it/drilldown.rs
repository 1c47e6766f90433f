//! The payment list of a drill-down (SPEC §3 `GET /api/payments`): every
//! filter and every order, paged with the cursor, gives exactly the payments
//! an independent filter over the documents gives, in that order, each once.

use chrono::{DurationRound, TimeDelta, Timelike, Utc};
use paypulse_server::store::documents::{PaymentDoc, to_chrono};
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::time::format_utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::common::{TestApp, assert_error, payment};

/// 300 payments over two days with repeated amounts and timestamps, so ties
/// are broken by id across page boundaries.
fn dataset() -> Vec<PaymentDoc> {
    let mut rng = StdRng::seed_from_u64(7);
    let now = Utc::now();
    let methods = ["card", "paypal", "bank_transfer"];
    (0..300)
        .map(|index| {
            let at = now - TimeDelta::minutes(rng.random_range(1..2 * 24 * 60));
            let status = match index % 7 {
                0 => PaymentStatus::Failed,
                1 => PaymentStatus::Refunded,
                _ => PaymentStatus::Succeeded,
            };
            // Ten amounts only, and every fifth payment at the same instant
            // as the one before it.
            let amount = [10, 20, 30, 110, 1_000, 1_050, 2_000, 9_999, 10_000, 50_000][index % 10];
            let mut document = payment("acme", at, amount, methods[index % 3], status);
            document.external_id = format!("ord_{index:03}");
            document
        })
        .collect()
}

/// Every page of `query`, following `nextCursor`.
async fn all_pages(app: &TestApp, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut path = format!("/api/payments?limit=17&{query}");
    loop {
        let page = app.json("acme", &path).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/payments?limit=17&{query}&cursor={cursor}"),
            None => return items,
        }
    }
}

#[tokio::test]
async fn every_filter_and_order_pages_through_exactly_the_slice() {
    let app = TestApp::spawn().await;
    let now = Utc::now().duration_trunc(TimeDelta::milliseconds(1)).unwrap();
    let from = now - TimeDelta::hours(30);
    let to = now - TimeDelta::hours(6);
    let mut documents = dataset();
    // Payments on both bounds: `from` is in the range, `to` is not.
    for at in [from, to] {
        documents.push(payment("acme", at, 1_000, "card", PaymentStatus::Succeeded));
    }
    app.insert(&documents).await;
    let stored = app.stored_payments("acme").await;
    type Pick = Box<dyn Fn(&PaymentDoc) -> bool>;
    let in_window = move |document: &PaymentDoc| {
        let at = to_chrono(document.created_at);
        at >= from && at < to
    };
    let cases: Vec<(String, Pick)> = vec![
        (String::new(), Box::new(|_| true)),
        (
            "status=failed".into(),
            Box::new(|document| document.status == PaymentStatus::Failed),
        ),
        (
            "status=failed,refunded&method=paypal".into(),
            Box::new(|document| document.status != PaymentStatus::Succeeded && document.method == "paypal"),
        ),
        (
            "minAmount=0.20&maxAmount=10.50".into(),
            Box::new(|document| (20..=1_050).contains(&document.amount_minor)),
        ),
        (
            "q=ord_1".into(),
            Box::new(|document| document.external_id.starts_with("ord_1")),
        ),
        (
            format!("from={}&to={}&method=card", format_utc(&from), format_utc(&to)),
            Box::new(move |document| in_window(document) && document.method == "card"),
        ),
        // An hour of the day on every day of the range (acme's zone is UTC).
        (
            format!("from={}&to={}&hour=10", format_utc(&from), format_utc(&to)),
            Box::new(move |document| in_window(document) && to_chrono(document.created_at).hour() == 10),
        ),
    ];
    for sort in ["-createdAt", "createdAt", "-amount", "amount"] {
        for (filter, pick) in &cases {
            let query = format!("sort={sort}&{filter}");
            let served = all_pages(&app, &query).await;
            let mut expected: Vec<&PaymentDoc> = stored.iter().filter(|document| pick(document)).collect();
            let key = |document: &PaymentDoc| {
                let value = if sort.ends_with("amount") {
                    document.amount_minor
                } else {
                    document.created_at.timestamp_millis()
                };
                (value, document.id)
            };
            expected.sort_by_key(|document| key(document));
            if sort.starts_with('-') {
                expected.reverse();
            }
            let served_ids: Vec<&str> = served.iter().map(|item| item["id"].as_str().unwrap()).collect();
            let expected_ids: Vec<String> = expected.iter().map(|document| document.id.to_hex()).collect();
            assert!(!expected_ids.is_empty(), "{query}: the case selects something");

            assert_eq!(served_ids, expected_ids, "{query}");
        }
    }
}

#[tokio::test]
async fn a_cursor_belongs_to_its_order_and_bad_filters_say_why() {
    let app = TestApp::spawn().await;
    app.insert(&dataset()).await;
    let page = app.json("acme", "/api/payments?limit=5&sort=-amount").await;
    let cursor = page["nextCursor"].as_str().unwrap();
    let response = app
        .viewer_get("acme", &format!("/api/payments?sort=amount&cursor={cursor}"))
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_parameter", "sorted by").await;
    for (query, hint) in [
        ("sort=size", "sort"),
        ("minAmount=5&maxAmount=4", "maxAmount"),
        ("maxAmount=1.001", "decimal places"),
        ("from=now-1x", "from"),
        ("ticket=tk_x", "ticket"),
        ("hour=7", "hour"),
        ("from=now-1d&to=now&hour=24", "hour"),
    ] {
        let response = app
            .viewer_get("acme", &format!("/api/payments?{query}"))
            .send()
            .await
            .unwrap();
        assert_error(response, 400, "invalid_parameter", hint).await;
    }
}
