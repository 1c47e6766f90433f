//! Reading every payment of a slice in order, for exports: time orders walk
//! the range window by window, each window one indexed range query whose
//! answer is sorted and handed on before the next is read.
//!
//! One sorted cursor over a whole slice would do on MongoDB, which walks the
//! `{tenantId, createdAt}` index in order. SecantusDB, our development
//! database, sorts the whole result before the first document comes back
//! (a million payments: minutes before the first byte). Windows cost one
//! query per window on MongoDB and keep the first byte and the memory small
//! on both: a window is sized to hold about [`WINDOW_PAYMENTS`] payments
//! from what the previous one held. Amount orders have no such walk and use
//! one cursor.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use mongodb::bson::doc;
use paypulse_shared::query::Sort;

use paypulse_shared::filter::PaymentFilter;

use super::Store;
use super::documents::{PaymentDoc, to_chrono};
use super::payments::{Slice, sort_document};
use super::rollups::Level;

/// Payments one window aims to hold.
pub const WINDOW_PAYMENTS: f64 = 2_000.0;
/// How far a window may grow or shrink from one to the next.
const MAX_STEP: f64 = 8.0;
/// The first window's length.
const FIRST_WINDOW: TimeDelta = TimeDelta::hours(1);
/// The shortest window: a burst denser than this is read in one query.
const MIN_WINDOW: TimeDelta = TimeDelta::seconds(1);

/// Where a time-ordered walk stands: what is left to read is `[low, high)`,
/// either end open (`None`) when the slice's is.
struct Walk {
    store: Store,
    tenant_id: String,
    filter: PaymentFilter,
    within: Option<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
    scale: u8,
    descending: bool,
    low: Option<DateTime<Utc>>,
    high: Option<DateTime<Utc>>,
    /// Stand-ins for open ends when sizing windows: the tenant's first day
    /// and the clock when the walk began (the windows at the ends are open
    /// as far as the slice is, so payments beyond them are still read).
    floor: DateTime<Utc>,
    ceiling: DateTime<Utc>,
    window: TimeDelta,
    ready: VecDeque<PaymentDoc>,
    done: bool,
}

impl Walk {
    /// The next payment, reading the next window when the last one is
    /// handed out.
    async fn next(mut self) -> mongodb::error::Result<Option<(PaymentDoc, Self)>> {
        loop {
            if let Some(payment) = self.ready.pop_front() {
                return Ok(Some((payment, self)));
            }
            if self.done {
                return Ok(None);
            }
            self.read_window().await?;
        }
    }

    async fn read_window(&mut self) -> mongodb::error::Result<()> {
        let low = self.low.unwrap_or(self.floor);
        let high = self.high.unwrap_or(self.ceiling);
        // The window's bounds; at the far end it takes the slice's own
        // bound, open or not, so nothing past the stand-ins is missed.
        let (from, to) = if self.descending {
            let start = high - self.window;
            if start <= low {
                self.done = true;
                (self.low, self.high)
            } else {
                (Some(start), self.high)
            }
        } else {
            let end = low + self.window;
            if end >= high {
                self.done = true;
                (self.low, self.high)
            } else {
                (self.low, Some(end))
            }
        };
        let slice = Slice {
            from,
            to,
            filter: &self.filter,
            within: self.within.as_deref(),
            scale: self.scale,
        };
        let sort = if self.descending {
            Sort::NewestFirst
        } else {
            Sort::OldestFirst
        };
        let payments: Vec<PaymentDoc> = self
            .store
            .payments()
            .find(slice.to_document(&self.tenant_id))
            .sort(sort_document(sort))
            .await?
            .try_collect()
            .await?;
        let held = payments.len() as f64;
        let factor = if held == 0.0 {
            MAX_STEP
        } else {
            (WINDOW_PAYMENTS / held).clamp(1.0 / MAX_STEP, MAX_STEP)
        };
        let millis = (self.window.num_milliseconds() as f64 * factor).min(i64::MAX as f64 / 2.0) as i64;
        self.window = TimeDelta::milliseconds(millis).max(MIN_WINDOW);
        self.ready.extend(payments);
        if self.descending {
            self.high = from;
        } else {
            self.low = to;
        }
        Ok(())
    }
}

impl Store {
    /// Every payment of `slice` in `sort` order, as a stream that holds at
    /// most one window of payments at a time (see the module).
    pub async fn stream_payments(
        &self,
        tenant_id: &str,
        slice: Slice<'_>,
        sort: Sort,
    ) -> mongodb::error::Result<BoxStream<'static, mongodb::error::Result<PaymentDoc>>> {
        if sort.by_amount() {
            let cursor = self
                .payments()
                .find(slice.to_document(tenant_id))
                .sort(sort_document(sort))
                .batch_size(1_000)
                .await?;
            return Ok(cursor.boxed());
        }
        // Only a stand-in for sizing windows: the last window is open to
        // the slice's own bound, so nothing before it is missed either way.
        let floor = self.earliest_day(tenant_id).await?.unwrap_or(DateTime::UNIX_EPOCH);
        let walk = Walk {
            store: self.clone(),
            tenant_id: tenant_id.to_owned(),
            filter: slice.filter.clone(),
            within: slice.within.map(<[_]>::to_vec),
            scale: slice.scale,
            descending: sort.descending(),
            low: slice.from,
            high: slice.to,
            floor,
            ceiling: Utc::now(),
            window: FIRST_WINDOW,
            ready: VecDeque::new(),
            done: false,
        };
        Ok(stream::try_unfold(walk, Walk::next).boxed())
    }

    /// The start of the tenant's first day with payments (its day rollups
    /// are few, so asking for them in order is cheap everywhere).
    async fn earliest_day(&self, tenant_id: &str) -> mongodb::error::Result<Option<DateTime<Utc>>> {
        let first = self
            .rollups(Level::Day)
            .find_one(doc! { "tenantId": tenant_id })
            .sort(doc! { "cell": 1 })
            .await?;
        Ok(first.and_then(|document| document.get_datetime("cell").ok().map(|cell| to_chrono(*cell))))
    }
}
