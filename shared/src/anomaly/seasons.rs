//! Where a bucket's seasons lie: the same wall-clock interval of the
//! tenant's zone one to six weeks earlier.
//!
//! "Monday 09:00–10:00 local" is the same hour of the week on both sides of a
//! DST change, but not the same distance in UTC, so a season is found on the
//! wall clock and resolved back to UTC. Where the clock repeated part of the
//! interval that week, the season is longer than the bucket; where it skipped
//! part, shorter; where it skipped all of it, there is no season that week.
//! Its totals are then scaled to the bucket's length by [`SeasonWindow::factor`].

use chrono::{DateTime, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::buckets::{floor_local, resolve_local};
use crate::wire::Bucket;

use super::MAX_SEASONS;

/// An earlier stretch of time standing for a bucket: the totals of
/// `[start, end)` times `factor` are the bucket's season.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeasonWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// What the totals of `[start, end)` are multiplied by to stand for the
    /// bucket (see [`super::Sample::scaled`]): the bucket's length over the
    /// window's, and less when the window was widened to whole hours.
    pub factor: f64,
}

impl SeasonWindow {
    /// The same window read from whole local hours (the hour rollups): from
    /// the start of the hour holding `start` to the end of the hour holding
    /// the window's last instant, the factor shrunk by the window's share of
    /// them. A five-minute bucket's season is then 1/12 of its hour.
    pub fn in_whole_hours(&self, tz: Tz) -> Self {
        let start = floor_local(self.start, Bucket::Hour, tz);
        let last_hour = floor_local(self.end - TimeDelta::nanoseconds(1), Bucket::Hour, tz);
        let end = bucket_end(last_hour, Bucket::Hour, tz);
        Self {
            start,
            end,
            factor: self.factor * seconds(self.start, self.end) / seconds(start, end),
        }
    }
}

/// The window `weeks` weeks before the bucket `[start, end)` that showed
/// the same wall-clock times in `tz`; `None` when the clock skipped all of
/// them that week (or the bucket is empty).
///
/// The bucket's wall-clock interval runs from what the clock showed at
/// `start` to what it showed just before `end`; this is right even for a
/// bucket that ends inside a repeated stretch (the first of two 01:00 hours
/// shows 01:00–01:59). Each end is resolved to the first instant the clock
/// showed that time that week, or where the clock resumed if it skipped it.
pub fn weeks_earlier(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz, weeks: u32) -> Option<SeasonWindow> {
    if end <= start {
        return None;
    }
    let epsilon = TimeDelta::nanoseconds(1);
    let local_start = start.with_timezone(&tz).naive_local();
    let local_end = (end - epsilon).with_timezone(&tz).naive_local() + epsilon;
    let shift = TimeDelta::weeks(i64::from(weeks));
    let earlier_start = earliest(local_start - shift, tz);
    let earlier_end = earliest(local_end - shift, tz);
    (earlier_end > earlier_start).then(|| SeasonWindow {
        start: earlier_start,
        end: earlier_end,
        factor: seconds(start, end) / seconds(earlier_start, earlier_end),
    })
}

/// The seasons of the bucket `[start, end)`, nearest week first, one per
/// week from 1 to [`MAX_SEASONS`] that had the interval at all.
pub fn season_windows(start: DateTime<Utc>, end: DateTime<Utc>, tz: Tz) -> Vec<SeasonWindow> {
    (1..=MAX_SEASONS as u32)
        .filter_map(|weeks| weeks_earlier(start, end, tz, weeks))
        .collect()
}

/// The seasons to read for every bucket of a trend, in the order of
/// `starts` (as `bucket_starts` gives them): each bucket's whole interval,
/// however much of it the trend's range covers.
pub fn trend_season_windows(starts: &[DateTime<Utc>], unit: Bucket, tz: Tz) -> Vec<Vec<SeasonWindow>> {
    bucket_intervals(starts, unit, tz)
        .map(|(start, end)| season_windows(start, end, tz))
        .collect()
}

/// The share of each bucket of a trend that `[from, to)` covers (see
/// [`covered_share`]): what `trends::build_trend_with_history` takes.
pub fn covered_shares(
    starts: &[DateTime<Utc>],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    unit: Bucket,
    tz: Tz,
) -> Vec<f64> {
    bucket_intervals(starts, unit, tz)
        .map(|(start, end)| covered_share(start, end, from, to))
        .collect()
}

/// Each bucket's `[start, end)`: to the next start, the last one to its end.
fn bucket_intervals(
    starts: &[DateTime<Utc>],
    unit: Bucket,
    tz: Tz,
) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> {
    starts.iter().enumerate().map(move |(index, start)| {
        let end = starts
            .get(index + 1)
            .copied()
            .unwrap_or_else(|| bucket_end(*start, unit, tz));
        (*start, end)
    })
}

/// Where the bucket of `unit` starting at `start` ends: the next bucket's
/// start (23 or 25 hours after a local midnight around DST changes).
pub fn bucket_end(start: DateTime<Utc>, unit: Bucket, tz: Tz) -> DateTime<Utc> {
    // A bucket is at most an hour shorter than its nominal length (a DST
    // change), so the nominal end lies in this bucket or early in the next;
    // from there quarter steps find the next start (every change of offset
    // is on a quarter hour).
    let mut candidate = start + TimeDelta::minutes(unit.minutes());
    for _ in 0..=(4 * 25) {
        let floor = floor_local(candidate, unit, tz);
        if floor > start {
            return floor;
        }
        candidate += TimeDelta::minutes(15);
    }
    candidate
}

/// The share of the bucket `[start, end)` that `[from, to)` covers: 1 for a
/// bucket inside the range, the elapsed share for the one in progress when
/// `to` is now, less for a first bucket cut by `from`.
pub fn covered_share(start: DateTime<Utc>, end: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let covered = seconds(start.max(from), end.min(to)).max(0.0);
    let whole = seconds(start, end);
    if whole > 0.0 { (covered / whole).min(1.0) } else { 0.0 }
}

/// The first instant the clock showed `local`, or where it resumed if it
/// skipped `local`.
fn earliest(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local).earliest() {
        Some(found) => found.with_timezone(&Utc),
        // Gaps start and end on quarter hours, so from the quarter holding
        // `local` the next time that exists is where the clock resumed.
        None => {
            let quarter = local
                .with_minute(local.minute() - local.minute() % 15)
                .and_then(|time| time.with_second(0))
                .and_then(|time| time.with_nanosecond(0))
                .unwrap_or(local);
            resolve_local(quarter, DateTime::<Utc>::MIN_UTC, tz)
        }
    }
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).as_seconds_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Kolkata};

    fn utc(text: &str) -> DateTime<Utc> {
        crate::time::parse_utc(text).unwrap()
    }

    fn window(start: &str, end: &str, factor: f64) -> Option<SeasonWindow> {
        Some(SeasonWindow {
            start: utc(start),
            end: utc(end),
            factor,
        })
    }

    #[test]
    fn an_ordinary_week_is_seven_days_of_utc() {
        // Tuesday 10:00–11:00 EST, two weeks after the fall-back change.
        let found = weeks_earlier(utc("2026-11-17T15:00:00Z"), utc("2026-11-17T16:00:00Z"), New_York, 2);
        assert_eq!(found, window("2026-11-03T15:00:00Z", "2026-11-03T16:00:00Z", 1.0));
    }

    #[test]
    fn across_spring_forward_the_same_local_hour_is_an_hour_less_of_utc_away() {
        // Tuesday 10 March 10:00 EDT is 14:00 UTC; a week before, 10:00 EST was 15:00 UTC.
        let found = weeks_earlier(utc("2026-03-10T14:00:00Z"), utc("2026-03-10T15:00:00Z"), New_York, 1);
        assert_eq!(found, window("2026-03-03T15:00:00Z", "2026-03-03T16:00:00Z", 1.0));
        // 03:00 EDT on 15 March: on 8 March the clock jumped to 03:00 EDT too.
        let found = weeks_earlier(utc("2026-03-15T07:00:00Z"), utc("2026-03-15T08:00:00Z"), New_York, 1);
        assert_eq!(found, window("2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z", 1.0));
    }

    #[test]
    fn an_hour_the_clock_skipped_has_no_season_that_week() {
        // 02:00–03:00 EDT on 15 March did not exist on 8 March.
        let start = utc("2026-03-15T06:00:00Z");
        let end = utc("2026-03-15T07:00:00Z");
        assert_eq!(weeks_earlier(start, end, New_York, 1), None);
        let two_weeks = weeks_earlier(start, end, New_York, 2);
        assert_eq!(two_weeks, window("2026-03-01T07:00:00Z", "2026-03-01T08:00:00Z", 1.0));
        let all = season_windows(start, end, New_York);
        assert_eq!(all.len(), MAX_SEASONS - 1, "week 1 is left out: {all:?}");
        assert_eq!(all[0], two_weeks.unwrap());
    }

    #[test]
    fn a_day_next_to_a_23_hour_day_is_scaled_to_its_length() {
        // Sunday 15 March is 24 hours; Sunday 8 March was 23.
        let found = weeks_earlier(utc("2026-03-15T04:00:00Z"), utc("2026-03-16T04:00:00Z"), New_York, 1);
        assert_eq!(
            found,
            window("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", 24.0 / 23.0)
        );
        // And the 23-hour day itself against the 24-hour Sunday before.
        let found = weeks_earlier(utc("2026-03-08T05:00:00Z"), utc("2026-03-09T04:00:00Z"), New_York, 1);
        assert_eq!(
            found,
            window("2026-03-01T05:00:00Z", "2026-03-02T05:00:00Z", 23.0 / 24.0)
        );
    }

    #[test]
    fn an_hour_the_clock_showed_twice_counts_half_of_each() {
        // 01:00–02:00 EST on 8 November; on 1 November 01:00–02:00 lasted two
        // hours (01:00 EDT, then 01:00 EST again).
        let found = weeks_earlier(utc("2026-11-08T06:00:00Z"), utc("2026-11-08T07:00:00Z"), New_York, 1);
        assert_eq!(found, window("2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", 0.5));
    }

    #[test]
    fn both_one_oclocks_of_the_fall_back_day_have_the_same_season() {
        let first = weeks_earlier(utc("2026-11-01T05:00:00Z"), utc("2026-11-01T06:00:00Z"), New_York, 1);
        let second = weeks_earlier(utc("2026-11-01T06:00:00Z"), utc("2026-11-01T07:00:00Z"), New_York, 1);
        let expected = window("2026-10-25T05:00:00Z", "2026-10-25T06:00:00Z", 1.0);
        assert_eq!((first, second), (expected, expected));
        // The 25-hour day stands on a 24-hour Sunday.
        let day = weeks_earlier(utc("2026-11-01T04:00:00Z"), utc("2026-11-02T05:00:00Z"), New_York, 1);
        assert_eq!(day, window("2026-10-25T04:00:00Z", "2026-10-26T04:00:00Z", 25.0 / 24.0));
    }

    #[test]
    fn a_half_hour_zone_keeps_its_half_hours() {
        // 15:00–16:00 IST is 09:30–10:30 UTC, whatever the week.
        let found = weeks_earlier(utc("2026-11-24T09:30:00Z"), utc("2026-11-24T10:30:00Z"), Kolkata, 3);
        assert_eq!(found, window("2026-11-03T09:30:00Z", "2026-11-03T10:30:00Z", 1.0));
        // A quarter hour (15:45 IST) is read as a quarter of its hour.
        let quarter = weeks_earlier(utc("2026-11-24T10:15:00Z"), utc("2026-11-24T10:30:00Z"), Kolkata, 1).unwrap();
        assert_eq!(
            quarter.in_whole_hours(Kolkata),
            SeasonWindow {
                start: utc("2026-11-17T09:30:00Z"),
                end: utc("2026-11-17T10:30:00Z"),
                factor: 0.25
            }
        );
    }

    #[test]
    fn a_minute_in_a_skipped_hour_has_no_season_and_whole_hours_keep_their_factor() {
        // 02:07 EDT on 15 March did not exist a week before.
        let minute = weeks_earlier(utc("2026-03-15T06:07:00Z"), utc("2026-03-15T06:08:00Z"), New_York, 1);
        assert_eq!(minute, None);
        // Five minutes inside the repeated hour: the first pass of it.
        let five = weeks_earlier(utc("2026-11-08T06:05:00Z"), utc("2026-11-08T06:10:00Z"), New_York, 1).unwrap();
        assert_eq!(
            (five.start, five.end),
            (utc("2026-11-01T05:05:00Z"), utc("2026-11-01T05:10:00Z"))
        );
        let hour = five.in_whole_hours(New_York);
        assert_eq!(
            (hour.start, hour.end, hour.factor),
            (utc("2026-11-01T05:00:00Z"), utc("2026-11-01T06:00:00Z"), 1.0 / 12.0)
        );
        let whole = window("2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", 0.5).unwrap();
        assert_eq!(whole.in_whole_hours(New_York), whole);
    }

    #[test]
    fn every_season_of_a_dst_day_reads_whole_hour_documents() {
        // The hour rollups hold one document per local hour; every bucket of
        // both change days in New York, and every quarter hour of a Kolkata
        // day, finds its seasons as whole documents.
        let days = [
            (
                utc("2026-03-08T05:00:00Z"),
                utc("2026-03-09T04:00:00Z"),
                Bucket::Hour,
                New_York,
                23,
            ),
            (
                utc("2026-11-01T04:00:00Z"),
                utc("2026-11-02T05:00:00Z"),
                Bucket::Hour,
                New_York,
                25,
            ),
            (
                utc("2026-11-01T04:00:00Z"),
                utc("2026-11-02T05:00:00Z"),
                Bucket::SixHours,
                New_York,
                4,
            ),
            (
                utc("2026-11-23T18:30:00Z"),
                utc("2026-11-24T18:30:00Z"),
                Bucket::FifteenMinutes,
                Kolkata,
                96,
            ),
        ];
        for (from, to, unit, tz, count) in days {
            let starts = crate::buckets::bucket_starts(from, to, unit, tz).unwrap();
            assert_eq!(starts.len(), count);
            for start in starts {
                let end = bucket_end(start, unit, tz);
                let seasons = season_windows(start, end, tz);
                assert!(seasons.len() >= MAX_SEASONS - 1, "{start} {unit}: {seasons:?}");
                for season in seasons.iter().map(|season| season.in_whole_hours(tz)) {
                    assert_eq!(floor_local(season.start, Bucket::Hour, tz), season.start);
                    assert_eq!(floor_local(season.end, Bucket::Hour, tz), season.end);
                    let hours = (season.end - season.start).as_seconds_f64() / 3_600.0;
                    // The season's totals times the factor cover as much time
                    // as the bucket: the hours read, scaled, are its length.
                    let covered = hours * season.factor * 3_600.0;
                    assert!(
                        (covered - (end - start).as_seconds_f64()).abs() < 1e-6,
                        "{start}: {season:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_trend_gets_its_seasons_and_shares_bucket_by_bucket() {
        // A zoom from 00:40 to 04:20 EST on 8 November in hourly buckets.
        let (from, to) = (utc("2026-11-08T05:40:00Z"), utc("2026-11-08T09:20:00Z"));
        let starts = crate::buckets::bucket_starts(from, to, Bucket::Hour, New_York).unwrap();
        let shares = covered_shares(&starts, from, to, Bucket::Hour, New_York);
        assert_eq!(shares, [1.0 / 3.0, 1.0, 1.0, 1.0, 1.0 / 3.0]);
        let windows = trend_season_windows(&starts, Bucket::Hour, New_York);
        assert_eq!(windows.len(), 5);
        assert!(windows.iter().all(|seasons| seasons.len() == MAX_SEASONS));
        // 01:00 EST a week before was the two hours of 01:00 on 1 November.
        assert_eq!(
            windows[1][0],
            window("2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", 0.5).unwrap()
        );
        // The last bucket's seasons are whole hours, though the range stops
        // a third of the way in.
        assert_eq!(
            windows[4][1],
            window("2026-10-25T08:00:00Z", "2026-10-25T09:00:00Z", 1.0).unwrap()
        );
    }

    #[test]
    fn buckets_end_where_the_next_one_starts() {
        let day = bucket_end(utc("2026-11-01T04:00:00Z"), Bucket::Day, New_York);
        assert_eq!(day, utc("2026-11-02T05:00:00Z"), "25 hours");
        let short_day = bucket_end(utc("2026-03-08T05:00:00Z"), Bucket::Day, New_York);
        assert_eq!(short_day, utc("2026-03-09T04:00:00Z"), "23 hours");
        let first_one_oclock = bucket_end(utc("2026-11-01T05:00:00Z"), Bucket::Hour, New_York);
        assert_eq!(first_one_oclock, utc("2026-11-01T06:00:00Z"));
        let six = bucket_end(utc("2026-11-01T04:00:00Z"), Bucket::SixHours, New_York);
        assert_eq!(six, utc("2026-11-01T11:00:00Z"), "seven hours");
        let minute = bucket_end(utc("2026-11-24T10:14:00Z"), Bucket::Minute, Kolkata);
        assert_eq!(minute, utc("2026-11-24T10:15:00Z"));
    }

    #[test]
    fn shares_of_a_bucket_covered_by_a_range() {
        let (start, end) = (utc("2026-11-24T10:00:00Z"), utc("2026-11-24T11:00:00Z"));
        assert_eq!(
            covered_share(start, end, utc("2026-11-24T00:00:00Z"), utc("2026-11-25T00:00:00Z")),
            1.0
        );
        assert_eq!(
            covered_share(start, end, utc("2026-11-24T00:00:00Z"), utc("2026-11-24T10:15:00Z")),
            0.25
        );
        assert_eq!(
            covered_share(start, end, utc("2026-11-24T10:40:00Z"), utc("2026-11-25T00:00:00Z")),
            1.0 / 3.0
        );
        assert_eq!(covered_share(start, end, end, utc("2026-11-25T00:00:00Z")), 0.0);
    }
}
