//! The group-commit writer's promises: its queue is bounded (when it is
//! full, callers wait, and nothing beyond the bound is held), waiting loses
//! nothing; and a transaction that keeps meeting conflicting writes is tried
//! a bounded number of times, then answered with a 503 that says to retry,
//! having written nothing.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use mongodb::bson::doc;
use paypulse_server::store::names;
use paypulse_server::store::rollups::{CellKey, Level};
use paypulse_server::store::transaction::TRANSACTION_ATTEMPTS;
use paypulse_server::writer::WriterLimits;
use paypulse_shared::time::format_utc;
use serde_json::json;

use crate::common::{TestApp, assert_error, card_payment, eventually};

/// While the database answers nothing, 40 callers meet a queue of 8 (and a
/// writer holding a batch of 4): the queue fills and stays at its bound,
/// every caller waits (none is refused, none answered), and once the
/// database answers again every payment is written exactly once.
#[tokio::test]
async fn a_full_queue_makes_callers_wait_and_loses_nothing() {
    const CALLERS: usize = 40;
    let limits = WriterLimits { queue: 8, batch: 4 };
    let (app, proxy) = TestApp::behind_stall_proxy(|config| {
        config.limits.writer = limits;
    })
    .await;

    proxy.pause();
    let callers: Vec<_> = (0..CALLERS)
        .map(|index| {
            let request = app
                .ingest_post("acme", "/api/payments", &card_payment(&format!("waiting_{index}"), 2.0))
                .send();
            tokio::spawn(async move { request.await.map(|response| response.status().as_u16()) })
        })
        .collect();
    let ingest = &app.state.writer;
    eventually("the queue fills", Duration::from_secs(20), || async {
        ingest.queued() == limits.queue
    })
    .await;
    // Held for a while, it stays at its bound and nobody is answered.
    for _ in 0..50 {
        assert!(ingest.queued() <= limits.queue, "{} queued", ingest.queued());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ingest.queued(), limits.queue);
    assert!(
        callers.iter().all(|caller| !caller.is_finished()),
        "callers wait, none is refused"
    );

    proxy.resume();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap(), 201);
    }
    let stored = app.stored_count("acme").await;
    assert_eq!(stored, CALLERS as u64 + 1);
    assert!(app.store.drift("acme").await.unwrap().is_empty());
}

/// Another transaction holds the rollup document a payment must update, and
/// never lets go: the writer tries exactly `TRANSACTION_ATTEMPTS` times,
/// answers 503 `unavailable` with `Retry-After`, and leaves no trace; the
/// same request succeeds once the conflict is gone.
#[tokio::test]
async fn a_transaction_that_keeps_conflicting_is_given_up_after_its_attempts() {
    let app = TestApp::spawn().await;
    // A fixed past instant (to the millisecond), so the documents the
    // payment touches are known.
    let at = Utc::now() - TimeDelta::hours(2);
    let at = chrono::DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap();
    let mut body = card_payment("contended", 3.0);
    body["createdAt"] = json!(format_utc(&at));
    // An earlier payment of the same quarter: the rollup documents exist.
    let mut earlier = card_payment("same_quarter", 1.0);
    earlier["createdAt"] = json!(format_utc(&at));
    app.create("acme", earlier).await;
    let quarter = CellKey {
        tenant_id: "acme".into(),
        start: Level::Quarter.floor(at, chrono_tz::UTC),
        method: "card".into(),
    };
    let client = app.store.database().client().clone();
    let mut blocker = client.start_session().await.unwrap();
    blocker.start_transaction().await.unwrap();
    app.store
        .database()
        .collection::<mongodb::bson::Document>(names::ROLLUPS)
        .update_one(doc! { "_id": quarter.document_id() }, doc! { "$inc": { "v": 1 } })
        .session(&mut blocker)
        .await
        .unwrap();

    let retries_before = app.store.transaction_retries();
    let response = app.ingest_post("acme", "/api/payments", &body).send().await.unwrap();
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().unwrap()),
        Some("1")
    );
    assert_error(response, 503, "unavailable", "retry").await;
    assert_eq!(
        app.store.transaction_retries() - retries_before,
        TRANSACTION_ATTEMPTS as u64 - 1,
        "one first attempt and every retry, no more"
    );

    blocker.abort_transaction().await.unwrap();
    let written = app
        .store
        .payments()
        .count_documents(doc! { "tenantId": "acme", "externalId": "contended" })
        .await
        .unwrap();
    assert_eq!(written, 0, "nothing of the failed attempts remains");
    let retried = app.ingest_post("acme", "/api/payments", &body).send().await.unwrap();
    assert_eq!(retried.status(), 201);
    assert!(app.store.drift("acme").await.unwrap().is_empty());
}
