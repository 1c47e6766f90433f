//! The payments of quarters that ranges cut through, kept in memory.
//!
//! A range such as "the last 24 hours" starts inside a quarter that lies a
//! day in the past; the part of it inside the range is only in the raw
//! payments, and reading them costs as much as the quarter is busy (about
//! 60 payments, 2–3 ms, for a tenant with a million payments in 90 days).
//! Such a quarter is read once, whole, and its payments are kept (32 bytes
//! each: id, time, method, status, amount); while it is current (below),
//! what a later read needs is computed from memory.
//!
//! Trend buckets finer than a quarter (1 and 5 minutes) are computed from
//! kept quarters too, the current one included: this process adds what it
//! commits to the quarters it keeps (`record_*`), so under its own writes the
//! current quarter stays valid instead of being read again after every
//! payment.
//!
//! What tells a kept quarter from a stale one is who wrote to the quarter,
//! not its sums. Every write to a quarter's rollup bumps its version `v`, and
//! a write of this process also bumps `w.<writer>` (this cache's id) in the
//! same transaction, so `v - w.<writer>` counts the writes of everyone else
//! (other instances, imports, repairs, older versions of the server). A kept
//! quarter remembers that count from the rollup read before its payments
//! were; while the rollup still shows it, the quarter is current. Our own
//! writes cannot make it stale, because it holds every one of them that was
//! recorded, which includes every one that was acknowledged:
//! - recorded before its payments were read: committed before, so read;
//! - recorded while they were read: a read registers its quarter first
//!   ([`EdgeCache::reading`]), and writes recorded meanwhile are kept aside
//!   for it and added when it is kept;
//! - recorded after: added to the kept quarter (`record_*`).
//!
//! It may also hold a write of ours committed and not yet recorded (read by
//! the snapshot), which is only newer, and not yet acknowledged either.
//! Comparing sums (as this did first) could not tell "ahead by a write of
//! ours" or "behind by one" from "another instance wrote": the soak found
//! that with a write always in flight (commits overlapping at 50 payments/s)
//! a read nearly never matched, and every evaluation and trend read the
//! current quarter whole, until SecantusDB was saturated with it.
//!
//! A write whose outcome is unknown (an error, or a cancelled request) may
//! have committed without being recorded. Then the kept quarters are dropped
//! and none is kept for [`DISTRUST`] (longer than a commit can stay
//! pending); reads meanwhile aggregate the raw payments, as for a quarter
//! too busy to keep.
//!
//! A quarter that is read again is merged with the kept one (payments are
//! never deleted, and a refund never undone), so nothing recorded while the
//! read ran is lost or counted twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::stats::{CELL_MINUTES, Cell, Stats, cell_start};

use super::documents::{in_range, read_i64, to_chrono};
use super::rollups::cells_from_document;
use super::rollups::{Level, ceil_to_cell};
use super::{Store, names};

/// Payments kept over all quarters (32 bytes each, so ~32 MB at most, and
/// up to twice that with the room a growing quarter's `Vec` keeps); beyond
/// it the quarters least recently used go first. It must hold what is in
/// use: the three quarters the alert evaluator's 30-minute window touches
/// of each busy tenant (a quarter kept while current grows past
/// [`MAX_QUARTER_PAYMENTS`] as payments are recorded, to 135,000 at 150
/// payments/s) and the edges of other reads. A quarter in use that is let
/// go cannot be kept again once it is that busy, and the evaluator then
/// aggregates its raw payments every second: at 300,000 the session-19
/// soak (one tenant at 150 payments/s) saturated the database that way for
/// minutes, and ingest answered 503, from the moment the bound was reached.
/// The default; `KEPT_PAYMENTS` sets another.
pub const MAX_PAYMENTS: usize = 1_000_000;
/// A quarter busier than this is not kept: its partial reads aggregate the
/// raw payments each time. A tenant sustaining 66 payments/s fills it. It
/// was 20,000, and the soak (52 payments/s for one tenant) found what that
/// costs: once the current quarter passed it, the alert evaluator, once a
/// second, aggregated every payment of the quarter so far (and of the one
/// before), which saturated SecantusDB until the quarter ended (ingest fell
/// to half and requests met the deadline; py-spy showed the `$group`).
const MAX_QUARTER_PAYMENTS: usize = 60_000;

/// How long no quarter is kept after a write of this process ended without
/// a known outcome: the driver retries a commit whose result is unknown for
/// up to two minutes, and the server ends a transaction a minute after it
/// began, so past this the write has landed or never will.
const DISTRUST: Duration = Duration::from_secs(150);

/// A quarter's rollup as a kept quarter is judged against: its cells, and
/// who has written to it (see the module).
#[derive(Clone, Debug, Default)]
pub struct StoredQuarter {
    pub cells: Vec<Cell>,
    /// Writes by anyone but this process: `v - w.<writer>`.
    others: i64,
}

impl StoredQuarter {
    /// One quarter's rollup document, as seen by the writer `writer`.
    fn of(document: &Document, writer: &str) -> Self {
        let mine = document
            .get_document("w")
            .map(|writers| read_i64(writers, writer))
            .unwrap_or(0);
        Self {
            cells: cells_from_document(document),
            others: read_i64(document, "v") - mine,
        }
    }
}

/// One payment as it is recorded or read, before a quarter holds it.
#[derive(Clone, Debug)]
struct Payment {
    id: ObjectId,
    created_at: DateTime<Utc>,
    method: String,
    status: PaymentStatus,
    amount_minor: i64,
}

impl Payment {
    fn of(payment: &super::documents::PaymentDoc) -> Self {
        Self {
            id: payment.id,
            created_at: to_chrono(payment.created_at),
            method: payment.method.clone(),
            status: payment.status,
            amount_minor: payment.amount_minor,
        }
    }
}

/// One payment as a kept quarter holds it: 32 bytes. It held its creation
/// time, method name and sums whole, with a set of ids beside (about 150
/// bytes a payment, and twice that in the slack of a growing quarter); the
/// soak's busy quarters (45,000 payments each) grew the process by ~8 MB a
/// quarter until the cache's bound.
#[derive(Clone, Copy, Debug)]
struct Entry {
    amount_minor: i64,
    id: ObjectId,
    /// Milliseconds after the quarter's start (BSON times are milliseconds).
    offset: u32,
    /// Index into the quarter's `methods`.
    method: u32,
    status: PaymentStatus,
}

// What the bound on kept payments (`MAX_PAYMENTS`) is counted in.
const _: () = assert!(size_of::<Entry>() == 32);

impl Entry {
    fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        stats.record(self.status, self.amount_minor);
        stats
    }

    /// Marks a succeeded payment refunded (only those can be).
    fn refund(&mut self) {
        if self.status == PaymentStatus::Succeeded {
            self.status = PaymentStatus::Refunded;
        }
    }
}

/// Every payment of one quarter of one tenant, oldest first.
#[derive(Clone, Debug)]
pub struct Quarter {
    start: DateTime<Utc>,
    payments: Vec<Entry>,
    /// The method names the payments' `method` indexes: a tenant uses a
    /// handful of the catalogue's.
    methods: Vec<String>,
    /// Other writers' writes as of the rollup read before the payments.
    others: i64,
}

impl Quarter {
    /// The quarter of `payments` (as read: each once), read after its
    /// rollup showed `stored`.
    #[cfg(test)]
    fn new(start: DateTime<Utc>, payments: Vec<Payment>, stored: &StoredQuarter) -> Self {
        let mut quarter = Self::empty(start, stored);
        for payment in &payments {
            let entry = quarter.entry(payment);
            quarter.payments.push(entry);
        }
        quarter.sorted()
    }

    /// A quarter to be filled in any order and then [`Self::sorted`],
    /// read after its rollup showed `stored`.
    fn empty(start: DateTime<Utc>, stored: &StoredQuarter) -> Self {
        Self {
            start,
            payments: Vec::new(),
            methods: Vec::new(),
            others: stored.others,
        }
    }

    /// The quarter with its payments oldest first (stable: those of one
    /// millisecond keep the order they were read in) and no spare room.
    fn sorted(mut self) -> Self {
        self.payments.sort_by_key(|entry| entry.offset);
        self.payments.shrink_to_fit();
        self
    }

    /// Whether these are still the quarter's payments as the rollup
    /// `stored` counts them, or later: no other writer wrote since.
    fn is_current(&self, stored: &StoredQuarter) -> bool {
        stored.others == self.others
    }

    /// Milliseconds from the quarter's start to `at`, clamped to the
    /// quarter's span.
    fn offset_of(&self, at: DateTime<Utc>) -> u32 {
        let millis = (at - self.start).num_milliseconds();
        u32::try_from(millis.clamp(0, CELL_MINUTES * 60_000)).unwrap_or(0)
    }

    /// The index of `method` in `methods`, added if new.
    fn method_index(&mut self, method: &str) -> u32 {
        let index = match self.methods.iter().position(|known| known == method) {
            Some(index) => index,
            None => {
                self.methods.push(method.to_owned());
                self.methods.len() - 1
            }
        };
        u32::try_from(index).expect("fewer methods than payments")
    }

    /// `payment` as this quarter holds it.
    fn entry(&mut self, payment: &Payment) -> Entry {
        self.entry_of(
            payment.id,
            payment.created_at,
            &payment.method,
            payment.status,
            payment.amount_minor,
        )
    }

    /// A payment as this quarter holds it.
    fn entry_of(
        &mut self,
        id: ObjectId,
        created_at: DateTime<Utc>,
        method: &str,
        status: PaymentStatus,
        amount_minor: i64,
    ) -> Entry {
        Entry {
            amount_minor,
            id,
            offset: self.offset_of(created_at),
            method: self.method_index(method),
            status,
        }
    }

    /// Adds `entry` after those created before it or at the same time
    /// (nearly always at the end: payments arrive about in order), unless
    /// it holds the payment already; true when added.
    fn insert(&mut self, entry: Entry) -> bool {
        let first = self.payments.partition_point(|kept| kept.offset < entry.offset);
        let end = self.payments.partition_point(|kept| kept.offset <= entry.offset);
        if self.payments[first..end].iter().any(|kept| kept.id == entry.id) {
            return false;
        }
        self.payments.insert(end, entry);
        true
    }

    /// Adds the `added` payments it does not hold yet and marks `refunded`
    /// ones refunded, in place; returns how many it added. A write costs its
    /// own payments, not a copy of the quarter.
    fn apply(&mut self, added: &[Payment], refunded: &[ObjectId]) -> usize {
        let mut count = 0;
        for payment in added {
            let entry = self.entry(payment);
            count += usize::from(self.insert(entry));
        }
        // A creation (nearly every write) has no refunds: no pass over the
        // quarter.
        if !refunded.is_empty() {
            let refunded: HashSet<&ObjectId> = refunded.iter().collect();
            for entry in &mut self.payments {
                if refunded.contains(&entry.id) {
                    entry.refund();
                }
            }
        }
        count
    }

    /// This quarter as read, with what `kept` holds that the read missed: a
    /// payment recorded while the read ran, or a refund.
    fn merged_with(mut self, kept: &Quarter) -> Self {
        // A set, not `insert`'s look among payments of the same
        // millisecond: an import may date a whole quarter alike.
        let read: HashSet<ObjectId> = self.payments.iter().map(|entry| entry.id).collect();
        let mut refunded = Vec::new();
        for entry in &kept.payments {
            if !read.contains(&entry.id) {
                let method = self.method_index(&kept.methods[entry.method as usize]);
                let at = self.payments.partition_point(|held| held.offset <= entry.offset);
                self.payments.insert(at, Entry { method, ..*entry });
            }
            if entry.status == PaymentStatus::Refunded {
                refunded.push(entry.id);
            }
        }
        self.apply(&[], &refunded);
        self
    }

    /// The quarter's cells (one per method) of the payments in `[from, to)`.
    pub fn cells(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Cell> {
        self.cells_by(from, to, CELL_MINUTES)
    }

    /// Cells of `width` minutes (a divisor of 15, aligned to the quarter),
    /// one per method, of the payments in `[from, to)`.
    pub fn cells_by(&self, from: DateTime<Utc>, to: DateTime<Utc>, width: i64) -> Vec<Cell> {
        let (from, to) = (self.offset_of(from), self.offset_of(to));
        let first = self.payments.partition_point(|entry| entry.offset < from);
        let end = self.payments.partition_point(|entry| entry.offset < to);
        let width = TimeDelta::minutes(width.clamp(1, CELL_MINUTES));
        let width_millis = u32::try_from(width.num_milliseconds()).unwrap_or(u32::MAX);
        let mut sums: BTreeMap<(u32, &str), Stats> = BTreeMap::new();
        for entry in self.payments.get(first..end).unwrap_or_default() {
            let bucket = entry.offset / width_millis;
            let method = self.methods[entry.method as usize].as_str();
            sums.entry((bucket, method)).or_default().merge(&entry.stats());
        }
        sums.into_iter()
            .map(|((bucket, method), stats)| Cell {
                start: self.start + width * i32::try_from(bucket).unwrap_or(0),
                method: method.to_owned(),
                stats,
            })
            .collect()
    }
}

type Key = (String, i64);

/// Quarters kept per process, bounded by their number of payments.
#[derive(Debug)]
pub struct EdgeCache {
    /// This cache's id among the writers of a rollup (`w.<writer>`).
    writer: String,
    inner: Mutex<Kept>,
    /// Most payments kept ([`MAX_PAYMENTS`] unless `KEPT_PAYMENTS` says).
    bound: usize,
    /// Quarters read whole from the payments, for operators and tests.
    reads: AtomicU64,
}

impl Default for EdgeCache {
    fn default() -> Self {
        Self::with_bound(MAX_PAYMENTS)
    }
}

impl EdgeCache {
    /// A cache keeping at most `bound` payments (`KEPT_PAYMENTS`).
    pub fn with_bound(bound: usize) -> Self {
        Self {
            // Unique per process start (and per store in a test process),
            // and a plain field name: hex digits only.
            writer: ObjectId::new().to_hex(),
            inner: Mutex::default(),
            bound,
            reads: AtomicU64::new(0),
        }
    }
}

/// A write of this process (see [`EdgeCache::writing`]). Its caller ends it with
/// [`Writing::recorded`] once its `record_*` is done; dropped without that
/// (an error, a cancelled request) its outcome is unknown, and the cache
/// stops trusting what it keeps for a while.
pub struct Writing<'a> {
    cache: &'a EdgeCache,
    recorded: bool,
}

impl Writing<'_> {
    /// The write is recorded (or wrote nothing): its outcome is known.
    pub fn recorded(mut self) {
        self.recorded = true;
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.cache.distrust();
        }
    }
}

/// A read of a quarter's payments under way (see [`EdgeCache::reading`]):
/// until it is kept or dropped, what this process records for the quarter
/// is kept aside for it.
pub struct Reading<'a> {
    cache: &'a EdgeCache,
    key: Key,
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        let Ok(mut kept) = self.cache.inner.lock() else {
            return;
        };
        if let Some(pending) = kept.pending.get_mut(&self.key) {
            pending.readers -= 1;
            if pending.readers == 0 {
                kept.pending.remove(&self.key);
            }
        }
    }
}

/// What this process recorded for a quarter while reads of it ran.
#[derive(Debug, Default)]
struct Pending {
    readers: usize,
    added: Vec<Payment>,
    refunded: Vec<ObjectId>,
}

#[derive(Debug, Default)]
struct Kept {
    quarters: HashMap<Key, Held>,
    /// Counts uses (a quarter kept, read or recorded into): the least
    /// recently used quarter goes first.
    clock: u64,
    payments: usize,
    /// No quarter is kept before this (see [`DISTRUST`]).
    distrusted_until: Option<std::time::Instant>,
    /// Quarters being read, and what was recorded for them meanwhile.
    pending: HashMap<Key, Pending>,
}

/// A kept quarter and when it was last used, on [`Kept::clock`].
#[derive(Debug)]
struct Held {
    quarter: Arc<Quarter>,
    used: u64,
}

impl Kept {
    fn trusted(&self) -> bool {
        self.distrusted_until
            .is_none_or(|until| std::time::Instant::now() >= until)
    }

    /// The next tick of the use clock.
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Lets the quarters least recently used go until at most
    /// `bound` are kept. The least is found by a scan: this runs
    /// only past the bound, and each quarter let go makes room for many
    /// payments.
    fn shrink_to_bound(&mut self, bound: usize) {
        while self.payments > bound {
            let Some(least) = self
                .quarters
                .iter()
                .min_by_key(|(_, held)| held.used)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            if let Some(old) = self.quarters.remove(&least) {
                self.payments -= old.quarter.payments.len();
            }
        }
    }
}

impl EdgeCache {
    /// Adds payments this process committed to the quarters kept for their
    /// tenant and creation time, where one is kept.
    pub fn record_created(&self, payments: &[super::documents::PaymentDoc]) {
        let mut by_quarter: BTreeMap<Key, Vec<Payment>> = BTreeMap::new();
        for document in payments {
            let payment = Payment::of(document);
            by_quarter
                .entry((
                    document.tenant_id.clone(),
                    cell_start(payment.created_at).timestamp_millis(),
                ))
                .or_default()
                .push(payment);
        }
        for (key, added) in by_quarter {
            self.update(&key, &added, &[]);
        }
    }

    /// Marks a payment this process refunded as refunded in its kept quarter.
    pub fn record_refund(&self, tenant_id: &str, created_at: DateTime<Utc>, id: ObjectId) {
        let key = (tenant_id.to_owned(), cell_start(created_at).timestamp_millis());
        self.update(&key, &[], &[id]);
    }

    /// This cache's id among a rollup's writers: the caller of a write
    /// that [`EdgeCache::writing`] covers counts it under `w.<writer>`.
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// How many quarters were read whole from the payments so far.
    pub fn quarters_read(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// How many payments the kept quarters hold (at most the bound).
    pub fn payments_kept(&self) -> usize {
        self.inner.lock().map_or(0, |kept| kept.payments)
    }

    /// Covers a write of this process until its caller ends the guard,
    /// after its `record_*`; taken before the write's transaction begins.
    pub fn writing(&self) -> Writing<'_> {
        Writing {
            cache: self,
            recorded: false,
        }
    }

    /// Registers a read of the quarter `key` before its payments are read:
    /// what is recorded for it from now on is added when it is kept.
    fn reading(&self, key: &Key) -> Reading<'_> {
        if let Ok(mut kept) = self.inner.lock() {
            kept.pending.entry(key.clone()).or_default().readers += 1;
        }
        Reading {
            cache: self,
            key: key.clone(),
        }
    }

    /// Drops every kept quarter and keeps none for [`DISTRUST`]: a write of
    /// ours may land without being recorded.
    fn distrust(&self) {
        let Ok(mut kept) = self.inner.lock() else {
            return;
        };
        tracing::debug!("a write's outcome is unknown: kept quarters dropped");
        kept.quarters.clear();
        kept.payments = 0;
        kept.distrusted_until = Some(std::time::Instant::now() + DISTRUST);
    }

    fn trusted(&self) -> bool {
        self.inner.lock().is_ok_and(|kept| kept.trusted())
    }

    fn update(&self, key: &Key, added: &[Payment], refunded: &[ObjectId]) {
        let Ok(mut kept) = self.inner.lock() else {
            return;
        };
        if let Some(pending) = kept.pending.get_mut(key) {
            pending.added.extend_from_slice(added);
            pending.refunded.extend_from_slice(refunded);
        }
        let now = kept.tick();
        let Some(held) = kept.quarters.get_mut(key) else {
            return;
        };
        held.used = now;
        // In place unless a read holds the quarter this moment.
        let count = Arc::make_mut(&mut held.quarter).apply(added, refunded);
        kept.payments += count;
        // A kept quarter grows with every payment recorded for it: the
        // bound holds between reads too (the session-18 soak, at 150
        // payments/s, kept 358,344 before the next read let some go).
        kept.shrink_to_bound(self.bound);
    }

    fn get(&self, key: &Key) -> Option<Arc<Quarter>> {
        let mut kept = self.inner.lock().ok()?;
        let now = kept.tick();
        let held = kept.quarters.get_mut(key)?;
        held.used = now;
        Some(Arc::clone(&held.quarter))
    }

    /// Keeps `quarter` as read under `reading`, with what was recorded for
    /// it meanwhile and merged with the kept one if any; while distrusted,
    /// only returns it.
    fn keep(&self, reading: &Reading<'_>, mut quarter: Quarter) -> Arc<Quarter> {
        let key = reading.key.clone();
        let Ok(mut kept) = self.inner.lock() else {
            return Arc::new(quarter);
        };
        if let Some(pending) = kept.pending.get(&key) {
            quarter.apply(&pending.added, &pending.refunded);
        }
        if !kept.trusted() {
            return Arc::new(quarter);
        }
        let quarter = match kept.quarters.get(&key) {
            Some(old) => Arc::new(quarter.merged_with(&old.quarter)),
            None => Arc::new(quarter),
        };
        let size = quarter.payments.len();
        let held = Held {
            quarter: Arc::clone(&quarter),
            used: kept.tick(),
        };
        if let Some(old) = kept.quarters.insert(key, held) {
            kept.payments -= old.quarter.payments.len();
        }
        kept.payments += size;
        kept.shrink_to_bound(self.bound);
        quarter
    }
}

impl Store {
    /// The rollups of one tenant's quarters starting in `[from, to)`, by
    /// start, as kept quarters are judged against.
    pub(super) async fn stored_quarters(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<BTreeMap<DateTime<Utc>, StoredQuarter>> {
        let documents = self.rollup_documents(Level::Quarter, tenant_id, from, to).await?;
        Ok(documents
            .iter()
            .filter_map(|document| {
                let start = to_chrono(*document.get_datetime("cell").ok()?);
                Some((start, StoredQuarter::of(document, self.edges().writer())))
            })
            .collect())
    }

    /// How many quarters this process has read whole from the payments
    /// (see [`super::edges`]): a handful per busy quarter when all is well.
    pub fn quarters_read(&self) -> u64 {
        self.edges().quarters_read()
    }

    /// How many payments of quarters ranges cut through this process keeps
    /// in memory (see [`super::edges`]).
    pub fn quarter_payments_kept(&self) -> usize {
        self.edges().payments_kept()
    }

    /// The cells of one tenant's payments in `[from, to)`, a part of the
    /// past quarter starting at `start` whose rollup is `stored`: from
    /// memory when the quarter is kept and current, otherwise by reading the
    /// whole quarter once. `None` when the quarter is too busy to keep.
    pub(super) async fn kept_quarter_cells(
        &self,
        tenant_id: &str,
        start: DateTime<Utc>,
        stored: &StoredQuarter,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Option<Vec<Cell>>> {
        Ok(self
            .kept_quarter(tenant_id, start, stored)
            .await?
            .map(|quarter| quarter.cells(from, to)))
    }

    /// The payments of the quarter starting at `start`, whose rollup is
    /// `stored`: from memory when kept and current, otherwise read whole and
    /// kept. `None` when the quarter is too busy to keep, or while no
    /// quarter is kept (after a write of unknown outcome).
    async fn kept_quarter(
        &self,
        tenant_id: &str,
        start: DateTime<Utc>,
        stored: &StoredQuarter,
    ) -> mongodb::error::Result<Option<Arc<Quarter>>> {
        if stored.cells.iter().all(|cell| cell.stats.is_empty()) {
            // No rollup: no payments (they are written together).
            return Ok(Some(Arc::new(Quarter::empty(start, stored))));
        }
        if !self.edges().trusted() {
            return Ok(None);
        }
        let key = (tenant_id.to_owned(), start.timestamp_millis());
        let kept = self.edges().get(&key);
        if let Some(quarter) = &kept
            && quarter.is_current(stored)
        {
            return Ok(kept);
        }
        let expected: u64 = stored
            .cells
            .iter()
            .map(|cell| cell.stats.succeeded + cell.stats.failed)
            .sum();
        if expected > MAX_QUARTER_PAYMENTS as u64 {
            return Ok(None);
        }
        tracing::debug!(tenant = tenant_id, %start, kept = kept.is_some(), "reading a quarter's payments");
        let reading = self.edges().reading(&key);
        let quarter = self.read_quarter(tenant_id, start, stored).await?;
        Ok(Some(self.edges().keep(&reading, quarter)))
    }

    /// Cells of `width` minutes (1 or 5) of one tenant's payments in
    /// `[from, to)`, for trend buckets finer than the rollups: each quarter
    /// the range touches from its kept payments (see the module), or, when
    /// too busy to keep, from its raw payments.
    pub async fn fine_cells(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        width: i64,
    ) -> mongodb::error::Result<Vec<Cell>> {
        if to <= from {
            return Ok(Vec::new());
        }
        let first = cell_start(from);
        let end = ceil_to_cell(to);
        let mut stored = self.stored_quarters(tenant_id, first, end).await?;
        let mut cells = Vec::new();
        let mut start = first;
        while start < end {
            let quarter_end = start + TimeDelta::minutes(CELL_MINUTES);
            let (inside_from, inside_to) = (from.max(start), to.min(quarter_end));
            let rollup = stored.remove(&start).unwrap_or_default();
            match self.kept_quarter(tenant_id, start, &rollup).await? {
                Some(quarter) => cells.extend(quarter.cells_by(inside_from, inside_to, width)),
                None => {
                    cells.extend(self.payment_cells_of(tenant_id, inside_from, inside_to, width).await?);
                }
            }
            start = quarter_end;
        }
        Ok(cells)
    }

    /// Reads the quarter starting at `start` whole, after its rollup was
    /// read as `stored`.
    async fn read_quarter(
        &self,
        tenant_id: &str,
        start: DateTime<Utc>,
        stored: &StoredQuarter,
    ) -> mongodb::error::Result<Quarter> {
        self.edges().reads.fetch_add(1, Ordering::Relaxed);
        let end = start + TimeDelta::minutes(CELL_MINUTES);
        let filter = doc! { "tenantId": tenant_id, "createdAt": in_range(start, end) };
        let mut rows = self
            .database()
            .collection::<Document>(names::PAYMENTS)
            .find(filter)
            .projection(doc! { "_id": 1, "createdAt": 1, "method": 1, "status": 1, "amountMinor": 1 })
            .await?;
        // Each row becomes its 32-byte entry as it arrives: the quarter's
        // documents are never all held at once (a busy quarter's are ~10 MB
        // of short-lived allocations, and the soak of session 16 grew in
        // steps at quarter boundaries).
        let mut quarter = Quarter::empty(start, stored);
        while let Some(row) = rows.try_next().await? {
            let (Ok(id), Ok(created_at), Ok(method), Some(status)) = (
                row.get_object_id("_id"),
                row.get_datetime("createdAt"),
                row.get_str("method"),
                row.get_str("status").ok().and_then(|status| status.parse().ok()),
            ) else {
                continue;
            };
            let entry = quarter.entry_of(
                id,
                to_chrono(*created_at),
                method,
                status,
                read_i64(&row, "amountMinor"),
            );
            quarter.payments.push(entry);
        }
        Ok(quarter.sorted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paypulse_shared::time::parse_utc;

    fn entry(at: &str, method: &str, status: PaymentStatus, amount: i64) -> Payment {
        Payment {
            id: ObjectId::new(),
            created_at: parse_utc(at).unwrap(),
            method: method.into(),
            status,
            amount_minor: amount,
        }
    }

    /// The payments `quarter` holds, as a read would return them.
    fn payments_of(quarter: &Quarter) -> Vec<Payment> {
        quarter
            .payments
            .iter()
            .map(|entry| Payment {
                id: entry.id,
                created_at: quarter.start + TimeDelta::milliseconds(entry.offset.into()),
                method: quarter.methods[entry.method as usize].clone(),
                status: entry.status,
                amount_minor: entry.amount_minor,
            })
            .collect()
    }

    /// A rollup written `others` times by other writers (its cells do not
    /// matter to the judgement).
    fn stored(others: i64) -> StoredQuarter {
        StoredQuarter {
            cells: Vec::new(),
            others,
        }
    }

    /// Keeps `quarter` for `key` as a read of it would.
    fn keep(cache: &EdgeCache, key: &Key, quarter: Quarter) -> Arc<Quarter> {
        let reading = cache.reading(key);
        cache.keep(&reading, quarter)
    }

    /// Read after a rollup written 5 times by others.
    fn quarter() -> Quarter {
        Quarter::new(
            parse_utc("2026-11-24T10:00:00Z").unwrap(),
            vec![
                entry("2026-11-24T10:07:00Z", "card", PaymentStatus::Refunded, 300),
                entry("2026-11-24T10:01:00Z", "card", PaymentStatus::Succeeded, 100),
                entry("2026-11-24T10:05:00Z", "upi", PaymentStatus::Failed, 50),
            ],
            &stored(5),
        )
    }

    #[test]
    fn sums_any_part_of_the_quarter() {
        let quarter = quarter();
        let at = |text| parse_utc(text).unwrap();
        let cells = quarter.cells(at("2026-11-24T10:01:00Z"), at("2026-11-24T10:06:00Z"));
        let summary: Vec<(&str, u64, u64, i64)> = cells
            .iter()
            .map(|cell| {
                (
                    cell.method.as_str(),
                    cell.stats.succeeded,
                    cell.stats.failed,
                    cell.stats.volume_minor,
                )
            })
            .collect();
        assert_eq!(summary, [("card", 1, 0, 100), ("upi", 0, 1, 0)]);
        assert!(
            quarter
                .cells(at("2026-11-24T10:08:00Z"), at("2026-11-24T10:15:00Z"))
                .is_empty()
        );
        assert_eq!(
            quarter
                .cells(at("2026-11-24T10:00:00Z"), at("2026-11-24T10:15:00Z"))
                .len(),
            2
        );
    }

    #[test]
    fn sums_minutes_of_the_quarter() {
        let quarter = quarter();
        let at = |text| parse_utc(text).unwrap();
        let cells = quarter.cells_by(quarter.start, at("2026-11-24T10:15:00Z"), 5);
        let summary: Vec<(String, &str, u64)> = cells
            .iter()
            .map(|cell| {
                (
                    paypulse_shared::time::format_utc(&cell.start),
                    cell.method.as_str(),
                    cell.stats.count(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("2026-11-24T10:00:00Z".to_owned(), "card", 1),
                ("2026-11-24T10:05:00Z".to_owned(), "card", 1),
                ("2026-11-24T10:05:00Z".to_owned(), "upi", 1),
            ]
        );
    }

    #[test]
    fn what_this_process_writes_keeps_the_quarter_valid() {
        let cache = EdgeCache::default();
        let start = parse_utc("2026-11-24T10:00:00Z").unwrap();
        let key = ("acme".to_owned(), start.timestamp_millis());
        keep(&cache, &key, quarter());
        let mut payment = created("2026-11-24T10:09:00Z", "card", 700);
        cache.record_created(std::slice::from_ref(&payment));
        cache.record_refund("acme", to_chrono(payment.created_at), payment.id);
        payment.status = PaymentStatus::Refunded;
        let kept = cache.get(&key).unwrap();
        // Our writes leave it current, whatever the rollup's sums now.
        assert!(kept.is_current(&stored(5)));
        let card = kept.cells(start, start + TimeDelta::minutes(15));
        assert_eq!(
            (
                card[0].stats.succeeded,
                card[0].stats.refunded,
                card[0].stats.volume_minor
            ),
            (3, 2, 1_100)
        );
        // Another quarter is not kept: nothing to update.
        payment.created_at = crate::store::documents::to_bson(parse_utc("2026-11-24T11:00:00Z").unwrap());
        cache.record_created(&[payment]);
        assert!(
            cache
                .get(&(
                    "acme".to_owned(),
                    parse_utc("2026-11-24T11:00:00Z").unwrap().timestamp_millis()
                ))
                .is_none()
        );
    }

    fn created(at: &str, method: &str, amount: i64) -> crate::store::documents::PaymentDoc {
        let at = crate::store::documents::to_bson(parse_utc(at).unwrap());
        crate::store::documents::PaymentDoc {
            id: ObjectId::new(),
            tenant_id: "acme".into(),
            external_id: "x".into(),
            amount_minor: amount,
            currency: "USD".into(),
            method: method.into(),
            status: PaymentStatus::Succeeded,
            failure_reason: None,
            refunded_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// The quarter's card cell over all of it: (succeeded, refunded, volume).
    fn card_of(quarter: &Quarter) -> (u64, u64, i64) {
        let cells = quarter.cells(quarter.start, quarter.start + TimeDelta::minutes(15));
        let card = cells.iter().find(|cell| cell.method == "card").unwrap();
        (card.stats.succeeded, card.stats.refunded, card.stats.volume_minor)
    }

    #[test]
    fn a_quarter_read_while_writes_were_recorded_holds_each_payment_once() {
        let cache = EdgeCache::default();
        let start = parse_utc("2026-11-24T10:00:00Z").unwrap();
        let key = ("acme".to_owned(), start.timestamp_millis());
        let before = quarter();
        keep(&cache, &key, before.clone());
        // Recorded while a read ran whose snapshot missed it.
        let ours = created("2026-11-24T10:09:00Z", "card", 700);
        cache.record_created(std::slice::from_ref(&ours));
        // The read: what was there, another instance's payment, and a
        // refund of the first card payment, but not ours.
        let theirs = created("2026-11-24T10:10:00Z", "card", 1_000);
        let mut read = payments_of(&before);
        read.push(Payment::of(&theirs));
        let first_card = read
            .iter_mut()
            .find(|payment| payment.status == PaymentStatus::Succeeded && payment.method == "card")
            .unwrap();
        first_card.status = PaymentStatus::Refunded;
        let refunded = read;
        let kept = keep(&cache, &key, Quarter::new(start, refunded, &stored(6)));
        assert_eq!(kept.payments.len(), 5, "ours kept, theirs added");
        assert!(kept.is_current(&stored(6)), "as of the other writer's write");
        assert_eq!(card_of(&kept), (4, 2, 2_100));
        // Our write recorded again (a read kept in between): counted once.
        cache.record_created(&[ours]);
        assert_eq!(card_of(&cache.get(&key).unwrap()), (4, 2, 2_100));
        assert_eq!(cache.inner.lock().unwrap().payments, 5);
    }

    #[test]
    fn what_is_recorded_while_a_quarter_is_read_is_in_it_once_kept() {
        let cache = EdgeCache::default();
        let start = parse_utc("2026-11-24T10:00:00Z").unwrap();
        let key = ("acme".to_owned(), start.timestamp_millis());
        // Nothing kept yet: a read registers, then reads a snapshot that
        // misses a payment of ours and the refund of one it holds, both
        // recorded while it ran.
        let reading = cache.reading(&key);
        let snapshot = quarter();
        let ours = created("2026-11-24T10:09:00Z", "card", 700);
        cache.record_created(std::slice::from_ref(&ours));
        let succeeded = payments_of(&snapshot)
            .into_iter()
            .find(|payment| payment.status == PaymentStatus::Succeeded)
            .unwrap();
        cache.record_refund("acme", succeeded.created_at, succeeded.id);
        let kept = cache.keep(&reading, snapshot);
        assert_eq!(kept.payments.len(), 4, "ours added");
        assert_eq!(card_of(&kept), (3, 2, 1_100), "and the refund");
        drop(reading);
        assert!(cache.inner.lock().unwrap().pending.is_empty(), "nothing left aside");
        // Recorded after the read: into the kept quarter, and not aside.
        cache.record_created(&[created("2026-11-24T10:11:00Z", "upi", 5)]);
        assert_eq!(cache.get(&key).unwrap().payments.len(), 5);
        assert!(cache.inner.lock().unwrap().pending.is_empty());
    }

    #[test]
    fn is_judged_by_who_else_wrote_not_by_its_sums() {
        let quarter = quarter();
        assert!(quarter.is_current(&stored(5)));
        // Another writer's write, even one that left the sums as they were
        // (a repair that bumps the version), is a reason to read again.
        assert!(!quarter.is_current(&stored(6)));
        assert!(!quarter.is_current(&stored(4)));
    }

    #[test]
    fn a_rollup_document_tells_our_writes_from_everyone_elses() {
        let document = doc! {
            "cell": mongodb::bson::DateTime::from_millis(0),
            "methods": { "card": { "succeeded": 3_i64, "failed": 0_i64, "refunded": 0_i64, "volumeMinor": 300_i64, "refundedMinor": 0_i64 } },
            "v": 7_i64,
            "w": { "ours": 4_i64, "theirs": 2_i64 },
        };
        let ours = StoredQuarter::of(&document, "ours");
        assert_eq!((ours.others, ours.cells.len()), (3, 1));
        let stranger = StoredQuarter::of(&document, "new");
        assert_eq!(stranger.others, 7);
        // Written only before writers were counted.
        let old = StoredQuarter::of(&doc! { "v": 2_i64 }, "ours");
        assert_eq!(old.others, 2);
    }

    #[test]
    fn a_write_of_unknown_outcome_drops_every_kept_quarter_for_a_while() {
        let cache = EdgeCache::default();
        let start = parse_utc("2026-11-24T10:00:00Z").unwrap();
        let key = ("acme".to_owned(), start.timestamp_millis());
        keep(&cache, &key, quarter());
        drop(cache.writing());
        assert!(cache.get(&key).is_none(), "dropped");
        assert!(!cache.trusted());
        // A quarter read meanwhile is used once, not kept.
        keep(&cache, &key, quarter());
        assert!(cache.get(&key).is_none(), "not kept while distrusted");
        assert_eq!(cache.inner.lock().unwrap().payments, 0);
        // Once the time is up it is kept again.
        cache.inner.lock().unwrap().distrusted_until = Some(std::time::Instant::now());
        keep(&cache, &key, quarter());
        assert!(cache.get(&key).is_some());
    }

    /// `count` like payments of one quarter, for the bound's tests.
    fn payments(count: usize) -> Vec<Payment> {
        (0..count)
            .map(|_| entry("2026-11-24T10:01:00Z", "card", PaymentStatus::Succeeded, 1))
            .collect()
    }

    #[test]
    fn keeps_a_bounded_number_of_payments() {
        let cache = EdgeCache::default();
        for index in 0..6 {
            let quarter = Quarter::new(
                parse_utc("2026-11-24T10:00:00Z").unwrap(),
                payments(MAX_PAYMENTS / 4),
                &StoredQuarter::default(),
            );
            keep(&cache, &("acme".into(), index), quarter);
        }
        let kept = cache.inner.lock().unwrap();
        assert_eq!(kept.payments, MAX_PAYMENTS);
        assert_eq!(kept.quarters.len(), 4);
        assert!(!kept.quarters.contains_key(&("acme".to_owned(), 0)));
    }

    /// `KEPT_PAYMENTS`: an operator's bound is the one held.
    #[test]
    fn a_configured_bound_is_the_one_held() {
        let cache = EdgeCache::with_bound(1_000);
        let start = parse_utc("2026-11-24T10:00:00Z").unwrap();
        for index in 0..3 {
            let quarter = Quarter::new(start, payments(400), &StoredQuarter::default());
            keep(&cache, &("acme".into(), index), quarter);
        }
        let kept = cache.inner.lock().unwrap();
        assert_eq!(kept.payments, 800);
        assert!(!kept.quarters.contains_key(&("acme".to_owned(), 0)));
    }

    #[test]
    fn payments_recorded_into_kept_quarters_stay_within_the_bound() {
        let cache = EdgeCache::default();
        let start = parse_utc("2026-11-24T10:00:00Z").unwrap();
        for index in 0..2 {
            let quarter = Quarter::new(start, payments(MAX_PAYMENTS / 2), &StoredQuarter::default());
            keep(&cache, &("acme".into(), index), quarter);
        }
        // The current quarter grows past the bound: the other goes.
        cache.update(&("acme".into(), 1), &payments(10), &[]);
        let kept = cache.inner.lock().unwrap();
        assert_eq!(kept.payments, MAX_PAYMENTS / 2 + 10);
        assert!(!kept.quarters.contains_key(&("acme".to_owned(), 0)));
        assert!(kept.quarters.contains_key(&("acme".to_owned(), 1)));
    }

    /// The session-19 soak: the quarters kept longest went first, among them
    /// the one the alert evaluator read every second, too busy to be kept
    /// again; its raw payments were then aggregated every second.
    #[test]
    fn a_quarter_still_read_outlives_one_kept_after_it() {
        let cache = EdgeCache::default();
        let start = parse_utc("2026-11-24T10:00:00Z").unwrap();
        for index in 0..2 {
            let quarter = Quarter::new(start, payments(MAX_PAYMENTS / 2), &StoredQuarter::default());
            keep(&cache, &("acme".into(), index), quarter);
        }
        // The evaluator reads the first again; then a third is kept.
        assert!(cache.get(&("acme".into(), 0)).is_some());
        keep(
            &cache,
            &("acme".into(), 2),
            Quarter::new(start, payments(10), &StoredQuarter::default()),
        );
        let kept = cache.inner.lock().unwrap();
        assert!(
            kept.quarters.contains_key(&("acme".to_owned(), 0)),
            "read last but one: kept"
        );
        assert!(
            !kept.quarters.contains_key(&("acme".to_owned(), 1)),
            "least recently used: let go"
        );
        assert!(kept.quarters.contains_key(&("acme".to_owned(), 2)));
        assert_eq!(kept.payments, MAX_PAYMENTS / 2 + 10);
    }
}
