//! CSV export of what is on screen (a payment list, the chart's points):
//! the browser downloads it from the server through a URL carrying a
//! single-use ticket instead of the key (`POST /api/tickets`), so the file
//! streams to disk and never sits in the page's memory, whatever its size.
//!
//! [`save`] is the one place that knows how a file reaches the user's disk:
//! in the browser an `<a download>` navigation; the desktop app's native
//! save dialog replaces it there (the desktop issue).

use std::rc::Rc;

use sycamore::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::ApiFailure;
use crate::queries::Queries;

/// Saves the file at `url` (which needs no header: it carries its ticket)
/// as `name`.
pub fn save(url: &str, name: &str) -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or("no document")?;
    let anchor: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|_| "cannot create a link")?
        .dyn_into()
        .map_err(|_| "not a link")?;
    anchor.set_href(url);
    anchor.set_download(name);
    anchor.set_attribute("hidden", "").ok();
    let body = document.body().ok_or("no body")?;
    body.append_child(&anchor).map_err(|_| "cannot add the link")?;
    anchor.click();
    anchor.remove();
    Ok(())
}

/// Asks for a ticket and saves the CSV at `path` (a query string without
/// the ticket) as `name`.
async fn export(queries: &Queries, path: &str, name: &str) -> Result<(), String> {
    let ticket = queries
        .client
        .ticket()
        .await
        .map_err(|failure: ApiFailure| failure.message)?;
    let separator = if path.contains('?') { '&' } else { '?' };
    let ticket: String = js_sys::encode_uri_component(&ticket.ticket).into();
    let url = queries.client.url(&format!("{path}{separator}ticket={ticket}"));
    save(&url, name)
}

/// The `export-csv` button: downloads what `path` names.
#[component(inline_props)]
pub fn ExportButton<F: Fn() -> String + 'static>(what: &'static str, name: &'static str, path: F) -> View {
    let queries = use_context::<Queries>();
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
            let outcome = export(&queries, &path, name).await;
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
