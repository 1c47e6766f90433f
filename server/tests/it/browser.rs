//! Browser smoke test: headless Chromium (driven over WebDriver) opens the
//! dashboard the server serves, signs in through a `#tenant=&key=` link, and
//! shows the same total volume as the REST endpoint.

use std::path::Path;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use fantoccini::Locator;
use paypulse_shared::payment::PaymentStatus;

use crate::common::{TestApp, payment, ui_dist};
use crate::webdriver::{Driver, TempDir, chromium_capabilities};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the page may take to show its numbers.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn dashboard_shows_the_same_total_volume_as_the_api() {
    assert!(
        ui_dist().join("index.html").is_file(),
        "the dashboard is not built at {}: run `cargo xtask ui` (cargo xtask test does)",
        ui_dist().display()
    );
    let app = TestApp::spawn().await;
    let now = Utc::now();
    app.insert(&[
        payment(
            "acme",
            now - TimeDelta::hours(2),
            1_234_567,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment(
            "acme",
            now - TimeDelta::hours(3),
            10,
            "paypal",
            PaymentStatus::Succeeded,
        ),
        payment("acme", now - TimeDelta::hours(4), 20, "paypal", PaymentStatus::Refunded),
        payment("acme", now - TimeDelta::hours(5), 5_000, "card", PaymentStatus::Failed),
    ])
    .await;
    let api = app.json("acme", "/api/analytics/metrics").await;

    let profile = TempDir::new("paypulse-chromium");
    let driver = Driver::start(Path::new(CHROMEDRIVER), &["--port={port}"], &[]);
    let browser = driver.session(chromium_capabilities(&profile.0)).await;
    // A WebDriver that stops answering must fail the test, not hang it.
    let outcome = tokio::time::timeout(PAGE_TIMEOUT * 3, async {
        browser.goto(&app.url("/#tenant=acme&key=pk_demo_acme_viewer")).await?;
        browser
            .wait()
            .at_most(PAGE_TIMEOUT)
            .for_element(Locator::Css("[data-testid=metrics-grid][data-state=ready]"))
            .await?;
        let read = |testid: &'static str| {
            let browser = browser.clone();
            async move {
                let element = browser.find(Locator::Css(&format!("[data-testid={testid}]"))).await?;
                Ok::<_, fantoccini::error::CmdError>((element.attr("data-value").await?, element.text().await?))
            }
        };
        let total = read("metric-total-volume").await?;
        let rate = read("metric-success-rate").await?;
        let top = read("metric-top-method").await?;
        let url = browser.current_url().await?;
        Ok::<_, fantoccini::error::CmdError>((total, rate, top, url))
    })
    .await;
    if !matches!(outcome, Ok(Ok(_))) {
        crate::webdriver::save_evidence(&browser, "browser").await;
    }
    browser.close().await.ok();
    let (total, rate, top, url) = outcome
        .expect("the browser answers in time")
        .expect("driving the dashboard");

    let served: f64 = total.0.as_deref().unwrap().parse().unwrap();
    assert_eq!(
        Some(served),
        api["totalVolume"].as_f64(),
        "data-value equals the API's totalVolume"
    );
    assert_eq!(total.1, "$12,345.97", "shown as exact money");
    let shown_rate: f64 = rate.0.as_deref().unwrap().parse().unwrap();
    assert_eq!(Some(shown_rate), api["successRate"].as_f64());
    assert_eq!(top.0.as_deref(), api["topPaymentMethod"].as_str());
    assert!(
        url.fragment().is_none(),
        "the key is removed from the address bar: {url}"
    );
}
