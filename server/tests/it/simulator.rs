//! The simulator feeds every tenant through the real ingest path: payments
//! arrive in each tenant's currency with its methods, they are counted in the
//! rollups exactly, and they stop when the server stops.

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::doc;
use paypulse_server::store::documents::PaymentDoc;
use paypulse_shared::payment::PaymentStatus;

use crate::common::{TENANTS, TestApp};

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn the_simulator_feeds_every_tenant_through_ingest() {
    let mut app = TestApp::spawn_with(|config| {
        config.simulate = true;
        config.simulate_rate = 50.0;
    })
    .await;
    let started = Instant::now();
    for tenant in TENANTS {
        loop {
            let count = app
                .store
                .payments()
                .count_documents(doc! { "tenantId": tenant })
                .await
                .unwrap();
            if count >= 40 {
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{tenant} got only {count} simulated payments"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    app.stop_server();

    for tenant in TENANTS {
        let stored = app.store.tenant(tenant).await.unwrap().unwrap();
        let payments: Vec<PaymentDoc> = app
            .store
            .payments()
            .find(doc! { "tenantId": tenant })
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert!(
            payments
                .iter()
                .all(|payment| payment.external_id.starts_with(&format!("sim_{tenant}_")))
        );
        assert!(
            payments
                .iter()
                .all(|payment| payment.currency == stored.currency && payment.amount_minor > 0)
        );
        assert!(payments.iter().all(|payment| stored.methods.contains(&payment.method)));
        assert!(payments.iter().any(|payment| payment.status != PaymentStatus::Failed));
        assert!(
            payments
                .iter()
                .all(|payment| (payment.status == PaymentStatus::Failed) == payment.failure_reason.is_some())
        );
        // Writes already queued may still commit after the stop; the rollups
        // must equal the payments once they have.
        loop {
            let drift = app.store.drift(tenant).await.unwrap();
            if drift.is_empty() {
                break;
            }
            assert!(started.elapsed() < DEADLINE, "{tenant} rollups drifted: {drift:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
