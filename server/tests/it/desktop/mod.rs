//! Desktop end-to-end tests: the real Tauri app (the binary its `.deb`
//! installs, the dashboard embedded) runs under a private Xvfb display and
//! a private D-Bus session bus, driven over WebDriver through tauri-driver
//! and WebKitWebDriver, with a fresh home each time; against a real test
//! server.
//!
//! This module is the harness (the app's surroundings, and the steps the
//! tests share); the tests are cut by feature below it.

mod export;
mod live;
mod notifications;
mod package;
mod sign_in;
mod window;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use fantoccini::{Client, Locator};
use paypulse_shared::payment::PaymentStatus;
use serde_json::json;

use crate::common::{TestApp, payment};
use crate::notifications::{NotificationServer, SessionBus, Shown};
use crate::webdriver::{Driver, TempDir, Xvfb};

const SCREEN_TIMEOUT: Duration = Duration::from_secs(60);
const TEST_TIMEOUT: Duration = Duration::from_secs(240);
/// The app's identifier: its folders under the XDG ones.
const APP_ID: &str = "com.paypulse.desktop";

/// A path named by an environment variable `cargo xtask test` sets.
fn required_path(variable: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{variable} is not set: run the suite with `cargo xtask test`"));
    assert!(path.exists(), "{variable}={} does not exist", path.display());
    path
}

type Step<T> = Result<T, fantoccini::error::CmdError>;

/// The app's surroundings: a private display, a fresh home (the app starts
/// signed out, as on first use) and tauri-driver, on the session bus
/// given (which has no keyring unless a test starts one: the key then goes
/// to the app's own file).
struct Desktop {
    display: Xvfb,
    home: TempDir,
    driver: Driver,
    application: PathBuf,
    /// What the app runs with: the display, the bus and the fresh home.
    environment: Vec<(&'static str, String)>,
}

impl Desktop {
    fn start(bus: &SessionBus) -> Self {
        let application = required_path("DESKTOP_BIN");
        let tauri_driver = required_path("TAURI_DRIVER");
        let display = Xvfb::start();
        let home = TempDir::new("paypulse-desktop-home");
        let environment = crate::webdriver::desktop_environment(&display.display, &bus.address, &home.0);
        let driver = Driver::start(&tauri_driver, &crate::webdriver::TAURI_DRIVER_ARGS, &environment);
        Self {
            display,
            home,
            driver,
            application,
            environment,
        }
    }

    fn capabilities(&self) -> serde_json::Value {
        json!({
            "browserName": "wry",
            "tauri:options": { "application": self.application },
        })
    }

    /// Runs `xdotool` on the app's display.
    fn xdotool(&self, args: &[&str]) -> String {
        let output = std::process::Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display.display)
            .output()
            .expect("running xdotool (`cargo xtask test` installs it)");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The app's visible windows (X window ids).
    fn windows(&self) -> Vec<String> {
        let found = self.xdotool(&["search", "--onlyvisible", "--name", "^Paypulse$"]);
        found.lines().map(str::to_owned).collect()
    }

    /// Presses `keys` in the app's window (its menu's shortcuts).
    fn press(&self, keys: &str) {
        let window = self.windows().pop().expect("the app's window");
        self.xdotool(&["windowfocus", "--sync", &window]);
        self.xdotool(&["key", keys]);
    }

    /// Saves what the app's window covers on the display (with whatever
    /// is drawn over it) as target/screenshots/`name`.png.
    fn picture(&self, name: &str) {
        let window = self.windows().pop().expect("the app's window");
        self.display.save_screenshot(name, self.geometry(&window));
    }

    /// A window's place on the display: `[x, y, width, height]`.
    fn geometry(&self, window: &str) -> [i64; 4] {
        let shell = self.xdotool(&["getwindowgeometry", "--shell", window]);
        let value = |name: &str| {
            shell
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {shell:?}"))
        };
        [value("X"), value("Y"), value("WIDTH"), value("HEIGHT")]
    }

    /// Launches the app once more, as a user would from the desktop,
    /// outside WebDriver; returns how it exited.
    async fn launch_again(&self) -> std::process::ExitStatus {
        let mut second = tokio::process::Command::new(&self.application)
            .envs(self.environment.iter().map(|(name, value)| (*name, value.as_str())))
            .kill_on_drop(true)
            .spawn()
            .expect("launching the app a second time");
        tokio::time::timeout(SCREEN_TIMEOUT, second.wait())
            .await
            .expect("a second launch hands over and exits")
            .expect("waiting for the second launch")
    }

    /// Waits for `done` to hold, polling the display.
    async fn until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + SCREEN_TIMEOUT;
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `target` into the open save dialog's name field and saves.
    async fn save_as(&self, target: &Path) {
        self.save_dialog().await;
        self.xdotool(&["key", "ctrl+a"]);
        self.xdotool(&["type", "--delay", "5", &target.display().to_string()]);
        self.xdotool(&["key", "Return"]);
    }

    /// The native save dialog, once it is open, focused for the keyboard.
    async fn save_dialog(&self) -> String {
        let deadline = tokio::time::Instant::now() + SCREEN_TIMEOUT;
        loop {
            let found = self.xdotool(&["search", "--onlyvisible", "--name", "Save"]);
            if let Some(window) = found.lines().last() {
                let window = window.to_owned();
                self.xdotool(&["windowfocus", "--sync", &window]);
                return window;
            }
            assert!(tokio::time::Instant::now() < deadline, "no save dialog opened");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A program the test runs beside the app (a window manager, a notification
/// daemon), on its display, bus and home; stopped on drop.
struct Companion(std::process::Child);

impl Companion {
    fn start(desktop: &Desktop, program: &str) -> Self {
        let child = std::process::Command::new(program)
            .envs(desktop.environment.iter().map(|(name, value)| (*name, value.as_str())))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("starting {program} (`cargo xtask test` installs it): {error}"));
        Self(child)
    }
}

impl Drop for Companion {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Fills the settings form and submits it.
async fn sign_in(window: &Client, tenant: &str, key: &str, server: &str) -> Step<()> {
    let form = shows(window, "[data-testid=settings]").await?;
    for (name, value) in [("tenant", tenant), ("key", key), ("server", server)] {
        let input = form.find(Locator::Css(&format!("input[name={name}]"))).await?;
        input.clear().await?;
        input.send_keys(value).await?;
    }
    form.find(Locator::Css("button[type=submit]")).await?.click().await
}

/// Runs `steps` against the app within [`TEST_TIMEOUT`] (a WebDriver that
/// stops answering fails the test instead of hanging it); when they fail,
/// saves the page's evidence as `name` and fails the test with `what`.
async fn drive<T>(window: &Client, name: &str, what: &str, steps: impl Future<Output = Step<T>>) -> T {
    let failure = match tokio::time::timeout(TEST_TIMEOUT, steps).await {
        Ok(Ok(value)) => return value,
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("the desktop app did not answer within {TEST_TIMEOUT:?}"),
    };
    crate::webdriver::save_evidence(window, name).await;
    panic!("{what}: {failure}");
}

/// Waits for the element `css` names.
async fn shows(window: &Client, css: &str) -> Step<fantoccini::elements::Element> {
    window
        .wait()
        .at_most(SCREEN_TIMEOUT)
        .for_element(Locator::Css(css))
        .await
}

/// Waits until the app's notifications number `count`; returns them.
async fn notifications(server: &NotificationServer, count: usize, what: &str) -> Vec<Shown> {
    let deadline = tokio::time::Instant::now() + SCREEN_TIMEOUT;
    loop {
        let shown = server.shown();
        if shown.len() >= count {
            return shown;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: {} notifications, not {count}: {shown:?}",
            shown.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
