//! Paypulse dashboard: a Sycamore app compiled to WebAssembly, served by the
//! server in the browser and embedded in the desktop app.

mod api;
mod app;
mod format;
mod metrics;
mod session;
mod settings;

fn main() {
    // A panic in WASM otherwise surfaces only as "unreachable".
    console_error_panic_hook::set_once();
    sycamore::render(app::App);
}
