//! The application shell: signs in (link, saved credentials or the settings
//! screen), then shows the dashboard.

use sycamore::prelude::*;

use crate::metrics::MetricsGrid;
use crate::session::{self, Credentials};
use crate::settings::Settings;

/// Shared, copyable handle on who is signed in.
#[derive(Clone, Copy)]
pub struct SessionState {
    pub credentials: Signal<Option<Credentials>>,
}

impl SessionState {
    pub fn sign_in(self, credentials: Credentials) {
        session::save(&credentials);
        self.credentials.set(Some(credentials));
    }

    pub fn sign_out(self) {
        session::forget();
        self.credentials.set(None);
    }
}

#[component]
pub fn App() -> View {
    let from_link = session::take_from_location();
    if let Some(credentials) = &from_link {
        session::save(credentials);
    }
    let state = SessionState {
        credentials: create_signal(from_link.or_else(session::load)),
    };
    provide_context(state);

    view! {
        header(class="topbar") {
            h1(class="brand") { "Paypulse" }
            // Read the tenant first: building views while a signal is borrowed
            // (inside `with`) would re-enter the reactive arena.
            (move || match state.credentials.with(|credentials| credentials.as_ref().map(|c| c.tenant.clone())) {
                Some(tenant) => view! {
                    span(class="tenant", data-testid="current-tenant") { (tenant) }
                    button(class="link", on:click=move |_| state.sign_out()) { "Sign out" }
                },
                None => view! {},
            })
        }
        main(class="content") {
            (move || match state.credentials.get_clone() {
                Some(credentials) => view! { MetricsGrid(credentials=credentials) },
                None => view! { Settings() },
            })
        }
    }
}
