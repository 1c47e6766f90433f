//! Desktop end-to-end test: the real Tauri app (built with the dashboard
//! embedded) runs under a private Xvfb display and a private D-Bus session
//! bus, driven over WebDriver through tauri-driver and WebKitWebDriver,
//! with a fresh home. The sign-in is checked against a real server before
//! it is saved, kept out of the webview's storage and still there after a
//! restart; a failure spike made through the ingest API gives exactly one
//! OS notification when it fires and one when it resolves, seen by a small
//! `org.freedesktop.Notifications` server on that bus; a click on one opens
//! the alerts.

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
/// given (which has no keyring: the key goes to the app's own file).
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

#[tokio::test]
async fn desktop_app_checks_and_remembers_its_sign_in_and_notifies_each_alert_once() {
    let app = TestApp::spawn_with(|config| config.limits.alerts.tick = Duration::from_millis(100)).await;
    let now = Utc::now();
    app.insert(&[
        payment(
            "globex",
            now - TimeDelta::hours(1),
            420_000,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment(
            "globex",
            now - TimeDelta::hours(2),
            99,
            "paypal",
            PaymentStatus::Succeeded,
        ),
    ])
    .await;
    let rule = json!({
        "id": "failures", "name": "Half the payments failing", "kind": "failure_rate",
        "windowMinutes": 10, "threshold": 50, "minAttempts": 10,
        "pendingMinutes": 0, "keepFiringMinutes": 0, "enabled": true
    });
    app.replace_rules("globex", json!([rule])).await;
    let api = app.json("globex", "/api/analytics/metrics").await;

    let bus = SessionBus::start();
    let notification_server = NotificationServer::start(&bus);
    let desktop = Desktop::start(&bus);
    let (driver, capabilities, home) = (&desktop.driver, desktop.capabilities(), &desktop.home);
    let desktop = &desktop;
    let settings_folder = home.0.join("config").join(APP_ID);

    // First start: a wrong key is refused with the reason, the right one is
    // saved and shows the dashboard.
    let window = driver.session(capabilities.clone()).await;
    // A WebDriver that stops answering must fail the test, not hang it.
    let first = tokio::time::timeout(TEST_TIMEOUT, async {
        sign_in(&window, "globex", "pk_not_a_key", &app.url("")).await?;
        let refusal = shows(&window, "[data-testid=settings-error]").await?.text().await?;
        sign_in(&window, "globex", "pk_demo_globex_viewer", &app.url("")).await?;
        shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
        let total = window.find(Locator::Css("[data-testid=metric-total-volume]")).await?;
        let total = (total.attr("data-value").await?, total.text().await?);
        let stored = window
            .execute("return JSON.stringify(Object.assign({}, window.localStorage));", vec![])
            .await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        Step::Ok((refusal, total, stored))
    })
    .await;
    if !matches!(first, Ok(Ok(_))) {
        crate::webdriver::save_evidence(&window, "desktop").await;
    }
    let (refusal, (value, text), stored) = first
        .expect("the desktop app answers in time")
        .expect("driving the desktop app");
    assert!(refusal.contains("does not know this API key"), "{refusal}");
    let shown: f64 = value.as_deref().expect("data-value").parse().unwrap();
    assert_eq!(Some(shown), api["totalVolume"].as_f64());
    assert_eq!(text, "$4,200.99");
    let stored = stored.as_str().unwrap_or_default().to_owned();
    assert!(
        !stored.contains("pk_demo_globex_viewer"),
        "the key is in the webview's storage: {stored}"
    );
    let settings = std::fs::read_to_string(settings_folder.join("settings.json")).expect("the saved settings");
    assert!(
        !settings.contains("pk_demo"),
        "the key is not among the settings: {settings}"
    );
    assert_eq!(
        std::fs::read_to_string(settings_folder.join("api-key")).unwrap(),
        "pk_demo_globex_viewer"
    );
    assert_eq!(mode(&settings_folder.join("api-key")), 0o600, "the key file is private");

    // A failure spike: one notification when it fires, with the alert's
    // text; calm payments: one when it resolves.
    for index in 0..10 {
        let body = json!({"externalId": format!("spike_{index}"), "amount": 3.0, "currency": "USD",
            "method": "card", "status": "failed", "failureReason": "card_declined"});
        app.create("globex", body).await;
    }
    let fired = notifications(&notification_server, 1, "after the firing").await;
    let alerts = app.json("globex", "/api/alerts?state=firing").await;
    let alert = &alerts["items"][0];
    assert_eq!(fired[0].app_name, "Paypulse");
    assert_eq!(fired[0].summary, "Firing: Half the payments failing");
    assert_eq!(fired[0].body, alert["message"].as_str().unwrap());
    assert_eq!(fired[0].actions, ["default", "Show alert"], "a click opens the alert");
    for index in 0..20 {
        let body = json!({"externalId": format!("calm_{index}"), "amount": 3.0, "currency": "USD",
            "method": "card", "status": "succeeded"});
        app.create("globex", body).await;
    }
    let resolved = notifications(&notification_server, 2, "after the resolution").await;
    assert_eq!(resolved[1].summary, "Resolved: Half the payments failing");
    let history = app.json("globex", "/api/alerts?ruleId=failures").await;
    assert_eq!(history["items"][0]["state"], "resolved");
    assert_eq!(resolved[1].body, history["items"][0]["message"].as_str().unwrap());

    // A click on the firing notification brings the alerts forward, that
    // alert marked.
    notification_server.click(fired[0].id);
    let entry = format!(
        "[data-testid=alert-entry][data-alert-id='{}'][data-opened=true]",
        alert["id"].as_str().unwrap()
    );
    let clicked = tokio::time::timeout(TEST_TIMEOUT, async { shows(&window, &entry).await.map(drop) }).await;
    if !matches!(clicked, Ok(Ok(()))) {
        crate::webdriver::save_evidence(&window, "desktop-click").await;
    }
    clicked
        .expect("the desktop app answers in time")
        .expect("the click shows the alerts");
    crate::webdriver::save_screenshot(&window, "desktop-alert-opened").await;
    window.close().await.ok();

    // Second start, same home: signed in at once, from the saved settings,
    // and nothing notified twice.
    let window = driver.session(capabilities).await;
    let second = tokio::time::timeout(TEST_TIMEOUT, async {
        shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        let tenant = window
            .find(Locator::Css("[data-testid=current-tenant]"))
            .await?
            .text()
            .await?;
        // Settings… (Ctrl+,) opens the settings over the sign-in, which
        // holds until another is checked; cancelling returns to it.
        desktop.press("ctrl+comma");
        let prefilled = shows(&window, "[data-testid=settings] input[name=tenant]")
            .await?
            .prop("value")
            .await?;
        shows(&window, "[data-testid=settings-cancel]").await?.click().await?;
        shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
        // Sign out forgets the sign-in and shows the settings again.
        window
            .find(Locator::Css("[data-testid=sign-out]"))
            .await?
            .click()
            .await?;
        shows(&window, "[data-testid=settings]").await?;
        Step::Ok((tenant, prefilled))
    })
    .await;
    if !matches!(second, Ok(Ok(_))) {
        crate::webdriver::save_evidence(&window, "desktop-restart").await;
    }
    window.close().await.ok();
    let (tenant, prefilled) = second
        .expect("the desktop app answers in time")
        .expect("the restarted app shows the dashboard");
    assert_eq!(
        prefilled.as_deref(),
        Some("globex"),
        "the settings start from the current sign-in"
    );
    assert_eq!(tenant, "globex");
    for file in ["settings.json", "api-key"] {
        assert!(!settings_folder.join(file).exists(), "signing out removed {file}");
    }
    assert_eq!(
        notification_server.shown().len(),
        2,
        "one notification on firing, one on resolution: {:?}",
        notification_server.shown()
    );
}

#[tokio::test]
async fn desktop_export_streams_the_apis_csv_to_the_file_picked_in_the_save_dialog() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    // Enough rows that the file is written in many chunks.
    let payments: Vec<_> = (0..3_000)
        .map(|index| {
            payment(
                "globex",
                now - TimeDelta::minutes(1 + index % 600),
                100 + index,
                "card",
                PaymentStatus::Failed,
            )
        })
        .collect();
    app.insert(&payments).await;
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let target = desktop.home.0.join("failed payments.csv");
    let window = desktop.driver.session(desktop.capabilities()).await;
    let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
        sign_in(&window, "globex", "pk_demo_globex_viewer", &app.url("")).await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        shows(&window, "[data-testid=drill-failed]").await?.click().await?;
        shows(&window, "[data-testid=payment-list][data-state=ready]").await?;
        let query = shows(&window, "[data-testid=payment-list]")
            .await?
            .attr("data-query")
            .await?
            .unwrap_or_default();

        // Cancelled in the dialog: nothing is written, nothing is reported.
        shows(&window, "[data-testid=export-csv]").await?.click().await?;
        desktop.save_dialog().await;
        desktop.xdotool(&["key", "Escape"]);
        shows(&window, "[data-testid=export-csv][data-busy=false]").await?;
        let cancelled = window
            .find_all(Locator::Css("[data-testid=export-saved], [data-testid=export-error]"))
            .await?;

        // Saved, asked for with the menu's shortcut: the path typed into the
        // dialog's name field.
        desktop.press("ctrl+e");
        desktop.save_dialog().await;
        desktop.picture("desktop-save-dialog");
        desktop.xdotool(&["key", "ctrl+a"]);
        desktop.xdotool(&["type", "--delay", "5", &target.display().to_string()]);
        desktop.xdotool(&["key", "Return"]);
        let saved = shows(&window, "[data-testid=export-saved]").await?.text().await?;
        Step::Ok((query, cancelled.len(), saved))
    })
    .await;
    if !matches!(outcome, Ok(Ok(_))) {
        crate::webdriver::save_evidence(&window, "desktop-export").await;
    }
    window.close().await.ok();
    let (query, cancelled, saved) = outcome
        .expect("the desktop app answers in time")
        .expect("driving the desktop app");
    assert_eq!(cancelled, 0, "a cancelled dialog reports nothing");
    assert_eq!(saved, format!("Saved to {}", target.display()));
    let export_query: Vec<&str> = query.split('&').filter(|pair| !pair.starts_with("limit=")).collect();
    let api = app
        .text(
            "globex",
            &format!("/api/payments/export.csv?{}", export_query.join("&")),
        )
        .await;
    let file = std::fs::read_to_string(&target).expect("the exported file");
    assert_eq!(file.lines().count(), 3_001, "a header and every failed payment");
    assert!(file == api, "the file is the API's CSV for {query}");
    let left: Vec<_> = std::fs::read_dir(&desktop.home.0)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".csv") || name.ends_with(".part"))
        .collect();
    assert_eq!(left, ["failed payments.csv"], "only the finished file, no partial one");
}

#[tokio::test]
async fn desktop_app_opens_where_it_was_left_and_runs_only_once() {
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let window = desktop.driver.session(desktop.capabilities()).await;
    let first = tokio::time::timeout(TEST_TIMEOUT, shows(&window, "[data-testid=settings]")).await;
    first
        .expect("the desktop app answers in time")
        .expect("the first start asks for the sign-in");

    // Moved and resized, then quit with the menu's shortcut.
    let main = desktop.windows().pop().expect("the app's window");
    desktop.xdotool(&["windowsize", "--sync", &main, "1100", "700"]);
    desktop.xdotool(&["windowmove", "--sync", &main, "60", "40"]);
    let left = desktop.geometry(&main);
    assert_eq!(left, [60, 40, 1100, 700], "the window was moved and resized");
    desktop.press("ctrl+q");
    desktop
        .until("Ctrl+Q quits the app", || desktop.windows().is_empty())
        .await;
    window.close().await.ok();

    // Started again: where and as large as it was left.
    let window = desktop.driver.session(desktop.capabilities()).await;
    let second = tokio::time::timeout(TEST_TIMEOUT, shows(&window, "[data-testid=settings]")).await;
    second
        .expect("the desktop app answers in time")
        .expect("the second start shows the app");
    let main = desktop.windows().pop().expect("the app's window");
    assert_eq!(desktop.geometry(&main), left, "the window opens where it was left");

    // Another launch while it runs: no second window; the first comes
    // forward (the keyboard's focus, taken away first, returns to it).
    let root = desktop.xdotool(&["search", "--maxdepth", "0", "--name", ""]);
    desktop.xdotool(&["windowfocus", "--sync", &root]);
    let focused = || desktop.xdotool(&["getwindowfocus", "-f"]);
    assert_ne!(focused(), main, "the focus is elsewhere before the second launch");
    let status = desktop.launch_again().await;
    desktop
        .until("the first window takes the focus", || focused() == main)
        .await;
    let windows = desktop.windows();
    window.close().await.ok();
    assert!(status.success(), "the second launch exits cleanly: {status}");
    assert_eq!(windows, [main], "one window, the first one's");
}

#[test]
fn desktop_package_installs_the_app_with_its_menu_entry_and_icon() {
    let package = required_path("DESKTOP_DEB");
    let installed = required_path("DESKTOP_INSTALLED");
    let field = |name: &str| {
        let output = std::process::Command::new("dpkg-deb")
            .arg("--field")
            .arg(&package)
            .arg(name)
            .output()
            .expect("running dpkg-deb");
        assert!(output.status.success(), "dpkg-deb --field {name}: {output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    assert_eq!(field("Package"), "paypulse");
    let depends = field("Depends");
    for library in ["libwebkit2gtk-4.1-0", "libgtk-3-0", "libdbus-1-3"] {
        assert!(depends.contains(library), "the package depends on {library}: {depends}");
    }
    let binary = installed.join("usr/bin/paypulse-desktop");
    assert_eq!(mode(&binary) & 0o111, 0o111, "the app is executable by everyone");
    assert_eq!(
        required_path("DESKTOP_BIN"),
        binary,
        "the desktop tests drive the app the package installs"
    );
    let entry = std::fs::read_to_string(installed.join("usr/share/applications/Paypulse.desktop"))
        .expect("the package's menu entry");
    for line in [
        "Name=Paypulse",
        "Exec=paypulse-desktop",
        "Icon=paypulse-desktop",
        "Type=Application",
    ] {
        assert!(entry.lines().any(|entry_line| entry_line == line), "{line} in {entry}");
    }
    let icons = installed.join("usr/share/icons/hicolor");
    let icon = std::fs::read_dir(&icons)
        .expect("the package's icons")
        .map(|size| size.unwrap().path().join("apps/paypulse-desktop.png"))
        .find(|icon| icon.is_file());
    assert!(
        icon.is_some(),
        "an icon named as the entry says under {}",
        icons.display()
    );
}

/// A real notification daemon (dunst) on the app's display and bus, stopped
/// on drop: it draws the app's notifications where a screenshot sees them.
struct NotificationDaemon(std::process::Child);

impl NotificationDaemon {
    fn start(desktop: &Desktop) -> Self {
        let child = std::process::Command::new("dunst")
            .envs(desktop.environment.iter().map(|(name, value)| (*name, value.as_str())))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting dunst (`cargo xtask test` installs it)");
        Self(child)
    }
}

impl Drop for NotificationDaemon {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

#[tokio::test]
async fn desktop_app_with_history_and_a_real_notification_daemon_as_the_readme_shows_it() {
    let app = TestApp::spawn_with(|config| config.limits.alerts.tick = Duration::from_millis(100)).await;
    let history = paypulse_server::seed::SeedArgs {
        database: paypulse_server::config::DatabaseConfig {
            mongodb_uri: crate::common::mongodb_uri(),
            mongodb_db: "unused".into(),
        },
        tenants: vec!["acme".into()],
        days: 8,
        rate: 60.0,
        demo_keys: true,
        random_seed: 11,
    };
    paypulse_server::seed::seed(&app.store, &history)
        .await
        .expect("seeding acme");
    let rule = json!({
        "id": "failures", "name": "Half the payments failing", "kind": "failure_rate",
        "windowMinutes": 10, "threshold": 50, "minAttempts": 10,
        "pendingMinutes": 0, "keepFiringMinutes": 0, "enabled": true
    });
    app.replace_rules("acme", json!([rule])).await;

    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let _daemon = NotificationDaemon::start(&desktop);
    let window = desktop.driver.session(desktop.capabilities()).await;
    let shown = tokio::time::timeout(TEST_TIMEOUT, async {
        sign_in(&window, "acme", "pk_demo_acme_viewer", &app.url("")).await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        shows(&window, "[data-testid=metrics-grid][data-state=ready]").await?;
        shows(&window, "[data-testid=trend-chart][data-fresh=true]").await?;
        let count = window
            .find(Locator::Css("[data-testid=metric-count]"))
            .await?
            .attr("data-value")
            .await?;
        Step::Ok(count)
    })
    .await;
    if !matches!(shown, Ok(Ok(_))) {
        crate::webdriver::save_evidence(&window, "desktop-history").await;
    }
    let count = shown
        .expect("the desktop app answers in time")
        .expect("the dashboard shows acme's history");
    crate::webdriver::save_screenshot(&window, "desktop-dashboard").await;
    let api = app.json("acme", "/api/analytics/metrics").await;
    assert_eq!(
        count.as_deref().map(str::parse::<f64>),
        Some(Ok(api["count"].as_f64().unwrap()))
    );

    // A failure spike: the daemon draws the app's notification.
    for index in 0..30 {
        let body = json!({"externalId": format!("spike_{index}"), "amount": 3.0, "currency": "USD",
            "method": "card", "status": "failed", "failureReason": "card_declined"});
        app.create("acme", body).await;
    }
    let drawn = || {
        !desktop
            .xdotool(&["search", "--onlyvisible", "--class", "Dunst"])
            .is_empty()
    };
    desktop.until("the daemon draws a notification", drawn).await;
    desktop.picture("desktop-notification");
    let dunstctl = |args: &[&str]| {
        let output = std::process::Command::new("dunstctl")
            .args(args)
            .envs(desktop.environment.iter().map(|(name, value)| (*name, value.as_str())))
            .output()
            .expect("running dunstctl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // Closed, the notification goes to the daemon's history, which says
    // what it was.
    dunstctl(&["close-all"]);
    let kept = dunstctl(&["history"]);
    window.close().await.ok();
    assert!(
        kept.contains("Firing: Half the payments failing"),
        "the daemon showed the firing alert: {kept}"
    );
}

/// Waits until the feed's `attribute` reads `expected`.
async fn feed_reads(window: &Client, attribute: &str, expected: &str) -> Step<()> {
    let css = format!("[data-testid=events-feed][{attribute}='{expected}']");
    shows(window, &css).await.map(drop)
}

#[tokio::test]
async fn desktop_app_resumes_its_live_feed_after_sleeping_through_a_network_change() {
    // Short heartbeats: the server gives up on the sleeping app in seconds,
    // and the app notices the silence as soon as it wakes.
    let app = TestApp::spawn_with(|config| config.limits.live.heartbeat = Duration::from_secs(1)).await;
    let network = crate::stall_proxy::StallProxy::start(app.address).await;
    let server = format!("http://{}", network.address);
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let window = desktop.driver.session(desktop.capabilities()).await;
    let awake = tokio::time::timeout(TEST_TIMEOUT, async {
        sign_in(&window, "acme", "pk_demo_acme_viewer", &server).await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        for index in 0..2 {
            app.create("acme", crate::common::card_payment(&format!("before_{index}"), 1.0))
                .await;
        }
        feed_reads(&window, "data-rows", "2").await
    })
    .await;
    if !matches!(awake, Ok(Ok(()))) {
        crate::webdriver::save_evidence(&window, "desktop-sleep").await;
    }
    awake
        .expect("the desktop app answers in time")
        .expect("live events reach the app");

    // The computer sleeps; it wakes on another network, where its socket
    // is silent for good and no close ever reaches it.
    desktop.driver.freeze();
    network.sever();
    for index in 0..3 {
        app.create("acme", crate::common::card_payment(&format!("asleep_{index}"), 1.0))
            .await;
    }
    let hub = &app.state.live.hub;
    crate::common::eventually("the server gives up on the sleeping app", SCREEN_TIMEOUT, || async {
        hub.disconnects(paypulse_server::live::hub::Disconnect::HeartbeatTimeout) == 1
    })
    .await;
    desktop.driver.thaw();

    let resumed = tokio::time::timeout(TEST_TIMEOUT, async {
        feed_reads(&window, "data-rows", "5").await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        let gaps = shows(&window, "[data-testid=events-feed]")
            .await?
            .attr("data-gaps")
            .await?;
        let resyncs = shows(&window, "[data-testid=connection-status]")
            .await?
            .attr("data-resyncs")
            .await?;
        Step::Ok((gaps, resyncs))
    })
    .await;
    if !matches!(resumed, Ok(Ok(_))) {
        crate::webdriver::save_evidence(&window, "desktop-wake").await;
    }
    window.close().await.ok();
    let (gaps, resyncs) = resumed
        .expect("the desktop app answers in time")
        .expect("the woken app resumes its feed with what it missed");
    assert_eq!(gaps.as_deref(), Some("0"), "every event once, in order");
    assert_eq!(resyncs.as_deref(), Some("0"), "resumed, not reloaded");
}

#[tokio::test]
async fn desktop_export_cancelled_while_the_server_stalls_stops_at_once_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let payments: Vec<_> = (0..200)
        .map(|index| {
            payment(
                "globex",
                now - TimeDelta::minutes(index),
                1_000 + index,
                "card",
                PaymentStatus::Succeeded,
            )
        })
        .collect();
    app.insert(&payments).await;
    let network = crate::stall_proxy::StallProxy::start(app.address).await;
    let server = format!("http://{}", network.address);
    let bus = SessionBus::start();
    let desktop = Desktop::start(&bus);
    let target = desktop.home.0.join("stalled.csv");
    let window = desktop.driver.session(desktop.capabilities()).await;
    let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
        sign_in(&window, "globex", "pk_demo_globex_viewer", &server).await?;
        shows(&window, "[data-testid=connection-status][data-state=live]").await?;
        shows(&window, "[data-testid=export-csv]").await?.click().await?;
        desktop.save_dialog().await;
        // The server stops answering before the export's first byte.
        network.pause();
        desktop.xdotool(&["key", "ctrl+a"]);
        desktop.xdotool(&["type", "--delay", "5", &target.display().to_string()]);
        desktop.xdotool(&["key", "Return"]);
        shows(&window, "[data-testid=export-cancel]").await?.click().await?;
        // At once, not after the stall timeout (60 s).
        let stopped = window
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("[data-testid=export-csv][data-busy=false]"))
            .await
            .map(drop);
        let reported = window
            .find_all(Locator::Css("[data-testid=export-saved], [data-testid=export-error]"))
            .await?
            .len();
        Step::Ok((stopped, reported))
    })
    .await;
    network.resume();
    if !matches!(outcome, Ok(Ok((Ok(()), _)))) {
        crate::webdriver::save_evidence(&window, "desktop-export-stall").await;
    }
    window.close().await.ok();
    let (stopped, reported) = outcome
        .expect("the desktop app answers in time")
        .expect("driving the desktop app");
    stopped.expect("Cancel stops a stalled export within seconds");
    assert_eq!(reported, 0, "a cancelled export reports nothing");
    let left: Vec<_> = std::fs::read_dir(&desktop.home.0)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("stalled"))
        .collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
}
