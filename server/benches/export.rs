//! Export benchmark (`cargo xtask bench export`): a million payments of one
//! tenant exported as CSV over HTTP by the real server binary, in its own
//! process, so its memory is its own.
//!
//! Per round (`--rounds`, at least five, the order alternating):
//! - **ours**: `GET /api/payments/export.csv` read to the end by a client
//!   that counts bytes and rows and keeps nothing; time to the first byte
//!   and rows/s; the server's resident memory sampled every 20 ms during
//!   the export, against what it held just before;
//! - **baseline**: the same payments read straight from MongoDB through the
//!   driver in the order the database likes best (one unsorted cursor,
//!   batches of 1,000, each document decoded, nothing written): the floor
//!   of what reading them costs here, with every freedom the export has and
//!   none of its work (no order, no HTTP, no CSV). A sorted single cursor,
//!   what a naive export does, is slower than our windowed export on
//!   SecantusDB (3,668 rows/s in a first round), so it would flatter us.
//!
//! The payments are written straight into the collection (an export reads
//! nothing else), 2,000 per `insert_many`. Results go to
//! target/bench/export.json.

mod common;

use std::time::{Duration, Instant};

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use paypulse_server::store::documents::PaymentDoc;
use serde_json::json;

struct Export {
    first_byte_ms: f64,
    seconds: f64,
    rows: u64,
    bytes: u64,
    peak_growth_mib: f64,
    before_mib: f64,
}

/// One export read to the end, with the server's memory sampled meanwhile.
async fn export(http: &reqwest::Client, server: &common::ServerBinary) -> anyhow::Result<Export> {
    let pid = server.pid();
    let before_mib = common::rss_mib(pid)?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let sampler = tokio::spawn(async move {
        let mut peak: f64 = 0.0;
        loop {
            if let Ok(rss) = common::rss_mib(pid) {
                peak = peak.max(rss);
            }
            tokio::select! {
                _ = stopped.changed() => return peak,
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    });
    let started = Instant::now();
    let response = http
        .get(format!("{}/api/payments/export.csv", server.base))
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_acme_viewer")
        .send()
        .await?
        .error_for_status()?;
    let mut response = response;
    let mut first_byte_ms = None;
    let (mut rows, mut bytes) = (0_u64, 0_u64);
    while let Some(chunk) = response.chunk().await? {
        first_byte_ms.get_or_insert_with(|| common::millis(started.elapsed()));
        bytes += chunk.len() as u64;
        rows += chunk.iter().filter(|byte| **byte == b'\n').count() as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.send(true).ok();
    let peak = sampler.await?;
    Ok(Export {
        first_byte_ms: first_byte_ms.unwrap_or(f64::NAN),
        seconds,
        // The header row is not a payment.
        rows: rows.saturating_sub(1),
        bytes,
        peak_growth_mib: peak - before_mib,
        before_mib,
    })
}

/// The baseline: the same payments through the driver, in no order.
async fn raw_read(state: &paypulse_server::state::AppState) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let mut cursor = state
        .store
        .database()
        .collection::<PaymentDoc>("payments")
        .find(doc! { "tenantId": "acme" })
        .batch_size(1_000)
        .await?;
    let mut rows = 0_u64;
    while let Some(payment) = cursor.try_next().await? {
        std::hint::black_box(&payment);
        rows += 1;
    }
    Ok((started.elapsed().as_secs_f64(), rows))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let count: usize = common::arg("--payments", 1_000_000);
    let rounds = common::rounds();
    let uri = common::mongodb_uri("export")?;
    let database = format!("bench_export_{:x}", rand::random::<u32>());
    let state = paypulse_server::connect(common::config(&uri, &database)).await?;
    common::seed_acme(&state, 0, 0.0, 1).await?;
    common::load_payments(&state, count).await?;
    let stored = state
        .store
        .database()
        .collection::<Document>("payments")
        .count_documents(doc! { "tenantId": "acme" })
        .await?;
    let http = reqwest::Client::new();
    let server = common::ServerBinary::start(&uri, &database, &http, &[]).await?;
    // Warm: the key lookup, the connection pool, the index.
    let warm = http
        .get(format!("{}/api/payments?limit=10", server.base))
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_acme_viewer")
        .send()
        .await?;
    anyhow::ensure!(warm.status().is_success(), "warm-up failed: {}", warm.status());

    let mut ours = Vec::new();
    let mut baseline = Vec::new();
    for round in 0..rounds {
        for side in common::turns(round, 2) {
            if side == 0 {
                let run = export(&http, &server).await?;
                anyhow::ensure!(run.rows == stored, "exported {} of {stored} rows", run.rows);
                eprintln!(
                    "round {round}: export {:.0} rows/s, first byte {:.0} ms, memory {:.1} MiB + {:.1} MiB",
                    run.rows as f64 / run.seconds,
                    run.first_byte_ms,
                    run.before_mib,
                    run.peak_growth_mib
                );
                ours.push(run);
            } else {
                let (seconds, rows) = raw_read(&state).await?;
                anyhow::ensure!(rows == stored, "read {rows} of {stored} rows");
                eprintln!(
                    "round {round}: raw unsorted driver read {:.0} rows/s",
                    rows as f64 / seconds
                );
                baseline.push(rows as f64 / seconds);
            }
        }
    }
    let rates: Vec<f64> = ours.iter().map(|run| run.rows as f64 / run.seconds).collect();
    let first_bytes: Vec<f64> = ours.iter().map(|run| run.first_byte_ms).collect();
    let growth: Vec<f64> = ours.iter().map(|run| run.peak_growth_mib).collect();
    let before: Vec<f64> = ours.iter().map(|run| run.before_mib).collect();
    let ratios: Vec<f64> = rates.iter().zip(&baseline).map(|(ours, raw)| ours / raw).collect();
    let result = json!({
        "payments": stored,
        "rounds": rounds,
        "bytes": ours.first().map(|run| run.bytes),
        "export_rows_per_second": { "median": common::median(&rates), "per_round": rates },
        "raw_unsorted_driver_rows_per_second": { "median": common::median(&baseline), "per_round": baseline },
        "export_over_raw": { "median": common::median(&ratios), "per_round": ratios },
        "first_byte_ms": { "median": common::median(&first_bytes), "max": first_bytes.iter().copied().fold(0.0, f64::max), "per_round": first_bytes },
        "server_rss_before_mib": { "median": common::median(&before), "per_round": before },
        "server_rss_peak_growth_mib": { "median": common::median(&growth), "max": growth.iter().copied().fold(0.0, f64::max), "per_round": growth },
        "targets": { "first_byte_ms": 1000, "peak_growth_mib": 50 },
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    common::write_result("export", &result)?;
    drop(server);
    common::drop_database(state.store.database()).await;
    Ok(())
}
