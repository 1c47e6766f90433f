//! Payments and live payment events as they travel over REST and WebSocket.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Amount;

/// Where a payment stands. A refunded payment had succeeded first, so it
/// still counts as succeeded in the gross volume and the success rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Succeeded,
    Failed,
    Refunded,
}

impl PaymentStatus {
    /// Every status, in wire order.
    pub const ALL: [Self; 3] = [Self::Succeeded, Self::Failed, Self::Refunded];

    /// The wire and storage spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Refunded => "refunded",
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status that is not one of the three known ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown status '{0}' (expected succeeded, failed or refunded)")]
pub struct UnknownStatus(pub String);

impl FromStr for PaymentStatus {
    type Err = UnknownStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| UnknownStatus(text.to_owned()))
    }
}

/// A payment, with its amount in major units of its currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub id: String,
    pub tenant_id: String,
    /// The sender's own id of the payment; ingest is idempotent on it.
    pub external_id: String,
    pub amount: Amount,
    pub currency: String,
    pub method: String,
    pub status: PaymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::time::rfc3339_option"
    )]
    pub refunded_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// What happened to a payment, as the live feed reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    PaymentReceived,
    PaymentFailed,
    PaymentRefunded,
}

/// One message of the live feed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentEvent {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub payment: Payment,
    #[serde(with = "crate::time::rfc3339")]
    pub timestamp: DateTime<Utc>,
    /// Per-tenant position in the feed; strictly increasing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn refunded_payment() -> Payment {
        Payment {
            id: "674300aa11bb22cc33dd44ee".into(),
            tenant_id: "acme".into(),
            external_id: "ord_1001".into(),
            amount: Amount::from_minor(1234, 2),
            currency: "USD".into(),
            method: "card".into(),
            status: PaymentStatus::Refunded,
            failure_reason: None,
            refunded_at: Some(Utc.with_ymd_and_hms(2026, 11, 24, 11, 0, 0).unwrap()),
            created_at: Utc.with_ymd_and_hms(2026, 11, 24, 10, 15, 0).unwrap(),
            updated_at: Utc.with_ymd_and_hms(2026, 11, 24, 11, 0, 0).unwrap(),
        }
    }

    #[test]
    fn payment_matches_the_contract_field_for_field() {
        let document = json!({
            "id": "674300aa11bb22cc33dd44ee",
            "tenantId": "acme",
            "externalId": "ord_1001",
            "amount": 12.34,
            "currency": "USD",
            "method": "card",
            "status": "refunded",
            "refundedAt": "2026-11-24T11:00:00Z",
            "createdAt": "2026-11-24T10:15:00Z",
            "updatedAt": "2026-11-24T11:00:00Z"
        });
        assert_eq!(serde_json::to_value(refunded_payment()).unwrap(), document);
        let back: Payment = serde_json::from_value(document).unwrap();
        assert_eq!(back, refunded_payment());
    }

    #[test]
    fn failed_payment_carries_its_reason() {
        let text = r#"{"id":"p2","tenantId":"globex","externalId":"x","amount":0.3,"currency":"USD",
            "method":"paypal","status":"failed","failureReason":"card_declined",
            "createdAt":"2026-03-08T06:59:59.500Z","updatedAt":"2026-03-08T06:59:59.500Z"}"#;
        let payment: Payment = serde_json::from_str(text).unwrap();
        assert_eq!(payment.status, PaymentStatus::Failed);
        assert_eq!(payment.amount.to_minor_units(2), Ok(30));
        assert_eq!(payment.failure_reason.as_deref(), Some("card_declined"));
        let again = serde_json::to_value(&payment).unwrap();
        assert_eq!(again["createdAt"], "2026-03-08T06:59:59.500Z");
        assert_eq!(again["amount"], json!(0.3));
        assert!(
            again.get("refundedAt").is_none(),
            "absent optional fields are omitted, not null"
        );
    }

    #[test]
    fn event_matches_the_contract() {
        let event = PaymentEvent {
            event_type: EventType::PaymentRefunded,
            payment: refunded_payment(),
            timestamp: Utc.with_ymd_and_hms(2026, 11, 24, 11, 0, 0).unwrap(),
            seq: Some(42),
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["type"], "payment_refunded");
        assert_eq!(value["timestamp"], "2026-11-24T11:00:00Z");
        assert_eq!(value["seq"], 42);
        assert_eq!(value["payment"]["status"], "refunded");
        let back: PaymentEvent = serde_json::from_value(value).unwrap();
        assert_eq!(back, event);
        for (text, expected) in [
            ("\"payment_received\"", EventType::PaymentReceived),
            ("\"payment_failed\"", EventType::PaymentFailed),
        ] {
            assert_eq!(serde_json::from_str::<EventType>(text).unwrap(), expected);
        }
    }

    #[test]
    fn statuses_parse_from_query_text() {
        assert_eq!("failed".parse(), Ok(PaymentStatus::Failed));
        assert!("Failed".parse::<PaymentStatus>().is_err());
        assert!(serde_json::from_str::<PaymentStatus>("\"pending\"").is_err());
    }
}
