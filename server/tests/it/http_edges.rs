//! What every HTTP exchange promises beside its body: CORS as configured
//! (the allow-listed origins may call with a bearer key, others get no
//! grant; the API's methods and the three headers it reads; never
//! credentials), security headers on every answer and a strict policy on
//! the dashboard, and request logs that name the path but never the query
//! string, where WebSocket keys travel.

use paypulse_server::access::keys;
use paypulse_server::store::documents::Role;
use reqwest::Method;

use crate::common::{TestApp, next_json, open_socket};
use crate::process::ServerProcess;
use crate::webdriver::TempDir;

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|value| value.to_str().unwrap())
}

/// The comma list of a header, lower-cased and sorted.
fn list(response: &reqwest::Response, name: &str) -> Vec<String> {
    let mut items: Vec<String> = header(response, name)
        .unwrap_or_default()
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect();
    items.sort();
    items
}

async fn preflight(app: &TestApp, origin: &str, method: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url("/api/payments"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, x-tenant-id",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_lets_the_configured_origins_call_with_a_key_and_nothing_more() {
    let app = TestApp::spawn().await;
    // The desktop app's webview, on the default allow-list.
    let origin = "tauri://localhost";
    let allowed = preflight(&app, origin, "DELETE").await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(header(&allowed, "access-control-allow-origin"), Some(origin));
    assert_eq!(
        list(&allowed, "access-control-allow-methods"),
        ["delete", "get", "post", "put"]
    );
    assert_eq!(
        list(&allowed, "access-control-allow-headers"),
        ["authorization", "content-type", "x-tenant-id"]
    );
    assert_eq!(
        header(&allowed, "access-control-allow-credentials"),
        None,
        "keys are bearer tokens, never cookies"
    );
    let read = app
        .viewer_get("acme", "/api/analytics/metrics")
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(header(&read, "access-control-allow-origin"), Some(origin));
    // A refusal is readable by the calling page too, so it can say why.
    let refused = app
        .get_as("acme", "pk_wrong", "/api/analytics/metrics")
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(header(&refused, "access-control-allow-origin"), Some(origin));

    // Any other site's page gets no grant: its browser keeps the answer
    // from it.
    let elsewhere = "https://finance.example.com";
    let denied = preflight(&app, elsewhere, "POST").await;
    assert_eq!(header(&denied, "access-control-allow-origin"), None);
    let read = app
        .viewer_get("acme", "/api/analytics/metrics")
        .header("Origin", elsewhere)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&read, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_the_dashboard_a_strict_policy() {
    let app = TestApp::spawn().await;
    let answers = [
        app.viewer_get("acme", "/api/analytics/metrics").send().await.unwrap(),
        app.get_as("acme", "pk_wrong", "/api/payments").send().await.unwrap(),
        app.http.get(app.url("/healthz")).send().await.unwrap(),
        app.http.get(app.url("/")).send().await.unwrap(),
    ];
    for answer in &answers {
        let url = answer.url().path();
        assert_eq!(header(answer, "x-content-type-options"), Some("nosniff"), "{url}");
        assert_eq!(header(answer, "referrer-policy"), Some("no-referrer"), "{url}");
        assert_eq!(header(answer, "x-frame-options"), Some("DENY"), "{url}");
        assert_eq!(
            header(answer, "cross-origin-opener-policy"),
            Some("same-origin"),
            "{url}"
        );
    }
    for api in &answers[..2] {
        assert_eq!(
            header(api, "cache-control"),
            Some("no-store"),
            "payment data is never cached"
        );
    }
    let page = &answers[3];
    assert_eq!(page.status(), 200);
    let policy = header(page, "content-security-policy").expect("the dashboard's policy");
    for directive in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "style-src 'self'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    // The page's one inline script is allowed by its hash, no other way.
    assert!(!policy.contains("script-src 'self' 'unsafe-inline'"), "{policy}");
    assert_eq!(policy.matches("'sha256-").count(), 1, "{policy}");
}

#[tokio::test]
async fn logs_name_paths_and_key_ids_but_never_a_key_a_ticket_or_a_query_string() {
    let app = TestApp::spawn().await;
    let folder = TempDir::new("paypulse-request-log");
    let log = folder.0.join("server.log");
    // The most verbose filter there is: whatever any layer logs, the query
    // string must not be in it.
    let server = ServerProcess::start_logging(&app, "trace", &log).await;

    let key = keys::generate_key("acme");
    app.store
        .ensure_api_key("acme", &keys::stored_key(&key, Role::Viewer, "logged in a test"))
        .await
        .unwrap();
    let unknown = keys::generate_key("acme");
    let marker = "querymarker7d1c";
    let watch = format!("ws://{}/ws/payments?tenant=acme&key={key}&control=true", server.base);
    let mut socket = open_socket(&watch).await;
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    drop(socket);
    let refused = app
        .http
        .get(server.url(&format!("/ws/payments?tenant=acme&key={unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let rest = app
        .http
        .get(server.url(&format!("/api/analytics/metrics?from={marker}")))
        .header("X-Tenant-Id", "acme")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 400);
    // A key made through the API, and a ticket used in a download's URL.
    let created: serde_json::Value = app
        .http
        .post(server.url("/api/keys"))
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_acme_admin")
        .json(&serde_json::json!({ "label": "logged", "role": "viewer" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let made = created["key"].as_str().unwrap().to_owned();
    let made_id = created["id"].as_str().unwrap().to_owned();
    let ticket: serde_json::Value = app
        .http
        .post(server.url("/api/tickets"))
        .header("X-Tenant-Id", "acme")
        .bearer_auth(&made)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = ticket["ticket"].as_str().unwrap().to_owned();
    let download = app
        .http
        .get(server.url(&format!("/api/payments/export.csv?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    drop(server);

    let text = std::fs::read_to_string(&log).unwrap();
    for path in [
        "/ws/payments",
        "/api/analytics/metrics",
        "/api/keys",
        "/api/payments/export.csv",
    ] {
        assert!(text.contains(path), "the log names the path {path}");
    }
    assert!(text.contains(&made_id), "a key is logged by its id");
    for secret in [key.as_str(), unknown.as_str(), marker, made.as_str(), ticket.as_str()] {
        assert!(
            !text.contains(secret),
            "the log holds a secret or a query string ({secret})"
        );
    }
    // A path is logged without its query string. (This once looked for
    // `tenant=acme`, which a plain log line holds as a field of its own, and
    // which the colour codes of the old log lines split.)
    for path in ["/ws/payments", "/api/payments/export.csv"] {
        assert!(
            !text.contains(&format!("{path}?")),
            "the log holds {path}'s query string"
        );
    }
}
