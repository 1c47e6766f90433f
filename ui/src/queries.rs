//! The REST data the page shows, held in [`QueryCache`]s inside signals:
//! components say what they want and render what the cache holds; live
//! events invalidate it, and what is stale is fetched again at most once a
//! second per query while anyone looks at it.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use paypulse_shared::wire::{PaymentMetrics, Period, TrendData};
use sycamore::prelude::*;

use crate::api::{ApiClient, ApiFailure};
use crate::live::socket::after;
use crate::store::query::{QueryCache, Ticket};

/// Least time between two requests of one query (ms): metrics and the chart
/// change at most this often under a firehose.
const REFETCH_INTERVAL_MS: f64 = 1_000.0;

/// What the metrics grid asks: the last 24 hours (the only range it shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Last24Hours;

type Cache<K, V> = Signal<QueryCache<K, V, ApiFailure>>;

async fn fetch_metrics(client: Rc<ApiClient>, _: Last24Hours) -> Result<PaymentMetrics, ApiFailure> {
    client.metrics().await
}

async fn fetch_trend(client: Rc<ApiClient>, period: Period) -> Result<Vec<TrendData>, ApiFailure> {
    client.trend(period).await
}

#[derive(Clone)]
pub struct Queries {
    client: Rc<ApiClient>,
    pub metrics: Cache<Last24Hours, PaymentMetrics>,
    pub trends: Cache<Period, Vec<TrendData>>,
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
            timer: Rc::default(),
        }
    }

    /// Shows the metrics until the current reactive scope ends.
    pub fn subscribe_metrics(&self) {
        self.subscribe(self.metrics, Last24Hours, fetch_metrics);
    }

    /// Shows the trend of `period` until the current reactive scope ends.
    pub fn subscribe_trend(&self, period: Period) {
        self.subscribe(self.trends, period, fetch_trend);
    }

    fn subscribe<K, V, F>(&self, cache: Cache<K, V>, key: K, fetch: fn(Rc<ApiClient>, K) -> F)
    where
        K: Ord + Clone + 'static,
        V: 'static,
        F: Future<Output = Result<V, ApiFailure>> + 'static,
    {
        let ticket = cache.update_silent(|cache| cache.subscribe(&key, now_ms()));
        self.start(cache, ticket, fetch);
        on_cleanup(move || cache.update_silent(|cache| cache.unsubscribe(&key)));
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
            cache.update(|cache| cache.settle(ticket, result));
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
        self.refetch_due();
    }

    fn refetch_due(&self) {
        self.refetch(self.metrics, fetch_metrics);
        self.refetch(self.trends, fetch_trend);
        let now = now_ms();
        let wait = [
            self.metrics.with_untracked(|cache| cache.next_due_in(now)),
            self.trends.with_untracked(|cache| cache.next_due_in(now)),
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
