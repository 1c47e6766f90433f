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

/// Bytes the running export has written (the desktop reports them).
#[derive(Clone, Copy)]
pub struct ExportProgress(pub Signal<f64>);

/// The `export-csv` button: saves what `path` names. On the desktop it
/// shows what has been written and can cancel, and says where the file
/// went.
#[component(inline_props)]
pub fn ExportButton<F: Fn() -> String + 'static>(what: &'static str, name: &'static str, path: F) -> View {
    let queries = use_context::<Queries>();
    let platform = use_context::<Platform>();
    let progress = use_context::<ExportProgress>().0;
    let failure = create_signal(None::<String>);
    let saved = create_signal(None::<String>);
    let busy = create_signal(false);
    let path = Rc::new(path);
    let start = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        failure.set(None);
        saved.set(None);
        progress.set(0.0);
        let (queries, path) = (queries.clone(), path());
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = export(platform, &queries, &path, name).await;
            // The page may have changed meanwhile (a desktop export can take
            // minutes): then this button and its signals are gone.
            if !busy.is_alive() {
                return;
            }
            busy.set(false);
            match outcome {
                Ok(Saved::Written(path)) => saved.set(Some(path)),
                Ok(_) => {}
                Err(message) => failure.set(Some(message)),
            }
        });
    };
    let cancel = move |_| wasm_bindgen_futures::spawn_local(platform.cancel_export());
    let title = format!("Save {what} as CSV");
    view! {
        button(class="secondary", data-testid="export-csv", data-busy=move || busy.get().to_string(),
               title=title, on:click=start) {
            "Export CSV"
        }
        (move || if busy.get() && platform.exports_in_page() {
            let written = format!("Writing… {:.1} MB", progress.get() / 1e6);
            view! {
                span(class="muted", data-testid="export-progress") { (written) }
                button(class="link", data-testid="export-cancel", on:click=cancel) { "Cancel" }
            }
        } else {
            view! {}
        })
        (move || saved.get_clone().map(|path| {
            let text = format!("Saved to {path}");
            view! { span(class="muted", data-testid="export-saved") { (text) } }
        }))
        (move || failure.get_clone().map(|message| {
            let text = format!("Export failed: {message}");
            view! { span(class="error", role="alert", data-testid="export-error") { (text) } }
        }))
    }
}
