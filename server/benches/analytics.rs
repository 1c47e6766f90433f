//! Analytics latency benchmark (`cargo xtask bench analytics`): the
//! dashboard's reads (metrics for the last 24 h, trends for day, week and
//! month, a custom range of about 7 days on no boundary, and the last hour in
//! 1-minute buckets) over HTTP against a tenant with a small and one with a large
//! history (default 10k and 1M payments over the same 90 days), each on its
//! own server and database. The figure that matters is large over small: a
//! busy tenant's dashboard should cost what a quiet one's does.
//!
//! Two methods, in the same run, so old and new figures sit side by side:
//!
//! - **Old method** (before issue 9), first, while nothing writes: per query
//!   and size a block of requests with the answer cache invalidated before
//!   each, then a block served from the cache, and the same queries answered
//!   in process from the rollups and from a naive aggregation of the raw
//!   payments. The store's kept hour documents and edge quarters stay warm
//!   and no version changes, so it measures little beyond the cache.
//! - **New method**, what a dashboard meets in production: payments flow into
//!   both tenants through the real ingest API (`--writes-per-second`, default
//!   10 each) for the rest of the run, so the current hour's rollups and
//!   their versions change, the cache is invalidated by the writes
//!   themselves, and kept copies of changed hours are read again. In each of
//!   `--rounds` (at least five) rounds:
//!   - *first request on a fresh process*: for every query and size, a new
//!     `paypulse_server::connect` over the same database (empty kept copies
//!     and edge quarters) on a runtime of its own, the tenant's cached
//!     answers invalidated, one request timed (after an untimed request
//!     that opens the connection and looks the key up, which costs the same
//!     for both sizes), then the runtime dropped with everything it started;
//!   - *computed under writes*: `--requests` requests per query and size on
//!     the long-running servers, each sent only after a payment to its
//!     tenant was acknowledged since the same query's previous request (so
//!     it is computed, with the current hour changed), then a second request
//!     right after, as a second viewer would send it (normally from the
//!     cache).
//!
//!   Sizes alternate request by request and which goes first alternates
//!   too. Each row reports per size pooled percentiles and each round's p50;
//!   ratios are large over small per round and their median.
//!
//! With `--keep`, the two databases are reused between runs (loading a
//! million payments takes minutes) and topped up with the days since they
//! were last loaded, so the last 24 hours hold what a fresh load would.
//! Results go to target/bench/analytics.json.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{DateTime as BsonDateTime, Document, doc};
use paypulse_server::analytics::{TrendWindow, trend_points};
use paypulse_server::config::Config;
use paypulse_server::state::AppState;
use paypulse_server::store::documents::to_chrono;
use paypulse_server::store::names;
use paypulse_server::store::rollups::Level;
use paypulse_shared::metrics::compute_metrics;
use paypulse_shared::query::{TrendsQuery, from_query};
use paypulse_shared::trends::build_trend;
use paypulse_shared::wire::Period;
use serde_json::{Value, json};
use tokio::sync::watch;

/// Days of history both tenants have.
const DAYS: u32 = 90;
/// Where a `--keep` database records when it was last loaded.
const LOADED_MARK: &str = "bench_loaded";
/// The sizes, in the order their rows are reported.
const SIZES: [&str; 2] = ["small", "large"];

/// The dashboard's reads.
#[derive(Clone, Copy)]
enum Query {
    Metrics,
    Trends(Period),
    /// A custom range a user picked: about 7 days ending two days ago, on
    /// no boundary (buckets of six hours, ragged quarters at both ends).
    CustomRange,
    /// The last hour in 1-minute buckets (a zoom on the chart).
    LastHourByMinute,
}

/// The custom range, fixed for the run when first asked for.
fn custom_range() -> (DateTime<Utc>, DateTime<Utc>) {
    static RANGE: std::sync::OnceLock<(DateTime<Utc>, DateTime<Utc>)> = std::sync::OnceLock::new();
    *RANGE.get_or_init(|| {
        let now = Utc::now();
        (
            now - chrono::TimeDelta::minutes(9 * 24 * 60 + 13 * 60 + 17),
            now - chrono::TimeDelta::minutes(2 * 24 * 60 + 4 * 60 + 41),
        )
    })
}

impl Query {
    const ALL: [Query; 6] = [
        Query::Metrics,
        Query::Trends(Period::Day),
        Query::Trends(Period::Week),
        Query::Trends(Period::Month),
        Query::CustomRange,
        Query::LastHourByMinute,
    ];

    fn name(self) -> String {
        match self {
            Query::Metrics => "metrics_24h".into(),
            Query::Trends(period) => format!("trends_{period}"),
            Query::CustomRange => "trends_custom_range".into(),
            Query::LastHourByMinute => "trends_1h_by_1m".into(),
        }
    }

    fn path(self) -> String {
        match self {
            Query::Metrics => "/api/analytics/metrics".into(),
            Query::Trends(period) => format!("/api/analytics/trends?period={period}"),
            Query::CustomRange => {
                let (from, to) = custom_range();
                format!(
                    "/api/analytics/trends?from={}&to={}",
                    paypulse_shared::time::format_utc(&from),
                    paypulse_shared::time::format_utc(&to)
                )
            }
            Query::LastHourByMinute => "/api/analytics/trends?from=now-1h&bucket=1m".into(),
        }
    }

    /// The trend query behind a trend read.
    fn trend(self) -> Option<TrendsQuery> {
        match self {
            Query::Metrics => None,
            Query::Trends(period) => Some(TrendsQuery {
                period: Some(period),
                ..TrendsQuery::default()
            }),
            Query::CustomRange | Query::LastHourByMinute => {
                let path = self.path();
                let query = path.split_once('?').map_or("", |(_, query)| query);
                Some(from_query(query).expect("a valid trend query"))
            }
        }
    }
}

/// A viewer's GET of `url`, as the dashboard sends it.
fn viewer_get(http: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
    http.get(url)
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_acme_viewer")
}

/// One server over one database holding `payments` payments of `acme`.
struct Subject {
    label: &'static str,
    payments: u64,
    state: AppState,
    base: String,
}

impl Subject {
    /// With `keep`, reuses the database a previous `--keep` run left and
    /// leaves it for the next.
    async fn start(label: &'static str, uri: &str, payments: usize, keep: bool) -> anyhow::Result<Self> {
        let database = if keep {
            format!("bench_analytics_{label}_{payments}")
        } else {
            format!("bench_{label}_{:x}", rand::random::<u32>())
        };
        let config = common::config(uri, &database);
        let state = paypulse_server::connect(config).await?;
        let started = Instant::now();
        let rate = payments as f64 / f64::from(DAYS * 24);
        let present = state.store.payments().count_documents(doc! {}).await?;
        let loaded = keep && present as f64 >= payments as f64 * 0.9;
        if !loaded {
            common::seed_acme(&state, DAYS, rate, 7).await?;
        } else if let Some(until) = loaded_until(&state).await? {
            // The history ends when it was loaded: without the days since,
            // "the last 24 hours" would be empty for both sizes alike.
            let days = u32::try_from((Utc::now() - until).num_days() + 1).unwrap_or(DAYS);
            common::seed_acme(&state, days.min(DAYS), rate, 7).await?;
        }
        if keep {
            state
                .store
                .database()
                .collection::<Document>(LOADED_MARK)
                .replace_one(
                    doc! { "_id": "acme" },
                    doc! { "_id": "acme", "at": BsonDateTime::now() },
                )
                .upsert(true)
                .await?;
        }
        let stored = state.store.payments().count_documents(doc! {}).await?;
        eprintln!(
            "{label}: {stored} payments over {DAYS} days ready in {:.0} s",
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

    /// Old method: latencies of `count` requests in a block, each computed
    /// afresh (the cache invalidated before it) or each from the cache.
    async fn block(
        &self,
        http: &reqwest::Client,
        query: Query,
        count: usize,
        cached: bool,
    ) -> anyhow::Result<Vec<f64>> {
        let url = format!("{}{}", self.base, query.path());
        // One request first either way: connections to the server and from
        // it to the database are opened once, not measured.
        viewer_get(http, &url).send().await?.error_for_status()?;
        let mut latencies = Vec::with_capacity(count);
        for _ in 0..count {
            if !cached {
                self.state.cache.invalidate("acme").await;
            }
            let started = Instant::now();
            viewer_get(http, &url).send().await?.error_for_status()?.bytes().await?;
            latencies.push(common::millis(started.elapsed()));
        }
        Ok(latencies)
    }

    /// One request's latency, and whether the server computed its answer
    /// (rather than serving it from the cache). Requests are sequential, so
    /// the cache's count of computations tells.
    async fn timed(&self, http: &reqwest::Client, query: Query) -> anyhow::Result<(f64, bool)> {
        let url = format!("{}{}", self.base, query.path());
        let computed_before = self.state.cache.computations();
        let started = Instant::now();
        viewer_get(http, &url).send().await?.error_for_status()?.bytes().await?;
        let latency = common::millis(started.elapsed());
        Ok((latency, self.state.cache.computations() > computed_before))
    }

    /// In-process time of one answer from the rollups, or from a naive
    /// aggregation of the raw payments, for the same range and arithmetic.
    async fn compute(&self, query: Query, naive: bool) -> anyhow::Result<f64> {
        let store = &self.state.store;
        let tenant = store.tenant("acme").await?.expect("seeded tenant");
        let now = Utc::now();
        let rendered = match query.trend() {
            None => {
                let (from, to) = (now - chrono::TimeDelta::hours(24), now);
                let started = Instant::now();
                let cells = if naive {
                    store.payment_cells("acme", from, to).await?
                } else {
                    store.cells("acme", tenant.tz(), from, to, Level::Hour).await?
                };
                let metrics = compute_metrics(&cells, tenant.tz(), &tenant.currency, tenant.scale(), from, to);
                (started, serde_json::to_string(&metrics)?)
            }
            Some(trend) => {
                let window = TrendWindow::of(&trend, now, tenant.tz()).map_err(|error| anyhow::anyhow!("{error}"))?;
                let started = Instant::now();
                let points = if naive {
                    let width = window.bucket.minutes().min(15);
                    let cells = store.payment_cells_of("acme", window.from, window.to, width).await?;
                    build_trend(&window.starts, &cells, tenant.scale())
                } else {
                    trend_points(store, &tenant, &window)
                        .await
                        .map_err(|error| anyhow::anyhow!("{error}"))?
                };
                (started, serde_json::to_string(&points)?)
            }
        };
        let (started, rendered) = rendered;
        std::hint::black_box(rendered);
        Ok(common::millis(started.elapsed()))
    }
}

/// When the history of a kept database ends: when it was last loaded, or,
/// for a database kept before that was recorded, its newest hour.
async fn loaded_until(state: &AppState) -> anyhow::Result<Option<DateTime<Utc>>> {
    let database = state.store.database();
    if let Some(mark) = database
        .collection::<Document>(LOADED_MARK)
        .find_one(doc! { "_id": "acme" })
        .await?
    {
        return Ok(Some(to_chrono(*mark.get_datetime("at")?)));
    }
    let newest = database
        .collection::<Document>(names::HOUR_ROLLUPS)
        .find_one(doc! { "tenantId": "acme" })
        .sort(doc! { "cell": -1 })
        .await?;
    Ok(match newest {
        Some(hour) => Some(to_chrono(*hour.get_datetime("cell")?)),
        None => None,
    })
}

/// The latency of the first request a fresh process answers: a new
/// `connect` over `config`'s database on a runtime of its own, so nothing of
/// the long-running server (kept hour documents, edge quarters, key cache,
/// connections) is shared, and dropping the runtime ends every task it
/// started, as the end of a process would.
async fn first_request(config: Config, query: Query) -> anyhow::Result<f64> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let measured = (|| -> anyhow::Result<f64> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let measured = runtime.block_on(async {
                let state = paypulse_server::connect(config).await?;
                let base = format!("http://{}", common::serve(state.clone()).await?);
                let http = reqwest::Client::new();
                // Untimed: opens the HTTP connection and looks the key up
                // (with a payment that does not exist), costs that do not
                // depend on the tenant's size and would only dilute the ratio.
                let probe = viewer_get(&http, &format!("{base}/api/payments/{}", ObjectId::new()))
                    .send()
                    .await?;
                anyhow::ensure!(probe.status() == 404, "key check answered {}", probe.status());
                state.cache.invalidate("acme").await;
                let computed_before = state.cache.computations();
                let started = Instant::now();
                viewer_get(&http, &format!("{base}{}", query.path()))
                    .send()
                    .await?
                    .error_for_status()?
                    .bytes()
                    .await?;
                let latency = common::millis(started.elapsed());
                anyhow::ensure!(
                    state.cache.computations() > computed_before,
                    "a fresh process answered from the cache"
                );
                Ok(latency)
            });
            runtime.shutdown_timeout(Duration::from_secs(5));
            measured
        })();
        answer.send(measured).ok();
    });
    answered.await?
}

/// Payments posted to one server through the ingest API at a steady rate,
/// until dropped.
struct Writer {
    /// Payments the server acknowledged (201) so far.
    acknowledged: watch::Receiver<u64>,
    failed: Arc<AtomicU64>,
    started: Instant,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    fn start(http: reqwest::Client, base: &str, per_second: f64) -> Self {
        let (sender, acknowledged) = watch::channel(0_u64);
        let sender = Arc::new(sender);
        let failed = Arc::new(AtomicU64::new(0));
        let url = format!("{base}/api/payments");
        let run = rand::random::<u32>();
        let task = {
            let failed = Arc::clone(&failed);
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
                for index in 0_u64.. {
                    ticks.tick().await;
                    let methods = [
                        "card",
                        "paypal",
                        "card",
                        "apple_pay",
                        "google_pay",
                        "card",
                        "bank_transfer",
                    ];
                    let failed_payment = index % 25 == 0;
                    let mut body = json!({
                        "externalId": format!("live_{run:x}_{index}"),
                        "amount": (100 + (index * 7_919) % 90_000) as f64 / 100.0,
                        "currency": "USD",
                        "method": methods[index as usize % methods.len()],
                        "status": if failed_payment { "failed" } else { "succeeded" },
                    });
                    if failed_payment {
                        body["failureReason"] = json!("card_declined");
                    }
                    // Each payment on its own task: a slow commit must not
                    // lower the rate.
                    let request = http
                        .post(&url)
                        .header("X-Tenant-Id", "acme")
                        .bearer_auth("pk_demo_acme_ingest")
                        .json(&body);
                    let (sender, failed) = (Arc::clone(&sender), Arc::clone(&failed));
                    tokio::spawn(async move {
                        match request.send().await {
                            Ok(response) if response.status() == 201 => sender.send_modify(|count| *count += 1),
                            _ => {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
            })
        };
        Self {
            acknowledged,
            failed,
            started: Instant::now(),
            task,
        }
    }

    fn count(&self) -> u64 {
        *self.acknowledged.borrow()
    }

    /// Waits until more than `seen` payments were acknowledged.
    async fn after(&mut self, seen: u64) -> anyhow::Result<()> {
        tokio::time::timeout(
            Duration::from_secs(10),
            self.acknowledged.wait_for(|count| *count > seen),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no payment acknowledged for 10 s"))??;
        Ok(())
    }

    fn report(&self) -> Value {
        let seconds = self.started.elapsed().as_secs_f64();
        json!({
            "acknowledged": self.count(),
            "failed": self.failed.load(Ordering::Relaxed),
            "seconds": seconds,
            "acknowledged_per_second": self.count() as f64 / seconds,
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the new method measured for one query and one size.
#[derive(Default)]
struct Row {
    /// First request on a fresh process, one per round.
    fresh: Vec<f64>,
    /// Computed under writes, per round.
    computed: Vec<Vec<f64>>,
    /// Requests sent after a write that were nevertheless served from the
    /// cache, not counted as computed. Rare: a write whose invalidation came
    /// before the previous answer was cached but whose acknowledgement came
    /// after it.
    computed_expected_but_cached: usize,
    /// The second request right after: from the cache, or computed when a
    /// write or a new second came in between.
    second_from_cache: Vec<f64>,
    second_computed: Vec<f64>,
}

impl Row {
    fn computed_p50_per_round(&self) -> Vec<f64> {
        self.computed.iter().map(|round| common::median(round)).collect()
    }

    fn computed_pooled(&self) -> Vec<f64> {
        self.computed.concat()
    }
}

/// The old method for one query: blocks per size, no writes.
async fn old_method(
    subjects: &[Subject],
    http: &reqwest::Client,
    query: Query,
    uncached_requests: usize,
    cached_requests: usize,
    naive_runs: usize,
) -> anyhow::Result<Value> {
    let mut by_subject = serde_json::Map::new();
    let mut uncached_p50 = Vec::new();
    let mut uncached_p99 = Vec::new();
    for subject in subjects {
        let uncached = subject.block(http, query, uncached_requests, false).await?;
        let cached = subject.block(http, query, cached_requests, true).await?;
        let mut rollups = Vec::new();
        let mut naive = Vec::new();
        for _ in 0..naive_runs {
            rollups.push(subject.compute(query, false).await?);
            naive.push(subject.compute(query, true).await?);
        }
        let naive_over_rollups = common::median(&naive) / common::median(&rollups);
        eprintln!(
            "old method, {} {}: uncached p50 {:.1} ms p99 {:.1} ms · cached p50 {:.2} ms p99 {:.2} ms · naive/rollups {:.1}×",
            query.name(),
            subject.label,
            common::percentile(&uncached, 50.0),
            common::percentile(&uncached, 99.0),
            common::percentile(&cached, 50.0),
            common::percentile(&cached, 99.0),
            naive_over_rollups,
        );
        uncached_p50.push(common::percentile(&uncached, 50.0));
        uncached_p99.push(common::percentile(&uncached, 99.0));
        by_subject.insert(
            subject.label.to_owned(),
            json!({
                "http_uncached": common::latency_summary(&uncached),
                "http_cached": common::latency_summary(&cached),
                "in_process_rollups": common::latency_summary(&rollups),
                "in_process_naive_raw_aggregation": common::latency_summary(&naive),
                "naive_over_rollups_p50": naive_over_rollups,
            }),
        );
    }
    Ok(json!({
        "what": "before issue 9: no writes; per size a block of requests with the cache invalidated before each, then a block from the cache",
        "sizes": by_subject,
        "uncached_large_over_small_p50": uncached_p50[1] / uncached_p50[0],
        "uncached_large_over_small_p99": uncached_p99[1] / uncached_p99[0],
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let small = common::arg::<usize>("--small", 10_000);
    let large = common::arg::<usize>("--large", 1_000_000);
    let uncached_requests = common::arg::<usize>("--uncached", 40);
    let cached_requests = common::arg::<usize>("--cached", 400);
    let naive_runs = common::arg::<usize>("--naive-runs", 3);
    let rounds = common::rounds();
    let requests = common::arg::<usize>("--requests", 40);
    let writes_per_second = common::arg::<f64>("--writes-per-second", 10.0);
    let keep = common::flag("--keep");
    let uri = common::mongodb_uri("analytics")?;
    let subjects = [
        Subject::start(SIZES[0], &uri, small, keep).await?,
        Subject::start(SIZES[1], &uri, large, keep).await?,
    ];
    let http = reqwest::Client::new();

    // The old method first, while nothing writes.
    let mut old = Vec::new();
    for query in Query::ALL {
        old.push(old_method(&subjects, &http, query, uncached_requests, cached_requests, naive_runs).await?);
    }

    // From here on payments flow into both tenants.
    let mut writers: Vec<Writer> = subjects
        .iter()
        .map(|subject| Writer::start(http.clone(), &subject.base, writes_per_second))
        .collect();
    for writer in &mut writers {
        writer.after(0).await?;
    }
    let mut rows: Vec<[Row; 2]> = Query::ALL.iter().map(|_| Default::default()).collect();
    for round in 0..rounds {
        for (which_query, query) in Query::ALL.into_iter().enumerate() {
            for size in common::turns(round + which_query, 2) {
                let config = (*subjects[size].state.config).clone();
                rows[which_query][size].fresh.push(first_request(config, query).await?);
            }
        }
        for row in rows.iter_mut().flatten() {
            row.computed.push(Vec::new());
        }
        // What each size's writer had acknowledged when each query was
        // last answered.
        let mut seen = [[0_u64; 2]; Query::ALL.len()];
        for request in 0..requests {
            for (which_query, query) in Query::ALL.into_iter().enumerate() {
                let order = common::turns(round + request + which_query, 2);
                for &size in &order {
                    writers[size].after(seen[which_query][size]).await?;
                    let (latency, computed) = subjects[size].timed(&http, query).await?;
                    let row = &mut rows[which_query][size];
                    if computed {
                        row.computed.last_mut().expect("one per round").push(latency);
                    } else {
                        row.computed_expected_but_cached += 1;
                    }
                }
                for &size in &order {
                    let (latency, computed) = subjects[size].timed(&http, query).await?;
                    // The next computed request waits for a write after
                    // this one, whose answer would otherwise serve it.
                    seen[which_query][size] = writers[size].count();
                    let row = &mut rows[which_query][size];
                    if computed {
                        row.second_computed.push(latency);
                    } else {
                        row.second_from_cache.push(latency);
                    }
                }
            }
        }
        let progress: Vec<String> = Query::ALL
            .iter()
            .zip(&rows)
            .map(|(query, [small, large])| {
                let small = common::median(small.computed.last().expect("this round"));
                let large = common::median(large.computed.last().expect("this round"));
                format!("{} {small:.1} → {large:.1} ms", query.name())
            })
            .collect();
        eprintln!(
            "round {}: computed under writes, p50 small → large: {}",
            round + 1,
            progress.join(", ")
        );
    }
    let write_reports: serde_json::Map<String, Value> = SIZES
        .iter()
        .zip(&writers)
        .map(|(size, writer)| ((*size).to_owned(), writer.report()))
        .collect();
    drop(writers);

    let mut queries = Vec::new();
    let mut side_by_side = Vec::new();
    for ((query, old), [small, large]) in Query::ALL.into_iter().zip(old).zip(&rows) {
        let fresh = common::compared(&large.fresh, &small.fresh);
        let computed = common::compared(&large.computed_p50_per_round(), &small.computed_p50_per_round());
        let computed_p99 =
            common::percentile(&large.computed_pooled(), 99.0) / common::percentile(&small.computed_pooled(), 99.0);
        let size_row = |row: &Row| {
            json!({
                "first_request_fresh_process_ms": row.fresh,
                "first_request_fresh_process_median_ms": common::median(&row.fresh),
                "computed_under_writes": common::latency_summary(&row.computed_pooled()),
                "computed_under_writes_p50_per_round": row.computed_p50_per_round(),
                "computed_expected_but_served_from_cache": row.computed_expected_but_cached,
                "second_request_from_cache": common::latency_summary(&row.second_from_cache),
                "second_request_computed": common::latency_summary(&row.second_computed),
            })
        };
        let old_small = &old["sizes"]["small"];
        let old_large = &old["sizes"]["large"];
        side_by_side.push(json!({
            "query": query.name(),
            "old_uncached_p50_ms_small_large": [old_small["http_uncached"]["p50_ms"], old_large["http_uncached"]["p50_ms"]],
            "old_uncached_large_over_small_p50": old["uncached_large_over_small_p50"],
            "new_computed_under_writes_p50_ms_small_large": [computed["baseline_median"], computed["ours_median"]],
            "new_computed_under_writes_large_over_small_p50": computed["median_of_round_ratios"],
            "new_first_request_ms_small_large": [fresh["baseline_median"], fresh["ours_median"]],
            "new_first_request_large_over_small": fresh["median_of_round_ratios"],
            "old_cached_p99_ms_small_large": [old_small["http_cached"]["p99_ms"], old_large["http_cached"]["p99_ms"]],
            "new_from_cache_under_writes_p99_ms_small_large": [
                common::percentile(&small.second_from_cache, 99.0),
                common::percentile(&large.second_from_cache, 99.0),
            ],
        }));
        queries.push(json!({
            "query": query.name(),
            "old_method": old,
            "new_method": {
                "sizes": { "small": size_row(small), "large": size_row(large) },
                "first_request_fresh_process_large_over_small": fresh,
                "computed_under_writes_large_over_small_p50": computed,
                "computed_under_writes_large_over_small_p99_pooled": computed_p99,
            },
        }));
    }
    for row in &side_by_side {
        eprintln!(
            "{}: large/small uncached p50, old method {:.2}; under writes {:.2}; first request on a fresh process {:.2}",
            row["query"].as_str().unwrap_or_default(),
            row["old_uncached_large_over_small_p50"].as_f64().unwrap_or(f64::NAN),
            row["new_computed_under_writes_large_over_small_p50"]
                .as_f64()
                .unwrap_or(f64::NAN),
            row["new_first_request_large_over_small"].as_f64().unwrap_or(f64::NAN),
        );
    }

    let sizes: serde_json::Map<String, Value> = subjects
        .iter()
        .map(|subject| (subject.label.to_owned(), json!({ "payments": subject.payments })))
        .collect();
    let result = json!({
        "benchmark": "analytics",
        "days_of_history": DAYS,
        "redis": std::env::var("REDIS_URL").is_ok(),
        "sizes": sizes,
        "rounds": rounds,
        "order": "sizes alternate request by request; request i of query q in round r goes small first when r + i + q is even",
        "requests_per_round_query_and_size": requests,
        "writes_per_second_per_tenant": writes_per_second,
        "writes": write_reports,
        "side_by_side": side_by_side,
        "queries": queries,
        "targets": { "uncached_large_over_small": 1.5, "cached_p99_ms": 5.0 },
    });
    common::write_result("analytics", &result)?;
    if !keep {
        for subject in &subjects {
            common::drop_database(subject.state.store.database()).await;
        }
    }
    Ok(())
}
