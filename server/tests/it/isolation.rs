//! The isolation matrix (issue 13): every endpoint of the router's own
//! table (`routes::catalogue`, from which the router is built, so a new
//! endpoint cannot be left out) × every wrong credential: none, malformed,
//! unknown, another tenant's key, a key of too small a role, a tenant named
//! twice differently (header and key, subdomain and key), a revoked key,
//! and, where the URL may carry the credential, a reused, forged, expired,
//! foreign or under-privileged ticket (a key in the socket's URL is in
//! live.rs and tickets.rs). Each gets the expected status and code, and
//! no answer carries a byte of the other tenant's data.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use paypulse_server::routes::{Endpoint, Needs, catalogue};
use paypulse_server::store::documents::Role;
use paypulse_shared::payment::PaymentStatus;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, payment};

/// What globex has that acme's callers must never see.
const GLOBEX_MARKER: &str = "globex_secret_7f3a";

fn demo_key(tenant: &str, role: Role) -> String {
    format!("pk_demo_{tenant}_{}", role.as_str())
}

/// A key of `tenant` whose role lacks `needed`'s rights, if any role does.
fn lesser_role(needed: Role) -> Option<Role> {
    Role::ALL.into_iter().find(|role| !role.grants(needed))
}

/// How one wrong credential is presented.
struct Attempt {
    what: &'static str,
    headers: Vec<(&'static str, String)>,
    query: String,
    status: u16,
    code: &'static str,
}

fn attempt(what: &'static str, headers: Vec<(&'static str, String)>, status: u16, code: &'static str) -> Attempt {
    Attempt {
        what,
        headers,
        query: String::new(),
        status,
        code,
    }
}

/// The acme data the paths name.
struct Fixture {
    payment_id: String,
    key_id: String,
    revoked_key: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let now = Utc::now();
    let mut ours = payment(
        "acme",
        now - TimeDelta::hours(1),
        1_250,
        "card",
        PaymentStatus::Succeeded,
    );
    ours.external_id = "acme_payment_1".into();
    let mut theirs = payment(
        "globex",
        now - TimeDelta::hours(1),
        9_999,
        "card",
        PaymentStatus::Succeeded,
    );
    theirs.external_id = GLOBEX_MARKER.into();
    app.insert(&[ours.clone(), theirs]).await;
    let admin = demo_key("acme", Role::Admin);
    let created: Value = app
        .http
        .post(app.url("/api/keys"))
        .header("X-Tenant-Id", "acme")
        .bearer_auth(&admin)
        .json(&json!({ "label": "to be revoked", "role": "admin" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revoked_key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();
    let revoked = app
        .http
        .delete(app.url(&format!("/api/keys/{id}")))
        .header("X-Tenant-Id", "acme")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let keys: Value = app
        .http
        .get(app.url("/api/keys"))
        .header("X-Tenant-Id", "acme")
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Fixture {
        payment_id: ours.id.to_hex(),
        key_id: keys["items"][0]["id"].as_str().unwrap().to_owned(),
        revoked_key,
    }
}

fn path_of(endpoint: &Endpoint, fixture: &Fixture) -> String {
    let id = if endpoint.path.starts_with("/api/keys") {
        &fixture.key_id
    } else {
        &fixture.payment_id
    };
    endpoint.path.replace("{id}", id)
}

/// A ticket of `tenant`'s key of `role`.
async fn ticket(app: &TestApp, tenant: &str, role: Role) -> String {
    let issued: Value = app
        .http
        .post(app.url("/api/tickets"))
        .header("X-Tenant-Id", tenant)
        .bearer_auth(demo_key(tenant, role))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    issued["ticket"].as_str().unwrap().to_owned()
}

/// Every wrong way to call `endpoint` as acme, and what each must get.
async fn attempts(app: &TestApp, endpoint: &Endpoint, fixture: &Fixture) -> Vec<Attempt> {
    let (needed, url) = match endpoint.needs {
        Needs::Nothing => return Vec::new(),
        Needs::Key(role) => (Some(role), false),
        Needs::KeyOrUrl(role) => (Some(role), true),
        Needs::AnyKey => (None, false),
    };
    let role = needed.unwrap_or(Role::Viewer);
    let tenant = |name: &str| ("x-tenant-id", name.to_owned());
    let bearer = |key: &str| ("authorization", format!("Bearer {key}"));
    let mut all = vec![
        attempt("no credential", vec![tenant("acme")], 401, "missing_credentials"),
        attempt(
            "a malformed credential",
            vec![tenant("acme"), ("authorization", "Basic YWNtZTpwYXNz".into())],
            401,
            "missing_credentials",
        ),
        attempt(
            "an unknown key",
            vec![tenant("acme"), bearer("pk_live_acme_0000000000000000000000000000000")],
            401,
            "invalid_credentials",
        ),
        attempt(
            "another tenant's key",
            vec![tenant("acme"), bearer(&demo_key("globex", role))],
            403,
            "tenant_mismatch",
        ),
        attempt(
            "a key of the tenant the header does not name",
            vec![tenant("globex"), bearer(&demo_key("acme", role))],
            403,
            "tenant_mismatch",
        ),
        attempt(
            "a key of the tenant the subdomain does not name",
            vec![
                ("host", "globex.paypulse.local".into()),
                bearer(&demo_key("acme", role)),
            ],
            403,
            "tenant_mismatch",
        ),
        attempt(
            "a revoked key",
            vec![tenant("acme"), bearer(&fixture.revoked_key)],
            401,
            "invalid_credentials",
        ),
    ];
    if let Some(lesser) = needed.and_then(lesser_role) {
        all.push(attempt(
            "a key of a lesser role",
            vec![tenant("acme"), bearer(&demo_key("acme", lesser))],
            403,
            "insufficient_role",
        ));
    }
    if url {
        let used = ticket(app, "acme", role).await;
        let first = app
            .http
            .request(
                endpoint.method.clone(),
                app.url(&format!("{}?ticket={used}", path_of(endpoint, fixture))),
            )
            .send()
            .await
            .unwrap();
        assert_ne!(first.status(), 401, "a fresh ticket opens {}", endpoint.path);
        let with_ticket = |what, ticket: String, status, code| Attempt {
            what,
            headers: Vec::new(),
            query: format!("ticket={ticket}"),
            status,
            code,
        };
        all.push(with_ticket("a used ticket", used, 401, "invalid_credentials"));
        all.push(with_ticket(
            "a forged ticket",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            401,
            "invalid_credentials",
        ));
        let mut foreign = with_ticket(
            "another tenant's ticket",
            ticket(app, "globex", role).await,
            403,
            "tenant_mismatch",
        );
        foreign.headers.push(tenant("acme"));
        all.push(foreign);
        if let Some(lesser) = lesser_role(role) {
            all.push(with_ticket(
                "a ticket of a lesser role",
                ticket(app, "acme", lesser).await,
                403,
                "insufficient_role",
            ));
        }
    }
    all
}

#[tokio::test]
async fn every_endpoint_refuses_every_wrong_credential_and_leaks_nothing() {
    let app = TestApp::spawn().await;
    let fixture = fixture(&app).await;
    let endpoints = catalogue();
    assert!(endpoints.len() >= 15, "the router's own table: {endpoints:?}");
    let mut tried = 0;
    for endpoint in &endpoints {
        let path = path_of(endpoint, &fixture);
        for attempt in attempts(&app, endpoint, &fixture).await {
            let separator = if attempt.query.is_empty() { "" } else { "?" };
            let mut request = app.http.request(
                endpoint.method.clone(),
                app.url(&format!("{path}{separator}{}", attempt.query)),
            );
            for (name, value) in &attempt.headers {
                request = request.header(*name, value);
            }
            if matches!(endpoint.method, Method::POST | Method::PUT) {
                request = request.json(&json!({}));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            let what = format!("{} {} with {}", endpoint.method, endpoint.path, attempt.what);
            assert_eq!(status, attempt.status, "{what}: {body}");
            let error: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: not JSON: {body}"));
            assert_eq!(error["code"], attempt.code, "{what}: {body}");
            assert!(
                !body.contains(GLOBEX_MARKER) && !body.contains("9999"),
                "{what} leaked: {body}"
            );
            tried += 1;
        }
    }
    assert!(tried > 100, "{tried} attempts");
}

/// A ticket is good for its TTL (a minute; 200 ms here); past its own
/// `expiresAt` it opens none of the endpoints that take one.
#[tokio::test]
async fn an_expired_ticket_opens_no_endpoint_that_takes_one() {
    let app = TestApp::spawn_with(|config| config.limits.ticket_ttl = Duration::from_millis(200)).await;
    let fixture = fixture(&app).await;
    let mut expired = Vec::new();
    for endpoint in catalogue() {
        let Needs::KeyOrUrl(role) = endpoint.needs else {
            continue;
        };
        let issued: Value = app
            .http
            .post(app.url("/api/tickets"))
            .header("X-Tenant-Id", "acme")
            .bearer_auth(demo_key("acme", role))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let expires_at: chrono::DateTime<Utc> = issued["expiresAt"].as_str().unwrap().parse().unwrap();
        expired.push((endpoint, issued["ticket"].as_str().unwrap().to_owned(), expires_at));
    }
    assert!(expired.len() >= 3, "the socket and the two downloads");
    // Expiry is about time, so time has to pass: until the last ticket's
    // own `expiresAt` (the server's clock, this machine's) is behind us.
    let latest = expired.iter().map(|(_, _, at)| *at).max().unwrap();
    let wait = (latest - Utc::now() + TimeDelta::milliseconds(20))
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
    for (endpoint, ticket, _) in expired {
        let path = path_of(&endpoint, &fixture);
        let response = app
            .http
            .request(endpoint.method.clone(), app.url(&format!("{path}?ticket={ticket}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{} {}", endpoint.method, endpoint.path);
    }
}
