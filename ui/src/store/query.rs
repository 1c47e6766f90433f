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

/// Most keys kept; the least recently used go first beyond it.
const MAX_ENTRIES: usize = 64;

/// One key's state.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry<V, E> {
    /// The last good answer, kept while a refetch runs or after one fails.
    pub data: Option<V>,
    /// The last request's failure, cleared by the next success.
    pub error: Option<E>,
    meta: Meta,
}

/// The bookkeeping of one key, apart from its data so that it is compiled
/// once, not once per kind of answer (the page's size budget counts every
/// copy).
#[derive(Clone, Debug, PartialEq)]
struct Meta {
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
    /// Whether there is data or an error to show.
    answered: bool,
}

impl Meta {
    fn new(now: f64) -> Self {
        Self {
            in_flight: None,
            generation: 0,
            fetched_generation: None,
            started_at: f64::NEG_INFINITY,
            used_at: now,
            subscribers: 0,
            answered: false,
        }
    }

    fn is_stale(&self) -> bool {
        self.fetched_generation != Some(self.generation)
    }

    /// Starts a request if one is due: its id and the generation it answers.
    fn want(&mut self, now: f64, min_interval: f64, next_id: &mut u64) -> Option<(u64, u64)> {
        self.used_at = now;
        let due = !self.answered || now - self.started_at >= min_interval;
        if self.in_flight.is_some() || !self.is_stale() || !due {
            return None;
        }
        *next_id += 1;
        self.in_flight = Some(*next_id);
        self.started_at = now;
        Some((*next_id, self.generation))
    }

    /// How long until a refetch may start, if one is waiting.
    fn waiting(&self, now: f64, min_interval: f64) -> Option<f64> {
        (self.subscribers > 0 && self.is_stale() && self.in_flight.is_none())
            .then(|| (self.started_at + min_interval - now).max(0.0))
    }
}

impl<V, E> Entry<V, E> {
    pub fn is_loading(&self) -> bool {
        self.meta.in_flight.is_some()
    }

    /// Whether the data may be out of date (or there is none).
    pub fn is_stale(&self) -> bool {
        self.meta.is_stale()
    }
}

/// Permission to run one request for `key`; hand it back with the result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket<K> {
    pub key: K,
    id: u64,
    generation: u64,
}

/// At most [`MAX_ENTRIES`] keys, looked up by a scan: a vector of a few
/// dozen is as fast as a tree and much smaller in the page.
#[derive(Clone, Debug)]
pub struct QueryCache<K, V, E> {
    entries: Vec<(K, Entry<V, E>)>,
    next_id: u64,
    /// Least time between two requests of one key (ms).
    min_interval: f64,
    /// The key of the last answer received.
    last_answered: Option<K>,
}

impl<K: PartialEq + Clone, V, E> QueryCache<K, V, E> {
    pub fn new(min_interval_ms: f64) -> Self {
        Self {
            entries: Vec::new(),
            next_id: 0,
            min_interval: min_interval_ms,
            last_answered: None,
        }
    }

    fn index(&self, key: &K) -> Option<usize> {
        self.entries.iter().position(|(held, _)| held == key)
    }

    pub fn get(&self, key: &K) -> Option<&Entry<V, E>> {
        Some(&self.entries[self.index(key)?].1)
    }

    /// The last answer received, whichever its key.
    pub fn latest(&self) -> Option<&V> {
        self.get(self.last_answered.as_ref()?)?.data.as_ref()
    }

    /// A part of the page shows `key` until it unsubscribes: stale data of
    /// subscribed keys is refetched. Returns a ticket if a request should
    /// start now.
    pub fn subscribe(&mut self, key: &K, now: f64) -> Option<Ticket<K>> {
        let ticket = self.want(key, now);
        if let Some(index) = self.index(key) {
            self.entries[index].1.meta.subscribers += 1;
        }
        ticket
    }

    pub fn unsubscribe(&mut self, key: &K) {
        if let Some(index) = self.index(key) {
            let meta = &mut self.entries[index].1.meta;
            meta.subscribers = meta.subscribers.saturating_sub(1);
        }
    }

    /// Someone wants `key`: a ticket if a request should start now (no
    /// answer yet, or a stale one, none in flight, and the interval since
    /// the last request has passed).
    pub fn want(&mut self, key: &K, now: f64) -> Option<Ticket<K>> {
        let index = match self.index(key) {
            Some(index) => index,
            None => {
                if self.entries.len() >= MAX_ENTRIES
                    && let Some(oldest) = oldest_idle(self.entries.iter().map(|(_, entry)| &entry.meta))
                {
                    self.entries.remove(oldest);
                }
                self.entries.push((
                    key.clone(),
                    Entry {
                        data: None,
                        error: None,
                        meta: Meta::new(now),
                    },
                ));
                self.entries.len() - 1
            }
        };
        let (id, generation) = self.entries[index]
            .1
            .meta
            .want(now, self.min_interval, &mut self.next_id)?;
        Some(Ticket {
            key: key.clone(),
            id,
            generation,
        })
    }

    /// The result of the request `ticket` allowed. Results of requests the
    /// cache no longer waits for (the key was evicted) are dropped.
    pub fn settle(&mut self, ticket: Ticket<K>, result: Result<V, E>) {
        let Some(index) = self.index(&ticket.key) else {
            return;
        };
        let entry = &mut self.entries[index].1;
        if entry.meta.in_flight != Some(ticket.id) {
            return;
        }
        entry.meta.in_flight = None;
        entry.meta.answered = true;
        match result {
            Ok(data) => {
                entry.data = Some(data);
                entry.error = None;
                entry.meta.fetched_generation = Some(ticket.generation);
                self.last_answered = Some(ticket.key);
            }
            Err(error) => entry.error = Some(error),
        }
    }

    /// Marks every key `affected` says out of date.
    pub fn invalidate(&mut self, affected: impl Fn(&K) -> bool) {
        for (key, entry) in &mut self.entries {
            if affected(key) {
                entry.meta.generation += 1;
            }
        }
    }

    /// What to refetch now: subscribed, stale, idle, and allowed by the
    /// interval.
    pub fn due(&self, now: f64) -> Vec<K> {
        self.entries
            .iter()
            .filter(|(_, entry)| entry.meta.waiting(now, self.min_interval) == Some(0.0))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Milliseconds until the next subscribed stale key may be refetched;
    /// `None` when nothing is waiting for the interval.
    pub fn next_due_in(&self, now: f64) -> Option<f64> {
        next_due_in(
            self.entries.iter().map(|(_, entry)| &entry.meta),
            now,
            self.min_interval,
        )
    }
}

fn next_due_in<'a>(metas: impl Iterator<Item = &'a Meta>, now: f64, min_interval: f64) -> Option<f64> {
    metas
        .filter_map(|meta| meta.waiting(now, min_interval))
        .filter(|wait| *wait > 0.0)
        .min_by(f64::total_cmp)
}

/// The least recently used key that nobody shows and no request waits for.
fn oldest_idle<'a>(metas: impl Iterator<Item = &'a Meta>) -> Option<usize> {
    metas
        .enumerate()
        .filter(|(_, meta)| meta.in_flight.is_none() && meta.subscribers == 0)
        .min_by(|left, right| left.1.used_at.total_cmp(&right.1.used_at))
        .map(|(index, _)| index)
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
