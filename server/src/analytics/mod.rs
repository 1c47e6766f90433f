//! `GET /api/analytics/metrics` and `GET /api/analytics/trends` (SPEC §3):
//! answers cached per tenant (see `cache`);
//! range parsing, then the shared metric and trend arithmetic over the cells
//! of the tenant's payments (rollups, and raw payments for partial edges).

pub mod cache;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::TimeDelta;
use paypulse_shared::buckets::{self, BucketUnit};
use paypulse_shared::metrics::compute_metrics;
use paypulse_shared::query::{MetricsQuery, TrendsQuery};
use paypulse_shared::range::TimeRange;
use paypulse_shared::trends::build_trend;
use paypulse_shared::wire::Period;

use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::state::AppState;
use crate::store::documents::Role;
use crate::store::rollups::Level;
use crate::tenancy::Caller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/metrics", get(metrics))
        .route("/analytics/trends", get(trends))
}

async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<MetricsQuery>,
) -> ApiResult<Response> {
    let tenant = caller.require(Role::Viewer)?.tenant;
    let now = state.config.clock.window_end();
    let (from, to) = params::range(&query.range, now, tenant.tz(), TimeDelta::hours(24))?;
    let key = format!("metrics:{}:{}", from.timestamp_millis(), to.timestamp_millis());
    let body = state
        .cache
        .get_or_compute(&tenant.id, &key, || async {
            // Hours at most: metrics count payments per hour of day.
            let cells = state
                .store
                .cells(&tenant.id, tenant.tz(), from, to, Level::Hour)
                .await?;
            let metrics = compute_metrics(&cells, tenant.tz(), &tenant.currency, tenant.scale(), from, to);
            Ok(serde_json::to_string(&metrics).map_err(anyhow::Error::from)?)
        })
        .await?;
    Ok(json_response(body))
}

/// A response whose body is JSON text already rendered (and maybe cached).
fn json_response(body: String) -> Response {
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}

async fn trends(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<TrendsQuery>,
) -> ApiResult<Response> {
    let tenant = caller.require(Role::Viewer)?.tenant;
    let period = query.period.unwrap_or(Period::Day);
    let tz = tenant.tz();
    let now = state.config.clock.window_end();
    let (from, to) = if query.range == TimeRange::default() {
        buckets::default_window(period, now, tz)
    } else {
        params::range(&query.range, now, tz, default_span(period))?
    };
    let starts = buckets::bucket_starts(from, to, BucketUnit::from(period), tz)
        .map_err(|error| ApiError::invalid_parameter(error.to_string()))?;
    let key = format!("trends:{period}:{}:{}", from.timestamp_millis(), to.timestamp_millis());
    let body = state
        .cache
        .get_or_compute(&tenant.id, &key, || async {
            let cells = state
                .store
                .cells(&tenant.id, tenant.tz(), from, to, trend_level(period))
                .await?;
            let points = build_trend(&starts, &cells, tenant.scale());
            Ok(serde_json::to_string(&points).map_err(anyhow::Error::from)?)
        })
        .await?;
    Ok(json_response(body))
}

/// The coarsest rollups whose intervals each lie within one of the
/// period's buckets: a month trend reads days; six-hour buckets need hours.
pub fn trend_level(period: Period) -> Level {
    match period {
        Period::Day | Period::Week => Level::Hour,
        Period::Month => Level::Day,
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
