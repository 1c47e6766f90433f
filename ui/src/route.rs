//! What the address bar holds: the page shown (dashboard, a payment list,
//! one payment), the time range, the chart's bucket and the list's filters
//! and order, so a link, a reload and back/forward give the same view. It
//! is written with the API's own query types (`paypulse_shared::query`),
//! so `from`/`to`, filters and `sort` are spelled in the address bar as the
//! API spells them:
//!
//! - `?from=now-24h&to=now&bucket=1h` — the dashboard;
//! - `?view=payments&from=2026-11-24T14:00:00Z&to=…&status=failed&sort=-amount`;
//! - `?view=payment&id=…&from=…&status=failed` — a payment, with the list it
//!   was opened from (the breadcrumbs lead back to it).
//!
//! Also the time arithmetic of the range picker: presets, zoom out, shift.
//! Pure and tested natively.

use chrono::{DateTime, TimeDelta, Utc};
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::query::{PaymentListQuery, QueryError, QueryParams, Reader, Sort, Writer, from_query, to_query};
use paypulse_shared::range::{MAX_RANGE_DAYS, Relative, TimePoint, TimeRange, Unit};
use paypulse_shared::wire::{Bucket, Period};

/// The page shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Page {
    #[default]
    Dashboard,
    /// The payments of the range, filtered and ordered.
    Payments,
    /// One payment, opened from the list of the same state.
    Payment { id: String },
    /// The alert history and the rules (editable by an admin).
    Alerts,
}

/// Everything the address bar says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub page: Page,
    /// Both ends always set (the default is the last 24 hours).
    pub range: TimeRange,
    /// The chart's bucket; `None`: the server picks one for the span.
    pub bucket: Option<Bucket>,
    /// The list's slice and order (not written on the dashboard).
    pub filter: PaymentFilter,
    /// The list's hour of the day (tenant's zone), on every day of the range.
    pub hour: Option<u8>,
    pub sort: Sort,
}

impl Default for Route {
    /// The dashboard over the last 24 hours in hourly buckets, as it opened
    /// before ranges existed (the "Day" toggle).
    fn default() -> Self {
        Self {
            page: Page::Dashboard,
            range: TimeRange::last(24, Unit::Hour),
            bucket: Some(Bucket::Hour),
            filter: PaymentFilter::default(),
            hour: None,
            sort: Sort::default(),
        }
    }
}

impl QueryParams for Route {
    const NAMES: &'static [&'static str] = &[
        "view",
        "id",
        "from",
        "to",
        "bucket",
        "status",
        "method",
        "minAmount",
        "maxAmount",
        "q",
        "hour",
        "sort",
    ];

    fn read(reader: &mut Reader) -> Result<Self, QueryError> {
        let page = match reader.text("view").as_deref() {
            None | Some("dashboard") => Page::Dashboard,
            Some("payments") => Page::Payments,
            Some("alerts") => Page::Alerts,
            Some("payment") => Page::Payment {
                id: reader
                    .text("id")
                    .ok_or_else(|| QueryError::new("id", "a payment page needs the payment's id"))?,
            },
            Some(other) => return Err(QueryError::new("view", format!("unknown view '{other}'"))),
        };
        let bucket = reader.parse("bucket")?;
        let list = PaymentListQuery::read(reader)?;
        let default = Route::default();
        let range = match (list.range.from, list.range.to) {
            // No range at all: the default view, bucket included.
            (None, None) => {
                return Ok(Self {
                    page,
                    bucket: bucket.or(default.bucket),
                    filter: list.filter,
                    hour: list.hour,
                    sort: list.sort,
                    ..default
                });
            }
            (from, to) => TimeRange {
                from: from.or(default.range.from),
                to: to.or(default.range.to),
            },
        };
        Ok(Self {
            page,
            range,
            bucket,
            filter: list.filter,
            hour: list.hour,
            sort: list.sort,
        })
    }

    fn write(&self, writer: &mut Writer) {
        match &self.page {
            Page::Dashboard => {}
            Page::Payments => writer.put("view", Some("payments")),
            Page::Alerts => writer.put("view", Some("alerts")),
            Page::Payment { id } => {
                writer.put("view", Some("payment"));
                writer.put("id", Some(id));
            }
        }
        writer.put("bucket", self.bucket);
        // The dashboard has no list: its address carries no filters.
        let (filter, hour, sort) = match self.page {
            Page::Dashboard | Page::Alerts => (PaymentFilter::default(), None, Sort::default()),
            _ => (self.filter.clone(), self.hour, self.sort),
        };
        PaymentListQuery {
            range: self.range,
            filter,
            hour,
            sort,
            cursor: None,
            limit: None,
        }
        .write(writer);
    }
}

impl Route {
    /// Reads the address bar's query string (with or without `?`). Unknown
    /// parameters (a link may carry tracking tags) are ignored and a
    /// malformed one is dropped, rather than showing nothing.
    pub fn from_search(search: &str) -> Self {
        let search = search.strip_prefix('?').unwrap_or(search);
        let mut pairs: Vec<&str> = search
            .split('&')
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(name, _)| name);
                Self::NAMES.contains(&name)
            })
            .collect();
        loop {
            match from_query::<Self>(&pairs.join("&")) {
                Ok(route) => return route,
                Err(error) => {
                    let before = pairs.len();
                    pairs.retain(|pair| pair.split_once('=').map_or(*pair, |(name, _)| name) != error.parameter);
                    if pairs.len() == before {
                        return Self::default();
                    }
                }
            }
        }
    }

    /// The query string for the address bar (with its `?`).
    pub fn to_search(&self) -> String {
        format!("?{}", to_query(self))
    }

    /// The list this route shows (or the detail page was opened from).
    pub fn list_query(&self) -> PaymentListQuery {
        PaymentListQuery {
            range: self.range,
            filter: self.filter.clone(),
            hour: self.hour,
            sort: self.sort,
            cursor: None,
            limit: Some(LIST_PAGE_SIZE),
        }
    }

    /// The dashboard over the same range.
    pub fn dashboard(&self) -> Self {
        Self {
            page: Page::Dashboard,
            filter: PaymentFilter::default(),
            hour: None,
            sort: Sort::default(),
            ..self.clone()
        }
    }

    /// The alerts page, keeping the range for the way back.
    pub fn alerts(&self) -> Self {
        Self {
            page: Page::Alerts,
            ..self.dashboard()
        }
    }

    /// The payments of `range` (this route's when `None`) narrowed by
    /// `filter`.
    pub fn payments(&self, range: Option<TimeRange>, filter: PaymentFilter) -> Self {
        Self {
            page: Page::Payments,
            range: range.unwrap_or(self.range),
            filter,
            hour: None,
            sort: Sort::default(),
            ..self.clone()
        }
    }

    /// The payments of this route's range made in hour `hour` of the
    /// tenant's day, on every day of it.
    pub fn hour_of_day(&self, hour: u8) -> Self {
        Self {
            hour: Some(hour),
            ..self.payments(None, PaymentFilter::default())
        }
    }

    /// One payment, opened from this route's list.
    pub fn payment(&self, id: &str) -> Self {
        Self {
            page: Page::Payment { id: id.to_owned() },
            ..self.clone()
        }
    }

    /// The same page over `range`, the chart's bucket chosen by the server.
    pub fn with_range(&self, range: TimeRange) -> Self {
        Self {
            range,
            bucket: None,
            ..self.clone()
        }
    }

    /// The chart's period toggle this route is, if any.
    pub fn period(&self) -> Option<Period> {
        Period::ALL
            .into_iter()
            .find(|period| period_range(*period) == self.range && self.bucket == Some(Bucket::from(*period)))
    }

    /// The same page over the period's window in its buckets.
    pub fn with_period(&self, period: Period) -> Self {
        Self {
            range: period_range(period),
            bucket: Some(Bucket::from(period)),
            ..self.clone()
        }
    }
}

/// Rows per page of the payment list.
pub const LIST_PAGE_SIZE: u32 = 50;

/// The day, week and month toggles: the last 24 hours, 7 days and 30 days.
pub fn period_range(period: Period) -> TimeRange {
    match period {
        Period::Day => TimeRange::last(24, Unit::Hour),
        Period::Week => TimeRange::last(7, Unit::Day),
        Period::Month => TimeRange::last(30, Unit::Day),
    }
}

/// A named range of the picker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// For `data-testid` and the picker's `<option value>`.
    pub id: &'static str,
    pub label: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

impl Preset {
    pub fn range(&self) -> TimeRange {
        TimeRange::between(point(self.from), point(self.to))
    }
}

fn point(text: &str) -> TimePoint {
    text.parse().unwrap_or(TimePoint::Relative(Relative::NOW))
}

/// The picker's presets (SPEC §6), relative so a link keeps meaning "the
/// last hour" whenever it is opened.
pub const PRESETS: [Preset; 10] = [
    preset("15m", "Last 15 minutes", "now-15m", "now"),
    preset("1h", "Last hour", "now-1h", "now"),
    preset("6h", "Last 6 hours", "now-6h", "now"),
    preset("24h", "Last 24 hours", "now-24h", "now"),
    preset("7d", "Last 7 days", "now-7d", "now"),
    preset("30d", "Last 30 days", "now-30d", "now"),
    preset("today", "Today", "now/d", "now"),
    preset("yesterday", "Yesterday", "now-1d/d", "now/d"),
    preset("this-month", "This month", "now/M", "now"),
    preset("last-month", "Last month", "now-1M/M", "now/M"),
];

const fn preset(id: &'static str, label: &'static str, from: &'static str, to: &'static str) -> Preset {
    Preset { id, label, from, to }
}

/// The preset `range` is, if any.
pub fn preset_of(range: &TimeRange) -> Option<Preset> {
    PRESETS.into_iter().find(|preset| preset.range() == *range)
}

/// Whether the range ends now (and so moves with the clock).
pub fn ends_now(range: &TimeRange) -> bool {
    range.to == Some(TimePoint::Relative(Relative::NOW))
}

/// `from` to `to` as absolute instants.
pub fn absolute(from: DateTime<Utc>, to: DateTime<Utc>) -> TimeRange {
    TimeRange::between(TimePoint::Instant(from), TimePoint::Instant(to))
}

/// The last `span` up to now, as a relative range in the largest clock unit
/// that spells it exactly (`now-48h`, `now-90m`; days are wall-clock days,
/// so never used for a span of clock time).
pub fn last(span: TimeDelta) -> TimeRange {
    let seconds = span.num_seconds().max(1);
    let (amount, unit) = if seconds % 3_600 == 0 {
        (seconds / 3_600, Unit::Hour)
    } else if seconds % 60 == 0 {
        (seconds / 60, Unit::Minute)
    } else {
        (seconds, Unit::Second)
    };
    TimeRange::last(amount, unit)
}

/// The longest span the API answers for.
fn max_span() -> TimeDelta {
    TimeDelta::days(MAX_RANGE_DAYS)
}

/// Zoom out: twice the span around the same middle, but never past now (a
/// range that would reach past now ends now and keeps moving with it).
pub fn zoom_out(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> TimeRange {
    let span = (to - from) * 2;
    let span = span.min(max_span());
    let middle = from + (to - from) / 2;
    let end = middle + span / 2;
    if end >= now {
        last(span)
    } else {
        absolute(end - span, end)
    }
}

/// Which way a shift moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Back,
    Forward,
}

/// Half a span back or forward; forward stops at now (the range then ends
/// now and moves with the clock).
pub fn shift(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>, direction: Direction) -> TimeRange {
    let span = to - from;
    let step = span / 2;
    match direction {
        Direction::Back => absolute(from - step, to - step),
        Direction::Forward if to + step >= now => last(span),
        Direction::Forward => absolute(from + step, to + step),
    }
}

/// Whether a shift forward can move: not when the range already ends now.
pub fn can_shift_forward(range: &TimeRange, to: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    !ends_now(range) && to < now
}

/// A span in words: `15 min`, `24 h`, `7 d`, `1 h 30 min`.
pub fn span_label(span: TimeDelta) -> String {
    let minutes = span.num_minutes();
    let (days, hours, rest) = (minutes / 1_440, minutes / 60, minutes % 60);
    if span.num_seconds() < 60 {
        format!("{} s", span.num_seconds())
    } else if minutes % 1_440 == 0 && days >= 2 {
        format!("{days} d")
    } else if minutes < 60 {
        format!("{minutes} min")
    } else if rest == 0 {
        format!("{hours} h")
    } else {
        format!("{hours} h {rest} min")
    }
}

/// The instants of the buckets `first..=last` of a trend whose buckets
/// start at `starts`, clipped to the trend's range `[from, to)`: where a
/// drag or a click on the chart leads.
pub fn buckets_range(
    starts: &[DateTime<Utc>],
    first: usize,
    last: usize,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = (*starts.get(first)?).max(from);
    let end = starts.get(last + 1).copied().unwrap_or(to).min(to);
    (start < end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::at;
    use paypulse_shared::Amount;
    use paypulse_shared::payment::PaymentStatus;

    fn round_trip(route: &Route) -> String {
        let search = route.to_search();
        assert_eq!(&Route::from_search(&search), route, "{search}");
        search
    }

    #[test]
    fn every_page_round_trips_through_the_address_bar() {
        assert_eq!(round_trip(&Route::default()), "?bucket=1h&from=now-24h&to=now");
        assert_eq!(Route::from_search(""), Route::default());
        let list = Route::default().payments(
            Some(absolute(at("2026-11-24T14:00:00Z"), at("2026-11-24T14:30:00Z"))),
            PaymentFilter {
                statuses: [PaymentStatus::Failed].into(),
                methods: ["card".to_owned()].into(),
                min_amount: Some(Amount::parse("0.10").unwrap()),
                max_amount: Some(Amount::parse("99.5").unwrap()),
                external_id_prefix: Some("ord&1".into()),
                ..PaymentFilter::default()
            },
        );
        let list = Route {
            sort: Sort::LargestFirst,
            ..list
        };
        assert_eq!(
            round_trip(&list),
            "?view=payments&bucket=1h&from=2026-11-24T14%3A00%3A00Z&to=2026-11-24T14%3A30%3A00Z\
             &status=failed&method=card&minAmount=0.1&maxAmount=99.5&q=ord%261&sort=-amount"
        );
        let detail = list.payment("65a1b2c3d4e5f60718293a4b");
        assert!(round_trip(&detail).starts_with("?view=payment&id=65a1b2c3d4e5f60718293a4b&"));
        let hour = Route::default().hour_of_day(14);
        assert_eq!(
            round_trip(&hour),
            "?view=payments&bucket=1h&from=now-24h&to=now&hour=14"
        );
        let alerts = list.alerts();
        assert_eq!(
            round_trip(&alerts),
            "?view=alerts&bucket=1h&from=2026-11-24T14%3A00%3A00Z&to=2026-11-24T14%3A30%3A00Z",
            "no list filters"
        );
        assert_eq!(alerts.dashboard(), list.dashboard());
        let today = Route::default().with_range(PRESETS[6].range());
        assert_eq!(round_trip(&today), "?from=now%2Fd&to=now");
        // The dashboard carries no filters even if the state held some.
        assert_eq!(
            list.dashboard().to_search(),
            "?bucket=1h&from=2026-11-24T14%3A00%3A00Z&to=2026-11-24T14%3A30%3A00Z"
        );
    }

    #[test]
    fn links_with_foreign_or_broken_parameters_still_open() {
        let route = Route::from_search("?utm_source=mail&from=now-1h&to=now&status=pending");
        assert_eq!(route.range, TimeRange::last(1, Unit::Hour));
        assert!(route.filter.is_empty(), "the broken filter is dropped");
        assert_eq!(route.bucket, None);
        assert_eq!(
            Route::from_search("?view=nowhere&from=now-6h").range.from,
            Some(point("now-6h"))
        );
        assert_eq!(
            Route::from_search("?view=payment"),
            Route::default(),
            "no id: the dashboard"
        );
        assert_eq!(Route::from_search("?from=now-2h").range.to, Some(point("now")));
    }

    #[test]
    fn presets_and_period_toggles() {
        let labels: Vec<_> = PRESETS
            .iter()
            .map(|preset| preset.range().from.unwrap().to_string())
            .collect();
        assert_eq!(
            labels,
            [
                "now-15m", "now-1h", "now-6h", "now-24h", "now-7d", "now-30d", "now/d", "now-1d/d", "now/M", "now-1M/M"
            ]
        );
        assert_eq!(preset_of(&TimeRange::last(7, Unit::Day)).unwrap().label, "Last 7 days");
        assert_eq!(PRESETS[7].range().to, Some(point("now/d")));
        assert_eq!(Route::default().period(), Some(Period::Day));
        let week = Route::default().with_period(Period::Week);
        assert_eq!(
            (week.period(), week.bucket),
            (Some(Period::Week), Some(Bucket::SixHours))
        );
        assert_eq!(
            week.with_range(week.range).period(),
            None,
            "the same range in the server's buckets"
        );
    }

    #[test]
    fn zoom_out_doubles_around_the_middle_but_not_past_now() {
        let now = at("2026-11-24T12:00:00Z");
        assert_eq!(
            zoom_out(at("2026-11-24T08:00:00Z"), at("2026-11-24T09:00:00Z"), now),
            absolute(at("2026-11-24T07:30:00Z"), at("2026-11-24T09:30:00Z"))
        );
        assert_eq!(
            zoom_out(at("2026-11-24T11:00:00Z"), now, now),
            TimeRange::last(2, Unit::Hour),
            "a range ending now keeps ending now"
        );
        assert_eq!(
            zoom_out(at("2026-11-24T11:45:00Z"), at("2026-11-24T11:55:00Z"), now),
            TimeRange::last(20, Unit::Minute)
        );
        let long = zoom_out(now - TimeDelta::days(300), now, now);
        assert_eq!(
            long,
            TimeRange::last(400 * 24, Unit::Hour),
            "capped at what the API answers"
        );
    }

    #[test]
    fn shifts_move_half_a_span_and_stop_at_now() {
        let now = at("2026-11-24T12:00:00Z");
        let (from, to) = (at("2026-11-24T08:00:00Z"), at("2026-11-24T10:00:00Z"));
        assert_eq!(
            shift(from, to, now, Direction::Back),
            absolute(at("2026-11-24T07:00:00Z"), at("2026-11-24T09:00:00Z"))
        );
        assert_eq!(
            shift(from, to, now, Direction::Forward),
            absolute(at("2026-11-24T09:00:00Z"), at("2026-11-24T11:00:00Z"))
        );
        assert_eq!(
            shift(
                at("2026-11-24T09:30:00Z"),
                at("2026-11-24T11:30:00Z"),
                now,
                Direction::Forward
            ),
            TimeRange::last(2, Unit::Hour),
            "never past now"
        );
        assert!(!can_shift_forward(&TimeRange::last(1, Unit::Hour), now, now));
        assert!(can_shift_forward(&absolute(from, to), to, now));
    }

    #[test]
    fn spans_in_words() {
        let cases = [
            (15, "15 min"),
            (60, "1 h"),
            (90, "1 h 30 min"),
            (1_440, "24 h"),
            (2_880, "2 d"),
            (43_200, "30 d"),
        ];
        for (minutes, label) in cases {
            assert_eq!(span_label(TimeDelta::minutes(minutes)), label);
        }
        assert_eq!(last(TimeDelta::minutes(90)), TimeRange::last(90, Unit::Minute));
    }

    #[test]
    fn buckets_lead_to_their_slice_of_the_range() {
        let starts = [
            at("2026-11-24T09:00:00Z"),
            at("2026-11-24T10:00:00Z"),
            at("2026-11-24T11:00:00Z"),
        ];
        let (from, to) = (at("2026-11-24T09:20:00Z"), at("2026-11-24T11:40:00Z"));
        assert_eq!(
            buckets_range(&starts, 0, 0, from, to),
            Some((from, at("2026-11-24T10:00:00Z"))),
            "partial first"
        );
        assert_eq!(
            buckets_range(&starts, 1, 2, from, to),
            Some((at("2026-11-24T10:00:00Z"), to)),
            "up to the end"
        );
        assert_eq!(buckets_range(&starts, 3, 3, from, to), None);
    }
}
