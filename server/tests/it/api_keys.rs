//! `/api/keys` (SPEC §4) as an admin's client uses it: a key shown once
//! that works at once, lists that never show a secret, revocation that
//! takes effect on every instance at once, the last admin key kept, the
//! per-tenant limit, and every refusal in its words. Other roles and other
//! tenants get nothing.

use serde_json::{Value, json};

use crate::common::{TestApp, assert_error};

const ADMIN: &str = "pk_demo_acme_admin";

fn keys_request(app: &TestApp, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
    app.http
        .request(method, app.url(path))
        .header("X-Tenant-Id", "acme")
        .bearer_auth(key)
}

async fn create(app: &TestApp, label: &str, role: &str) -> reqwest::Response {
    keys_request(app, reqwest::Method::POST, "/api/keys", ADMIN)
        .json(&json!({ "label": label, "role": role }))
        .send()
        .await
        .unwrap()
}

async fn list(app: &TestApp, key: &str) -> reqwest::Response {
    keys_request(app, reqwest::Method::GET, "/api/keys", key)
        .send()
        .await
        .unwrap()
}

async fn revoke(app: &TestApp, tenant: &str, id: &str, key: &str) -> reqwest::Response {
    app.http
        .delete(app.url(&format!("/api/keys/{id}")))
        .header("X-Tenant-Id", tenant)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn metrics_status(app: &TestApp, key: &str) -> u16 {
    app.get_as("acme", key, "/api/analytics/metrics")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_created_key_is_shown_once_works_at_once_and_revoked_works_nowhere() {
    let app = TestApp::spawn().await;
    let other = TestApp::spawn_sharing(&app).await;
    let created = create(&app, "  Finance dashboard  ", "viewer").await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = created.json().await.unwrap();
    let (id, key) = (created["id"].as_str().unwrap(), created["key"].as_str().unwrap());
    assert_eq!(location, format!("/api/keys/{id}"));
    assert_eq!(created["label"], "Finance dashboard");
    assert_eq!(created["role"], "viewer");
    assert!(key.starts_with("pk_live_acme_"), "{key}");
    assert_eq!(metrics_status(&app, key).await, 200, "works at once");
    assert_eq!(metrics_status(&other, key).await, 200, "on every instance");

    let listed = list(&app, ADMIN).await;
    assert_eq!(listed.status(), 200);
    let text = listed.text().await.unwrap();
    assert!(!text.contains(key), "a list never shows a secret: {text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    let entry = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id)
        .expect("the new key is listed");
    let mut fields: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["createdAt", "id", "label", "role"]);

    // Another tenant's admin cannot see or touch it.
    assert_error(
        revoke(&app, "globex", id, "pk_demo_globex_admin").await,
        404,
        "not_found",
        id,
    )
    .await;
    assert_eq!(metrics_status(&app, key).await, 200);

    assert_eq!(revoke(&app, "acme", id, ADMIN).await.status(), 204);
    for instance in [&app, &other] {
        assert_eq!(metrics_status(instance, key).await, 401, "revoked everywhere at once");
    }
    assert_error(revoke(&app, "acme", id, ADMIN).await, 404, "not_found", id).await;
    let listed: Value = list(&app, ADMIN).await.json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().iter().all(|item| item["id"] != id));
}

#[tokio::test]
async fn only_admins_manage_keys() {
    let app = TestApp::spawn().await;
    for key in ["pk_demo_acme_viewer", "pk_demo_acme_ingest"] {
        assert_error(list(&app, key).await, 403, "insufficient_role", "admin").await;
        let created = keys_request(&app, reqwest::Method::POST, "/api/keys", key)
            .json(&json!({ "label": "x", "role": "admin" }))
            .send()
            .await
            .unwrap();
        assert_error(created, 403, "insufficient_role", "admin").await;
        assert_error(
            revoke(&app, "acme", "key_0", key).await,
            403,
            "insufficient_role",
            "admin",
        )
        .await;
    }
    let anonymous = app.http.get(app.url("/api/keys")).header("X-Tenant-Id", "acme");
    assert_error(anonymous.send().await.unwrap(), 401, "missing_credentials", "Bearer").await;
    assert_error(list(&app, "pk_demo_globex_admin").await, 403, "tenant_mismatch", "acme").await;
}

#[tokio::test]
async fn bad_requests_say_what_is_wrong_and_the_last_admin_key_stays() {
    let app = TestApp::spawn().await;
    assert_error(create(&app, "x", "owner").await, 400, "invalid_body", "owner").await;
    assert_error(create(&app, "   ", "viewer").await, 400, "invalid_body", "label").await;
    assert_error(
        create(&app, &"x".repeat(101), "viewer").await,
        400,
        "invalid_body",
        "label",
    )
    .await;
    let unknown_field = keys_request(&app, reqwest::Method::POST, "/api/keys", ADMIN)
        .json(&json!({ "label": "x", "role": "viewer", "key": "pk_chosen" }))
        .send()
        .await
        .unwrap();
    assert_error(unknown_field, 400, "invalid_body", "key").await;

    // The demo admin key is acme's only one: kept, until there is another.
    let listed: Value = list(&app, ADMIN).await.json().await.unwrap();
    let demo_admin = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["role"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        revoke(&app, "acme", &demo_admin, ADMIN).await,
        409,
        "last_admin_key",
        "another admin key",
    )
    .await;
    assert_eq!(metrics_status(&app, ADMIN).await, 200);
    let second: Value = create(&app, "second admin", "admin").await.json().await.unwrap();
    assert_eq!(revoke(&app, "acme", &demo_admin, ADMIN).await.status(), 204);
    assert_eq!(metrics_status(&app, ADMIN).await, 401);
    assert_eq!(metrics_status(&app, second["key"].as_str().unwrap()).await, 200);
}

#[tokio::test]
async fn a_tenant_holds_a_bounded_number_of_keys() {
    let app = TestApp::spawn().await;
    let held = list(&app, ADMIN).await.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .len();
    let max = paypulse_server::access::api_keys::MAX_KEYS;
    for index in held..max {
        assert_eq!(create(&app, &format!("key {index}"), "viewer").await.status(), 201);
    }
    assert_error(
        create(&app, "one too many", "viewer").await,
        422,
        "limit_reached",
        "at most 100",
    )
    .await;
    let listed: Value = list(&app, ADMIN).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), max);
}

/// Every change to the keys and the alert rules leaves an entry naming the
/// admin key that made it (by id), newest first, a page at a time; the
/// trail never holds a secret, and a change that was refused leaves none.
#[tokio::test]
async fn every_change_of_keys_and_rules_is_in_the_audit_trail_by_key_id() {
    let app = TestApp::spawn().await;
    let admin_id =
        paypulse_server::access::keys::stored_key(ADMIN, paypulse_server::store::documents::Role::Admin, "").id;
    let created: Value = create(&app, "Reporting", "viewer").await.json().await.unwrap();
    let (new_id, secret) = (created["id"].as_str().unwrap(), created["key"].as_str().unwrap());
    assert_eq!(revoke(&app, "acme", new_id, ADMIN).await.status(), 204);
    // Refused: the last admin key. No entry.
    assert_eq!(revoke(&app, "acme", &admin_id, ADMIN).await.status(), 409);
    let rules: Value = app.json_as("acme", ADMIN, "/api/alerts/rules").await;
    app.replace_rules("acme", rules["rules"].clone()).await;

    let trail: Value = app.json_as("acme", ADMIN, "/api/audit").await;
    let items = trail["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|item| item["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["alert_rules.replaced", "key.revoked", "key.created"],
        "{trail}"
    );
    assert!(items.iter().all(|item| item["keyId"] == admin_id.as_str()), "{trail}");
    assert_eq!(items[1]["subject"], new_id);
    assert_eq!(items[2]["subject"], format!("{new_id} (viewer)"));
    let rule_ids: Vec<&str> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| rule["id"].as_str().unwrap())
        .collect();
    assert!(
        rule_ids
            .iter()
            .all(|id| items[0]["subject"].as_str().unwrap().contains(id)),
        "{trail}"
    );
    assert!(trail["nextCursor"].is_null());
    assert!(!trail.to_string().contains(secret) && !trail.to_string().contains(ADMIN));

    // A page at a time.
    let first: Value = app.json_as("acme", ADMIN, "/api/audit?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let rest: Value = app
        .json_as("acme", ADMIN, &format!("/api/audit?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["items"][0]["action"], "key.created");
    assert!(rest["nextCursor"].is_null());
    // Another tenant's trail is its own.
    let globex: Value = app.json_as("globex", "pk_demo_globex_admin", "/api/audit").await;
    assert_eq!(globex["items"], json!([]));
}
