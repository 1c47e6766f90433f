//! The window's menu, with the usual shortcuts: File ▸ Export CSV… (Ctrl+E),
//! Settings… (Ctrl+,), Quit (Ctrl+Q); View ▸ Full Screen (F11). Full screen
//! and quitting are the shell's; export and settings are the dashboard's,
//! which hears them as the `menu` event carrying the item's id.

use tauri::menu::{Menu, MenuBuilder, MenuEvent, MenuItemBuilder, SubmenuBuilder};
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// The event that hands a menu item to the dashboard.
pub const EVENT: &str = "menu";

pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    let item =
        |id: &str, text: &str, shortcut: &str| MenuItemBuilder::with_id(id, text).accelerator(shortcut).build(app);
    let export = item("export", "&Export CSV…", "CmdOrCtrl+E")?;
    let settings = item("settings", "&Settings…", "CmdOrCtrl+Comma")?;
    let quit = item("quit", "&Quit", "CmdOrCtrl+Q")?;
    let full_screen = item("full-screen", "&Full Screen", "F11")?;
    let file = SubmenuBuilder::new(app, "&File")
        .items(&[&export, &settings])
        .separator()
        .item(&quit)
        .build()?;
    let view = SubmenuBuilder::new(app, "&View").item(&full_screen).build()?;
    MenuBuilder::new(app).items(&[&file, &view]).build()
}

pub fn handle<R: Runtime>(app: &AppHandle<R>, event: &MenuEvent) {
    match event.id().as_ref() {
        "quit" => app.exit(0),
        "full-screen" => {
            if let Some(window) = app.get_webview_window(crate::window::MAIN) {
                let full = window.is_fullscreen().unwrap_or(false);
                window.set_fullscreen(!full).ok();
            }
        }
        id @ ("export" | "settings") => {
            app.emit(EVENT, id).ok();
        }
        _ => {}
    }
}
