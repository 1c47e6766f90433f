//! The analytics cache, with Redis and in-process: answers are served from
//! it, a read right after a write reflects the write (invalidation, not a
//! TTL), and a burst of identical requests computes the answer once.

use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::{TestApp, card_payment};

/// Payments counted over all points of a trend.
async fn trend_count(app: &TestApp, path: &str) -> u64 {
    let trend = app.json("acme", path).await;
    trend
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["count"].as_u64().unwrap())
        .sum()
}

async fn reads_reflect_every_write(app: &TestApp) {
    let path = "/api/analytics/metrics?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z";
    let before = app.state.cache.computations();
    let empty = app.json("acme", path).await;
    assert_eq!(app.json("acme", path).await, empty);
    assert_eq!(
        app.state.cache.computations(),
        before + 1,
        "the second read was served from the cache"
    );

    let created = app.create("acme", card_payment("cached_1", 7.25)).await;
    let after_write = app.json("acme", path).await;
    assert_eq!(
        after_write["totalVolume"],
        json!(7.25),
        "a read right after a write reflects it"
    );
    let id = created["id"].as_str().unwrap();
    let refund = app.refund("acme", id).await;
    assert_eq!(refund.status(), 200);
    assert_eq!(app.json("acme", path).await["refundedVolume"], json!(7.25));
    // Trends share the mechanism.
    let trend_path = "/api/analytics/trends?period=day";
    let counted = trend_count(app, trend_path).await;
    assert_eq!(counted, 1);
    app.create("acme", card_payment("cached_2", 1.0)).await;
    let counted = trend_count(app, trend_path).await;
    assert_eq!(counted, 2);
}

#[tokio::test]
async fn redis_cache_never_hides_a_write() {
    let app = TestApp::spawn().await;
    reads_reflect_every_write(&app).await;
    let mut redis = redis::Client::open(crate::common::redis_url())
        .unwrap()
        .get_connection()
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:cache:{{acme}}:*", app.state.config.redis_prefix))
        .query(&mut redis)
        .unwrap();
    assert!(
        keys.iter().any(|key| key.contains(":metrics:")),
        "answers are stored in Redis: {keys:?}"
    );
}

#[tokio::test]
async fn in_process_cache_never_hides_a_write() {
    let app = TestApp::spawn_with(|config| config.redis_url = None).await;
    reads_reflect_every_write(&app).await;
}

#[tokio::test]
async fn a_burst_of_identical_requests_computes_once() {
    let app = TestApp::spawn().await;
    app.create("acme", card_payment("burst", 3.0)).await;
    let path = "/api/analytics/trends?period=week&from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z";
    let before = app.state.cache.computations();
    let answers: Vec<Value> = futures::stream::iter((0..24).map(|_| app.json("acme", path)))
        .buffer_unordered(24)
        .collect()
        .await;
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(app.state.cache.computations(), before + 1);
}
