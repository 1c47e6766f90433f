//! Live events across server instances through Redis, and through a Redis
//! restart: two servers on one Redis give their watchers the same events
//! with the same `seq`; when Redis restarts, payments are still accepted, the
//! feed restarts under a new epoch, and resuming watchers are told to resync.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{TestApp, card_payment, next_json};
use crate::process::{ServerProcess, free_port};

async fn ingest(app: &TestApp, external_id: &str) -> reqwest::StatusCode {
    app.ingest_post("acme", "/api/payments", &card_payment(external_id, 2.5))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn two_servers_on_one_redis_show_the_same_events_with_the_same_seq() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn_sharing(&first).await;
    let (mut on_first, _) = connect_async(first.watch_url("acme", "")).await.unwrap();
    let (mut on_second, _) = connect_async(second.watch_url("acme", "")).await.unwrap();
    let hello_first = next_json(&mut on_first).await;
    let hello_second = next_json(&mut on_second).await;
    assert_eq!(
        hello_first, hello_second,
        "one epoch and one sequence for both instances"
    );

    for index in 0..20 {
        let server = if index % 2 == 0 { &first } else { &second };
        assert_eq!(ingest(server, &format!("both_{index}")).await, 201);
    }
    let mut seen_first = Vec::new();
    let mut seen_second = Vec::new();
    for _ in 0..20 {
        let (a, b) = (next_json(&mut on_first).await, next_json(&mut on_second).await);
        seen_first.push((
            a["seq"].as_u64().unwrap(),
            a["payment"]["externalId"].as_str().unwrap().to_owned(),
        ));
        seen_second.push((
            b["seq"].as_u64().unwrap(),
            b["payment"]["externalId"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(seen_first, seen_second);
    let base = hello_first["seq"].as_u64().unwrap();
    assert_eq!(
        seen_first.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        (base + 1..=base + 20).collect::<Vec<u64>>()
    );

    // A client can resume on the other instance, with `since` alone.
    let (mut moved, _) = connect_async(second.watch_url("acme", &format!("&since={}", base + 15)))
        .await
        .unwrap();
    next_json(&mut moved).await;
    let resumed: Vec<u64> = {
        let mut seqs = Vec::new();
        for _ in 0..5 {
            seqs.push(next_json(&mut moved).await["seq"].as_u64().unwrap());
        }
        seqs
    };
    assert_eq!(resumed, (base + 16..=base + 20).collect::<Vec<u64>>());
}

/// A Redis server of this test's own, so restarting it disturbs no other test.
struct PrivateRedis {
    child: Option<Child>,
    port: u16,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server (installed with Redis)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child: Some(child),
            port,
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn ready(app: &TestApp) -> u16 {
    app.http.get(app.url("/readyz")).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_redis_restart_keeps_ingest_working_and_restarts_the_feed() {
    let port = free_port();
    let mut redis = PrivateRedis::start(port);
    let app = TestApp::spawn_with(|config| config.redis_url = Some(format!("redis://127.0.0.1:{}", redis.port))).await;
    let (mut watcher, _) = connect_async(app.watch_url("acme", "")).await.unwrap();
    let hello = next_json(&mut watcher).await;
    let first_seq = hello["seq"].as_u64().unwrap() + 1;
    assert_eq!(ingest(&app, "before").await, 201);
    assert_eq!(next_json(&mut watcher).await["seq"], first_seq);

    redis.stop();
    assert_eq!(
        ingest(&app, "during").await,
        201,
        "payments are accepted while Redis is down"
    );
    assert_eq!(ready(&app).await, 503);
    let metrics = app
        .http
        .get(app.url("/api/analytics/metrics"))
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_acme_viewer");
    let metrics: Value = metrics.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        metrics["count"], 2,
        "analytics are computed directly while the cache is down"
    );
    let mut redis = PrivateRedis::start(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(&app).await != 200 {
        assert!(Instant::now() < deadline, "the server did not reconnect to Redis");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The first event after the restart starts a new epoch; watchers of the
    // old one are closed so that they resume and resync.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attempt = 0;
    let close_code = loop {
        attempt += 1;
        assert_eq!(ingest(&app, &format!("after_{attempt}")).await, 201);
        match tokio::time::timeout(Duration::from_secs(2), watcher.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|frame| u16::from(frame.code)),
            Ok(Some(Ok(_))) | Err(_) => assert!(Instant::now() < deadline, "the old feed was never closed"),
            Ok(other) => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(close_code, Some(4010));
    // Resuming with the old epoch's `since` alone: recognised as another
    // epoch's.
    let (mut resumed, _) = connect_async(app.watch_url("acme", &format!("&since={first_seq}")))
        .await
        .unwrap();
    let hello_again = next_json(&mut resumed).await;
    assert_ne!(hello_again["epoch"], hello["epoch"]);
    let resync = next_json(&mut resumed).await;
    assert_eq!(resync["type"], "resync_required");
    assert_eq!(ingest(&app, "finally").await, 201);
    let event = next_json(&mut resumed).await;
    assert_eq!(event["payment"]["externalId"], "finally");
    assert_eq!(event["seq"].as_u64(), Some(hello_again["seq"].as_u64().unwrap() + 1));
    redis.stop();
}

/// The same as above with two operating-system processes of the real
/// binary: nothing is shared but MongoDB and Redis.
#[tokio::test]
async fn two_server_processes_on_one_redis_share_one_feed() {
    let app = TestApp::spawn().await;
    let (one, two) = (ServerProcess::start(&app).await, ServerProcess::start(&app).await);
    let (mut on_one, _) = connect_async(one.watch_url()).await.unwrap();
    let (mut on_two, _) = connect_async(two.watch_url()).await.unwrap();
    let (hello_one, hello_two) = (next_json(&mut on_one).await, next_json(&mut on_two).await);
    assert_eq!(hello_one, hello_two, "one epoch and one sequence for both processes");
    let start = hello_one["seq"].as_u64().unwrap();
    for index in 0..10 {
        let server = if index % 2 == 0 { &one } else { &two };
        assert_eq!(server.ingest(&app, &format!("process_{index}")).await, 201);
    }
    let mut seen_one = Vec::new();
    let mut seen_two = Vec::new();
    for _ in 0..10 {
        for (socket, seen) in [(&mut on_one, &mut seen_one), (&mut on_two, &mut seen_two)] {
            let event = next_json(socket).await;
            seen.push((
                event["seq"].as_u64().unwrap(),
                event["payment"]["externalId"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(
        seen_one, seen_two,
        "both processes deliver the same events in the same order"
    );
    assert_eq!(
        seen_one.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        (start + 1..=start + 10).collect::<Vec<u64>>()
    );
    let mut external_ids: Vec<&str> = seen_one.iter().map(|(_, id)| id.as_str()).collect();
    external_ids.sort_unstable();
    let mut expected: Vec<String> = (0..10).map(|index| format!("process_{index}")).collect();
    expected.sort_unstable();
    assert_eq!(external_ids, expected, "each payment once, whichever process took it");
}
