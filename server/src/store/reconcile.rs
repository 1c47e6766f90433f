//! Reconciliation: recomputes every cell of a tenant from the raw payments
//! and compares it with the rollups; on request, rewrites the rollups that
//! drifted. Rollups are maintained transactionally, so drift means a bug, a
//! manual edit, or data written before rollups existed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::bson::doc;
use paypulse_shared::stats::Stats;

use super::documents::to_bson;
use super::rollups::{CellKey, method_fields};
use super::{Store, names};

/// One cell whose rollup differs from the raw payments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    pub key: CellKey,
    /// What the raw payments add up to.
    pub expected: Stats,
    /// What the rollup holds.
    pub stored: Stats,
}

/// Earliest and latest instants any cell can have.
fn all_time() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        DateTime::from_timestamp_millis(0).unwrap_or_default(),
        DateTime::from_timestamp_millis(i64::from(i32::MAX) * 1000).unwrap_or_default(),
    )
}

impl Store {
    /// Every drifted cell of one tenant.
    pub async fn drift(&self, tenant_id: &str) -> mongodb::error::Result<Vec<Drift>> {
        let (from, to) = all_time();
        let keyed = |cells: Vec<paypulse_shared::stats::Cell>| -> BTreeMap<CellKey, Stats> {
            cells
                .into_iter()
                .map(|cell| {
                    (
                        CellKey {
                            tenant_id: tenant_id.to_owned(),
                            start: cell.start,
                            method: cell.method,
                        },
                        cell.stats,
                    )
                })
                .collect()
        };
        let expected = keyed(self.payment_cells(tenant_id, from, to).await?);
        let stored = keyed(self.rollup_cells(tenant_id, from, to).await?);
        let mut drift = Vec::new();
        for key in expected
            .keys()
            .chain(stored.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            let expected = expected.get(key).copied().unwrap_or_default();
            let stored = stored.get(key).copied().unwrap_or_default();
            if expected != stored {
                drift.push(Drift {
                    key: key.clone(),
                    expected,
                    stored,
                });
            }
        }
        Ok(drift)
    }

    /// Rewrites the drifted rollups with the values of the raw payments:
    /// each drifted method of a cell is set to what the payments add up to,
    /// or removed when no payment of that method is left in the cell.
    pub async fn repair(&self, drift: &[Drift]) -> mongodb::error::Result<()> {
        for cell in drift {
            let key = &cell.key;
            let filter = doc! { "_id": key.document_id() };
            if cell.expected == Stats::default() {
                let update = doc! { "$unset": { format!("methods.{}", key.method): "" } };
                self.rollups().update_one(filter, update).await?;
            } else {
                let update = doc! {
                    "$setOnInsert": { "tenantId": &key.tenant_id, "cell": to_bson(key.start) },
                    "$set": method_fields(&key.method, &cell.expected),
                };
                self.rollups().update_one(filter, update).upsert(true).await?;
            }
        }
        Ok(())
    }

    /// Every tenant's id.
    pub async fn tenant_ids(&self) -> mongodb::error::Result<Vec<String>> {
        let tenants: Vec<_> = self.tenants().find(doc! {}).await?.try_collect().await?;
        Ok(tenants.into_iter().map(|tenant| tenant.id).collect())
    }

    /// Moves a database from the first rollup layout to the current one:
    /// rebuilds every tenant's rollups from the raw payments, then drops the
    /// old collection. Does nothing when there is no old collection.
    pub async fn migrate_legacy_rollups(&self) -> mongodb::error::Result<()> {
        let existing = self.database().list_collection_names().await?;
        if !existing.iter().any(|name| name == names::LEGACY_ROLLUPS) {
            return Ok(());
        }
        for tenant in self.tenant_ids().await? {
            let drift = self.drift(&tenant).await?;
            tracing::info!(tenant = %tenant, cells = drift.len(), "rebuilding rollups in the per-cell layout");
            self.repair(&drift).await?;
        }
        self.database()
            .collection::<mongodb::bson::Document>(names::LEGACY_ROLLUPS)
            .drop()
            .await
    }
}
