//! Desktop end-to-end test: the real Tauri app (built with the dashboard
//! embedded) runs under a private Xvfb display, driven over WebDriver through
//! tauri-driver and WebKitWebDriver. It opens on the settings screen, signs
//! in to a real server, and shows the same total volume as the REST API.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use fantoccini::Locator;
use paypulse_shared::payment::PaymentStatus;

use crate::common::{TestApp, payment};
use crate::webdriver::{Driver, TempDir, Xvfb};

const SCREEN_TIMEOUT: Duration = Duration::from_secs(60);
const TEST_TIMEOUT: Duration = Duration::from_secs(150);

/// A path named by an environment variable `cargo xtask test` sets.
fn required_path(variable: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{variable} is not set: run the suite with `cargo xtask test`"));
    assert!(path.exists(), "{variable}={} does not exist", path.display());
    path
}

#[tokio::test]
async fn desktop_app_signs_in_and_shows_the_api_total() {
    let application = required_path("DESKTOP_BIN");
    let tauri_driver = required_path("TAURI_DRIVER");
    let app = TestApp::spawn().await;
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
    let api = app.json("globex", "/api/analytics/metrics").await;

    let display = Xvfb::start();
    // The app remembers its settings (WebKit's localStorage under the XDG
    // data folder); a fresh home makes it start signed out, as on first use.
    let home = TempDir::new("paypulse-desktop-home");
    let xdg = |folder: &str| home.0.join(folder).display().to_string();
    let driver = Driver::start(
        &tauri_driver,
        &[
            "--port",
            "{port}",
            "--native-port",
            "{port2}",
            "--native-driver",
            "/usr/bin/WebKitWebDriver",
        ],
        &[
            ("DISPLAY", display.display.clone()),
            ("XDG_DATA_HOME", xdg("data")),
            ("XDG_CONFIG_HOME", xdg("config")),
            ("XDG_CACHE_HOME", xdg("cache")),
        ],
    );
    let capabilities = serde_json::json!({
        "browserName": "wry",
        "tauri:options": { "application": application },
    });
    let window = driver.session(capabilities).await;
    // A WebDriver that stops answering must fail the test, not hang it.
    let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
        let form = window
            .wait()
            .at_most(SCREEN_TIMEOUT)
            .for_element(Locator::Css("[data-testid=settings]"))
            .await?;
        form.find(Locator::Css("input[name=tenant]"))
            .await?
            .send_keys("globex")
            .await?;
        form.find(Locator::Css("input[name=key]"))
            .await?
            .send_keys("pk_demo_globex_viewer")
            .await?;
        form.find(Locator::Css("input[name=server]"))
            .await?
            .send_keys(&app.url(""))
            .await?;
        form.find(Locator::Css("button[type=submit]")).await?.click().await?;
        window
            .wait()
            .at_most(SCREEN_TIMEOUT)
            .for_element(Locator::Css("[data-testid=metrics-grid][data-state=ready]"))
            .await?;
        let total = window.find(Locator::Css("[data-testid=metric-total-volume]")).await?;
        Ok::<_, fantoccini::error::CmdError>((total.attr("data-value").await?, total.text().await?))
    })
    .await;
    if !matches!(outcome, Ok(Ok(_))) {
        crate::webdriver::save_evidence(&window, "desktop").await;
    }
    window.close().await.ok();
    let (value, text) = outcome
        .expect("the desktop app answers in time")
        .expect("driving the desktop app");
    let shown: f64 = value.as_deref().expect("data-value").parse().unwrap();
    assert_eq!(Some(shown), api["totalVolume"].as_f64());
    assert_eq!(text, "$4,200.99");
}
