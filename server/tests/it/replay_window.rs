//! The replay window docs/ARCHITECTURE.md promises: every event of the last
//! `age`, at least the last `events` however old, at most `cap`, on every
//! instance, including one that starts after the events were published
//! (it reads them from Redis). The window is shortened here (50 events,
//! a cap of 200, ages of 10 minutes or 1 second) so the rule can be seen
//! in a test's time; production's is 10,000 events, 5 minutes, 50,000.
//!
//! A client sees the window as an outside client would: resuming after
//! `since` either replays every later event or is told to resync. With
//! Redis, an instance reads a feed's window from the stream when a client
//! first resumes on it there, and holds it while the feed is watched.

use std::time::{Duration, Instant};

use paypulse_server::live::hub::ReplayWindow;
use paypulse_shared::live::FeedItem;
use paypulse_shared::payment::PaymentEvent;
use serde_json::{Value, json};

use crate::common::{TestApp, card_payment, eventually, next_json, open_socket};

const EVENTS: usize = 50;
const CAP: usize = 200;

fn window(age: Duration) -> ReplayWindow {
    ReplayWindow {
        events: EVENTS,
        age,
        cap: CAP,
    }
}

/// The first instance of a deployment with or without Redis.
async fn first_instance(age: Duration, redis: bool) -> TestApp {
    TestApp::spawn_with(|config| {
        config.limits.live.replay = window(age);
        if !redis {
            config.redis_url = None;
        }
    })
    .await
}

/// The event of a real payment of `acme` (its creation is the feed's first
/// event); the feed numbers each copy published after it. Also returns the
/// feed's base: the `seq` a new client is greeted with before that first
/// event, so the nth event is `base + n`.
async fn an_event(app: &TestApp) -> (PaymentEvent, u64) {
    let mut socket = open_socket(&app.watch_url("acme", "")).await;
    let base = next_json(&mut socket).await["seq"].as_u64().unwrap();
    let created = app.create("acme", card_payment("replayed", 1.0)).await;
    let event = serde_json::from_value(json!({
        "type": "payment_received", "payment": created, "timestamp": created["createdAt"]
    }))
    .unwrap();
    (event, base)
}

/// Publishes `count` copies of `event` (the path a committed payment's
/// event takes), in batches of 50.
async fn publish(app: &TestApp, event: &PaymentEvent, count: usize) {
    let mut left = count;
    while left > 0 {
        let batch = left.min(50);
        app.state
            .live
            .publish("acme", vec![FeedItem::Payment(event.clone()); batch])
            .await;
        left -= batch;
    }
}

/// Waits until `app` has seen event `seq` (through Redis, delivery to the
/// publishing instance is asynchronous too); returns the feed's epoch.
async fn caught_up(app: &TestApp, seq: u64) -> String {
    eventually(&format!("instance at seq {seq}"), Duration::from_secs(20), || async {
        app.state.live.hub.subscribe("acme", None, false).unwrap().latest_seq == seq
    })
    .await;
    app.state.live.hub.epoch("acme")
}

/// What a client resuming on `app` after `since` gets: the `seq` of every
/// event replayed, or `None` when it is told to resync.
async fn resume(app: &TestApp, since: u64, epoch: &str) -> Option<Vec<u64>> {
    let mut socket = open_socket(&app.watch_url("acme", &format!("&since={since}&epoch={epoch}"))).await;
    let hello = next_json(&mut socket).await;
    assert_eq!(hello["type"], "hello");
    let latest = hello["seq"].as_u64().unwrap();
    let mut replayed = Vec::new();
    while replayed.last().copied().unwrap_or(since) < latest {
        let frame: Value = next_json(&mut socket).await;
        if frame["type"] == "resync_required" {
            return None;
        }
        replayed.push(frame["seq"].as_u64().unwrap());
    }
    Some(replayed)
}

/// Asserts that `app`'s history is exactly the events after `oldest - 1`
/// up to `latest` (counted from the feed's `base`): resuming there replays
/// them all, once, in order, and resuming one earlier is told to resync.
async fn holds_exactly(app: &TestApp, name: &str, base: u64, oldest: u64, latest: u64) {
    let epoch = caught_up(app, base + latest).await;
    assert_eq!(
        resume(app, base + oldest - 1, &epoch).await,
        Some((base + oldest..=base + latest).collect()),
        "{name} replays from {oldest}"
    );
    if oldest > 1 {
        assert_eq!(
            resume(app, base + oldest - 2, &epoch).await,
            None,
            "{name} no longer holds {}",
            oldest - 1
        );
    }
}

/// Young events are all kept, beyond the minimum count, up to the cap, on
/// every instance, including ones that start after they were published.
async fn young_events_are_kept_up_to_the_cap(redis: bool) {
    let age = Duration::from_secs(600);
    let first = first_instance(age, redis).await;
    let (event, base) = an_event(&first).await;
    publish(&first, &event, 149).await;
    holds_exactly(&first, "the publishing instance", base, 1, 150).await;
    let later = if redis {
        Some(TestApp::spawn_sharing(&first).await)
    } else {
        None
    };
    if let Some(later) = &later {
        caught_up(later, base + 150).await;
        assert_eq!(
            later.state.live.hub.held("acme"),
            0,
            "nobody has resumed there: the window stays in Redis"
        );
        holds_exactly(later, "an instance started afterwards", base, 1, 150).await;
    }

    publish(&first, &event, 100).await;
    let latest = 250;
    let oldest = latest - CAP as u64 + 1;
    holds_exactly(&first, "the publishing instance", base, oldest, latest).await;
    if let Some(later) = &later {
        holds_exactly(
            later,
            "an instance started before the cap was reached",
            base,
            oldest,
            latest,
        )
        .await;
        let last = TestApp::spawn_sharing(&first).await;
        holds_exactly(&last, "an instance started after it", base, oldest, latest).await;
    }
}

/// Past the window's age, only the newest `events` stay, on every instance.
async fn old_events_beyond_the_minimum_count_go(redis: bool) {
    let age = Duration::from_secs(1);
    let first = first_instance(age, redis).await;
    let (event, base) = an_event(&first).await;
    publish(&first, &event, 149).await;
    let published = Instant::now();
    caught_up(&first, base + 150).await;
    // The rule is about time, so time has to pass: wait out the age.
    tokio::time::sleep_until((published + age + Duration::from_millis(200)).into()).await;
    publish(&first, &event, 1).await;
    let latest = 151;
    let oldest = latest - EVENTS as u64 + 1;
    holds_exactly(&first, "the publishing instance", base, oldest, latest).await;
    if redis {
        let later = TestApp::spawn_sharing(&first).await;
        holds_exactly(&later, "an instance started afterwards", base, oldest, latest).await;
    }
}

/// When many clients resume at once on an instance that does not hold
/// the window (their instance went away), the stream is read once, and
/// every client gets the same whole replay.
#[tokio::test]
async fn clients_resuming_together_read_the_stream_once() {
    let first = first_instance(Duration::from_secs(600), true).await;
    let (event, base) = an_event(&first).await;
    publish(&first, &event, 99).await;
    caught_up(&first, base + 100).await;
    let later = TestApp::spawn_sharing(&first).await;
    let epoch = caught_up(&later, base + 100).await;
    let resumes = (0..20).map(|_| resume(&later, base + 10, &epoch));
    for replayed in futures::future::join_all(resumes).await {
        assert_eq!(replayed, Some((base + 11..=base + 100).collect()));
    }
    assert_eq!(later.state.live.hub.windows_loaded(), 1, "one read for 20 resumes");
    assert_eq!(later.state.live.hub.held("acme"), 100);
}

#[tokio::test]
async fn young_events_are_kept_up_to_the_cap_on_every_instance() {
    young_events_are_kept_up_to_the_cap(true).await;
}

#[tokio::test]
async fn young_events_are_kept_up_to_the_cap_without_redis() {
    young_events_are_kept_up_to_the_cap(false).await;
}

#[tokio::test]
async fn old_events_beyond_the_minimum_count_go_on_every_instance() {
    old_events_beyond_the_minimum_count_go(true).await;
}

#[tokio::test]
async fn old_events_beyond_the_minimum_count_go_without_redis() {
    old_events_beyond_the_minimum_count_go(false).await;
}
