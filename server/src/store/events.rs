//! Domain events: what a committed write changed, as the store reports it.
//! The writer hands them, in commit order, to the post-commit pipeline
//! (`writer::pipeline`), whose subscribers invalidate caches, publish the
//! live feed and wake the alert evaluator. Nothing else learns of a write.

use chrono::{DateTime, Utc};
use paypulse_shared::alerts::Alert;
use paypulse_shared::alerts::lifecycle::Change;
use paypulse_shared::live::{AlertFrame, FeedItem};
use paypulse_shared::payment::{EventType, PaymentEvent, PaymentStatus};

use super::documents::PaymentDoc;

/// One change a committed transaction made.
#[derive(Clone, Debug, PartialEq)]
pub enum DomainEvent {
    /// A new payment (not a replay of one stored before).
    PaymentCreated(PaymentDoc),
    /// A succeeded payment became refunded; the document as it is now.
    PaymentRefunded(PaymentDoc),
    /// An alert episode began, fired, resolved or ended without firing;
    /// the episode as it is now.
    AlertChanged {
        tenant: String,
        alert: Box<Alert>,
        change: Change,
    },
    /// An admin replaced the tenant's alert rules.
    AlertRulesChanged(String),
}

impl DomainEvent {
    /// The tenant whose data changed.
    pub fn tenant(&self) -> &str {
        match self {
            Self::PaymentCreated(payment) | Self::PaymentRefunded(payment) => &payment.tenant_id,
            Self::AlertChanged { tenant, .. } | Self::AlertRulesChanged(tenant) => tenant,
        }
    }

    /// Whether the tenant's analytics (metrics, trends) changed.
    pub fn changes_analytics(&self) -> bool {
        match self {
            Self::PaymentCreated(_) | Self::PaymentRefunded(_) => true,
            Self::AlertChanged { .. } | Self::AlertRulesChanged(_) => false,
        }
    }

    /// The live feed's item for this change, stamped `at`; `None` for
    /// changes the feed does not carry.
    pub fn live_event(&self, at: DateTime<Utc>) -> Option<FeedItem> {
        let (event_type, payment) = match self {
            Self::PaymentCreated(payment) if payment.status == PaymentStatus::Failed => {
                (EventType::PaymentFailed, payment)
            }
            Self::PaymentCreated(payment) => (EventType::PaymentReceived, payment),
            Self::PaymentRefunded(payment) => (EventType::PaymentRefunded, payment),
            // The feed carries what dashboards show and notify: firing and
            // resolution (SPEC §3), silenced ones too (marked, for the
            // history); not episodes that began or ended without firing.
            Self::AlertChanged { alert, change, .. } => {
                return matches!(change, Change::Fired | Change::Resolved).then(|| {
                    FeedItem::Alert(AlertFrame {
                        alert: (**alert).clone(),
                        seq: None,
                    })
                });
            }
            Self::AlertRulesChanged(_) => return None,
        };
        Some(FeedItem::Payment(PaymentEvent {
            event_type,
            payment: payment.to_wire(),
            timestamp: at,
            seq: None,
        }))
    }
}
