//! The main window as someone who keeps it open all day expects it: where
//! and as large as they left it (the window-state plugin saves it on exit
//! and restores it on the next start), and only once (a second launch
//! hands over to the running app, through the single-instance plugin, and
//! that brings its window forward instead of opening another).

use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager, Runtime};

/// The window the dashboard runs in (tauri.conf.json).
pub const MAIN: &str = "main";

/// Un-minimizes, shows and focuses the main window.
pub fn bring_forward<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(MAIN) {
        window.unminimize().ok();
        window.show().ok();
        window.set_focus().ok();
    }
}

/// A second launch exits at once and brings the first one's window
/// forward. Registered first, so the second launch stops before anything
/// else starts.
pub fn single_instance<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_single_instance::init(|app, _arguments, _folder| bring_forward(app))
}

/// The window's size, position, maximized and full-screen state, kept in
/// the app's config folder across restarts.
pub fn remembered<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_window_state::Builder::default().build()
}
