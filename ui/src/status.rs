//! The connection status (`connection-status`): live, connecting, or lost
//! with the reason in words and when the next attempt is, so nobody reads
//! stale numbers as live ones.

use sycamore::prelude::*;

use crate::store::{Connection, Dashboard};

#[component(inline_props)]
pub fn ConnectionStatus(dashboard: Signal<Dashboard>) -> View {
    let connection = create_selector(move || dashboard.with(|state| state.connection.clone()));
    let resyncs = create_selector(move || dashboard.with(|state| state.resyncs));
    let state = move || match connection.get_clone() {
        Connection::Live => "live",
        Connection::Connecting { .. } => "connecting",
        Connection::Waiting { .. } => "waiting",
    };
    let text = move || match connection.get_clone() {
        Connection::Live => "Live".to_owned(),
        Connection::Connecting { attempt: 1 } => "Connecting…".to_owned(),
        Connection::Connecting { attempt } => format!("Reconnecting (attempt {attempt})…"),
        Connection::Waiting { reason, retry_in_ms } => {
            format!("Offline: {reason}. Retrying in {} s.", retry_in_ms.div_ceil(1_000))
        }
    };
    view! {
        span(class=move || format!("status {}", state()), role="status", aria-live="polite",
             data-testid="connection-status", data-state=state, data-resyncs=move || resyncs.get().to_string()) {
            span(class="dot", aria-hidden="true")
            (text)
        }
    }
}
