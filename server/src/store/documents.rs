//! The stored shape of each collection (SPEC §2) and its conversion to the
//! wire types. Money is `amountMinor` (an i64 of the currency's minor units).

use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, DateTime as BsonDateTime, Document, doc};
use paypulse_shared::payment::{Payment, PaymentStatus};
use paypulse_shared::{Amount, currency};
use serde::{Deserialize, Serialize};

/// A document of `payments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub tenant_id: String,
    pub external_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub method: String,
    pub status: PaymentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refunded_at: Option<BsonDateTime>,
    pub created_at: BsonDateTime,
    pub updated_at: BsonDateTime,
}

impl PaymentDoc {
    /// The wire form, amount in major units of the payment's currency.
    pub fn to_wire(&self) -> Payment {
        let scale = currency::exponent(&self.currency).unwrap_or(2);
        Payment {
            id: self.id.to_hex(),
            tenant_id: self.tenant_id.clone(),
            external_id: self.external_id.clone(),
            amount: Amount::from_minor(self.amount_minor, scale),
            currency: self.currency.clone(),
            method: self.method.clone(),
            status: self.status,
            failure_reason: self.failure_reason.clone(),
            refunded_at: self.refunded_at.map(to_chrono),
            created_at: to_chrono(self.created_at),
            updated_at: to_chrono(self.updated_at),
        }
    }
}

/// Who may do what with a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read analytics and payments, watch the live feed.
    Viewer,
    /// Write payments and refunds.
    Ingest,
    /// A viewer that may also change alert rules (and, later, API keys).
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Viewer, Self::Ingest, Self::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Ingest => "ingest",
            Self::Admin => "admin",
        }
    }

    /// Whether a key of this role may do what `needed` may: its own rights,
    /// and an admin's include a viewer's (SPEC §4). Ingest keys only write.
    pub const fn grants(self, needed: Self) -> bool {
        matches!(
            (self, needed),
            (Self::Viewer, Self::Viewer) | (Self::Ingest, Self::Ingest) | (Self::Admin, Self::Admin | Self::Viewer)
        )
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }
}

/// An API key as stored: only its SHA-256, never the key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDoc {
    /// Public id of the key, safe to show and log.
    pub id: String,
    /// Hex SHA-256 of the key.
    pub hash: String,
    pub role: Role,
    pub label: String,
    pub created_at: BsonDateTime,
}

/// A document of `tenants`; `_id` is the tenant's slug.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    /// IANA time-zone name, e.g. `Asia/Kolkata`.
    pub timezone: String,
    /// ISO 4217 code of every amount of this tenant.
    pub currency: String,
    /// Enabled payment methods (ids of the catalogue).
    pub methods: Vec<String>,
    /// The tenant's alert rules; absent until an admin first changes them,
    /// which means `shared::alerts::rules::defaults()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_rules: Option<Vec<paypulse_shared::alerts::AlertRule>>,
    #[serde(default)]
    pub api_keys: Vec<ApiKeyDoc>,
    pub created_at: BsonDateTime,
}

impl TenantDoc {
    /// The tenant's zone; validated on write, so a bad value means a broken
    /// document and falls back to UTC rather than failing every request.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// Decimal places of the tenant's currency.
    pub fn scale(&self) -> u8 {
        currency::exponent(&self.currency).unwrap_or(2)
    }
}

#[cfg(test)]
impl TenantDoc {
    /// `acme`, in USD, in `timezone`, taking `methods`, with no keys and
    /// the default rules: the tenant the unit tests build on.
    pub fn sample(timezone: &str, methods: &[&str]) -> Self {
        Self {
            id: "acme".into(),
            name: "Acme".into(),
            timezone: timezone.into(),
            currency: "USD".into(),
            methods: methods.iter().map(|&method| method.to_owned()).collect(),
            alert_rules: None,
            api_keys: Vec::new(),
            created_at: BsonDateTime::now(),
        }
    }
}

/// A document of `methods`, the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodDoc {
    #[serde(rename = "_id")]
    pub id: String,
    pub display_name: String,
    pub colour: String,
}

pub fn to_chrono(instant: BsonDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(instant.timestamp_millis()).unwrap_or_default()
}

pub fn to_bson(instant: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(instant.timestamp_millis())
}

/// The filter of a `createdAt` (or any date field) in `[from, to)`.
///
/// Stored dates are whole milliseconds, so the bounds are the first whole
/// millisecond at or after each end (a bound with a finer fraction must not
/// take in the millisecond it falls inside). The inclusive lower bound is
/// then written as an exclusive one a millisecond below: SecantusDB, our
/// development database, drops the boundary value of `$gte` on a descending
/// index (and of `$lte` on an ascending one), while `$gt` and `$lt` it
/// answers as MongoDB answers all four. Use these bounds in every range.
pub fn in_range(from: DateTime<Utc>, to: DateTime<Utc>) -> Document {
    doc! { "$gt": not_before(from), "$lt": before(to) }
}

/// The `$gt` bound of "at or after `from`".
pub fn not_before(from: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(ceil_millis(from) - 1)
}

/// The `$lt` bound of "before `to`".
pub fn before(to: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(ceil_millis(to))
}

fn ceil_millis(instant: DateTime<Utc>) -> i64 {
    let millis = instant.timestamp_millis();
    if instant.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        millis
    } else {
        millis + 1
    }
}

/// Reads a number of any BSON numeric type as i64 (sums come back as int32
/// or int64 depending on their size).
pub fn read_i64(document: &Document, key: &str) -> i64 {
    match document.get(key) {
        Some(bson::Bson::Int32(value)) => i64::from(*value),
        Some(bson::Bson::Int64(value)) => *value,
        Some(bson::Bson::Double(value)) => *value as i64,
        _ => 0,
    }
}
