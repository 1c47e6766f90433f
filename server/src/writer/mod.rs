//! The writer: the one route by which anything leaves this process for the
//! store. Ingest, refunds and the simulator queue their writes here; one
//! task drains every request waiting at that moment (up to the batch limit)
//! and writes them in commit order, a run of new payments as one transaction
//! (group commit) and every other write as its own. Under load batches grow
//! and the per-payment cost falls; when idle a request is written alone at
//! once. The queue is bounded: when it is full, callers wait (backpressure)
//! instead of memory growing.
//!
//! The store answers each write with its domain events
//! ([`crate::store::events::DomainEvent`]); they go, in commit order, through
//! the post-commit [`pipeline`] (cache invalidation, live publishing, the
//! alert evaluator) before the callers are answered. That runs in a second
//! task, so the writer starts the next transaction while Redis is being told
//! about the last one.

pub mod pipeline;

use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;
use tokio::sync::{mpsc, oneshot};

use crate::error::ApiError;
use crate::store::Store;
use crate::store::alerts::Transition;
use crate::store::audit::AuditDoc;
use crate::store::events::DomainEvent;
use crate::store::writes::{CreateOutcome, NewPayment, RefundOutcome, Written};
use paypulse_shared::alerts::AlertRule;
use pipeline::Pipeline;

/// Most requests written in one batch.
pub const MAX_BATCH: usize = 512;
/// Requests waiting for the writer at most.
pub const QUEUE_CAPACITY: usize = 8_192;
/// A batch at least this large means load: the next small one lingers.
const LINGER_AFTER: usize = 32;
/// The longest a small batch under load waits for company.
const LINGER: std::time::Duration = std::time::Duration::from_millis(10);

/// The writer's bounds (docs/ARCHITECTURE.md, "Ingest and rollups").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterLimits {
    /// Requests waiting for the writer at most; when full, callers wait.
    pub queue: usize,
    /// Most requests written in one batch.
    pub batch: usize,
}

impl Default for WriterLimits {
    fn default() -> Self {
        Self {
            queue: QUEUE_CAPACITY,
            batch: MAX_BATCH,
        }
    }
}

/// Committed batches waiting for the pipeline at most: the writer runs at
/// most this far ahead of the announcements.
const ANNOUNCE_CAPACITY: usize = 2;

/// One write to make.
#[derive(Clone, Debug)]
pub enum Write {
    /// A validated new payment.
    Create(NewPayment),
    /// A full refund of a tenant's payment, dated `at`.
    Refund {
        tenant_id: String,
        id: ObjectId,
        at: DateTime<Utc>,
    },
    /// An admin's new alert rules of a tenant, validated, and the audit
    /// entry that records who replaced them.
    AlertRules {
        tenant_id: String,
        rules: Vec<AlertRule>,
        audit: Box<AuditDoc>,
    },
    /// One step of a rule's lifecycle, made unless another instance made
    /// it first.
    Transition(Box<Transition>),
}

/// What became of one write.
#[derive(Debug)]
enum Outcome {
    Create(CreateOutcome),
    Refund(RefundOutcome),
    AlertRules,
    /// Whether the transition was made (not another instance's first).
    Transition(bool),
}

type Reply = oneshot::Sender<mongodb::error::Result<Outcome>>;

struct Job {
    write: Write,
    reply: Reply,
}

/// A written batch: its callers and their outcomes, in order, and the
/// domain events of its transactions, in commit order.
struct Committed {
    replies: Vec<(Reply, mongodb::error::Result<Outcome>)>,
    events: Vec<DomainEvent>,
}

/// Handle on the writer task; clones share it.
#[derive(Clone, Debug)]
pub struct Writer {
    sender: mpsc::Sender<Job>,
    counts: std::sync::Arc<Counts>,
}

/// What the writer has done since it started: batches drained and the
/// writes in them (their ratio is the mean batch, which benchmarks report).
#[derive(Debug, Default)]
struct Counts {
    batches: std::sync::atomic::AtomicU64,
    writes: std::sync::atomic::AtomicU64,
}

impl Writer {
    /// Starts the writer task on the current runtime; what it commits goes
    /// through `pipeline` in commit order.
    pub fn start(store: Store, pipeline: Pipeline, limits: WriterLimits) -> Self {
        let (sender, receiver) = mpsc::channel(limits.queue);
        let (committed, announcements) = mpsc::channel(ANNOUNCE_CAPACITY);
        let counts = std::sync::Arc::new(Counts::default());
        tokio::spawn(write_batches(
            store,
            receiver,
            committed,
            limits.batch,
            std::sync::Arc::clone(&counts),
        ));
        tokio::spawn(announce(pipeline, announcements));
        Self { sender, counts }
    }

    /// Batches drained and writes made since the writer started.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.counts.batches.load(Relaxed), self.counts.writes.load(Relaxed))
    }

    /// Queues one payment and waits until it is written (or found written)
    /// and announced.
    pub async fn create(&self, payment: NewPayment) -> Result<CreateOutcome, ApiError> {
        match self.submit(Write::Create(payment)).await? {
            Outcome::Create(outcome) => Ok(outcome),
            _ => unreachable!("a create is answered with a create outcome"),
        }
    }

    /// Queues a refund and waits until it is written and announced.
    pub async fn refund(&self, tenant_id: &str, id: ObjectId, at: DateTime<Utc>) -> Result<RefundOutcome, ApiError> {
        let write = Write::Refund {
            tenant_id: tenant_id.to_owned(),
            id,
            at,
        };
        match self.submit(write).await? {
            Outcome::Refund(outcome) => Ok(outcome),
            _ => unreachable!("a refund is answered with a refund outcome"),
        }
    }

    /// Replaces a tenant's alert rules (validated by the caller), with the
    /// audit entry `audit`.
    pub async fn replace_alert_rules(
        &self,
        tenant_id: &str,
        rules: Vec<AlertRule>,
        audit: AuditDoc,
    ) -> Result<(), ApiError> {
        let write = Write::AlertRules {
            tenant_id: tenant_id.to_owned(),
            rules,
            audit: Box::new(audit),
        };
        self.submit(write).await.map(drop)
    }

    /// Makes one lifecycle step; `false` when another instance made one
    /// first (the rule's state moved since it was read).
    pub async fn transition(&self, transition: Transition) -> Result<bool, ApiError> {
        match self.submit(Write::Transition(Box::new(transition))).await? {
            Outcome::Transition(made) => Ok(made),
            _ => unreachable!("a transition is answered with a transition outcome"),
        }
    }

    async fn submit(&self, write: Write) -> Result<Outcome, ApiError> {
        let (reply, outcome) = oneshot::channel();
        let stopped = || ApiError::Unavailable("the writer has stopped".into());
        self.sender.send(Job { write, reply }).await.map_err(|_| stopped())?;
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
    counts: std::sync::Arc<Counts>,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    let mut previous_batch = 0;
    while receiver.recv_many(&mut jobs, max_batch).await > 0 {
        // The database was just found unreachable: the callers hear so at
        // once rather than each batch waiting out the server selection
        // (`store::outage`); the first batch after the pause asks again.
        if let Some(error) = store.outage().current() {
            let replies = jobs.drain(..).map(|job| (job.reply, Err(error.clone()))).collect();
            let refused = Committed {
                replies,
                events: Vec::new(),
            };
            if committed.send(refused).await.is_err() {
                return;
            }
            continue;
        }
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
        counts.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        counts
            .writes
            .fetch_add(jobs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let batch = write_batch(&store, std::mem::replace(&mut jobs, Vec::with_capacity(max_batch))).await;
        if let Some(error) = batch.replies.iter().find_map(|(_, outcome)| outcome.as_ref().err())
            && crate::store::is_unreachable(error)
        {
            tracing::warn!(%error, "the database is unreachable: writes are refused for a second");
            store.outage().saw(error);
        }
        if committed.send(batch).await.is_err() {
            return;
        }
    }
}

/// Writes `jobs` in order: each run of creates as one transaction, each
/// other write as its own, so the events keep the order of the requests.
async fn write_batch(store: &Store, jobs: Vec<Job>) -> Committed {
    let mut committed = Committed {
        replies: Vec::with_capacity(jobs.len()),
        events: Vec::new(),
    };
    let mut jobs = jobs.into_iter().peekable();
    while let Some(job) = jobs.next() {
        match job.write {
            Write::Create(payment) => {
                let mut run = vec![(payment, job.reply)];
                while let Some(next) = jobs.next_if(|job| matches!(job.write, Write::Create(_))) {
                    if let Write::Create(payment) = next.write {
                        run.push((payment, next.reply));
                    }
                }
                let (payments, replies): (Vec<NewPayment>, Vec<Reply>) = run.into_iter().unzip();
                match store.create_payments(&payments).await {
                    Ok(Written { outcome, events }) => {
                        committed.events.extend(events);
                        let outcomes = outcome.into_iter().map(|outcome| Ok(Outcome::Create(outcome)));
                        committed.replies.extend(replies.into_iter().zip(outcomes));
                    }
                    Err(error) => {
                        tracing::error!(%error, batch = payments.len(), "writing a batch of payments failed");
                        committed
                            .replies
                            .extend(replies.into_iter().map(|reply| (reply, Err(error.clone()))));
                    }
                }
            }
            Write::Refund { tenant_id, id, at } => {
                let result = store.refund_payment(&tenant_id, id, at).await.map(|written| {
                    committed.events.extend(written.events);
                    Outcome::Refund(written.outcome)
                });
                if let Err(error) = &result {
                    tracing::error!(%error, tenant = %tenant_id, "writing a refund failed");
                }
                committed.replies.push((job.reply, result));
            }
            Write::AlertRules {
                tenant_id,
                rules,
                audit,
            } => {
                let result = store
                    .replace_alert_rules(&tenant_id, &rules, &audit)
                    .await
                    .map(|written| {
                        committed.events.extend(written.events);
                        Outcome::AlertRules
                    });
                committed.replies.push((job.reply, result));
            }
            Write::Transition(transition) => {
                let result = store.apply_transition(&transition).await.map(|written| {
                    committed.events.extend(written.events);
                    Outcome::Transition(written.outcome)
                });
                if let Err(error) = &result {
                    tracing::error!(%error, tenant = %transition.tenant_id, rule = %transition.rule_id, "writing an alert transition failed");
                }
                committed.replies.push((job.reply, result));
            }
        }
    }
    committed
}

/// Hands committed batches to the pipeline in commit order, then answers
/// their callers: a read right after a write is never served an answer
/// computed before it, nor a feed without its event.
async fn announce(pipeline: Pipeline, mut batches: mpsc::Receiver<Committed>) {
    while let Some(Committed { replies, events }) = batches.recv().await {
        pipeline.committed(&events).await;
        for (reply, outcome) in replies {
            // The caller may have gone (client disconnected): the write is
            // made all the same.
            reply.send(outcome).ok();
        }
    }
}
