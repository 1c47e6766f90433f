//! Timestamps on the wire: RFC 3339 in UTC with a `Z` suffix, fractional
//! seconds only when there are any (`2026-11-24T10:15:00Z`).

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Formats an instant the way the wire contract writes it.
pub fn format_utc(instant: &DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A timestamp that is not RFC 3339, or names an instant outside the years
/// 0000 to 9999 in UTC.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadTimestamp {
    #[error("{0}")]
    Format(#[from] chrono::ParseError),
    #[error("the instant is outside the years 0000 to 9999 in UTC")]
    OutOfRange,
}

/// Parses an RFC 3339 timestamp with any offset into UTC. Only instants
/// that [`format_utc`] writes back as RFC 3339 are taken: RFC 3339 has
/// four-digit years, and `0000-01-01T00:30:00+01:00` is in year -1 in UTC.
pub fn parse_utc(text: &str) -> Result<DateTime<Utc>, BadTimestamp> {
    let instant = DateTime::parse_from_rfc3339(text)?.with_timezone(&Utc);
    if !(0..=9999).contains(&instant.year()) {
        return Err(BadTimestamp::OutOfRange);
    }
    Ok(instant)
}

/// `#[serde(with = "paypulse_shared::time::rfc3339")]` for `DateTime<Utc>`.
pub mod rfc3339 {
    use super::*;

    pub fn serialize<S: Serializer>(instant: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_utc(instant))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_utc(&text).map_err(serde::de::Error::custom)
    }
}

/// The same as [`rfc3339`] for `Option<DateTime<Utc>>`.
pub mod rfc3339_option {
    use super::*;

    pub fn serialize<S: Serializer>(instant: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => serializer.serialize_str(&format_utc(instant)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| parse_utc(&text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn writes_utc_with_z_and_no_empty_fraction() {
        let whole = Utc.with_ymd_and_hms(2026, 11, 24, 10, 15, 0).unwrap();
        assert_eq!(format_utc(&whole), "2026-11-24T10:15:00Z");
        let millis = whole + chrono::Duration::milliseconds(250);
        assert_eq!(format_utc(&millis), "2026-11-24T10:15:00.250Z");
    }

    #[test]
    fn reads_any_offset_into_utc() {
        let parsed = parse_utc("2026-11-24T15:45:00+05:30").unwrap();
        assert_eq!(format_utc(&parsed), "2026-11-24T10:15:00Z");
        assert!(parse_utc("2026-11-24 10:15").is_err());
        assert!(parse_utc("2026-11-24T10:15:00").is_err(), "an instant needs an offset");
    }

    #[test]
    fn takes_only_instants_it_can_write_back() {
        // Found writing the fuzz targets: an offset moved these out of
        // four-digit years in UTC, so a query or frame that read them wrote
        // text that no longer read back.
        for text in ["0000-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"] {
            assert_eq!(parse_utc(text), Err(BadTimestamp::OutOfRange), "{text}");
        }
        for text in ["0000-01-01T00:30:00Z", "9999-12-31T23:30:00+01:00"] {
            let instant = parse_utc(text).unwrap();
            assert_eq!(parse_utc(&format_utc(&instant)), Ok(instant), "{text}");
        }
    }
}
