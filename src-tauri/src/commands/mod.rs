//! The commands the dashboard may call (`window.__TAURI__.core.invoke`),
//! one module per feature and registered once, by [`handler`]. `build.rs`
//! generates an `allow-…` permission for each of the same names and
//! `capabilities/default.json` grants exactly these, so a command that is
//! not listed there cannot be called.

pub mod export;
pub mod notify;
pub mod settings;

/// Every command, for `Builder::invoke_handler`.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        settings::load_settings,
        settings::save_settings,
        settings::forget_settings,
        notify::notify_alert,
        export::export_csv,
        export::cancel_export,
    ]
}
