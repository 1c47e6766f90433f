//! The platform layer: the one place that knows where the dashboard runs.
//! Components never ask; they call [`Platform`] for what differs between the
//! browser and the desktop app: keeping the sign-in (tenant, key, server),
//! telling the user about an alert outside the page, saving an export to
//! disk. It is chosen once at start-up ([`Platform::detect`]) and provided
//! as context.
//!
//! Only [`browser`] touches web storage and download links, only
//! [`desktop`] touches Tauri (`window.__TAURI__`).

mod browser;
mod desktop;

use paypulse_shared::alerts::{Alert, AlertState};

use crate::alerts::state_word;
use crate::session::Credentials;

/// Where the dashboard runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// A page served by the Paypulse server (or another origin).
    Browser,
    /// The Tauri desktop app's window.
    Desktop,
}

/// How an export ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Handed to the browser's downloads, which reports its own progress.
    Downloading,
    /// Written whole to this path (the desktop's save dialog).
    Written(String),
    /// The user cancelled: nothing was written.
    Cancelled,
}

fn log(error: &str) {
    web_sys::console::error_1(&error.into());
}

impl Platform {
    /// The platform of this page, decided once.
    pub fn detect() -> Self {
        if desktop::available() {
            Platform::Desktop
        } else {
            Platform::Browser
        }
    }

    /// The saved sign-in, if any.
    pub async fn load_credentials(self) -> Option<Credentials> {
        match self {
            Platform::Browser => browser::load_credentials(),
            Platform::Desktop => match desktop::load_credentials().await {
                Ok(Some(credentials)) => Some(credentials),
                // A sign-in saved by an earlier version in the webview's
                // storage moves to the app's store, and leaves the webview.
                Ok(None) => {
                    let earlier = browser::load_credentials()?;
                    desktop::save_credentials(&earlier).await.ok()?;
                    browser::forget_credentials();
                    Some(earlier)
                }
                Err(error) => {
                    log(&format!("reading the saved sign-in: {error}"));
                    None
                }
            },
        }
    }

    /// Remembers `credentials` for the next start.
    pub async fn save_credentials(self, credentials: &Credentials) -> Result<(), String> {
        match self {
            Platform::Browser => browser::save_credentials(credentials),
            Platform::Desktop => desktop::save_credentials(credentials)
                .await
                .map_err(|error| format!("The sign-in could not be saved: {error}")),
        }
    }

    /// Forgets the saved sign-in.
    pub async fn forget_credentials(self) {
        match self {
            Platform::Browser => browser::forget_credentials(),
            Platform::Desktop => {
                if let Err(error) = desktop::forget_credentials().await {
                    log(&format!("forgetting the sign-in: {error}"));
                }
            }
        }
    }

    /// Tells the user about `alert` outside the page where the platform
    /// can (the page shows its toast either way); why it cannot, if it
    /// cannot.
    pub async fn notify(self, alert: &Alert) -> Result<(), String> {
        match self {
            Platform::Browser => Ok(()),
            Platform::Desktop => {
                let state = if alert.state == AlertState::Resolved {
                    "resolved"
                } else {
                    "firing"
                };
                let title = format!("{}: {}", state_word(alert.state), alert.rule_name);
                desktop::notify(&alert.id, state, &title, &alert.message)
                    .await
                    .map(drop)
            }
        }
    }

    /// Calls `open` with an alert's id when the user asks, outside the
    /// page, to see it (a clicked OS notification).
    pub fn on_alert_opened(self, open: impl Fn(String) + 'static) {
        if self == Platform::Desktop {
            desktop::listen("alert-opened", move |payload| {
                if let Some(alert) = payload.as_string() {
                    open(alert);
                }
            });
        }
    }

    /// Saves the file at `url` (which carries its own ticket, no header) as
    /// `name`: a download in the browser; on the desktop, where the user
    /// picks in the native save dialog, streamed there by the app.
    pub async fn save_file(self, url: &str, name: &str) -> Result<Saved, String> {
        match self {
            Platform::Browser => browser::save_file(url, name),
            Platform::Desktop => Ok(match desktop::export(url, name).await? {
                Some(path) => Saved::Written(path),
                None => Saved::Cancelled,
            }),
        }
    }

    /// Whether an export can report its progress and be cancelled here
    /// (the browser's downloads do both themselves).
    pub fn exports_in_page(self) -> bool {
        self == Platform::Desktop
    }

    /// Stops the export being written.
    pub async fn cancel_export(self) {
        if self == Platform::Desktop {
            desktop::cancel_export().await;
        }
    }

    /// Calls `choose` with the id of each menu item the dashboard handles
    /// (`export`, `settings`): the desktop's menu and its shortcuts.
    pub fn on_menu(self, choose: impl Fn(String) + 'static) {
        if self == Platform::Desktop {
            desktop::listen("menu", move |payload| {
                if let Some(item) = payload.as_string() {
                    choose(item);
                }
            });
        }
    }

    /// Calls `progress` with the bytes an export has written so far.
    pub fn on_export_progress(self, progress: impl Fn(f64) + 'static) {
        if self == Platform::Desktop {
            desktop::listen("export-progress", move |payload| {
                if let Some(bytes) = payload.as_f64() {
                    progress(bytes);
                }
            });
        }
    }
}
