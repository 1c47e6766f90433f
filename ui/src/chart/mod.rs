//! TrendChart: volume (bars, left axis) and success rate (line, right axis)
//! over the range in the address bar, from `/api/analytics/trends` through
//! the query cache. The server picks the bucket from the span unless the
//! route names one (the Day/Week/Month toggles: the last 24 hours, 7 days,
//! 30 days in the period's buckets). Anomalous buckets are marked in colour
//! and with a sign; hovering (or the arrow keys) shows a bucket's numbers;
//! dragging across buckets sets the range to them, so the chart refetches
//! in finer buckets; a click (or Enter) on a bucket opens its payments; the
//! chart can fill the window and export its points as CSV.
//!
//! Our own SVG rather than a charting library: what is needed (two axes,
//! drag, tooltips) is small, and the JavaScript charting libraries would
//! each cost more than the dashboard's whole size budget.

pub mod geometry;

use chrono::{DateTime, Utc};
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::query::{TrendsExportQuery, TrendsQuery, to_query};
use paypulse_shared::wire::{AnomalyKind, Period, TrendData};
use sycamore::prelude::*;
use wasm_bindgen::JsCast;

use crate::export::ExportButton;
use crate::format::{self, TimeStyle};
use crate::navigation::Navigation;
use crate::queries::Queries;
use crate::route::{absolute, buckets_range};
use geometry::Geometry;

/// The chart's drawing box; the SVG scales it to the page's width.
const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 300.0;

/// Why a bucket is marked, in words: from its `anomalyKinds`, or the
/// failure rate alone for a server that does not say (it flagged nothing
/// else).
pub fn anomaly_texts(point: &TrendData) -> Vec<&'static str> {
    if !point.anomaly {
        return Vec::new();
    }
    if point.anomaly_kinds.is_empty() {
        return vec!["Unusual failure rate"];
    }
    point
        .anomaly_kinds
        .iter()
        .map(|kind| match kind {
            AnomalyKind::FailureRateHigh => "Unusual failure rate",
            AnomalyKind::VolumeLow => "Volume far below usual",
            AnomalyKind::VolumeHigh => "Volume far above usual",
        })
        .collect()
}

fn period_label(period: Period) -> &'static str {
    match period {
        Period::Day => "Day",
        Period::Week => "Week",
        Period::Month => "Month",
    }
}

/// The pointer's x in the drawing box's units.
fn box_x(event: &web_sys::MouseEvent) -> Option<f64> {
    let target = event.current_target()?.dyn_into::<web_sys::Element>().ok()?;
    let rect = target.get_bounding_client_rect();
    (rect.width() > 0.0).then(|| (f64::from(event.client_x()) - rect.left()) / rect.width() * WIDTH)
}

/// The range `[from, to)` the chart's buckets cover: the server's
/// resolution of the route's range when known (from the metrics answer for
/// the same range), else the buckets themselves.
fn covered(
    points: &[TrendData],
    resolved: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if let Some(resolved) = resolved {
        return Some(resolved);
    }
    let first = points.first()?.timestamp;
    let last = points.last()?.timestamp;
    let width = points
        .get(1)
        .map_or(chrono::TimeDelta::hours(1), |second| second.timestamp - first);
    Some((first, last + width))
}

#[component]
pub fn TrendChart() -> View {
    let queries = use_context::<Queries>();
    let navigation = use_context::<Navigation>();
    let query = create_selector(move || {
        navigation.route.with(|route| TrendsQuery {
            period: None,
            range: route.range,
            bucket: route.bucket,
        })
    });
    let key = create_selector(move || query.with(to_query));
    let period = create_selector(move || navigation.route.with(|route| route.period()));
    let hovered = create_signal(None::<usize>);
    let drag_start = create_signal(None::<f64>);
    let drag_now = create_signal(None::<f64>);
    let full = create_signal(false);
    {
        let queries = queries.clone();
        create_effect(move || {
            let query = query.get_clone();
            hovered.set(None);
            // Unsubscribed again when the range changes (the effect's
            // cleanup) or the chart goes away.
            queries.subscribe_trend(&query);
        });
    }
    let trends = queries.trends;
    let points = create_selector(move || {
        key.with(|key| trends.with(|cache| cache.get(key).and_then(|entry| entry.data.clone())))
    });
    let error = create_selector(move || {
        key.with(|key| trends.with(|cache| cache.get(key).and_then(|entry| entry.error.clone())))
    });
    let fresh = create_selector(move || {
        key.with(|key| {
            trends.with(|cache| {
                cache
                    .get(key)
                    .is_some_and(|entry| !entry.is_stale() && !entry.is_loading())
            })
        })
    });
    let resolved = {
        let queries = queries.clone();
        create_selector(move || queries.resolved(query.with(|query| query.range)))
    };
    let tenant = queries.tenant;
    let timezone = create_selector(move || {
        tenant.with(|tenant| {
            tenant
                .as_ref()
                .map_or_else(|| "UTC".to_owned(), |tenant| tenant.timezone.clone())
        })
    });
    // Recomputed only when the points change.
    let geometry = create_memo(move || {
        points.with(|points| {
            points
                .as_ref()
                .map(|points| Geometry::new(points, 0..points.len(), WIDTH, HEIGHT))
        })
    });
    // The instants of buckets `first..=last`, clipped to the range.
    let slice_of = move |first: usize, last: usize| {
        points.with_untracked(|points| {
            let points = points.as_ref()?;
            let (from, to) = covered(points, resolved.get_untracked())?;
            let starts: Vec<DateTime<Utc>> = points.iter().map(|point| point.timestamp).collect();
            buckets_range(&starts, first, last, from, to)
        })
    };
    let zoom_to = move |first: usize, last: usize| {
        if let Some((from, to)) = slice_of(first, last) {
            let route = navigation.route.get_clone_untracked();
            navigation.go(route.with_range(absolute(from, to)));
        }
    };
    let open_bucket = move |index: usize| {
        if let Some((from, to)) = slice_of(index, index) {
            let route = navigation.route.get_clone_untracked();
            navigation.go(route.payments(Some(absolute(from, to)), PaymentFilter::default()));
        }
    };

    let buttons: Vec<View> = Period::ALL
        .into_iter()
        .map(|choice| {
            let select = move |_| {
                let route = navigation.route.get_clone_untracked();
                navigation.go(route.with_period(choice));
            };
            let (testid, label) = (format!("period-{choice}"), period_label(choice));
            view! {
                button(class="toggle", data-testid=testid,
                       aria-pressed=move || (period.get() == Some(choice)).to_string(),
                       on:click=select) {
                    (label)
                }
            }
        })
        .collect();

    let on_down = move |event: web_sys::MouseEvent| {
        if let Some(x) = box_x(&event) {
            drag_start.set(Some(x));
            drag_now.set(Some(x));
        }
    };
    let on_move = move |event: web_sys::MouseEvent| {
        let x = box_x(&event);
        hovered.set(x.and_then(|x| geometry.with(|geometry| geometry.as_ref()?.bucket_at(x))));
        if drag_start.get_untracked().is_some() {
            drag_now.set(x);
        }
    };
    let on_up = move |event: web_sys::MouseEvent| {
        let (Some(start), Some(end)) = (drag_start.get_untracked(), box_x(&event)) else {
            return;
        };
        drag_start.set(None);
        drag_now.set(None);
        let (dragged, clicked) = geometry.with_untracked(|geometry| match geometry.as_ref() {
            Some(geometry) => (geometry.drag_range(start, end), geometry.bucket_at(end)),
            None => (None, None),
        });
        match (dragged, clicked) {
            (Some(range), _) => zoom_to(range.start, range.end - 1),
            (None, Some(index)) if (start - end).abs() < 4.0 => open_bucket(index),
            _ => {}
        }
    };
    let on_leave = move |_| {
        hovered.set(None);
        drag_start.set(None);
        drag_now.set(None);
    };
    let on_key = move |event: web_sys::KeyboardEvent| {
        let Some(range) = geometry.with_untracked(|geometry| geometry.as_ref().map(|geometry| geometry.range.clone()))
        else {
            return;
        };
        let current = hovered.get_untracked();
        let next = match event.key().as_str() {
            "ArrowRight" => Some(current.map_or(range.start, |index| (index + 1).min(range.end.saturating_sub(1)))),
            "ArrowLeft" => Some(current.map_or(range.end.saturating_sub(1), |index| index.max(range.start + 1) - 1)),
            "Escape" => {
                full.set(false);
                None
            }
            "Enter" => {
                if let Some(index) = current {
                    open_bucket(index);
                }
                None
            }
            _ => return,
        };
        event.prevent_default();
        hovered.set(next);
    };

    let svg = move || {
        let Some(geometry) = geometry.get_clone() else {
            return view! {};
        };
        let bars: Vec<View> = geometry
            .bars
            .iter()
            .map(|bar| {
                let point =
                    points.with_untracked(|points| points.as_ref().and_then(|points| points.get(bar.index).cloned()));
                let Some(point) = point else {
                    return view! {};
                };
                let index = bar.index;
                let class = move || {
                    let mut class = String::from("volume");
                    if point.anomaly {
                        class.push_str(" anomaly");
                    }
                    if hovered.get() == Some(index) {
                        class.push_str(" hovered");
                    }
                    class
                };
                let marker = if point.anomaly {
                    let x = format::fixed(bar.x + bar.width / 2.0, 1);
                    let y = format::fixed((bar.y - 6.0).max(geometry::MARGIN_TOP + 8.0), 1);
                    view! { text(class="anomaly-mark", x=x, y=y, text-anchor="middle") { "!" } }
                } else {
                    view! {}
                };
                let timestamp = paypulse_shared::time::format_utc(&point.timestamp);
                let amount = point.amount.to_string();
                let count = point.count.to_string();
                let rate = format::raw(point.success_rate);
                let anomaly = point.anomaly.to_string();
                let kinds: Vec<&str> = point
                    .anomaly_kinds
                    .iter()
                    .map(|kind| match kind {
                        AnomalyKind::VolumeLow => "volume_low",
                        AnomalyKind::VolumeHigh => "volume_high",
                        AnomalyKind::FailureRateHigh => "failure_rate_high",
                    })
                    .collect();
                let kinds = kinds.join(" ");
                let (x, y) = (format::fixed(bar.x, 1), format::fixed(bar.y, 1));
                let (width, height) = (format::fixed(bar.width, 1), format::fixed(bar.height.max(0.5), 1));
                // The usual range of volume, a light band behind the bar.
                let band = match bar.band {
                    Some((top, band_height)) => {
                        let (band_x, band_y) = (x.clone(), format::fixed(top, 1));
                        let (band_width, band_height) = (width.clone(), format::fixed(band_height, 1));
                        view! { rect(class="band", data-testid="expected-band", x=band_x, y=band_y, width=band_width, height=band_height) }
                    }
                    None => view! {},
                };
                view! {
                    (band)
                    rect(class=class, data-testid="trend-point", data-timestamp=timestamp, data-amount=amount,
                         data-count=count, data-success-rate=rate, data-anomaly=anomaly, data-anomaly-kinds=kinds,
                         x=x, y=y, width=width, height=height)
                    (marker)
                }
            })
            .collect();
        let tick_label = |x: f64, y: f64, anchor: &'static str, class: &'static str, label: String| {
            let (x, y) = (format::fixed(x, 1), format::fixed(y + 4.0, 1));
            view! { text(class=class, x=x, y=y, text-anchor=anchor) { (label) } }
        };
        let left: Vec<View> = geometry
            .volume_ticks
            .iter()
            .map(|tick| {
                tick_label(
                    geometry::MARGIN_LEFT - 6.0,
                    tick.at,
                    "end",
                    "tick",
                    format::compact(tick.value),
                )
            })
            .collect();
        let right: Vec<View> = geometry
            .rate_ticks
            .iter()
            .map(|tick| {
                let x = WIDTH - geometry::MARGIN_RIGHT + 6.0;
                tick_label(
                    x,
                    tick.at,
                    "start",
                    "tick rate",
                    format!("{}%", format::trim_number(tick.value)),
                )
            })
            .collect();
        let grid: Vec<View> = geometry
            .volume_ticks
            .iter()
            .map(|tick| {
                let (y1, y2) = (format::fixed(tick.at, 1), format::fixed(tick.at, 1));
                let (x1, x2) = (
                    format::trim_number(geometry::MARGIN_LEFT),
                    format::trim_number(WIDTH - geometry::MARGIN_RIGHT),
                );
                view! { line(class="gridline", x1=x1, x2=x2, y1=y1, y2=y2) }
            })
            .collect();
        let style = points.with_untracked(|points| {
            let points = points.as_deref().unwrap_or_default();
            match (points.first(), points.last()) {
                (Some(first), Some(last)) if last.timestamp - first.timestamp >= chrono::TimeDelta::days(20) => {
                    TimeStyle::Day
                }
                (Some(first), Some(last)) if last.timestamp - first.timestamp >= chrono::TimeDelta::hours(23) => {
                    TimeStyle::DayHour
                }
                _ => TimeStyle::Hour,
            }
        });
        let zone = timezone.get_clone();
        let times: Vec<View> = geometry
            .time_ticks
            .iter()
            .filter_map(|tick| {
                let point = points.with_untracked(|points| points.as_ref()?.get(tick.index).cloned())?;
                let label = format::local_time(&point.timestamp, &zone, style);
                Some(tick_label(
                    tick.x,
                    HEIGHT - geometry::MARGIN_BOTTOM + 14.0,
                    "middle",
                    "tick",
                    label,
                ))
            })
            .collect();
        let rate_path = geometry.rate_path.clone();
        let rate_axis = format!("{}–100%", format::trim_number(geometry.rate_floor));
        let rate_axis_x = format::fixed(WIDTH - 4.0, 1);
        let selection = move || {
            let (Some(start), Some(now)) = (drag_start.get(), drag_now.get()) else {
                return view! {};
            };
            let x = format::fixed(start.min(now), 1);
            let width = format::fixed((start - now).abs(), 1);
            let y = format::trim_number(geometry::MARGIN_TOP);
            let height = format::trim_number(HEIGHT - geometry::MARGIN_TOP - geometry::MARGIN_BOTTOM);
            view! { rect(class="selection", x=x, y=y, width=width, height=height) }
        };
        view! {
            (grid) (bars) (left) (right) (times)
            path(class="rate-line", d=rate_path)
            text(class="tick rate axis-name", x=rate_axis_x, y="9", text-anchor="end", data-testid="rate-axis") { (rate_axis) }
            (selection)
        }
    };

    let tooltip = move || {
        let Some(index) = hovered.get() else {
            return view! {};
        };
        let point: Option<TrendData> =
            points.with(|points| points.as_ref().and_then(|points| points.get(index).cloned()));
        let Some(point) = point else {
            return view! {};
        };
        let currency = tenant.with(|tenant| {
            tenant
                .as_ref()
                .map(|tenant| tenant.currency.clone())
                .unwrap_or_default()
        });
        let when = format::local_time(&point.timestamp, &timezone.get_clone(), TimeStyle::DayHour);
        // The bucket's raw figures, as every figure on the page carries them.
        let timestamp = paypulse_shared::time::format_utc(&point.timestamp);
        let amount = point.amount.to_string();
        let count = point.count.to_string();
        let rate = format::raw(point.success_rate);
        let volume = format!("Volume {}", format::money(point.amount, &currency));
        let payments = format!("{} payments", point.count);
        let success = format!("Success rate {}", format::percent(point.success_rate));
        let usual = point
            .expected
            .as_ref()
            .map(|expected| {
                format!(
                    "Usual volume {} to {}",
                    format::money(expected.volume.low, &currency),
                    format::money(expected.volume.high, &currency)
                )
            })
            .unwrap_or_default();
        let anomalies: Vec<View> = anomaly_texts(&point)
            .into_iter()
            .map(|text| view! { span(class="anomaly-text", data-testid="anomaly-text") { "! " (text) } })
            .collect();
        view! {
            div(class="tooltip card", role="status", data-testid="trend-tooltip", data-timestamp=timestamp,
                data-amount=amount, data-count=count, data-success-rate=rate) {
                strong { (when) }
                span { (volume) }
                span { (payments) }
                span { (success) }
                span(class="muted") { (usual) }
                (anomalies)
            }
        }
    };

    view! {
        section(class=move || if full.get() { "card chart full" } else { "card chart" }, aria-label="Trends") {
            div(class="section-head") {
                h2 { "Trends" }
                div(class="toggles", role="group", aria-label="Period") { (buttons) }
                ExportButton(what="the chart's points", name="trend.csv", path=move || {
                    format!("/api/analytics/trends.csv?{}", to_query(&TrendsExportQuery {
                        trend: query.get_clone_untracked(),
                        tz: None,
                        ticket: None,
                    }))
                })
                button(class="link", data-testid="chart-fullscreen", aria-pressed=move || full.get().to_string(),
                       on:click=move |_| full.set(!full.get_untracked())) {
                    (move || if full.get() { "Exit full screen" } else { "Full screen" })
                }
            }
            p(class="legend muted") {
                span(class="key volume-key") { "▮ Volume (left axis)" }
                span(class="key rate-key") { "— Success rate (right axis, scaled to the data)" }
                span(class="key band-key") { "▭ Usual volume" }
                span(class="key anomaly-key") { "! Unusual failure rate or volume" }
            }
            (move || match error.get_clone() {
                Some(failure) => view! { p(class="error", role="alert") { (failure.message.clone()) } },
                None => view! {},
            })
            div(class="chart-box") {
                svg(data-testid="trend-chart", data-period=move || period.get().map_or("custom", Period::as_str),
                    data-points=move || geometry.with(|geometry| geometry.as_ref().map_or(0, |geometry| geometry.range.len())).to_string(),
                    data-query=move || key.get_clone(),
                    data-rate-floor=move || format::trim_number(geometry.with(|geometry| geometry.as_ref().map_or(0.0, |geometry| geometry.rate_floor))),
                    data-fresh=move || fresh.get().to_string(),
                    "viewBox"="0 0 960 300", "role"="img", "tabindex"="0",
                    aria-label="Volume and success rate per bucket; arrow keys step through buckets, Enter opens a bucket's payments, drag to zoom in",
                    on:mousedown=on_down, on:mousemove=on_move, on:mouseup=on_up, on:mouseleave=on_leave, on:keydown=on_key) {
                    (svg)
                }
                (tooltip)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomalies_are_named_by_their_kinds() {
        let mut point = TrendData {
            timestamp: DateTime::UNIX_EPOCH,
            amount: paypulse_shared::Amount::from_minor(0, 2),
            count: 0,
            success_rate: 0.0,
            anomaly: false,
            anomaly_kinds: Vec::new(),
            expected: None,
        };
        assert!(anomaly_texts(&point).is_empty());
        point.anomaly = true;
        assert_eq!(
            anomaly_texts(&point),
            ["Unusual failure rate"],
            "a server that does not say"
        );
        point.anomaly_kinds = vec![AnomalyKind::VolumeLow, AnomalyKind::FailureRateHigh];
        assert_eq!(
            anomaly_texts(&point),
            ["Volume far below usual", "Unusual failure rate"]
        );
        point.anomaly_kinds = vec![AnomalyKind::VolumeHigh];
        assert_eq!(anomaly_texts(&point), ["Volume far above usual"]);
    }
}
