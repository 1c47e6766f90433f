//! Rollups: every tenant's 15-minute cells, kept in `rollups` and updated with
//! `$inc` in the same transaction that writes the payments they count, so
//! analytics never scan raw payments and the two can never disagree. Ranges
//! that do not start or end on a cell boundary read their partial edge cells
//! from the raw payments (at most 15 minutes at each end).
//!
//! One document holds one cell of one tenant with every method in it
//! (`methods.<method>.<counter>`). A range therefore reads at most one
//! document per 15 minutes however many payments the tenant has, which keeps
//! analytics latency flat as data grows, and a batch of writes touches one
//! document per cell rather than one per cell and method.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};
use paypulse_shared::stats::{CELL_MINUTES, Cell, Stats, cell_start};

use super::Store;
use super::documents::{read_i64, to_bson};
use super::names;

/// Identifies one method's counters within one rollup document.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    pub tenant_id: String,
    pub start: DateTime<Utc>,
    pub method: String,
}

impl CellKey {
    /// The id of the document that holds this cell: deterministic, so
    /// concurrent upserts of one cell meet on the same document.
    pub fn document_id(&self) -> String {
        format!("{}|{}", self.tenant_id, self.start.timestamp_millis())
    }
}

/// What a batch of writes adds to each cell.
pub type Increments = BTreeMap<CellKey, Stats>;

/// The counters of one method, as stored under `methods.<method>`.
const COUNTERS: [&str; 5] = ["succeeded", "failed", "refunded", "volumeMinor", "refundedMinor"];

fn counter_values(stats: &Stats) -> [i64; 5] {
    let as_i64 = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
    [
        as_i64(stats.succeeded),
        as_i64(stats.failed),
        as_i64(stats.refunded),
        stats.volume_minor,
        stats.refunded_minor,
    ]
}

/// `{ "methods.<method>.<counter>": value, ... }` for one method.
pub(super) fn method_fields(method: &str, stats: &Stats) -> Document {
    COUNTERS
        .iter()
        .zip(counter_values(stats))
        .map(|(counter, value)| (format!("methods.{method}.{counter}"), Bson::Int64(value)))
        .collect()
}

impl Store {
    pub fn rollups(&self) -> mongodb::Collection<Document> {
        self.database().collection(names::ROLLUPS)
    }

    /// Adds `increments` to the rollups, inside `session`'s transaction: one
    /// upsert per cell.
    pub async fn apply_increments(
        &self,
        session: &mut ClientSession,
        increments: &Increments,
    ) -> mongodb::error::Result<()> {
        // Keys sort by tenant, then cell, then method: one document's
        // methods are neighbours.
        let entries: Vec<(&CellKey, &Stats)> = increments.iter().collect();
        for methods in
            entries.chunk_by(|(left, _), (right, _)| (&left.tenant_id, left.start) == (&right.tenant_id, right.start))
        {
            let mut inc = Document::new();
            for (key, delta) in methods {
                inc.extend(method_fields(&key.method, delta));
            }
            let key = methods[0].0;
            self.rollups()
                .update_one(
                    doc! { "_id": key.document_id() },
                    doc! {
                        "$setOnInsert": { "tenantId": &key.tenant_id, "cell": to_bson(key.start) },
                        "$inc": inc,
                    },
                )
                .upsert(true)
                .session(&mut *session)
                .await?;
        }
        Ok(())
    }

    /// The stored cells of one tenant that start in `[from, to)`, one per
    /// method.
    pub async fn rollup_cells(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        let filter = doc! { "tenantId": tenant_id, "cell": { "$gte": to_bson(from), "$lt": to_bson(to) } };
        let documents: Vec<Document> = self.rollups().find(filter).await?.try_collect().await?;
        Ok(documents.iter().flat_map(cells_from_document).collect())
    }

    /// Every cell of one tenant's payments in `[from, to)`: whole cells from
    /// the rollups; a partial cell at either end from whichever is cheaper,
    /// the raw payments of the part inside the range, or the cell's rollup
    /// less the raw payments of the part outside it. For a range that ends
    /// now the part outside is in the future, so the current cell costs one
    /// empty index scan instead of up to 15 minutes of payments.
    pub async fn cells(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        if to <= from {
            return Ok(Vec::new());
        }
        let first = cell_start(from);
        let end = ceil_to_cell(to);
        let stored = self.rollup_cells(tenant_id, first, end).await?;
        let mut by_cell: BTreeMap<DateTime<Utc>, Vec<Cell>> = BTreeMap::new();
        for cell in stored {
            by_cell.entry(cell.start).or_default().push(cell);
        }
        let now = Utc::now();
        let mut edges = vec![first];
        let last = end - TimeDelta::minutes(CELL_MINUTES);
        if last != first {
            edges.push(last);
        }
        for start in edges {
            let cell_end = start + TimeDelta::minutes(CELL_MINUTES);
            let (inside_from, inside_to) = (from.max(start), to.min(cell_end));
            if (inside_from, inside_to) == (start, cell_end) {
                continue;
            }
            let direct = past_length(inside_from, inside_to, now);
            let complement = past_length(start, inside_from, now) + past_length(inside_to, cell_end, now);
            let partial = if direct <= complement {
                self.payment_cells(tenant_id, inside_from, inside_to).await?
            } else {
                let mut cells = by_cell.remove(&start).unwrap_or_default();
                for (outside_from, outside_to) in [(start, inside_from), (inside_to, cell_end)] {
                    if outside_from < outside_to {
                        let outside = self.payment_cells(tenant_id, outside_from, outside_to).await?;
                        subtract(&mut cells, &outside);
                    }
                }
                cells
            };
            by_cell.insert(start, partial);
        }
        let mut cells: Vec<Cell> = by_cell.into_values().flatten().collect();
        cells.sort_by(|left, right| (left.start, &left.method).cmp(&(right.start, &right.method)));
        Ok(cells)
    }
}

/// How much of `[from, to)` lies before `now`: what reading its payments
/// costs (a sender's clock may run slightly ahead, so later is rare, not
/// impossible, and is still read).
fn past_length(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> TimeDelta {
    (to.min(now) - from).max(TimeDelta::zero())
}

/// Takes `outside` (cells of part of the same interval) away from `cells`,
/// method by method, dropping methods left with nothing.
fn subtract(cells: &mut Vec<Cell>, outside: &[Cell]) {
    for part in outside {
        if let Some(cell) = cells.iter_mut().find(|cell| cell.method == part.method) {
            cell.stats.remove(&part.stats);
        }
    }
    cells.retain(|cell| !cell.stats.is_empty());
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

/// The per-method cells one rollup document holds.
pub fn cells_from_document(document: &Document) -> Vec<Cell> {
    let start = document
        .get_datetime("cell")
        .ok()
        .and_then(|cell| DateTime::from_timestamp_millis(cell.timestamp_millis()))
        .unwrap_or_default();
    let Ok(methods) = document.get_document("methods") else {
        return Vec::new();
    };
    methods
        .iter()
        .filter_map(|(method, counters)| {
            let counters = counters.as_document()?;
            let count = |field| u64::try_from(read_i64(counters, field)).unwrap_or(0);
            Some(Cell {
                start,
                method: method.clone(),
                stats: Stats {
                    succeeded: count("succeeded"),
                    failed: count("failed"),
                    refunded: count("refunded"),
                    volume_minor: read_i64(counters, "volumeMinor"),
                    refunded_minor: read_i64(counters, "refundedMinor"),
                },
            })
        })
        .collect()
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
    fn one_document_per_tenant_and_cell() {
        let key = |method: &str| CellKey {
            tenant_id: "acme".into(),
            start: parse_utc("2026-11-24T10:15:00Z").unwrap(),
            method: method.into(),
        };
        assert_eq!(key("card").document_id(), "acme|1795515300000");
        assert_eq!(key("card").document_id(), key("paypal").document_id());
    }

    #[test]
    fn documents_read_back_as_the_cells_written() {
        let start = parse_utc("2026-11-24T10:15:00Z").unwrap();
        let card = Stats {
            succeeded: 3,
            failed: 1,
            refunded: 1,
            volume_minor: 4_500,
            refunded_minor: 1_000,
        };
        let paypal = Stats {
            failed: 2,
            ..Stats::default()
        };
        let counters = |stats: &Stats| -> Document {
            method_fields("m", stats)
                .into_iter()
                .map(|(path, value)| (path.trim_start_matches("methods.m.").to_owned(), value))
                .collect()
        };
        let document = doc! {
            "_id": "acme|1", "tenantId": "acme", "cell": to_bson(start),
            "methods": { "card": counters(&card), "paypal": counters(&paypal) },
        };
        let cells = cells_from_document(&document);
        assert_eq!(
            cells,
            vec![
                Cell {
                    start,
                    method: "card".into(),
                    stats: card
                },
                Cell {
                    start,
                    method: "paypal".into(),
                    stats: paypal
                },
            ]
        );
    }
}
