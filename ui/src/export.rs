//! CSV export of what is on screen (a payment list, the chart's points):
//! the browser downloads it from the server through a URL carrying a
//! single-use ticket instead of the key (`POST /api/tickets`), so the file
//! streams to disk and never sits in the page's memory, whatever its size.
//!
//! How the file reaches the user's disk is the platform's
//! ([`Platform::save_file`]): a download in the browser, the native save
//! dialog in the desktop app.

use std::rc::Rc;

use sycamore::prelude::*;

use crate::api::ApiFailure;
use crate::platform::{Platform, Saved};
use crate::queries::Queries;

/// Asks for a ticket and saves the CSV at `path` (a query string without
/// the ticket) as `name`.
async fn export(platform: Platform, queries: &Queries, path: &str, name: &str) -> Result<Saved, String> {
    let ticket = queries
        .client
        .ticket()
        .await
        .map_err(|failure: ApiFailure| failure.message)?;
    let separator = if path.contains('?') { '&' } else { '?' };
    let ticket: String = js_sys::encode_uri_component(&ticket.ticket).into();
    let url = queries.client.url(&format!("{path}{separator}ticket={ticket}"));
    platform.save_file(&url, name).await
}

/// The `export-csv` button: downloads what `path` names.
#[component(inline_props)]
pub fn ExportButton<F: Fn() -> String + 'static>(what: &'static str, name: &'static str, path: F) -> View {
    let queries = use_context::<Queries>();
    let platform = use_context::<Platform>();
    let failure = create_signal(None::<String>);
    let busy = create_signal(false);
    let path = Rc::new(path);
    let start = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        let (queries, path) = (queries.clone(), path());
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = export(platform, &queries, &path, name).await;
            busy.set(false);
            failure.set(outcome.err());
        });
    };
    let title = format!("Download {what} as CSV");
    view! {
        button(class="secondary", data-testid="export-csv", data-busy=move || busy.get().to_string(),
               title=title, on:click=start) {
            "Export CSV"
        }
        (move || match failure.get_clone() {
            Some(message) => {
                let text = format!("Export failed: {message}");
                view! { span(class="error", role="alert", data-testid="export-error") { (text) } }
            }
            None => view! {},
        })
    }
}
