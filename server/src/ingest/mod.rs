//! Ingest (SPEC §3): `POST /api/payments` creates a payment, idempotent on
//! `externalId`; `POST /api/payments/{id}/refund` refunds one. Both need an
//! `ingest` key. Requests are validated here, then written by the writer
//! (`crate::writer`) together with their rollups.

/// Validation of a `POST /api/payments` body; public for the fuzz targets
/// (`fuzz/`), which call it as the handler does.
pub mod validate;

use axum::Json;
use axum::extract::{FromRef, Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mongodb::bson::oid::ObjectId;

use crate::access::Ingest;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::params::JsonBody;
use crate::routes::{Needs, Route};
use crate::state::AppState;
use crate::store::documents::Role;
use crate::store::documents::TenantDoc;
use crate::store::writes::{CreateOutcome, RefundOutcome};
use crate::writer::Writer;
use paypulse_shared::error::ErrorCode;

pub use validate::CreatePayment;

/// The ingest path every payment and refund takes, from the API or the
/// simulator: validation, then the group-commit writer.
#[derive(Clone)]
pub struct Ingestion {
    writer: Writer,
    clock: Clock,
}

impl FromRef<AppState> for Ingestion {
    fn from_ref(state: &AppState) -> Self {
        Self {
            writer: state.writer.clone(),
            clock: state.clock,
        }
    }
}

impl Ingestion {
    /// Validates `body` for `tenant` and writes it.
    pub async fn submit(&self, tenant: &TenantDoc, body: CreatePayment) -> ApiResult<CreateOutcome> {
        let payment = validate::validate(tenant, body, self.clock.now())?;
        self.writer.create(payment).await
    }

    /// Refunds payment `id` of `tenant_id`.
    pub async fn refund(&self, tenant_id: &str, id: ObjectId) -> ApiResult<RefundOutcome> {
        self.writer.refund(tenant_id, id, self.clock.now()).await
    }
}

pub fn routes() -> Vec<Route> {
    vec![
        Route::post("/payments", Needs::Key(Role::Ingest), create),
        Route::post("/payments/{id}/refund", Needs::Key(Role::Ingest), refund),
    ]
}

/// `POST /api/payments`: 201 with the new payment, 200 with the original on a
/// replay, 409 when the `externalId` belongs to a different payment.
pub async fn create(
    State(ingestion): State<Ingestion>,
    Ingest(caller): Ingest,
    JsonBody(body): JsonBody<CreatePayment>,
) -> ApiResult<Response> {
    match ingestion.submit(&caller.tenant, body).await? {
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
pub async fn refund(
    State(ingestion): State<Ingestion>,
    Ingest(caller): Ingest,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let object_id = ObjectId::parse_str(&id)
        .map_err(|_| ApiError::invalid_parameter(format!("payment id must be 24 hexadecimal digits, got '{id}'")))?;
    match ingestion.refund(&caller.tenant.id, object_id).await? {
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
