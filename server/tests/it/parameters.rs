//! Malformed parameters get a 400 `{code, message}` naming what was wrong,
//! never a 500; unknown routes and methods get JSON errors too.

use crate::common::{TestApp, assert_error};

#[tokio::test]
async fn bad_parameters_are_400_with_a_message_that_says_why() {
    let app = TestApp::spawn().await;
    let cases = [
        ("/api/analytics/trends?period=year", "period"),
        ("/api/analytics/trends?period=", "period"),
        ("/api/analytics/trends?period=day&period=week", "period"),
        ("/api/analytics/metrics?from=yesterday", "from"),
        ("/api/analytics/metrics?to=2026-13-01T00:00:00Z", "to"),
        (
            "/api/analytics/metrics?from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z",
            "earlier",
        ),
        (
            "/api/analytics/metrics?from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "at most",
        ),
        ("/api/analytics/metrics?form=2026-11-24T00:00:00Z", "form"),
        (
            "/api/analytics/trends?period=day&from=2025-01-01T00:00:00Z&to=2025-12-31T00:00:00Z",
            "buckets",
        ),
        ("/api/payments?status=pending", "status"),
        ("/api/payments?method=cash", "method"),
        ("/api/payments?minAmount=abc", "minAmount"),
        ("/api/payments?minAmount=1.234", "decimal places"),
        ("/api/payments?minAmount=-5", "negative"),
        ("/api/payments?limit=0", "limit"),
        ("/api/payments?limit=501", "limit"),
        ("/api/payments?limit=ten", "limit"),
        ("/api/payments?cursor=garbage", "cursor"),
        (
            "/api/payments?from=2026-11-24T00:00:00Z&to=2026-11-24T00:00:00Z",
            "earlier",
        ),
        ("/api/payments/not-an-id", "24 hexadecimal"),
    ];
    for (path, hint) in cases {
        let response = app.viewer_get("acme", path).send().await.unwrap();
        assert_error(response, 400, "invalid_parameter", hint).await;
    }
}

#[tokio::test]
async fn unknown_api_routes_and_methods_answer_in_json() {
    let app = TestApp::spawn().await;
    let missing = app.viewer_get("acme", "/api/nothing-here").send().await.unwrap();
    assert_error(missing, 404, "not_found", "endpoint").await;
    let unknown_payment = app
        .viewer_get("acme", "/api/payments/0123456789abcdef01234567")
        .send()
        .await
        .unwrap();
    assert_error(unknown_payment, 404, "not_found", "0123456789abcdef01234567").await;
    let wrong_method = app.http.delete(app.url("/api/analytics/metrics")).send().await.unwrap();
    assert_error(wrong_method, 405, "method_not_allowed", "method").await;
}
