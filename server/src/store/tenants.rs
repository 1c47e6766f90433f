//! Queries over `tenants` and `methods`: key lookup for authentication, and
//! the idempotent upserts `seed` makes.

use std::collections::HashMap;

use chrono_tz::Tz;
use futures::TryStreamExt;
use mongodb::bson::{self, doc};
use paypulse_shared::catalogue::METHODS;

use super::Store;
use super::documents::{ApiKeyDoc, MethodDoc, TenantDoc};

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

    /// Removes the key `key_id` from the tenant's keys; whether it was there.
    /// Each instance trusts a key it found for its key cache's TTL, so a
    /// revoked key stops working everywhere within that delay.
    pub async fn revoke_api_key(&self, tenant_id: &str, key_id: &str) -> mongodb::error::Result<bool> {
        let result = self
            .tenants()
            .update_one(
                doc! { "_id": tenant_id, "apiKeys.id": key_id },
                doc! { "$pull": { "apiKeys": { "id": key_id } } },
            )
            .await?;
        Ok(result.modified_count == 1)
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
