//! Reconciliation: recomputes every cell of a tenant from the raw payments
//! and compares it with the rollups; on request, rewrites the rollups that
//! drifted. Rollups are maintained transactionally, so drift means a bug, a
//! manual edit, or data written before rollups existed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mongodb::bson::doc;
use paypulse_shared::stats::Stats;

use super::Store;
use super::documents::to_bson;
use super::rollups::CellKey;

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

    /// Rewrites the drifted rollups with the values of the raw payments.
    pub async fn repair(&self, drift: &[Drift]) -> mongodb::error::Result<()> {
        for cell in drift {
            let stats = cell.expected;
            let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
            self.rollups()
                .replace_one(
                    doc! { "_id": cell.key.id() },
                    doc! {
                        "_id": cell.key.id(),
                        "tenantId": &cell.key.tenant_id,
                        "cell": to_bson(cell.key.start),
                        "method": &cell.key.method,
                        "succeeded": as_i64(stats.succeeded),
                        "failed": as_i64(stats.failed),
                        "refunded": as_i64(stats.refunded),
                        "volumeMinor": stats.volume_minor,
                        "refundedMinor": stats.refunded_minor,
                    },
                )
                .upsert(true)
                .await?;
        }
        Ok(())
    }
}
