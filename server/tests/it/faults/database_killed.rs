//! MongoDB killed with SIGKILL while payments arrive, then started again
//! over its data. Killed, it closes no connection politely and finishes no
//! transaction: the server's in-flight commits fail half-way, from the
//! server's side, unknown. Every payment answered 2xx is stored, once; every
//! one refused was answered 503 with `Retry-After` and, sent again as
//! SPEC's clients do, is stored once (it may have committed before its
//! answer was lost: then the retry is a replay); and `reconcile` finds the
//! rollups equal to the raw payments, since a batch and its rollups are one
//! transaction. The database syncs each commit before acknowledging it, as
//! MongoDB's journal does for a majority write concern.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;

use super::PrivateDatabase;
use crate::common::{TestApp, card_payment, eventually};

/// Senders ingesting at once.
const SENDERS: usize = 4;

/// What the senders were told.
#[derive(Default)]
struct Answers {
    acknowledged: Vec<String>,
    refused: Vec<String>,
}

async fn send(app: &TestApp, external_id: &str) -> reqwest::Response {
    app.ingest_post("acme", "/api/payments", &card_payment(external_id, 2.0))
        .send()
        .await
        .expect("the server answers")
}

#[tokio::test]
async fn a_database_killed_during_ingest_loses_no_acknowledged_payment_and_no_rollup() {
    let mut database = PrivateDatabase::start_synced(Duration::from_secs(5));
    let app = Arc::new(TestApp::spawn_with(|config| config.database.mongodb_uri = database.uri()).await);
    let answers: Arc<Mutex<Answers>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (app, answers, stop) = (Arc::clone(&app), Arc::clone(&answers), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut index = 0;
                while !stop.load(Ordering::Relaxed) {
                    let external_id = format!("killed_{sender}_{index}");
                    index += 1;
                    let response = send(&app, &external_id).await;
                    let status = response.status();
                    if status.is_success() {
                        answers.lock().unwrap().acknowledged.push(external_id);
                    } else {
                        let retry_after = response.headers().get("retry-after").cloned();
                        assert_eq!(
                            status,
                            503,
                            "{external_id}: {}",
                            response.text().await.unwrap_or_default()
                        );
                        assert_eq!(retry_after.expect("Retry-After with a 503"), "1");
                        answers.lock().unwrap().refused.push(external_id);
                    }
                }
            })
        })
        .collect();
    eventually("payments flow", Duration::from_secs(60), || async {
        answers.lock().unwrap().acknowledged.len() >= 40
    })
    .await;
    database.kill();
    eventually("ingest is refused", Duration::from_secs(60), || async {
        answers.lock().unwrap().refused.len() >= 2 * SENDERS
    })
    .await;
    database.start_again();
    eventually("ingest works again", Duration::from_secs(60), || async {
        send(&app, "after_restart").await.status() == 201
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for sender in join_all(senders).await {
        sender.expect("a sender saw only 2xx and 503 answers");
    }
    let Answers { acknowledged, refused } = std::mem::take(&mut *answers.lock().unwrap());

    super::assert_stored_once(&app, "acme", &acknowledged).await;
    // Sent again, a refused payment is stored: new (201), or a replay (200)
    // of one whose commit landed before the database died.
    let mut replays = 0;
    for external_id in &refused {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let response = send(&app, external_id).await;
            if response.status() == 503 && std::time::Instant::now() < deadline {
                let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            match response.status().as_u16() {
                201 => {}
                200 => replays += 1,
                other => panic!("{external_id} sent again: {other}"),
            }
            break;
        }
    }
    assert_eq!(
        app.stored_count("acme").await,
        (acknowledged.len() + refused.len() + 1) as u64,
        "every payment once, none lost"
    );
    let (clean, report) = crate::reconcile::reconcile(&app, false);
    assert!(clean, "the rollups equal the raw payments after the crash: {report}");
    eprintln!(
        "{} acknowledged, {} refused ({replays} of them had committed) around the kill",
        acknowledged.len(),
        refused.len()
    );
}
