//! Ingest over real HTTP: creation, idempotent replays, precise rejections
//! that write nothing, refunds, and a randomized concurrent mix after which
//! the rollups equal a recomputation from the raw payments.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use mongodb::bson::doc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use paypulse_server::clock::Clock;
use paypulse_shared::time::format_utc;

use crate::common::{TestApp, assert_error, card_payment};

async fn count(app: &TestApp, tenant: &str) -> u64 {
    app.store
        .payments()
        .count_documents(doc! { "tenantId": tenant })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_created_payment_is_readable_and_counted_at_once() {
    let app = TestApp::spawn().await;
    let response = app
        .ingest_post("acme", "/api/payments", &card_payment("ord_1", 19.99))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/payments/{}", created["id"].as_str().unwrap()));
    assert_eq!(created["amount"], json!(19.99));
    assert_eq!(created["status"], "succeeded");
    assert_eq!(created["externalId"], "ord_1");
    assert_eq!(created["createdAt"], created["updatedAt"]);

    assert_eq!(app.json("acme", &location).await, created);
    let metrics = app.json("acme", "/api/analytics/metrics").await;
    assert_eq!(
        metrics["totalVolume"],
        json!(19.99),
        "a read right after the write reflects it"
    );
    assert_eq!(metrics["count"], 1);
}

#[tokio::test]
async fn a_replay_returns_the_original_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let body = json!({"externalId": "ord_7", "amount": 5, "currency": "USD", "method": "paypal",
        "status": "failed", "failureReason": "card_declined", "createdAt": "2026-11-20T08:00:00Z"});
    let first = app.ingest_post("acme", "/api/payments", &body).send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = app.ingest_post("acme", "/api/payments", &body).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(count(&app, "acme").await, 1);

    let mut different = body.clone();
    different["amount"] = json!(6);
    let conflict = app
        .ingest_post("acme", "/api/payments", &different)
        .send()
        .await
        .unwrap();
    assert_error(conflict, 409, "idempotency_conflict", "ord_7").await;
    // Another tenant may use the same externalId for its own payment.
    let mut other = body.clone();
    other["method"] = json!("card");
    assert_eq!(
        app.ingest_post("globex", "/api/payments", &other)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    assert!(app.store.drift("acme").await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_requests_say_what_is_wrong_and_write_nothing() {
    let app = TestApp::spawn().await;
    let url = app.url("/api/payments");
    let as_ingest =
        |request: reqwest::RequestBuilder| request.header("X-Tenant-Id", "acme").bearer_auth("pk_demo_acme_ingest");
    let not_json = as_ingest(app.http.post(&url))
        .body("externalId=1")
        .send()
        .await
        .unwrap();
    assert_error(not_json, 415, "unsupported_media_type", "JSON").await;
    let broken = as_ingest(app.http.post(&url))
        .header("Content-Type", "application/json")
        .body("{\"externalId\":");
    assert_error(broken.send().await.unwrap(), 400, "invalid_body", "").await;

    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({"amount": 1, "currency": "USD", "method": "card", "status": "succeeded"}),
            400,
            "invalid_body",
            "externalId",
        ),
        (
            json!({"externalId": "a", "amount": "1", "currency": "USD", "method": "card", "status": "succeeded"}),
            400,
            "invalid_body",
            "amount",
        ),
        (
            json!({"externalId": "a", "amount": 1, "currency": "USD", "method": "card", "status": "succeeded", "fee": 1}),
            400,
            "invalid_body",
            "fee",
        ),
        (card_payment("a", 12.345), 400, "invalid_body", "decimal places"),
        (card_payment("a", 0.0), 400, "invalid_body", "greater than zero"),
        (card_payment("a", -3.0), 400, "invalid_body", "greater than zero"),
        (
            json!({"externalId": "a", "amount": 1, "currency": "USD", "method": "card", "status": "refunded"}),
            400,
            "invalid_body",
            "succeeded or failed",
        ),
        (
            json!({"externalId": "a", "amount": 1, "currency": "EUR", "method": "card", "status": "succeeded"}),
            422,
            "currency_mismatch",
            "USD",
        ),
        (
            json!({"externalId": "a", "amount": 1, "currency": "USD", "method": "cash", "status": "succeeded"}),
            422,
            "unknown_method",
            "cash",
        ),
        (
            json!({"externalId": "a", "amount": 1, "currency": "USD", "method": "upi", "status": "succeeded"}),
            422,
            "method_not_enabled",
            "upi",
        ),
        (
            json!({"externalId": "a", "amount": 1, "currency": "USD", "method": "card", "status": "succeeded",
            "createdAt": "2999-01-01T00:00:00Z"}),
            422,
            "created_at_in_future",
            "future",
        ),
    ];
    for (body, status, code, hint) in cases {
        let response = app.ingest_post("acme", "/api/payments", &body).send().await.unwrap();
        assert_error(response, status, code, hint).await;
    }
    let viewer = app
        .http
        .post(&url)
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_acme_viewer");
    assert_error(
        viewer.json(&card_payment("a", 1.0)).send().await.unwrap(),
        403,
        "insufficient_role",
        "ingest",
    )
    .await;
    let anonymous = app
        .http
        .post(&url)
        .header("X-Tenant-Id", "acme")
        .json(&card_payment("a", 1.0));
    assert_error(anonymous.send().await.unwrap(), 401, "missing_credentials", "Bearer").await;
    let other_tenant = app
        .http
        .post(&url)
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_globex_ingest");
    assert_error(
        other_tenant.json(&card_payment("a", 1.0)).send().await.unwrap(),
        403,
        "tenant_mismatch",
        "acme",
    )
    .await;
    assert_eq!(count(&app, "acme").await, 0, "no rejected request wrote anything");
}

/// `createdAt` may run ahead of the server's clock by 5 minutes (a sender's
/// clock skew), to the millisecond: exactly at the limit is accepted, one
/// millisecond past it is refused with 422 and writes nothing. The server's
/// clock is fixed so the edge can be hit exactly.
#[tokio::test]
async fn created_at_may_be_five_minutes_ahead_and_not_a_millisecond_more() {
    let now = chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap();
    let app = TestApp::spawn_with(|config| config.clock = Clock::Fixed(now)).await;
    let ahead = |external_id: &str, by: chrono::TimeDelta| {
        let mut body = card_payment(external_id, 1.0);
        body["createdAt"] = json!(format_utc(&(now + by)));
        body
    };
    let limit = chrono::TimeDelta::minutes(5);
    let at_limit = app.create("acme", ahead("at_limit", limit)).await;
    assert_eq!(at_limit["createdAt"], json!(format_utc(&(now + limit))));
    let past = app
        .ingest_post(
            "acme",
            "/api/payments",
            &ahead("past_limit", limit + chrono::TimeDelta::milliseconds(1)),
        )
        .send()
        .await
        .unwrap();
    assert_error(past, 422, "created_at_in_future", "future").await;
    assert_eq!(count(&app, "acme").await, 1, "only the payment at the limit");
    // Without `createdAt`, a payment is dated by the same clock.
    let undated = app.create("acme", card_payment("undated", 1.0)).await;
    assert_eq!(undated["createdAt"], json!(format_utc(&now)));
}

#[tokio::test]
async fn a_payment_is_refunded_once_and_only_if_it_succeeded() {
    let app = TestApp::spawn().await;
    let created: Value = app
        .ingest_post("acme", "/api/payments", &card_payment("ord_9", 40.0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let refund = app
        .ingest_post("acme", &format!("/api/payments/{id}/refund"), &json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), 200);
    let refunded: Value = refund.json().await.unwrap();
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(refunded["refundedAt"], refunded["updatedAt"]);
    let again = app
        .ingest_post("acme", &format!("/api/payments/{id}/refund"), &json!({}))
        .send()
        .await
        .unwrap();
    assert_error(again, 409, "already_refunded", id).await;

    let failed = json!({"externalId": "ord_10", "amount": 3, "currency": "USD", "method": "card", "status": "failed"});
    let failed: Value = app
        .ingest_post("acme", "/api/payments", &failed)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let failed_id = failed["id"].as_str().unwrap();
    let refused = app
        .ingest_post("acme", &format!("/api/payments/{failed_id}/refund"), &json!({}))
        .send()
        .await
        .unwrap();
    assert_error(refused, 409, "not_refundable", failed_id).await;
    let foreign = app
        .ingest_post("globex", &format!("/api/payments/{id}/refund"), &json!({}))
        .send()
        .await
        .unwrap();
    assert_error(foreign, 404, "not_found", id).await;

    let metrics = app.json("acme", "/api/analytics/metrics").await;
    assert_eq!(
        metrics["totalVolume"],
        json!(40.0),
        "gross volume keeps refunded payments"
    );
    assert_eq!(metrics["refundedVolume"], json!(40.0));
    assert_eq!(metrics["netVolume"], json!(0.0));
    assert_eq!(metrics["refundedCount"], 1);
    assert!(app.store.drift("acme").await.unwrap().is_empty());
}

/// 5,000 requests from 32 concurrent clients: new payments over the last two
/// days, replays of earlier ones, refunds (some of failed or refunded
/// payments). Afterwards every payment exists once and the rollups equal the
/// raw payments.
#[tokio::test]
async fn a_random_concurrent_mix_is_counted_exactly_once() {
    let app = Arc::new(TestApp::spawn().await);
    let mut rng = StdRng::seed_from_u64(5_000);
    let now = chrono::Utc::now();
    let mut requests = Vec::new();
    let mut created_ids: Vec<String> = Vec::new();
    for index in 0..4_200 {
        let replay = index > 100 && rng.random_bool(0.1);
        let external = if replay {
            format!("mix_{}", rng.random_range(0..index - 50))
        } else {
            format!("mix_{index}")
        };
        let seed_of = |external: &str| {
            external
                .bytes()
                .fold(7u64, |hash, byte| hash.wrapping_mul(31).wrapping_add(u64::from(byte)))
        };
        // Replays carry exactly the original body: the body derives from the id.
        let mut body_rng = StdRng::seed_from_u64(seed_of(&external));
        let failed = body_rng.random_bool(0.08);
        let at = now - chrono::TimeDelta::milliseconds(body_rng.random_range(0..2 * 24 * 3_600_000));
        let method = ["card", "paypal", "apple_pay", "google_pay", "bank_transfer"][body_rng.random_range(0..5)];
        let body = json!({
            "externalId": external,
            "amount": f64::from(body_rng.random_range(1..500_000)) / 100.0,
            "currency": "USD",
            "method": method,
            "status": if failed { "failed" } else { "succeeded" },
            "createdAt": format_utc(&at),
        });
        requests.push(("create", body));
        if index % 5 == 4 {
            requests.push(("refund", json!(rng.random_range(0..index))));
        }
    }
    assert!(requests.len() >= 5_000);

    // Creates first in concurrent waves, then refunds of what was created.
    let creates: Vec<Value> = requests
        .iter()
        .filter(|(kind, _)| *kind == "create")
        .map(|(_, body)| body.clone())
        .collect();
    let outcomes: Vec<(u16, Value)> = futures::stream::iter(creates.into_iter().map(|body| {
        let app = Arc::clone(&app);
        async move {
            let response = app.ingest_post("acme", "/api/payments", &body).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    }))
    .buffer_unordered(32)
    .collect()
    .await;
    let mut by_external: HashMap<String, String> = HashMap::new();
    for (status, body) in &outcomes {
        assert!(matches!(status, 200 | 201), "{status} {body}");
        let external = body["externalId"].as_str().unwrap().to_owned();
        let id = body["id"].as_str().unwrap().to_owned();
        if let Some(known) = by_external.insert(external.clone(), id.clone()) {
            assert_eq!(known, id, "a replay of {external} returned another payment");
        } else {
            created_ids.push(id);
        }
    }
    let refunds: Vec<String> = requests
        .iter()
        .filter(|(kind, _)| *kind == "refund")
        .map(|(_, pick)| created_ids[pick.as_u64().unwrap() as usize % created_ids.len()].clone())
        .collect();
    let refund_statuses: Vec<u16> = futures::stream::iter(refunds.into_iter().map(|id| {
        let app = Arc::clone(&app);
        async move {
            app.ingest_post("acme", &format!("/api/payments/{id}/refund"), &json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    }))
    .buffer_unordered(32)
    .collect()
    .await;
    assert!(
        refund_statuses.iter().all(|status| matches!(status, 200 | 409)),
        "{refund_statuses:?}"
    );
    assert!(refund_statuses.contains(&200) && refund_statuses.contains(&409));

    assert_eq!(
        count(&app, "acme").await as usize,
        by_external.len(),
        "each externalId exactly once"
    );
    let drift = app.store.drift("acme").await.unwrap();
    assert!(drift.is_empty(), "rollups differ from raw payments: {drift:?}");
    let refunded = app
        .store
        .payments()
        .count_documents(doc! { "tenantId": "acme", "status": "refunded" })
        .await
        .unwrap();
    assert_eq!(
        refunded as usize,
        refund_statuses.iter().filter(|status| **status == 200).count()
    );
}

/// The live API takes payments dated up to 35 days back (a card network's
/// longest settlement cycle with a margin): older is refused with what to
/// do instead, and counts nowhere. A payment dated 1970-01-01 used to be
/// accepted and counted.
#[tokio::test]
async fn created_at_may_be_35_days_old_and_not_a_millisecond_more() {
    let now = chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap();
    let app = TestApp::spawn_with(|config| config.clock = Clock::Fixed(now)).await;
    let dated = |external_id: &str, at: chrono::DateTime<chrono::Utc>| {
        let mut body = card_payment(external_id, 1.0);
        body["createdAt"] = json!(format_utc(&at));
        body
    };
    let limit = chrono::TimeDelta::days(35);
    let oldest = app.create("acme", dated("oldest", now - limit)).await;
    assert_eq!(oldest["createdAt"], json!(format_utc(&(now - limit))));
    let epoch = chrono::DateTime::from_timestamp_millis(0).unwrap();
    for (external_id, at) in [
        ("older", now - limit - chrono::TimeDelta::milliseconds(1)),
        ("epoch", epoch),
    ] {
        let refused = app
            .ingest_post("acme", "/api/payments", &dated(external_id, at))
            .send()
            .await
            .unwrap();
        assert_error(refused, 422, "created_at_too_old", "35 days").await;
    }
    assert_eq!(count(&app, "acme").await, 1, "only the payment at the limit");
}
