//! `GET /api/payments` (filters, cursor pagination, newest first) and
//! `GET /api/payments/{id}`; the POST routes of the same paths belong to
//! `ingest`.

mod cursor;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, TimeDelta, Utc};
use mongodb::bson::oid::ObjectId;
use paypulse_shared::buckets;
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::payment::Payment;
use paypulse_shared::query::{DEFAULT_LIMIT, PaymentListQuery};
use paypulse_shared::range::{MAX_RANGE_DAYS, TimePoint, TimeRange};
use paypulse_shared::wire::PaymentsPage;

use crate::access::Viewer;
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::params::{self, Params};
use crate::routes::{Needs, Route};
use crate::store::Store;
use crate::store::documents::Role;
use crate::store::documents::TenantDoc;
use crate::store::payments::Slice;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/payments", Needs::Key(Role::Viewer), list),
        Route::get("/payments/{id}", Needs::Key(Role::Viewer), one),
    ]
}

async fn list(
    State(store): State<Store>,
    State(clock): State<Clock>,
    Viewer(caller): Viewer,
    Params(query): Params<PaymentListQuery>,
) -> ApiResult<Json<PaymentsPage>> {
    let tenant = caller.tenant;
    let bounds = SliceBounds::resolve(&query.range, query.hour, &query.filter, &tenant, clock.now())?;
    if bounds.is_empty() {
        return Ok(Json(PaymentsPage {
            items: Vec::new(),
            next_cursor: None,
        }));
    }
    let slice = bounds.slice(&query.filter, tenant.scale());
    let after = query
        .cursor
        .as_deref()
        .map(|text| cursor::decode(text, query.sort))
        .transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    let (documents, next) = store.list_payments(&tenant.id, slice, query.sort, after, limit).await?;
    Ok(Json(PaymentsPage {
        items: documents.iter().map(|document| document.to_wire()).collect(),
        next_cursor: next.map(cursor::encode),
    }))
}

/// Where a list's or an export's slice lies: its range resolved in the
/// tenant's zone (either end may be open) and, with an hour of the day, the
/// parts of the range in that hour (`buckets::local_hour_intervals`).
pub struct SliceBounds {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    within: Option<Vec<(DateTime<Utc>, DateTime<Utc>)>>,
}

impl SliceBounds {
    /// Checks the filter's amounts against the tenant's currency and
    /// resolves `range` (and `hour`, which the query only takes with both
    /// ends) at `now`.
    pub fn resolve(
        range: &TimeRange,
        hour: Option<u8>,
        filter: &PaymentFilter,
        tenant: &TenantDoc,
        now: DateTime<Utc>,
    ) -> ApiResult<Self> {
        params::check_amounts(filter, tenant.scale())?;
        let tz = tenant.tz();
        let resolve = |point: Option<TimePoint>| point.map(|point| point.resolve(now, tz));
        let (from, to) = (resolve(range.from), resolve(range.to));
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(ApiError::invalid_parameter("'from' must be earlier than 'to'"));
        }
        let within = match (hour, from, to) {
            (Some(hour), Some(from), Some(to)) => {
                // The hour's intervals are found by walking the range a
                // quarter at a time: over centuries that is minutes of CPU
                // and a vector of a million intervals for one request.
                if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
                    return Err(ApiError::invalid_parameter(format!(
                        "'hour': the range may cover at most {MAX_RANGE_DAYS} days"
                    )));
                }
                Some(buckets::local_hour_intervals(from, to, hour, tz))
            }
            _ => None,
        };
        Ok(Self { from, to, within })
    }

    /// Whether the slice holds no time at all (an hour the range never shows).
    pub fn is_empty(&self) -> bool {
        self.within.as_ref().is_some_and(Vec::is_empty)
    }

    /// The store's slice of these bounds and `filter`.
    pub fn slice<'a>(&'a self, filter: &'a PaymentFilter, scale: u8) -> Slice<'a> {
        Slice {
            from: self.from,
            to: self.to,
            filter,
            within: self.within.as_deref(),
            scale,
        }
    }
}

async fn one(State(store): State<Store>, Viewer(caller): Viewer, Path(id): Path<String>) -> ApiResult<Json<Payment>> {
    let tenant = caller.tenant;
    let object_id = ObjectId::parse_str(&id)
        .map_err(|_| ApiError::invalid_parameter(format!("payment id must be 24 hexadecimal digits, got '{id}'")))?;
    // Another tenant's payment is "not found", not "forbidden": its existence
    // is not ours to reveal.
    let document = store.find_payment(&tenant.id, object_id).await?;
    let document = document.ok_or_else(|| ApiError::not_found(format!("no payment '{id}'")))?;
    Ok(Json(document.to_wire()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use paypulse_shared::query::from_query;

    fn tenant() -> TenantDoc {
        TenantDoc::sample("America/New_York", &["card"])
    }

    fn bounds(query: &str) -> ApiResult<SliceBounds> {
        let now = paypulse_shared::time::parse_utc("2026-11-24T10:00:00Z").unwrap();
        let query: PaymentListQuery = from_query(query).unwrap();
        SliceBounds::resolve(&query.range, query.hour, &query.filter, &tenant(), now)
    }

    #[test]
    fn an_hour_of_the_day_takes_a_range_of_at_most_400_days() {
        // Found writing the fuzz targets: an hour over a range of
        // centuries walked it a quarter hour at a time (over 10 s of CPU
        // for one request).
        let error = bounds("from=0001-01-01T00:00:00Z&to=now&hour=3").err().unwrap();
        assert!(
            error.to_string().contains("'hour'") && error.to_string().contains("400 days"),
            "{error}"
        );
        let within = bounds("from=now-399d&to=now&hour=3").unwrap().within.unwrap();
        assert_eq!(within.len(), 399, "one interval a day");
        assert!(
            bounds("from=0001-01-01T00:00:00Z&to=now").is_ok(),
            "without an hour, any range"
        );
    }
}
