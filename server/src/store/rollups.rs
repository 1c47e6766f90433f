//! Rollups: every tenant's payments summed per 15-minute cell, per local
//! hour and per local day, kept in three collections and updated with `$inc`
//! in the same transaction that writes the payments they count, so analytics
//! never scan raw payments and the levels can never disagree.
//!
//! One document holds one interval of one tenant with every method in it
//! (`methods.<method>.<counter>`). Reads cost about one document per interval,
//! whatever the number of payments, so a range is read from the coarsest
//! level its question allows (see [`super::planner`]). Hours and days are the
//! tenant's wall-clock ones (Kolkata's hours start at :30 UTC), so each lies
//! in exactly one trend bucket, and each hour in one hour of day.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use futures::TryStreamExt;
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};
use paypulse_shared::buckets::floor_local;
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::stats::{CELL_MINUTES, Cell, Stats, cell_start};
use paypulse_shared::wire::Bucket;

use super::Store;
use super::documents::{read_i64, to_bson};
use super::names;

/// The granularities rollups are kept at, finest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// 15 minutes of UTC: exact for every time zone.
    Quarter,
    /// One wall-clock hour of the tenant.
    Hour,
    /// One calendar day of the tenant (23 to 25 hours around DST changes).
    Day,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Quarter, Level::Hour, Level::Day];

    pub(super) fn collection(self) -> &'static str {
        match self {
            Level::Quarter => names::ROLLUPS,
            Level::Hour => names::HOUR_ROLLUPS,
            Level::Day => names::DAY_ROLLUPS,
        }
    }

    /// The next finer level; none below quarters.
    pub fn finer(self) -> Option<Level> {
        match self {
            Level::Quarter => None,
            Level::Hour => Some(Level::Quarter),
            Level::Day => Some(Level::Hour),
        }
    }

    /// The start of the interval of this level that holds `instant`.
    pub fn floor(self, instant: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        match self {
            Level::Quarter => cell_start(instant),
            Level::Hour => floor_local(instant, Bucket::Hour, tz),
            Level::Day => floor_local(instant, Bucket::Day, tz),
        }
    }

    /// The first start of an interval of this level at or after `instant`.
    pub fn ceil(self, instant: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if self.floor(instant, tz) == instant {
            return instant;
        }
        // Every start is on a quarter boundary (offsets are multiples of 15
        // minutes), so walking quarters finds the next one, DST or not.
        let mut candidate = ceil_to_cell(instant);
        while self.floor(candidate, tz) != candidate {
            candidate += TimeDelta::minutes(CELL_MINUTES);
        }
        candidate
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

    /// The filter that finds (or, in an upsert, creates) the document of
    /// this cell: its id, and the tenant and start the id encodes, which an
    /// upsert writes into a new document. The fields are there for a
    /// sharded cluster, which routes an upsert only by a filter holding the
    /// whole shard key (`{tenantId, cell}`, infra/k8s/README.md).
    pub fn document_filter(&self) -> Document {
        doc! { "_id": self.document_id(), "tenantId": &self.tenant_id, "cell": to_bson(self.start) }
    }
}

/// What a batch of writes adds to each cell of one level.
pub type Increments = BTreeMap<CellKey, Stats>;

/// What a batch of writes adds at every level.
#[derive(Debug, Default)]
pub struct Changes {
    levels: BTreeMap<Level, Increments>,
    /// The writer (`w.<writer>`) whose in-memory copies of the quarters
    /// record these writes after they commit (see [`super::edges`]); none
    /// for writes nothing records, such as imports.
    writer: Option<String>,
}

impl Changes {
    /// Changes that `writer`'s kept quarters record once committed.
    pub fn recorded_by(writer: &str) -> Self {
        Self {
            writer: Some(writer.to_owned()),
            ..Self::default()
        }
    }

    /// Counts one payment (`status` as it now is) at every level.
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

    /// What the batch adds to the cells of one level.
    pub fn at(&self, level: Level) -> Option<&Increments> {
        self.levels.get(&level)
    }

    fn entry(&mut self, tenant_id: &str, tz: Tz, created_at: DateTime<Utc>, method: &str, change: impl Fn(&mut Stats)) {
        for level in Level::ALL {
            let key = CellKey {
                tenant_id: tenant_id.to_owned(),
                start: level.floor(created_at, tz),
                method: method.to_owned(),
            };
            change(self.levels.entry(level).or_default().entry(key).or_default());
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
    /// upsert per interval touched at each level.
    pub async fn apply_changes(&self, session: &mut ClientSession, changes: &Changes) -> mongodb::error::Result<()> {
        for (&level, increments) in &changes.levels {
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
                // Every write bumps the version kept copies are checked by,
                // and a quarter counts which of them were whose.
                inc.insert("v", 1_i64);
                if let (Level::Quarter, Some(writer)) = (level, &changes.writer) {
                    inc.insert(format!("w.{writer}"), 1_i64);
                }
                let key = methods[0].0;
                self.rollups(level)
                    .update_one(key.document_filter(), doc! { "$inc": inc })
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
        let documents = self.rollup_documents(level, tenant_id, from, to).await?;
        Ok(documents.iter().flat_map(cells_from_document).collect())
    }

    /// The stored documents of one level of one tenant that start in
    /// `[from, to)`.
    pub(super) async fn rollup_documents(
        &self,
        level: Level,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Document>> {
        let filter = interval_range(tenant_id, from, to);
        self.rollups(level).find(filter).await?.try_collect().await
    }
}

/// The filter for one tenant's rollup documents starting in `[from, to)`.
pub(super) fn interval_range(tenant_id: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Document {
    doc! { "tenantId": tenant_id, "cell": { "$gte": to_bson(from), "$lt": to_bson(to) } }
}

/// The first cell boundary at or after `instant`.
pub(super) fn ceil_to_cell(instant: DateTime<Utc>) -> DateTime<Utc> {
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
    fn local_hours_and_days_start_on_the_tenants_clock() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let at = parse_utc("2026-11-24T10:15:00Z").unwrap();
        assert_eq!(
            Level::Hour.ceil(at, kolkata),
            parse_utc("2026-11-24T10:30:00Z").unwrap()
        );
        assert_eq!(
            Level::Hour.ceil(at, chrono_tz::UTC),
            parse_utc("2026-11-24T11:00:00Z").unwrap()
        );
        let boundary = parse_utc("2026-11-24T10:30:00Z").unwrap();
        assert_eq!(Level::Hour.ceil(boundary, kolkata), boundary);
        // Kolkata's 25 November starts at 18:30 UTC on the 24th.
        assert_eq!(Level::Day.ceil(at, kolkata), parse_utc("2026-11-24T18:30:00Z").unwrap());
        assert_eq!(
            Level::Day.floor(at, kolkata),
            parse_utc("2026-11-23T18:30:00Z").unwrap()
        );
    }

    #[test]
    fn days_follow_daylight_saving_changes() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 29 March 2026 has 23 hours in Berlin, 25 October 2026 has 25.
        let short = parse_utc("2026-03-29T12:00:00Z").unwrap();
        assert_eq!(
            Level::Day.floor(short, berlin),
            parse_utc("2026-03-28T23:00:00Z").unwrap()
        );
        assert_eq!(
            Level::Day.ceil(short, berlin),
            parse_utc("2026-03-29T22:00:00Z").unwrap()
        );
        let long = parse_utc("2026-10-25T12:00:00Z").unwrap();
        assert_eq!(
            Level::Day.floor(long, berlin),
            parse_utc("2026-10-24T22:00:00Z").unwrap()
        );
        assert_eq!(
            Level::Day.ceil(long, berlin),
            parse_utc("2026-10-25T23:00:00Z").unwrap()
        );
    }

    #[test]
    fn a_payment_counts_in_its_quarter_its_local_hour_and_its_local_day() {
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        let mut changes = Changes::default();
        let at = parse_utc("2026-11-24T10:20:00Z").unwrap();
        changes.record("initech", kolkata, at, "upi", PaymentStatus::Succeeded, 500);
        let start = |level| {
            changes
                .at(level)
                .and_then(|cells| cells.keys().next())
                .map(|key| key.start)
        };
        assert_eq!(start(Level::Quarter), parse_utc("2026-11-24T10:15:00Z").ok());
        assert_eq!(start(Level::Hour), parse_utc("2026-11-24T09:30:00Z").ok());
        assert_eq!(start(Level::Day), parse_utc("2026-11-23T18:30:00Z").ok());
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
