//! A query cache for REST data, the part of RTK Query the dashboard needs:
//! answers kept per key (query and range), subscriptions from the parts of
//! the page showing them, one request in flight per key however many ask,
//! invalidation when live events make an answer out of date, and refetching
//! of what is stale and subscribed at most once per interval, so a firehose
//! of events costs a few requests a second, not one per event.
//!
//! Pure bookkeeping: the caller starts the requests the cache asks for and
//! hands back their results with the ticket it was given. A result that
//! arrives after an invalidation is shown but stays stale (it may predate
//! the events that invalidated it), so it is fetched again.

use std::collections::BTreeMap;

/// Most keys kept; the least recently used go first beyond it.
const MAX_ENTRIES: usize = 64;

/// One key's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<V, E> {
    /// The last good answer, kept while a refetch runs or after one fails.
    pub data: Option<V>,
    /// The last request's failure, cleared by the next success.
    pub error: Option<E>,
    in_flight: Option<u64>,
    /// Bumped by every invalidation.
    generation: u64,
    /// The generation the data answers for.
    fetched_generation: Option<u64>,
    /// When the last request started (ms), for the refetch interval.
    started_at: f64,
    used_at: f64,
    /// Parts of the page showing this key.
    subscribers: u32,
}

impl<V, E> Entry<V, E> {
    fn new(now: f64) -> Self {
        Self {
            data: None,
            error: None,
            in_flight: None,
            generation: 0,
            fetched_generation: None,
            started_at: f64::NEG_INFINITY,
            used_at: now,
            subscribers: 0,
        }
    }

    pub fn is_loading(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether the data may be out of date (or there is none).
    pub fn is_stale(&self) -> bool {
        self.fetched_generation != Some(self.generation)
    }
}

/// Permission to run one request for `key`; hand it back with the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket<K> {
    pub key: K,
    id: u64,
    generation: u64,
}

#[derive(Clone, Debug)]
pub struct QueryCache<K, V, E> {
    entries: BTreeMap<K, Entry<V, E>>,
    next_id: u64,
    /// Least time between two requests of one key (ms).
    min_interval: f64,
    /// The key of the last answer received.
    last_answered: Option<K>,
}

impl<K: Ord + Clone, V, E> QueryCache<K, V, E> {
    pub fn new(min_interval_ms: f64) -> Self {
        Self {
            entries: BTreeMap::new(),
            next_id: 0,
            min_interval: min_interval_ms,
            last_answered: None,
        }
    }

    pub fn get(&self, key: &K) -> Option<&Entry<V, E>> {
        self.entries.get(key)
    }

    /// The last answer received, whichever its key.
    pub fn latest(&self) -> Option<&V> {
        self.entries.get(self.last_answered.as_ref()?)?.data.as_ref()
    }

    /// A part of the page shows `key` until it unsubscribes: stale data of
    /// subscribed keys is refetched. Returns a ticket if a request should
    /// start now.
    pub fn subscribe(&mut self, key: &K, now: f64) -> Option<Ticket<K>> {
        let ticket = self.want(key, now);
        if let Some(entry) = self.entries.get_mut(key) {
            entry.subscribers += 1;
        }
        ticket
    }

    pub fn unsubscribe(&mut self, key: &K) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.subscribers = entry.subscribers.saturating_sub(1);
        }
    }

    /// Someone wants `key`: a ticket if a request should start now (no
    /// answer yet, or a stale one, none in flight, and the interval since
    /// the last request has passed).
    pub fn want(&mut self, key: &K, now: f64) -> Option<Ticket<K>> {
        if !self.entries.contains_key(key) {
            self.evict_beyond(MAX_ENTRIES - 1);
            self.entries.insert(key.clone(), Entry::new(now));
        }
        let min_interval = self.min_interval;
        let entry = self.entries.get_mut(key)?;
        entry.used_at = now;
        let due = entry.data.is_none() && entry.error.is_none() || now - entry.started_at >= min_interval;
        if entry.in_flight.is_some() || !entry.is_stale() || !due {
            return None;
        }
        self.next_id += 1;
        entry.in_flight = Some(self.next_id);
        entry.started_at = now;
        Some(Ticket {
            key: key.clone(),
            id: self.next_id,
            generation: entry.generation,
        })
    }

    /// The result of the request `ticket` allowed. Results of requests the
    /// cache no longer waits for (the key was evicted) are dropped.
    pub fn settle(&mut self, ticket: Ticket<K>, result: Result<V, E>) {
        let Some(entry) = self.entries.get_mut(&ticket.key) else {
            return;
        };
        if entry.in_flight != Some(ticket.id) {
            return;
        }
        entry.in_flight = None;
        match result {
            Ok(data) => {
                self.last_answered = Some(ticket.key.clone());
                entry.data = Some(data);
                entry.error = None;
                entry.fetched_generation = Some(ticket.generation);
            }
            Err(error) => entry.error = Some(error),
        }
    }

    /// Marks every key `affected` says out of date.
    pub fn invalidate(&mut self, affected: impl Fn(&K) -> bool) {
        for (key, entry) in &mut self.entries {
            if affected(key) {
                entry.generation += 1;
            }
        }
    }

    /// Subscribed keys that are stale and idle, with how long until each
    /// may be requested (0: now).
    fn waiting(&self, now: f64) -> impl Iterator<Item = (&K, f64)> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.subscribers > 0 && entry.is_stale() && entry.in_flight.is_none())
            .map(move |(key, entry)| (key, (entry.started_at + self.min_interval - now).max(0.0)))
    }

    /// What to refetch now: subscribed, stale, idle, and allowed by the
    /// interval.
    pub fn due(&self, now: f64) -> Vec<K> {
        self.waiting(now)
            .filter(|(_, wait)| *wait == 0.0)
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Milliseconds until the next subscribed stale key may be refetched;
    /// `None` when nothing is waiting for the interval.
    pub fn next_due_in(&self, now: f64) -> Option<f64> {
        self.waiting(now)
            .map(|(_, wait)| wait)
            .filter(|wait| *wait > 0.0)
            .min_by(f64::total_cmp)
    }

    fn evict_beyond(&mut self, keep: usize) {
        while self.entries.len() > keep {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, entry)| entry.in_flight.is_none() && entry.subscribers == 0)
                .min_by(|left, right| left.1.used_at.total_cmp(&right.1.used_at))
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => self.entries.remove(&key),
                None => return,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Cache = QueryCache<&'static str, u32, String>;

    #[test]
    fn one_request_per_key_at_a_time() {
        let mut cache = Cache::new(1_000.0);
        let ticket = cache.want(&"metrics", 0.0).expect("first use fetches");
        assert_eq!(cache.want(&"metrics", 1.0), None, "de-duplicated while in flight");
        assert!(cache.get(&"metrics").unwrap().is_loading());
        cache.settle(ticket, Ok(7));
        assert_eq!(cache.latest(), Some(&7));
        let entry = cache.get(&"metrics").unwrap();
        assert_eq!(
            (entry.data, entry.is_stale(), entry.is_loading()),
            (Some(7), false, false)
        );
        assert_eq!(cache.want(&"metrics", 5_000.0), None, "fresh data is not refetched");
    }

    #[test]
    fn invalidation_refetches_at_most_once_per_interval() {
        let mut cache = Cache::new(1_000.0);
        let ticket = cache.subscribe(&"metrics", 0.0).unwrap();
        cache.settle(ticket, Ok(1));
        cache.invalidate(|_| true);
        assert!(cache.get(&"metrics").unwrap().is_stale());
        assert_eq!(cache.due(500.0), Vec::<&str>::new(), "too soon");
        assert_eq!(cache.next_due_in(500.0), Some(500.0));
        assert_eq!(cache.due(1_000.0), vec!["metrics"]);
        let ticket = cache.want(&"metrics", 1_000.0).unwrap();
        cache.invalidate(|_| true);
        cache.invalidate(|_| true);
        assert_eq!(cache.want(&"metrics", 1_100.0), None);
        cache.settle(ticket, Ok(2));
        let entry = cache.get(&"metrics").unwrap();
        assert_eq!(entry.data, Some(2), "the answer is shown");
        assert!(entry.is_stale(), "but events came after its request started");
        assert!(cache.want(&"metrics", 2_000.0).is_some());
    }

    #[test]
    fn only_subscribed_keys_are_refetched() {
        let mut cache = Cache::new(0.0);
        for key in ["trend:day", "trend:week", "metrics"] {
            let ticket = cache.subscribe(&key, 0.0).unwrap();
            cache.settle(ticket, Ok(1));
        }
        cache.unsubscribe(&"trend:week");
        cache.invalidate(|key| key.starts_with("trend:"));
        assert_eq!(cache.due(1.0), vec!["trend:day"]);
        assert_eq!(cache.next_due_in(1.0), None);
        assert!(cache.get(&"trend:week").unwrap().is_stale());
        assert!(cache.want(&"trend:week", 2.0).is_some(), "fetched when shown again");
    }

    #[test]
    fn a_failure_keeps_the_last_answer_and_retries_after_the_interval() {
        let mut cache = Cache::new(1_000.0);
        let ticket = cache.want(&"metrics", 0.0).unwrap();
        cache.settle(ticket, Ok(1));
        cache.invalidate(|_| true);
        let ticket = cache.want(&"metrics", 1_000.0).unwrap();
        cache.settle(ticket, Err("down".into()));
        let entry = cache.get(&"metrics").unwrap();
        assert_eq!((entry.data, entry.error.as_deref()), (Some(1), Some("down")));
        assert_eq!(cache.want(&"metrics", 1_500.0), None);
        assert!(cache.want(&"metrics", 2_000.0).is_some());
    }

    #[test]
    fn holds_a_bounded_number_of_keys() {
        let mut cache: QueryCache<u32, u32, String> = QueryCache::new(0.0);
        cache.subscribe(&1_000, 0.0);
        for key in 0..200 {
            let ticket = cache.want(&key, f64::from(key)).unwrap();
            cache.settle(ticket, Ok(key));
        }
        assert_eq!(cache.entries.len(), MAX_ENTRIES);
        assert!(cache.get(&199).is_some() && cache.get(&0).is_none());
        assert!(cache.get(&1_000).is_some(), "a subscribed key stays");
    }
}
