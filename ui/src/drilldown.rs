//! Drill-downs: the payment list of a slice (`payment-list`: a range and
//! filters, server-paginated with the cursor, ordered by time or amount,
//! exportable as CSV), one payment (`payment-detail`: every field and its
//! timeline, refetched when live events arrive, so a refund shows while it
//! is open), and the `breadcrumbs` that lead back. Every step is a route,
//! so it is in the address bar.

use paypulse_shared::catalogue;
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::money::Amount;
use paypulse_shared::payment::{Payment, PaymentStatus};
use paypulse_shared::query::{ExportQuery, PaymentListQuery, Sort, to_query};
use sycamore::prelude::*;
use wasm_bindgen::JsCast;

use crate::export::ExportButton;
use crate::format::{self, TimeStyle};
use crate::navigation::Navigation;
use crate::queries::Queries;
use crate::route::{Page, Route, preset_of};

fn method_name(id: &str) -> String {
    catalogue::method(id).map_or_else(|| id.to_owned(), |method| method.display_name.to_owned())
}

/// A status in words, and its style class (colour never alone).
fn status_label(status: PaymentStatus) -> (&'static str, &'static str) {
    match status {
        PaymentStatus::Succeeded => ("Succeeded", "received"),
        PaymentStatus::Failed => ("Failed", "failed"),
        PaymentStatus::Refunded => ("Refunded", "refunded"),
    }
}

fn zone_of(queries: &Queries) -> String {
    queries
        .tenant
        .with(|tenant| tenant.as_ref().map(|tenant| tenant.timezone.clone()))
        .unwrap_or_else(|| "UTC".to_owned())
}

/// The slice a list shows, in words: `Last 24 hours · Failed · Card`.
pub fn describe(route: &Route, zone: &str) -> String {
    let mut parts = vec![match preset_of(&route.range) {
        Some(preset) => preset.label.to_owned(),
        None => match (route.range.from, route.range.to) {
            (
                Some(paypulse_shared::range::TimePoint::Instant(from)),
                Some(paypulse_shared::range::TimePoint::Instant(to)),
            ) => format!(
                "{} – {}",
                format::local_time(&from, zone, TimeStyle::DayHour),
                format::local_time(&to, zone, TimeStyle::DayHour)
            ),
            (from, to) => format!(
                "{} to {}",
                from.map(|point| point.to_string()).unwrap_or_default(),
                to.map(|point| point.to_string()).unwrap_or_default()
            ),
        },
    }];
    if let Some(hour) = route.hour {
        parts.push(format!("{} each day", format::hour_range(hour)));
    }
    let filter = &route.filter;
    if !filter.statuses.is_empty() {
        let names: Vec<&str> = filter.statuses.iter().map(|status| status_label(*status).0).collect();
        parts.push(names.join(" or "));
    }
    if !filter.methods.is_empty() {
        let names: Vec<String> = filter.methods.iter().map(|method| method_name(method)).collect();
        parts.push(names.join(" or "));
    }
    match (filter.min_amount, filter.max_amount) {
        (Some(min), Some(max)) => parts.push(format!("{min} to {max}")),
        (Some(min), None) => parts.push(format!("at least {min}")),
        (None, Some(max)) => parts.push(format!("at most {max}")),
        (None, None) => {}
    }
    if let Some(prefix) = &filter.external_id_prefix {
        parts.push(format!("external id {prefix}…"));
    }
    parts.join(" · ")
}

/// A link to `route` that navigates in place (and opens in a new tab with
/// the usual gestures, as it is a real address).
pub fn route_link(route: Route, label: String, testid: &'static str) -> View {
    let navigation = use_context::<Navigation>();
    let href = route.to_search();
    let follow = move |event: web_sys::MouseEvent| {
        if event.ctrl_key() || event.meta_key() || event.shift_key() || event.button() != 0 {
            return;
        }
        event.prevent_default();
        navigation.go(route.clone());
    };
    view! { a(href=href, data-testid=testid, on:click=follow) { (label) } }
}

#[component]
pub fn Breadcrumbs() -> View {
    let navigation = use_context::<Navigation>();
    let queries = use_context::<Queries>();
    view! {
        (move || {
            let route = navigation.route.get_clone();
            let zone = zone_of(&queries);
            let list = Route {
                page: Page::Payments,
                ..route.clone()
            };
            let home = route_link(route.dashboard(), "Dashboard".into(), "crumb-dashboard");
            let crumbs = match &route.page {
                Page::Dashboard => return view! {},
                Page::Alerts => view! {
                    li { (home) }
                    li(aria-current="page") { "Alerts" }
                },
                Page::Payments => {
                    let here = format!("Payments: {}", describe(&route, &zone));
                    view! {
                        li { (home) }
                        li(aria-current="page") { (here) }
                    }
                }
                Page::Payment { id } => {
                    let here = format!("Payment {id}");
                    let up = route_link(list.clone(), format!("Payments: {}", describe(&list, &zone)), "crumb-payments");
                    view! {
                        li { (home) }
                        li { (up) }
                        li(aria-current="page") { (here) }
                    }
                }
            };
            view! { nav(class="breadcrumbs", aria-label="Breadcrumbs", data-testid="breadcrumbs") { ol { (crumbs) } } }
        })
    }
}

/// The list of the route's slice.
#[component]
pub fn PaymentList() -> View {
    let navigation = use_context::<Navigation>();
    let queries = use_context::<Queries>();
    let list = create_selector(move || navigation.route.with(Route::list_query));
    // The cursors of the pages shown: the first page, then one per "More".
    let cursors = create_signal(vec![None::<String>]);
    {
        let queries = queries.clone();
        create_effect(move || {
            let list = list.get_clone();
            let cursors = cursors.get_clone();
            for cursor in cursors {
                queries.subscribe_page(&PaymentListQuery { cursor, ..list.clone() });
            }
        });
    }
    create_effect(move || {
        list.track();
        cursors.set(vec![None]);
    });
    let pages = queries.pages;
    // Every row of the pages loaded, whether all are in, and any failure.
    let loaded = create_memo(move || {
        let list = list.get_clone();
        let cursors = cursors.get_clone();
        pages.with(|cache| {
            let mut rows: Vec<Payment> = Vec::new();
            let mut next = None;
            let mut loading = false;
            let mut failure = None;
            for cursor in cursors {
                let key = to_query(&PaymentListQuery { cursor, ..list.clone() });
                match cache.get(&key) {
                    Some(entry) => {
                        loading |= entry.is_loading();
                        failure = failure.or_else(|| entry.error.clone());
                        match &entry.data {
                            Some(page) => {
                                rows.extend(page.items.iter().cloned());
                                next = page.next_cursor.clone();
                            }
                            None => loading = true,
                        }
                    }
                    None => loading = true,
                }
            }
            (rows, next, loading, failure)
        })
    });
    let more = move |_| {
        if let Some(cursor) = loaded.with_untracked(|(_, next, _, _)| next.clone()) {
            cursors.update(|cursors| cursors.push(Some(cursor)));
        }
    };
    let refresh = {
        let queries = queries.clone();
        move |_| queries.reload_pages()
    };
    let sort_by = move |by_amount: bool| {
        move |_| {
            let mut route = navigation.route.get_clone_untracked();
            route.sort = match (by_amount, route.sort) {
                (false, Sort::NewestFirst) => Sort::OldestFirst,
                (false, _) => Sort::NewestFirst,
                (true, Sort::LargestFirst) => Sort::SmallestFirst,
                (true, _) => Sort::LargestFirst,
            };
            navigation.go(route);
        }
    };
    let sort_mark = move |by_amount: bool| {
        move || {
            let sort = navigation.route.with(|route| route.sort);
            match (sort.by_amount() == by_amount, sort.descending()) {
                (false, _) => "",
                (true, true) => " ▼",
                (true, false) => " ▲",
            }
        }
    };
    let aria_sort = move |by_amount: bool| {
        move || {
            let sort = navigation.route.with(|route| route.sort);
            match (sort.by_amount() == by_amount, sort.descending()) {
                (false, _) => "none",
                (true, true) => "descending",
                (true, false) => "ascending",
            }
        }
    };
    let zone_queries = queries.clone();
    let rows = move || {
        let zone = zone_of(&zone_queries);
        // Views are built after the signal is read, not while it is
        // borrowed (that would re-enter the reactive arena).
        let payments: Vec<Payment> = loaded.with(|(rows, _, _, _)| rows.clone());
        let rows: Vec<View> = {
            payments
                .iter()
                .map(|payment| {
                    let id = payment.id.clone();
                    let open = move |_| {
                        let route = navigation.route.get_clone_untracked();
                        navigation.go(route.payment(&id));
                    };
                    let id = payment.id.clone();
                    let on_key = move |event: web_sys::KeyboardEvent| {
                        if event.key() == "Enter" {
                            let route = navigation.route.get_clone_untracked();
                            navigation.go(route.payment(&id));
                        }
                    };
                    let (status, class) = status_label(payment.status);
                    let time = format::local_time(&payment.created_at, &zone, TimeStyle::DayHour);
                    let amount = format::money(payment.amount, &payment.currency);
                    let method = method_name(&payment.method);
                    let reason = payment.failure_reason.clone().unwrap_or_default();
                    let external_id = payment.external_id.clone();
                    let row_class = format!("payment-row {class}");
                    let badge = format!("badge {class}");
                    let id = payment.id.clone();
                    let raw_amount = payment.amount.to_string();
                    let raw_status = payment.status.as_str();
                    let created = paypulse_shared::time::format_utc(&payment.created_at);
                    view! {
                        tr(class=row_class, data-testid="payment-row", tabindex="0",
                           data-payment-id=id, data-amount=raw_amount, data-status=raw_status,
                           data-created-at=created, on:click=open, on:keydown=on_key) {
                            td { (time) }
                            td(class="number") { (amount) }
                            td { (method) }
                            td { span(class=badge) { (status) } }
                            td { (reason) }
                            td(class="muted") { (external_id) }
                        }
                    }
                })
                .collect()
        };
        View::from(rows)
    };
    view! {
        section(class="card payments", aria-label="Payments", data-testid="payment-list",
                data-query=move || to_query(&list.get_clone()),
                data-state=move || if loaded.with(|loaded| loaded.2) { "loading" } else { "ready" },
                data-rows=move || loaded.with(|loaded| loaded.0.len()).to_string(),
                data-complete=move || loaded.with(|loaded| loaded.1.is_none()).to_string()) {
            div(class="section-head") {
                h2 { "Payments" }
                button(class="secondary", data-testid="list-refresh", on:click=refresh) { "Refresh" }
                ExportButton(what="every payment of this list", name="payments.csv", path=move || {
                    format!("/api/payments/export.csv?{}", to_query(&ExportQuery::of_list(&list.get_clone_untracked())))
                })
            }
            ListFilters()
            (move || match loaded.with(|loaded| loaded.3.clone()) {
                Some(failure) => view! { p(class="error", role="alert") { (failure.message) } },
                None => view! {},
            })
            table(class="payment-table") {
                thead {
                    tr {
                        th(aria-sort=aria_sort(false)) { button(class="link", data-testid="sort-time", on:click=sort_by(false)) { "Time" (sort_mark(false)) } }
                        th(class="number", aria-sort=aria_sort(true)) { button(class="link", data-testid="sort-amount", on:click=sort_by(true)) { "Amount" (sort_mark(true)) } }
                        th { "Method" }
                        th { "Status" }
                        th { "Failure reason" }
                        th { "External id" }
                    }
                }
                tbody { (rows) }
            }
            (move || {
                let (count, next, loading) = loaded.with(|(rows, next, loading, _)| (rows.len(), next.is_some(), *loading));
                if loading {
                    view! { p(class="muted") { "Loading payments…" } }
                } else if next {
                    let text = format!("Show more ({count} shown)");
                    view! { button(class="secondary", data-testid="list-more", on:click=more) { (text) } }
                } else if count == 0 {
                    view! { p(class="muted", data-testid="list-empty") { "No payments in this slice." } }
                } else {
                    let text = format!("All {count} payments shown.");
                    view! { p(class="muted") { (text) } }
                }
            })
        }
    }
}

/// Status, method, amount and external-id filters of the list.
#[component]
fn ListFilters() -> View {
    let navigation = use_context::<Navigation>();
    let filter = create_selector(move || navigation.route.with(|route| route.filter.clone()));
    let status_ref = create_node_ref();
    let method_ref = create_node_ref();
    let min_ref = create_node_ref();
    let max_ref = create_node_ref();
    let prefix_ref = create_node_ref();
    let problem = create_signal(None::<String>);
    let value_of = |node: NodeRef| -> String {
        node.try_get()
            .and_then(|node| {
                node.dyn_ref::<web_sys::HtmlInputElement>()
                    .map(web_sys::HtmlInputElement::value)
                    .or_else(|| {
                        node.dyn_ref::<web_sys::HtmlSelectElement>()
                            .map(web_sys::HtmlSelectElement::value)
                    })
            })
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let apply = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        let amount = |text: String, name: &str| -> Result<Option<Amount>, String> {
            if text.is_empty() {
                return Ok(None);
            }
            Amount::parse(&text)
                .map(Some)
                .map_err(|_| format!("The {name} amount must be a number such as 12.50."))
        };
        let (min, max) = match (
            amount(value_of(min_ref), "smallest"),
            amount(value_of(max_ref), "largest"),
        ) {
            (Ok(min), Ok(max)) => (min, max),
            (Err(message), _) | (_, Err(message)) => {
                problem.set(Some(message));
                return;
            }
        };
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            problem.set(Some("The smallest amount is above the largest.".into()));
            return;
        }
        problem.set(None);
        let status = value_of(status_ref);
        let method = value_of(method_ref);
        let prefix = value_of(prefix_ref);
        let filter = PaymentFilter {
            statuses: status.parse::<PaymentStatus>().ok().into_iter().collect(),
            methods: (!method.is_empty()).then_some(method).into_iter().collect(),
            min_amount: min,
            max_amount: max,
            external_id_prefix: (!prefix.is_empty()).then_some(prefix),
            ..PaymentFilter::default()
        };
        let mut route = navigation.route.get_clone_untracked();
        route.filter = filter;
        navigation.go(route);
    };
    let one_status = move || {
        filter.with(|filter| {
            (filter.statuses.len() == 1)
                .then(|| filter.statuses.iter().next().copied())
                .flatten()
        })
    };
    let statuses: Vec<View> = [PaymentStatus::Succeeded, PaymentStatus::Failed, PaymentStatus::Refunded]
        .into_iter()
        .map(|status| {
            view! { option(value=status.as_str(), selected=move || one_status() == Some(status)) { (status_label(status).0) } }
        })
        .collect();
    let one_method = move || {
        filter.with(|filter| {
            (filter.methods.len() == 1)
                .then(|| filter.methods.iter().next().cloned())
                .flatten()
        })
    };
    let methods: Vec<View> = catalogue::METHODS
        .iter()
        .map(|method| {
            let id = method.id;
            view! { option(value=id, selected=move || one_method().as_deref() == Some(id)) { (method.display_name) } }
        })
        .collect();
    let text_of = move |read: fn(&PaymentFilter) -> Option<String>| move || filter.with(read).unwrap_or_default();
    view! {
        form(class="filters", aria-label="Filter payments", on:submit=apply) {
            label(class="label") { "Status "
                select(data-testid="filter-status", r#ref=status_ref) {
                    option(value="", selected=move || one_status().is_none()) { "Any" }
                    (statuses)
                }
            }
            label(class="label") { "Method "
                select(data-testid="filter-method", r#ref=method_ref) {
                    option(value="", selected=move || one_method().is_none()) { "Any" }
                    (methods)
                }
            }
            label(class="label") { "Amount from "
                input(data-testid="filter-min", r#ref=min_ref, inputmode="decimal", size="8",
                      prop:value=text_of(|filter| filter.min_amount.map(|amount| amount.to_string())))
            }
            label(class="label") { "to "
                input(data-testid="filter-max", r#ref=max_ref, inputmode="decimal", size="8",
                      prop:value=text_of(|filter| filter.max_amount.map(|amount| amount.to_string())))
            }
            label(class="label") { "External id starts with "
                input(data-testid="filter-external-id", r#ref=prefix_ref, size="14",
                      prop:value=text_of(|filter| filter.external_id_prefix.clone()))
            }
            button(class="secondary", r#type="submit", data-testid="filter-apply") { "Apply" }
            (move || match problem.get_clone() {
                Some(message) => view! { span(class="error", role="alert") { (message) } },
                None => view! {},
            })
        }
    }
}

/// One payment, refetched when live events arrive.
#[component(inline_props)]
pub fn PaymentDetail(id: String) -> View {
    let queries = use_context::<Queries>();
    queries.subscribe_payment(&id);
    let cache = queries.payments;
    let key = id.clone();
    let payment = create_selector(move || cache.with(|cache| cache.get(&key).and_then(|entry| entry.data.clone())));
    let key = id.clone();
    let failure = create_selector(move || cache.with(|cache| cache.get(&key).and_then(|entry| entry.error.clone())));
    view! {
        (move || match (payment.get_clone(), failure.get_clone()) {
            (Some(payment), _) => detail(payment, &zone_of(&queries)),
            (None, Some(failure)) => view! { p(class="error card", role="alert", data-testid="payment-error") { (failure.message) } },
            (None, None) => view! { p(class="muted") { "Loading the payment…" } },
        })
    }
}

fn detail(payment: Payment, zone: &str) -> View {
    let (label, class) = status_label(payment.status);
    let when = move |instant: &chrono::DateTime<chrono::Utc>| {
        format!(
            "{} ({zone}), {}",
            format::local_time(instant, zone, TimeStyle::DayHour),
            paypulse_shared::time::format_utc(instant)
        )
    };
    let field = |name: &'static str, value: String| view! { dt { (name) } dd { (value) } };
    let fields = vec![
        field("Amount", format::money(payment.amount, &payment.currency)),
        field("Currency", payment.currency.clone()),
        field("Method", method_name(&payment.method)),
        field("Status", payment.status.as_str().to_owned()),
        field(
            "Failure reason",
            payment.failure_reason.clone().unwrap_or_else(|| "—".into()),
        ),
        field("External id", payment.external_id.clone()),
        field("Payment id", payment.id.clone()),
        field("Created", when(&payment.created_at)),
        field("Updated", when(&payment.updated_at)),
        field(
            "Refunded",
            payment.refunded_at.as_ref().map_or_else(|| "—".into(), when),
        ),
    ];
    let mut timeline = vec![("created", "Created", payment.created_at)];
    match payment.status {
        PaymentStatus::Failed => timeline.push(("failed", "Failed", payment.created_at)),
        PaymentStatus::Succeeded | PaymentStatus::Refunded => {
            timeline.push(("succeeded", "Succeeded", payment.created_at))
        }
    }
    if let Some(refunded) = payment.refunded_at {
        timeline.push(("refunded", "Refunded", refunded));
    }
    let steps: Vec<View> = timeline
        .into_iter()
        .map(|(step, name, at)| {
            let text = when(&at);
            let reason = (step == "failed")
                .then(|| payment.failure_reason.clone())
                .flatten()
                .map(|reason| format!(": {reason}"))
                .unwrap_or_default();
            let at = paypulse_shared::time::format_utc(&at);
            view! {
                li(data-testid="timeline-step", data-step=step, data-at=at) {
                    strong { (name) } (reason) " — " (text)
                }
            }
        })
        .collect();
    let id = payment.id.clone();
    let updated = paypulse_shared::time::format_utc(&payment.updated_at);
    let status = payment.status.as_str();
    let heading_id = id.clone();
    let badge = format!("badge {class}");
    view! {
        article(class="details card", data-testid="payment-detail", aria-label="Payment details",
                data-payment-id=id, data-status=status, data-updated-at=updated) {
            div(class="section-head") {
                h3 { span(class=badge) { (label) } " payment " (heading_id) }
            }
            dl { (fields) }
            h4 { "Timeline" }
            ol(class="timeline", data-testid="payment-timeline") { (steps) }
        }
    }
}
