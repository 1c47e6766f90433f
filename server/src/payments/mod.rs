//! `GET /api/payments` (filters, cursor pagination, newest first) and
//! `GET /api/payments/{id}`; the POST routes of the same paths belong to
//! `ingest`.

mod cursor;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use mongodb::bson::oid::ObjectId;
use paypulse_shared::catalogue;
use paypulse_shared::payment::Payment;
use paypulse_shared::wire::PaymentsPage;
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::state::AppState;
use crate::store::documents::Role;
use crate::store::payments::PaymentFilter;
use crate::tenancy::Caller;

/// Page size when `limit` is not given, and the most one page may hold.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/payments", get(list).post(crate::ingest::create))
        .route("/payments/{id}", get(one))
        .route("/payments/{id}/refund", post(crate::ingest::refund))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListQuery {
    from: Option<String>,
    to: Option<String>,
    status: Option<String>,
    method: Option<String>,
    min_amount: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Params(query): Params<ListQuery>,
) -> ApiResult<Json<PaymentsPage>> {
    let tenant = caller.require(Role::Viewer)?.tenant;
    let filter = PaymentFilter {
        from: query
            .from
            .as_deref()
            .map(|value| params::timestamp("from", value))
            .transpose()?,
        to: query
            .to
            .as_deref()
            .map(|value| params::timestamp("to", value))
            .transpose()?,
        status: query
            .status
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|error| ApiError::invalid_parameter(format!("'status': {error}")))?,
        method: query.method.map(known_method).transpose()?,
        min_amount_minor: query
            .min_amount
            .as_deref()
            .map(|value| params::amount("minAmount", value, tenant.scale()))
            .transpose()?,
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(ApiError::invalid_parameter("'from' must be earlier than 'to'"));
    }
    let limit = match query.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "'limit' must be a whole number from 1 to {MAX_LIMIT}, got '{text}'"
                ))
            })?,
    };
    let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
    let (documents, next) = state.store.list_payments(&tenant.id, &filter, after, limit).await?;
    Ok(Json(PaymentsPage {
        items: documents.iter().map(|document| document.to_wire()).collect(),
        next_cursor: next.map(cursor::encode),
    }))
}

fn known_method(method: String) -> Result<String, ApiError> {
    if catalogue::method(&method).is_some() {
        Ok(method)
    } else {
        let known: Vec<_> = catalogue::METHODS.iter().map(|method| method.id).collect();
        Err(ApiError::invalid_parameter(format!(
            "'method': unknown method '{method}' (known: {})",
            known.join(", ")
        )))
    }
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
