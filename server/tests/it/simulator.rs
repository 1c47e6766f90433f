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
/// Payments per second per tenant, on average over the day. The simulator
/// shapes it by the tenant's daily rhythm: at the quietest hour a tenant gets
/// about 0.3 of it (15 a second), and the three tenants are never all at
/// their quietest at once.
const RATE: f64 = 50.0;
/// Payments each tenant must have before the server is stopped.
const BEFORE_STOP: u64 = 40;
/// The shortest time the test watches for payments after the stop.
const QUIET_WINDOW: Duration = Duration::from_secs(3);
/// How many of the gaps between payments seen while the simulator ran the
/// quiet window lasts at least.
const GAPS_IN_WINDOW: u32 = 30;

/// Payments and refunds of `tenant` stored now.
async fn stored(app: &TestApp, tenant: &str) -> (u64, u64) {
    let payments = app.store.payments();
    let all = payments.count_documents(doc! { "tenantId": tenant }).await.unwrap();
    let refunded = payments
        .count_documents(doc! { "tenantId": tenant, "status": "refunded" })
        .await
        .unwrap();
    (all, refunded)
}

#[tokio::test]
async fn the_simulator_feeds_every_tenant_through_ingest() {
    let mut app = TestApp::spawn_with(|config| {
        config.simulate = true;
        config.simulate_rate = RATE;
    })
    .await;
    let started = Instant::now();
    let mut generated = 0;
    for tenant in TENANTS {
        loop {
            let (count, _) = stored(&app, tenant).await;
            if count >= BEFORE_STOP {
                generated += count;
                break;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{tenant} got only {count} simulated payments"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // The mean gap between payments as this machine produced them, start-up
    // included (so it errs long). The window below lasts at least 30 of
    // them: a simulator that kept running would, by Poisson arrivals, write
    // nothing in it with a probability of about e^-30 (and far less at the
    // nominal rate, where 3 s is ~100 payments per tenant), so a payment in
    // the window means the simulator did not stop.
    let mean_gap = started.elapsed() / u32::try_from(generated).unwrap();
    let window = QUIET_WINDOW.max(mean_gap * GAPS_IN_WINDOW);

    app.stop_server_and_wait().await;
    // The simulator's tasks are cancelled, but payments it had queued still
    // commit. The writer is first in, first out: once a payment queued now is
    // written, everything queued before it is too.
    let barrier = app.write_behind_the_queue("acme", "after_the_stop").await;
    let settled: Vec<(u64, u64)> = futures::future::join_all(TENANTS.map(|tenant| stored(&app, tenant))).await;

    // Watching, not waiting for a condition: the claim is that nothing
    // happens during the window.
    let quiet_since = Instant::now();
    while quiet_since.elapsed() < window {
        let now: Vec<(u64, u64)> = futures::future::join_all(TENANTS.map(|tenant| stored(&app, tenant))).await;
        assert_eq!(
            now,
            settled,
            "(payments, refunds) of {TENANTS:?} changed {:?} after the server stopped (window {window:?})",
            quiet_since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    for tenant in TENANTS {
        let stored = app.store.tenant(tenant).await.unwrap().unwrap();
        let payments: Vec<PaymentDoc> = app
            .store
            .payments()
            .find(doc! { "tenantId": tenant, "_id": { "$ne": barrier.id } })
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
        // Every queued write has committed: the rollups equal the payments,
        // with no waiting.
        let drift = app.store.drift(tenant).await.unwrap();
        assert!(drift.is_empty(), "{tenant} rollups drifted: {drift:?}");
    }
}
