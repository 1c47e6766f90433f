//! MetricsGrid: the tenant's headline numbers for the range in the address
//! bar, each with its change against the previous period of the same length
//! (`compare=previous`), from `/api/analytics/metrics` through the query
//! cache, refetched (at most once a second) when live events arrive. Each
//! figure carries the raw API value in `data-value` (and the previous
//! period's in `data-previous`) beside its formatted text, and the grid the
//! range it covers, so tests compare exact numbers for the same range.
//!
//! The success rate, the top method, the volume and each hour of the day
//! lead to the payments behind them.

use paypulse_shared::catalogue;
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::wire::PaymentMetrics;
use sycamore::prelude::*;

use crate::app::SessionState;
use crate::compare::{Change, Good, Measure, change};
use crate::format;
use crate::navigation::Navigation;
use crate::queries::{Queries, metrics_query};
use crate::route::span_label;

#[component]
pub fn MetricsGrid() -> View {
    let state = use_context::<SessionState>();
    let queries = use_context::<Queries>();
    let navigation = use_context::<Navigation>();
    let range = create_selector(move || navigation.route.with(|route| route.range));
    let key = create_selector(move || paypulse_shared::query::to_query(&metrics_query(range.get())));
    {
        let queries = queries.clone();
        create_effect(move || queries.subscribe_metrics(&metrics_query(range.get())));
    }
    let cache = queries.metrics;
    let entry = move |read: &dyn Fn(&crate::store::query::Entry<PaymentMetrics, crate::api::ApiFailure>) -> bool| {
        key.with(|key| cache.with(|cache| cache.get(key).is_some_and(read)))
    };
    let data = create_selector(move || {
        key.with(|key| cache.with(|cache| cache.get(key).and_then(|entry| entry.data.clone())))
    });
    let error = create_selector(move || {
        key.with(|key| cache.with(|cache| cache.get(key).and_then(|entry| entry.error.clone())))
    });
    let loading = create_selector(move || entry(&|entry| entry.is_loading()));
    // Fetched after the last live event: what tests wait for before
    // comparing with the API (until then a refetch is due within a second).
    let fresh = create_selector(move || entry(&|entry| !entry.is_stale() && !entry.is_loading()));

    view! {
        section(class="metrics", aria-label="Metrics", aria-busy=move || loading.get().to_string(),
                data-testid="metrics", data-fresh=move || fresh.get().to_string()) {
            (move || match error.get_clone() {
                None => view! {},
                Some(failure) => {
                    let sign_in_again = failure.needs_credentials();
                    let stale = data.with(Option::is_some);
                    let (code, message) = (failure.code.as_str(), failure.message);
                    view! {
                        div(class="error card", role="alert", data-testid="metrics-error", data-code=code) {
                            p { (message) (if stale { " The numbers below are the last ones received." } else { "" }) }
                            (if sign_in_again {
                                view! { button(class="primary", on:click=move |_| state.sign_out()) { "Change tenant or key" } }
                            } else {
                                view! {}
                            })
                        }
                    }
                }
            })
            (move || match data.get_clone() {
                None if error.with(Option::is_none) => view! { p(class="muted", data-testid="metrics-loading") { "Loading metrics…" } },
                None => view! {},
                Some(value) => cards(value, navigation),
            })
        }
    }
}

/// A card's comparison line, with the raw values for tests.
fn change_line(testid: &'static str, change: Option<(Change, f64, f64)>) -> View {
    match change {
        None => view! {},
        Some((change, current, previous)) => {
            // Plain variables: an expression in an attribute would be made a
            // reactive closure of its own (code the size budget counts).
            let (class, testid) = (format!("change {}", change.tone), format!("change-{testid}"));
            let (direction, current, previous) = (change.trend.as_str(), format::raw(current), format::raw(previous));
            view! {
                span(class=class, data-testid=testid, data-direction=direction, data-current=current,
                     data-previous=previous, aria-label=change.spoken) {
                    (change.text)
                }
            }
        }
    }
}

fn method_name(id: &str) -> String {
    catalogue::method(id).map_or_else(|| id.to_owned(), |method| method.display_name.to_owned())
}

fn cards(metrics: PaymentMetrics, navigation: Navigation) -> View {
    let currency = metrics.currency.as_str();
    let span = span_label(metrics.to - metrics.from);
    let previous = metrics.previous.as_deref();
    let compare = |current: f64, previous: Option<f64>, measure: Measure, good: Good| {
        previous.map(|previous| (change(current, previous, measure, good, &span), current, previous))
    };
    let volume_change = compare(
        metrics.total_volume.to_f64(),
        previous.map(|previous| previous.total_volume.to_f64()),
        Measure::Percent,
        Good::WhenUp,
    );
    // An empty period has no rate to compare with (its 0 is "none").
    let rate_change = compare(
        metrics.success_rate,
        previous
            .filter(|previous| previous.count > 0)
            .map(|previous| previous.success_rate),
        Measure::Points,
        Good::WhenUp,
    )
    .filter(|_| metrics.count > 0);
    let average_change = compare(
        metrics.average_amount.to_f64(),
        previous.map(|previous| previous.average_amount.to_f64()),
        Measure::Percent,
        Good::Neither,
    );
    let methods_change = compare(
        f64::from(metrics.active_methods),
        previous.map(|previous| f64::from(previous.active_methods)),
        Measure::Count,
        Good::Neither,
    );
    let count_change = compare(
        metrics.count as f64,
        previous.map(|previous| previous.count as f64),
        Measure::Percent,
        Good::Neither,
    );
    let previous_top = previous.map(|previous| {
        let name = previous
            .top_payment_method
            .as_deref()
            .map_or_else(|| "none".to_owned(), method_name);
        (
            format!("Previous {span}: {name}"),
            previous.top_payment_method.clone().unwrap_or_default(),
        )
    });
    let previous_peak = previous.map(|previous| {
        let hour = previous.peak_hour.map_or_else(|| "none".to_owned(), format::hour_range);
        (
            format!("Previous {span}: {hour}"),
            previous.peak_hour.map_or_else(String::new, |hour| hour.to_string()),
        )
    });

    let total_text = format::money(metrics.total_volume, currency);
    let average_text = format::money(metrics.average_amount, currency);
    let peak = metrics.peak_hour.map_or_else(|| "—".to_owned(), format::hour_range);
    let peak_value = metrics.peak_hour.map_or_else(String::new, |hour| hour.to_string());
    let top_method = metrics.top_payment_method.clone();
    let top = top_method.as_deref().map_or_else(|| "—".to_owned(), method_name);
    let top_value = top_method.clone().unwrap_or_default();
    let timezone = metrics.timezone.clone();

    // Drill-downs: the same range, narrowed.
    let open = move |filter: PaymentFilter| {
        let route = navigation.route.get_clone_untracked();
        navigation.go(route.payments(None, filter));
    };
    let open_failed = move |_| {
        open(PaymentFilter {
            statuses: [PaymentStatus::Failed].into(),
            ..PaymentFilter::default()
        })
    };
    let open_succeeded = move |_| {
        open(PaymentFilter {
            statuses: [PaymentStatus::Succeeded, PaymentStatus::Refunded].into(),
            ..PaymentFilter::default()
        })
    };
    let open_top = {
        let top_method = top_method.clone();
        move |_| {
            if let Some(method) = top_method.clone() {
                open(PaymentFilter {
                    methods: [method].into(),
                    ..PaymentFilter::default()
                });
            }
        }
    };

    // The method breakdown: each method's share, each opening its payments.
    let largest = metrics
        .methods
        .iter()
        .map(|row| row.volume.to_f64())
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let method_rows: Vec<View> = metrics
        .methods
        .iter()
        .map(|row| {
            let method = row.method.clone();
            let name = method_name(&row.method);
            let volume = format::money(row.volume, currency);
            let detail = format!(
                "{} payments · {} succeeded",
                row.count,
                format::percent(row.success_rate)
            );
            let share = format!("width: {}%", format::fixed(row.volume.to_f64() * 100.0 / largest, 1));
            let label = format!("{name}: {volume}, {detail}; open its payments");
            let (method_id, volume_value, count_value) = (
                row.method.clone(),
                format::raw(row.volume.to_f64()),
                row.count.to_string(),
            );
            let open_method = move |_| {
                open(PaymentFilter {
                    methods: [method.clone()].into(),
                    ..PaymentFilter::default()
                })
            };
            view! {
                li {
                    button(class="method-row", data-testid="method-row", data-method=method_id,
                           data-volume=volume_value, data-count=count_value,
                           aria-label=label, on:click=open_method) {
                        span(class="method-name") { (name) }
                        span(class="method-share", aria-hidden="true") { span(class="bar", style=share) }
                        span(class="method-volume") { (volume) }
                        span(class="method-detail muted") { (detail) }
                    }
                }
            }
        })
        .collect();
    let empty_methods = metrics.methods.is_empty();

    let hovered_hour = create_signal(None::<usize>);
    let busiest = metrics.hourly_counts.iter().copied().max().unwrap_or(0).max(1);
    let hourly = metrics.hourly_counts.clone();
    let bars: Vec<View> = metrics
        .hourly_counts
        .iter()
        .enumerate()
        .map(|(hour, count)| {
            let height = format!("height: {}%", count * 100 / busiest);
            let label = format!("{}: {count} payments", format::hour_range(hour as u8));
            let count_text = count.to_string();
            let open_hour = move |_| {
                let route = navigation.route.get_clone_untracked();
                navigation.go(route.hour_of_day(hour as u8));
            };
            let title = label.clone();
            let hour_text = hour.to_string();
            view! {
                button(class="hour", data-testid="hour-bar", data-hour=hour_text, data-count=count_text,
                       aria-label=label, title=title, disabled=*count == 0,
                       on:mouseenter=move |_| hovered_hour.set(Some(hour)), on:focus=move |_| hovered_hour.set(Some(hour)),
                       on:mouseleave=move |_| hovered_hour.set(None), on:blur=move |_| hovered_hour.set(None),
                       on:click=open_hour) {
                    span(class="bar", style=height)
                }
            }
        })
        .collect();
    let hour_labels: Vec<View> = (0..24)
        .map(|hour| {
            let text = if hour % 3 == 0 {
                format!("{hour:02}")
            } else {
                String::new()
            };
            view! { span(class="hour-label") { (text) } }
        })
        .collect();
    let readout = move || match hovered_hour.get() {
        Some(hour) => format!(
            "{}: {} payments (click for them)",
            format::hour_range(hour as u8),
            hourly.get(hour).copied().unwrap_or(0)
        ),
        None => "Point at an hour for its count.".to_owned(),
    };
    let count_text = format!("{} payments", metrics.count);
    let rate_text = format::percent(metrics.success_rate);
    let methods_text = metrics.active_methods.to_string();
    let peak_label = format!("Peak hour ({timezone})");
    let (from_text, to_text) = (
        paypulse_shared::time::format_utc(&metrics.from),
        paypulse_shared::time::format_utc(&metrics.to),
    );
    let volume_line = change_line("metric-total-volume", volume_change);
    let rate_line = change_line("metric-success-rate", rate_change);
    let average_line = change_line("metric-average-amount", average_change);
    let count_line = change_line("metric-count", count_change);
    let methods_line = change_line("metric-active-methods", methods_change);
    let top_drill = if top_method.is_some() {
        view! { button(class="link drill", data-testid="drill-top-method", on:click=open_top) { "Its payments →" } }
    } else {
        view! {}
    };
    let previous_top_text = previous_top.clone().map(|(text, _)| text).unwrap_or_default();
    let previous_top_value = previous_top.map(|(_, value)| value).unwrap_or_default();
    let previous_peak_text = previous_peak.clone().map(|(text, _)| text).unwrap_or_default();
    let previous_peak_value = previous_peak.map(|(_, value)| value).unwrap_or_default();
    let (total_value, rate_value, average_value) = (
        metrics.total_volume.to_string(),
        format::raw(metrics.success_rate),
        metrics.average_amount.to_string(),
    );
    let (count_value, methods_value) = (metrics.count.to_string(), metrics.active_methods.to_string());
    view! {
        div(class="grid", data-testid="metrics-grid", data-state="ready", data-from=from_text, data-to=to_text) {
            div(class="card metric") {
                span(class="label") { "Total volume" }
                span(class="value", data-testid="metric-total-volume", data-value=total_value) { (total_text) }
                (volume_line)
                button(class="link drill", data-testid="drill-succeeded", on:click=open_succeeded) { "Succeeded payments →" }
            }
            div(class="card metric") {
                span(class="label") { "Success rate" }
                span(class="value", data-testid="metric-success-rate", data-value=rate_value) {
                    (rate_text)
                }
                (rate_line)
                button(class="link drill", data-testid="drill-failed", on:click=open_failed) { "Failed payments and reasons →" }
            }
            div(class="card metric") {
                span(class="label") { "Average amount" }
                span(class="value", data-testid="metric-average-amount", data-value=average_value) { (average_text) }
                (average_line)
            }
            div(class="card metric") {
                span(class="label") { "Payments" }
                span(class="value", data-testid="metric-count", data-value=count_value) { (count_text) }
                (count_line)
            }
            div(class="card metric") {
                span(class="label") { "Active methods" }
                span(class="value", data-testid="metric-active-methods", data-value=methods_value) {
                    (methods_text)
                }
                (methods_line)
            }
            div(class="card metric") {
                span(class="label") { "Top method" }
                span(class="value", data-testid="metric-top-method", data-value=top_value) { (top) }
                span(class="change neutral", data-testid="change-metric-top-method", data-previous=previous_top_value) { (previous_top_text) }
                (top_drill)
            }
            div(class="card metric wide", data-testid="method-breakdown") {
                span(class="label") { "Payment methods" }
                (if empty_methods {
                    view! { p(class="muted") { "No payments in this range." } }
                } else {
                    view! {}
                })
                ul(class="methods") { (method_rows) }
            }
            div(class="card metric wide") {
                span(class="label") { (peak_label) }
                span(class="value", data-testid="metric-peak-hour", data-value=peak_value) { (peak) }
                span(class="change neutral", data-testid="change-metric-peak-hour", data-previous=previous_peak_value) { (previous_peak_text) }
                div(class="hours", role="group", aria-label="Payments per hour of day; each opens that hour's payments") { (bars) }
                div(class="hour-labels", aria-hidden="true") { (hour_labels) }
                p(class="muted hour-readout", data-testid="hour-readout", aria-live="polite") { (readout) }
            }
        }
    }
}
