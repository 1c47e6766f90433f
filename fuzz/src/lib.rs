//! What the fuzz targets share: reading the fuzzer's bytes as a few choices
//! (a time zone, a tenant, a "now") followed by the text under test.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mongodb::bson::DateTime as BsonDateTime;
use paypulse_server::store::documents::TenantDoc;

/// The fuzzer's bytes, read from the front.
#[derive(Debug)]
pub struct Bytes<'a>(pub &'a [u8]);

impl<'a> Bytes<'a> {
    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((first, rest)) => {
                self.0 = rest;
                *first
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Any IANA zone chrono-tz knows.
    pub fn zone(&mut self) -> Tz {
        let zones = chrono_tz::TZ_VARIANTS;
        zones[usize::from(self.u16()) % zones.len()]
    }

    /// An instant in whole milliseconds (as `Clock::now` gives) between 2001
    /// and 2137, where a server's clock may stand.
    pub fn now(&mut self) -> DateTime<Utc> {
        let seconds = 1_000_000_000 + i64::from(self.u32());
        let millis = i64::from(self.u16() % 1000);
        DateTime::from_timestamp_millis(seconds * 1000 + millis).expect("in chrono's range")
    }

    /// A tenant: one of the supported currencies (so 0, 2 or 3 decimal
    /// places), a zone, and a subset of the catalogue's methods.
    pub fn tenant(&mut self) -> TenantDoc {
        let currencies: Vec<&str> = paypulse_shared::currency::supported().collect();
        let currency = currencies[usize::from(self.byte()) % currencies.len()];
        let timezone = self.zone().name().to_owned();
        let mask = self.byte();
        let methods = paypulse_shared::catalogue::METHODS
            .iter()
            .enumerate()
            .filter(|(index, _)| mask & (1 << (index % 8)) != 0)
            .map(|(_, method)| method.id.to_owned())
            .collect();
        TenantDoc {
            id: "acme".into(),
            name: "Acme".into(),
            timezone,
            currency: currency.into(),
            methods,
            alert_rules: None,
            api_keys: Vec::new(),
            created_at: BsonDateTime::from_millis(0),
        }
    }

    /// The rest, as text (the server sees text: a query string, a body).
    pub fn rest_text(&self) -> String {
        String::from_utf8_lossy(self.0).into_owned()
    }
}
