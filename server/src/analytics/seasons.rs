//! A trend's seasons: for every bucket, the totals of the same local
//! interval one to six weeks earlier (`shared::anomaly::seasons` says where),
//! as the detector judges the bucket by.
//!
//! They are read from rollups, so their cost does not grow with the number
//! of payments: whole local hours (the hour rollups) for every bucket but a
//! day, a sub-hour bucket standing for its share of the hour that holds it;
//! whole local days (the day rollups) for daily buckets. Intervals are read
//! by range, one query per run of adjacent ones (six for a day trend, one
//! per week; one for a week or month trend, whose weeks touch), and not at
//! all while this process keeps them (see `store::history`).
//!
//! Two kinds of window are left out, because an empty week there would look
//! like "nothing happens at this hour" and could flag a normal bucket as a
//! drop: a window that starts before the tenant's history begins (its first
//! hour with a payment), and a window that is not over yet (the seasons of a
//! bucket more than a week in the future).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use paypulse_shared::anomaly::Sample;
use paypulse_shared::anomaly::seasons::{SeasonWindow, bucket_end, trend_season_windows};
use paypulse_shared::stats::Stats;
use paypulse_shared::wire::Bucket;

use super::TrendWindow;
use crate::store::Store;
use crate::store::documents::TenantDoc;
use crate::store::rollups::Level;

/// Every bucket's seasons for `window`, nearest week first, as
/// `trends::build_trend_with_history` takes them; empty before the tenant's
/// first payment.
pub async fn trend_seasons(
    store: &Store,
    tenant: &TenantDoc,
    window: &TrendWindow,
) -> mongodb::error::Result<Vec<Vec<Sample>>> {
    let Some(history_start) = store.history_start(&tenant.id).await? else {
        return Ok(Vec::new());
    };
    let plan = SeasonPlan::new(&window.starts, window.bucket, tenant.tz(), history_start, window.now);
    let hours = plan.intervals(Level::Hour);
    let days = plan.intervals(Level::Day);
    let (hours, days) = futures::try_join!(
        store.past_totals(Level::Hour, &tenant.id, &hours),
        store.past_totals(Level::Day, &tenant.id, &days),
    )?;
    Ok(plan.samples(|level, start| {
        let totals = if level == Level::Day { &days } else { &hours };
        totals.get(&start).copied().unwrap_or_default()
    }))
}

/// Which rollup intervals stand for each season of each bucket.
#[derive(Debug)]
pub struct SeasonPlan {
    /// Per bucket, per season kept: the intervals to add up and the factor
    /// to scale their sum by.
    buckets: Vec<Vec<SeasonRead>>,
}

#[derive(Debug, PartialEq)]
struct SeasonRead {
    level: Level,
    /// `[start, end)` of each interval.
    intervals: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    factor: f64,
}

impl SeasonPlan {
    /// The plan for buckets of `unit` starting at `starts` in `tz`, for a
    /// tenant whose history begins at `history_start`, at `now`.
    pub fn new(
        starts: &[DateTime<Utc>],
        unit: Bucket,
        tz: Tz,
        history_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let buckets = trend_season_windows(starts, unit, tz)
            .into_iter()
            .map(|windows| {
                windows
                    .into_iter()
                    .map(|window| read_for(window, unit, tz))
                    .filter(|(window, _)| window.start >= history_start && window.end <= now)
                    .map(|(window, level)| SeasonRead {
                        level,
                        intervals: intervals_of(window, level, tz),
                        factor: window.factor,
                    })
                    .collect()
            })
            .collect();
        Self { buckets }
    }

    /// Every interval of `level` the plan reads, each once, in order.
    pub fn intervals(&self, level: Level) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let intervals: BTreeSet<(DateTime<Utc>, DateTime<Utc>)> = self
            .buckets
            .iter()
            .flatten()
            .filter(|read| read.level == level)
            .flat_map(|read| read.intervals.iter().copied())
            .collect();
        intervals.into_iter().collect()
    }

    /// Every bucket's seasons from the intervals' totals: each season is the
    /// sum of its intervals scaled to the bucket.
    pub fn samples(&self, totals: impl Fn(Level, DateTime<Utc>) -> Stats) -> Vec<Vec<Sample>> {
        self.buckets
            .iter()
            .map(|reads| {
                reads
                    .iter()
                    .map(|read| {
                        let mut sum = Stats::default();
                        for (start, _) in &read.intervals {
                            sum.merge(&totals(read.level, *start));
                        }
                        Sample::from(&sum).scaled(read.factor)
                    })
                    .collect()
            })
            .collect()
    }
}

/// The window as whole intervals of one rollup level: days for daily
/// buckets (a season of a local day is a local day), whole local hours for
/// the rest. A day window that does not fall on day boundaries (which the
/// clock cannot produce, but costs nothing to allow) is read from hours.
fn read_for(window: SeasonWindow, unit: Bucket, tz: Tz) -> (SeasonWindow, Level) {
    let on_days = Level::Day.floor(window.start, tz) == window.start && Level::Day.floor(window.end, tz) == window.end;
    if unit == Bucket::Day && on_days {
        (window, Level::Day)
    } else {
        (window.in_whole_hours(tz), Level::Hour)
    }
}

/// The intervals of `level` that make up `window` (which lies on that
/// level's boundaries).
fn intervals_of(window: SeasonWindow, level: Level, tz: Tz) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let unit = if level == Level::Day { Bucket::Day } else { Bucket::Hour };
    let mut intervals = Vec::new();
    let mut start = window.start;
    while start < window.end {
        let end = bucket_end(start, unit, tz);
        intervals.push((start, end));
        start = end;
    }
    intervals
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use chrono_tz::{America::New_York, Asia::Kolkata};
    use paypulse_shared::anomaly::MAX_SEASONS;
    use paypulse_shared::buckets::bucket_starts;
    use paypulse_shared::time::parse_utc;
    use std::collections::HashMap;

    fn utc(text: &str) -> DateTime<Utc> {
        parse_utc(text).unwrap()
    }

    /// How many intervals `plan` reads at each level.
    fn interval_counts(plan: &SeasonPlan) -> HashMap<Level, usize> {
        [Level::Hour, Level::Day]
            .into_iter()
            .map(|level| (level, plan.intervals(level).len()))
            .collect()
    }

    /// A day of hours in New York, long after its history began.
    fn day_of_hours() -> Vec<DateTime<Utc>> {
        let from = utc("2026-11-24T05:00:00Z");
        bucket_starts(from, from + TimeDelta::hours(24), Bucket::Hour, New_York).unwrap()
    }

    #[test]
    fn a_day_trend_reads_six_hours_per_bucket_each_once() {
        let starts = day_of_hours();
        let plan = SeasonPlan::new(
            &starts,
            Bucket::Hour,
            New_York,
            utc("2026-01-01T00:00:00Z"),
            utc("2026-11-25T05:00:00Z"),
        );
        assert_eq!(plan.buckets.len(), 24);
        assert!(plan.buckets.iter().all(|reads| reads.len() == MAX_SEASONS));
        assert_eq!(interval_counts(&plan)[&Level::Hour], 24 * MAX_SEASONS);
        assert_eq!(interval_counts(&plan)[&Level::Day], 0);
        // Every season is one hour document, 1 to 6 weeks before.
        let first = &plan.buckets[0];
        let hour = |start: &str| (utc(start), utc(start) + TimeDelta::hours(1));
        assert_eq!(first[0].intervals, [hour("2026-11-17T05:00:00Z")]);
        assert_eq!(
            first[5].intervals,
            [hour("2026-10-13T04:00:00Z")],
            "EDT then: the same local hour"
        );
        let samples = plan.samples(|_, _| Stats {
            succeeded: 10,
            volume_minor: 1_000,
            ..Stats::default()
        });
        assert_eq!(samples[0][0], Sample::new(10, 0, 1_000));
    }

    #[test]
    fn seasons_before_the_history_or_not_over_are_left_out() {
        let starts = day_of_hours();
        // History began nine days before the trend: one week of seasons.
        let history_start = utc("2026-11-15T05:00:00Z");
        let plan = SeasonPlan::new(
            &starts,
            Bucket::Hour,
            New_York,
            history_start,
            utc("2026-11-25T05:00:00Z"),
        );
        assert!(plan.buckets.iter().all(|reads| reads.len() == 1), "{plan:?}");
        // A trend reaching two weeks into the future: the seasons of its
        // last buckets are not over.
        let now = utc("2026-11-10T05:00:00Z");
        let plan = SeasonPlan::new(&starts, Bucket::Hour, New_York, utc("2026-01-01T00:00:00Z"), now);
        assert!(plan.buckets.iter().all(|reads| reads.len() == MAX_SEASONS - 2));
        assert!(plan.intervals(Level::Hour).iter().all(|(_, end)| *end <= now));
    }

    #[test]
    fn a_month_trend_reads_days_and_a_five_minute_one_its_hours() {
        let from = utc("2026-11-01T04:00:00Z");
        let days = bucket_starts(from, from + TimeDelta::days(30), Bucket::Day, New_York).unwrap();
        let plan = SeasonPlan::new(
            &days,
            Bucket::Day,
            New_York,
            utc("2026-01-01T00:00:00Z"),
            utc("2026-12-31T00:00:00Z"),
        );
        assert_eq!(
            interval_counts(&plan)[&Level::Day],
            30 + 5 * 7,
            "weeks overlap: 65 days, each once"
        );
        assert_eq!(interval_counts(&plan)[&Level::Hour], 0);
        // The 25-hour Sunday (1 November) stands on 24-hour Sundays.
        assert!((plan.buckets[0][0].factor - 25.0 / 24.0).abs() < 1e-12);

        let from = utc("2026-11-24T10:00:00Z");
        let fives = bucket_starts(from, from + TimeDelta::hours(1), Bucket::FiveMinutes, Kolkata).unwrap();
        let plan = SeasonPlan::new(&fives, Bucket::FiveMinutes, Kolkata, utc("2026-01-01T00:00:00Z"), from);
        // Kolkata's hours start at :30: the hour spans two of them.
        assert_eq!(interval_counts(&plan)[&Level::Hour], 2 * MAX_SEASONS);
        let samples = plan.samples(|_, _| Stats {
            succeeded: 12,
            volume_minor: 12_000,
            ..Stats::default()
        });
        assert!(
            samples
                .iter()
                .flatten()
                .all(|sample| (sample.succeeded - 1.0).abs() < 1e-12)
        );
    }
}
