//! Query-string parsing shared by the endpoints: a `Query` whose rejection is
//! our 400, and parsers for timestamps, ranges and amounts whose messages say
//! exactly what was wrong.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, TimeDelta, Utc};
use paypulse_shared::Amount;
use paypulse_shared::time::parse_utc;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Longest range one analytics or list request may cover.
pub const MAX_RANGE_DAYS: i64 = 400;

/// `Query<T>` answering malformed or unknown parameters with a 400.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid_parameter(rejection.body_text())),
        }
    }
}

/// `Json<T>` answering a malformed body with our `{code, message}`: 415 when
/// it is not JSON, 413 when too large, 400 naming the field otherwise.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with 'Content-Type: application/json'",
            )),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                rejection.body_text(),
            )),
            Err(rejection) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                rejection.body_text(),
            )),
        }
    }
}

/// Parses the timestamp parameter `name`.
pub fn timestamp(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_utc(value).map_err(|_| {
        ApiError::invalid_parameter(format!(
            "'{name}' must be an RFC 3339 timestamp such as 2026-11-24T10:15:00Z, got '{value}'"
        ))
    })
}

/// `[from, to)` from optional parameters: `to` defaults to now and `from` to
/// `default_span` before `to`.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
    default_span: TimeDelta,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = to.map(|value| timestamp("to", value)).transpose()?.unwrap_or(now);
    let from = from
        .map(|value| timestamp("from", value))
        .transpose()?
        .unwrap_or(to - default_span);
    if from >= to {
        return Err(ApiError::invalid_parameter("'from' must be earlier than 'to'"));
    }
    if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
        return Err(ApiError::invalid_parameter(format!(
            "the range may cover at most {MAX_RANGE_DAYS} days"
        )));
    }
    Ok((from, to))
}

/// Parses an amount in major units into minor units of `scale` places.
pub fn amount(name: &str, value: &str, scale: u8) -> Result<i64, ApiError> {
    let parsed = Amount::parse(value).and_then(|amount| amount.to_minor_units(scale));
    match parsed {
        Ok(minor) if minor >= 0 => Ok(minor),
        Ok(_) => Err(ApiError::invalid_parameter(format!(
            "'{name}' must not be negative, got '{value}'"
        ))),
        Err(error) => Err(ApiError::invalid_parameter(format!("'{name}': {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(error: ApiError) -> String {
        error.to_string()
    }

    #[test]
    fn ranges_default_and_validate() {
        let now = parse_utc("2026-11-24T10:00:00Z").unwrap();
        let (from, to) = range(None, None, now, TimeDelta::hours(24)).unwrap();
        assert_eq!((to - from, to), (TimeDelta::hours(24), now));
        let inverted = range(
            Some("2026-11-24T00:00:00Z"),
            Some("2026-11-23T00:00:00Z"),
            now,
            TimeDelta::hours(1),
        );
        assert!(message(inverted.unwrap_err()).contains("earlier"));
        let garbage = range(Some("yesterday"), None, now, TimeDelta::hours(1));
        assert!(message(garbage.unwrap_err()).contains("'from' must be an RFC 3339 timestamp"));
        let huge = range(Some("2000-01-01T00:00:00Z"), None, now, TimeDelta::hours(1));
        assert!(message(huge.unwrap_err()).contains("at most"));
    }

    #[test]
    fn amounts_respect_the_currency_scale() {
        assert_eq!(amount("minAmount", "12.5", 2).unwrap(), 1250);
        assert!(message(amount("minAmount", "12.345", 2).unwrap_err()).contains("more decimal places"));
        assert!(message(amount("minAmount", "-1", 2).unwrap_err()).contains("negative"));
        assert!(message(amount("minAmount", "ten", 2).unwrap_err()).contains("not a decimal number"));
    }
}
