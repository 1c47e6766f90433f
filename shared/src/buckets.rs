//! Trend buckets aligned to a tenant's local clock.
//!
//! A bucket starts where the tenant's wall clock shows a whole hour, a
//! multiple of six hours, or midnight. Buckets are found by walking backwards
//! (`floor(start - 1ns)` is the previous bucket's start), which stays correct
//! across DST changes where a local day lasts 23 or 25 hours and a local hour
//! happens twice.

use chrono::{DateTime, LocalResult, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::wire::{Bucket, Period};

/// The most buckets one trend request may ask for.
pub const MAX_BUCKETS: usize = 2_000;

/// A range that would need more than [`MAX_BUCKETS`] buckets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the range needs more than {MAX_BUCKETS} buckets; choose a shorter range or a longer period")]
pub struct TooManyBuckets;

/// The start of the bucket that holds `instant`.
pub fn floor_local(instant: DateTime<Utc>, unit: Bucket, tz: Tz) -> DateTime<Utc> {
    let local = instant.with_timezone(&tz).naive_local();
    let (hour, minute) = match unit {
        Bucket::Minute => (local.hour(), local.minute()),
        Bucket::FiveMinutes => (local.hour(), local.minute() - local.minute() % 5),
        Bucket::FifteenMinutes => (local.hour(), local.minute() - local.minute() % 15),
        Bucket::Hour => (local.hour(), 0),
        Bucket::SixHours => (local.hour() - local.hour() % 6, 0),
        Bucket::Day => (0, 0),
    };
    let truncated = local
        .date()
        .and_time(NaiveTime::from_hms_opt(hour, minute, 0).expect("valid time"));
    resolve_local(truncated, instant, tz)
}

/// The UTC instant of the wall-clock time `local`, choosing the occurrence
/// not after `not_after` when the clock shows it twice, and the end of the gap
/// when the clock skips it.
pub(crate) fn resolve_local(local: NaiveDateTime, not_after: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let mut candidate = local;
    // A gap lasts at most a day (Samoa skipped 30 December 2011); quarter-hour
    // steps find its end because every offset is a multiple of 15 minutes.
    for _ in 0..=(4 * 25) {
        match tz.from_local_datetime(&candidate) {
            LocalResult::Single(found) => return found.with_timezone(&Utc),
            LocalResult::Ambiguous(first, second) => {
                let (first, second) = (first.with_timezone(&Utc), second.with_timezone(&Utc));
                let (earlier, later) = if first <= second {
                    (first, second)
                } else {
                    (second, first)
                };
                return if later <= not_after { later } else { earlier };
            }
            LocalResult::None => candidate += TimeDelta::minutes(15),
        }
    }
    not_after
}

/// Starts of the buckets that cover `[from, to)`, oldest first.
pub fn bucket_starts(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    unit: Bucket,
    tz: Tz,
) -> Result<Vec<DateTime<Utc>>, TooManyBuckets> {
    if to <= from {
        return Ok(Vec::new());
    }
    let mut starts = Vec::new();
    let mut start = floor_local(to - TimeDelta::nanoseconds(1), unit, tz);
    loop {
        if starts.len() == MAX_BUCKETS {
            return Err(TooManyBuckets);
        }
        starts.push(start);
        if start <= from {
            break;
        }
        start = floor_local(start - TimeDelta::nanoseconds(1), unit, tz);
    }
    starts.reverse();
    Ok(starts)
}

/// The default window of a period ending at `now`: as many whole buckets as
/// the period has points, the last one being the bucket `now` is in.
pub fn default_window(period: Period, now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let unit = Bucket::from(period);
    let mut start = floor_local(now - TimeDelta::nanoseconds(1), unit, tz);
    for _ in 1..period.default_points() {
        start = floor_local(start - TimeDelta::nanoseconds(1), unit, tz);
    }
    (start, now)
}

/// The parts of `[from, to)` whose wall-clock time in `tz` lies in hour
/// `hour` of the day (one per day; two on a day when the clock shows that
/// hour twice, none when it skips it), oldest first: the instants a metrics
/// response's `hourlyCounts[hour]` counts.
pub fn local_hour_intervals(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    hour: u8,
    tz: Tz,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    // Every offset in use is a multiple of 15 minutes, so a local hour
    // starts and ends on a UTC quarter hour: walking quarters finds them.
    let quarter = TimeDelta::minutes(15);
    let mut intervals: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    let mut step = crate::stats::cell_start(from);
    while step < to {
        let next = step + quarter;
        if step.with_timezone(&tz).hour() == u32::from(hour) {
            let (start, end) = (step.max(from), next.min(to));
            match intervals.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => intervals.push((start, end)),
            }
        }
        step = next;
    }
    intervals
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Kolkata, UTC};

    fn utc(text: &str) -> DateTime<Utc> {
        crate::time::parse_utc(text).unwrap()
    }

    fn formatted(starts: &[DateTime<Utc>]) -> Vec<String> {
        starts.iter().map(crate::time::format_utc).collect()
    }

    #[test]
    fn an_hour_of_the_day_on_every_day_of_a_range() {
        let hours = local_hour_intervals(utc("2026-11-23T10:40:00Z"), utc("2026-11-25T10:40:00Z"), 16, Kolkata);
        let shown: Vec<(String, String)> = hours
            .iter()
            .map(|(from, to)| (crate::time::format_utc(from), crate::time::format_utc(to)))
            .collect();
        assert_eq!(
            shown,
            [
                ("2026-11-23T10:40:00Z".to_owned(), "2026-11-23T11:30:00Z".to_owned()),
                ("2026-11-24T10:30:00Z".to_owned(), "2026-11-24T11:30:00Z".to_owned()),
                ("2026-11-25T10:30:00Z".to_owned(), "2026-11-25T10:40:00Z".to_owned()),
            ],
            "16:00 IST is 10:30 UTC; the range's ends cut the first and last"
        );
        // 1 November 2026 in New York shows 01:00–02:00 twice.
        let twice = local_hour_intervals(utc("2026-11-01T00:00:00Z"), utc("2026-11-02T00:00:00Z"), 1, New_York);
        assert_eq!(twice, [(utc("2026-11-01T05:00:00Z"), utc("2026-11-01T07:00:00Z"))]);
        // 8 March 2026 skips 02:00–03:00.
        let skipped = local_hour_intervals(utc("2026-03-08T00:00:00Z"), utc("2026-03-09T00:00:00Z"), 2, New_York);
        assert!(skipped.is_empty(), "{skipped:?}");
    }

    #[test]
    fn kolkata_hours_start_at_half_past_utc() {
        let start = floor_local(utc("2026-11-24T10:15:00Z"), Bucket::Hour, Kolkata);
        assert_eq!(start, utc("2026-11-24T09:30:00Z"), "15:45 IST floors to 15:00 IST");
        let day = floor_local(utc("2026-11-24T10:15:00Z"), Bucket::Day, Kolkata);
        assert_eq!(
            day,
            utc("2026-11-23T18:30:00Z"),
            "midnight IST is 18:30 UTC the day before"
        );
    }

    #[test]
    fn day_window_has_24_hourly_buckets_ending_with_the_current_one() {
        let (from, to) = default_window(Period::Day, utc("2026-11-24T10:15:00Z"), Kolkata);
        let starts = bucket_starts(from, to, Bucket::Hour, Kolkata).unwrap();
        assert_eq!(starts.len(), 24);
        assert_eq!(starts[23], utc("2026-11-24T09:30:00Z"));
        assert_eq!(starts[0], utc("2026-11-23T10:30:00Z"));
    }

    #[test]
    fn windows_have_the_contract_sizes_in_every_zone() {
        let now = utc("2026-11-01T12:34:56Z");
        for tz in [UTC, New_York, Kolkata] {
            for period in Period::ALL {
                let (from, to) = default_window(period, now, tz);
                let starts = bucket_starts(from, to, period.into(), tz).unwrap();
                assert_eq!(starts.len(), period.default_points(), "{period} in {tz}");
                assert!(starts.windows(2).all(|pair| pair[0] < pair[1]));
            }
        }
    }

    #[test]
    fn new_york_fall_back_day_has_25_hours_and_two_one_oclocks() {
        // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST.
        let from = utc("2026-11-01T04:00:00Z");
        let to = utc("2026-11-02T05:00:00Z");
        let hours = bucket_starts(from, to, Bucket::Hour, New_York).unwrap();
        assert_eq!(hours.len(), 25);
        assert_eq!(
            formatted(&hours[1..4]),
            ["2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"],
            "01:00 EDT, 01:00 EST and 02:00 EST are three distinct buckets"
        );
        let days = bucket_starts(from, to, Bucket::Day, New_York).unwrap();
        assert_eq!(formatted(&days), ["2026-11-01T04:00:00Z"]);
        let quarters = bucket_starts(from, to, Bucket::SixHours, New_York).unwrap();
        assert_eq!(
            formatted(&quarters),
            [
                "2026-11-01T04:00:00Z",
                "2026-11-01T11:00:00Z",
                "2026-11-01T17:00:00Z",
                "2026-11-01T23:00:00Z"
            ],
            "the first six-hour bucket of the day lasts seven hours"
        );
    }

    #[test]
    fn new_york_spring_forward_day_has_23_hours() {
        // 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT.
        let from = utc("2026-03-08T05:00:00Z");
        let to = utc("2026-03-09T04:00:00Z");
        let hours = bucket_starts(from, to, Bucket::Hour, New_York).unwrap();
        assert_eq!(hours.len(), 23);
        assert_eq!(
            formatted(&hours[1..3]),
            ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"]
        );
        let days = bucket_starts(from, to, Bucket::Day, New_York).unwrap();
        assert_eq!(formatted(&days), ["2026-03-08T05:00:00Z"]);
    }

    #[test]
    fn midnight_that_does_not_exist_starts_the_day_when_the_clock_resumes() {
        // Santiago springs forward at 24:00 local: 2026-09-06 00:00 does not exist.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let start = floor_local(utc("2026-09-06T12:00:00Z"), Bucket::Day, tz);
        assert_eq!(start, utc("2026-09-06T04:00:00Z"), "the day begins at 01:00 -03");
    }

    #[test]
    fn empty_or_inverted_ranges_have_no_buckets() {
        let instant = utc("2026-11-24T10:00:00Z");
        assert!(bucket_starts(instant, instant, Bucket::Hour, UTC).unwrap().is_empty());
    }

    #[test]
    fn refuses_ranges_with_too_many_buckets() {
        let result = bucket_starts(
            utc("2020-01-01T00:00:00Z"),
            utc("2026-01-01T00:00:00Z"),
            Bucket::Hour,
            UTC,
        );
        assert_eq!(result, Err(TooManyBuckets));
    }
}
