//! Paypulse dashboard: a Sycamore app compiled to WebAssembly, served by the
//! server in the browser and embedded in the desktop app.

mod alerts;
mod api;
mod app;
mod chart;
mod compare;
mod drilldown;
mod events;
mod export;
mod format;
mod live;
mod metrics;
mod navigation;
mod platform;
mod queries;
mod route;
mod session;
mod settings;
mod status;
mod store;
#[cfg(test)]
mod testing;
mod time_range;
mod virtual_list;
mod zone;

fn main() {
    // A panic in WASM otherwise surfaces only as "unreachable".
    console_error_panic_hook::set_once();
    // The module's memory, for `cargo xtask bench ui` to watch it grow (or
    // not) under a firehose; the feed's rows live there, not in the JS heap.
    if let Some(window) = web_sys::window() {
        js_sys::Reflect::set(&window, &"paypulseWasmMemory".into(), &wasm_bindgen::memory()).ok();
    }
    sycamore::render(app::App);
}
