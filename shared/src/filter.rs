//! The one payment filter: which payments (and live events) a list, an
//! export, a live socket or the dashboard's feed shows. The server turns it
//! into a MongoDB query for lists and exports and calls [`PaymentFilter::matches`]
//! for the live feed; the dashboard calls the same `matches` on its rows, so
//! a slice means the same everywhere.

use std::collections::BTreeSet;

use crate::money::Amount;
use crate::payment::{EventType, Payment, PaymentEvent, PaymentStatus};

/// Every field narrows the result; empty sets and `None` mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    /// Live event types (a payment listed has no event type: ignored there).
    pub types: BTreeSet<EventType>,
    pub statuses: BTreeSet<PaymentStatus>,
    pub methods: BTreeSet<String>,
    /// Inclusive bounds, in major units, compared exactly.
    pub min_amount: Option<Amount>,
    pub max_amount: Option<Amount>,
    /// A prefix of the sender's `externalId`.
    pub external_id_prefix: Option<String>,
}

impl PaymentFilter {
    /// Whether `payment`, as it stands now, is in the slice.
    pub fn matches_payment(&self, payment: &Payment) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&payment.status))
            && (self.methods.is_empty() || self.methods.contains(&payment.method))
            && self.min_amount.is_none_or(|minimum| payment.amount >= minimum)
            && self.max_amount.is_none_or(|maximum| payment.amount <= maximum)
            && self
                .external_id_prefix
                .as_deref()
                .is_none_or(|prefix| payment.external_id.starts_with(prefix))
    }

    /// Whether a live event passes: its type, and its payment as above.
    pub fn matches(&self, event: &PaymentEvent) -> bool {
        (self.types.is_empty() || self.types.contains(&event.event_type)) && self.matches_payment(&event.payment)
    }

    /// Whether nothing is filtered out.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn event(event_type: EventType, method: &str, cents: i64, external_id: &str) -> PaymentEvent {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        PaymentEvent {
            event_type,
            payment: Payment {
                id: "p".into(),
                tenant_id: "acme".into(),
                external_id: external_id.into(),
                amount: Amount::from_minor(cents, 2),
                currency: "USD".into(),
                method: method.into(),
                status: match event_type {
                    EventType::PaymentReceived => PaymentStatus::Succeeded,
                    EventType::PaymentFailed => PaymentStatus::Failed,
                    EventType::PaymentRefunded => PaymentStatus::Refunded,
                },
                failure_reason: None,
                refunded_at: None,
                created_at: at,
                updated_at: at,
            },
            timestamp: at,
            seq: None,
        }
    }

    #[test]
    fn every_field_narrows() {
        let card = event(EventType::PaymentFailed, "card", 1_050, "ord_17");
        assert!(PaymentFilter::default().matches(&card));
        let cases = [
            (
                PaymentFilter {
                    types: [EventType::PaymentReceived].into(),
                    ..Default::default()
                },
                false,
            ),
            (
                PaymentFilter {
                    statuses: [PaymentStatus::Failed].into(),
                    ..Default::default()
                },
                true,
            ),
            (
                PaymentFilter {
                    methods: ["paypal".to_owned()].into(),
                    ..Default::default()
                },
                false,
            ),
            (
                PaymentFilter {
                    min_amount: Some(Amount::parse("10.5").unwrap()),
                    ..Default::default()
                },
                true,
            ),
            (
                PaymentFilter {
                    min_amount: Some(Amount::parse("10.51").unwrap()),
                    ..Default::default()
                },
                false,
            ),
            (
                PaymentFilter {
                    max_amount: Some(Amount::parse("10.50").unwrap()),
                    ..Default::default()
                },
                true,
            ),
            (
                PaymentFilter {
                    max_amount: Some(Amount::parse("10.49").unwrap()),
                    ..Default::default()
                },
                false,
            ),
            (
                PaymentFilter {
                    external_id_prefix: Some("ord_1".into()),
                    ..Default::default()
                },
                true,
            ),
            (
                PaymentFilter {
                    external_id_prefix: Some("ord_2".into()),
                    ..Default::default()
                },
                false,
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(filter.matches(&card), expected, "{filter:?}");
        }
    }
}
