//! Analytics latency benchmark (`cargo xtask bench analytics`): the
//! dashboard's four reads (metrics for the last 24 h, trends for day, week and
//! month) over HTTP against a tenant with a small and one with a large
//! history (default 10k and 1M payments over the same 90 days), with the
//! cache bypassed (invalidated before every request, so each answer is
//! computed) and with it warm. Also times the same queries answered from the
//! rollups against a naive aggregation over the raw payments, in process.
//! Sizes alternate query by query so a noisy machine hits both alike. Results
//! go to target/bench/analytics.json.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use paypulse_server::analytics::trend_level;
use paypulse_server::state::AppState;
use paypulse_server::store::rollups::Level;
use paypulse_shared::buckets::{self, BucketUnit};
use paypulse_shared::metrics::compute_metrics;
use paypulse_shared::trends::build_trend;
use paypulse_shared::wire::Period;
use serde_json::{Value, json};

/// Days of history both tenants have.
const DAYS: u32 = 90;

/// The dashboard's reads.
#[derive(Clone, Copy)]
enum Query {
    Metrics,
    Trends(Period),
}

impl Query {
    const ALL: [Query; 4] = [
        Query::Metrics,
        Query::Trends(Period::Day),
        Query::Trends(Period::Week),
        Query::Trends(Period::Month),
    ];

    fn name(self) -> String {
        match self {
            Query::Metrics => "metrics_24h".into(),
            Query::Trends(period) => format!("trends_{period}"),
        }
    }

    fn path(self) -> String {
        match self {
            Query::Metrics => "/api/analytics/metrics".into(),
            Query::Trends(period) => format!("/api/analytics/trends?period={period}"),
        }
    }
}

/// One server over one database holding `payments` payments of `acme`.
struct Subject {
    label: &'static str,
    payments: u64,
    state: AppState,
    base: String,
}

impl Subject {
    /// With `keep`, reuses the database a previous `--keep` run left (loading
    /// a million payments takes minutes) and leaves it for the next.
    async fn start(label: &'static str, uri: &str, payments: usize, keep: bool) -> anyhow::Result<Self> {
        let database = if keep {
            format!("bench_analytics_{label}_{payments}")
        } else {
            format!("bench_{label}_{:x}", rand::random::<u32>())
        };
        let config = common::config(uri, &database);
        let state = paypulse_server::connect(config).await?;
        let started = Instant::now();
        let present = state.store.payments().count_documents(mongodb::bson::doc! {}).await?;
        let loaded = keep && present as f64 >= payments as f64 * 0.9;
        if !loaded {
            common::seed_acme(&state, DAYS, payments as f64 / f64::from(DAYS * 24), 7).await?;
        }
        let stored = state.store.payments().count_documents(mongodb::bson::doc! {}).await?;
        eprintln!(
            "{label}: {stored} payments over {DAYS} days loaded in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        let base = format!("http://{}", common::serve(state.clone()).await?);
        Ok(Self {
            label,
            payments: stored,
            state,
            base,
        })
    }

    /// Latencies of `count` requests, each computed afresh or each cached.
    async fn http(&self, http: &reqwest::Client, query: Query, count: usize, cached: bool) -> anyhow::Result<Vec<f64>> {
        let url = format!("{}{}", self.base, query.path());
        let get = || {
            http.get(&url)
                .header("X-Tenant-Id", "acme")
                .bearer_auth("pk_demo_acme_viewer")
        };
        // One request first either way: connections to the server and from
        // it to the database are opened once, not measured.
        get().send().await?.error_for_status()?;
        let mut latencies = Vec::with_capacity(count);
        for _ in 0..count {
            if !cached {
                self.state.cache.invalidate("acme").await;
            }
            let started = Instant::now();
            get().send().await?.error_for_status()?.bytes().await?;
            latencies.push(millis(started.elapsed()));
        }
        Ok(latencies)
    }

    /// In-process time of one answer from the rollups, or from a naive
    /// aggregation of the raw payments, for the same range and arithmetic.
    async fn compute(&self, query: Query, naive: bool) -> anyhow::Result<f64> {
        let store = &self.state.store;
        let tenant = store.tenant("acme").await?.expect("seeded tenant");
        let now = Utc::now();
        let (from, to) = match query {
            Query::Metrics => (now - chrono::TimeDelta::hours(24), now),
            Query::Trends(period) => buckets::default_window(period, now, tenant.tz()),
        };
        let started = Instant::now();
        let cells = if naive {
            store.payment_cells("acme", from, to).await?
        } else {
            let coarsest = match query {
                Query::Metrics => Level::Hour,
                Query::Trends(period) => trend_level(period),
            };
            store.cells("acme", tenant.tz(), from, to, coarsest).await?
        };
        let rendered = match query {
            Query::Metrics => serde_json::to_string(&compute_metrics(
                &cells,
                tenant.tz(),
                &tenant.currency,
                tenant.scale(),
                from,
                to,
            ))?,
            Query::Trends(period) => {
                let starts = buckets::bucket_starts(from, to, BucketUnit::from(period), tenant.tz())?;
                serde_json::to_string(&build_trend(&starts, &cells, tenant.scale()))?
            }
        };
        std::hint::black_box(rendered);
        Ok(millis(started.elapsed()))
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The `p`th percentile (0–100) by nearest rank.
fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(values: &[f64]) -> Value {
    json!({ "n": values.len(), "p50_ms": percentile(values, 50.0), "p99_ms": percentile(values, 99.0) })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let small = common::arg::<usize>("--small", 10_000);
    let large = common::arg::<usize>("--large", 1_000_000);
    let uncached_requests = common::arg::<usize>("--uncached", 40);
    let cached_requests = common::arg::<usize>("--cached", 400);
    let naive_runs = common::arg::<usize>("--naive-runs", 3);
    let keep = common::flag("--keep");
    let uri = common::mongodb_uri("analytics")?;
    let subjects = [
        Subject::start("small", &uri, small, keep).await?,
        Subject::start("large", &uri, large, keep).await?,
    ];
    let http = reqwest::Client::new();

    let mut queries = Vec::new();
    for query in Query::ALL {
        let mut by_subject = serde_json::Map::new();
        let mut uncached_p50 = Vec::new();
        let mut uncached_p99 = Vec::new();
        for subject in &subjects {
            let uncached = subject.http(&http, query, uncached_requests, false).await?;
            let cached = subject.http(&http, query, cached_requests, true).await?;
            let mut rollups = Vec::new();
            let mut naive = Vec::new();
            for _ in 0..naive_runs {
                rollups.push(subject.compute(query, false).await?);
                naive.push(subject.compute(query, true).await?);
            }
            let naive_over_rollups = percentile(&naive, 50.0) / percentile(&rollups, 50.0);
            eprintln!(
                "{} {}: uncached p50 {:.1} ms p99 {:.1} ms · cached p50 {:.2} ms p99 {:.2} ms · naive/rollups {:.1}×",
                query.name(),
                subject.label,
                percentile(&uncached, 50.0),
                percentile(&uncached, 99.0),
                percentile(&cached, 50.0),
                percentile(&cached, 99.0),
                naive_over_rollups,
            );
            uncached_p50.push(percentile(&uncached, 50.0));
            uncached_p99.push(percentile(&uncached, 99.0));
            by_subject.insert(
                subject.label.to_owned(),
                json!({
                    "payments": subject.payments,
                    "http_uncached": summary(&uncached),
                    "http_cached": summary(&cached),
                    "in_process_rollups": summary(&rollups),
                    "in_process_naive_raw_aggregation": summary(&naive),
                    "naive_over_rollups_p50": naive_over_rollups,
                }),
            );
        }
        queries.push(json!({
            "query": query.name(),
            "sizes": by_subject,
            "uncached_large_over_small_p50": uncached_p50[1] / uncached_p50[0],
            "uncached_large_over_small_p99": uncached_p99[1] / uncached_p99[0],
        }));
    }

    let result = json!({
        "benchmark": "analytics",
        "days_of_history": DAYS,
        "redis": std::env::var("REDIS_URL").is_ok(),
        "queries": queries,
        "targets": { "uncached_large_over_small": 1.5, "cached_p99_ms": 5.0 },
    });
    common::write_result("analytics", &result)?;
    if !keep {
        for subject in &subjects {
            subject.state.store.database().drop().await.ok();
        }
    }
    Ok(())
}
