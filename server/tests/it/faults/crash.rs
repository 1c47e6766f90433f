//! The real binary killed with SIGKILL in the middle of ingest, then
//! started again. Every payment it answered 2xx is stored, once; a replay
//! of one is a replay, not a second payment; and `reconcile` finds the
//! rollups equal to the raw payments: a crash cannot leave a payment
//! counted twice or not at all, since each batch of payments and its
//! rollups are one transaction.
//!
//! The killed process leaves its last transaction open, holding the
//! documents it wrote, until the database's transaction lifetime aborts it
//! (mongod's `transactionLifetimeLimitSeconds`, 60 s by default): until
//! then the new process's writes to those documents conflict, are retried
//! and may be answered 503. The test's database has a lifetime of
//! [`TRANSACTION_LIFETIME`], and the client below does what SPEC's clients
//! do with a 503: it waits `Retry-After` and sends the same payment again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;

use super::PrivateDatabase;
use crate::common::{TestApp, card_payment, eventually};
use crate::process::{ServerProcess, free_port};

/// How long the database keeps a transaction nobody finishes.
const TRANSACTION_LIFETIME: Duration = Duration::from_secs(5);

/// Senders ingesting at once.
const SENDERS: usize = 8;

#[tokio::test]
async fn a_server_killed_during_ingest_loses_no_acknowledged_payment_and_no_rollup() {
    let database = PrivateDatabase::start(TRANSACTION_LIFETIME);
    let app = TestApp::spawn_with(|config| config.database.mongodb_uri = database.uri()).await;
    let port = free_port();
    let mut server = ServerProcess::start_at(&app, port, true).await;
    let base = server.base.clone();
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (http, base, acknowledged) = (app.http.clone(), base.clone(), Arc::clone(&acknowledged));
            tokio::spawn(async move {
                // Until the server is gone: each answered payment recorded.
                for index in 0.. {
                    let external_id = format!("crash_{sender}_{index}");
                    let sent = http
                        .post(format!("http://{base}/api/payments"))
                        .header("X-Tenant-Id", "acme")
                        .bearer_auth("pk_demo_acme_ingest")
                        .json(&card_payment(&external_id, 1.0))
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status().is_success() => {
                            acknowledged.lock().unwrap().push(external_id);
                        }
                        Ok(response) => panic!("{external_id}: {}", response.status()),
                        Err(_) => return index,
                    }
                }
                unreachable!("the loop ends when the server is gone")
            })
        })
        .collect();
    eventually("payments flow", Duration::from_secs(30), || async {
        acknowledged.lock().unwrap().len() >= 300
    })
    .await;
    server.kill();
    let sent: Vec<_> = join_all(senders).await.into_iter().map(Result::unwrap).collect();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        sent.iter().all(|&count| count > 0),
        "every sender was cut off mid-stream: {sent:?}"
    );

    let server = ServerProcess::start_at(&app, port, true).await;
    super::assert_stored_once(&app, "acme", &acknowledged).await;
    // Sent again after the restart, an acknowledged payment is a replay
    // (once the dead process's transaction is gone, a 503 until then).
    for external_id in acknowledged.iter().rev().take(3) {
        let deadline = std::time::Instant::now() + TRANSACTION_LIFETIME * 6;
        loop {
            let replay = app
                .http
                .post(server.url("/api/payments"))
                .header("X-Tenant-Id", "acme")
                .bearer_auth("pk_demo_acme_ingest")
                .json(&card_payment(external_id, 1.0))
                .send()
                .await
                .unwrap();
            if replay.status() == 503 && std::time::Instant::now() < deadline {
                let wait: u64 = replay.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            assert_eq!(replay.status(), 200, "{external_id} replays");
            break;
        }
    }
    let (clean, report) = crate::reconcile::reconcile(&app, false);
    assert!(clean, "the rollups equal the raw payments after the crash: {report}");
}
