//! The browser: the sign-in in `localStorage` (the page's origin owns it),
//! files through the browser's downloads. Alerts are the page's toasts only.
//! Compiled on every target so native unit tests build; only the WASM build
//! calls it.

use wasm_bindgen::JsCast;

use super::Saved;
use crate::session::Credentials;

/// Storage key of the saved credentials.
const STORAGE_KEY: &str = "paypulse.credentials";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn load_credentials() -> Option<Credentials> {
    let text = storage()?.get_item(STORAGE_KEY).ok()??;
    serde_json::from_str(&text).ok()
}

pub fn save_credentials(credentials: &Credentials) -> Result<(), String> {
    let storage = storage().ok_or("this browser keeps no local storage")?;
    let text = serde_json::to_string(credentials).map_err(|error| error.to_string())?;
    storage
        .set_item(STORAGE_KEY, &text)
        .map_err(|_| "the browser refused to store the sign-in".to_owned())
}

pub fn forget_credentials() {
    if let Some(storage) = storage() {
        storage.remove_item(STORAGE_KEY).ok();
    }
}

/// An `<a download>` navigation: the browser streams the file to disk.
pub fn save_file(url: &str, name: &str) -> Result<Saved, String> {
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
    Ok(Saved::Downloading)
}
