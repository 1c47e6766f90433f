//! The embedded MongoDB-compatible server (SecantusDB) that `run` and `test`
//! start when `MONGODB_URI` is not set. It runs in its own process group, so
//! a Ctrl-C in the terminal reaches the Paypulse server first and the
//! database is then stopped with SIGTERM, which flushes its writes.

use std::fs::File;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process::{local_dir, terminate};
use crate::setup::venv_python;

/// Start-up takes ~5 s (Python); allow for a slow machine.
const START_TIMEOUT: Duration = Duration::from_secs(90);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the database keeps its data.
#[derive(Clone, Debug)]
pub enum Storage {
    /// Thrown away on exit (tests).
    Memory,
    /// Kept across restarts (the run command).
    Directory(PathBuf),
}

/// A running SecantusDB, stopped on drop.
pub struct EmbeddedDb {
    child: Child,
    port: u16,
}

impl EmbeddedDb {
    pub fn start(storage: Storage, port: u16) -> anyhow::Result<Self> {
        let storage_path = match &storage {
            Storage::Memory => ":memory:".to_owned(),
            Storage::Directory(path) => {
                std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
                path.display().to_string()
            }
        };
        let log_path = local_dir().join(format!("secantus-{port}.log"));
        let log = File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        eprintln!("starting the embedded MongoDB-compatible server on 127.0.0.1:{port} (storage: {storage_path})");
        let child = Command::new(venv_python())
            .args([
                "-m",
                "secantus",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--storage-path",
                &storage_path,
                // In memory, every document and index must fit in the
                // WiredTiger cache (1 GB by default): a million payments
                // with their indexes and oplog do not. It is a cap, not an
                // allocation; on disk the default serves.
                "--cache-size",
                match storage {
                    Storage::Memory => "8G",
                    Storage::Directory(_) => "1G",
                },
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .context("starting SecantusDB (run `cargo xtask setup`)")?;
        let mut database = Self { child, port };
        database.wait_until_listening(&log_path)?;
        Ok(database)
    }

    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    /// Polls until the port accepts connections; the MongoDB driver then
    /// waits for the server to answer its handshake.
    fn wait_until_listening(&mut self, log_path: &std::path::Path) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                eprintln!("  database ready after {:.1} s", started.elapsed().as_secs_f64());
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                let log = std::fs::read_to_string(log_path).unwrap_or_default();
                bail!("SecantusDB exited during start-up ({status}):\n{log}");
            }
            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "SecantusDB did not listen on port {} within {START_TIMEOUT:?}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for EmbeddedDb {
    fn drop(&mut self) {
        terminate(self.child.id());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("SecantusDB did not stop within {STOP_TIMEOUT:?}; killing it");
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
