//! `seed` is idempotent: a second run with the same flags changes nothing.

use mongodb::bson::doc;
use paypulse_server::seed::{self, SeedArgs};

use crate::common::TestApp;

#[tokio::test]
async fn seeding_twice_inserts_nothing_the_second_time() {
    let app = TestApp::spawn().await;
    let args = SeedArgs {
        database: paypulse_server::config::DatabaseConfig::new(crate::common::mongodb_uri(), "unused"),
        tenants: vec!["acme".into(), "initech".into()],
        days: 2,
        rate: 5.0,
        demo_keys: true,
        random_seed: 9,
    };
    seed::seed(&app.store, &args).await.unwrap();
    let payments = app.store.payments().count_documents(doc! {}).await.unwrap();
    assert!(payments > 0);
    let tenants = all_tenants(&app).await;
    seed::seed(&app.store, &args).await.unwrap();
    assert_eq!(app.store.payments().count_documents(doc! {}).await.unwrap(), payments);
    let again = all_tenants(&app).await;
    assert_eq!(again, tenants, "tenants and their keys are unchanged");
    for tenant in ["acme", "initech"] {
        assert!(
            app.store.drift(tenant).await.unwrap().is_empty(),
            "seeded rollups of {tenant} match its payments"
        );
    }
    let acme = again.iter().find(|tenant| tenant.id == "acme").unwrap();
    assert_eq!(acme.api_keys.len(), 3, "one viewer, one ingest and one admin demo key");
    assert!(
        acme.api_keys
            .iter()
            .all(|key| key.hash.len() == 64 && !key.hash.contains("pk_demo"))
    );

    let from = paypulse_shared::time::format_utc(&(chrono::Utc::now() - chrono::TimeDelta::days(3)));
    let metrics = app
        .json("initech", &format!("/api/analytics/metrics?from={from}"))
        .await;
    assert!(metrics["count"].as_u64().unwrap() > 0);
    assert_eq!(metrics["currency"], "INR");
}

async fn all_tenants(app: &TestApp) -> Vec<paypulse_server::store::documents::TenantDoc> {
    use futures::TryStreamExt;
    app.store
        .tenants()
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// Production seeds without demo keys: several tenants without any key
/// must not collide on the key index (they once did, on a null hash).
#[tokio::test]
async fn tenants_without_keys_can_be_seeded_side_by_side() {
    let app = TestApp::spawn().await;
    let args = SeedArgs {
        database: paypulse_server::config::DatabaseConfig::new(crate::common::mongodb_uri(), "unused"),
        tenants: vec!["keyless-one".into(), "keyless-two".into()],
        days: 1,
        rate: 1.0,
        demo_keys: false,
        random_seed: 3,
    };
    seed::seed(&app.store, &args)
        .await
        .expect("seeding tenants without keys");
    let mut keyless: Vec<_> = all_tenants(&app)
        .await
        .into_iter()
        .filter(|tenant| tenant.api_keys.is_empty())
        .map(|tenant| tenant.id)
        .collect();
    keyless.sort_unstable();
    assert_eq!(keyless, ["keyless-one", "keyless-two"]);
}
