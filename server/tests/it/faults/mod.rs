//! Faults (issue 13), each on a MongoDB-compatible server of the test's own,
//! so stopping it or leaving a transaction open in it disturbs no other
//! test: the database stopped under traffic and started again
//! ([`database_down`]), the database killed under traffic
//! ([`database_killed`]), and the server killed in the middle of ingest
//! ([`crash`]); and the database that answers nothing (through a stalling
//! proxy: [`database_hangs`]). Redis stopped and started again is
//! `fanout::a_redis_restart_keeps_ingest_working_and_restarts_the_feed`.

mod crash;
mod database_down;
mod database_hangs;
mod database_killed;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::free_port;
use crate::webdriver::TempDir;

/// Asserts that each of `external_ids` of `tenant` is stored, once.
pub async fn assert_stored_once(app: &crate::common::TestApp, tenant: &str, external_ids: &[String]) {
    let stored = app
        .store
        .payments()
        .count_documents(mongodb::bson::doc! { "tenantId": tenant, "externalId": { "$in": external_ids } })
        .await
        .expect("counting payments");
    assert_eq!(
        stored,
        external_ids.len() as u64,
        "every acknowledged payment is stored, once"
    );
}

/// Start-up takes a few seconds (Python); allow for a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs SecantusDB's own command line with a transaction lifetime of its
/// constructor's (the command line has no flag for it; mongod's is the
/// `transactionLifetimeLimitSeconds` parameter). The lifetime comes first
/// in the arguments, the command line's flags after it.
const LAUNCHER: &str = "import functools, sys
import secantus.cli as cli
lifetime = float(sys.argv.pop(1))
cli.SecantusDBServer = functools.partial(cli.SecantusDBServer, transaction_lifetime_seconds=lifetime)
sys.exit(cli.main())";

/// A SecantusDB of one test, keeping its data on disk so that it survives
/// a stop and a start, as a real MongoDB's does.
pub struct PrivateDatabase {
    child: Option<Child>,
    port: u16,
    /// Its data and its log.
    storage: TempDir,
    transaction_lifetime: Duration,
    /// Each commit is on disk before it is acknowledged (`--sync-on-commit`),
    /// as with MongoDB's journal: a SIGKILL loses nothing acknowledged.
    synced: bool,
}

impl PrivateDatabase {
    /// Starts one whose open transactions are aborted after
    /// `transaction_lifetime` idle.
    pub fn start(transaction_lifetime: Duration) -> Self {
        Self::launched(transaction_lifetime, false)
    }

    /// Starts one that syncs each commit to disk before acknowledging it
    /// (about 19× slower writes): what a SIGKILL must not lose.
    pub fn start_synced(transaction_lifetime: Duration) -> Self {
        Self::launched(transaction_lifetime, true)
    }

    fn launched(transaction_lifetime: Duration, synced: bool) -> Self {
        let mut database = Self {
            child: None,
            port: free_port(),
            storage: TempDir::new("paypulse-private-db"),
            transaction_lifetime,
            synced,
        };
        database.launch();
        database
    }

    /// The connection string of this database.
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.storage.0.join("secantus.log")
    }

    fn data_path(&self) -> PathBuf {
        self.storage.0.join("data")
    }

    fn launch(&mut self) {
        let python = std::env::var("SECANTUS_PYTHON").unwrap_or_else(|_| {
            panic!(
                "SECANTUS_PYTHON is not set: run the suite with `cargo xtask test`, which names the Python that has SecantusDB"
            )
        });
        let log = std::fs::File::create(self.log_path()).expect("creating the database's log");
        let child = Command::new(python)
            .args(["-c", LAUNCHER, &self.transaction_lifetime.as_secs_f64().to_string()])
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--storage-path",
            ])
            .arg(self.data_path())
            .args(self.synced.then_some("--sync-on-commit"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("sharing the log"))
            .stderr(log)
            .spawn()
            .expect("starting SecantusDB");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            let exited = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten());
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "SecantusDB did not listen on {} ({exited:?}): {}",
                self.port,
                std::fs::read_to_string(self.log_path()).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it as an operator would (SIGTERM: it writes what it holds and
    /// closes every connection), and waits until it has exited.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("sending SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().expect("waiting for SecantusDB").is_none() {
            if Instant::now() > deadline {
                child.kill().ok();
                panic!("SecantusDB did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err(),
            "nothing listens on the database's port once it stopped"
        );
    }

    /// Kills it (SIGKILL: no chance to write what it holds or to close its
    /// connections), and waits until it has exited.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("sending SIGKILL");
            child.wait().expect("waiting for SecantusDB");
        }
    }

    /// Starts it again on the same port over the same data, after [`Self::kill`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "it is still running");
        self.launch();
    }

    /// Starts it again on the same port over the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for PrivateDatabase {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}
