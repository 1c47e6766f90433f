//! Tenancy and access on every endpoint: 401 without or with a bad key, 403
//! for another tenant's key or the wrong role, and no way to see another
//! tenant's data.

use chrono::{TimeDelta, Utc};
use paypulse_shared::payment::PaymentStatus;

use crate::common::{TestApp, assert_error, payment};

/// Every read endpoint, with a payment id of `acme` filled in.
fn endpoints(acme_payment: &str) -> Vec<String> {
    vec![
        "/api/analytics/metrics".into(),
        "/api/analytics/trends?period=week".into(),
        "/api/payments".into(),
        format!("/api/payments/{acme_payment}"),
        "/api/alerts/rules".into(),
        "/api/alerts".into(),
    ]
}

async fn app_with_a_payment() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let document = payment(
        "acme",
        Utc::now() - TimeDelta::hours(1),
        1250,
        "card",
        PaymentStatus::Succeeded,
    );
    let id = document.id.to_hex();
    app.insert(&[document]).await;
    (app, id)
}

#[tokio::test]
async fn missing_or_malformed_credentials_are_401() {
    let (app, id) = app_with_a_payment().await;
    for path in endpoints(&id) {
        let bare = app
            .http
            .get(app.url(&path))
            .header("X-Tenant-Id", "acme")
            .send()
            .await
            .unwrap();
        assert_error(bare, 401, "missing_credentials", "Bearer").await;
        let basic = app
            .http
            .get(app.url(&path))
            .header("X-Tenant-Id", "acme")
            .basic_auth("acme", Some("x"));
        assert_error(basic.send().await.unwrap(), 401, "missing_credentials", "Bearer").await;
        let wrong = app
            .get_as("acme", "pk_demo_acme_viewer_nope", &path)
            .send()
            .await
            .unwrap();
        assert_error(wrong, 401, "invalid_credentials", "not valid").await;
    }
}

#[tokio::test]
async fn another_tenants_key_is_403_on_every_endpoint() {
    let (app, id) = app_with_a_payment().await;
    for path in endpoints(&id) {
        let response = app.get_as("acme", "pk_demo_globex_viewer", &path).send().await.unwrap();
        assert_error(response, 403, "tenant_mismatch", "acme").await;
        let unknown_tenant = app
            .get_as("nobody", "pk_demo_globex_viewer", &path)
            .send()
            .await
            .unwrap();
        assert_error(unknown_tenant, 403, "tenant_mismatch", "nobody").await;
    }
}

#[tokio::test]
async fn ingest_keys_cannot_read() {
    let (app, id) = app_with_a_payment().await;
    for path in endpoints(&id) {
        let response = app.get_as("acme", "pk_demo_acme_ingest", &path).send().await.unwrap();
        assert_error(response, 403, "insufficient_role", "viewer").await;
    }
}

/// An admin key has a viewer's rights too (SPEC §4).
#[tokio::test]
async fn admin_keys_read_what_viewers_read() {
    let (app, id) = app_with_a_payment().await;
    for path in endpoints(&id) {
        let response = app.get_as("acme", "pk_demo_acme_admin", &path).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let socket = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws/payments?tenant=acme&key=pk_demo_acme_admin",
        app.address
    ))
    .await;
    assert!(socket.is_ok(), "an admin watches the live feed");
}

#[tokio::test]
async fn a_request_must_name_its_tenant() {
    let (app, _) = app_with_a_payment().await;
    let response = app
        .http
        .get(app.url("/api/analytics/metrics"))
        .bearer_auth("pk_demo_acme_viewer")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_parameter", "X-Tenant-Id").await;
}

#[tokio::test]
async fn the_subdomain_names_the_tenant() {
    let (app, id) = app_with_a_payment().await;
    let request = |host: &str, key: &str| {
        app.http
            .get(app.url(&format!("/api/payments/{id}")))
            .header("Host", host)
            .bearer_auth(key.to_owned())
            .send()
    };
    let own = request("acme.paypulse.local", "pk_demo_acme_viewer").await.unwrap();
    assert_eq!(own.status(), 200);
    let body: serde_json::Value = own.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    let other = request("globex.paypulse.local:8080", "pk_demo_acme_viewer")
        .await
        .unwrap();
    assert_error(other, 403, "tenant_mismatch", "globex").await;
}

#[tokio::test]
async fn no_tenant_sees_another_tenants_payments() {
    let (app, acme_id) = app_with_a_payment().await;
    let globex_payment = payment(
        "globex",
        Utc::now() - TimeDelta::hours(2),
        9900,
        "paypal",
        PaymentStatus::Succeeded,
    );
    let globex_id = globex_payment.id.to_hex();
    app.insert(&[globex_payment]).await;

    let acme_list = app.json("acme", "/api/payments").await;
    let ids: Vec<&str> = acme_list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [acme_id.as_str()]);
    let response = app
        .viewer_get("acme", &format!("/api/payments/{globex_id}"))
        .send()
        .await
        .unwrap();
    assert_error(response, 404, "not_found", &globex_id).await;

    let acme_metrics = app.json("acme", "/api/analytics/metrics").await;
    assert_eq!(acme_metrics["totalVolume"], serde_json::json!(12.5));
    let globex_metrics = app.json("globex", "/api/analytics/metrics").await;
    assert_eq!(globex_metrics["totalVolume"], serde_json::json!(99.0));
    let globex_trend = app.json("globex", "/api/analytics/trends?period=day").await;
    let counted: u64 = globex_trend
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["count"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, 1);
}

/// Each key may make so many requests a second on an instance: past its
/// burst it is answered 429 with `Retry-After`, in words naming the key (its
/// id, never the key); another key is not affected, and after the wait the
/// key works again.
#[tokio::test]
async fn a_key_over_its_rate_is_told_to_wait_and_other_keys_are_not() {
    use paypulse_server::access::rate::Rate;
    let app = TestApp::spawn_with(|config| config.limits.rates.reads = Rate::of(1, 3)).await;
    let metrics = |key: &'static str| app.get_as("acme", key, "/api/analytics/metrics").send();
    for _ in 0..3 {
        assert_eq!(metrics("pk_demo_acme_viewer").await.unwrap().status(), 200);
    }
    let refused = metrics("pk_demo_acme_viewer").await.unwrap();
    assert_eq!(
        refused
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap()),
        Some("1")
    );
    let body = refused.text().await.unwrap();
    assert!(!body.contains("pk_demo"), "the key itself is never echoed: {body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
    assert!(body["message"].as_str().unwrap().contains("key_"), "{body}");
    assert_eq!(
        metrics("pk_demo_acme_admin").await.unwrap().status(),
        200,
        "another key"
    );
    crate::common::eventually(
        "the key is back within its rate",
        std::time::Duration::from_secs(5),
        || async { metrics("pk_demo_acme_viewer").await.unwrap().status() == 200 },
    )
    .await;
}
