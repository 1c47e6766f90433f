//! `GET /api/audit` (admin): the tenant's audit trail, newest first, a page
//! at a time: who created or revoked which key and who replaced the alert
//! rules, by key id (see `store::audit`).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use paypulse_shared::query::{AuditQuery, DEFAULT_LIMIT};
use serde::Serialize;

use super::Admin;
use crate::error::ApiResult;
use crate::params::Params;
use crate::routes::{Needs, Route};
use crate::store::Store;
use crate::store::audit::{AuditAction, AuditDoc};
use crate::store::documents::{Role, to_chrono};

pub fn routes() -> Vec<Route> {
    vec![Route::get("/audit", Needs::Key(Role::Admin), trail)]
}

/// One entry as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    id: String,
    at: DateTime<Utc>,
    /// The key that made the change.
    key_id: String,
    action: AuditAction,
    subject: String,
}

impl From<AuditDoc> for Entry {
    fn from(entry: AuditDoc) -> Self {
        Self {
            id: entry.id.to_hex(),
            at: to_chrono(entry.at),
            key_id: entry.actor,
            action: entry.action,
            subject: entry.subject,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<Entry>,
    next_cursor: Option<String>,
}

async fn trail(
    State(store): State<Store>,
    Admin(caller): Admin,
    Params(query): Params<AuditQuery>,
) -> ApiResult<Json<Page>> {
    let before = crate::params::id_cursor(query.cursor.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let mut entries = store.audit_trail(&caller.tenant.id, before, limit + 1).await?;
    let more = crate::store::split_page(&mut entries, limit);
    let next_cursor = more.then(|| entries.last().map(|entry| entry.id.to_hex())).flatten();
    Ok(Json(Page {
        items: entries.into_iter().map(Entry::from).collect(),
        next_cursor,
    }))
}
