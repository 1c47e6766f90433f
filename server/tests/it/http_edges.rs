//! What every HTTP exchange promises beside its body: CORS as configured
//! (any origin may call with a bearer key; only GET and POST and the three
//! headers the API reads; never credentials), and request logs that name
//! the path but never the query string, where WebSocket keys travel.

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

#[tokio::test]
async fn cors_lets_any_origin_call_with_a_key_and_nothing_more() {
    let app = TestApp::spawn().await;
    let origin = "https://finance.example.com";
    let preflight = app
        .http
        .request(Method::OPTIONS, app.url("/api/payments"))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type, x-tenant-id",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
    assert_eq!(list(&preflight, "access-control-allow-methods"), ["get", "post"]);
    assert_eq!(
        list(&preflight, "access-control-allow-headers"),
        ["authorization", "content-type", "x-tenant-id"]
    );
    assert_eq!(
        header(&preflight, "access-control-allow-credentials"),
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
    assert_eq!(header(&read, "access-control-allow-origin"), Some("*"));
    // A refusal is readable by the calling page too, so it can say why.
    let refused = app
        .get_as("acme", "pk_wrong", "/api/analytics/metrics")
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(header(&refused, "access-control-allow-origin"), Some("*"));
}

#[tokio::test]
async fn request_logs_name_the_path_but_never_the_query_string() {
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
    drop(server);

    let text = std::fs::read_to_string(&log).unwrap();
    for path in ["/ws/payments", "/api/analytics/metrics"] {
        assert!(text.contains(path), "the log names the path {path}");
    }
    for secret in [key.as_str(), unknown.as_str(), marker] {
        assert!(!text.contains(secret), "the log holds a query string ({secret})");
    }
    assert!(!text.contains("tenant=acme"), "the log holds a query string");
}
