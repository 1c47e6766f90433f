//! Paypulse desktop shell: the dashboard (ui/dist) in a Tauri v2 window.
//!
//! The shell stays thin: the dashboard talks to the server itself. What
//! only a desktop can do is here, as the commands of [`commands`] (one
//! module per feature, registered once) that the dashboard's platform layer
//! (`ui/src/platform/desktop.rs`) calls: the remembered sign-in with the
//! key in the OS keyring, alerts as OS notifications, exports through the
//! native save dialog; the window's [`menu`]; and the [`window`] itself,
//! remembered and single. No business logic.

pub mod commands;
pub mod menu;
pub mod window;

use tauri::Manager;

use commands::export::Exports;
use commands::notify::Notified;

/// The app's builder, separate from `run` so tests can build it with a mock
/// runtime.
pub fn builder() -> tauri::Builder<tauri::Wry> {
    tauri::Builder::default()
        .plugin(window::single_instance())
        .plugin(window::remembered())
        .plugin(tauri_plugin_dialog::init())
        .menu(menu::build)
        .on_menu_event(|app, event| menu::handle(app, &event))
        .manage(Exports::default())
        .setup(|app| {
            let data = app.path().app_data_dir()?;
            app.manage(Notified::load(data.join("notified.json")));
            Ok(())
        })
        .invoke_handler(commands::handler())
}

/// Opens the main window and runs until it closes.
pub fn run() {
    builder()
        .run(tauri::generate_context!())
        .expect("running the Paypulse desktop app");
}
