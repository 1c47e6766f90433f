//! Query strings and time ranges: every typed query of the API read from
//! arbitrary text, then the checks that need the tenant (its zone for the
//! range, its currency's places for amounts) as the handlers make them.
//!
//! Asserts: no panic; a refusal names its parameter; what is read writes
//! itself back to the same value (`from_query(to_query(q)) == q`); a
//! resolved range is `from < to`, at most 400 days, with absent ends at
//! their defaults, instants kept and relative ends where they say; a trend
//! window's buckets are increasing, within the 2,000 limit and cover the
//! range; accepted amount bounds are exact non-negative minor units of the
//! tenant's currency with `min <= max`.

#![no_main]

use std::fmt::Debug;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use paypulse_fuzz::Bytes;
use paypulse_server::analytics::TrendWindow;
use paypulse_server::error::ApiError;
use paypulse_server::params;
use paypulse_server::payments::SliceBounds;
use paypulse_server::store::documents::TenantDoc;
use paypulse_shared::Amount;
use paypulse_shared::buckets::MAX_BUCKETS;
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::query::{
    AlertsQuery, ExportQuery, LiveQuery, MAX_LIMIT, MetricsQuery, PaymentListQuery, QueryParams, TrendsExportQuery,
    TrendsQuery, from_query, to_query,
};
use paypulse_shared::range::{MAX_RANGE_DAYS, Relative, TimePoint, TimeRange, Unit};

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let endpoint = bytes.byte();
    let tenant = bytes.tenant();
    let now = bytes.now();
    let text = bytes.rest_text();
    match endpoint % 7 {
        0 => {
            if let Some(query) = read::<PaymentListQuery>(&text) {
                assert!(query.limit.is_none_or(|limit| (1..=MAX_LIMIT).contains(&limit)));
                slice(&query.range, query.hour, &query.filter, &tenant, now);
            }
        }
        1 => {
            if let Some(query) = read::<ExportQuery>(&text) {
                slice(&query.range, query.hour, &query.filter, &tenant, now);
                if let Some(name) = &query.tz {
                    let _ = name.parse::<Tz>();
                }
            }
        }
        2 => {
            if let Some(query) = read::<MetricsQuery>(&text) {
                range(&query.range, now, tenant.tz(), TimeDelta::hours(24));
            }
        }
        3 => {
            if let Some(query) = read::<TrendsQuery>(&text) {
                trend(&query, now, tenant.tz());
            }
        }
        4 => {
            if let Some(query) = read::<TrendsExportQuery>(&text) {
                trend(&query.trend, now, tenant.tz());
            }
        }
        5 => {
            if let Some(query) = read::<AlertsQuery>(&text) {
                assert!(query.limit.is_none_or(|limit| (1..=MAX_LIMIT).contains(&limit)));
            }
        }
        _ => {
            if let Some(query) = read::<LiveQuery>(&text) {
                amounts(&query.filter, tenant.scale());
            }
        }
    }
});

/// Reads `T`; a refusal names its parameter, an acceptance writes itself
/// back to the same value.
fn read<T: QueryParams + PartialEq + Debug>(text: &str) -> Option<T> {
    match from_query::<T>(text) {
        Err(error) => {
            let quoted = format!("'{}'", error.parameter);
            assert!(error.message.contains(&quoted), "{error:?}");
            None
        }
        Ok(query) => {
            let written = to_query(&query);
            let again = from_query::<T>(&written);
            assert_eq!(again.as_ref(), Ok(&query), "{text:?} was written back as {written:?}");
            Some(query)
        }
    }
}

/// A list's or an export's slice, as `SliceBounds::resolve` takes it.
fn slice(range: &TimeRange, hour: Option<u8>, filter: &PaymentFilter, tenant: &TenantDoc, now: DateTime<Utc>) {
    assert!(hour.is_none_or(|hour| hour < 24));
    if let (Some(minimum), Some(maximum)) = (filter.min_amount, filter.max_amount) {
        assert!(minimum <= maximum);
    }
    let amounts_ok = amounts(filter, tenant.scale());
    let tz = tenant.tz();
    for point in [range.from, range.to].into_iter().flatten() {
        point_resolves(point, now, tz);
    }
    let bounds = SliceBounds::resolve(range, hour, filter, tenant, now);
    if !amounts_ok {
        assert!(bounds.is_err(), "amounts the currency cannot hold were let through");
    }
    if let Err(error) = bounds {
        client_error(&error);
    }
}

/// Checks amount bounds against `scale`; when accepted, each is exactly
/// its minor units, never negative.
fn amounts(filter: &PaymentFilter, scale: u8) -> bool {
    let checked = params::check_amounts(filter, scale);
    if let Err(error) = &checked {
        client_error(error);
        return false;
    }
    let mut minors = Vec::new();
    for (name, bound) in [("minAmount", filter.min_amount), ("maxAmount", filter.max_amount)] {
        if let Some(amount) = bound {
            let minor = params::minor_units(name, amount, scale).expect("checked above");
            assert!(minor >= 0, "{name} {amount} is {minor}");
            assert_eq!(Amount::from_minor(minor, scale), amount, "{name} is not exact");
            minors.push(minor);
        }
    }
    if let [minimum, maximum] = minors[..] {
        assert!(minimum <= maximum);
    }
    true
}

/// `[from, to)` as `params::range` resolves it for analytics.
fn range(
    range: &TimeRange,
    now: DateTime<Utc>,
    tz: Tz,
    default_span: TimeDelta,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    for point in [range.from, range.to].into_iter().flatten() {
        point_resolves(point, now, tz);
    }
    match params::range(range, now, tz, default_span) {
        Err(error) => {
            client_error(&error);
            None
        }
        Ok((from, to)) => {
            assert!(from < to, "{from} {to}");
            assert!(to - from <= TimeDelta::days(MAX_RANGE_DAYS), "{from} {to}");
            match range.to {
                None => assert_eq!(to, now),
                Some(point) => assert_eq!(to, point.resolve(now, tz)),
            }
            match range.from {
                None => assert_eq!(from, to - default_span),
                Some(point) => assert_eq!(from, point.resolve(now, tz)),
            }
            Some((from, to))
        }
    }
}

/// One end on its own: an instant is itself; clock units move `now` by
/// exactly that much; rounding never moves an instant later.
fn point_resolves(point: TimePoint, now: DateTime<Utc>, tz: Tz) {
    let resolved = point.resolve(now, tz);
    match point {
        TimePoint::Instant(instant) => assert_eq!(resolved, instant),
        TimePoint::Relative(relative) => {
            let unrounded = Relative {
                round: None,
                ..relative
            }
            .resolve(now, tz);
            let seconds = match relative.unit {
                Unit::Second => Some(1),
                Unit::Minute => Some(60),
                Unit::Hour => Some(3600),
                _ => None,
            };
            if let Some(seconds) = seconds {
                assert_eq!(
                    unrounded - now,
                    TimeDelta::seconds(relative.amount * seconds),
                    "{point}"
                );
            }
            if relative.round.is_some() {
                assert!(
                    resolved <= unrounded,
                    "{point} at {now} in {tz}: {resolved} after {unrounded}"
                );
                assert!(unrounded - resolved <= TimeDelta::days(367), "{point} at {now} in {tz}");
            }
        }
    }
}

/// A trend's window as `TrendWindow::of` resolves it.
fn trend(query: &TrendsQuery, now: DateTime<Utc>, tz: Tz) {
    if query.range != TimeRange::default() {
        let span = match query.period {
            None | Some(paypulse_shared::wire::Period::Day) => TimeDelta::hours(24),
            Some(paypulse_shared::wire::Period::Week) => TimeDelta::days(7),
            Some(paypulse_shared::wire::Period::Month) => TimeDelta::days(30),
        };
        range(&query.range, now, tz, span);
    }
    match TrendWindow::of(query, now, tz) {
        Err(error) => client_error(&error),
        Ok(window) => {
            assert!(window.from < window.to);
            assert!(!window.starts.is_empty() && window.starts.len() <= MAX_BUCKETS);
            assert!(window.starts.windows(2).all(|pair| pair[0] < pair[1]));
            assert!(window.starts[0] <= window.from, "the first bucket holds 'from'");
            assert!(*window.starts.last().expect("not empty") < window.to);
        }
    }
}

/// A refusal is the client's (400), never a 500.
fn client_error(error: &ApiError) {
    match error {
        ApiError::Client { code, .. } => assert_eq!(code.status(), 400, "{error:?}"),
        other => panic!("not a client error: {other:?}"),
    }
}
