//! The analytics cache, with Redis and in-process: answers are served from
//! it, a read right after a write reflects the write (invalidation, not a
//! TTL), and a burst of identical requests computes the answer once.

use chrono::{TimeDelta, Utc};
use futures::StreamExt;
use paypulse_shared::time::format_utc;
use serde_json::{Value, json};

use crate::common::{TestApp, card_payment};

/// Payments counted over all points of a trend.
fn total_count(trend: &Value) -> u64 {
    trend
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["count"].as_u64().unwrap())
        .sum()
}

async fn trend_count(app: &TestApp, path: &str) -> u64 {
    total_count(&app.json("acme", path).await)
}

/// A fixed range around the clock: it holds every payment the test creates
/// "now", whenever the test runs, and its query string stays the same from
/// one read to the next, so the reads share a cache key.
fn range_around_now() -> String {
    let now = Utc::now();
    format!(
        "from={}&to={}",
        format_utc(&(now - TimeDelta::days(1))),
        format_utc(&(now + TimeDelta::days(1)))
    )
}

async fn reads_reflect_every_write(app: &TestApp) {
    let path = &format!("/api/analytics/metrics?{}", range_around_now());
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
    let path = &format!("/api/analytics/trends?period=week&{}", range_around_now());
    let before = app.state.cache.computations();
    let answers: Vec<Value> = futures::stream::iter((0..24).map(|_| app.json("acme", path)))
        .buffer_unordered(24)
        .collect()
        .await;
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(total_count(&answers[0]), 1, "the one answer counts the payment");
    assert_eq!(app.state.cache.computations(), before + 1);
}
