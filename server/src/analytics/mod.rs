//! `GET /api/analytics/metrics` (with `compare=previous`) and
//! `GET /api/analytics/trends` (a period, or any range in buckets of 1 minute
//! to 1 day) of SPEC §3: answers cached per tenant (see `cache`); range
//! resolution, then the shared metric and trend arithmetic over the cells of
//! the tenant's payments (rollups, and raw payments for partial edges and
//! buckets finer than the rollups); trend buckets judged against their
//! seasons (see `seasons`).

pub mod cache;
pub mod seasons;

use axum::extract::{FromRef, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use paypulse_shared::anomaly::seasons::covered_shares;
use paypulse_shared::buckets;
use paypulse_shared::metrics::compute_metrics;
use paypulse_shared::query::{Compare, MetricsQuery, TrendsQuery};
use paypulse_shared::range::TimeRange;
use paypulse_shared::trends::build_trend_with_history;
use paypulse_shared::wire::{Bucket, PaymentMetrics, Period, TrendData};

use crate::access::Viewer;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::routes::{Needs, Route};
use crate::state::AppState;
use crate::store::Store;
use crate::store::documents::Role;
use crate::store::documents::TenantDoc;
use crate::store::rollups::Level;
use cache::AnalyticsCache;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/analytics/metrics", Needs::Key(Role::Viewer), metrics),
        Route::get("/analytics/trends", Needs::Key(Role::Viewer), trends),
    ]
}

/// What the analytics answers come from: the store's rollups, through the
/// cache, up to the clock's now.
#[derive(Clone)]
struct Sources {
    store: Store,
    cache: AnalyticsCache,
    clock: Clock,
}

impl FromRef<AppState> for Sources {
    fn from_ref(state: &AppState) -> Self {
        Self {
            store: state.store.clone(),
            cache: state.cache.clone(),
            clock: state.clock,
        }
    }
}

async fn metrics(
    State(sources): State<Sources>,
    Viewer(caller): Viewer,
    Params(query): Params<MetricsQuery>,
) -> ApiResult<Response> {
    let tenant = caller.tenant;
    let now = sources.clock.window_end();
    let (from, to) = params::range(&query.range, now, tenant.tz(), TimeDelta::hours(24))?;
    let body = metrics_body(&sources, &tenant, from, to).await?;
    let Some(Compare::Previous) = query.compare else {
        return Ok(json_response(body));
    };
    // Each range is computed and cached on its own; the previous one lies
    // wholly in the past, so it stays cached until a late payment lands in it.
    let previous = metrics_body(&sources, &tenant, from - (to - from), from).await?;
    let read = |body: &str| serde_json::from_str::<PaymentMetrics>(body).map_err(anyhow::Error::from);
    let mut metrics = read(&body)?;
    metrics.previous = Some(Box::new(read(&previous)?));
    Ok(json_response(
        serde_json::to_string(&metrics).map_err(anyhow::Error::from)?,
    ))
}

/// The metrics of `[from, to)` as JSON, from the cache or computed.
async fn metrics_body(
    sources: &Sources,
    tenant: &TenantDoc,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<String> {
    let key = format!("metrics:{}:{}", from.timestamp_millis(), to.timestamp_millis());
    sources
        .cache
        .get_or_compute(&tenant.id, &key, || async {
            // Hours at most: metrics count payments per hour of day.
            let cells = sources
                .store
                .cells(&tenant.id, tenant.tz(), from, to, Level::Hour)
                .await?;
            let metrics = compute_metrics(&cells, tenant.tz(), &tenant.currency, tenant.scale(), from, to);
            Ok(serde_json::to_string(&metrics).map_err(anyhow::Error::from)?)
        })
        .await
}

/// A response whose body is JSON text already rendered (and maybe cached).
fn json_response(body: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

async fn trends(
    State(sources): State<Sources>,
    Viewer(caller): Viewer,
    Params(query): Params<TrendsQuery>,
) -> ApiResult<Response> {
    let tenant = caller.tenant;
    let now = sources.clock.window_end();
    let window = TrendWindow::of(&query, now, tenant.tz())?;
    let key = format!(
        "trends:{}:{}:{}",
        window.bucket,
        window.from.timestamp_millis(),
        window.to.timestamp_millis()
    );
    let body = sources
        .cache
        .get_or_compute(&tenant.id, &key, || async {
            let points = trend_points(&sources.store, &tenant, &window).await?;
            Ok(serde_json::to_string(&points).map_err(anyhow::Error::from)?)
        })
        .await?;
    Ok(json_response(body))
}

/// What one trend covers: `[from, to)` in buckets of `bucket`, which start
/// at `starts`, as seen at `now`.
#[derive(Clone, Debug)]
pub struct TrendWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket: Bucket,
    pub starts: Vec<DateTime<Utc>>,
    /// When the window was resolved: nothing after it has happened yet, so
    /// a bucket is judged on its share before it, and only seasons over by
    /// then count.
    pub now: DateTime<Utc>,
}

impl TrendWindow {
    /// The window `query` asks for at `now` in `tz`: a period's default
    /// window when no range is given, else the range, in the bucket asked
    /// for, or the period's, or the one the span calls for.
    pub fn of(query: &TrendsQuery, now: DateTime<Utc>, tz: Tz) -> ApiResult<Self> {
        let (from, to, bucket) = if query.range == TimeRange::default() {
            let period = query.period.unwrap_or(Period::Day);
            let (from, to) = buckets::default_window(period, now, tz);
            (from, to, query.bucket.unwrap_or(Bucket::from(period)))
        } else {
            let span = default_span(query.period.unwrap_or(Period::Day));
            let (from, to) = params::range(&query.range, now, tz, span)?;
            let bucket = query
                .bucket
                .or(query.period.map(Bucket::from))
                .unwrap_or_else(|| Bucket::for_span(to - from));
            (from, to, bucket)
        };
        let starts = buckets::bucket_starts(from, to, bucket, tz)
            .map_err(|error| ApiError::invalid_parameter(error.to_string()))?;
        Ok(Self {
            from,
            to,
            bucket,
            starts,
            now,
        })
    }
}

/// The points of `window`, computed exactly: buckets of a quarter hour and
/// more from the rollups (the coarsest level each bucket is made of), finer
/// ones from the payments of each quarter, kept in memory while no other
/// writer has written to it (`store::edges`). Each bucket is judged against
/// its seasons (`seasons`) on the share of it inside the range and before
/// `now`.
pub async fn trend_points(store: &Store, tenant: &TenantDoc, window: &TrendWindow) -> ApiResult<Vec<TrendData>> {
    let (from, to) = (window.from, window.to);
    let cells = async {
        match window.bucket {
            // Every zone's offset is a multiple of 15 minutes, so UTC-aligned
            // cells of 1 or 5 minutes lie each within one local bucket.
            Bucket::Minute | Bucket::FiveMinutes => {
                store.fine_cells(&tenant.id, from, to, window.bucket.minutes()).await
            }
            bucket => {
                store
                    .cells(&tenant.id, tenant.tz(), from, to, trend_level(bucket))
                    .await
            }
        }
    };
    let (cells, seasons) = futures::try_join!(cells, seasons::trend_seasons(store, tenant, window))?;
    // A range may reach into the future: what lies after now is not yet
    // missing, so it does not count in a bucket's share.
    let shares = covered_shares(&window.starts, from, to.min(window.now), window.bucket, tenant.tz());
    Ok(build_trend_with_history(
        &window.starts,
        &cells,
        tenant.scale(),
        &seasons,
        &shares,
    ))
}

/// The coarsest rollups whose intervals each lie within one bucket: a day
/// trend reads days; six-hour buckets need hours; quarter hours need quarters.
pub fn trend_level(bucket: Bucket) -> Level {
    match bucket {
        Bucket::Minute | Bucket::FiveMinutes | Bucket::FifteenMinutes => Level::Quarter,
        Bucket::Hour | Bucket::SixHours => Level::Hour,
        Bucket::Day => Level::Day,
    }
}

/// How far back `from` goes when only `to` is given.
fn default_span(period: Period) -> TimeDelta {
    match period {
        Period::Day => TimeDelta::hours(24),
        Period::Week => TimeDelta::days(7),
        Period::Month => TimeDelta::days(30),
    }
}
