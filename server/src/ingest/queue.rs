//! Group commit: one writer task drains every create request waiting at that
//! moment (up to [`MAX_BATCH`]) and writes them in one transaction. Under load
//! batches grow and the per-payment cost falls; when idle a request is
//! written alone at once. The queue is bounded: when it is full, callers wait
//! (backpressure) instead of memory growing.
//!
//! What follows a commit (invalidating the analytics cache, publishing the
//! events, answering the callers) runs in a second task, in commit order, so
//! the writer starts the next transaction while Redis is being told about the
//! last one.

use chrono::Utc;
use paypulse_shared::payment::{EventType, PaymentEvent, PaymentStatus};
use tokio::sync::{mpsc, oneshot};

use crate::analytics::cache::AnalyticsCache;
use crate::error::ApiError;
use crate::live::Live;
use crate::store::Store;
use crate::store::writes::{CreateOutcome, NewPayment};

/// Most requests written in one transaction.
pub const MAX_BATCH: usize = 512;
/// Requests waiting for the writer at most.
pub const QUEUE_CAPACITY: usize = 8_192;
/// A batch at least this large means load: the next small one lingers.
const LINGER_AFTER: usize = 32;
/// The longest a small batch under load waits for company.
const LINGER: std::time::Duration = std::time::Duration::from_millis(10);

/// The writer's bounds (docs/ARCHITECTURE.md, "Ingest and rollups").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestLimits {
    /// Requests waiting for the writer at most; when full, callers wait.
    pub queue: usize,
    /// Most requests written in one transaction.
    pub batch: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            queue: QUEUE_CAPACITY,
            batch: MAX_BATCH,
        }
    }
}

/// Committed batches waiting to be announced at most: the writer runs at
/// most this far ahead of the announcements.
const ANNOUNCE_CAPACITY: usize = 2;

/// A written batch: its jobs and their outcomes, in order.
struct Committed {
    jobs: Vec<Job>,
    outcomes: Vec<CreateOutcome>,
}

struct Job {
    payment: NewPayment,
    reply: oneshot::Sender<mongodb::error::Result<CreateOutcome>>,
}

/// Handle on the writer task; clones share it.
#[derive(Clone, Debug)]
pub struct IngestQueue {
    sender: mpsc::Sender<Job>,
}

impl IngestQueue {
    /// Starts the writer task on the current runtime.
    /// Written payments are published to `live` in commit order.
    pub fn start(store: Store, live: Live, cache: AnalyticsCache, limits: IngestLimits) -> Self {
        let (sender, receiver) = mpsc::channel(limits.queue);
        let (committed, announcements) = mpsc::channel(ANNOUNCE_CAPACITY);
        tokio::spawn(write_batches(store, receiver, committed, limits.batch));
        tokio::spawn(announce(live, cache, announcements));
        Self { sender }
    }

    /// Queues one payment and waits until it is written (or found written).
    pub async fn create(&self, payment: NewPayment) -> Result<CreateOutcome, ApiError> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || ApiError::Unavailable("the ingest writer has stopped".into());
        self.sender.send(Job { payment, reply }).await.map_err(|_| stopped())?;
        Ok(outcome.await.map_err(|_| stopped())??)
    }

    /// Requests waiting for the writer now (never more than the queue's
    /// bound; callers beyond it wait outside).
    pub fn queued(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

async fn write_batches(
    store: Store,
    mut receiver: mpsc::Receiver<Job>,
    committed: mpsc::Sender<Committed>,
    max_batch: usize,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    let mut previous_batch = 0;
    while receiver.recv_many(&mut jobs, max_batch).await > 0 {
        // Under load (the last batch was large) a small batch is usually the
        // first few of the next wave: wait briefly for the rest rather than
        // pay a whole transaction for a handful. Idle, nothing waits.
        if previous_batch >= LINGER_AFTER && jobs.len() < LINGER_AFTER {
            let deadline = tokio::time::Instant::now() + LINGER;
            while jobs.len() < max_batch {
                let room = max_batch - jobs.len();
                match tokio::time::timeout_at(deadline, receiver.recv_many(&mut jobs, room)).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        previous_batch = jobs.len();
        let payments: Vec<NewPayment> = jobs.iter().map(|job| job.payment.clone()).collect();
        match store.create_payments(&payments).await {
            Ok(outcomes) => {
                let batch = Committed {
                    jobs: std::mem::replace(&mut jobs, Vec::with_capacity(max_batch)),
                    outcomes,
                };
                if committed.send(batch).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                tracing::error!(error = %error, batch = jobs.len(), "writing a batch of payments failed");
                for job in jobs.drain(..) {
                    job.reply.send(Err(error.clone())).ok();
                }
            }
        }
    }
}

/// Announces committed batches in commit order, then answers their callers.
async fn announce(live: Live, cache: AnalyticsCache, mut batches: mpsc::Receiver<Committed>) {
    while let Some(Committed { jobs, outcomes }) = batches.recv().await {
        // Invalidate before answering: a read right after this write must
        // not be served an answer computed before it.
        for tenant in created_tenants(&outcomes) {
            cache.invalidate(tenant).await;
        }
        publish_created(&live, &outcomes).await;
        for (job, outcome) in jobs.into_iter().zip(outcomes) {
            // The caller may have gone (client disconnected): the payment is
            // written all the same.
            job.reply.send(Ok(outcome)).ok();
        }
    }
}

/// The tenants a batch wrote to, once each.
fn created_tenants(outcomes: &[CreateOutcome]) -> Vec<&str> {
    let mut tenants: Vec<&str> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            CreateOutcome::Created(document) => Some(document.tenant_id.as_str()),
            _ => None,
        })
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    tenants
}

/// Publishes the payments a batch created (not replays), after the commit.
async fn publish_created(live: &Live, outcomes: &[CreateOutcome]) {
    let timestamp = Utc::now();
    let mut by_tenant: Vec<(&str, Vec<PaymentEvent>)> = Vec::new();
    for outcome in outcomes {
        let CreateOutcome::Created(document) = outcome else {
            continue;
        };
        let event_type = if document.status == PaymentStatus::Failed {
            EventType::PaymentFailed
        } else {
            EventType::PaymentReceived
        };
        let event = PaymentEvent {
            event_type,
            payment: document.to_wire(),
            timestamp,
            seq: None,
        };
        match by_tenant.iter_mut().find(|(tenant, _)| *tenant == document.tenant_id) {
            Some((_, events)) => events.push(event),
            None => by_tenant.push((&document.tenant_id, vec![event])),
        }
    }
    for (tenant, events) in by_tenant {
        live.publish(tenant, events).await;
    }
}
