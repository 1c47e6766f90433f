//! MetricsGrid: the tenant's headline numbers for the last 24 hours, from
//! `/api/analytics/metrics` through the query cache, refetched (at most once
//! a second) when live events arrive. Each figure carries the raw API value
//! in `data-value` beside its formatted text, and the grid the range it
//! covers, so tests compare exact numbers for the same range.

use paypulse_shared::catalogue;
use paypulse_shared::wire::PaymentMetrics;
use sycamore::prelude::*;

use crate::app::SessionState;
use crate::format;
use crate::queries::{Last24Hours, Queries};

#[component]
pub fn MetricsGrid() -> View {
    let state = use_context::<SessionState>();
    let queries = use_context::<Queries>();
    queries.subscribe_metrics();
    let cache = queries.metrics;
    let data =
        create_selector(move || cache.with(|cache| cache.get(&Last24Hours).and_then(|entry| entry.data.clone())));
    let error =
        create_selector(move || cache.with(|cache| cache.get(&Last24Hours).and_then(|entry| entry.error.clone())));
    let loading =
        create_selector(move || cache.with(|cache| cache.get(&Last24Hours).is_some_and(|entry| entry.is_loading())));
    // Fetched after the last live event: what tests wait for before
    // comparing with the API (until then a refetch is due within a second).
    let fresh = create_selector(move || {
        cache.with(|cache| {
            cache
                .get(&Last24Hours)
                .is_some_and(|entry| !entry.is_stale() && !entry.is_loading())
        })
    });

    view! {
        section(class="metrics", aria-label="Last 24 hours", aria-busy=move || loading.get().to_string(),
                data-testid="metrics", data-fresh=move || fresh.get().to_string()) {
            div(class="section-head") {
                h2 { "Last 24 hours" }
            }
            (move || match error.get_clone() {
                None => view! {},
                Some(failure) => {
                    let sign_in_again = failure.needs_credentials();
                    let stale = data.with(Option::is_some);
                    view! {
                        div(class="error card", role="alert", data-testid="metrics-error", data-code=failure.code.as_str()) {
                            p { (failure.message.clone()) (if stale { " The numbers below are the last ones received." } else { "" }) }
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
                Some(value) => cards(value),
            })
        }
    }
}

fn cards(metrics: PaymentMetrics) -> View {
    let currency = metrics.currency.as_str();
    let total_text = format::money(metrics.total_volume, currency);
    let average_text = format::money(metrics.average_amount, currency);
    let peak = metrics.peak_hour.map_or_else(|| "—".to_owned(), format::hour_range);
    let peak_value = metrics.peak_hour.map_or_else(String::new, |hour| hour.to_string());
    let top = metrics.top_payment_method.as_deref().map_or_else(
        || "—".to_owned(),
        |id| catalogue::method(id).map_or_else(|| id.to_owned(), |method| method.display_name.to_owned()),
    );
    let top_value = metrics.top_payment_method.clone().unwrap_or_default();
    let timezone = metrics.timezone.clone();
    let busiest = metrics.hourly_counts.iter().copied().max().unwrap_or(0).max(1);
    let bars: Vec<View> = metrics
        .hourly_counts
        .iter()
        .enumerate()
        .map(|(hour, count)| {
            let height = format!("height: {}%", count * 100 / busiest);
            let title = format!("{}: {count} payments", format::hour_range(hour as u8));
            let count = count.to_string();
            view! { span(class="bar", style=height, title=title, data-testid="hour-bar", data-count=count) }
        })
        .collect();
    let (from, to) = (
        paypulse_shared::time::format_utc(&metrics.from),
        paypulse_shared::time::format_utc(&metrics.to),
    );
    view! {
        div(class="grid", data-testid="metrics-grid", data-state="ready", data-from=from, data-to=to) {
            Card(label="Total volume", testid="metric-total-volume", value=metrics.total_volume.to_f64().to_string(),
                 text=total_text)
            Card(label="Success rate", testid="metric-success-rate", value=metrics.success_rate.to_string(),
                 text=format::percent(metrics.success_rate))
            Card(label="Average amount", testid="metric-average-amount", value=metrics.average_amount.to_f64().to_string(),
                 text=average_text)
            Card(label="Active methods", testid="metric-active-methods", value=metrics.active_methods.to_string(),
                 text=metrics.active_methods.to_string())
            Card(label="Top method", testid="metric-top-method", value=top_value, text=top)
            div(class="card metric wide") {
                span(class="label") { (format!("Peak hour ({timezone})")) }
                span(class="value", data-testid="metric-peak-hour", data-value=peak_value) { (peak) }
                div(class="hours", aria-label="Payments per hour of day") { (bars) }
            }
        }
    }
}

#[component(inline_props)]
fn Card(label: &'static str, testid: &'static str, value: String, text: String) -> View {
    view! {
        div(class="card metric") {
            span(class="label") { (label) }
            span(class="value", data-testid=testid, data-value=value) { (text) }
        }
    }
}
