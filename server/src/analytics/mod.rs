//! `GET /api/analytics/metrics` and `GET /api/analytics/trends` (SPEC §3):
//! range parsing, then the shared metric and trend arithmetic over the cells
//! of the tenant's payments (rollups, and raw payments for partial edges).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::TimeDelta;
use paypulse_shared::buckets::{self, BucketUnit};
use paypulse_shared::metrics::compute_metrics;
use paypulse_shared::trends::build_trend;
use paypulse_shared::wire::{PaymentMetrics, Period, TrendData};
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::state::AppState;
use crate::store::documents::Role;
use crate::tenancy::Caller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/analytics/metrics", get(metrics))
        .route("/analytics/trends", get(trends))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn metrics(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<MetricsQuery>,
) -> ApiResult<Json<PaymentMetrics>> {
    let tenant = caller.require(Role::Viewer)?.tenant;
    let (from, to) = params::range(
        query.from.as_deref(),
        query.to.as_deref(),
        params::now(),
        TimeDelta::hours(24),
    )?;
    let cells = state.store.cells(&tenant.id, from, to).await?;
    Ok(Json(compute_metrics(
        &cells,
        tenant.tz(),
        &tenant.currency,
        tenant.scale(),
        from,
        to,
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrendsQuery {
    period: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn trends(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<TrendsQuery>,
) -> ApiResult<Json<Vec<TrendData>>> {
    let tenant = caller.require(Role::Viewer)?.tenant;
    let period: Period = match query.period.as_deref() {
        None => Period::Day,
        Some(text) => text
            .parse()
            .map_err(|error| ApiError::invalid_parameter(format!("'period': {error}")))?,
    };
    let tz = tenant.tz();
    let now = params::now();
    let (from, to) = if query.from.is_none() && query.to.is_none() {
        buckets::default_window(period, now, tz)
    } else {
        params::range(query.from.as_deref(), query.to.as_deref(), now, default_span(period))?
    };
    let starts = buckets::bucket_starts(from, to, BucketUnit::from(period), tz)
        .map_err(|error| ApiError::invalid_parameter(error.to_string()))?;
    let cells = state.store.cells(&tenant.id, from, to).await?;
    Ok(Json(build_trend(&starts, &cells, tenant.scale())))
}

/// How far back `from` goes when only `to` is given.
fn default_span(period: Period) -> TimeDelta {
    match period {
        Period::Day => TimeDelta::hours(24),
        Period::Week => TimeDelta::days(7),
        Period::Month => TimeDelta::days(30),
    }
}
