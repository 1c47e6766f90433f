//! `paypulse-server serve` as an operating-system process of the real
//! binary, on the database (and, when asked, the Redis prefix) of a test's
//! app: what "another instance" and "a restart" really are. Killed when
//! dropped, as a crash or a deploy would.

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{TestApp, card_payment};

pub struct ServerProcess {
    child: Child,
    pub base: String,
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl ServerProcess {
    /// A process on a free port sharing `app`'s database and Redis prefix.
    pub async fn start(app: &TestApp) -> Self {
        Self::start_at(app, free_port(), true).await
    }

    /// A process on `port`, with or without Redis, ready when this returns.
    pub async fn start_at(app: &TestApp, port: u16, redis: bool) -> Self {
        Self::start_with(app, port, redis, None).await
    }

    /// A process with Redis whose log, at the `RUST_LOG` filter `filter`,
    /// goes to the file `log` (standard output and error both).
    pub async fn start_logging(app: &TestApp, filter: &str, log: &std::path::Path) -> Self {
        Self::start_with(app, free_port(), true, Some((filter, log))).await
    }

    async fn start_with(app: &TestApp, port: u16, redis: bool, log: Option<(&str, &std::path::Path)>) -> Self {
        let config = &app.state.config;
        let mut command = Command::new(env!("CARGO_BIN_EXE_paypulse-server"));
        command
            .arg("serve")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("MONGODB_URI", &config.database.mongodb_uri)
            .env("MONGODB_DB", &config.database.mongodb_db)
            .env("REDIS_PREFIX", &config.redis_prefix)
            .env("UI_DIST", crate::common::ui_dist())
            .env_remove("SIMULATE");
        match log {
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
            Some((filter, path)) => {
                let file = std::fs::File::create(path).expect("creating the log file");
                command
                    .env("RUST_LOG", filter)
                    .stdout(file.try_clone().expect("sharing the log file"))
                    .stderr(file);
            }
        }
        if redis {
            command.env("REDIS_URL", crate::common::redis_url());
        } else {
            command.env_remove("REDIS_URL");
        }
        let child = command.spawn().expect("starting paypulse-server serve");
        let server = Self {
            child,
            base: format!("127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = app
                .http
                .get(format!("http://{}/readyz", server.base))
                .send()
                .await
                .is_ok_and(|response| response.status() == 200);
            if ready {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "paypulse-server on {} never became ready",
                server.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ingests a card payment for `acme` through this process.
    pub async fn ingest(&self, app: &TestApp, external_id: &str) -> reqwest::StatusCode {
        app.http
            .post(format!("http://{}/api/payments", self.base))
            .header("X-Tenant-Id", "acme")
            .bearer_auth("pk_demo_acme_ingest")
            .json(&card_payment(external_id, 4.0))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// The live feed as the dashboard reads it (with control frames).
    pub fn watch_url(&self) -> String {
        format!(
            "ws://{}/ws/payments?tenant=acme&key=pk_demo_acme_viewer&control=true",
            self.base
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.base)
    }
}

impl ServerProcess {
    /// Kills the process with SIGKILL, as a crash or an OOM kill would, and
    /// reaps it.
    pub fn kill(&mut self) {
        self.child.kill().expect("killing paypulse-server");
        self.child.wait().ok();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
