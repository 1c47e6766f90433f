//! Tauri's build step: reads tauri.conf.json and capabilities/ at compile
//! time, and gives each of the app's commands its own `allow-…` permission,
//! so the window may call only those `capabilities/default.json` grants
//! (without an app manifest every command would be callable).

fn main() {
    // The names of `commands::handler`'s commands.
    let commands = tauri_build::AppManifest::new().commands(&[
        "load_settings",
        "save_settings",
        "forget_settings",
        "notify_alert",
        "export_csv",
        "cancel_export",
    ]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(commands)).expect("running tauri-build");
}
