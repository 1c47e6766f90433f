//! MongoDB stopped while payments arrive, then started again: ingest says
//! 503 with `Retry-After` within seconds (never hangs), reads that were
//! cached are still served (past the key cache's TTL: a known key stays
//! good while the database cannot be asked), live sockets stay open, and
//! once the database is back the same server takes payments again, the
//! sockets carry them, and a client that retried what was refused has lost
//! nothing.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use tokio_tungstenite::tungstenite::Message;

use super::PrivateDatabase;
use crate::common::{Socket, TestApp, card_payment, eventually, open_socket};

/// The longest an ingest request may take while the database is down: the
/// server selection (3 s) and a margin for a loaded machine.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

/// Payments sent at once while the database is down.
const DURING: usize = 20;

async fn send(app: &TestApp, external_id: &str) -> reqwest::Response {
    app.ingest_post("acme", "/api/payments", &card_payment(external_id, 3.0))
        .send()
        .await
        .expect("the server answers")
}

/// A live-feed client that reads all the time (so it answers every ping
/// at once, as a browser does, however long the test looks elsewhere) and
/// hands on its text frames, heartbeats included.
struct Watcher {
    frames: tokio::sync::mpsc::UnboundedReceiver<Result<serde_json::Value, String>>,
}

impl Watcher {
    async fn open(url: &str) -> Self {
        let mut socket: Socket = open_socket(url).await;
        let (sender, frames) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(message) = socket.next().await {
                let forwarded = match message {
                    Ok(Message::Text(text)) => sender.send(Ok(serde_json::from_str(&text).expect("JSON text frames"))),
                    Ok(Message::Close(frame)) => sender.send(Err(format!("closed by the server: {frame:?}"))),
                    Ok(_) => continue,
                    Err(error) => sender.send(Err(format!("connection failed: {error}"))),
                };
                if forwarded.is_err() {
                    return;
                }
            }
            sender.send(Err("connection ended".to_owned())).ok();
        });
        Self { frames }
    }

    /// The next text frame, heartbeats included.
    async fn next_frame(&mut self) -> serde_json::Value {
        tokio::time::timeout(Duration::from_secs(15), self.frames.recv())
            .await
            .expect("a frame in time")
            .expect("the reader runs")
            .unwrap_or_else(|ended| panic!("the socket stays open: {ended}"))
    }

    /// The next frame that is not a heartbeat.
    async fn next_event(&mut self) -> serde_json::Value {
        loop {
            let frame = self.next_frame().await;
            if frame["type"] != "heartbeat" {
                return frame;
            }
        }
    }
}

#[tokio::test]
async fn with_mongodb_down_ingest_says_503_cached_reads_and_sockets_go_on_and_it_recovers_without_a_restart() {
    let mut database = PrivateDatabase::start(Duration::from_secs(60));
    let app = TestApp::spawn_with(|config| {
        config.database.mongodb_uri = database.uri();
        // Shorter than the outage: known keys must outlive it.
        config.limits.key_cache_ttl = Duration::from_millis(200);
        config.limits.live.heartbeat = Duration::from_millis(500);
    })
    .await;
    let mut dashboard = Watcher::open(&app.watch_url("acme", "")).await;
    let hello = dashboard.next_event().await;
    assert_eq!(hello["type"], "hello", "{hello}");
    let mut strict = Watcher::open(&app.spec_watch_url("acme", "")).await;
    for index in 0..3 {
        assert_eq!(send(&app, &format!("before_{index}")).await.status(), 201);
    }
    for index in 0..3 {
        let frame = dashboard.next_event().await;
        assert_eq!(frame["payment"]["externalId"], format!("before_{index}"), "{frame}");
    }
    let first = strict.next_frame().await;
    assert_eq!(first["payment"]["externalId"], "before_0", "{first}");
    let now = chrono::Utc::now();
    let metrics = format!(
        "/api/analytics/metrics?from={}&to={}",
        (now - chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + chrono::TimeDelta::hours(1)).format("%Y-%m-%dT%H:%M:%SZ"),
    );
    let cached = app.json("acme", &metrics).await;
    assert_eq!(cached["count"], 3, "{cached}");

    database.stop();

    // Ingest: 503 with Retry-After, each answer within the limit.
    let refused: Vec<String> = (0..DURING).map(|index| format!("during_{index}")).collect();
    let started = Instant::now();
    let answers = join_all(refused.iter().map(|external_id| async {
        let sent = Instant::now();
        let response = send(&app, external_id).await;
        (sent.elapsed(), response)
    }))
    .await;
    let slowest = answers.iter().map(|(took, _)| *took).max().unwrap_or_default();
    for (took, response) in answers {
        assert!(took < ANSWER_LIMIT, "an ingest took {took:?} with the database down");
        assert_eq!(response.headers()["retry-after"], "1");
        crate::common::assert_error(response, 503, "unavailable", "retry").await;
    }
    let one_more = Instant::now();
    let response = send(&app, "during_late").await;
    assert_eq!(response.status(), 503);
    assert!(
        one_more.elapsed() < ANSWER_LIMIT,
        "a later ingest took {:?}",
        one_more.elapsed()
    );
    let answered_in = started.elapsed();

    // Health says so; the cached read is served, past the key cache's TTL.
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness reports the database");
    tokio::time::sleep(Duration::from_millis(300)).await; // past the key TTL
    let response = app.viewer_get("acme", &metrics).send().await.unwrap();
    assert_eq!(response.status(), 200, "a cached read is still served");
    assert_eq!(response.json::<serde_json::Value>().await.unwrap(), cached);

    // Sockets: the dashboard's keeps beating, the strict client's is open.
    for _ in 0..2 {
        let frame = dashboard.next_frame().await;
        assert_eq!(frame["type"], "heartbeat", "{frame}");
    }

    database.restart();

    // The same server takes payments again, without a restart.
    let back = Instant::now();
    eventually("ingest works again", Duration::from_secs(60), || async {
        send(&app, "after_0").await.status() == 201
    })
    .await;
    let recovered_in = back.elapsed();
    // A client that retried what was refused loses nothing, and nothing
    // that was refused had been written.
    for external_id in refused.iter().chain([&"during_late".to_owned()]) {
        assert_eq!(
            send(&app, external_id).await.status(),
            201,
            "{external_id} was refused, so it is new"
        );
    }
    // Both sockets, never reconnected, carry the payments after the outage.
    let frame = dashboard.next_event().await;
    assert_eq!(frame["payment"]["externalId"], "after_0", "{frame}");
    for _ in 0..2 {
        strict.next_frame().await; // before_1, before_2
    }
    let frame = strict.next_frame().await;
    assert_eq!(frame["payment"]["externalId"], "after_0", "{frame}");

    let stored = app.stored_count("acme").await;
    assert_eq!(stored, 3 + 1 + DURING as u64 + 1, "every payment once, none lost");
    let (clean, report) = crate::reconcile::reconcile(&app, false);
    assert!(clean, "the rollups equal the raw payments: {report}");
    eprintln!(
        "{DURING} refused at once, the slowest in {slowest:?}, all within {answered_in:?}; ingest back {recovered_in:?} after the restart"
    );
}
