//! `cargo xtask test`: everything CI checks, in the order that fails fastest
//! (formatting and the workflows' actionlint first).
//! It installs what is missing, starts a throw-away MongoDB-compatible server
//! when `MONGODB_URI` is not set, and needs the real Redis (REDIS_URL, or
//! 127.0.0.1:6379), which it starts if it is installed but not running.

use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::embedded_db::{EmbeddedDb, Storage};
use crate::process::{self, cargo, free_port, on_path};
use crate::setup::{self, Needs};
use crate::{desktop, ui, workflows};

/// The desktop crate is always built the way `tauri build` builds it (the
/// dashboard embedded), in tests too, so tauri is compiled once.
const DESKTOP_FEATURES: &str = "paypulse-desktop/custom-protocol";

pub fn test() -> anyhow::Result<()> {
    let started = Instant::now();
    setup::ensure(Needs::everything())?;

    process::run(cargo().args(["fmt", "--all", "--check"]))?;
    workflows::lint()?;
    // The dashboard is embedded by the desktop crate at compile time, so it
    // is built before anything compiles that crate.
    ui::build(ui::Profile::Release)?;
    process::run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--features",
        DESKTOP_FEATURES,
        "--",
        "-D",
        "warnings",
    ]))?;
    process::run(cargo().args([
        "clippy",
        "--package",
        "paypulse-ui",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]))?;

    let redis_url = redis_url();
    ensure_redis(&redis_url)?;
    let (embedded, mongodb_uri) = database()?;
    // The desktop end-to-end tests drive the app as its package installs
    // it: a debug build, packaged as `cargo xtask desktop bundle` packages
    // the release one.
    let package = desktop::bundle(desktop::Profile::Debug, false)?;
    let installed = ui::target_root().join("desktop-package");
    let application = desktop::unpack(&package, &installed)?;
    let suite = |mongodb_uri: &str, filter: &[&str]| {
        let mut command = cargo();
        command
            .args(["test", "--workspace", "--features", DESKTOP_FEATURES, "--"])
            .args(filter)
            .env("MONGODB_URI", mongodb_uri)
            .env("REDIS_URL", &redis_url)
            .env("UI_DIST", ui::dist_dir())
            // The fault tests start MongoDB-compatible servers of their own.
            .env("SECANTUS_PYTHON", setup::venv_python())
            .env("DESKTOP_DEB", &package)
            .env("DESKTOP_INSTALLED", &installed)
            .env("DESKTOP_BIN", &application)
            .env("TAURI_DRIVER", setup::tauri_driver_path());
        command
    };
    // Everything but the desktop app in parallel; then the desktop app's
    // tests one at a time, since each runs a display, a WebKit and a bus
    // of its own and on two cores they starve each other and the rest
    // (a session that never starts, a click that times out).
    process::run(&mut suite(&mongodb_uri, &["--skip", "desktop::"]))?;
    // The desktop tests get a database server of their own: SecantusDB
    // drops a database key by key under its one global lock, so what the
    // parallel suite left it to clean up (a test's tens of thousands of
    // payments take seconds) stalled the first desktop test's reads past
    // the request deadline (seen with py-spy: every `find` waiting on the
    // lock behind one `dropDatabase`).
    drop(embedded);
    let (_embedded, mongodb_uri) = database()?;
    process::run(&mut suite(&mongodb_uri, &["desktop::", "--test-threads=1"]))?;
    eprintln!("\nall checks passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `REDIS_URL`, or the local Redis every machine of ours runs.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// `MONGODB_URI`, or a throw-away in-memory SecantusDB that lives as long as
/// the returned handle.
pub fn database() -> anyhow::Result<(Option<EmbeddedDb>, String)> {
    match std::env::var("MONGODB_URI") {
        Ok(uri) => Ok((None, uri)),
        Err(_) => {
            let embedded = EmbeddedDb::start(Storage::Memory, free_port()?)?;
            let uri = embedded.uri();
            Ok((Some(embedded), uri))
        }
    }
}

/// Makes sure Redis answers at `url`, starting a local one when it is
/// installed but not running (as on a machine whose Redis was stopped).
pub fn ensure_redis(url: &str) -> anyhow::Result<()> {
    let address = url
        .trim_start_matches("redis://")
        .split(['/', '?'])
        .next()
        .and_then(|authority| authority.rsplit('@').next())
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    let reachable = || {
        address
            .to_socket_addrs()
            .ok()
            .and_then(|mut addresses| addresses.next())
            .is_some_and(|socket| TcpStream::connect_timeout(&socket, Duration::from_secs(1)).is_ok())
    };
    if reachable() {
        return Ok(());
    }
    if !(address.starts_with("127.0.0.1:6379") && on_path("redis-server")) {
        bail!("Redis does not answer at {url}: start it, or set REDIS_URL to one that does");
    }
    eprintln!("Redis is installed but not running; starting it on 127.0.0.1:6379");
    process::run(Command::new("redis-server").args([
        "--daemonize",
        "yes",
        "--bind",
        "127.0.0.1",
        "--port",
        "6379",
        "--save",
        "",
        "--appendonly",
        "no",
    ]))
    .context("starting redis-server")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reachable() {
        if Instant::now() > deadline {
            bail!("redis-server started but does not answer at {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}
