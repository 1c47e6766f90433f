//! Ingest benchmark (`cargo xtask bench ingest`): end-to-end accepted
//! payments per second (HTTP → validation → group commit with rollups →
//! live publication) against a raw `insert_many` of the same documents into
//! collections set up as `payments` is (the same indexes and `$jsonSchema`
//! validator, from `store::schema`), on the same database, in the same run;
//! a labelled row without the validator.
//!
//! The baseline gets every freedom the pipeline gets. The pipeline has
//! `--concurrency` requests in flight (two of its batches by default), so
//! each round the baseline runs 1, 2 and 4 concurrent `insert_many` streams
//! of 512 documents and counts the best of the three. Each round measures
//! both sides on new documents; which side goes first alternates from round
//! to round (and the order of the stream counts rotates). The report gives
//! the median of each side over the rounds (at least five), the ratio of the
//! medians and each round's ratio. The old method's figure, the baseline one
//! batch at a time, is kept as a labelled row from the same rounds. Results
//! go to target/bench/ingest.json.

mod common;

use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use mongodb::Collection;
use mongodb::bson::oid::ObjectId;
use mongodb::options::InsertManyOptions;
use paypulse_server::store::documents::{PaymentDoc, to_bson};
use paypulse_server::store::{Store, schema};
use paypulse_shared::payment::PaymentStatus;
use serde_json::json;

/// The writer's batch size (`writer::MAX_BATCH`), which the baseline
/// uses too.
const BATCH: usize = 512;
/// Concurrent `insert_many` streams the baseline tries in every round.
const STREAMS: [usize; 3] = [1, 2, 4];

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

/// A collection for the baseline set up as `payments` is: the same indexes
/// (`store::schema::payment_indexes`, so they cannot drift apart) and, unless
/// `validator` is false, the same `$jsonSchema` validator (SPEC §2 asks for
/// it: storing a payment in this product costs at least that). Each stream
/// count writes into its own, so every collection written to grows by the
/// same number of documents per round as the pipeline's `payments` does.
async fn raw_collection(store: &Store, name: &str, validator: bool) -> anyhow::Result<Collection<PaymentDoc>> {
    let database = store.database();
    database.collection::<PaymentDoc>(name).drop().await.ok();
    let create = database.create_collection(name);
    if validator {
        create.validator(schema::payments_validator()).await?;
    } else {
        create.await?;
    }
    let raw = database.collection::<PaymentDoc>(name);
    raw.create_indexes(schema::payment_indexes()).await?;
    Ok(raw)
}

/// Documents per second of a raw `insert_many` of `payments` documents in
/// batches of [`BATCH`], `streams` batches in flight.
async fn baseline(raw: &Collection<PaymentDoc>, payments: usize, streams: usize, round: usize) -> anyhow::Result<f64> {
    let documents: Vec<PaymentDoc> = (0..payments)
        .map(|index| document(index, &format!("raw{round}")))
        .collect();
    let started = Instant::now();
    futures::stream::iter(documents.chunks(BATCH).map(Ok))
        .try_for_each_concurrent(streams, |batch| async move {
            raw.insert_many(batch)
                .with_options(InsertManyOptions::builder().ordered(false).build())
                .await
                .map(drop)
        })
        .await?;
    Ok(payments as f64 / started.elapsed().as_secs_f64())
}

/// Accepted payments per second of the same payments through the API,
/// `concurrency` requests in flight.
async fn pipeline(
    http: &Arc<reqwest::Client>,
    base: &str,
    payments: usize,
    concurrency: usize,
    round: usize,
) -> anyhow::Result<f64> {
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
        let http = Arc::clone(http);
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
    Ok(payments as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let payments: usize = common::arg("--payments", 5_000);
    // Requests in flight: many payment services posting at once. Two of the
    // writer's batches: one being committed while the next one forms. With
    // only one batch in flight the database idles while the replies travel
    // back and the next requests arrive.
    let concurrency: usize = common::arg("--concurrency", 2 * BATCH);
    let rounds = common::rounds();
    let uri = common::mongodb_uri("ingest")?;
    let database = format!("bench_{:x}", rand::random::<u32>());
    let mut config = common::config(&uri, &database);
    config.limits.alerts.enabled = !common::flag("--no-alerts");
    let redis_used = config.redis_url.is_some();
    let state = paypulse_server::connect(config).await?;
    let store = state.store.clone();
    let writer = state.writer.clone();
    common::seed_acme(&state, 0, 1.0, 1).await?;
    let base = format!("http://{}", common::serve(state).await?);
    let mut raw = Vec::new();
    for streams in STREAMS {
        raw.push(raw_collection(&store, &format!("bench_raw_payments_{streams}"), true).await?);
    }
    // A labelled row: the same indexes without the validator, one stream.
    let plain = raw_collection(&store, "bench_plain_payments", false).await?;
    let mut plain_rates = Vec::new();
    let http = Arc::new(reqwest::Client::new());

    let mut by_streams: Vec<Vec<f64>> = vec![Vec::new(); STREAMS.len()];
    let mut best = Vec::new();
    let mut best_streams = Vec::new();
    let mut accepted = Vec::new();
    let mut first = Vec::new();
    let mut mean_batch = Vec::new();
    // Where the time goes: the database server's CPU per payment on each
    // side (it is the bottleneck on this machine), and this process's.
    let database_pids = common::database_pids(&uri);
    let own = std::process::id().to_string();
    let mut database_ms_per_payment: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut server_ms_per_payment = Vec::new();
    for round in 0..rounds {
        for side in common::turns(round, 2) {
            let database_before = common::cpu_of(&database_pids);
            let own_before = common::cpu_seconds(&own).unwrap_or(0.0);
            // The baseline writes each of its stream counts' payments.
            let written = if side == 0 { payments * STREAMS.len() } else { payments };
            if side == 0 {
                let mut this_round = [0.0; STREAMS.len()];
                for which in common::turns(round, STREAMS.len()) {
                    let rate = baseline(&raw[which], payments, STREAMS[which], round).await?;
                    this_round[which] = rate;
                    by_streams[which].push(rate);
                }
                let (which, rate) = this_round
                    .iter()
                    .enumerate()
                    .max_by(|left, right| left.1.total_cmp(right.1))
                    .expect("three stream counts");
                best.push(*rate);
                best_streams.push(STREAMS[which]);
                database_ms_per_payment[side]
                    .push((common::cpu_of(&database_pids) - database_before) * 1_000.0 / written as f64);
                plain_rates.push(baseline(&plain, payments, 1, round).await?);
            } else {
                let (batches, writes) = writer.counts();
                accepted.push(pipeline(&http, &base, payments, concurrency, round).await?);
                let (batches_after, writes_after) = writer.counts();
                mean_batch.push((writes_after - writes) as f64 / (batches_after - batches).max(1) as f64);
                server_ms_per_payment
                    .push((common::cpu_seconds(&own).unwrap_or(0.0) - own_before) * 1_000.0 / payments as f64);
                database_ms_per_payment[side]
                    .push((common::cpu_of(&database_pids) - database_before) * 1_000.0 / written as f64);
            }
        }
        first.push(if round % 2 == 0 { "baseline" } else { "pipeline" });
        eprintln!(
            "round {}: pipeline {:.0}/s (mean batch {:.0}); raw insert_many {} streams {:.0}/s, {} streams {:.0}/s, {} streams {:.0}/s",
            round + 1,
            accepted[round],
            mean_batch[round],
            STREAMS[0],
            by_streams[0][round],
            STREAMS[1],
            by_streams[1][round],
            STREAMS[2],
            by_streams[2][round],
        );
    }
    let drift = store.drift("acme").await?;
    anyhow::ensure!(drift.is_empty(), "rollups drifted during the benchmark: {drift:?}");

    let fair = common::compared(&accepted, &best);
    let old = common::compared(&accepted, &by_streams[0]);
    let without_validator = common::compared(&accepted, &plain_rates);
    eprintln!(
        "database CPU per payment: {:.3} ms raw, {:.3} ms through the pipeline; this process (server and HTTP clients) {:.3} ms",
        common::median(&database_ms_per_payment[0]),
        common::median(&database_ms_per_payment[1]),
        common::median(&server_ms_per_payment),
    );
    eprintln!(
        "pipeline over the best raw insert_many: {:.2} (median of round ratios {:.2}); old method (one batch in flight): {:.2}; \
         against a collection without the validator: {:.2}",
        fair["ratio_of_medians"],
        fair["median_of_round_ratios"],
        old["ratio_of_medians"],
        without_validator["ratio_of_medians"],
    );
    let streams_json: serde_json::Map<String, serde_json::Value> = STREAMS
        .iter()
        .zip(&by_streams)
        .map(|(streams, rates)| {
            (
                streams.to_string(),
                json!({ "per_second": rates, "median": common::median(rates) }),
            )
        })
        .collect();
    let result = json!({
        "benchmark": "ingest",
        "payments_per_round": payments,
        "rounds": rounds,
        "first_in_round": first,
        "pipeline_requests_in_flight": concurrency,
        "baseline_batch": BATCH,
        "redis": redis_used,
        "pipeline_accepted_per_second": accepted,
        "pipeline_mean_batch": mean_batch,
        "cpu_ms_per_payment": {
            "database_baseline": database_ms_per_payment[0],
            "database_pipeline": database_ms_per_payment[1],
            "database_baseline_median": common::median(&database_ms_per_payment[0]),
            "database_pipeline_median": common::median(&database_ms_per_payment[1]),
            "bench_process_pipeline_median": common::median(&server_ms_per_payment),
            "bench_process_is": "the server and its HTTP clients, in one process",
        },
        "raw_insert_many_by_streams": streams_json,
        "raw_insert_many_best_per_round": best,
        "raw_insert_many_best_streams_per_round": best_streams,
        "pipeline_over_best_raw_insert_many": fair,
        "ratio": fair["ratio_of_medians"],
        "old_method": {
            "what": "the baseline one insert_many of 512 at a time (before issue 9), same rounds",
            "pipeline_over_raw_insert_many_one_stream": old,
            "ratio": old["ratio_of_medians"],
        },
        "baseline_collection": "the same indexes (store::schema::payment_indexes) and $jsonSchema validator as payments",
        "without_validator": {
            "what": "the baseline into a collection with the same indexes but no validator, one stream, same rounds",
            "raw_per_second": plain_rates,
            "pipeline_over_it": without_validator,
            "ratio": without_validator["ratio_of_medians"],
        },
        "target_ratio": 0.85,
    });
    common::write_result("ingest", &result)?;
    common::drop_database(store.database()).await;
    Ok(())
}
