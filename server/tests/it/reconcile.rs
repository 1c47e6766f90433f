//! `reconcile`: the command finds rollups that differ from the raw payments
//! (exit status non-zero), `--repair` rewrites them, and analytics then serve
//! the true numbers again, at both rollup levels (quarters and local hours).
//! A database in the first rollup layout is rebuilt at start.

use std::process::Command;

use chrono::{TimeDelta, Utc};
use mongodb::bson::{Document, doc};
use paypulse_server::store::documents::to_bson;
use paypulse_server::store::rollups::Level;
use paypulse_shared::buckets::floor_local;
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::stats::cell_start;
use paypulse_shared::time::format_utc;
use paypulse_shared::wire::Bucket;

use crate::common::{TestApp, payment};

/// Runs the real `paypulse-server reconcile` against the test's database.
pub fn reconcile(app: &TestApp, repair: bool) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_paypulse-server"));
    command
        .arg("reconcile")
        .args(["--tenants", "acme"])
        .env("MONGODB_URI", &app.state.config.database.mongodb_uri)
        .env("MONGODB_DB", &app.state.config.database.mongodb_db);
    if repair {
        command.arg("--repair");
    }
    let output = command.output().expect("running paypulse-server reconcile");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn reconcile_reports_drift_and_repair_restores_the_true_numbers() {
    let app = TestApp::spawn().await;
    // Two whole cells well inside the last 24 hours.
    let first = cell_start(Utc::now() - TimeDelta::hours(3));
    let second = first + TimeDelta::minutes(15);
    app.insert(&[
        payment(
            "acme",
            first + TimeDelta::minutes(1),
            1_000,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment(
            "acme",
            first + TimeDelta::minutes(2),
            2_500,
            "paypal",
            PaymentStatus::Failed,
        ),
        payment(
            "acme",
            second + TimeDelta::minutes(3),
            4_000,
            "card",
            PaymentStatus::Refunded,
        ),
    ])
    .await;
    // A fixed range, so that answers compare whole (the default window moves).
    let metrics = format!(
        "/api/analytics/metrics?from={}&to={}",
        format_utc(&(first - TimeDelta::hours(1))),
        format_utc(&(second + TimeDelta::hours(1)))
    );
    let truth = app.json("acme", &metrics).await;
    let day = floor_local(first, Bucket::Day, chrono_tz::UTC);
    let trends = format!(
        "/api/analytics/trends?period=month&from={}&to={}",
        format_utc(&(day - TimeDelta::days(2))),
        format_utc(&(day + TimeDelta::days(3)))
    );
    let trend_truth = app.json("acme", &trends).await;

    let (clean, report) = reconcile(&app, false);
    assert!(clean, "fresh rollups reconcile cleanly: {report}");

    // Damage of three kinds in the quarters (a wrong counter, a lost cell, a
    // phantom method) and a wrong counter in an hour and in a day.
    let quarters = app.store.rollups(Level::Quarter);
    let hours = app.store.rollups(Level::Hour);
    let first_id = format!("acme|{}", first.timestamp_millis());
    let second_id = format!("acme|{}", second.timestamp_millis());
    let hour = floor_local(first, Bucket::Hour, chrono_tz::UTC);
    // As a bug in our own writes would: every write bumps `v`.
    let inflate =
        doc! { "$inc": { "methods.card.succeeded": 5_i64, "methods.card.volumeMinor": 9_000_i64, "v": 1_i64 } };
    quarters
        .update_one(doc! { "_id": &first_id }, inflate.clone())
        .await
        .unwrap();
    let hour_id = format!("acme|{}", hour.timestamp_millis());
    hours
        .update_one(doc! { "_id": &hour_id }, inflate.clone())
        .await
        .unwrap();
    let day_id = format!("acme|{}", day.timestamp_millis());
    app.store
        .rollups(Level::Day)
        .update_one(doc! { "_id": &day_id }, inflate)
        .await
        .unwrap();
    quarters
        .update_one(
            doc! { "_id": &first_id },
            doc! { "$set": { "methods.bank_transfer": {
                "succeeded": 1_i64, "failed": 0_i64, "refunded": 0_i64, "volumeMinor": 700_i64, "refundedMinor": 0_i64,
            } } },
        )
        .await
        .unwrap();
    quarters.delete_one(doc! { "_id": &second_id }).await.unwrap();
    let drift = app.store.drift("acme").await.unwrap();
    let drifted: Vec<(Level, i64, &str)> = drift
        .iter()
        .map(|cell| (cell.level, cell.key.start.timestamp_millis(), cell.key.method.as_str()))
        .collect();
    assert_eq!(
        drifted,
        vec![
            (Level::Quarter, first.timestamp_millis(), "bank_transfer"),
            (Level::Quarter, first.timestamp_millis(), "card"),
            (Level::Quarter, second.timestamp_millis(), "card"),
            (Level::Hour, hour.timestamp_millis(), "card"),
            (Level::Day, day.timestamp_millis(), "card"),
        ]
    );
    // The damage shows in analytics: this is what reconcile exists for.
    app.state.cache.invalidate("acme").await;
    assert_ne!(app.json("acme", &metrics).await, truth);
    assert_ne!(app.json("acme", &trends).await, trend_truth);

    let (clean, report) = reconcile(&app, false);
    assert!(!clean, "drift makes reconcile fail: {report}");
    assert!(
        report.contains("5 cells differ"),
        "the report counts the cells: {report}"
    );
    let (repaired, report) = reconcile(&app, true);
    assert!(repaired, "--repair succeeds: {report}");
    assert!(app.store.drift("acme").await.unwrap().is_empty());
    let first_document: Document = quarters.find_one(doc! { "_id": &first_id }).await.unwrap().unwrap();
    let methods = first_document.get_document("methods").unwrap();
    assert!(
        !methods.contains_key("bank_transfer"),
        "the phantom method is removed, not zeroed: {methods}"
    );
    app.state.cache.invalidate("acme").await;
    assert_eq!(app.json("acme", &metrics).await, truth);
    assert_eq!(app.json("acme", &trends).await, trend_truth);
}

#[tokio::test]
async fn a_database_in_an_earlier_layout_is_rebuilt_at_start() {
    let app = TestApp::spawn().await;
    let at = Utc::now() - TimeDelta::hours(2);
    app.insert(&[
        payment("acme", at, 1_000, "card", PaymentStatus::Succeeded),
        payment("globex", at, 3_000, "paypal", PaymentStatus::Succeeded),
    ])
    .await;
    // What a database written by the first layout looks like: no per-cell
    // rollups yet, and the old collection beside them.
    for level in Level::ALL {
        app.store.rollups(level).delete_many(doc! {}).await.unwrap();
    }
    let legacy = app.store.database().collection::<Document>("rollups");
    legacy
        .insert_one(doc! { "_id": "acme|0|card", "tenantId": "acme", "cell": to_bson(at), "method": "card" })
        .await
        .unwrap();
    assert!(!app.store.drift("acme").await.unwrap().is_empty());

    let restarted = paypulse_server::store::Store::connect(&app.state.config.database)
        .await
        .unwrap();
    for tenant in ["acme", "globex"] {
        assert!(restarted.drift(tenant).await.unwrap().is_empty(), "{tenant} rebuilt");
    }
    let collections = restarted.database().list_collection_names().await.unwrap();
    assert!(
        !collections.iter().any(|name| name == "rollups"),
        "the old collection is dropped: {collections:?}"
    );

    // A database from before day rollups existed gets them at start.
    restarted.rollups(Level::Day).drop().await.unwrap();
    assert!(!restarted.drift("acme").await.unwrap().is_empty());
    let restarted = paypulse_server::store::Store::connect(&app.state.config.database)
        .await
        .unwrap();
    for tenant in ["acme", "globex"] {
        assert!(restarted.drift(tenant).await.unwrap().is_empty(), "{tenant} days built");
    }
}
