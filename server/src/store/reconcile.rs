//! Reconciliation: recomputes every cell of a tenant from the raw payments
//! and compares it with the rollups; on request, rewrites the rollups that
//! drifted. Rollups are maintained transactionally, so drift means a bug, a
//! manual edit, or data written before rollups existed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use mongodb::bson::doc;
use paypulse_shared::stats::{Cell, Stats};

use super::rollups::{CellKey, Level, method_fields};
use super::{Store, names};

/// One cell whose rollup differs from the raw payments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drift {
    pub level: Level,
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
    /// Every drifted cell of one tenant, finest level first.
    pub async fn drift(&self, tenant_id: &str) -> mongodb::error::Result<Vec<Drift>> {
        let (from, to) = all_time();
        let tz = self.timezone(tenant_id).await?;
        let keyed = |cells: Vec<Cell>| -> BTreeMap<CellKey, Stats> {
            let mut keyed: BTreeMap<CellKey, Stats> = BTreeMap::new();
            for cell in cells {
                let key = CellKey {
                    tenant_id: tenant_id.to_owned(),
                    start: cell.start,
                    method: cell.method,
                };
                keyed.entry(key).or_default().merge(&cell.stats);
            }
            keyed
        };
        let quarters = self.payment_cells(tenant_id, from, to).await?;
        let mut drift = Vec::new();
        for level in Level::ALL {
            // Every quarter lies inside one local hour and one local day:
            // each level's cells are sums of quarters.
            let expected = keyed(
                quarters
                    .iter()
                    .map(|cell| Cell {
                        start: level.floor(cell.start, tz),
                        ..cell.clone()
                    })
                    .collect(),
            );
            let stored = keyed(self.rollup_cells(level, tenant_id, from, to).await?);
            for key in expected.keys().chain(stored.keys()).collect::<BTreeSet<_>>() {
                let expected = expected.get(key).copied().unwrap_or_default();
                let stored = stored.get(key).copied().unwrap_or_default();
                if expected != stored {
                    drift.push(Drift {
                        level,
                        key: key.clone(),
                        expected,
                        stored,
                    });
                }
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
            let filter = key.document_filter();
            if cell.expected == Stats::default() {
                let update = doc! { "$unset": { format!("methods.{}", key.method): "" }, "$inc": { "v": 1_i64 } };
                self.rollups(cell.level).update_one(filter, update).await?;
            } else {
                let update = doc! {
                    "$set": method_fields(&key.method, &cell.expected),
                    "$inc": { "v": 1_i64 },
                };
                self.rollups(cell.level).update_one(filter, update).upsert(true).await?;
            }
        }
        Ok(())
    }

    /// Every tenant's id.
    pub async fn tenant_ids(&self) -> mongodb::error::Result<Vec<String>> {
        Ok(self.all_tenants().await?.into_iter().map(|tenant| tenant.id).collect())
    }

    /// Builds the rollups from the raw payments when the database predates
    /// their current layout: when the first layout's collection is still
    /// there, or when `created` (the collections this start created) holds a
    /// rollup level, which a database with payments would otherwise lack.
    /// Drops the first layout's collection afterwards.
    pub async fn migrate_rollups(&self, created: &[&str]) -> mongodb::error::Result<()> {
        let existing = self.database().list_collection_names().await?;
        let legacy = existing.iter().any(|name| name == names::LEGACY_ROLLUPS);
        let new_level = created.iter().any(|name| names::ALL_ROLLUPS.contains(name));
        if !legacy && !new_level {
            return Ok(());
        }
        for tenant in self.tenant_ids().await? {
            let drift = self.drift(&tenant).await?;
            if !drift.is_empty() {
                tracing::info!(tenant = %tenant, cells = drift.len(), "building rollups from the raw payments");
                self.repair(&drift).await?;
            }
        }
        if legacy {
            self.database()
                .collection::<mongodb::bson::Document>(names::LEGACY_ROLLUPS)
                .drop()
                .await?;
        }
        Ok(())
    }
}
