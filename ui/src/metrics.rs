//! MetricsGrid: the tenant's headline numbers for the last 24 hours, fetched
//! from `/api/analytics/metrics`. Each figure carries the raw API value in
//! `data-value` beside its formatted text, so tests compare exact numbers.

use paypulse_shared::catalogue;
use paypulse_shared::wire::PaymentMetrics;
use sycamore::prelude::*;

use crate::api::{ApiClient, ApiFailure};
use crate::app::SessionState;
use crate::format;
use crate::session::Credentials;

/// Where a request stands.
#[derive(Clone, Debug, PartialEq)]
enum Load<T> {
    Loading,
    Ready(T),
    Failed(ApiFailure),
}

#[component(inline_props)]
pub fn MetricsGrid(credentials: Credentials) -> View {
    let state = use_context::<SessionState>();
    let metrics = create_signal(Load::<PaymentMetrics>::Loading);
    let client = ApiClient::new(credentials);
    let refresh = move || {
        let client = client.clone();
        metrics.set(Load::Loading);
        wasm_bindgen_futures::spawn_local(async move {
            metrics.set(match client.metrics().await {
                Ok(value) => Load::Ready(value),
                Err(failure) => Load::Failed(failure),
            });
        });
    };
    refresh();

    view! {
        section(class="metrics", aria-label="Last 24 hours") {
            div(class="section-head") {
                h2 { "Last 24 hours" }
                button(class="link", on:click=move |_| refresh()) { "Refresh" }
            }
            (move || match metrics.get_clone() {
                Load::Loading => view! { p(class="muted", data-testid="metrics-loading") { "Loading metrics…" } },
                Load::Failed(failure) => {
                    let sign_in_again = failure.needs_credentials();
                    view! {
                        div(class="error card", role="alert", data-testid="metrics-error", data-code=failure.code.clone()) {
                            p { (failure.message.clone()) }
                            (if sign_in_again {
                                view! { button(class="primary", on:click=move |_| state.sign_out()) { "Change tenant or key" } }
                            } else {
                                view! {}
                            })
                        }
                    }
                }
                Load::Ready(value) => cards(value),
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
            view! { span(class="bar", style=height, title=title) }
        })
        .collect();
    view! {
        div(class="grid", data-testid="metrics-grid", data-state="ready") {
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
