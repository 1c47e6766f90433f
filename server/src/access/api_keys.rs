//! `/api/keys` (SPEC §4, admin): a tenant's API keys. A new key is shown
//! once, in the answer that creates it; lists name keys by id, label, role
//! and date, never the secret (only its hash is stored). Revoking one takes
//! effect on every instance at once (see [`super::key_cache`]); the last
//! admin key cannot be revoked, so a tenant never locks itself out of its
//! own key management.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Access, Admin, keys};
use crate::error::{ApiError, ApiResult};
use crate::params::JsonBody;
use crate::routes::{Needs, Route};
use crate::store::audit::{AuditAction, AuditDoc};
use crate::store::documents::{ApiKeyDoc, Role, to_chrono};
use crate::store::tenants::{AddKey, RevokeKey};
use paypulse_shared::error::ErrorCode;

/// Most keys one tenant holds: a leaked admin key cannot grow the tenant's
/// document without bound.
pub const MAX_KEYS: usize = 100;
/// Longest label, in characters.
const MAX_LABEL: usize = 100;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/keys", Needs::Key(Role::Admin), list),
        Route::post("/keys", Needs::Key(Role::Admin), create),
        Route::delete("/keys/{id}", Needs::Key(Role::Admin), revoke),
    ]
}

/// A key as lists show it: never its secret.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub id: String,
    pub label: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

impl From<&ApiKeyDoc> for KeyInfo {
    fn from(stored: &ApiKeyDoc) -> Self {
        Self {
            id: stored.id.clone(),
            label: stored.label.clone(),
            role: stored.role,
            created_at: to_chrono(stored.created_at),
        }
    }
}

/// `POST /api/keys`'s body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewKey {
    pub label: String,
    pub role: Role,
}

/// The answer that creates a key: the only time its secret is shown.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CreatedKey {
    #[serde(flatten)]
    info: KeyInfo,
    key: String,
}

/// `GET /api/keys`: the tenant's keys, oldest first, as stored now (the
/// caller's tenant document may come from the key cache).
async fn list(State(access): State<Access>, Admin(caller): Admin) -> ApiResult<Json<serde_json::Value>> {
    let tenant = access
        .store
        .tenant(&caller.tenant.id)
        .await?
        .ok_or_else(|| ApiError::not_found("the tenant no longer exists"))?;
    let items: Vec<KeyInfo> = tenant.api_keys.iter().map(KeyInfo::from).collect();
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `POST /api/keys`: 201 with the new key (and `Location`).
async fn create(
    State(access): State<Access>,
    Admin(caller): Admin,
    JsonBody(body): JsonBody<NewKey>,
) -> ApiResult<Response> {
    let label = body.label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            format!("label must be 1 to {MAX_LABEL} characters"),
        ));
    }
    let key = keys::generate_key(&caller.tenant.id);
    let stored = keys::stored_key(&key, body.role, label);
    let subject = format!("{} ({})", stored.id, stored.role.as_str());
    let audit = AuditDoc::new(
        &caller.tenant.id,
        caller.actor(),
        AuditAction::KeyCreated,
        subject,
        access.clock.now(),
    );
    match access
        .store
        .add_api_key(&caller.tenant.id, &stored, MAX_KEYS, &audit)
        .await?
    {
        AddKey::Added => {}
        AddKey::Full => {
            return Err(ApiError::new(
                ErrorCode::LimitReached,
                format!("a tenant holds at most {MAX_KEYS} keys; revoke one first"),
            ));
        }
    }
    tracing::info!(tenant = %caller.tenant.id, key_id = %stored.id, role = stored.role.as_str(), "api key created");
    let location = format!("/api/keys/{}", stored.id);
    let created = CreatedKey {
        info: KeyInfo::from(&stored),
        key,
    };
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(created)).into_response())
}

/// `DELETE /api/keys/{id}`: 204; 404 for a key the tenant does not have;
/// 409 for its last admin key.
async fn revoke(State(access): State<Access>, Admin(caller): Admin, Path(id): Path<String>) -> ApiResult<StatusCode> {
    match access.revoke_key(&caller, &id).await? {
        RevokeKey::Revoked => {
            tracing::info!(tenant = %caller.tenant.id, key_id = %id, "api key revoked");
            Ok(StatusCode::NO_CONTENT)
        }
        RevokeKey::NotFound => Err(ApiError::not_found(format!("no key '{id}'"))),
        RevokeKey::LastAdmin => Err(ApiError::new(
            ErrorCode::LastAdminKey,
            "this is the tenant's last admin key: create another admin key before revoking it",
        )),
    }
}
