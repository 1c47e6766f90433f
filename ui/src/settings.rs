//! The settings screen: tenant, API key and, for the desktop app or a
//! dashboard served from elsewhere, the server's address.

use sycamore::prelude::*;

use crate::app::SessionState;
use crate::session::Credentials;

#[component]
pub fn Settings() -> View {
    let state = use_context::<SessionState>();
    let tenant = create_signal(String::new());
    let key = create_signal(String::new());
    let server = create_signal(String::new());
    let problem = create_signal(None::<String>);

    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        match Credentials::new(&tenant.get_clone(), &key.get_clone(), &server.get_clone()) {
            Ok(credentials) => wasm_bindgen_futures::spawn_local(async move {
                if let Err(message) = state.sign_in(credentials).await {
                    problem.set(Some(message));
                }
            }),
            Err(message) => problem.set(Some(message.to_owned())),
        }
    };

    view! {
        form(class="settings card", data-testid="settings", on:submit=submit) {
            h2 { "Sign in" }
            p(class="hint") { "Paypulse shows one tenant's payments. Use an API key with the viewer role." }
            label {
                "Tenant"
                input(name="tenant", placeholder="acme", autocomplete="off", required=true, bind:value=tenant)
            }
            label {
                "API key"
                input(name="key", r#type="password", placeholder="pk_…", autocomplete="off", required=true, bind:value=key)
            }
            label {
                "Server (leave empty in the browser)"
                input(name="server", placeholder="http://127.0.0.1:8080", autocomplete="url", bind:value=server)
            }
            (move || problem.get_clone().map(|message| view! { p(class="error", role="alert") { (message) } }))
            button(r#type="submit", class="primary") { "Sign in" }
        }
    }
}
