//! CSV export rows: a stored payment with arbitrary field values (any text,
//! any amount and instant BSON can hold, known and unknown currencies)
//! written in any zone by `export::payment_row` and the `csv` writer the
//! export uses.
//!
//! Asserts: no panic; the header and the row read back through a CSV reader
//! as exactly the ten columns and the ten cells written (quoting holds
//! whatever the text: commas, quotes, CR/LF, NUL); the id is the
//! ObjectId's 24 hex digits; each timestamp reads back as the stored
//! instant with the zone's offset at that instant; the amount reads back as
//! the stored minor units, with exactly the currency's decimal places.

#![no_main]

use chrono::{DateTime, Offset, TimeZone};
use libfuzzer_sys::fuzz_target;
use mongodb::bson::DateTime as BsonDateTime;
use mongodb::bson::oid::ObjectId;
use paypulse_fuzz::Bytes;
use paypulse_server::export::{PAYMENT_COLUMNS, payment_row};
use paypulse_server::store::documents::{PaymentDoc, to_chrono};
use paypulse_shared::Amount;
use paypulse_shared::money::MAX_MINOR;
use paypulse_shared::payment::PaymentStatus;

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let tz = bytes.zone();
    let mut id = [0u8; 12];
    id.iter_mut().for_each(|byte| *byte = bytes.byte());
    let amount_minor = i64::from_le_bytes(std::array::from_fn(|_| bytes.byte()));
    let choices = bytes.byte();
    let mut millis = || i64::from_le_bytes(std::array::from_fn(|_| bytes.byte()));
    let (created, updated, refunded) = (millis(), millis(), millis());
    let text = bytes.rest_text();
    // Free text fields, split on the unit separator.
    let mut fields = text.split('\u{1f}').map(str::to_owned);
    let external_id = fields.next().unwrap_or_default();
    let method = fields.next().unwrap_or_default();
    let failure_reason = fields.next();
    let currencies: Vec<&str> = paypulse_shared::currency::supported().collect();
    let currency = match fields.next() {
        Some(code) if choices & 0x80 != 0 => code,
        _ => currencies[usize::from(choices & 0x1f) % currencies.len()].to_owned(),
    };
    let payment = PaymentDoc {
        id: ObjectId::from_bytes(id),
        tenant_id: "acme".into(),
        external_id,
        amount_minor,
        currency,
        method,
        status: PaymentStatus::ALL[usize::from(choices >> 5 & 0b11) % 3],
        failure_reason,
        refunded_at: (choices & 0x40 != 0).then(|| BsonDateTime::from_millis(refunded)),
        created_at: BsonDateTime::from_millis(created),
        updated_at: BsonDateTime::from_millis(updated),
    };

    let row = payment_row(&payment, tz);
    let mut file = PAYMENT_COLUMNS.join(",").into_bytes();
    file.extend_from_slice(b"\r\n");
    let mut writer = csv::Writer::from_writer(file);
    writer.write_record(&row).expect("writing to memory");
    let file = writer.into_inner().expect("writing to memory");

    let mut reader = csv::ReaderBuilder::new().from_reader(file.as_slice());
    let header: Vec<String> = reader.headers().expect("a header").iter().map(str::to_owned).collect();
    assert_eq!(header, PAYMENT_COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("reads back");
    assert_eq!(records.len(), 1, "{file:?}");
    let cells: Vec<&str> = records[0].iter().collect();
    assert_eq!(cells, row.iter().map(String::as_str).collect::<Vec<_>>(), "{file:?}");

    let cell = |column: &str| {
        cells[PAYMENT_COLUMNS
            .iter()
            .position(|name| *name == column)
            .expect("a column")]
    };
    assert_eq!(cell("id"), payment.id.to_hex());
    assert_sender_text(cell("externalId"), &payment.external_id);
    assert_eq!(cell("status"), payment.status.as_str());
    assert_sender_text(cell("failureReason"), payment.failure_reason.as_deref().unwrap_or(""));
    let instant = |column: &str, stored: BsonDateTime| {
        let expected = to_chrono(stored);
        let text = cell(column);
        // RFC 3339 has four-digit years; chrono writes others with a sign.
        if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
            assert_eq!(parsed, expected, "{column} {text}");
            let offset = tz.offset_from_utc_datetime(&expected.naive_utc()).fix();
            // RFC 3339 offsets are whole minutes: local mean time is in UTC.
            let written = if offset.local_minus_utc() % 60 == 0 {
                offset
            } else {
                chrono::FixedOffset::east_opt(0).expect("UTC")
            };
            assert_eq!(*parsed.offset(), written, "{column} {text} in {tz}");
        } else {
            assert!(
                !(0..=9999).contains(&chrono::Datelike::year(&expected.with_timezone(&tz))),
                "{column} {text} does not read back"
            );
        }
    };
    instant("createdAt", payment.created_at);
    instant("updatedAt", payment.updated_at);
    match payment.refunded_at {
        Some(at) => instant("refundedAt", at),
        None => assert_eq!(cell("refundedAt"), ""),
    }
    let scale = paypulse_shared::currency::exponent(&payment.currency).unwrap_or(2);
    let expected = Amount::from_minor(payment.amount_minor, scale);
    assert_eq!(cell("amount"), expected.to_string());
    if payment.amount_minor.unsigned_abs() <= MAX_MINOR.unsigned_abs() {
        let amount = Amount::parse(cell("amount")).expect("the amount reads back");
        assert_eq!(amount, expected, "{}", cell("amount"));
    }
    let places = cell("amount").split_once('.').map_or(0, |(_, fraction)| fraction.len());
    assert_eq!(places, usize::from(scale), "{}", cell("amount"));
});

/// A sender's text reads back as stored, with a leading `'` exactly when a
/// spreadsheet would otherwise run it as a formula.
fn assert_sender_text(cell: &str, stored: &str) {
    if stored.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        assert_eq!(cell, format!("'{stored}"));
    } else {
        assert_eq!(cell, stored);
    }
}
