//! Time ranges as the API and the dashboard's URL write them (SPEC §3, §6):
//! each end an RFC 3339 instant or a relative expression in Grafana's
//! grammar, `now`, `now-24h`, `now/d` (start of today), `now-1M/M` (start
//! of last month), resolved in the tenant's time zone. Ranges are half-open,
//! `[from, to)`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::time::{format_utc, parse_utc};

/// Longest range one analytics or list request may cover.
pub const MAX_RANGE_DAYS: i64 = 400;

/// A calendar or clock unit of a relative expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Unit {
    const ALL: [Self; 7] = [
        Self::Second,
        Self::Minute,
        Self::Hour,
        Self::Day,
        Self::Week,
        Self::Month,
        Self::Year,
    ];

    /// Grafana's letters: `m` is minutes, `M` months.
    pub const fn letter(self) -> char {
        match self {
            Self::Second => 's',
            Self::Minute => 'm',
            Self::Hour => 'h',
            Self::Day => 'd',
            Self::Week => 'w',
            Self::Month => 'M',
            Self::Year => 'y',
        }
    }

    fn from_letter(letter: char) -> Option<Self> {
        Self::ALL.into_iter().find(|unit| unit.letter() == letter)
    }

    /// The unit's length in seconds, months and years on the Gregorian
    /// average: what bounds a shift.
    const fn seconds(self) -> i64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 604_800,
            Self::Month => 2_629_746,
            Self::Year => 31_556_952,
        }
    }
}

/// The longest shift a relative expression may make, in seconds: ten
/// thousand years fit (`now-10000y`); anything longer is a typo, and a
/// shift of billions of minutes or hours would leave the calendar.
const MAX_SHIFT_SECONDS: i64 = 400_000_000_000;

/// `now`, moved by `amount` units (negative: into the past), then rounded
/// down to the start of `round` in the tenant's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Relative {
    pub amount: i64,
    pub unit: Unit,
    pub round: Option<Unit>,
}

impl Relative {
    /// `now` itself.
    pub const NOW: Self = Self {
        amount: 0,
        unit: Unit::Second,
        round: None,
    };

    /// `now-<amount><unit>`.
    pub const fn ago(amount: i64, unit: Unit) -> Self {
        Self {
            amount: -amount,
            unit,
            round: None,
        }
    }

    /// The same, rounded down to the start of `unit`.
    pub const fn rounded(self, unit: Unit) -> Self {
        Self {
            round: Some(unit),
            ..self
        }
    }
}

/// One end of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimePoint {
    Instant(DateTime<Utc>),
    Relative(Relative),
}

impl fmt::Display for TimePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Instant(instant) => f.write_str(&format_utc(instant)),
            Self::Relative(relative) => {
                f.write_str("now")?;
                if relative.amount != 0 {
                    write!(f, "{:+}{}", relative.amount, relative.unit.letter())?;
                }
                if let Some(round) = relative.round {
                    write!(f, "/{}", round.letter())?;
                }
                Ok(())
            }
        }
    }
}

/// Text that is neither an instant nor a relative expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected an RFC 3339 timestamp such as 2026-11-24T10:15:00Z or a relative time such as now-24h or now/d, got '{0}'"
)]
pub struct BadTimePoint(pub String);

impl FromStr for TimePoint {
    type Err = BadTimePoint;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BadTimePoint(text.to_owned());
        let Some(rest) = text.strip_prefix("now") else {
            return parse_utc(text).map(Self::Instant).map_err(|_| bad());
        };
        let (shift, round) = match rest.split_once('/') {
            Some((shift, round)) => (shift, Some(round)),
            None => (rest, None),
        };
        let round = match round {
            None => None,
            Some(round) => {
                let mut letters = round.chars();
                match (letters.next().and_then(Unit::from_letter), letters.next()) {
                    (Some(unit), None) if unit != Unit::Second => Some(unit),
                    _ => return Err(bad()),
                }
            }
        };
        let (amount, unit) = if shift.is_empty() {
            (0, Unit::Second)
        } else {
            let sign = match shift.chars().next() {
                Some('-') => -1,
                Some('+') => 1,
                _ => return Err(bad()),
            };
            let unit = shift.chars().last().and_then(Unit::from_letter).ok_or_else(bad)?;
            let digits = &shift[1..shift.len() - 1];
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(bad());
            }
            let amount: i64 = digits
                .parse()
                .ok()
                .filter(|amount: &i64| amount.saturating_mul(unit.seconds()) <= MAX_SHIFT_SECONDS)
                .ok_or_else(bad)?;
            (sign * amount, unit)
        };
        // A shift of nothing is `now` whatever its unit, spelled `now`.
        let unit = if amount == 0 { Unit::Second } else { unit };
        Ok(Self::Relative(Relative { amount, unit, round }))
    }
}

/// `[from, to)`; an absent end takes the endpoint's default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimeRange {
    pub from: Option<TimePoint>,
    pub to: Option<TimePoint>,
}

impl TimeRange {
    /// Both ends given.
    pub const fn between(from: TimePoint, to: TimePoint) -> Self {
        Self {
            from: Some(from),
            to: Some(to),
        }
    }

    /// From `amount` units ago to now.
    pub const fn last(amount: i64, unit: Unit) -> Self {
        Self::between(
            TimePoint::Relative(Relative::ago(amount, unit)),
            TimePoint::Relative(Relative::NOW),
        )
    }

    /// Whether either end moves with the clock.
    pub fn is_relative(&self) -> bool {
        [self.from, self.to]
            .iter()
            .any(|point| matches!(point, Some(TimePoint::Relative(_))))
    }
}

/// A range that cannot be answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("'from' must be earlier than 'to'")]
    Inverted,
    #[error("the range may cover at most {MAX_RANGE_DAYS} days")]
    TooLong,
}

#[cfg(feature = "tz")]
mod resolve {
    use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, TimeDelta, Timelike};
    use chrono_tz::Tz;

    use super::*;
    use crate::buckets::resolve_local;

    impl Relative {
        /// The instant this expression names at `now` in `tz`.
        pub fn resolve(&self, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
            let moved = match self.unit {
                Unit::Second => now + TimeDelta::seconds(self.amount),
                Unit::Minute => now + TimeDelta::minutes(self.amount),
                Unit::Hour => now + TimeDelta::hours(self.amount),
                // Days and longer move the wall clock: `now-1d` at 10:00 is
                // 10:00 yesterday, also across a DST change.
                Unit::Day | Unit::Week | Unit::Month | Unit::Year => {
                    let local = now.with_timezone(&tz).naive_local();
                    resolve_local(shift_calendar(local, self.amount, self.unit), now, tz)
                }
            };
            match self.round {
                None => moved,
                Some(unit) => floor(moved, unit, tz),
            }
        }
    }

    fn shift_calendar(local: NaiveDateTime, amount: i64, unit: Unit) -> NaiveDateTime {
        let magnitude = amount.unsigned_abs();
        let (days, months) = match unit {
            Unit::Week => (magnitude.saturating_mul(7), 0),
            Unit::Month => (0, magnitude),
            Unit::Year => (0, magnitude.saturating_mul(12)),
            _ => (magnitude, 0),
        };
        let months = Months::new(u32::try_from(months).unwrap_or(u32::MAX));
        let days = Days::new(days);
        let shifted = if amount < 0 {
            local
                .checked_sub_months(months)
                .and_then(|local| local.checked_sub_days(days))
        } else {
            local
                .checked_add_months(months)
                .and_then(|local| local.checked_add_days(days))
        };
        shifted.unwrap_or(local)
    }

    /// The start of the `unit` of the tenant's calendar that holds `instant`.
    fn floor(instant: DateTime<Utc>, unit: Unit, tz: Tz) -> DateTime<Utc> {
        let local = instant.with_timezone(&tz).naive_local();
        let date = local.date();
        let start: NaiveDateTime = match unit {
            Unit::Second => return instant,
            Unit::Minute => date.and_hms_opt(local.hour(), local.minute(), 0).unwrap_or(local),
            Unit::Hour => date.and_hms_opt(local.hour(), 0, 0).unwrap_or(local),
            Unit::Day => date.and_time(chrono::NaiveTime::MIN),
            Unit::Week => (date - TimeDelta::days(i64::from(date.weekday().num_days_from_monday())))
                .and_time(chrono::NaiveTime::MIN),
            Unit::Month => NaiveDate::from_ymd_opt(date.year(), date.month(), 1)
                .unwrap_or(date)
                .and_time(chrono::NaiveTime::MIN),
            Unit::Year => NaiveDate::from_ymd_opt(date.year(), 1, 1)
                .unwrap_or(date)
                .and_time(chrono::NaiveTime::MIN),
        };
        resolve_local(start, instant, tz)
    }

    impl TimePoint {
        pub fn resolve(&self, now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
            match self {
                Self::Instant(instant) => *instant,
                Self::Relative(relative) => relative.resolve(now, tz),
            }
        }
    }

    impl TimeRange {
        /// `[from, to)` at `now` in `tz`: `to` defaults to now and `from` to
        /// `default_span` before `to`.
        pub fn resolve(
            &self,
            now: DateTime<Utc>,
            tz: Tz,
            default_span: TimeDelta,
        ) -> Result<(DateTime<Utc>, DateTime<Utc>), RangeError> {
            let to = self.to.map_or(now, |to| to.resolve(now, tz));
            let from = self.from.map_or(to - default_span, |from| from.resolve(now, tz));
            if from >= to {
                return Err(RangeError::Inverted);
            }
            if to - from > TimeDelta::days(MAX_RANGE_DAYS) {
                return Err(RangeError::TooLong);
            }
            Ok((from, to))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_expressions_round_trip() {
        for text in [
            "now", "now-24h", "now-15m", "now/d", "now-1d/d", "now-1M/M", "now+2h", "now/w",
        ] {
            let point: TimePoint = text.parse().unwrap();
            assert_eq!(point.to_string(), text);
        }
        let instant: TimePoint = "2026-11-24T15:45:00+05:30".parse().unwrap();
        assert_eq!(instant.to_string(), "2026-11-24T10:15:00Z");
        for bad in [
            "",
            "now-",
            "now-h",
            "now-1x",
            "now/",
            "now/s",
            "now/dd",
            "now 1h",
            "yesterday",
            "now-1.5h",
        ] {
            assert!(bad.parse::<TimePoint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shifts_are_bounded_in_every_unit() {
        // Found writing the fuzz targets: `now-400000000000m` passed the
        // bound meant for seconds and overflowed the calendar when resolved
        // (a panic); in months or years it silently resolved to now.
        for text in [
            "now-400000000000m",
            "now+400000000000h",
            "now-400000000000d",
            "now-400000000000M",
        ] {
            assert!(text.parse::<TimePoint>().is_err(), "{text}");
        }
        for text in ["now-400000000000s", "now-6666666666m", "now-12675y", "now+152000M"] {
            assert!(text.parse::<TimePoint>().is_ok(), "{text}");
        }
    }

    #[test]
    fn a_shift_of_nothing_reads_back_as_written() {
        // Found by `cargo xtask fuzz query`: `now-0h` was written back as
        // `now`, which reads as another value.
        for text in ["now-0h", "now+0M/d", "now-00s"] {
            let point: TimePoint = text.parse().unwrap();
            assert_eq!(point.to_string().parse::<TimePoint>().unwrap(), point, "{text}");
        }
    }

    #[cfg(feature = "tz")]
    mod resolving {
        use super::super::*;
        use crate::time::parse_utc;
        use chrono::TimeDelta;
        use chrono_tz::{America::New_York, Asia::Kolkata};

        fn at(text: &str) -> DateTime<Utc> {
            parse_utc(text).unwrap()
        }

        fn resolve(text: &str, now: &str, tz: chrono_tz::Tz) -> String {
            format_utc(&text.parse::<TimePoint>().unwrap().resolve(at(now), tz))
        }

        #[test]
        fn rounding_follows_the_tenants_calendar() {
            let now = "2026-11-24T20:15:30Z";
            assert_eq!(
                resolve("now/d", now, Kolkata),
                "2026-11-24T18:30:00Z",
                "01:45 IST on the 25th"
            );
            assert_eq!(resolve("now-1d/d", now, Kolkata), "2026-11-23T18:30:00Z");
            assert_eq!(resolve("now/d", now, New_York), "2026-11-24T05:00:00Z");
            assert_eq!(
                resolve("now/M", now, New_York),
                "2026-11-01T04:00:00Z",
                "EDT until 1 Nov 06:00 UTC"
            );
            assert_eq!(resolve("now-1M/M", now, New_York), "2026-10-01T04:00:00Z");
            assert_eq!(resolve("now/w", now, New_York), "2026-11-23T05:00:00Z", "Monday");
            assert_eq!(resolve("now-15m", now, New_York), "2026-11-24T20:00:30Z");
        }

        #[test]
        fn the_longest_shifts_resolve() {
            let now = at("2026-11-24T10:00:00Z");
            for text in [
                "now-400000000000s",
                "now+6666666666m",
                "now-111111111h",
                "now-4629629d/d",
                "now+661375w/w",
                "now-152000M/M",
                "now-12675y/y",
            ] {
                let point: TimePoint = text.parse().unwrap();
                let resolved = point.resolve(now, Kolkata);
                assert!((resolved - now).num_days().abs() > 4_600_000, "{text}: {resolved}");
            }
        }

        #[test]
        fn a_day_back_keeps_the_wall_clock_across_dst() {
            // 10:00 EST on 2 November is 10:00 EDT on 1 November: 25 hours.
            assert_eq!(
                resolve("now-1d", "2026-11-02T15:00:00Z", New_York),
                "2026-11-01T15:00:00Z"
            );
        }

        #[test]
        fn ranges_default_and_validate() {
            let now = at("2026-11-24T10:00:00Z");
            let (from, to) = TimeRange::default()
                .resolve(now, New_York, TimeDelta::hours(24))
                .unwrap();
            assert_eq!((to - from, to), (TimeDelta::hours(24), now));
            let inverted = TimeRange::between("now".parse().unwrap(), "now-1h".parse().unwrap());
            assert_eq!(
                inverted.resolve(now, New_York, TimeDelta::hours(1)),
                Err(RangeError::Inverted)
            );
            let long = TimeRange::last(401, Unit::Day);
            assert_eq!(
                long.resolve(now, New_York, TimeDelta::hours(1)),
                Err(RangeError::TooLong)
            );
        }
    }
}
