//! CSV exports (SPEC §3): `GET /api/payments/export.csv`, the payment list's
//! slice and order, every row; and `GET /api/analytics/trends.csv`, a
//! trend's points. RFC 4180, header row first, timestamps with the offset of
//! `tz` (default the tenant's zone), amounts as exact decimals of the
//! currency's digits, empty cells for absent values.
//!
//! Payments stream from one MongoDB cursor, a batch of rows per body chunk,
//! so the server's memory does not grow with the row count. Browsers
//! download with a ticket (`?ticket=`); other clients send their key.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Offset, SecondsFormat, Utc};
use chrono_tz::Tz;
use futures::{StreamExt, stream};
use paypulse_shared::Amount;
use paypulse_shared::query::{ExportQuery, TrendsExportQuery};
use paypulse_shared::wire::TrendData;

use crate::access::Viewer;
use crate::analytics::{TrendWindow, trend_points};
use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::payments::SliceBounds;
use crate::routes::{Needs, Route};
use crate::store::Store;
use crate::store::documents::PaymentDoc;
use crate::store::documents::Role;

/// Rows written per body chunk.
const CHUNK_ROWS: usize = 500;

/// The payment export's columns, in order (SPEC §3).
pub const PAYMENT_COLUMNS: [&str; 10] = [
    "id",
    "externalId",
    "createdAt",
    "amount",
    "currency",
    "method",
    "status",
    "failureReason",
    "refundedAt",
    "updatedAt",
];

/// The trend export's columns.
pub const TREND_COLUMNS: [&str; 5] = ["timestamp", "amount", "count", "successRate", "anomaly"];

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/payments/export.csv", Needs::KeyOrUrl(Role::Viewer), payments),
        Route::get("/analytics/trends.csv", Needs::KeyOrUrl(Role::Viewer), trends),
    ]
}

async fn payments(
    State(store): State<Store>,
    State(clock): State<Clock>,
    Params(query): Params<ExportQuery>,
    Viewer(caller): Viewer,
) -> ApiResult<Response> {
    let tenant = caller.tenant;
    let tz = zone(query.tz.as_deref(), tenant.tz())?;
    let bounds = SliceBounds::resolve(&query.range, query.hour, &query.filter, &tenant, clock.now())?;
    let payments = if bounds.is_empty() {
        stream::empty().boxed()
    } else {
        let slice = bounds.slice(&query.filter, tenant.scale());
        store.stream_payments(&tenant.id, slice, query.sort).await?
    };
    let tenant_id = tenant.id.clone();
    let rows = payments.ready_chunks(CHUNK_ROWS).map(move |chunk| {
        let mut writer = csv::Writer::from_writer(Vec::with_capacity(chunk.len() * 160));
        for payment in chunk {
            let payment = payment.map_err(|error| {
                // The response has begun: all that is left is to break it off,
                // so the client sees a failed download, never a short file.
                tracing::error!(%error, tenant = %tenant_id, "export: reading payments");
                std::io::Error::other(error)
            })?;
            writer.write_record(payment_row(&payment, tz))?;
        }
        writer
            .into_inner()
            .map(Bytes::from)
            .map_err(|error| std::io::Error::other(error.to_string()))
    });
    let body = stream::once(async { Ok::<_, std::io::Error>(header(&PAYMENT_COLUMNS)) }).chain(rows);
    Ok(csv_response(
        &format!("payments-{}.csv", tenant.id),
        Body::from_stream(body),
    ))
}

async fn trends(
    State(store): State<Store>,
    State(clock): State<Clock>,
    Params(query): Params<TrendsExportQuery>,
    Viewer(caller): Viewer,
) -> ApiResult<Response> {
    let tenant = caller.tenant;
    let tz = zone(query.tz.as_deref(), tenant.tz())?;
    let window = TrendWindow::of(&query.trend, clock.window_end(), tenant.tz())?;
    let points = trend_points(&store, &tenant, &window).await?;
    let mut writer = csv::Writer::from_writer(header(&TREND_COLUMNS).to_vec());
    for point in &points {
        writer.write_record(trend_row(point, tz)).map_err(anyhow::Error::from)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| anyhow::anyhow!(error.to_string()))?;
    Ok(csv_response(
        &format!("trend-{}.csv", tenant.id),
        Body::from_stream(stream::once(async { Ok::<_, Infallible>(Bytes::from(bytes)) })),
    ))
}

/// The zone timestamps are written in: `tz` if given, else the tenant's.
fn zone(tz: Option<&str>, tenant: Tz) -> ApiResult<Tz> {
    match tz {
        None => Ok(tenant),
        Some(name) => name.parse().map_err(|_| {
            ApiError::invalid_parameter(format!(
                "'tz': unknown time zone '{name}' (expected an IANA name such as America/New_York or UTC)"
            ))
        }),
    }
}

fn header(columns: &[&str]) -> Bytes {
    let mut line = columns.join(",");
    line.push_str("\r\n");
    Bytes::from(line)
}

fn csv_response(filename: &str, body: Body) -> Response {
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        body,
    )
        .into_response()
}

/// An instant with the offset `tz` has at that instant (`-04:00`, `+00:00`).
/// RFC 3339 offsets are whole minutes: an instant of a zone's local mean
/// time (New York's until 1883 was -04:56:02) is written in UTC instead of
/// an offset cut to the minute, which would name another instant.
pub fn local_time(instant: DateTime<Utc>, tz: Tz) -> String {
    let local = instant.with_timezone(&tz);
    if local.offset().fix().local_minus_utc() % 60 != 0 {
        return instant.to_rfc3339_opts(SecondsFormat::AutoSi, false);
    }
    local.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// One payment as the export writes it.
pub fn payment_row(payment: &PaymentDoc, tz: Tz) -> [String; 10] {
    let wire = payment.to_wire();
    [
        wire.id,
        inert(wire.external_id),
        local_time(wire.created_at, tz),
        exact(wire.amount, &wire.currency),
        wire.currency,
        wire.method,
        wire.status.as_str().to_owned(),
        wire.failure_reason.map(inert).unwrap_or_default(),
        wire.refunded_at.map(|at| local_time(at, tz)).unwrap_or_default(),
        local_time(wire.updated_at, tz),
    ]
}

/// A sender's free text (`externalId`, `failureReason`) as a cell a
/// spreadsheet shows rather than runs: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return makes Excel, LibreOffice and Google Sheets read the cell
/// as a formula (`=HYPERLINK(...)` sending a finance user's click anywhere),
/// so such a cell gets a leading `'`, which spreadsheets hide (OWASP's CSV
/// injection advice). Every other column is the server's own text or a
/// number, and a negative amount cannot be stored, so those are left exact.
fn inert(text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// The amount with exactly its currency's digits (`12.30`; `1500` in yen).
fn exact(amount: Amount, currency: &str) -> String {
    paypulse_shared::currency::exponent(currency)
        .and_then(|scale| {
            amount
                .to_minor_units(scale)
                .ok()
                .map(|minor| Amount::from_minor(minor, scale))
        })
        .unwrap_or(amount)
        .to_string()
}

fn trend_row(point: &TrendData, tz: Tz) -> [String; 5] {
    [
        local_time(point.timestamp, tz),
        point.amount.to_string(),
        point.count.to_string(),
        point.success_rate.to_string(),
        point.anomaly.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, UTC};

    #[test]
    fn times_carry_the_zones_offset() {
        let instant = paypulse_shared::time::parse_utc("2026-11-01T05:30:00Z").unwrap();
        assert_eq!(local_time(instant, New_York), "2026-11-01T01:30:00-04:00");
        assert_eq!(local_time(instant, UTC), "2026-11-01T05:30:00+00:00");
        let later = instant + chrono::TimeDelta::hours(1);
        assert_eq!(
            local_time(later, New_York),
            "2026-11-01T01:30:00-05:00",
            "the second 01:30"
        );
    }

    #[test]
    fn an_offset_of_seconds_is_written_in_utc() {
        // Found by `cargo xtask fuzz export_row`: New York's local mean
        // time (-04:56:02) was written as -04:56, 2 s from the instant.
        let instant = paypulse_shared::time::parse_utc("1850-06-01T12:00:00Z").unwrap();
        let text = local_time(instant, New_York);
        assert_eq!(text, "1850-06-01T12:00:00+00:00");
        assert_eq!(DateTime::parse_from_rfc3339(&text).unwrap(), instant);
    }

    #[test]
    fn a_senders_text_that_a_spreadsheet_would_run_is_made_inert() {
        for formula in [
            "=HYPERLINK(\"http://x\",\"y\")",
            "+1+1",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            assert_eq!(inert(formula.to_owned()), format!("'{formula}"));
        }
        for plain in ["ord_1001", "a=b", "", "'quoted", "1-2"] {
            assert_eq!(inert(plain.to_owned()), plain);
        }
    }

    #[test]
    fn amounts_have_the_currencys_digits() {
        assert_eq!(exact(Amount::from_minor(1230, 2), "USD"), "12.30");
        assert_eq!(exact(Amount::parse("12.3").unwrap(), "USD"), "12.30");
        assert_eq!(exact(Amount::from_minor(1500, 0), "JPY"), "1500");
        assert_eq!(exact(Amount::from_minor(150_000, 2), "INR"), "1500.00");
    }
}
