//! Paypulse desktop shell: the dashboard (ui/dist) in a Tauri v2 window.
//!
//! The shell stays thin: the dashboard talks to the server itself (its
//! settings screen takes the server's address and key); native notifications
//! and save dialogs join here as plugins, never business logic.

/// The app's builder, separate from `run` so tests can build it with a mock
/// runtime.
pub fn builder() -> tauri::Builder<tauri::Wry> {
    tauri::Builder::default()
}

/// Opens the main window and runs until it closes.
pub fn run() {
    builder()
        .run(tauri::generate_context!())
        .expect("running the Paypulse desktop app");
}
