//! Wall-clock time in the tenant's zone, from the browser's own `Intl`
//! tables (the same ones the chart's labels use), so the dashboard ships no
//! time-zone database: the offset of a zone at an instant, an instant's
//! wall clock, and the instant a wall-clock time names (a time skipped by a
//! DST change moves forward, a repeated one takes its first occurrence).
//!
//! The arithmetic takes the offset as a function and is tested natively; only
//! [`offset_at`] asks the browser.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

/// The wall clock of `instant` at `offset_seconds` east of UTC.
pub fn wall_clock(instant: DateTime<Utc>, offset_seconds: i64) -> NaiveDateTime {
    instant.naive_utc() + TimeDelta::seconds(offset_seconds)
}

/// The instant whose wall clock reads `local` in a zone whose offset (seconds
/// east of UTC) at an instant `offset_at` gives. A local time that does not
/// exist (skipped by a DST change) is read after the change, as if the
/// clock had not been moved (02:30 becomes 03:30); one that occurs twice is
/// its first occurrence.
pub fn instant_of(local: NaiveDateTime, offset_at: impl Fn(DateTime<Utc>) -> i64) -> DateTime<Utc> {
    let as_utc = local.and_utc();
    // The zone's offsets a day either side: zones change offset months
    // apart, so these are the offsets before and after any change near
    // `local` (the same one, most days).
    let before = offset_at(as_utc - TimeDelta::days(1));
    let after = offset_at(as_utc + TimeDelta::days(1));
    [before, after]
        .into_iter()
        .map(|offset| as_utc - TimeDelta::seconds(offset))
        .filter(|instant| wall_clock(*instant, offset_at(*instant)) == local)
        .min()
        // In a gap no instant reads `local`: the clock read before the
        // change names the instant after it.
        .unwrap_or(as_utc - TimeDelta::seconds(before))
}

/// Seconds east of UTC of `zone` at `instant`, from the browser's tables;
/// `None` when the browser does not know the zone.
pub fn offset_at(instant: DateTime<Utc>, zone: &str) -> Option<i64> {
    let millis = instant.timestamp_millis() as f64;
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis));
    let options = js_sys::Object::new();
    for (key, value) in [
        ("timeZone", zone),
        ("hourCycle", "h23"),
        ("year", "numeric"),
        ("month", "numeric"),
        ("day", "numeric"),
        ("hour", "numeric"),
        ("minute", "numeric"),
        ("second", "numeric"),
    ] {
        js_sys::Reflect::set(&options, &key.into(), &value.into()).ok()?;
    }
    let locales = js_sys::Array::of1(&"en-US".into());
    // An unknown zone throws a RangeError, which `catch` turns into Err.
    let format = js_sys::Intl::DateTimeFormat::new(&locales, &options);
    let parts = format.format_to_parts(&date);
    let mut fields = [0_i64; 6];
    for part in parts.iter() {
        let kind = js_sys::Reflect::get(&part, &"type".into()).ok()?.as_string()?;
        let value = js_sys::Reflect::get(&part, &"value".into()).ok()?.as_string()?;
        let slot = match kind.as_str() {
            "year" => 0,
            "month" => 1,
            "day" => 2,
            "hour" => 3,
            "minute" => 4,
            "second" => 5,
            _ => continue,
        };
        fields[slot] = value.parse().ok()?;
    }
    let date = chrono::NaiveDate::from_ymd_opt(fields[0] as i32, fields[1] as u32, fields[2] as u32)?;
    let local = date.and_hms_opt(fields[3] as u32 % 24, fields[4] as u32, fields[5] as u32)?;
    // Whole seconds: the instant's milliseconds are not on the wall clock.
    let whole = DateTime::from_timestamp(instant.timestamp(), 0)?;
    Some((local - whole.naive_utc()).num_seconds())
}

/// The wall clock of `instant` in `zone` (UTC when the zone is unknown).
pub fn local_of(instant: DateTime<Utc>, zone: &str) -> NaiveDateTime {
    wall_clock(instant, offset_at(instant, zone).unwrap_or(0))
}

/// The instant `local` names in `zone` (read as UTC when the zone is unknown).
pub fn instant_in(local: NaiveDateTime, zone: &str) -> DateTime<Utc> {
    instant_of(local, |instant| offset_at(instant, zone).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::at;

    /// New York in 2026: EDT (−4 h) from 8 March 07:00 UTC to 1 November
    /// 06:00 UTC, EST (−5 h) otherwise.
    fn new_york(instant: DateTime<Utc>) -> i64 {
        if instant >= at("2026-03-08T07:00:00Z") && instant < at("2026-11-01T06:00:00Z") {
            -4 * 3600
        } else {
            -5 * 3600
        }
    }

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").unwrap()
    }

    #[test]
    fn wall_clock_times_name_their_instant() {
        assert_eq!(
            instant_of(local("2026-11-24T14:00"), new_york),
            at("2026-11-24T19:00:00Z")
        );
        assert_eq!(
            instant_of(local("2026-07-01T09:30"), new_york),
            at("2026-07-01T13:30:00Z")
        );
        let kolkata = |_| 19_800;
        assert_eq!(
            instant_of(local("2026-11-25T00:00"), kolkata),
            at("2026-11-24T18:30:00Z")
        );
        assert_eq!(
            wall_clock(at("2026-11-24T18:30:00Z"), 19_800),
            local("2026-11-25T00:00")
        );
    }

    #[test]
    fn dst_changes_skip_forward_and_take_the_first_of_two() {
        // 02:30 on 8 March does not exist in New York: read as 03:30 EDT.
        assert_eq!(
            instant_of(local("2026-03-08T02:30"), new_york),
            at("2026-03-08T07:30:00Z")
        );
        // 01:30 on 1 November happens twice: the first, in EDT.
        assert_eq!(
            instant_of(local("2026-11-01T01:30"), new_york),
            at("2026-11-01T05:30:00Z")
        );
        assert_eq!(
            instant_of(local("2026-11-01T02:30"), new_york),
            at("2026-11-01T07:30:00Z")
        );
        assert_eq!(
            instant_of(local("2026-11-01T00:30"), new_york),
            at("2026-11-01T04:30:00Z")
        );
    }
}
