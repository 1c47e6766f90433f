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

use paypulse_shared::alerts::Alert;

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
            Platform::Browser | Platform::Desktop => browser::load_credentials(),
        }
    }

    /// Remembers `credentials` for the next start.
    pub async fn save_credentials(self, credentials: &Credentials) -> Result<(), String> {
        match self {
            Platform::Browser | Platform::Desktop => browser::save_credentials(credentials),
        }
    }

    /// Forgets the saved sign-in.
    pub async fn forget_credentials(self) {
        match self {
            Platform::Browser | Platform::Desktop => browser::forget_credentials(),
        }
    }

    /// Tells the user about `alert` outside the page, where the platform
    /// can (the page shows its toast either way).
    pub fn notify(self, alert: &Alert) {
        match self {
            Platform::Browser | Platform::Desktop => browser::notify(alert),
        }
    }

    /// Saves the file at `url` (which carries its own ticket, no header) as
    /// `name`.
    pub async fn save_file(self, url: &str, name: &str) -> Result<Saved, String> {
        match self {
            Platform::Browser | Platform::Desktop => browser::save_file(url, name),
        }
    }
}
