//! Turns an ingest request body into a payment to write, or says precisely
//! what is wrong with it. Malformed input (types, formats, enums, amounts) is
//! a 400; well-formed input this tenant cannot accept (a method it has not
//! enabled, another currency, a time in the future) is a 422.

use chrono::{DateTime, TimeDelta, Utc};
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::{Amount, catalogue};
use serde::Deserialize;

use crate::error::ApiError;
use crate::params;
use crate::store::documents::TenantDoc;
use crate::store::writes::NewPayment;
use paypulse_shared::error::ErrorCode;

/// How far ahead of our clock a sender's `createdAt` may be (clock skew).
const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);
/// The oldest `createdAt` the live API takes: a card network's longest settlement
/// cycle with a margin. Older history is imported (`seed`,
/// `Store::import_payments`), not sent as if it were happening now.
const MAX_AGE: TimeDelta = TimeDelta::days(35);
/// Longest `externalId` and `failureReason` accepted.
const MAX_ID_LENGTH: usize = 255;
const MAX_REASON_LENGTH: usize = 500;

/// Body of `POST /api/payments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePayment {
    pub external_id: String,
    pub amount: Amount,
    pub currency: String,
    pub method: String,
    pub status: String,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidBody, message)
}

fn unprocessable(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

/// The payment `body` asks `tenant` to write at `now`, or the 400 or 422
/// that says what is wrong with it.
pub fn validate(tenant: &TenantDoc, body: CreatePayment, now: DateTime<Utc>) -> Result<NewPayment, ApiError> {
    let external_id = body.external_id.trim().to_owned();
    if external_id.is_empty() || external_id.len() > MAX_ID_LENGTH || external_id.chars().any(char::is_control) {
        return Err(invalid(format!(
            "'externalId' must be 1 to {MAX_ID_LENGTH} printable characters"
        )));
    }
    let status = match body.status.as_str() {
        "succeeded" => PaymentStatus::Succeeded,
        "failed" => PaymentStatus::Failed,
        other => {
            return Err(invalid(format!(
                "'status' must be succeeded or failed, got '{other}' (refunds go to POST /api/payments/{{id}}/refund)"
            )));
        }
    };
    let amount_minor = body
        .amount
        .to_minor_units(tenant.scale())
        .map_err(|error| invalid(format!("'amount': {error}")))?;
    if amount_minor <= 0 {
        return Err(invalid(format!(
            "'amount' must be greater than zero, got {}",
            body.amount
        )));
    }
    let created_at = match body.created_at.as_deref() {
        None => None,
        Some(text) => Some(params::timestamp("createdAt", text).map_err(|error| invalid(error.to_string()))?),
    };
    if body.currency != tenant.currency {
        return Err(unprocessable(
            ErrorCode::CurrencyMismatch,
            format!(
                "tenant '{}' takes payments in {}, not '{}'",
                tenant.id, tenant.currency, body.currency
            ),
        ));
    }
    if catalogue::method(&body.method).is_none() {
        let known: Vec<_> = catalogue::METHODS.iter().map(|method| method.id).collect();
        return Err(unprocessable(
            ErrorCode::UnknownMethod,
            format!("unknown payment method '{}' (known: {})", body.method, known.join(", ")),
        ));
    }
    if !tenant.methods.contains(&body.method) {
        return Err(unprocessable(
            ErrorCode::MethodNotEnabled,
            format!(
                "tenant '{}' has not enabled '{}' (enabled: {})",
                tenant.id,
                body.method,
                tenant.methods.join(", ")
            ),
        ));
    }
    let failure_reason = body
        .failure_reason
        .map(|reason| reason.trim().to_owned())
        .filter(|reason| !reason.is_empty());
    if let Some(reason) = &failure_reason {
        if status == PaymentStatus::Succeeded {
            return Err(unprocessable(
                ErrorCode::UnexpectedFailureReason,
                "a succeeded payment has no 'failureReason'",
            ));
        }
        if reason.len() > MAX_REASON_LENGTH {
            return Err(invalid(format!(
                "'failureReason' may be at most {MAX_REASON_LENGTH} characters"
            )));
        }
    }
    if let Some(at) = created_at
        && at > now + MAX_CLOCK_SKEW
    {
        return Err(unprocessable(
            ErrorCode::CreatedAtInFuture,
            format!("'createdAt' {at} is in the future"),
        ));
    }
    if let Some(at) = created_at
        && at < now - MAX_AGE
    {
        return Err(unprocessable(
            ErrorCode::CreatedAtTooOld,
            format!(
                "'createdAt' {at} is more than {} days old: the live API takes recent payments; load history with `paypulse-server seed` or an import",
                MAX_AGE.num_days()
            ),
        ));
    }
    let created_at_given = created_at.is_some();
    let created_at = created_at.map_or(now, |at| {
        DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(now)
    });
    Ok(NewPayment {
        tenant_id: tenant.id.clone(),
        external_id,
        amount_minor,
        currency: body.currency,
        method: body.method,
        status,
        failure_reason,
        created_at,
        created_at_given,
        timezone: tenant.tz(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantDoc {
        TenantDoc::sample("UTC", &["card", "paypal"])
    }

    fn body(json: serde_json::Value) -> CreatePayment {
        serde_json::from_value(json).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({"externalId": "ord_1", "amount": 12.34, "currency": "USD", "method": "card", "status": "succeeded"})
    }

    fn with(field: &str, value: serde_json::Value) -> CreatePayment {
        let mut json = base();
        json[field] = value;
        body(json)
    }

    fn rejection(result: Result<NewPayment, ApiError>) -> (u16, &'static str, String) {
        match result.unwrap_err() {
            ApiError::Client { code, message } => (code.status(), code.as_str(), message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn accepts_a_plain_payment_in_minor_units() {
        let now = Utc::now();
        let payment = validate(&tenant(), body(base()), now).unwrap();
        assert_eq!(payment.amount_minor, 1234);
        assert_eq!(payment.status, PaymentStatus::Succeeded);
        assert!(!payment.created_at_given);
        let payment = validate(&tenant(), with("amount", serde_json::json!(0.1)), now).unwrap();
        assert_eq!(payment.amount_minor, 10, "0.1 is ten cents, exactly");
    }

    #[test]
    fn malformed_values_are_400() {
        let now = Utc::now();
        for (field, value, hint) in [
            ("amount", serde_json::json!(0), "greater than zero"),
            ("amount", serde_json::json!(-5), "greater than zero"),
            ("amount", serde_json::json!(12.345), "decimal places"),
            ("status", serde_json::json!("refunded"), "succeeded or failed"),
            ("status", serde_json::json!("pending"), "succeeded or failed"),
            ("externalId", serde_json::json!(""), "externalId"),
            ("createdAt", serde_json::json!("yesterday"), "createdAt"),
        ] {
            let (status, code, message) = rejection(validate(&tenant(), with(field, value), now));
            assert_eq!((status, code), (400, "invalid_body"), "{field}");
            assert!(message.contains(hint), "{message}");
        }
    }

    #[test]
    fn what_this_tenant_cannot_take_is_422() {
        let now = Utc::now();
        let future = paypulse_shared::time::format_utc(&(now + TimeDelta::hours(1)));
        for (field, value, code) in [
            ("currency", serde_json::json!("EUR"), "currency_mismatch"),
            ("method", serde_json::json!("cash"), "unknown_method"),
            ("method", serde_json::json!("upi"), "method_not_enabled"),
            ("createdAt", serde_json::json!(future), "created_at_in_future"),
            (
                "failureReason",
                serde_json::json!("card_declined"),
                "unexpected_failure_reason",
            ),
        ] {
            let (status, actual, _) = rejection(validate(&tenant(), with(field, value), now));
            assert_eq!((status, actual), (422, code), "{field}");
        }
    }

    #[test]
    fn explicit_times_are_kept_to_the_millisecond() {
        let payment = validate(
            &tenant(),
            with("createdAt", serde_json::json!("2026-11-01T06:30:00.123456Z")),
            Utc::now(),
        )
        .unwrap();
        assert!(payment.created_at_given);
        assert_eq!(
            paypulse_shared::time::format_utc(&payment.created_at),
            "2026-11-01T06:30:00.123Z"
        );
    }
}
