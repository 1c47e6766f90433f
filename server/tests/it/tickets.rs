//! Tickets (SPEC §3 `POST /api/tickets`): a single-use credential of the
//! caller's tenant and role, good for a minute, accepted by the live socket
//! and the exports in place of a key in the URL, on any instance.

use std::time::Duration;

use serde_json::Value;

use crate::common::{TestApp, assert_error, card_payment, next_json, open_socket};

async fn ticket(app: &TestApp, tenant: &str, key: &str) -> Value {
    let response = app
        .http
        .post(app.url("/api/tickets"))
        .header("X-Tenant-Id", tenant)
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn ws_url(app: &TestApp, query: &str) -> String {
    app.url(&format!("/ws/payments?{query}"))
        .replacen("http://", "ws://", 1)
}

async fn ws_refusal(app: &TestApp, query: &str) -> reqwest::Response {
    // A plain GET carries the same credentials check the upgrade does.
    app.http
        .get(app.url(&format!("/ws/payments?{query}")))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_ticket_opens_the_live_feed_once() {
    let app = TestApp::spawn().await;
    let issued = ticket(&app, "acme", "pk_demo_acme_viewer").await;
    let token = issued["ticket"].as_str().unwrap();
    let expires: chrono::DateTime<chrono::Utc> = issued["expiresAt"].as_str().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::seconds(50) && left <= chrono::TimeDelta::seconds(60),
        "{left}"
    );
    let mut socket = open_socket(&ws_url(&app, &format!("ticket={token}&control=true"))).await;
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    app.create("acme", card_payment("by_ticket", 2.5)).await;
    let event = next_json(&mut socket).await;
    assert_eq!(event["payment"]["externalId"], "by_ticket");
    let reused = ws_refusal(&app, &format!("ticket={token}")).await;
    assert_error(reused, 401, "invalid_credentials", "one use").await;
}

#[tokio::test]
async fn tickets_are_refused_when_expired_forged_foreign_or_of_the_wrong_role() {
    let app = TestApp::spawn_with(|config| config.limits.ticket_ttl = Duration::from_millis(200)).await;
    let expired = ticket(&app, "acme", "pk_demo_acme_viewer").await;
    let expired_at = expired["expiresAt"].as_str().unwrap().to_owned();
    let expired = expired["ticket"].as_str().unwrap().to_owned();
    let forged = ws_refusal(&app, "ticket=tk_not_one_of_ours").await;
    assert_error(forged, 401, "invalid_credentials", "ticket").await;

    let acme = ticket(&app, "acme", "pk_demo_acme_viewer").await;
    let acme = acme["ticket"].as_str().unwrap();
    let foreign = ws_refusal(&app, &format!("ticket={acme}&tenant=globex")).await;
    assert_error(foreign, 403, "tenant_mismatch", "globex").await;
    let foreign_export = app
        .http
        .get(app.url(&format!("/api/payments/export.csv?ticket={acme}")))
        .header("X-Tenant-Id", "globex")
        .send()
        .await
        .unwrap();
    // The first refusal used the ticket up: it is single-use even then.
    assert_error(foreign_export, 401, "invalid_credentials", "ticket").await;

    let ingest = ticket(&app, "acme", "pk_demo_acme_ingest").await;
    let ingest = ingest["ticket"].as_str().unwrap();
    let wrong_role = ws_refusal(&app, &format!("ticket={ingest}")).await;
    assert_error(wrong_role, 403, "insufficient_role", "viewer").await;

    // Elsewhere a ticket is not a credential at all.
    let viewer = ticket(&app, "acme", "pk_demo_acme_viewer").await;
    let viewer = viewer["ticket"].as_str().unwrap();
    let metrics = app
        .http
        .get(app.url(&format!("/api/analytics/metrics?ticket={viewer}")))
        .header("X-Tenant-Id", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 401, "no key, and a ticket is no key");

    // Expiry is about time, so time has to pass: wait until the ticket's
    // own `expiresAt` (the server's clock, this machine's) is behind us.
    let deadline: chrono::DateTime<chrono::Utc> = expired_at.parse().unwrap();
    let wait = (deadline - chrono::Utc::now() + chrono::TimeDelta::milliseconds(20))
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
    let late = ws_refusal(&app, &format!("ticket={expired}")).await;
    assert_error(late, 401, "invalid_credentials", "expire").await;
}

#[tokio::test]
async fn a_ticket_downloads_an_export_and_works_on_another_instance() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_sharing(&first).await;
    first.create("acme", card_payment("exported", 4.2)).await;
    let issued = ticket(&first, "acme", "pk_demo_acme_viewer").await;
    let token = issued["ticket"].as_str().unwrap();
    // No header at all: the ticket names tenant and role.
    let response = second
        .http
        .get(second.url(&format!("/api/payments/export.csv?ticket={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(text.contains(",exported,"), "{text}");
    let again = first
        .http
        .get(first.url(&format!("/api/payments/export.csv?ticket={token}")))
        .send()
        .await
        .unwrap();
    assert_error(again, 401, "invalid_credentials", "one use").await;
}
