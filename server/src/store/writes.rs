//! Writing payments: each batch of new payments (and each refund) is one
//! transaction that writes the payments and adds them to the rollups, so a
//! payment is counted exactly once or not at all. Duplicate `externalId`s are
//! found inside the transaction and answered as replays, and the unique index
//! stays the last line of defence between server instances.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::{FutureExt, TryStreamExt};
use mongodb::ClientSession;
use mongodb::bson::doc;
use mongodb::bson::oid::ObjectId;
use paypulse_shared::payment::PaymentStatus;

use super::Store;
use super::documents::{PaymentDoc, to_bson, to_chrono};
use super::events::DomainEvent;
use super::rollups::Changes;

/// A validated payment to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewPayment {
    pub tenant_id: String,
    pub external_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub method: String,
    /// `Succeeded` or `Failed`: payments are created in a final state.
    pub status: PaymentStatus,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Whether the sender chose `created_at` (a replay must then match it).
    pub created_at_given: bool,
    /// The tenant's time zone, whose hours the rollups count in.
    pub timezone: chrono_tz::Tz,
}

impl NewPayment {
    /// Whether `existing` is the payment this request created earlier.
    fn is_replay_of(&self, existing: &PaymentDoc) -> bool {
        // A payment refunded since it was created was created as succeeded.
        let original_status = match existing.status {
            PaymentStatus::Refunded => PaymentStatus::Succeeded,
            status => status,
        };
        existing.amount_minor == self.amount_minor
            && existing.currency == self.currency
            && existing.method == self.method
            && original_status == self.status
            && existing.failure_reason == self.failure_reason
            && (!self.created_at_given || to_chrono(existing.created_at) == self.created_at)
    }

    fn to_document(&self) -> PaymentDoc {
        PaymentDoc {
            id: ObjectId::new(),
            tenant_id: self.tenant_id.clone(),
            external_id: self.external_id.clone(),
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            method: self.method.clone(),
            status: self.status,
            failure_reason: self.failure_reason.clone(),
            refunded_at: None,
            created_at: to_bson(self.created_at),
            updated_at: to_bson(self.created_at),
        }
    }
}

/// How many documents one import transaction carries.
const IMPORT_BATCH: usize = 1_000;

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    pub inserted: u64,
    /// Documents whose `(tenantId, externalId)` already existed: skipped.
    pub duplicates: u64,
}

/// What became of one create request.
#[derive(Clone, Debug, PartialEq)]
pub enum CreateOutcome {
    /// Written now.
    Created(PaymentDoc),
    /// The same request was written before: nothing changed.
    Replayed(PaymentDoc),
    /// The `externalId` belongs to a different payment.
    Conflict(PaymentDoc),
}

/// What a committed write did: its answer to the caller and its domain
/// events, for the post-commit pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Written<T> {
    pub outcome: T,
    pub events: Vec<DomainEvent>,
}

/// What became of one refund request.
#[derive(Clone, Debug, PartialEq)]
pub enum RefundOutcome {
    Refunded(PaymentDoc),
    NotFound,
    AlreadyRefunded(PaymentDoc),
    /// A failed payment moved no money and cannot be refunded.
    NotRefundable(PaymentDoc),
}

impl Store {
    /// Creates a batch of payments in one transaction (group commit). Each
    /// request gets its own outcome, in order; the events are the payments
    /// created (not replays). Only the writer (`crate::writer`) calls this:
    /// one transaction at a time per process.
    ///
    /// The first attempt is optimistic: it inserts without first looking the
    /// `externalId`s up, since nearly every request is new. If one was stored
    /// before, the unique index refuses the insert, the transaction aborts
    /// with nothing written, and the batch is written again with the lookup,
    /// which turns the known ones into replays or conflicts.
    pub async fn create_payments(
        &self,
        requests: &[NewPayment],
    ) -> mongodb::error::Result<Written<Vec<CreateOutcome>>> {
        let writing = self.edges().writing();
        let create = |look_up| {
            self.in_transaction(requests, move |session, requests| {
                self.create_in(session, requests, look_up).boxed()
            })
        };
        let outcomes = match create(false).await {
            Err(error) if is_duplicate_key(&error) => create(true).await?,
            written => written?,
        };
        let created: Vec<PaymentDoc> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                CreateOutcome::Created(document) => Some(document.clone()),
                _ => None,
            })
            .collect();
        self.edges().record_created(&created);
        writing.recorded();
        let events = created.into_iter().map(DomainEvent::PaymentCreated).collect();
        Ok(Written {
            outcome: outcomes,
            events,
        })
    }

    async fn create_in(
        &self,
        session: &mut ClientSession,
        requests: &[NewPayment],
        look_up: bool,
    ) -> mongodb::error::Result<Vec<CreateOutcome>> {
        let mut known: HashMap<(String, String), PaymentDoc> = HashMap::new();
        if look_up {
            let keys = requests
                .iter()
                .map(|request| (request.tenant_id.as_str(), request.external_id.as_str()));
            for document in self.existing_payments(session, keys).await? {
                known.insert((document.tenant_id.clone(), document.external_id.clone()), document);
            }
        }

        let mut outcomes = Vec::with_capacity(requests.len());
        let mut inserts = Vec::new();
        let mut changes = Changes::recorded_by(self.edges().writer());
        for request in requests {
            let key = (request.tenant_id.clone(), request.external_id.clone());
            if let Some(existing) = known.get(&key) {
                outcomes.push(if request.is_replay_of(existing) {
                    CreateOutcome::Replayed(existing.clone())
                } else {
                    CreateOutcome::Conflict(existing.clone())
                });
                continue;
            }
            let document = request.to_document();
            changes.record(
                &request.tenant_id,
                request.timezone,
                request.created_at,
                &request.method,
                request.status,
                request.amount_minor,
            );
            known.insert(key, document.clone());
            inserts.push(document.clone());
            outcomes.push(CreateOutcome::Created(document));
        }
        if !inserts.is_empty() {
            self.payments().insert_many(&inserts).session(&mut *session).await?;
            self.apply_changes(session, &changes).await?;
        }
        Ok(outcomes)
    }

    /// Writes complete payment documents (any status, refunds included) and
    /// their rollups, skipping those whose `externalId` exists: how `seed`
    /// and backfills load history through the same bookkeeping as ingest.
    pub async fn import_payments(&self, documents: &[PaymentDoc]) -> mongodb::error::Result<ImportOutcome> {
        let mut outcome = ImportOutcome::default();
        for batch in documents.chunks(IMPORT_BATCH) {
            let _turn = self.import_turn().await;
            let inserted = self
                .in_transaction(batch, |session, batch| self.import_in(session, batch).boxed())
                .await?;
            outcome.inserted += inserted;
            outcome.duplicates += batch.len() as u64 - inserted;
        }
        Ok(outcome)
    }

    async fn import_in(&self, session: &mut ClientSession, batch: &[PaymentDoc]) -> mongodb::error::Result<u64> {
        let keys = batch
            .iter()
            .map(|document| (document.tenant_id.as_str(), document.external_id.as_str()));
        let mut seen: HashSet<(String, String)> = self
            .existing_payments(session, keys)
            .await?
            .into_iter()
            .map(|document| (document.tenant_id, document.external_id))
            .collect();
        let timezones = self
            .timezones(batch.iter().map(|document| document.tenant_id.as_str()))
            .await?;
        let mut fresh = Vec::new();
        let mut changes = Changes::default();
        for document in batch {
            if !seen.insert((document.tenant_id.clone(), document.external_id.clone())) {
                continue;
            }
            let tz = timezones.get(&document.tenant_id).copied().unwrap_or(chrono_tz::UTC);
            changes.record(
                &document.tenant_id,
                tz,
                to_chrono(document.created_at),
                &document.method,
                document.status,
                document.amount_minor,
            );
            fresh.push(document);
        }
        if !fresh.is_empty() {
            self.payments()
                .insert_many(fresh.iter().copied())
                .session(&mut *session)
                .await?;
            self.apply_changes(session, &changes).await?;
        }
        Ok(fresh.len() as u64)
    }

    /// The stored payments among `(tenantId, externalId)` pairs, read inside
    /// the transaction: one query per tenant.
    async fn existing_payments<'k>(
        &self,
        session: &mut ClientSession,
        keys: impl Iterator<Item = (&'k str, &'k str)>,
    ) -> mongodb::error::Result<Vec<PaymentDoc>> {
        let mut by_tenant: HashMap<&str, Vec<&str>> = HashMap::new();
        for (tenant_id, external_id) in keys {
            by_tenant.entry(tenant_id).or_default().push(external_id);
        }
        let mut existing = Vec::new();
        for (tenant_id, external_ids) in by_tenant {
            let found: Vec<PaymentDoc> = self
                .payments()
                .find(doc! { "tenantId": tenant_id, "externalId": { "$in": external_ids } })
                .session(&mut *session)
                .await?
                .stream(&mut *session)
                .try_collect()
                .await?;
            existing.extend(found);
        }
        Ok(existing)
    }

    /// Refunds one succeeded payment, in one transaction with its rollup.
    /// Only the writer calls this, as for `create_payments`.
    pub async fn refund_payment(
        &self,
        tenant_id: &str,
        id: ObjectId,
        now: DateTime<Utc>,
    ) -> mongodb::error::Result<Written<RefundOutcome>> {
        let tz = self.timezone(tenant_id).await?;
        let writing = self.edges().writing();
        let outcome = self
            .in_transaction((self, tenant_id), |session, (store, tenant_id)| {
                store.refund_in(session, tenant_id, tz, id, now).boxed()
            })
            .await?;
        let mut events = Vec::new();
        if let RefundOutcome::Refunded(payment) = &outcome {
            self.edges()
                .record_refund(tenant_id, to_chrono(payment.created_at), payment.id);
            events.push(DomainEvent::PaymentRefunded(payment.clone()));
        }
        writing.recorded();
        Ok(Written { outcome, events })
    }

    async fn refund_in(
        &self,
        session: &mut ClientSession,
        tenant_id: &str,
        tz: chrono_tz::Tz,
        id: ObjectId,
        now: DateTime<Utc>,
    ) -> mongodb::error::Result<RefundOutcome> {
        let filter = doc! { "_id": id, "tenantId": tenant_id };
        let Some(mut payment) = self.payments().find_one(filter.clone()).session(&mut *session).await? else {
            return Ok(RefundOutcome::NotFound);
        };
        match payment.status {
            PaymentStatus::Failed => return Ok(RefundOutcome::NotRefundable(payment)),
            PaymentStatus::Refunded => return Ok(RefundOutcome::AlreadyRefunded(payment)),
            PaymentStatus::Succeeded => {}
        }
        let mut conditional = filter;
        conditional.insert("status", PaymentStatus::Succeeded.as_str());
        let at = to_bson(now);
        let update = doc! { "$set": { "status": PaymentStatus::Refunded.as_str(), "refundedAt": at, "updatedAt": at } };
        self.payments()
            .update_one(conditional, update)
            .session(&mut *session)
            .await?;
        let mut changes = Changes::recorded_by(self.edges().writer());
        changes.refund(
            tenant_id,
            tz,
            to_chrono(payment.created_at),
            &payment.method,
            payment.amount_minor,
        );
        self.apply_changes(session, &changes).await?;
        payment.status = PaymentStatus::Refunded;
        payment.refunded_at = Some(at);
        payment.updated_at = at;
        Ok(RefundOutcome::Refunded(payment))
    }
}

/// Whether a write failed on a unique index (code 11000): for payments, an
/// `externalId` stored before.
pub(super) fn is_duplicate_key(error: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    const DUPLICATE_KEY: i32 = 11_000;
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(failure)) => failure.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(failure) => failure
            .write_errors
            .as_ref()
            .is_some_and(|errors| errors.iter().any(|failure| failure.code == DUPLICATE_KEY)),
        ErrorKind::Command(failure) => failure.code == DUPLICATE_KEY,
        _ => false,
    }
}
