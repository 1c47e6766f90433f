//! A database that accepts connections but answers nothing (a stalled
//! disk, a lock held forever): every API request is answered within the
//! request deadline, 503 with `Retry-After`, instead of holding its
//! connection and memory for as long as the database stays silent; once it
//! answers again, a client that sent each refused payment again has every
//! payment exactly once (a write that was already queued is a replay).

use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::common::{TestApp, assert_error, card_payment};

const DEADLINE: Duration = Duration::from_secs(1);
const CALLERS: usize = 10;

#[tokio::test]
async fn with_the_database_silent_every_request_is_answered_within_the_deadline() {
    let (app, proxy) = TestApp::behind_stall_proxy(|config| {
        config.limits.request_deadline = DEADLINE;
    })
    .await;

    proxy.pause();
    let ids: Vec<String> = (0..CALLERS).map(|index| format!("silent_{index}")).collect();
    let answers = join_all(ids.iter().map(|external_id| async {
        let sent = Instant::now();
        let response = app
            .ingest_post("acme", "/api/payments", &card_payment(external_id, 2.0))
            .send()
            .await
            .unwrap();
        (sent.elapsed(), response)
    }))
    .await;
    for (took, response) in answers {
        assert!(took < DEADLINE * 4, "answered after {took:?}");
        assert_eq!(response.headers()["retry-after"], "1");
        assert_error(response, 503, "unavailable", "retry").await;
    }
    let read = app.viewer_get("acme", "/api/payments?limit=5").send().await.unwrap();
    assert_eq!(read.status(), 503, "an uncached read too");

    proxy.resume();
    for external_id in &ids {
        let again = app
            .ingest_post("acme", "/api/payments", &card_payment(external_id, 2.0))
            .send()
            .await
            .unwrap();
        // 201 if the refused request was never written, 200 if the writer
        // made it after all: either way, one payment.
        assert!(
            matches!(again.status().as_u16(), 200 | 201),
            "{external_id}: {}",
            again.status()
        );
    }
    let stored = app.stored_count("acme").await;
    assert_eq!(stored, CALLERS as u64 + 1, "every payment once");
    assert!(app.store.drift("acme").await.unwrap().is_empty());
}
