//! Alerts as OS notifications (SPEC §3 "Alerts"): the dashboard asks for
//! one on each transition that notifies (firing, resolved), and its store
//! already lets each alert and state through once per page; this module
//! lets each through once across reloads and restarts of the app too
//! (`notified.json` in the app's data folder), so a reconnection, a reload
//! or a restart never shows one twice. Clicking one brings the window
//! forward and tells the dashboard which alert (the `alert-opened` event).
//!
//! notify-rust over libdbus (which the window toolkit links already)
//! rather than tauri-plugin-notification: on Linux the plugin cannot
//! report a click, and it brings a second D-Bus stack (zbus).

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use tauri::{AppHandle, Emitter, Runtime, State};

/// `(alert, state)` pairs remembered: far more than a day's transitions.
const REMEMBERED: usize = 500;
/// Notifications whose click is waited for at once, each on a thread of
/// its own until it is clicked or closed; beyond it, they are shown
/// without (a notification server that never closes them cannot make
/// threads pile up).
const MAX_WAITING: usize = 16;
/// The event the dashboard listens to for a clicked notification.
pub const OPENED_EVENT: &str = "alert-opened";

static WAITING: AtomicUsize = AtomicUsize::new(0);

/// One notification, worded by the dashboard (as its toast).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub alert_id: String,
    /// `firing` or `resolved`.
    pub state: String,
    pub title: String,
    pub body: String,
}

/// The notified `(alert, state)` pairs, oldest first, and their file.
pub struct Notified {
    file: PathBuf,
    keys: Mutex<Vec<String>>,
}

impl Notified {
    /// Reads what was notified before (nothing when the file is missing
    /// or unreadable: at worst one notification shows twice).
    pub fn load(file: PathBuf) -> Self {
        let keys = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self {
            file,
            keys: Mutex::new(keys),
        }
    }

    /// Whether `key` is new; remembers it.
    pub fn first(&self, key: &str) -> bool {
        let mut keys = self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if keys.iter().any(|known| known == key) {
            return false;
        }
        if keys.len() >= REMEMBERED {
            keys.remove(0);
        }
        keys.push(key.to_owned());
        if let Some(folder) = self.file.parent() {
            std::fs::create_dir_all(folder).ok();
        }
        if let Ok(text) = serde_json::to_vec(&*keys) {
            // Not fatal: the notification shows all the same.
            if let Err(error) = std::fs::write(&self.file, text) {
                eprintln!("paypulse: remembering a notification: {error}");
            }
        }
        true
    }
}

/// Shows `notice` unless it was shown before; `false` when it was.
#[tauri::command]
pub async fn notify_alert<R: Runtime>(
    app: AppHandle<R>,
    notified: State<'_, Notified>,
    notice: Notice,
) -> Result<bool, String> {
    if !notified.first(&format!("{}:{}", notice.alert_id, notice.state)) {
        return Ok(false);
    }
    tauri::async_runtime::spawn_blocking(move || show(app, notice))
        .await
        .map_err(|error| error.to_string())??;
    Ok(true)
}

/// Shows `notice` from a thread of its own, which then waits for a click
/// (libdbus's connection cannot move between threads, so the same thread
/// shows and waits); returns once it is shown.
fn show<R: Runtime>(app: AppHandle<R>, notice: Notice) -> Result<(), String> {
    let (shown, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut notification = notify_rust::Notification::new();
        notification
            .appname("Paypulse")
            .summary(&notice.title)
            .body(&notice.body)
            .action("default", "Show alert");
        let handle = match notification.show() {
            Ok(handle) => handle,
            Err(error) => {
                shown
                    .send(Err(format!("the desktop has no notification service ({error})")))
                    .ok();
                return;
            }
        };
        shown.send(Ok(())).ok();
        #[cfg(all(unix, not(target_os = "macos")))]
        if WAITING.fetch_add(1, Ordering::SeqCst) < MAX_WAITING {
            handle.wait_for_action(|action| {
                if action == "default" {
                    open(&app, &notice.alert_id);
                }
            });
        }
        #[cfg(all(unix, not(target_os = "macos")))]
        WAITING.fetch_sub(1, Ordering::SeqCst);
    });
    outcome
        .recv()
        .map_err(|_| "the notification thread stopped".to_owned())?
}

/// Brings the main window forward and tells the dashboard to show `alert`.
pub fn open<R: Runtime>(app: &AppHandle<R>, alert: &str) {
    crate::window::bring_forward(app);
    app.emit(OPENED_EVENT, alert).ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_alert_and_state_passes_once_across_restarts() {
        let file = std::env::temp_dir().join(format!("paypulse-notified-{}.json", std::process::id()));
        std::fs::remove_file(&file).ok();
        let notified = Notified::load(file.clone());
        assert!(notified.first("a1:firing"));
        assert!(!notified.first("a1:firing"));
        assert!(notified.first("a1:resolved"));
        let restarted = Notified::load(file.clone());
        assert!(!restarted.first("a1:firing"));
        assert!(!restarted.first("a1:resolved"));
        assert!(restarted.first("a2:firing"));
        std::fs::remove_file(&file).ok();
    }
}
