//! Reading requests: a query extractor for the typed queries of
//! `paypulse_shared::query` whose refusal is our 400, a JSON body extractor
//! with our `{code, message}`, and the checks that need the tenant (its
//! zone for ranges, its currency's decimal places for amounts).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use paypulse_shared::Amount;
use paypulse_shared::error::ErrorCode;
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::query::{QueryParams, from_query};
use paypulse_shared::range::TimeRange;
use paypulse_shared::time::parse_utc;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A typed query (`paypulse_shared::query`), answering unknown, repeated or
/// malformed parameters with a 400 that names the parameter.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: QueryParams, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(from_query(parts.uri.query().unwrap_or_default())?))
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
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with 'Content-Type: application/json'",
            )),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::new(ErrorCode::PayloadTooLarge, rejection.body_text()))
            }
            Err(rejection) => Err(ApiError::new(ErrorCode::InvalidBody, rejection.body_text())),
        }
    }
}

/// The `cursor` of a list whose pages are cut by document id (the alerts,
/// the audit trail): the id of the last one seen.
pub fn id_cursor(cursor: Option<&str>) -> Result<Option<mongodb::bson::oid::ObjectId>, ApiError> {
    cursor
        .map(|text| {
            mongodb::bson::oid::ObjectId::parse_str(text)
                .map_err(|_| ApiError::invalid_parameter(format!("'cursor' is not one this API gave out: '{text}'")))
        })
        .transpose()
}

/// Parses the timestamp field `name`.
pub fn timestamp(name: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    parse_utc(value).map_err(|_| {
        ApiError::invalid_parameter(format!(
            "'{name}' must be an RFC 3339 timestamp such as 2026-11-24T10:15:00Z, got '{value}'"
        ))
    })
}

/// `[from, to)` of `range` at `now` in the tenant's zone `tz`; an absent
/// `from` is `default_span` before `to`.
pub fn range(
    range: &TimeRange,
    now: DateTime<Utc>,
    tz: Tz,
    default_span: TimeDelta,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    range
        .resolve(now, tz, default_span)
        .map_err(|error| ApiError::invalid_parameter(error.to_string()))
}

/// Refuses amount bounds with more decimal places than the tenant's
/// currency has (`minAmount=1.234` for dollars).
pub fn check_amounts(filter: &PaymentFilter, scale: u8) -> Result<(), ApiError> {
    for (name, bound) in [("minAmount", filter.min_amount), ("maxAmount", filter.max_amount)] {
        if let Some(amount) = bound {
            minor_units(name, amount, scale)?;
        }
    }
    Ok(())
}

/// `amount` in minor units of `scale` decimal places.
pub fn minor_units(name: &str, amount: Amount, scale: u8) -> Result<i64, ApiError> {
    amount
        .to_minor_units(scale)
        .map_err(|error| ApiError::invalid_parameter(format!("'{name}': {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use paypulse_shared::query::PaymentListQuery;

    #[test]
    fn amounts_respect_the_currency_scale() {
        let query: PaymentListQuery = from_query("minAmount=1.5&maxAmount=12.345").unwrap();
        assert_eq!(
            minor_units("minAmount", query.filter.min_amount.unwrap(), 2).unwrap(),
            150
        );
        let error = check_amounts(&query.filter, 2).unwrap_err().to_string();
        assert!(
            error.contains("'maxAmount'") && error.contains("decimal places"),
            "{error}"
        );
        assert!(check_amounts(&query.filter, 3).is_ok());
    }
}
