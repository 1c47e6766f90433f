//! The desktop app: Tauri's bridge (`window.__TAURI__`, present because the
//! app sets `withGlobalTauri`).

/// Whether the page runs inside the Tauri app.
pub fn available() -> bool {
    web_sys::window()
        .is_some_and(|window| js_sys::Reflect::get(&window, &"__TAURI__".into()).is_ok_and(|bridge| bridge.is_object()))
}
