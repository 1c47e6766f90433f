//! EventsFeed: the live events, newest first, in a virtualized list (only
//! the rows in view, plus a few, are in the DOM, so 50,000 rows scroll like
//! 50), colour-coded by type with the type also written out, filters by
//! type and method, a pause that keeps and counts what arrives; a row opens
//! its payment's page. It opens with the latest payments from the list
//! endpoint (rows without a `seq`), then continues live. Scrolling away
//! from the newest row pauses too, so rows never move under the reader's
//! eyes.

use std::collections::BTreeSet;
use std::rc::Rc;

use paypulse_shared::catalogue;
use paypulse_shared::payment::{EventType, PaymentEvent};
use sycamore::prelude::*;
use wasm_bindgen::JsCast;

use crate::format;
use crate::navigation::Navigation;
use crate::store::feed::FeedFilter;
use crate::store::{Action, Dashboard};
use crate::virtual_list::{ROW_HEIGHT, window_of};

/// Height of the list's viewport in rows.
const VISIBLE_ROWS: usize = 14;
/// The viewport's style: `VISIBLE_ROWS` rows of `ROW_HEIGHT`.
const LIST_HEIGHT: &str = "height: 504px";

/// A type's words and style class: colour never carries meaning alone.
fn type_label(event_type: EventType) -> (&'static str, &'static str) {
    match event_type {
        EventType::PaymentReceived => ("Received", "received"),
        EventType::PaymentFailed => ("Failed", "failed"),
        EventType::PaymentRefunded => ("Refunded", "refunded"),
    }
}

fn method_name(id: &str) -> String {
    catalogue::method(id).map_or_else(|| id.to_owned(), |method| method.display_name.to_owned())
}

#[component(inline_props)]
pub fn EventsFeed(dashboard: Signal<Dashboard>, dispatch: Rc<dyn Fn(Action)>) -> View {
    let scroll_top = create_signal(0.0_f64);
    // Only the numbers the list depends on: a batch re-renders the rows in
    // view, not the page.
    let shown_len = create_selector(move || dashboard.with(|state| state.feed.shown_len()));
    let waiting = create_selector(move || dashboard.with(|state| state.feed.waiting()));
    let paused = create_selector(move || dashboard.with(|state| state.feed.is_paused()));
    let dropped = create_selector(move || dashboard.with(|state| state.feed.dropped()));
    let last_seq = create_selector(move || dashboard.with(|state| state.feed.last_seq()));
    let gaps = create_selector(move || dashboard.with(|state| state.feed.gaps()));
    let list_ref = create_node_ref();

    let toggle = {
        let dispatch = dispatch.clone();
        move |_| {
            let resuming = paused.get_untracked();
            dispatch(Action::TogglePause);
            if resuming {
                // Back to the newest row, where the live list is read.
                if let Some(list) = list_ref
                    .try_get()
                    .and_then(|node| node.dyn_into::<web_sys::Element>().ok())
                {
                    list.set_scroll_top(0);
                }
                scroll_top.set(0.0);
            }
        }
    };
    let on_scroll = {
        let dispatch = dispatch.clone();
        move |event: web_sys::Event| {
            let Some(list) = event
                .target()
                .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            else {
                return;
            };
            let top = f64::from(list.scroll_top());
            scroll_top.set(top);
            if top > ROW_HEIGHT && !paused.get_untracked() {
                dispatch(Action::Pause);
            }
        }
    };

    let navigation = use_context::<Navigation>();
    let filters_dispatch = dispatch.clone();
    let rows = move || {
        // Re-render on new rows, filter changes and scrolling.
        let (len, _, top) = (shown_len.get(), last_seq.get(), scroll_top.get());
        let range = window_of(top, VISIBLE_ROWS, len);
        let events: Vec<(usize, Rc<PaymentEvent>)> = dashboard.with_untracked(|state| {
            range
                .clone()
                .filter_map(|index| state.feed.shown(index).map(|event| (index, event)))
                .collect()
        });
        let views: Vec<View> = events
            .into_iter()
            .map(|(index, event)| row(index, &event, navigation))
            .collect();
        View::from(views)
    };

    view! {
        section(class="card feed", aria-label="Live payments") {
            div(class="section-head") {
                h2 { "Live payments" }
                button(class="secondary", data-testid="feed-pause", aria-pressed=move || paused.get().to_string(),
                       on:click=toggle) {
                    (move || if paused.get() {
                        format!("Resume ({} new)", waiting.get())
                    } else {
                        "Pause".to_owned()
                    })
                }
            }
            Filters(dashboard=dashboard, dispatch=filters_dispatch)
            p(class="muted feed-note", data-testid="feed-waiting", data-value=move || waiting.get().to_string()) {
                (move || match (paused.get(), waiting.get()) {
                    (true, 0) => "Paused: new events are kept until you resume.".to_owned(),
                    (true, count) => format!("Paused: {count} new events kept, shown when you resume."),
                    (false, _) => "Newest first. Scroll down to pause.".to_owned(),
                })
                (move || match dropped.get() {
                    0 => String::new(),
                    count => format!(" The oldest {count} events are no longer kept."),
                })
            }
            div(class="feed-list", data-testid="events-feed", data-rows=move || shown_len.get().to_string(),
                data-last-seq=move || last_seq.get().map(|seq| seq.to_string()).unwrap_or_default(),
                data-gaps=move || gaps.get().to_string(),
                // With `data-rows`, the number of events the feed accounts for
                // (listed, or counted in the note above as no longer kept):
                // the UI benchmark times when each event is counted.
                data-dropped=move || dropped.get().to_string(),
                style=LIST_HEIGHT,
                role="list", tabindex="0", r#ref=list_ref, on:scroll=on_scroll) {
                div(class="feed-spacer", style=move || format!("height: {}px", ROW_HEIGHT as usize * shown_len.get())) {
                    (rows)
                }
                (move || if shown_len.get() == 0 {
                    view! { p(class="muted feed-empty") { "No payments yet: they appear here as they arrive." } }
                } else {
                    view! {}
                })
            }
        }
    }
}

fn row(index: usize, event: &PaymentEvent, navigation: Navigation) -> View {
    let (label, class) = type_label(event.event_type);
    // Rows the feed opened with (from the list endpoint) have no `seq`.
    let seq = event.seq.map(|seq| seq.to_string()).unwrap_or_default();
    let payment = &event.payment;
    let amount = format::money(payment.amount, &payment.currency);
    // By hand: chrono's format strings would add their parser to the page.
    let time = {
        use chrono::Timelike;
        let at = event.timestamp;
        format!("{:02}:{:02}:{:02}", at.hour(), at.minute(), at.second())
    };
    let method = method_name(&payment.method);
    let payment_id = payment.id.clone();
    let at = event.timestamp.timestamp_millis().to_string();
    let open = {
        let id = payment_id.clone();
        move || {
            let route = navigation.route.get_clone_untracked();
            navigation.go(route.dashboard().payment(&id));
        }
    };
    let select = {
        let open = open.clone();
        move |_| open()
    };
    let on_key = move |event: web_sys::KeyboardEvent| {
        if event.key() == "Enter" || event.key() == " " {
            event.prevent_default();
            open();
        }
    };
    let (row_class, top) = (
        format!("event-row {class}"),
        format!("top: {}px", index * ROW_HEIGHT as usize),
    );
    view! {
        div(class=row_class, role="listitem", tabindex="0", data-testid="event-row",
            data-seq=seq, data-type=class, data-payment-id=payment_id, data-at=at,
            style=top, on:click=select, on:keydown=on_key) {
            span(class="event-type") { (label) }
            span(class="event-amount") { (amount) }
            span(class="event-method") { (method) }
            span(class="event-time muted") { (time) }
        }
    }
}

/// Type and method filters.
#[component(inline_props)]
fn Filters(dashboard: Signal<Dashboard>, dispatch: Rc<dyn Fn(Action)>) -> View {
    let current = move || dashboard.with(|state| state.feed.filter().clone());
    let types: Vec<View> = [
        EventType::PaymentReceived,
        EventType::PaymentFailed,
        EventType::PaymentRefunded,
    ]
    .into_iter()
    .map(|event_type| {
        let (label, class) = type_label(event_type);
        let dispatch = dispatch.clone();
        let checked = move || current().types.contains(&event_type);
        let toggle = move |_| {
            let mut filter = current();
            if !filter.types.remove(&event_type) {
                filter.types.insert(event_type);
            }
            dispatch(Action::SetFilter(filter));
        };
        let (chip, testid) = (format!("chip {class}"), format!("feed-type-{class}"));
        view! {
            label(class=chip) {
                input(r#type="checkbox", prop:checked=checked, on:change=toggle,
                      data-testid=testid)
                (label)
            }
        }
    })
    .collect();
    let methods: Vec<View> = catalogue::METHODS
        .iter()
        .map(|method| {
            let id = method.id;
            view! { option(value=id) { (method.display_name) } }
        })
        .collect();
    let choose_method = move |event: web_sys::Event| {
        let Some(select) = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::HtmlSelectElement>().ok())
        else {
            return;
        };
        let mut filter: FeedFilter = current();
        filter.methods = match select.value().as_str() {
            "" => BTreeSet::new(),
            id => [id.to_owned()].into(),
        };
        dispatch(Action::SetFilter(filter));
    };
    view! {
        div(class="filters", role="group", aria-label="Filter events") {
            span(class="label") { "Show only:" }
            (types)
            label(class="label") {
                "Method "
                select(data-testid="feed-method", on:change=choose_method) {
                    option(value="") { "All methods" }
                    (methods)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_viewport_holds_its_rows() {
        assert_eq!(LIST_HEIGHT, format!("height: {}px", ROW_HEIGHT as usize * VISIBLE_ROWS));
    }
}
