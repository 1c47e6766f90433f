//! The desktop app: Tauri's bridge (`window.__TAURI__`, present because the
//! app sets `withGlobalTauri`), calling the commands of `src-tauri`'s
//! `commands` module by name. Arguments and answers are built and read as
//! plain JS objects: generic (de)serialization here would cost the page
//! more bytes than everything else in this file.

use wasm_bindgen::prelude::*;

use crate::session::Credentials;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["__TAURI__", "core"], js_name = invoke, catch)]
    async fn tauri_invoke(command: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["__TAURI__", "event"], js_name = listen, catch)]
    async fn tauri_listen(event: &str, handler: &js_sys::Function) -> Result<JsValue, JsValue>;
}

/// Whether the page runs inside the Tauri app.
pub fn available() -> bool {
    web_sys::window()
        .is_some_and(|window| js_sys::Reflect::get(&window, &"__TAURI__".into()).is_ok_and(|bridge| bridge.is_object()))
}

/// A JS object with string fields.
fn object(fields: &[(&str, &str)]) -> JsValue {
    let object = js_sys::Object::new();
    for (name, value) in fields {
        js_sys::Reflect::set(&object, &(*name).into(), &(*value).into()).ok();
    }
    object.into()
}

/// The arguments of a command that takes one object, `name`.
fn one(name: &str, value: &JsValue) -> JsValue {
    let args = js_sys::Object::new();
    js_sys::Reflect::set(&args, &name.into(), value).ok();
    args.into()
}

fn field(object: &JsValue, name: &str) -> Option<String> {
    js_sys::Reflect::get(object, &name.into()).ok()?.as_string()
}

/// Calls `command` with `args` (an object of named arguments); a command's
/// `Err(String)` comes back as that text.
async fn invoke(command: &str, args: JsValue) -> Result<JsValue, String> {
    tauri_invoke(command, args).await.map_err(|error| {
        error
            .as_string()
            .unwrap_or_else(|| format!("the desktop app could not {command}"))
    })
}

pub async fn load_credentials() -> Result<Option<Credentials>, String> {
    let saved = invoke("load_settings", js_sys::Object::new().into()).await?;
    if saved.is_null() || saved.is_undefined() {
        return Ok(None);
    }
    let read = |name| field(&saved, name).ok_or_else(|| format!("the saved settings have no {name}"));
    Ok(Some(Credentials {
        tenant: read("tenant")?,
        key: read("key")?,
        server: read("server")?,
    }))
}

pub async fn save_credentials(credentials: &Credentials) -> Result<(), String> {
    let fields = object(&[
        ("tenant", &credentials.tenant),
        ("key", &credentials.key),
        ("server", &credentials.server),
    ]);
    invoke("save_settings", one("credentials", &fields)).await.map(drop)
}

pub async fn forget_credentials() -> Result<(), String> {
    invoke("forget_settings", js_sys::Object::new().into()).await.map(drop)
}

/// Asks the app for an OS notification; `Ok(false)` when it showed this
/// one before.
pub async fn notify(alert_id: &str, state: &str, title: &str, body: &str) -> Result<bool, String> {
    let notice = object(&[
        ("alertId", alert_id),
        ("state", state),
        ("title", title),
        ("body", body),
    ]);
    Ok(invoke("notify_alert", one("notice", &notice))
        .await?
        .as_bool()
        .unwrap_or(true))
}

/// Streams the file at `url` to where the user picks in the native save
/// dialog; the path written, or `None` if the user cancelled.
pub async fn export(url: &str, name: &str) -> Result<Option<String>, String> {
    let outcome = invoke("export_csv", object(&[("url", url), ("name", name)])).await?;
    Ok(field(&outcome, "path"))
}

pub async fn cancel_export() {
    invoke("cancel_export", js_sys::Object::new().into()).await.ok();
}

/// Calls `handler` with the payload of each `event` the app emits, for as
/// long as the page lives.
pub fn listen(event: &'static str, handler: impl Fn(JsValue) + 'static) {
    let callback = Closure::<dyn Fn(JsValue)>::new(move |event: JsValue| {
        if let Ok(payload) = js_sys::Reflect::get(&event, &"payload".into()) {
            handler(payload);
        }
    });
    let function: js_sys::Function = callback.as_ref().unchecked_ref::<js_sys::Function>().clone();
    // The page listens until it is closed: the closure lives as long.
    callback.forget();
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(error) = tauri_listen(event, &function).await {
            web_sys::console::error_1(&error);
        }
    });
}
