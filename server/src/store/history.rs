//! A tenant's past as the anomaly detector reads it: the totals of whole
//! rollup intervals that are over, and where the tenant's history begins,
//! both kept in this process for a few minutes.
//!
//! A trend's seasons are the same local intervals one to six weeks earlier
//! (see `analytics::seasons`): 144 hour documents for a day trend, 1,008 for
//! a week trend, 65 day documents for a month trend. Under live traffic
//! every write invalidates the tenant's cached trend answers, so without
//! memory each of those recomputations would read them all again, although
//! they describe weeks that are over. Past rollups change only through a
//! late payment (one whose `createdAt` lies weeks back) or `reconcile
//! --repair`, so their totals are kept [`TTL`] and then read again: that is
//! how long such a change can go unseen in a band. Checking the documents'
//! versions instead (as `kept_rollups` does) would be exact, but costs one
//! read per document, which is what this avoids. Only intervals that are
//! over may be kept: a caller never asks for others (a season is over by
//! definition), and the current hour would go stale at once.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use mongodb::bson::{Document, doc};
use paypulse_shared::stats::Stats;

use super::Store;
use super::documents::to_chrono;
use super::rollups::{Level, cells_from_document, interval_range};

/// How long kept totals and history starts are used: the longest a late
/// payment into a past week, or a repair, goes unseen by the bands.
pub const TTL: Duration = Duration::from_secs(5 * 60);
/// Interval totals kept over all tenants and levels (about 100 bytes each);
/// the oldest go first beyond. A week trend needs 1,008.
const MAX_INTERVALS: usize = 100_000;
/// Beyond this many runs of adjacent intervals to read, one range over all
/// of them is read instead: reading a few documents more costs less than
/// many queries. A trend's seasons make at most six runs until memory holds
/// part of them.
const MAX_RUNS: usize = 8;
/// History starts kept; all are dropped at once beyond (a process serves far
/// fewer tenants).
const MAX_TENANTS: usize = 10_000;

type Key = (Level, String, i64);

#[derive(Debug, Default)]
pub struct KeptHistory {
    inner: Mutex<Inner>,
    /// Rollup documents read for interval totals since the process started.
    documents_read: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    totals: HashMap<Key, (Instant, Stats)>,
    order: VecDeque<Key>,
    starts: HashMap<String, (Instant, DateTime<Utc>)>,
}

impl KeptHistory {
    fn total(&self, key: &Key, now: Instant) -> Option<Stats> {
        let inner = self.inner.lock().ok()?;
        let (read_at, stats) = inner.totals.get(key)?;
        (now.duration_since(*read_at) < TTL).then_some(*stats)
    }

    fn keep_total(&self, key: Key, stats: Stats, now: Instant) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.totals.insert(key.clone(), (now, stats)).is_none() {
            inner.order.push_back(key);
        }
        while inner.totals.len() > MAX_INTERVALS {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.totals.remove(&oldest);
        }
    }

    fn start(&self, tenant_id: &str, now: Instant) -> Option<DateTime<Utc>> {
        let inner = self.inner.lock().ok()?;
        let (read_at, start) = inner.starts.get(tenant_id)?;
        (now.duration_since(*read_at) < TTL).then_some(*start)
    }

    fn keep_start(&self, tenant_id: &str, start: DateTime<Utc>, now: Instant) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.starts.len() >= MAX_TENANTS {
            inner.starts.clear();
        }
        inner.starts.insert(tenant_id.to_owned(), (now, start));
    }
}

impl Store {
    /// The totals (every method summed) of `tenant_id`'s `intervals` of
    /// `level` (`[start, end)`, in order, each of them over); an interval
    /// without a document totals nothing. Totals read within [`TTL`] come
    /// from memory; the others are read by range, one document per interval
    /// whatever the number of payments, one query per run of adjacent
    /// intervals (a day trend's seasons are six runs, one per week; a week
    /// trend's one), concurrently.
    pub async fn past_totals(
        &self,
        level: Level,
        tenant_id: &str,
        intervals: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> mongodb::error::Result<HashMap<DateTime<Utc>, Stats>> {
        let kept = self.kept_history();
        let now = Instant::now();
        let key = |start: &DateTime<Utc>| (level, tenant_id.to_owned(), start.timestamp_millis());
        let mut totals = HashMap::with_capacity(intervals.len());
        let mut missing = Vec::new();
        for interval in intervals {
            match kept.total(&key(&interval.0), now) {
                Some(stats) => {
                    totals.insert(interval.0, stats);
                }
                None => missing.push(*interval),
            }
        }
        if missing.is_empty() {
            return Ok(totals);
        }
        let reads = runs(&missing)
            .into_iter()
            .map(|(from, to)| self.rollup_documents(level, tenant_id, from, to));
        let documents: Vec<Document> = futures::future::try_join_all(reads).await?.concat();
        kept.documents_read.fetch_add(documents.len() as u64, Ordering::Relaxed);
        let mut read: BTreeMap<DateTime<Utc>, Stats> =
            missing.iter().map(|(start, _)| (*start, Stats::default())).collect();
        for cell in documents.iter().flat_map(cells_from_document) {
            if let Some(stats) = read.get_mut(&cell.start) {
                stats.merge(&cell.stats);
            }
        }
        // Kept oldest first, so that making room drops the oldest hours of
        // a trend's seasons first and the rest stay one run.
        for (start, stats) in read {
            kept.keep_total(key(&start), stats, now);
            totals.insert(start, stats);
        }
        Ok(totals)
    }

    /// Where `tenant_id`'s history begins: the start of the first local hour
    /// holding a payment; `None` before its first payment. Two small reads
    /// (the first day rollup through the `{tenantId, cell}` index, then the
    /// hours of that day), kept [`TTL`]: it moves only when older history is
    /// imported.
    pub async fn history_start(&self, tenant_id: &str) -> mongodb::error::Result<Option<DateTime<Utc>>> {
        let now = Instant::now();
        if let Some(start) = self.kept_history().start(tenant_id, now) {
            return Ok(Some(start));
        }
        // Not kept when there is none: asking again is one empty index
        // lookup, and a new tenant's first payments then count at once.
        let Some(day) = self.first_interval(Level::Day, doc! { "tenantId": tenant_id }).await? else {
            return Ok(None);
        };
        // A local day lasts at most 25 hours.
        let hour = self
            .first_interval(Level::Hour, interval_range(tenant_id, day, day + TimeDelta::hours(26)))
            .await?;
        let start = hour.unwrap_or(day);
        self.kept_history().keep_start(tenant_id, start, now);
        Ok(Some(start))
    }

    /// The start of the earliest interval of `level` matching `filter`.
    async fn first_interval(&self, level: Level, filter: Document) -> mongodb::error::Result<Option<DateTime<Utc>>> {
        let first = self
            .rollups(level)
            .find_one(filter)
            .sort(doc! { "cell": 1 })
            .projection(doc! { "cell": 1 })
            .await?;
        Ok(first.and_then(|document| document.get_datetime("cell").ok().map(|cell| to_chrono(*cell))))
    }

    /// Rollup documents read by [`Store::past_totals`] since this process
    /// started (the cost of the trends' seasons).
    pub fn past_documents_read(&self) -> u64 {
        self.kept_history().documents_read.load(Ordering::Relaxed)
    }
}

/// The ranges to read for `intervals` (in order): each run of adjacent
/// intervals, or one range over all when they make more than [`MAX_RUNS`].
fn runs(intervals: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut runs: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for &(start, end) in intervals {
        match runs.last_mut() {
            Some(run) if run.1 == start => run.1 = end,
            _ => runs.push((start, end)),
        }
    }
    match (runs.first(), runs.last()) {
        (Some(first), Some(last)) if runs.len() > MAX_RUNS => vec![(first.0, last.1)],
        _ => runs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_totals_are_used_for_a_few_minutes_only() {
        let kept = KeptHistory::default();
        let key = (Level::Hour, "acme".to_owned(), 0);
        let read_at = Instant::now();
        let stats = Stats {
            succeeded: 3,
            ..Stats::default()
        };
        kept.keep_total(key.clone(), stats, read_at);
        assert_eq!(kept.total(&key, read_at + Duration::from_secs(60)), Some(stats));
        assert_eq!(kept.total(&key, read_at + TTL), None, "read again after the TTL");
        assert_eq!(kept.total(&(Level::Day, "acme".to_owned(), 0), read_at), None);
    }

    #[test]
    fn holds_a_bounded_number_of_totals_and_starts() {
        let kept = KeptHistory::default();
        let now = Instant::now();
        for start in 0..(MAX_INTERVALS as i64 + 10) {
            kept.keep_total((Level::Hour, "acme".to_owned(), start), Stats::default(), now);
        }
        for tenant in 0..(MAX_TENANTS + 1) {
            kept.keep_start(&tenant.to_string(), DateTime::UNIX_EPOCH, now);
        }
        let inner = kept.inner.lock().unwrap();
        assert_eq!(inner.totals.len(), MAX_INTERVALS);
        assert!(!inner.totals.contains_key(&(Level::Hour, "acme".to_owned(), 0)));
        assert!(inner.starts.len() <= MAX_TENANTS);
    }

    #[test]
    fn adjacent_intervals_are_read_as_one_range() {
        let hour = |index: i64| {
            let start = DateTime::UNIX_EPOCH + TimeDelta::hours(index);
            (start, start + TimeDelta::hours(1))
        };
        // Two days of a day trend's seasons, a week apart.
        let intervals: Vec<_> = (0..24).chain(168..192).map(hour).collect();
        assert_eq!(runs(&intervals), [(hour(0).0, hour(23).1), (hour(168).0, hour(191).1)]);
        // Scattered hours: one range over them all.
        let scattered: Vec<_> = (0..20).map(|index| hour(2 * index)).collect();
        assert_eq!(runs(&scattered), [(hour(0).0, hour(38).1)]);
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn history_starts_are_kept_for_a_few_minutes_only() {
        let kept = KeptHistory::default();
        let now = Instant::now();
        assert_eq!(kept.start("acme", now), None, "not read yet");
        kept.keep_start("acme", DateTime::UNIX_EPOCH, now);
        assert_eq!(kept.start("acme", now), Some(DateTime::UNIX_EPOCH));
        assert_eq!(kept.start("acme", now + TTL), None);
    }
}
