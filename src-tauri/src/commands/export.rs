//! CSV export through the native save dialog (SPEC §3 export, §6): the
//! dashboard hands over the export's URL (which carries a single-use ticket,
//! not the key) and a file name; the user picks where in the system's save
//! dialog; the file streams from the server straight to disk, never through
//! the webview. It is written as `<name>.part` and renamed only once the
//! server has sent all of it, so a failed, cancelled or interrupted export
//! never leaves a file that looks complete. Progress goes to the dashboard
//! as `export-progress` events (bytes written); `cancel_export` stops it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;
use tokio::sync::watch;

/// The event that reports an export's progress.
pub const PROGRESS_EVENT: &str = "export-progress";
/// Progress events at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// A server that sends nothing for this long has stopped: the export fails
/// (and its partial file goes) instead of waiting for ever.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The exports' shared state: whether the running one was asked to stop,
/// and the folder the last one went to, where the next dialog opens.
pub struct Exports {
    /// Watched while waiting for the server, so a cancel takes effect at
    /// once even while no byte arrives.
    cancel: watch::Sender<bool>,
    folder: Mutex<Option<PathBuf>>,
}

impl Default for Exports {
    fn default() -> Self {
        Self {
            cancel: watch::Sender::new(false),
            folder: Mutex::default(),
        }
    }
}

impl Exports {
    /// The last export's folder, else Downloads, else home.
    fn start_folder<R: Runtime>(&self, app: &AppHandle<R>) -> Option<PathBuf> {
        let last = self.folder.lock().ok().and_then(|folder| folder.clone());
        let path = app.path();
        [last, path.download_dir().ok(), path.home_dir().ok()]
            .into_iter()
            .flatten()
            .find(|folder| folder.is_dir())
    }
}

/// How an export ended.
#[derive(Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Exported {
    /// The whole file is at `path`.
    Saved { path: String, bytes: u64 },
    /// The user closed the dialog, or cancelled while it was written:
    /// nothing is left on disk.
    Cancelled,
}

#[tauri::command]
pub async fn export_csv<R: Runtime>(
    app: AppHandle<R>,
    exports: State<'_, Exports>,
    url: String,
    name: String,
) -> Result<Exported, String> {
    exports.cancel.send_replace(false);
    let (chosen, choice) = tauri::async_runtime::channel(1);
    let mut dialog = app.dialog().file().set_file_name(&name);
    if let Some(folder) = exports.start_folder(&app) {
        dialog = dialog.set_directory(folder);
    }
    dialog.add_filter("CSV", &["csv"]).save_file(move |path| {
        chosen.try_send(path).ok();
    });
    let mut choice = choice;
    let Some(Some(path)) = choice.recv().await else {
        return Ok(Exported::Cancelled);
    };
    let path = path
        .into_path()
        .map_err(|error| format!("that place cannot be written to: {error}"))?;
    if let (Some(folder), Ok(mut last)) = (path.parent(), exports.folder.lock()) {
        *last = Some(folder.to_owned());
    }
    let part = part_of(&path);
    let result = download(&app, &exports.cancel, &url, &part).await;
    match result {
        Ok(Some(bytes)) => {
            std::fs::rename(&part, &path).map_err(|error| {
                std::fs::remove_file(&part).ok();
                format!("finishing {}: {}", path.display(), describe(&error))
            })?;
            Ok(Exported::Saved {
                path: path.display().to_string(),
                bytes,
            })
        }
        Ok(None) => {
            std::fs::remove_file(&part).ok();
            Ok(Exported::Cancelled)
        }
        Err(error) => {
            std::fs::remove_file(&part).ok();
            Err(error)
        }
    }
}

/// Stops the running export; its partial file is removed.
#[tauri::command]
pub fn cancel_export(exports: State<'_, Exports>) {
    exports.cancel.send_replace(true);
}

/// Where the file is written until it is complete.
fn part_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".part");
    path.with_file_name(name)
}

/// A write error as the user can act on it.
fn describe(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::StorageFull => "the disk is full".to_owned(),
        std::io::ErrorKind::PermissionDenied => "no permission to write there".to_owned(),
        _ => error.to_string(),
    }
}

/// Streams `url` into `part`; the bytes written, or `None` if cancelled.
async fn download<R: Runtime>(
    app: &AppHandle<R>,
    cancel: &watch::Sender<bool>,
    url: &str,
    part: &Path,
) -> Result<Option<u64>, String> {
    let mut cancelled = cancel.subscribe();
    let client = reqwest::Client::builder()
        .read_timeout(STALL_TIMEOUT)
        .build()
        .map_err(|error| error.to_string())?;
    let mut response = tokio::select! {
        response = client.get(url).send() => {
            response.map_err(|error| format!("the server could not be reached ({error})"))?
        }
        _ = cancelled.wait_for(|cancel| *cancel) => return Ok(None),
    };
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|error| error["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("the server answered {status}"));
        return Err(message);
    }
    let file =
        std::fs::File::create(part).map_err(|error| format!("creating {}: {}", part.display(), describe(&error)))?;
    let mut file = std::io::BufWriter::new(file);
    let mut written = 0_u64;
    let mut reported = Instant::now();
    loop {
        let chunk = tokio::select! {
            chunk = response.chunk() => chunk.map_err(|error| format!("the download broke off ({error})"))?,
            _ = cancelled.wait_for(|cancel| *cancel) => return Ok(None),
        };
        let Some(chunk) = chunk else {
            break;
        };
        file.write_all(&chunk)
            .map_err(|error| format!("writing {}: {}", part.display(), describe(&error)))?;
        written += chunk.len() as u64;
        if reported.elapsed() >= PROGRESS_EVERY {
            reported = Instant::now();
            app.emit(PROGRESS_EVENT, written).ok();
        }
    }
    let file = file
        .into_inner()
        .map_err(|error| format!("writing {}: {}", part.display(), describe(error.error())))?;
    file.sync_all()
        .map_err(|error| format!("writing {}: {}", part.display(), describe(&error)))?;
    app.emit(PROGRESS_EVENT, written).ok();
    Ok(Some(written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partial_file_sits_beside_the_chosen_one() {
        assert_eq!(
            part_of(Path::new("/home/ana/payments.csv")),
            PathBuf::from("/home/ana/payments.csv.part")
        );
    }

    #[test]
    fn a_full_disk_says_so() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(describe(&full), "the disk is full");
    }
}
