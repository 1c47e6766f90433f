//! `/ws/payments` with a real WebSocket client (tokio-tungstenite): the
//! contract of every message, tenant isolation, filters, gap-free resume
//! across cut connections, resync, refusals before the upgrade, and the
//! limits that keep a server's memory bounded: slow consumers cut off when
//! they fall behind or stall a frame past the send limit (4008), silent
//! clients when they withhold a pong (4001), and a client's close answered.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use paypulse_server::live::hub::Disconnect;
use paypulse_shared::live::FeedItem;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, connect_async};

use crate::common::{Socket, TestApp, assert_error, eventually, next_json, open_socket};

fn payment(external_id: &str, amount: f64, method: &str, status: &str) -> Value {
    let mut body =
        json!({"externalId": external_id, "amount": amount, "currency": "USD", "method": method, "status": status});
    if status == "failed" {
        body["failureReason"] = json!("card_declined");
    }
    body
}

#[tokio::test]
async fn events_follow_the_contract_and_reach_only_their_tenant() {
    let app = TestApp::spawn().await;
    let mut acme = open_socket(&app.watch_url("acme", "")).await;
    let mut globex = open_socket(&app.watch_url("globex", "")).await;
    let hello = next_json(&mut acme).await;
    assert_eq!(hello["type"], "hello");
    // A new feed: `seq` starts wherever its epoch starts, then counts by one.
    let base = hello["seq"].as_u64().unwrap();
    assert!(hello["epoch"].as_str().is_some_and(|epoch| !epoch.is_empty()));
    let globex_hello = next_json(&mut globex).await;
    assert_eq!(globex_hello["type"], "hello");
    let globex_base = globex_hello["seq"].as_u64().unwrap();

    let created = app.create("acme", payment("live_1", 12.5, "card", "succeeded")).await;
    let event = next_json(&mut acme).await;
    let mut keys: Vec<&str> = event.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["payment", "seq", "timestamp", "type"]);
    assert_eq!(event["type"], "payment_received");
    assert_eq!(event["seq"], base + 1);
    assert_eq!(event["payment"], created);
    assert!(event["timestamp"].as_str().unwrap().ends_with('Z'));

    app.create("acme", payment("live_2", 3.0, "paypal", "failed")).await;
    let failed = next_json(&mut acme).await;
    assert_eq!(
        (failed["type"].as_str(), failed["seq"].as_u64()),
        (Some("payment_failed"), Some(base + 2))
    );
    let id = created["id"].as_str().unwrap();
    let refund = app
        .http
        .post(app.url(&format!("/api/payments/{id}/refund")))
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_acme_ingest")
        .send()
        .await
        .unwrap();
    assert_eq!(refund.status(), 200);
    let refunded = next_json(&mut acme).await;
    assert_eq!(
        (refunded["type"].as_str(), refunded["seq"].as_u64()),
        (Some("payment_refunded"), Some(base + 3))
    );
    assert_eq!(refunded["payment"]["status"], "refunded");
    // A replay is not news.
    app.create("acme", payment("live_1", 12.5, "card", "succeeded")).await;

    // globex saw none of acme's events: its first event is its own.
    app.create("globex", payment("live_g", 1.0, "card", "succeeded")).await;
    let own = next_json(&mut globex).await;
    assert_eq!(
        (own["payment"]["tenantId"].as_str(), own["seq"].as_u64()),
        (Some("globex"), Some(globex_base + 1))
    );
    app.create("acme", payment("live_3", 1.0, "card", "succeeded")).await;
    assert_eq!(
        next_json(&mut acme).await["seq"],
        base + 4,
        "the replay published nothing"
    );
}

#[tokio::test]
async fn filters_choose_type_method_and_minimum_amount() {
    let app = TestApp::spawn().await;
    let mut watcher = open_socket(&app.watch_url(
        "acme",
        "&types=payment_failed,payment_refunded&methods=paypal&minAmount=10",
    ))
    .await;
    let base = next_json(&mut watcher).await["seq"].as_u64().unwrap();
    app.create("acme", payment("f1", 50.0, "paypal", "succeeded")).await; // wrong type
    app.create("acme", payment("f2", 50.0, "card", "failed")).await; // wrong method
    app.create("acme", payment("f3", 9.99, "paypal", "failed")).await; // too small
    app.create("acme", payment("f4", 10.0, "paypal", "failed")).await; // matches
    let event = next_json(&mut watcher).await;
    assert_eq!(event["payment"]["externalId"], "f4");
    assert_eq!(
        event["seq"],
        base + 4,
        "seq counts every event of the tenant, filtered or not"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_the_upgrade() {
    let app = TestApp::spawn().await;
    let get = |query: &str| {
        app.http
            .get(format!("http://{}/ws/payments?{query}", app.address))
            .send()
    };
    assert_error(get("tenant=acme").await.unwrap(), 401, "missing_credentials", "key").await;
    assert_error(
        get("tenant=acme&key=nope").await.unwrap(),
        401,
        "invalid_credentials",
        "not valid",
    )
    .await;
    assert_error(
        get("tenant=acme&key=pk_demo_globex_viewer").await.unwrap(),
        403,
        "tenant_mismatch",
        "acme",
    )
    .await;
    assert_error(
        get("tenant=acme&key=pk_demo_acme_ingest").await.unwrap(),
        403,
        "insufficient_role",
        "viewer",
    )
    .await;
    let valid = "tenant=acme&key=pk_demo_acme_viewer";
    assert_error(
        get(&format!("{valid}&types=payment_lost")).await.unwrap(),
        400,
        "invalid_parameter",
        "payment_lost",
    )
    .await;
    assert_error(
        get(&format!("{valid}&methods=cash")).await.unwrap(),
        400,
        "invalid_parameter",
        "cash",
    )
    .await;
    assert_error(
        get(&format!("{valid}&minAmount=0.001")).await.unwrap(),
        400,
        "invalid_parameter",
        "minAmount",
    )
    .await;
    assert_error(
        get(&format!("{valid}&since=last")).await.unwrap(),
        400,
        "invalid_parameter",
        "since",
    )
    .await;
    assert_error(
        get(&format!("{valid}&sinse=3")).await.unwrap(),
        400,
        "invalid_parameter",
        "sinse",
    )
    .await;
    assert_error(get(valid).await.unwrap(), 426, "websocket_required", "").await;
    let refused = connect_async(format!("ws://{}/ws/payments?tenant=acme", app.address)).await;
    assert!(refused.is_err(), "the WebSocket handshake itself is refused");
}

/// A tenant has at most `max_watchers` live connections on an instance:
/// one more is refused before the upgrade (429, `Retry-After`, in words),
/// another tenant is not affected, and a connection that closes makes room.
#[tokio::test]
async fn a_tenant_has_a_bounded_number_of_live_connections() {
    let app = TestApp::spawn_with(|config| config.limits.live.max_watchers = 2).await;
    let mut first = open_socket(&app.watch_url("acme", "")).await;
    let mut second = open_socket(&app.watch_url("acme", "")).await;
    for socket in [&mut first, &mut second] {
        assert_eq!(next_json(socket).await["type"], "hello", "joined the feed");
    }
    let refused = connect_async(app.watch_url("acme", "")).await;
    let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
        panic!("a third connection is refused before the upgrade: {refused:?}");
    };
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap()),
        Some("1")
    );
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["message"].as_str().unwrap().contains("2 live connections"),
        "{body}"
    );
    let mut globex = open_socket(&app.watch_url("globex", "")).await;
    assert_eq!(
        next_json(&mut globex).await["type"],
        "hello",
        "another tenant has its own"
    );

    first.close(None).await.unwrap();
    eventually("a closed connection makes room", Duration::from_secs(10), || async {
        connect_async(app.watch_url("acme", "")).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn another_epoch_or_an_unknown_seq_asks_for_a_resync() {
    let app = TestApp::spawn().await;
    let mut first = open_socket(&app.watch_url("acme", "")).await;
    let hello = next_json(&mut first).await;
    app.create("acme", payment("r1", 1.0, "card", "succeeded")).await;
    // Delivery is asynchronous (through Redis): wait until the feed has it.
    let seq = hello["seq"].as_u64().unwrap() + 1;
    assert_eq!(next_json(&mut first).await["seq"], seq);
    let epoch = hello["epoch"].as_str().unwrap();

    let stale_url = app.watch_url("acme", &format!("&since={seq}&epoch=from-before-a-restart"));
    let mut stale = open_after_hello(&stale_url).await;
    let resync = next_json(&mut stale).await;
    assert_eq!(resync, json!({"type": "resync_required", "epoch": epoch, "seq": seq}));
    let future_url = app.watch_url("acme", &format!("&since={}&epoch={epoch}", seq + 99));
    let mut future = open_socket(&future_url).await;
    next_json(&mut future).await;
    assert_eq!(next_json(&mut future).await["type"], "resync_required");
    // `since` alone: a seq of an earlier epoch is below every seq of this
    // one, and is recognised as such.
    let mut earlier = open_socket(&app.watch_url("acme", "&since=1")).await;
    next_json(&mut earlier).await;
    assert_eq!(next_json(&mut earlier).await["type"], "resync_required");
    // A client that did not ask to resume is never told to resync.
    let mut fresh = open_socket(&app.watch_url("acme", "")).await;
    next_json(&mut fresh).await;
    app.create("acme", payment("r2", 1.0, "card", "succeeded")).await;
    assert_eq!(next_json(&mut fresh).await["type"], "payment_received");
}

/// The next text frame of `socket`, parsed; pings on the way are read
/// (which is what makes the client answer them).
async fn next_text(socket: &mut Socket) -> Value {
    loop {
        match next_frame(socket).await {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON text frames"),
            Message::Ping(_) => {}
            other => panic!("a SPEC client got {other:?}"),
        }
    }
}

/// Reads `count` pings, answering them, and fails on any text frame.
async fn only_pings(socket: &mut Socket, count: usize) {
    for _ in 0..count {
        match next_frame(socket).await {
            Message::Ping(_) => {}
            other => panic!("a SPEC client got {other:?} where only a ping was due"),
        }
    }
}

async fn next_frame(socket: &mut Socket) -> Message {
    tokio::time::timeout(Duration::from_secs(15), socket.next())
        .await
        .expect("a frame in time")
        .expect("the connection stays open")
        .expect("a valid frame")
}

/// A client that follows SPEC §3 to the letter asks for nothing more, and
/// gets one `PaymentEvent` per text frame: no `hello`, no `heartbeat` text
/// beside the pings it answers (and it stays connected through them), and
/// on resuming the missed events or `resync_required`, nothing else. (That
/// it gets no `alert` frame is in alerts.rs, where alerts fire.)
#[tokio::test]
async fn a_client_that_knows_only_the_spec_gets_only_payment_events() {
    let heartbeat = Duration::from_millis(300);
    let app = with_heartbeat(heartbeat).await;
    let mut strict = open_socket(&app.spec_watch_url("acme", "")).await;
    // Where a dashboard would get `hello` and a `heartbeat` with each ping.
    only_pings(&mut strict, 3).await;
    let created = app.create("acme", payment("strict_1", 2.5, "card", "succeeded")).await;
    let event = next_text(&mut strict).await;
    assert_eq!(event["type"], "payment_received", "the first text frame: {event}");
    assert_eq!(event["payment"], created);
    let seq = event["seq"].as_u64().unwrap();
    // Answered pings keep it connected past what one unanswered one allows.
    only_pings(&mut strict, 3).await;
    app.create("acme", payment("strict_2", 1.0, "paypal", "failed")).await;
    assert_eq!(next_text(&mut strict).await["seq"], seq + 1);

    // Resuming: the missed events, from the first one after `since`.
    let mut resumed = open_socket(&app.spec_watch_url("acme", &format!("&since={}", seq - 1))).await;
    assert_eq!(next_text(&mut resumed).await["seq"], seq);
    assert_eq!(next_text(&mut resumed).await["seq"], seq + 1);
    // Or `resync_required`, SPEC's one control message, then the feed.
    let mut stale = open_socket(&app.spec_watch_url("acme", &format!("&since={seq}&epoch=another"))).await;
    let resync = next_text(&mut stale).await;
    assert_eq!(resync["type"], "resync_required", "{resync}");
    app.create("acme", payment("strict_3", 4.0, "card", "succeeded")).await;
    assert_eq!(next_text(&mut stale).await["seq"], seq + 2);
}

/// While 250 payments are ingested at a steady pace, a client's TCP
/// connection is cut at random moments; each time it reconnects with the
/// last `seq` it saw, and only that (`?since=`, as SPEC §3 says, no epoch).
/// It ends with every event exactly once, in order.
#[tokio::test]
async fn resume_after_cut_connections_misses_nothing_and_repeats_nothing() {
    let app = Arc::new(TestApp::spawn().await);
    const TOTAL: u64 = 250;
    let mut first = open_socket(&app.watch_url("acme", "")).await;
    let hello = next_json(&mut first).await;
    let base = hello["seq"].as_u64().unwrap();
    drop(first);

    let producer = {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            for index in 0..TOTAL {
                app.create(
                    "acme",
                    payment(&format!("cut_{index}"), 1.0 + index as f64, "card", "succeeded"),
                )
                .await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut rng = StdRng::seed_from_u64(42);
    let mut seen: Vec<u64> = Vec::new();
    let mut cuts = 0;
    while seen.len() < TOTAL as usize {
        let since = seen.last().copied().unwrap_or(base);
        let mut socket = open_after_hello(&app.watch_url("acme", &format!("&since={since}"))).await;
        let take = rng.random_range(1..40);
        for _ in 0..take {
            if seen.len() == TOTAL as usize {
                break;
            }
            let event = next_json(&mut socket).await;
            assert_ne!(event["type"], "resync_required", "still inside the replay window");
            seen.push(event["seq"].as_u64().unwrap());
        }
        // Cut the TCP connection without a closing handshake.
        drop(socket);
        cuts += 1;
    }
    producer.await.unwrap();
    assert!(cuts >= 5, "the connection was cut {cuts} times");
    let expected: Vec<u64> = (base + 1..=base + TOTAL).collect();
    assert_eq!(seen, expected, "every event once, in order");
}

/// A client whose socket takes almost nothing unless it reads: a small
/// receive buffer (set before connecting, so the window stays small) means
/// what the kernels can hold for it is the server's send buffer (at most
/// 4 MB here) plus a little, whatever the machine's receive-buffer
/// autotuning would otherwise allow. Returns it after its `hello`.
async fn small_buffer_client(app: &TestApp) -> Socket {
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(16 * 1024).unwrap();
    let stream = tcp.connect(app.address).await.unwrap();
    let (mut client, _) = tokio_tungstenite::client_async(app.watch_url("acme", ""), MaybeTlsStream::Plain(stream))
        .await
        .unwrap();
    assert_eq!(next_json(&mut client).await["type"], "hello");
    client
}

/// A real payment's event with a `failureReason` of `size` bytes, so few
/// events fill the socket buffers.
async fn big_event(app: &TestApp, size: usize) -> FeedItem {
    let created = app.create("acme", payment("big", 1.0, "card", "succeeded")).await;
    let mut big = created.clone();
    big["failureReason"] = json!("x".repeat(size));
    FeedItem::Payment(
        serde_json::from_value(json!({
            "type": "payment_received", "payment": big, "timestamp": created["createdAt"]
        }))
        .unwrap(),
    )
}

/// Reads `client` until its close frame: the code and reason, or `None` when
/// the connection ended without one.
/// A server whose watchers are pinged every `heartbeat`.
async fn with_heartbeat(heartbeat: Duration) -> TestApp {
    TestApp::spawn_with(|config| config.limits.live.heartbeat = heartbeat).await
}

async fn close_frame(client: &mut Socket) -> Option<(u16, String)> {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match client.next().await {
                Some(Ok(Message::Close(frame))) => {
                    return frame.map(|frame| (u16::from(frame.code), frame.reason.to_string()));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("the connection ends in time")
}

/// A client that closes gets its close answered (RFC 6455 §5.5.1), with
/// its own code, so it sees a clean close rather than a dropped connection.
#[tokio::test]
async fn a_client_that_closes_gets_its_close_answered() {
    let app = TestApp::spawn().await;
    let mut client = open_socket(&app.spec_watch_url("acme", "")).await;
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    };
    client.send(Message::Close(Some(frame))).await.unwrap();
    let (code, _) = close_frame(&mut client).await.expect("the close answered");
    assert_eq!(code, 1000);
}

/// A socket on `url` whose `hello` has been read.
async fn open_after_hello(url: &str) -> Socket {
    let mut socket = open_socket(url).await;
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    socket
}

/// A client that stops reading is closed with 4008 once it falls too far
/// behind, instead of the server buffering for it, and what the server held
/// for it is released.
#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off() {
    // A send limit longer than the test, so falling behind is what cuts it
    // off (on a busy machine a stalled frame could otherwise come first).
    let app = TestApp::spawn_with(|config| config.limits.live.send_timeout = Duration::from_secs(120)).await;
    let mut idle = small_buffer_client(&app).await;

    // 20,000 events of ~2 KB: far more than the socket buffers and the
    // watcher's queue of 1,024 events hold.
    let event = big_event(&app, 2_000).await;
    let hub = &app.state.live.hub;
    let before = hub.subscribe("acme", None, false).unwrap().latest_seq;
    for _ in 0..20 {
        app.state.live.publish("acme", vec![event.clone(); 1_000]).await;
    }
    // Through Redis the events reach the hub after `publish` returns: the
    // client reads nothing until they all have, or it could keep up with
    // them and never fall behind.
    eventually("the events reach the hub", Duration::from_secs(60), || async {
        hub.subscribe("acme", None, false).unwrap().latest_seq >= before + 20_000
    })
    .await;

    // The idle client's queue overflowed: after what the sockets buffered,
    // it finds a close frame with code 4008.
    let (code, reason) = close_frame(&mut idle).await.expect("a close frame");
    assert_eq!(code, 4008, "{reason}");
    assert_eq!(hub.disconnects(Disconnect::FellBehind), 1, "{reason}");
    eventually(
        "the slow watcher's queue is released",
        Duration::from_secs(10),
        || async { hub.watchers("acme") == 0 },
    )
    .await;
}

/// Each frame must be taken by the client's socket within the send limit:
/// a client that reads nothing while fewer events than its queue holds fill
/// the sockets is closed with 4008 when the limit passes, not after the
/// queue overflows.
#[tokio::test]
async fn a_frame_not_taken_within_the_send_limit_closes_with_4008() {
    let limit = Duration::from_secs(2);
    let app = TestApp::spawn_with(|config| config.limits.live.send_timeout = limit).await;
    let mut idle = small_buffer_client(&app).await;

    // 300 events of 30 KB (9 MB, twice what the sockets hold), far fewer
    // than the watcher's queue of 1,024: it cannot fall behind, only stall.
    let event = big_event(&app, 30_000).await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        app.state.live.publish("acme", vec![event.clone(); 100]).await;
    }
    let hub = &app.state.live.hub;
    eventually("the stalled watcher is given up", Duration::from_secs(30), || async {
        hub.disconnects(Disconnect::SendTimeout) == 1
    })
    .await;
    assert!(started.elapsed() >= limit, "not before the send limit passed");
    assert_eq!(hub.disconnects(Disconnect::FellBehind), 0);
    // The closing frame waits behind what the sockets hold, for another
    // send limit: a client that reads now finds it, after the rest of the
    // frame the send limit cut (without it, the close was read as that
    // frame's bytes and the client failed: seen in session 22).
    let (code, reason) = close_frame(&mut idle).await.expect("a close frame");
    assert_eq!(code, 4008);
    assert!(reason.contains("waited"), "{reason}");
}

/// Pings go out every heartbeat, each with a `heartbeat` text frame; a
/// client that does not answer one by the next is closed with 4001, while
/// one that answers stays connected.
#[tokio::test]
async fn a_client_that_withholds_pongs_is_closed_with_4001() {
    // Long enough that a busy machine never delays a pong by a whole one.
    let heartbeat = Duration::from_secs(1);
    let app = with_heartbeat(heartbeat).await;
    let mut silent = open_after_hello(&app.watch_url("acme", "")).await;
    // This client keeps reading, so its WebSocket library answers each ping.
    let mut answering = open_after_hello(&app.watch_url("acme", "")).await;
    let answering = tokio::spawn(async move {
        let (mut pings, mut beats) = (0, 0);
        let until = tokio::time::Instant::now() + heartbeat * 6;
        loop {
            match tokio::time::timeout_at(until, answering.next()).await {
                Err(_) => return (pings, beats, answering),
                Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
                // What a script, which sees no pings, keeps time by.
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(frame, serde_json::json!({"type": "heartbeat", "everyMs": 1000}));
                    beats += 1;
                }
                Ok(other) => panic!("an answering client got {other:?}"),
            }
        }
    });

    // The silent client reads nothing, so no pong leaves it.
    let hub = &app.state.live.hub;
    eventually("the silent client is closed", heartbeat * 20, || async {
        hub.disconnects(Disconnect::HeartbeatTimeout) == 1
    })
    .await;
    let (code, reason) = close_frame(&mut silent).await.expect("a close frame");
    assert_eq!((code, reason.as_str()), (4001, "heartbeat timeout"));

    let (pings, beats, mut answering) = answering.await.unwrap();
    assert!(pings >= 4, "{pings} pings in six heartbeats");
    assert_eq!(beats, pings, "a heartbeat frame with every ping");
    assert_eq!(hub.disconnects(Disconnect::HeartbeatTimeout), 1, "only the silent one");
    app.create("acme", payment("after_pings", 1.0, "card", "succeeded"))
        .await;
    assert_eq!(next_json(&mut answering).await["type"], "payment_received");
}

/// A client that sends without pause and never answers a ping is closed
/// with 4001 all the same, and the server goes on serving others. (Before
/// judging the pong missing the watcher reads at most `MAX_DRAIN` messages,
/// outside the task's budget; one client on loopback does not send fast
/// enough to reach that bound, which is defensive: this test passes without
/// it.)
#[tokio::test]
async fn a_client_that_floods_messages_and_never_answers_pings_is_closed_with_4001() {
    let heartbeat = Duration::from_secs(1);
    let app = with_heartbeat(heartbeat).await;
    let flooding = open_after_hello(&app.watch_url("acme", "")).await;
    let (mut sink, _stream) = flooding.split();
    // Never reads, so its WebSocket library sends no pong; sends until the
    // server closes the connection.
    let sending = tokio::spawn(async move {
        let mut sent = 0_u64;
        while sink.send(Message::text("{}")).await.is_ok() {
            sent += 1;
        }
        sent
    });
    let hub = &app.state.live.hub;
    eventually("the flooding client is closed", heartbeat * 20, || async {
        hub.disconnects(Disconnect::HeartbeatTimeout) == 1
    })
    .await;
    let sent = tokio::time::timeout(Duration::from_secs(30), sending)
        .await
        .expect("the client's sends fail once it is closed")
        .unwrap();
    assert!(sent > 64, "it sent more than one drain's worth: {sent}");
    // (Its closing frame is not asserted: a socket closed with unread data
    // in it is reset, and the reset may overtake the frame.)
    // The server goes on serving others.
    open_after_hello(&app.watch_url("acme", "")).await;
}

/// A feed that never lets its watcher idle still gets heartbeats through,
/// and the client's pongs read: the watcher serves the feed first, but not
/// only.
#[tokio::test]
async fn a_feed_that_never_pauses_keeps_its_heartbeat() {
    let heartbeat = Duration::from_secs(1);
    let app = with_heartbeat(heartbeat).await;
    // A small receive buffer: the client, not the publisher, sets the pace.
    let mut client = small_buffer_client(&app).await;
    let event = big_event(&app, 4096).await;
    // A thread of its own, beside the runtime the server and the client
    // share, keeps the watcher's channel full however fast it drains it.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishing = {
        let (hub, done) = (Arc::clone(&app.state.live.hub), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                // Always some queued, never near the watcher's limit (1,024):
                // its channel is never empty, and it never falls behind.
                if hub.queued("acme") < 896 {
                    hub.publish("acme", vec![event.clone(); 64]);
                } else {
                    std::thread::yield_now();
                }
            }
        })
    };
    let (mut pings, mut beats, mut payments) = (0, 0, 0);
    let until = tokio::time::Instant::now() + heartbeat * 6;
    for read in 0_u64.. {
        // A slow reader (about 4,000 frames a second): the watcher waits on
        // its socket while the publisher refills the channel, so each time
        // the watcher comes back, events are waiting.
        if read % 4 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Reading answers each ping with a pong.
        match tokio::time::timeout_at(until, client.next()).await {
            Err(_) => break,
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str::<Value>(&text).unwrap()["type"].as_str() {
                Some("heartbeat") => beats += 1,
                Some("payment_received") => payments += 1,
                other => panic!("unexpected frame {other:?}"),
            },
            Ok(other) => panic!("the client got {other:?}"),
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    publishing.join().unwrap();
    let hub = &app.state.live.hub;
    assert!(payments > 1_000, "the feed was busy: {payments} payments");
    assert!(pings >= 4, "{pings} pings in six heartbeats");
    assert_eq!(beats, pings, "a heartbeat frame with every ping");
    for cause in [
        Disconnect::HeartbeatTimeout,
        Disconnect::FellBehind,
        Disconnect::SendTimeout,
    ] {
        assert_eq!(hub.disconnects(cause), 0, "{cause:?}");
    }
}

/// A message of exactly `MAX_CLIENT_MESSAGE` bytes is read whole (in many
/// reads: the server reads a client's socket 1 KiB at a time) and ignored;
/// the feed goes on on the same connection.
#[tokio::test]
async fn a_client_message_at_the_limit_is_read_and_the_feed_goes_on() {
    let app = TestApp::spawn().await;
    let mut socket = open_socket(&app.spec_watch_url("acme", "")).await;
    let largest = "x".repeat(paypulse_server::live::MAX_CLIENT_MESSAGE);
    socket.send(Message::text(largest)).await.unwrap();
    // The ping's pong proves the message before it was read to its end.
    socket.send(Message::Ping("after".into())).await.unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Pong(payload))) if payload.as_ref() == b"after" => return true,
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return false,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(answered, Ok(true), "the pong after the largest message");
    let created = app
        .create("acme", payment("after_large", 5.0, "card", "succeeded"))
        .await;
    assert_eq!(next_json(&mut socket).await["payment"]["id"], created["id"]);
}

/// A client may send at most `MAX_CLIENT_MESSAGE` bytes in one message (it
/// has nothing to send but pongs and a close): a bigger one ends its
/// connection, and the server serves the next client as before.
#[tokio::test]
async fn a_client_message_over_the_limit_ends_that_connection_only() {
    let app = TestApp::spawn().await;
    let mut flooder = open_socket(&app.spec_watch_url("acme", "")).await;
    let too_big = "x".repeat(paypulse_server::live::MAX_CLIENT_MESSAGE + 1);
    flooder.send(Message::text(too_big)).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match flooder.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection ends after an oversized message");

    let mut next = open_socket(&app.spec_watch_url("acme", "")).await;
    let created = app
        .create("acme", payment("after_flood", 5.0, "card", "succeeded"))
        .await;
    assert_eq!(next_json(&mut next).await["payment"]["id"], created["id"]);
}

/// A server that shuts down (a deploy, a scale-in) closes its live sockets
/// with 1012 (service restart) rather than dropping them, and waits for
/// them; each client resumes with `since` on another instance and misses
/// nothing.
#[tokio::test]
async fn a_server_shutting_down_closes_its_sockets_with_1012_and_they_resume_elsewhere() {
    let mut leaving = TestApp::spawn().await;
    let staying = TestApp::spawn_sharing(&leaving).await;
    // As a client that knows only SPEC §3 asks: no `control`, so no hello.
    let mut socket = open_socket(&leaving.spec_watch_url("acme", "")).await;
    leaving
        .create("acme", payment("before_the_restart", 1.0, "card", "succeeded"))
        .await;
    let seen = next_json(&mut socket).await["seq"].as_u64().unwrap();

    leaving.stop_server();
    let (code, reason) = close_frame(&mut socket)
        .await
        .expect("a close frame, not a dropped connection");
    assert_eq!(code, 1012, "{reason}");
    leaving.stop_server_and_wait().await;

    staying
        .create("acme", payment("after_the_restart", 2.0, "card", "succeeded"))
        .await;
    let mut resumed = open_socket(&staying.spec_watch_url("acme", &format!("&since={seen}"))).await;
    let next = next_json(&mut resumed).await;
    assert_eq!(next["seq"].as_u64(), Some(seen + 1), "{next}");
    assert_eq!(next["payment"]["externalId"], "after_the_restart");
}
