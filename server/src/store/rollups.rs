//! Rollups: every tenant's payments summed per 15-minute cell and per local
//! hour, kept in two collections and updated with `$inc` in the same
//! transaction that writes the payments they count, so analytics never scan
//! raw payments and the two can never disagree.
//!
//! One document holds one interval of one tenant with every method in it
//! (`methods.<method>.<counter>`). Reads cost about one document per interval,
//! whatever the number of payments, so a range takes its whole local hours
//! from the hour level (24 documents a day) and only the pieces shorter than
//! an hour at its ends from the quarter level; a quarter only partly inside
//! the range comes from the raw payments (see [`Store::cells`]). Hours are the
//! tenant's wall-clock hours (Kolkata's start at :30 UTC), so each lies in
//! exactly one trend bucket and one hour of day.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};
use paypulse_shared::buckets::{BucketUnit, floor_local};
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::stats::{CELL_MINUTES, Cell, Stats, cell_start};

use super::Store;
use super::documents::{read_i64, to_bson};
use super::names;

/// The two granularities rollups are kept at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// 15 minutes of UTC: exact for every time zone.
    Quarter,
    /// One wall-clock hour of the tenant.
    Hour,
}

impl Level {
    pub const ALL: [Level; 2] = [Level::Quarter, Level::Hour];

    fn collection(self) -> &'static str {
        match self {
            Level::Quarter => names::ROLLUPS,
            Level::Hour => names::HOUR_ROLLUPS,
        }
    }
}

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

/// What a batch of writes adds to each cell of one level.
pub type Increments = BTreeMap<CellKey, Stats>;

/// What a batch of writes adds at both levels.
#[derive(Debug, Default)]
pub struct Changes {
    pub quarters: Increments,
    pub hours: Increments,
}

impl Changes {
    /// Counts one payment (`status` as it now is) in its quarter and hour.
    pub fn record(
        &mut self,
        tenant_id: &str,
        tz: Tz,
        created_at: DateTime<Utc>,
        method: &str,
        status: PaymentStatus,
        amount_minor: i64,
    ) {
        self.entry(tenant_id, tz, created_at, method, |stats| {
            stats.record(status, amount_minor)
        });
    }

    /// Counts the refund of a payment created at `created_at`.
    pub fn refund(&mut self, tenant_id: &str, tz: Tz, created_at: DateTime<Utc>, method: &str, amount_minor: i64) {
        self.entry(tenant_id, tz, created_at, method, |stats| {
            stats.refunded += 1;
            stats.refunded_minor += amount_minor;
        });
    }

    fn entry(&mut self, tenant_id: &str, tz: Tz, created_at: DateTime<Utc>, method: &str, change: impl Fn(&mut Stats)) {
        for (increments, start) in [
            (&mut self.quarters, cell_start(created_at)),
            (&mut self.hours, floor_local(created_at, BucketUnit::Hour, tz)),
        ] {
            let key = CellKey {
                tenant_id: tenant_id.to_owned(),
                start,
                method: method.to_owned(),
            };
            change(increments.entry(key).or_default());
        }
    }
}

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
    /// The rollups of one level.
    pub fn rollups(&self, level: Level) -> mongodb::Collection<Document> {
        self.database().collection(level.collection())
    }

    /// Adds `changes` to the rollups, inside `session`'s transaction: one
    /// upsert per quarter and one per hour touched.
    pub async fn apply_changes(&self, session: &mut ClientSession, changes: &Changes) -> mongodb::error::Result<()> {
        for (level, increments) in [(Level::Quarter, &changes.quarters), (Level::Hour, &changes.hours)] {
            // Keys sort by tenant, then start, then method: one document's
            // methods are neighbours.
            let entries: Vec<(&CellKey, &Stats)> = increments.iter().collect();
            for methods in entries
                .chunk_by(|(left, _), (right, _)| (&left.tenant_id, left.start) == (&right.tenant_id, right.start))
            {
                let mut inc = Document::new();
                for (key, delta) in methods {
                    inc.extend(method_fields(&key.method, delta));
                }
                let key = methods[0].0;
                self.rollups(level)
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
        }
        Ok(())
    }

    /// The stored cells of one level of one tenant that start in
    /// `[from, to)`, one per method.
    pub async fn rollup_cells(
        &self,
        level: Level,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        let filter = doc! { "tenantId": tenant_id, "cell": { "$gte": to_bson(from), "$lt": to_bson(to) } };
        let documents: Vec<Document> = self.rollups(level).find(filter).await?.try_collect().await?;
        Ok(documents.iter().flat_map(cells_from_document).collect())
    }

    /// Every cell of one tenant's payments in `[from, to)`: the whole local
    /// hours of the range from the hour level, the rest (less than an hour
    /// at either end) from [`Store::quarter_cells`]. When the range ends in
    /// an hour whose remainder is still in the future (a range ending now),
    /// that hour comes from its rollup less the payments already dated after
    /// `to` (normally none): one empty index scan instead of two reads. Cells
    /// from the hour level span an hour; every cell lies within one local
    /// hour, which is all metrics and trends need.
    pub async fn cells(
        &self,
        tenant_id: &str,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        if to <= from {
            return Ok(Vec::new());
        }
        let first_hour = ceil_to_local_hour(from, tz);
        let last_hour = floor_local(to, BucketUnit::Hour, tz);
        if first_hour >= last_hour {
            return self.quarter_cells(tenant_id, from, to).await;
        }
        let tail_end = ceil_to_local_hour(to, tz);
        let tail_from_rollup = tail_end > to && past_length(to, tail_end, Utc::now()).is_zero();
        let hours_end = if tail_from_rollup { tail_end } else { last_hour };
        let tail = async {
            if tail_from_rollup {
                self.payment_cells(tenant_id, to, tail_end).await
            } else {
                self.quarter_cells(tenant_id, last_hour, to).await
            }
        };
        let (head, hours, tail) = futures::try_join!(
            self.quarter_cells(tenant_id, from, first_hour),
            self.rollup_cells(Level::Hour, tenant_id, first_hour, hours_end),
            tail,
        )?;
        let mut cells = head;
        if tail_from_rollup {
            let (mut last, whole): (Vec<Cell>, Vec<Cell>) = hours.into_iter().partition(|cell| cell.start == last_hour);
            subtract(&mut last, &tail);
            cells.extend(whole);
            cells.extend(last);
        } else {
            cells.extend(hours);
            cells.extend(tail);
        }
        cells.sort_by(|left, right| (left.start, &left.method).cmp(&(right.start, &right.method)));
        Ok(cells)
    }

    /// The 15-minute cells of one tenant's payments in `[from, to)`: whole
    /// cells from the quarter level; a partial cell at either end from
    /// whichever is cheaper, the raw payments of the part inside the range,
    /// or the cell's rollup less the raw payments of the part outside it.
    /// For a range that ends now the part outside is in the future, so the
    /// current cell costs one empty index scan instead of up to 15 minutes of
    /// payments.
    pub async fn quarter_cells(
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
        let stored = self.rollup_cells(Level::Quarter, tenant_id, first, end).await?;
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
        Ok(by_cell.into_values().flatten().collect())
    }
}

/// The first start of a local hour at or after `instant`.
pub fn ceil_to_local_hour(instant: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let floor = floor_local(instant, BucketUnit::Hour, tz);
    if floor == instant {
        return floor;
    }
    // Every hour starts on a quarter boundary (offsets are multiples of 15
    // minutes); the next start is within a few quarters, DST or not.
    let mut candidate = ceil_to_cell(instant);
    while floor_local(candidate, BucketUnit::Hour, tz) != candidate {
        candidate += TimeDelta::minutes(CELL_MINUTES);
    }
    candidate
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
    fn local_hours_start_on_the_tenants_clock() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let at = parse_utc("2026-11-24T10:15:00Z").unwrap();
        assert_eq!(
            ceil_to_local_hour(at, kolkata),
            parse_utc("2026-11-24T10:30:00Z").unwrap()
        );
        assert_eq!(
            ceil_to_local_hour(at, chrono_tz::UTC),
            parse_utc("2026-11-24T11:00:00Z").unwrap()
        );
        let boundary = parse_utc("2026-11-24T10:30:00Z").unwrap();
        assert_eq!(ceil_to_local_hour(boundary, kolkata), boundary);
    }

    #[test]
    fn a_payment_counts_in_its_quarter_and_its_local_hour() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let mut changes = Changes::default();
        let at = parse_utc("2026-11-24T10:20:00Z").unwrap();
        changes.record("initech", kolkata, at, "upi", PaymentStatus::Succeeded, 500);
        let quarter = changes.quarters.keys().next().unwrap();
        let hour = changes.hours.keys().next().unwrap();
        assert_eq!(quarter.start, parse_utc("2026-11-24T10:15:00Z").unwrap());
        assert_eq!(hour.start, parse_utc("2026-11-24T09:30:00Z").unwrap());
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
