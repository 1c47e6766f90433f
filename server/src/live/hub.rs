//! The live hub: per tenant, a sequence counter, a replay history and a
//! broadcast channel. Each event is serialized to JSON once, when published,
//! and every watcher sends the same bytes. Watchers resume with the `seq` of
//! the last event they saw; the history answers them gap-free while the
//! event is still in it, and tells them to resync otherwise.
//!
//! The `epoch` names this hub's sequence: it changes when the process
//! restarts (and the history with it), so a client holding a `seq` from
//! another epoch is told to resync instead of being sent the wrong events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use paypulse_shared::payment::{EventType, PaymentEvent};
use rand::Rng;
use tokio::sync::broadcast;

/// The replay window: at least this many events, and at least this old.
pub const HISTORY_EVENTS: usize = 10_000;
pub const HISTORY_AGE: Duration = Duration::from_secs(5 * 60);
/// Hard cap on the history however busy the last five minutes were.
pub const HISTORY_CAP: usize = 50_000;
/// Events a watcher may fall behind before it is cut off as a slow consumer.
pub const WATCHER_QUEUE: usize = 1_024;

/// One published event, serialized once.
#[derive(Debug)]
pub struct LiveEvent {
    pub seq: u64,
    pub event_type: EventType,
    pub method: String,
    /// The payment's amount in minor units, for `minAmount` filters.
    pub amount_minor: i64,
    published: Instant,
    /// The JSON text frame every watcher sends.
    pub text: Utf8Bytes,
}

struct Feed {
    latest_seq: u64,
    history: VecDeque<Arc<LiveEvent>>,
    sender: broadcast::Sender<Arc<LiveEvent>>,
}

impl Feed {
    fn new() -> Self {
        Self {
            latest_seq: 0,
            history: VecDeque::new(),
            sender: broadcast::channel(WATCHER_QUEUE).0,
        }
    }

    fn trim(&mut self) {
        while self.history.len() > HISTORY_CAP
            || (self.history.len() > HISTORY_EVENTS
                && self
                    .history
                    .front()
                    .is_some_and(|oldest| oldest.published.elapsed() > HISTORY_AGE))
        {
            self.history.pop_front();
        }
    }
}

/// What a new watcher starts from.
pub struct Subscription {
    pub epoch: String,
    /// The last `seq` published before the watcher joined.
    pub latest_seq: u64,
    /// Events after the watcher's `since`, or `None` when they are no longer
    /// all in the history (or `since` belongs to another epoch).
    pub backlog: Option<Vec<Arc<LiveEvent>>>,
    pub receiver: broadcast::Receiver<Arc<LiveEvent>>,
}

/// Every tenant's feed in this process.
pub struct LiveHub {
    epoch: String,
    feeds: Mutex<HashMap<String, Feed>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    pub fn new() -> Self {
        Self {
            epoch: format!("{:016x}", rand::rng().random::<u64>()),
            feeds: Mutex::new(HashMap::new()),
        }
    }

    pub fn epoch(&self) -> &str {
        &self.epoch
    }

    /// Numbers, serializes, records and broadcasts `events` of `tenant`, in
    /// order.
    pub fn publish(&self, tenant: &str, events: impl IntoIterator<Item = PaymentEvent>) {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        let feed = feeds.entry(tenant.to_owned()).or_insert_with(Feed::new);
        for mut event in events {
            feed.latest_seq += 1;
            event.seq = Some(feed.latest_seq);
            let text = match serde_json::to_string(&event) {
                Ok(text) => text,
                Err(error) => {
                    tracing::error!(%error, "serializing a live event");
                    continue;
                }
            };
            let live = Arc::new(LiveEvent {
                seq: feed.latest_seq,
                event_type: event.event_type,
                method: event.payment.method.clone(),
                amount_minor: event.payment.amount.minor(),
                published: Instant::now(),
                text: Utf8Bytes::from(text),
            });
            feed.history.push_back(Arc::clone(&live));
            // No watcher is not an error: the history keeps the event.
            feed.sender.send(live).ok();
        }
        feed.trim();
    }

    /// Joins `tenant`'s feed, resuming after `since` of `epoch` if given.
    pub fn subscribe(&self, tenant: &str, resume: Option<(u64, &str)>) -> Subscription {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        let feed = feeds.entry(tenant.to_owned()).or_insert_with(Feed::new);
        // Subscribing under the lock that publish holds: every event after
        // the backlog's last one arrives on the receiver, none twice.
        let receiver = feed.sender.subscribe();
        let backlog = resume.and_then(|(since, epoch)| {
            if epoch != self.epoch || since > feed.latest_seq {
                return None;
            }
            let oldest = feed.history.front().map_or(feed.latest_seq + 1, |event| event.seq);
            (since + 1 >= oldest).then(|| feed.history.iter().filter(|event| event.seq > since).cloned().collect())
        });
        Subscription {
            epoch: self.epoch.clone(),
            latest_seq: feed.latest_seq,
            backlog,
            receiver,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use paypulse_shared::Amount;
    use paypulse_shared::payment::{Payment, PaymentStatus};

    fn event(amount_minor: i64) -> PaymentEvent {
        let now = Utc::now();
        PaymentEvent {
            event_type: EventType::PaymentReceived,
            payment: Payment {
                id: "p".into(),
                tenant_id: "acme".into(),
                external_id: "x".into(),
                amount: Amount::from_minor(amount_minor, 2),
                currency: "USD".into(),
                method: "card".into(),
                status: PaymentStatus::Succeeded,
                failure_reason: None,
                refunded_at: None,
                created_at: now,
                updated_at: now,
            },
            timestamp: now,
            seq: None,
        }
    }

    #[test]
    fn numbers_events_per_tenant_and_serializes_them_once() {
        let hub = LiveHub::new();
        hub.publish("acme", [event(1), event(2)]);
        hub.publish("globex", [event(3)]);
        let acme = hub.subscribe("acme", Some((0, hub.epoch())));
        let backlog = acme.backlog.unwrap();
        assert_eq!(backlog.iter().map(|event| event.seq).collect::<Vec<_>>(), [1, 2]);
        assert!(backlog[1].text.as_str().contains("\"seq\":2"));
        assert_eq!(hub.subscribe("globex", None).latest_seq, 1);
    }

    #[test]
    fn resumes_from_history_and_asks_for_resync_beyond_it() {
        let hub = LiveHub::new();
        hub.publish("acme", (0..5).map(event));
        let resumed = hub.subscribe("acme", Some((3, hub.epoch()))).backlog.unwrap();
        assert_eq!(resumed.iter().map(|event| event.seq).collect::<Vec<_>>(), [4, 5]);
        assert!(
            hub.subscribe("acme", Some((5, hub.epoch())))
                .backlog
                .unwrap()
                .is_empty()
        );
        assert!(hub.subscribe("acme", Some((2, "another-epoch"))).backlog.is_none());
        assert!(
            hub.subscribe("acme", Some((9, hub.epoch()))).backlog.is_none(),
            "a seq from the future"
        );
    }

    #[test]
    fn history_is_bounded() {
        let hub = LiveHub::new();
        hub.publish("acme", (0..(HISTORY_CAP as i64 + 10)).map(event));
        let subscription = hub.subscribe("acme", Some((0, hub.epoch())));
        assert!(subscription.backlog.is_none(), "the first events left the history");
        let feeds = hub.feeds.lock().unwrap();
        assert_eq!(feeds["acme"].history.len(), HISTORY_CAP);
    }
}
