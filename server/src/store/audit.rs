//! The audit trail: every change to who may do what in a tenant (an API key
//! created or revoked) and to what it is alerted about (its rules
//! replaced), with the key that made it and when. An entry is written in
//! the same transaction as its change, so there is no change without its
//! entry and no entry for a change that did not happen. Entries name keys
//! by id, never by secret, and are kept for [`RETENTION_DAYS`] (a TTL
//! index), so the trail stays bounded.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{DateTime as BsonDateTime, doc};
use serde::{Deserialize, Serialize};

use super::Store;

/// How long audit entries are kept: a year and a quarter, past an annual
/// audit of the year before.
pub const RETENTION_DAYS: u64 = 455;

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditAction {
    #[serde(rename = "key.created")]
    KeyCreated,
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    #[serde(rename = "alert_rules.replaced")]
    AlertRulesReplaced,
}

/// One entry of a tenant's trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub tenant_id: String,
    pub at: BsonDateTime,
    /// The id of the key that made the change.
    pub actor: String,
    pub action: AuditAction,
    /// What it was made to: a key's id and role, the rules' ids.
    pub subject: String,
}

impl AuditDoc {
    pub fn new(tenant_id: &str, actor: &str, action: AuditAction, subject: String, at: DateTime<Utc>) -> Self {
        Self {
            id: ObjectId::new(),
            tenant_id: tenant_id.to_owned(),
            at: super::documents::to_bson(at),
            actor: actor.to_owned(),
            action,
            subject,
        }
    }
}

impl Store {
    pub(super) fn audit(&self) -> mongodb::Collection<AuditDoc> {
        self.database().collection(super::names::AUDIT)
    }

    /// Records `entry` in the transaction of `session`.
    pub(super) async fn record(&self, session: &mut ClientSession, entry: &AuditDoc) -> mongodb::error::Result<()> {
        self.audit().insert_one(entry).session(session).await.map(drop)
    }

    /// A tenant's entries, newest first, `limit` of them from before the
    /// entry `before` (the page's cursor).
    pub async fn audit_trail(
        &self,
        tenant_id: &str,
        before: Option<ObjectId>,
        limit: u32,
    ) -> mongodb::error::Result<Vec<AuditDoc>> {
        let mut filter = doc! { "tenantId": tenant_id };
        if let Some(before) = before {
            filter.insert("_id", doc! { "$lt": before });
        }
        self.audit()
            .find(filter)
            .sort(doc! { "_id": -1 })
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await
    }
}
