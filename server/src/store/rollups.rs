//! Rollups: every tenant's 15-minute cells, kept in `rollups` and updated with
//! `$inc` in the same transaction that writes the payments they count, so
//! analytics never scan raw payments and the two can never disagree. Ranges
//! that do not start or end on a cell boundary read their partial edge cells
//! from the raw payments (at most 15 minutes at each end).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::{Document, doc};
use paypulse_shared::stats::{CELL_MINUTES, Cell, Stats, cell_start};

use super::Store;
use super::documents::{read_i64, to_bson};
use super::names;

/// Identifies one rollup document.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    pub tenant_id: String,
    pub start: DateTime<Utc>,
    pub method: String,
}

impl CellKey {
    /// The document id: deterministic, so concurrent upserts of one cell meet
    /// on the same document.
    pub fn id(&self) -> String {
        format!("{}|{}|{}", self.tenant_id, self.start.timestamp_millis(), self.method)
    }
}

/// What a batch of writes adds to each cell.
pub type Increments = BTreeMap<CellKey, Stats>;

impl Store {
    pub fn rollups(&self) -> mongodb::Collection<Document> {
        self.database().collection(names::ROLLUPS)
    }

    /// Adds `increments` to the rollups, inside `session`'s transaction.
    pub async fn apply_increments(
        &self,
        session: &mut ClientSession,
        increments: &Increments,
    ) -> mongodb::error::Result<()> {
        for (key, delta) in increments {
            let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
            self.rollups()
                .update_one(
                    doc! { "_id": key.id() },
                    doc! {
                        "$setOnInsert": { "tenantId": &key.tenant_id, "cell": to_bson(key.start), "method": &key.method },
                        "$inc": {
                            "succeeded": as_i64(delta.succeeded),
                            "failed": as_i64(delta.failed),
                            "refunded": as_i64(delta.refunded),
                            "volumeMinor": delta.volume_minor,
                            "refundedMinor": delta.refunded_minor,
                        },
                    },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        Ok(())
    }

    /// The stored cells of one tenant that start in `[from, to)`.
    pub async fn rollup_cells(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        let filter = doc! { "tenantId": tenant_id, "cell": { "$gte": to_bson(from), "$lt": to_bson(to) } };
        let documents: Vec<Document> = self.rollups().find(filter).await?.try_collect().await?;
        Ok(documents.iter().map(cell_from_document).collect())
    }

    /// Every cell of one tenant's payments in `[from, to)`: whole cells from
    /// the rollups, partial edge cells from the raw payments.
    pub async fn cells(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        if to <= from {
            return Ok(Vec::new());
        }
        let first_whole = ceil_to_cell(from);
        let last_whole = cell_start(to);
        if first_whole >= last_whole {
            // The range lies within one or two partial cells.
            return self.payment_cells(tenant_id, from, to).await;
        }
        let mut cells = Vec::new();
        if from < first_whole {
            cells.extend(self.payment_cells(tenant_id, from, first_whole).await?);
        }
        cells.extend(self.rollup_cells(tenant_id, first_whole, last_whole).await?);
        if last_whole < to {
            cells.extend(self.payment_cells(tenant_id, last_whole, to).await?);
        }
        cells.sort_by(|left, right| (left.start, &left.method).cmp(&(right.start, &right.method)));
        Ok(cells)
    }
}

/// The first cell boundary at or after `instant`.
fn ceil_to_cell(instant: DateTime<Utc>) -> DateTime<Utc> {
    let start = cell_start(instant);
    if start == instant {
        start
    } else {
        start + TimeDelta::minutes(CELL_MINUTES)
    }
}

pub fn cell_from_document(document: &Document) -> Cell {
    let count = |field| u64::try_from(read_i64(document, field)).unwrap_or(0);
    Cell {
        start: document
            .get_datetime("cell")
            .ok()
            .and_then(|cell| DateTime::from_timestamp_millis(cell.timestamp_millis()))
            .unwrap_or_default(),
        method: document.get_str("method").unwrap_or_default().to_owned(),
        stats: Stats {
            succeeded: count("succeeded"),
            failed: count("failed"),
            refunded: count("refunded"),
            volume_minor: read_i64(document, "volumeMinor"),
            refunded_minor: read_i64(document, "refundedMinor"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paypulse_shared::time::parse_utc;

    #[test]
    fn ceil_keeps_boundaries_and_rounds_up_the_rest() {
        let boundary = parse_utc("2026-11-24T10:15:00Z").unwrap();
        assert_eq!(ceil_to_cell(boundary), boundary);
        assert_eq!(
            ceil_to_cell(parse_utc("2026-11-24T10:15:00.001Z").unwrap()),
            parse_utc("2026-11-24T10:30:00Z").unwrap()
        );
    }

    #[test]
    fn keys_name_tenant_cell_and_method() {
        let key = CellKey {
            tenant_id: "acme".into(),
            start: parse_utc("2026-11-24T10:15:00Z").unwrap(),
            method: "card".into(),
        };
        assert_eq!(key.id(), "acme|1795515300000|card");
    }
}
