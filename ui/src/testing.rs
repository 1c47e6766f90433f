//! Helpers for the native unit tests.

use chrono::{DateTime, Utc};

/// An instant from RFC 3339 text.
pub fn at(text: &str) -> DateTime<Utc> {
    paypulse_shared::time::parse_utc(text).expect("an RFC 3339 instant")
}
