//! `GET /api/payments` (filters, cursor pagination, newest first) and
//! `GET /api/payments/{id}`; the POST routes of the same paths belong to
//! `ingest`.

mod cursor;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mongodb::bson::oid::ObjectId;
use paypulse_shared::buckets;
use paypulse_shared::payment::Payment;
use paypulse_shared::query::{DEFAULT_LIMIT, PaymentListQuery};
use paypulse_shared::range::{TimePoint, TimeRange};
use paypulse_shared::wire::PaymentsPage;

use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::state::AppState;
use crate::store::documents::Role;
use crate::store::payments::Slice;
use crate::tenancy::Caller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/payments", get(list).post(crate::ingest::create))
        .route("/payments/{id}", get(one))
        .route("/payments/{id}/refund", post(crate::ingest::refund))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<PaymentListQuery>,
) -> ApiResult<Json<PaymentsPage>> {
    let tenant = caller.require(Role::Viewer)?.tenant;
    params::check_amounts(&query.filter, tenant.scale())?;
    let (from, to) = resolve_bounds(&query.range, state.config.clock.now(), tenant.tz())?;
    let within = hour_parts(query.hour, from, to, tenant.tz());
    if within.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Json(PaymentsPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    }
    let slice = Slice {
        from,
        to,
        filter: &query.filter,
        within: within.as_deref(),
        scale: tenant.scale(),
    };
    let after = query
        .cursor
        .as_deref()
        .map(|text| cursor::decode(text, query.sort))
        .transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let (documents, next) = state
        .store
        .list_payments(&tenant.id, slice, query.sort, after, limit)
        .await?;
    Ok(Json(PaymentsPage {
        items: documents.iter().map(|document| document.to_wire()).collect(),
        next_cursor: next.map(cursor::encode),
    }))
}

/// The parts of `[from, to)` in hour `hour` of the tenant's day, when an hour
/// is asked for (the query already refused an hour without both ends).
pub fn hour_parts(
    hour: Option<u8>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    tz: Tz,
) -> Option<Vec<(DateTime<Utc>, DateTime<Utc>)>> {
    let (hour, from, to) = (hour?, from?, to?);
    Some(buckets::local_hour_intervals(from, to, hour, tz))
}

/// The ends of a list's or export's range; `None` is open.
pub type Bounds = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The bounds of a list or export: each end of `range` that is given, at
/// `now` in the tenant's zone `tz` (a list without bounds covers all time).
pub fn resolve_bounds(range: &TimeRange, now: DateTime<Utc>, tz: Tz) -> ApiResult<Bounds> {
    let resolve = |point: Option<TimePoint>| point.map(|point| point.resolve(now, tz));
    let (from, to) = (resolve(range.from), resolve(range.to));
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(ApiError::invalid_parameter("'from' must be earlier than 'to'"));
    }
    Ok((from, to))
}

async fn one(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Payment>> {
    let tenant = caller.require(Role::Viewer)?.tenant;
    let object_id = ObjectId::parse_str(&id)
        .map_err(|_| ApiError::invalid_parameter(format!("payment id must be 24 hexadecimal digits, got '{id}'")))?;
    // Another tenant's payment is "not found", not "forbidden": its existence
    // is not ours to reveal.
    let document = state.store.find_payment(&tenant.id, object_id).await?;
    let document = document.ok_or_else(|| ApiError::not_found(format!("no payment '{id}'")))?;
    Ok(Json(document.to_wire()))
}
