//! Ingest benchmark (`cargo xtask bench ingest`): end-to-end accepted
//! payments per second (HTTP → validation → group commit with rollups →
//! live publication) against a raw `insert_many` of the same documents into
//! a collection with the same indexes, on the same database, in the same run.
//! Baseline and pipeline alternate (A B A B) so a noisy machine hits both;
//! the figure that matters is the ratio. Results go to
//! target/bench/ingest.json.

mod common;

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use mongodb::IndexModel;
use mongodb::bson::doc;
use mongodb::bson::oid::ObjectId;
use mongodb::options::{IndexOptions, InsertManyOptions};
use paypulse_server::store::documents::{PaymentDoc, to_bson};
use paypulse_shared::payment::PaymentStatus;
use serde_json::json;

const BATCH: usize = 512;

fn document(index: usize, run: &str) -> PaymentDoc {
    let now = chrono::Utc::now();
    PaymentDoc {
        id: ObjectId::new(),
        tenant_id: "acme".into(),
        external_id: format!("bench_{run}_{index}"),
        amount_minor: 100 + (index as i64 * 37) % 50_000,
        currency: "USD".into(),
        method: ["card", "paypal", "apple_pay"][index % 3].into(),
        status: if index.is_multiple_of(20) {
            PaymentStatus::Failed
        } else {
            PaymentStatus::Succeeded
        },
        failure_reason: (index.is_multiple_of(20)).then(|| "card_declined".to_owned()),
        refunded_at: None,
        created_at: to_bson(now),
        updated_at: to_bson(now),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let payments: usize = common::arg("--payments", 5_000);
    // Requests in flight: many payment services posting at once. Two of the
    // baseline's batches: one being committed while the next one forms. With
    // only one batch in flight the database idles while the replies travel
    // back and the next requests arrive (about 0.75 of the baseline then).
    let concurrency: usize = common::arg("--concurrency", 2 * BATCH);
    let uri = common::mongodb_uri("ingest")?;
    let database = format!("bench_{:x}", rand::random::<u32>());
    let config = common::config(&uri, &database);
    let redis_used = config.redis_url.is_some();
    let state = paypulse_server::connect(config).await?;
    let store = state.store.clone();
    common::seed_acme(&state, 0, 1.0, 1).await?;
    let base = format!("http://{}", common::serve(state).await?);

    // The baseline's collection has the payments' indexes.
    let raw = store.database().collection::<PaymentDoc>("bench_raw_payments");
    let unique = IndexOptions::builder().unique(true).build();
    raw.create_indexes([
        IndexModel::builder()
            .keys(doc! { "tenantId": 1, "externalId": 1 })
            .options(unique)
            .build(),
        IndexModel::builder()
            .keys(doc! { "tenantId": 1, "createdAt": -1, "_id": -1 })
            .build(),
        IndexModel::builder()
            .keys(doc! { "tenantId": 1, "status": 1, "createdAt": -1 })
            .build(),
        IndexModel::builder()
            .keys(doc! { "tenantId": 1, "method": 1, "createdAt": -1 })
            .build(),
    ])
    .await?;
    let http = reqwest::Client::new();
    let http = Arc::new(http);

    let mut baseline = Vec::new();
    let mut pipeline = Vec::new();
    for round in 0..2 {
        // A: raw insert_many of the documents, in batches like the writer's.
        let documents: Vec<PaymentDoc> = (0..payments)
            .map(|index| document(index, &format!("raw{round}")))
            .collect();
        let started = Instant::now();
        for batch in documents.chunks(BATCH) {
            raw.insert_many(batch)
                .with_options(InsertManyOptions::builder().ordered(false).build())
                .await?;
        }
        baseline.push(payments as f64 / started.elapsed().as_secs_f64());

        // B: the same payments through the API, `concurrency` requests in flight.
        let bodies: Vec<serde_json::Value> = (0..payments)
            .map(|index| {
                let document = document(index, &format!("api{round}"));
                let mut body = json!({
                    "externalId": document.external_id, "amount": document.amount_minor as f64 / 100.0,
                    "currency": "USD", "method": document.method, "status": document.status.as_str(),
                });
                if let Some(reason) = document.failure_reason {
                    body["failureReason"] = json!(reason);
                }
                body
            })
            .collect();
        let started = Instant::now();
        let accepted: usize = futures::stream::iter(bodies.into_iter().map(|body| {
            let http = Arc::clone(&http);
            let url = format!("{base}/api/payments");
            async move {
                let response = http
                    .post(url)
                    .header("X-Tenant-Id", "acme")
                    .bearer_auth("pk_demo_acme_ingest")
                    .json(&body)
                    .send()
                    .await;
                usize::from(response.is_ok_and(|response| response.status() == 201))
            }
        }))
        .buffer_unordered(concurrency)
        .fold(0, |total, accepted| async move { total + accepted })
        .await;
        anyhow::ensure!(
            accepted == payments,
            "only {accepted} of {payments} payments were accepted"
        );
        pipeline.push(payments as f64 / started.elapsed().as_secs_f64());
    }
    let drift = store.drift("acme").await?;
    anyhow::ensure!(drift.is_empty(), "rollups drifted during the benchmark: {drift:?}");

    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    let ratio = mean(&pipeline) / mean(&baseline);
    let result = json!({
        "benchmark": "ingest",
        "payments_per_round": payments,
        "rounds": 2,
        "concurrency": concurrency,
        "redis": redis_used,
        "raw_insert_many_per_second": baseline,
        "pipeline_accepted_per_second": pipeline,
        "ratio": ratio,
        "target_ratio": 0.8,
    });
    common::write_result("ingest", &result)?;
    store.database().drop().await.ok();
    Ok(())
}
