//! The REST data the page shows, held in [`QueryCache`]s inside signals:
//! components say what they want and render what the cache holds; live
//! events invalidate it, and what is stale is fetched again at most once a
//! second per query while anyone looks at it.

use std::cell::Cell;

use chrono::{DateTime, Utc};
use std::future::Future;
use std::rc::Rc;

use paypulse_shared::payment::Payment;
use paypulse_shared::query::{Compare, MetricsQuery, PaymentListQuery, TrendsQuery, to_query};
use paypulse_shared::range::TimeRange;
use paypulse_shared::wire::{PaymentMetrics, PaymentsPage, TrendData};
use sycamore::prelude::*;

use crate::api::{ApiClient, ApiFailure};
use crate::live::socket::after;
use crate::store::query::{QueryCache, Ticket};

/// Least time between two requests of one query (ms): metrics and the chart
/// change at most this often under a firehose.
const REFETCH_INTERVAL_MS: f64 = 1_000.0;

type Cache<K, V> = Signal<QueryCache<K, V, ApiFailure>>;

/// The metrics every part of the page asks for `range`: with the previous
/// period, so the grid, the range picker and the chart share one answer.
pub fn metrics_query(range: TimeRange) -> MetricsQuery {
    MetricsQuery {
        range,
        compare: Some(Compare::Previous),
    }
}

/// Keys are the query strings the API is called with: one spelling per
/// question, whichever part of the page asks it.
async fn fetch_metrics(client: Rc<ApiClient>, key: String) -> Result<PaymentMetrics, ApiFailure> {
    client.metrics(&key).await
}

async fn fetch_trend(client: Rc<ApiClient>, key: String) -> Result<Vec<TrendData>, ApiFailure> {
    client.trend(&key).await
}

async fn fetch_page(client: Rc<ApiClient>, key: String) -> Result<PaymentsPage, ApiFailure> {
    client.payments(&key).await
}

async fn fetch_payment(client: Rc<ApiClient>, id: String) -> Result<Payment, ApiFailure> {
    client.payment(&id).await
}

/// What the page knows of the tenant once any metrics arrived: the zone
/// its clock reads in and the currency of its amounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub timezone: String,
    pub currency: String,
}

#[derive(Clone)]
pub struct Queries {
    pub client: Rc<ApiClient>,
    pub metrics: Cache<String, PaymentMetrics>,
    pub trends: Cache<String, Vec<TrendData>>,
    /// Pages of payment lists. Not invalidated by live events: a list is
    /// read as a snapshot (its pages must stay consistent with each other
    /// while the reader pages on); its Refresh button reloads it.
    pub pages: Cache<String, PaymentsPage>,
    /// Payments by id, invalidated by live events (a refund arriving while
    /// one is open).
    pub payments: Cache<String, Payment>,
    pub tenant: Signal<Option<Tenant>>,
    /// A refetch timer is pending.
    timer: Rc<Cell<bool>>,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl Queries {
    pub fn new(client: ApiClient) -> Self {
        Self {
            client: Rc::new(client),
            metrics: create_signal(QueryCache::new(REFETCH_INTERVAL_MS)),
            trends: create_signal(QueryCache::new(REFETCH_INTERVAL_MS)),
            pages: create_signal(QueryCache::new(REFETCH_INTERVAL_MS)),
            payments: create_signal(QueryCache::new(REFETCH_INTERVAL_MS)),
            tenant: create_signal(None),
            timer: Rc::default(),
        }
    }

    /// Shows the metrics of `query` until the current reactive scope ends.
    pub fn subscribe_metrics(&self, query: &MetricsQuery) {
        self.subscribe(self.metrics, to_query(query), fetch_metrics);
    }

    /// Shows the trend of `query` until the current reactive scope ends.
    pub fn subscribe_trend(&self, query: &TrendsQuery) {
        self.subscribe(self.trends, to_query(query), fetch_trend);
    }

    /// Shows one page of a list until the current reactive scope ends.
    pub fn subscribe_page(&self, query: &PaymentListQuery) {
        self.subscribe(self.pages, to_query(query), fetch_page);
    }

    /// Shows payment `id` until the current reactive scope ends.
    pub fn subscribe_payment(&self, id: &str) {
        self.subscribe(self.payments, id.to_owned(), fetch_payment);
    }

    /// The instants the server resolved `range` to (from its metrics
    /// answer), tracked.
    pub fn resolved(&self, range: TimeRange) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let key = to_query(&metrics_query(range));
        self.metrics
            .with(|cache| cache.get(&key)?.data.as_ref().map(|metrics| (metrics.from, metrics.to)))
    }

    /// Fetches the pages of a list again.
    pub fn reload_pages(&self) {
        self.pages.update(|cache| cache.invalidate(|_| true));
        self.refetch_due();
    }

    fn subscribe<K, V, F>(&self, cache: Cache<K, V>, key: K, fetch: fn(Rc<ApiClient>, K) -> F)
    where
        K: Ord + Clone + 'static,
        V: 'static,
        F: Future<Output = Result<V, ApiFailure>> + 'static,
    {
        let ticket = cache.update_silent(|cache| cache.subscribe(&key, now_ms()));
        self.start(cache, ticket, fetch);
        // Signing out disposes the whole dashboard, this cache with it,
        // possibly before its subscribers' cleanups run: nothing to leave then.
        on_cleanup(move || {
            if cache.is_alive() {
                cache.update_silent(|cache| cache.unsubscribe(&key));
            }
        });
    }

    fn start<K, V, F>(&self, cache: Cache<K, V>, ticket: Option<Ticket<K>>, fetch: fn(Rc<ApiClient>, K) -> F)
    where
        K: Ord + Clone + 'static,
        V: 'static,
        F: Future<Output = Result<V, ApiFailure>> + 'static,
    {
        let Some(ticket) = ticket else {
            return;
        };
        let client = self.client.clone();
        let this = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = fetch(client, ticket.key.clone()).await;
            // The dashboard may have been closed (signed out) meanwhile.
            if !cache.is_alive() {
                return;
            }
            cache.update(|cache| cache.settle(ticket, result));
            this.note_tenant();
            // Events may have come while it ran.
            this.refetch_due();
        });
        // Show that it is loading.
        cache.update(|_| ());
    }

    /// Live events changed the data: mark everything stale and refetch what
    /// is shown, now or when the interval allows.
    pub fn invalidate(&self) {
        // Not silent: what shows freshness must see it; the data itself is
        // behind selectors, so nothing re-renders for this.
        self.metrics.update(|cache| cache.invalidate(|_| true));
        self.trends.update(|cache| cache.invalidate(|_| true));
        self.payments.update(|cache| cache.invalidate(|_| true));
        self.refetch_due();
    }

    fn refetch_due(&self) {
        // A timer set before the dashboard was closed (signed out, or the
        // settings opened over it) finds its caches gone: nothing is due.
        if !self.metrics.is_alive() {
            return;
        }
        self.refetch(self.metrics, fetch_metrics);
        self.refetch(self.trends, fetch_trend);
        self.refetch(self.pages, fetch_page);
        self.refetch(self.payments, fetch_payment);
        let now = now_ms();
        let wait = [
            self.metrics.with_untracked(|cache| cache.next_due_in(now)),
            self.trends.with_untracked(|cache| cache.next_due_in(now)),
            self.pages.with_untracked(|cache| cache.next_due_in(now)),
            self.payments.with_untracked(|cache| cache.next_due_in(now)),
        ]
        .into_iter()
        .flatten()
        .min_by(f64::total_cmp);
        if let Some(wait) = wait
            && !self.timer.replace(true)
        {
            let this = self.clone();
            after(wait.ceil() as i32, move || {
                this.timer.set(false);
                this.refetch_due();
            });
        }
    }

    /// Keeps the tenant's zone and currency from the latest metrics.
    fn note_tenant(&self) {
        let known = self.metrics.with_untracked(|cache| {
            cache.latest().map(|metrics| Tenant {
                timezone: metrics.timezone.clone(),
                currency: metrics.currency.clone(),
            })
        });
        if known.is_some() && known != self.tenant.get_clone_untracked() {
            self.tenant.set(known);
        }
    }

    fn refetch<K, V, F>(&self, cache: Cache<K, V>, fetch: fn(Rc<ApiClient>, K) -> F)
    where
        K: Ord + Clone + 'static,
        V: 'static,
        F: Future<Output = Result<V, ApiFailure>> + 'static,
    {
        let now = now_ms();
        for key in cache.with_untracked(|cache| cache.due(now)) {
            let ticket = cache.update_silent(|cache| cache.want(&key, now));
            self.start(cache, ticket, fetch);
        }
    }
}
