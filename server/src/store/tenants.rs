//! Queries over `tenants` and `methods`: key lookup for authentication, and
//! the idempotent upserts `seed` makes.

use std::collections::HashMap;

use chrono_tz::Tz;
use futures::{FutureExt, TryStreamExt};
use mongodb::bson::{self, doc};
use paypulse_shared::catalogue::METHODS;

use super::Store;
use super::audit::AuditDoc;
use super::documents::{ApiKeyDoc, MethodDoc, Role, TenantDoc};

/// What became of a new key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddKey {
    Added,
    /// The tenant holds the most keys it may.
    Full,
}

/// What became of a revocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeKey {
    Revoked,
    /// The tenant has no such key.
    NotFound,
    /// It is the tenant's last admin key: kept.
    LastAdmin,
}

impl Store {
    /// The tenant that owns the key with this hash.
    pub async fn tenant_by_key_hash(&self, hash: &str) -> mongodb::error::Result<Option<TenantDoc>> {
        self.tenants().find_one(doc! { "apiKeys.hash": hash }).await
    }

    pub async fn tenant(&self, id: &str) -> mongodb::error::Result<Option<TenantDoc>> {
        self.tenants().find_one(doc! { "_id": id }).await
    }

    /// The time zone of a tenant (UTC for an unknown tenant, which has no
    /// payments to count anyway).
    pub async fn timezone(&self, tenant_id: &str) -> mongodb::error::Result<Tz> {
        Ok(self
            .tenant(tenant_id)
            .await?
            .map_or(chrono_tz::UTC, |tenant| tenant.tz()))
    }

    /// Every tenant.
    pub async fn all_tenants(&self) -> mongodb::error::Result<Vec<TenantDoc>> {
        self.tenants().find(doc! {}).await?.try_collect().await
    }

    /// The tenants among `ids` (unknown ones are left out).
    pub async fn tenants_by_ids(&self, ids: &[&str]) -> mongodb::error::Result<Vec<TenantDoc>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.tenants()
            .find(doc! { "_id": { "$in": ids } })
            .await?
            .try_collect()
            .await
    }

    /// The time zones of several tenants, by id.
    pub async fn timezones<'t>(
        &self,
        tenant_ids: impl Iterator<Item = &'t str>,
    ) -> mongodb::error::Result<HashMap<String, Tz>> {
        let mut ids: Vec<&str> = tenant_ids.collect();
        ids.sort_unstable();
        ids.dedup();
        let tenants = self.tenants_by_ids(&ids).await?;
        Ok(tenants
            .into_iter()
            .map(|tenant| (tenant.id.clone(), tenant.tz()))
            .collect())
    }

    /// Creates the tenant unless it exists; an existing tenant keeps its
    /// settings and keys.
    pub async fn ensure_tenant(&self, tenant: &TenantDoc) -> anyhow::Result<()> {
        let mut fields = bson::to_document(tenant)?;
        fields.remove("_id");
        self.tenants()
            .update_one(doc! { "_id": &tenant.id }, doc! { "$setOnInsert": fields })
            .upsert(true)
            .await?;
        Ok(())
    }

    /// Adds a key unless a key with the same hash is already there.
    pub async fn ensure_api_key(&self, tenant_id: &str, key: &ApiKeyDoc) -> anyhow::Result<()> {
        self.tenants()
            .update_one(
                doc! { "_id": tenant_id, "apiKeys.hash": { "$ne": &key.hash } },
                doc! { "$push": { "apiKeys": bson::to_bson(key)? } },
            )
            .await?;
        Ok(())
    }

    /// Adds `key` to the tenant's keys while it holds fewer than `max` (one
    /// conditional update, however many instances add keys at once), and
    /// records `audit` with it, in one transaction.
    pub async fn add_api_key(
        &self,
        tenant_id: &str,
        key: &ApiKeyDoc,
        max: usize,
        audit: &AuditDoc,
    ) -> mongodb::error::Result<AddKey> {
        let filter = doc! { "_id": tenant_id, format!("apiKeys.{}", max.saturating_sub(1)): { "$exists": false } };
        let update = doc! { "$push": { "apiKeys": bson::to_bson(key)? } };
        Ok(if self.audited_tenant_update(filter, update, audit).await? {
            AddKey::Added
        } else {
            AddKey::Full
        })
    }

    /// Removes the key `key_id` from the tenant's keys, unless it is the
    /// tenant's last admin key (one conditional update), and records
    /// `audit` with it, in one transaction. Only the access layer calls
    /// this (`Access::revoke_key`), which also invalidates every instance's
    /// key cache.
    pub async fn revoke_api_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        audit: &AuditDoc,
    ) -> mongodb::error::Result<RevokeKey> {
        let admin = Role::Admin.as_str();
        let removable = doc! {
            "_id": tenant_id,
            "$or": [
                { "apiKeys": { "$elemMatch": { "id": key_id, "role": { "$ne": admin } } } },
                { "apiKeys.id": key_id, "apiKeys": { "$elemMatch": { "role": admin, "id": { "$ne": key_id } } } },
            ],
        };
        let update = doc! { "$pull": { "apiKeys": { "id": key_id } } };
        let revoked = self.audited_tenant_update(removable, update, audit).await?;
        if revoked {
            return Ok(RevokeKey::Revoked);
        }
        let held = self
            .tenants()
            .find_one(doc! { "_id": tenant_id, "apiKeys.id": key_id })
            .await?
            .is_some();
        Ok(if held {
            RevokeKey::LastAdmin
        } else {
            RevokeKey::NotFound
        })
    }

    /// Applies `update` to the tenant that `filter` matches and, if it
    /// changed, records `audit` with it, in one transaction: a change of
    /// keys or rules is never without its audit entry, nor an entry without
    /// its change. `false`: nothing matched, nothing written.
    pub(super) async fn audited_tenant_update(
        &self,
        filter: bson::Document,
        update: bson::Document,
        audit: &AuditDoc,
    ) -> mongodb::error::Result<bool> {
        self.in_transaction(
            (self, filter, update, audit),
            |session, (store, filter, update, audit)| {
                async move {
                    let result = store
                        .tenants()
                        .update_one(filter.clone(), update.clone())
                        .session(&mut *session)
                        .await?;
                    if result.matched_count == 0 {
                        return Ok(false);
                    }
                    store.record(session, audit).await?;
                    Ok(true)
                }
                .boxed()
            },
        )
        .await
    }

    /// Writes the payment-method catalogue.
    pub async fn ensure_methods(&self) -> anyhow::Result<()> {
        for method in METHODS {
            let document = MethodDoc {
                id: method.id.to_owned(),
                display_name: method.display_name.to_owned(),
                colour: method.colour.to_owned(),
            };
            self.methods()
                .replace_one(doc! { "_id": method.id }, document)
                .upsert(true)
                .await?;
        }
        Ok(())
    }
}
