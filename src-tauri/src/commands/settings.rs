//! The sign-in the desktop app remembers across restarts (SPEC §6): the
//! server's address and the tenant in `settings.json` in the app's config
//! folder, the API key in the OS keyring (the Secret Service on Linux, the
//! Keychain, the Credential Manager) where there is one, else in `api-key`
//! beside the settings, readable and writable by the user alone (0600).
//! Never in the webview's storage: a page's script cannot read it back
//! except through [`load_settings`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime};

/// The keyring entry's service: the app's identifier.
const SERVICE: &str = "com.paypulse.desktop";
/// The keyring entry's account: there is one sign-in.
const ACCOUNT: &str = "api-key";
const SETTINGS_FILE: &str = "settings.json";
const KEY_FILE: &str = "api-key";

/// What the dashboard signs in with (the UI's `session::Credentials`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub tenant: String,
    pub key: String,
    /// Base URL of the server.
    pub server: String,
}

/// `settings.json`: everything but the key, and where the key is.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    tenant: String,
    server: String,
    key_in: KeyPlace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KeyPlace {
    Keyring,
    File,
}

/// The remembered sign-in in one folder; `keyring` false keeps the key in
/// the file (tests, and machines without a keyring).
pub struct Store {
    folder: PathBuf,
    keyring: bool,
}

impl Store {
    pub fn new(folder: PathBuf, keyring: bool) -> Self {
        Self { folder, keyring }
    }

    fn entry() -> Result<keyring::Entry, keyring::Error> {
        keyring::Entry::new(SERVICE, ACCOUNT)
    }

    /// The saved sign-in; `None` when there is none or its key is gone.
    pub fn load(&self) -> Result<Option<Credentials>, String> {
        let text = match std::fs::read_to_string(self.folder.join(SETTINGS_FILE)) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(format!("reading the saved settings: {error}")),
        };
        let saved: Saved =
            serde_json::from_str(&text).map_err(|error| format!("the saved settings are damaged: {error}"))?;
        let key = match saved.key_in {
            KeyPlace::Keyring => match Self::entry().and_then(|entry| entry.get_password()) {
                Ok(key) => key,
                Err(keyring::Error::NoEntry) => return Ok(None),
                Err(error) => return Err(format!("reading the key from the keyring: {error}")),
            },
            KeyPlace::File => match std::fs::read_to_string(self.folder.join(KEY_FILE)) {
                Ok(key) => key,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(format!("reading the saved key: {error}")),
            },
        };
        Ok(Some(Credentials {
            tenant: saved.tenant,
            key,
            server: saved.server,
        }))
    }

    /// Saves `credentials`, the key in the keyring when it takes it.
    /// Returns where the key went.
    pub fn save(&self, credentials: &Credentials) -> Result<&'static str, String> {
        std::fs::create_dir_all(&self.folder)
            .map_err(|error| format!("creating {}: {error}", self.folder.display()))?;
        let in_keyring = self.keyring
            && Self::entry()
                .and_then(|entry| entry.set_password(&credentials.key))
                .inspect_err(|error| eprintln!("paypulse: no keyring ({error}); the key goes to a private file"))
                .is_ok();
        let key_in = if in_keyring {
            remove_if_there(&self.folder.join(KEY_FILE))?;
            KeyPlace::Keyring
        } else {
            write_private(&self.folder.join(KEY_FILE), credentials.key.as_bytes())?;
            KeyPlace::File
        };
        let saved = Saved {
            tenant: credentials.tenant.clone(),
            server: credentials.server.clone(),
            key_in,
        };
        let text = serde_json::to_vec_pretty(&saved).map_err(|error| error.to_string())?;
        write_private(&self.folder.join(SETTINGS_FILE), &text)?;
        Ok(match key_in {
            KeyPlace::Keyring => "keyring",
            KeyPlace::File => "file",
        })
    }

    /// Forgets the sign-in wherever it is.
    pub fn forget(&self) -> Result<(), String> {
        if self.keyring {
            match Self::entry().and_then(|entry| entry.delete_credential()) {
                Ok(()) | Err(keyring::Error::NoEntry) => {}
                // No keyring: the key was never there.
                Err(keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_)) => {}
                Err(error) => return Err(format!("removing the key from the keyring: {error}")),
            }
        }
        remove_if_there(&self.folder.join(KEY_FILE))?;
        remove_if_there(&self.folder.join(SETTINGS_FILE))
    }
}

/// Writes `path` whole or not at all (a temporary file renamed over it),
/// readable and writable by its owner alone.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), String> {
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    written
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| format!("writing {}: {error}", path.display()))
}

fn remove_if_there(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(format!("removing {}: {error}", path.display())),
    }
}

fn store<R: Runtime>(app: &AppHandle<R>) -> Result<Store, String> {
    let folder = app.path().app_config_dir().map_err(|error| error.to_string())?;
    Ok(Store::new(folder, true))
}

/// The keyring may block (it is a D-Bus round trip on Linux): off the
/// runtime's threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|error| error.to_string())?
}

#[tauri::command]
pub async fn load_settings<R: Runtime>(app: AppHandle<R>) -> Result<Option<Credentials>, String> {
    let store = store(&app)?;
    blocking(move || store.load()).await
}

#[tauri::command]
pub async fn save_settings<R: Runtime>(app: AppHandle<R>, credentials: Credentials) -> Result<&'static str, String> {
    let store = store(&app)?;
    blocking(move || store.save(&credentials)).await
}

#[tauri::command]
pub async fn forget_settings<R: Runtime>(app: AppHandle<R>) -> Result<(), String> {
    let store = store(&app)?;
    blocking(move || store.forget()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let folder = std::env::temp_dir().join(format!("paypulse-settings-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&folder).ok();
        folder
    }

    fn credentials() -> Credentials {
        Credentials {
            tenant: "acme".into(),
            key: "pk_secret".into(),
            server: "http://127.0.0.1:8080".into(),
        }
    }

    #[test]
    fn saves_loads_and_forgets_with_the_key_in_a_private_file() {
        let folder = folder("file");
        let store = Store::new(folder.clone(), false);
        assert_eq!(store.load().unwrap(), None);
        assert_eq!(store.save(&credentials()).unwrap(), "file");
        assert_eq!(store.load().unwrap(), Some(credentials()));
        let settings = std::fs::read_to_string(folder.join(SETTINGS_FILE)).unwrap();
        assert!(
            !settings.contains("pk_secret"),
            "the key is not in settings.json: {settings}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(folder.join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        store.forget().unwrap();
        assert_eq!(store.load().unwrap(), None);
        assert!(!folder.join(KEY_FILE).exists());
        std::fs::remove_dir_all(&folder).ok();
    }

    #[test]
    fn a_damaged_settings_file_is_an_error_not_a_sign_in() {
        let folder = folder("damaged");
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(SETTINGS_FILE), "{not json").unwrap();
        let error = Store::new(folder.clone(), false).load().unwrap_err();
        assert!(error.contains("damaged"), "{error}");
        std::fs::remove_dir_all(&folder).ok();
    }
}
