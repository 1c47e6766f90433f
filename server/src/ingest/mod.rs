//! Ingest (SPEC §3): `POST /api/payments` creates a payment, idempotent on
//! `externalId`; `POST /api/payments/{id}/refund` refunds one. Both need an
//! `ingest` key. Requests are validated here, then written by the writer
//! (`crate::writer`) together with their rollups.

mod validate;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mongodb::bson::oid::ObjectId;

use crate::error::{ApiError, ApiResult};
use crate::params::JsonBody;
use crate::state::AppState;
use crate::store::documents::{Role, TenantDoc};
use crate::store::writes::{CreateOutcome, RefundOutcome};
use crate::tenancy::Caller;
use paypulse_shared::error::ErrorCode;

pub use validate::CreatePayment;

/// The ingest path every new payment takes, from the API or the simulator:
/// validation for `tenant`, then the group-commit writer.
pub async fn submit(state: &AppState, tenant: &TenantDoc, body: CreatePayment) -> ApiResult<CreateOutcome> {
    let payment = validate::validate(tenant, body, state.config.clock.now())?;
    state.writer.create(payment).await
}

/// The refund path, from the API or the simulator.
pub async fn refund_by_id(state: &AppState, tenant_id: &str, id: ObjectId) -> ApiResult<RefundOutcome> {
    state.writer.refund(tenant_id, id, state.config.clock.now()).await
}

/// `POST /api/payments`: 201 with the new payment, 200 with the original on a
/// replay, 409 when the `externalId` belongs to a different payment.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreatePayment>,
) -> ApiResult<Response> {
    let tenant = caller.require(Role::Ingest)?.tenant;
    match submit(&state, &tenant, body).await? {
        CreateOutcome::Created(document) => {
            let location = HeaderValue::from_str(&format!("/api/payments/{}", document.id.to_hex()))
                .map_err(|error| ApiError::Internal(error.into()))?;
            Ok((StatusCode::CREATED, [(LOCATION, location)], Json(document.to_wire())).into_response())
        }
        CreateOutcome::Replayed(document) => Ok((StatusCode::OK, Json(document.to_wire())).into_response()),
        CreateOutcome::Conflict(document) => Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            format!(
                "externalId '{}' already names payment {} with different details; use a new externalId for a new payment",
                document.external_id,
                document.id.to_hex()
            ),
        )),
    }
}

/// `POST /api/payments/{id}/refund`: refunds a succeeded payment in full.
pub async fn refund(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let tenant = caller.require(Role::Ingest)?.tenant;
    let object_id = ObjectId::parse_str(&id)
        .map_err(|_| ApiError::invalid_parameter(format!("payment id must be 24 hexadecimal digits, got '{id}'")))?;
    match refund_by_id(&state, &tenant.id, object_id).await? {
        RefundOutcome::Refunded(document) => Ok((StatusCode::OK, Json(document.to_wire())).into_response()),
        RefundOutcome::NotFound => Err(ApiError::not_found(format!("no payment '{id}'"))),
        RefundOutcome::AlreadyRefunded(_) => Err(ApiError::new(
            ErrorCode::AlreadyRefunded,
            format!("payment '{id}' is already refunded"),
        )),
        RefundOutcome::NotRefundable(_) => Err(ApiError::new(
            ErrorCode::NotRefundable,
            format!("payment '{id}' failed, so no money moved and there is nothing to refund"),
        )),
    }
}
