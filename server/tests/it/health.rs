//! Liveness and readiness probes against real MongoDB and Redis.

use crate::common::TestApp;

#[tokio::test]
async fn healthz_answers_without_credentials() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn readyz_checks_mongodb_and_redis() {
    let app = TestApp::spawn().await;
    let body: serde_json::Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "ready", "mongodb": "ok", "redis": "ok"})
    );

    let alone = TestApp::spawn_with(|config| config.redis_url = None).await;
    let body: serde_json::Value = alone
        .http
        .get(alone.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["redis"], "disabled");
}

#[tokio::test]
async fn an_unreachable_redis_fails_start_up_loudly() {
    let database = "test_unreachable_redis";
    let mut config = crate::common::test_config(database);
    // Port 1 on loopback refuses connections.
    config.redis_url = Some("redis://127.0.0.1:1".to_owned());
    let error = paypulse_server::connect(config)
        .await
        .err()
        .expect("start-up must fail");
    assert!(format!("{error:#}").contains("connecting to redis"), "{error:#}");
}
