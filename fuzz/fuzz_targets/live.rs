//! Client WebSocket input. What `/ws/payments` reads from a client is its
//! query string (`LiveQuery`: credentials, `since`/`epoch`, `control` and
//! the filter); text frames from a client are read and dropped, and only
//! pongs and closes mean anything. The other direction's text, the frames
//! the dashboard parses (`LiveFrame`), is fuzzed here too.
//!
//! Asserts: no panic; a refused query names its parameter; an accepted one
//! writes itself back to the same value; `check_amounts` (the handler's
//! next step) accepts exactly the bounds the tenant's currency holds, as
//! non-negative minor units; the filter then passes an event exactly when
//! its type and method are among those asked for (or none were) and its
//! amount in minor units is at least the bound's; a frame that parses
//! writes itself back to the same frame.

#![no_main]

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use paypulse_fuzz::Bytes;
use paypulse_server::params;
use paypulse_shared::Amount;
use paypulse_shared::live::LiveFrame;
use paypulse_shared::payment::{EventType, Payment, PaymentEvent, PaymentStatus};
use paypulse_shared::query::{LiveQuery, from_query, to_query};

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    if bytes.byte() & 1 == 0 {
        query(bytes);
    } else {
        frame(&bytes.rest_text());
    }
});

fn query(mut bytes: Bytes<'_>) {
    let tenant = bytes.tenant();
    let now = bytes.now();
    let event_type = [
        EventType::PaymentReceived,
        EventType::PaymentFailed,
        EventType::PaymentRefunded,
    ][usize::from(bytes.byte()) % 3];
    let methods = paypulse_shared::catalogue::METHODS;
    let method = methods[usize::from(bytes.byte()) % methods.len()].id;
    let minor = i64::from(bytes.u32());
    let text = bytes.rest_text();

    let query = match from_query::<LiveQuery>(&text) {
        Err(error) => {
            assert!(error.message.contains(&format!("'{}'", error.parameter)), "{error:?}");
            return;
        }
        Ok(query) => query,
    };
    let written = to_query(&query);
    assert_eq!(
        from_query::<LiveQuery>(&written).as_ref(),
        Ok(&query),
        "{text:?} written as {written:?}"
    );
    let filter = &query.filter;
    assert!(filter.statuses.is_empty() && filter.max_amount.is_none() && filter.external_id_prefix.is_none());

    let scale = tenant.scale();
    if params::check_amounts(filter, scale).is_err() {
        let amount = filter.min_amount.expect("only minAmount can be refused");
        assert!(amount.to_minor_units(scale).is_err());
        return;
    }
    let minimum = filter
        .min_amount
        .map(|amount| params::minor_units("minAmount", amount, scale).expect("checked"));
    assert!(minimum.is_none_or(|minimum| minimum >= 0));

    let event = payment_event(
        event_type,
        method,
        Amount::from_minor(minor, scale),
        &tenant.currency,
        now,
    );
    let expected = (filter.types.is_empty() || filter.types.contains(&event_type))
        && (filter.methods.is_empty() || filter.methods.contains(method))
        && minimum.is_none_or(|minimum| minor >= minimum);
    assert_eq!(
        filter.matches(&event),
        expected,
        "{filter:?} and {minor} at scale {scale}"
    );
}

fn payment_event(
    event_type: EventType,
    method: &str,
    amount: Amount,
    currency: &str,
    now: DateTime<Utc>,
) -> PaymentEvent {
    PaymentEvent {
        event_type,
        payment: Payment {
            id: "674300aa11bb22cc33dd44ee".into(),
            tenant_id: "acme".into(),
            external_id: "ord_1".into(),
            amount,
            currency: currency.into(),
            method: method.into(),
            status: match event_type {
                EventType::PaymentReceived => PaymentStatus::Succeeded,
                EventType::PaymentFailed => PaymentStatus::Failed,
                EventType::PaymentRefunded => PaymentStatus::Refunded,
            },
            failure_reason: None,
            refunded_at: None,
            created_at: now,
            updated_at: now,
        },
        timestamp: now,
        seq: None,
    }
}

/// A text frame as the dashboard reads it: what parses writes itself back.
fn frame(text: &str) {
    let Ok(frame) = serde_json::from_str::<LiveFrame>(text) else {
        return;
    };
    let written = serde_json::to_string(&frame).expect("a frame serializes");
    let again = serde_json::from_str::<LiveFrame>(&written);
    assert_eq!(
        again.as_ref().ok(),
        Some(&frame),
        "{text:?} written as {written:?}: {again:?}"
    );
}
