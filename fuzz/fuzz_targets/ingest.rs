//! Ingest bodies: arbitrary JSON read as `CreatePayment` (as the `JsonBody`
//! extractor reads it) and validated for a tenant at a "now".
//!
//! Asserts: no panic; a refusal is a 400 or 422, never a 500; an accepted
//! payment's amount is a positive integer of the tenant's minor units,
//! exactly the decimal sent (and the double the JSON number reads as), at
//! most `MAX_MINOR`; its `externalId` is the trimmed, printable, at most
//! 255 bytes; currency and method are the tenant's; a failure reason only
//! on a failed payment, at most 500 bytes; `createdAt` is now when absent,
//! else the given instant to the millisecond, within 35 days back and 5
//! minutes ahead.

#![no_main]

use chrono::{DateTime, TimeDelta};
use libfuzzer_sys::fuzz_target;
use paypulse_fuzz::Bytes;
use paypulse_server::error::ApiError;
use paypulse_server::ingest::CreatePayment;
use paypulse_server::ingest::validate::validate;
use paypulse_shared::Amount;
use paypulse_shared::money::MAX_MINOR;
use paypulse_shared::payment::PaymentStatus;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let tenant = bytes.tenant();
    let now = bytes.now();
    let body = bytes.0;
    let Ok(payment) = serde_json::from_slice::<CreatePayment>(body) else {
        return;
    };
    let sent_amount = payment.amount;
    let sent_id = payment.external_id.clone();
    let sent_created_at = payment.created_at.clone();
    let sent_status = payment.status.clone();
    let accepted = match validate(&tenant, payment, now) {
        Err(ApiError::Client { code, .. }) => {
            assert!(matches!(code.status(), 400 | 422), "{code:?}");
            return;
        }
        Err(other) => panic!("not a client error: {other:?}"),
        Ok(accepted) => accepted,
    };
    let scale = tenant.scale();
    assert!(accepted.amount_minor > 0 && accepted.amount_minor <= MAX_MINOR);
    assert_eq!(Amount::from_minor(accepted.amount_minor, scale), sent_amount);
    let value: serde_json::Value = serde_json::from_slice(body).expect("read once already");
    let double = value["amount"].as_f64().expect("an amount is a number");
    assert_eq!(
        Amount::from_minor(accepted.amount_minor, scale).to_f64(),
        double,
        "{} minor units of scale {scale} are not the number sent",
        accepted.amount_minor
    );
    assert_eq!(accepted.external_id, sent_id.trim());
    assert!(!accepted.external_id.is_empty() && accepted.external_id.len() <= 255);
    assert!(!accepted.external_id.chars().any(char::is_control));
    assert_eq!(accepted.currency, tenant.currency);
    assert!(tenant.methods.contains(&accepted.method));
    assert!(paypulse_shared::catalogue::method(&accepted.method).is_some());
    assert_eq!(accepted.status.as_str(), sent_status);
    assert_ne!(accepted.status, PaymentStatus::Refunded);
    if let Some(reason) = &accepted.failure_reason {
        assert_eq!(accepted.status, PaymentStatus::Failed);
        assert!(!reason.is_empty() && reason.len() <= 500 && reason.trim() == reason);
    }
    assert_eq!(accepted.created_at_given, sent_created_at.is_some());
    match sent_created_at {
        None => assert_eq!(accepted.created_at, now),
        Some(text) => {
            let given = paypulse_shared::time::parse_utc(&text).expect("accepted");
            let millis = DateTime::from_timestamp_millis(given.timestamp_millis()).expect("in range");
            assert_eq!(accepted.created_at, millis);
            assert!(accepted.created_at <= now + TimeDelta::minutes(5), "{text}");
            assert!(
                accepted.created_at >= now - TimeDelta::days(35) - TimeDelta::milliseconds(1),
                "{text}"
            );
        }
    }
    assert_eq!(accepted.timezone, tenant.tz());
});
