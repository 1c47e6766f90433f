//! The settings screen: tenant, API key and, for the desktop app or a
//! dashboard served from elsewhere, the server's address. What is entered
//! is checked against the server before it is saved (one request the
//! dashboard needs anyway: the tenant's alert rules, which any key that can
//! read the dashboard may read), so a wrong address, key or tenant is said
//! plainly here instead of as a broken dashboard.

use paypulse_shared::error::ErrorCode;
use sycamore::prelude::*;

use crate::api::{ApiClient, ApiFailure};
use crate::app::SessionState;
use crate::session::Credentials;

/// What a failed check means for the person signing in.
fn explain(failure: &ApiFailure, credentials: &Credentials) -> String {
    let server = if credentials.server.is_empty() {
        "this server".to_owned()
    } else {
        credentials.server.clone()
    };
    match failure.code {
        _ if failure.status == 0 => {
            format!("Cannot reach {server}: check the address and that the server is running.")
        }
        ErrorCode::MissingCredentials | ErrorCode::InvalidCredentials => {
            "The server does not know this API key: check it, or ask an admin for a new one.".to_owned()
        }
        ErrorCode::TenantMismatch => format!(
            "This key is not one of tenant '{}': check the tenant.",
            credentials.tenant
        ),
        ErrorCode::InsufficientRole => {
            "This key cannot read the dashboard: it needs the viewer or admin role.".to_owned()
        }
        ErrorCode::Unknown => format!(
            "{server} does not answer as a Paypulse server does (HTTP {}): check the address.",
            failure.status
        ),
        _ => failure.message.clone(),
    }
}

/// Whether the server takes `credentials` for reading the dashboard.
async fn check(credentials: &Credentials) -> Result<(), String> {
    ApiClient::new(credentials.clone())
        .alert_rules()
        .await
        .map(drop)
        .map_err(|failure| explain(&failure, credentials))
}

#[component]
pub fn Settings() -> View {
    let state = use_context::<SessionState>();
    // Opened over a sign-in (the desktop's Settings…): its tenant and server
    // to start from, and the way back to it. The key is entered again.
    let current = state.credentials.get_clone_untracked();
    let tenant = create_signal(current.as_ref().map(|c| c.tenant.clone()).unwrap_or_default());
    let key = create_signal(String::new());
    let server = create_signal(current.as_ref().map(|c| c.server.clone()).unwrap_or_default());
    let signed_in = current.is_some();
    let problem = create_signal(None::<String>);
    let checking = create_signal(false);

    let submit = move |event: web_sys::SubmitEvent| {
        event.prevent_default();
        if checking.get_untracked() {
            return;
        }
        let credentials = match Credentials::new(&tenant.get_clone(), &key.get_clone(), &server.get_clone()) {
            Ok(credentials) => credentials,
            Err(message) => return problem.set(Some(message.to_owned())),
        };
        checking.set(true);
        problem.set(None);
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = match check(&credentials).await {
                Ok(()) => state.sign_in(credentials).await,
                Err(message) => Err(message),
            };
            // Signed in, this screen is gone with its signals: only a
            // refusal is shown here.
            if let Err(message) = outcome {
                checking.set(false);
                problem.set(Some(message));
            }
        });
    };

    view! {
        form(class="settings card", data-testid="settings", data-checking=move || checking.get().to_string(),
             on:submit=submit) {
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
            (move || problem.get_clone().map(|message| view! {
                p(class="error", role="alert", data-testid="settings-error") { (message) }
            }))
            button(r#type="submit", class="primary", disabled=move || checking.get()) {
                (move || if checking.get() { "Checking…" } else { "Sign in" })
            }
            (signed_in.then(|| view! {
                button(r#type="button", class="link", data-testid="settings-cancel",
                       on:click=move |_| state.editing.set(false)) { "Keep the current sign-in" }
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, code: ErrorCode) -> ApiFailure {
        ApiFailure {
            status,
            code,
            message: "the server's words".into(),
        }
    }

    #[test]
    fn each_failed_check_says_what_to_fix() {
        let credentials = Credentials::new("acme", "pk_x", "http://10.0.0.9:8080").unwrap();
        let says = |status, code| explain(&failure(status, code), &credentials);
        assert!(says(0, ErrorCode::Unknown).starts_with("Cannot reach http://10.0.0.9:8080"));
        assert!(says(401, ErrorCode::InvalidCredentials).contains("does not know this API key"));
        assert!(says(403, ErrorCode::TenantMismatch).contains("tenant 'acme'"));
        assert!(says(403, ErrorCode::InsufficientRole).contains("viewer or admin"));
        assert!(says(404, ErrorCode::Unknown).contains("does not answer as a Paypulse server"));
        assert_eq!(says(503, ErrorCode::Unavailable), "the server's words");
    }
}
