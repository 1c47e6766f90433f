//! The dashboard in headless Chromium (driven over WebDriver) against real
//! servers: it signs in through a `#tenant=&key=` link; every number equals
//! the REST API's for the same range; the period toggle shows the API's
//! points and a drag zooms; a live event is on screen within a second; a
//! pause keeps and counts what arrives; and a restarted server is rejoined
//! without a gap, or, when the missed events are gone, with a clean reload;
//! with the simulator on, every row is a stored payment and, once it stops,
//! the grid equals the API; and it can be used by keyboard alone (Tab, arrow
//! keys, Enter), at 1024 px, in the dark colour scheme.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use fantoccini::actions::{InputSource, KeyAction, KeyActions, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use paypulse_server::clock::Clock;
use paypulse_shared::payment::PaymentStatus;
use paypulse_shared::time::format_utc;
use paypulse_shared::wire::Period;
use serde_json::{Value, json};

use crate::common::{TestApp, card_payment, payment, ui_dist};
use crate::process::{ServerProcess, free_port};
use crate::webdriver::{Driver, TempDir, chromium_capabilities};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long the page may take to reach a state.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// SPEC: a live event is on screen within this.
const LIVE_WITHIN: Duration = Duration::from_secs(1);
const SIGN_IN: &str = "/#tenant=acme&key=pk_demo_acme_viewer";

/// One browser on one page; the browser is killed when dropped.
struct Page {
    client: Client,
    name: &'static str,
    driver: Driver,
    _profile: TempDir,
}

impl Page {
    async fn open(url: &str, name: &'static str) -> Self {
        Self::open_with(url, name, &[]).await
    }

    /// With extra Chromium switches; a `--window-size` among them replaces
    /// the default one.
    async fn open_with(url: &str, name: &'static str, switches: &[&str]) -> Self {
        Self::open_configured(url, name, switches, |_| {}).await
    }

    /// With extra switches and capabilities adjusted by `adjust`.
    async fn open_configured(
        url: &str,
        name: &'static str,
        switches: &[&str],
        adjust: impl FnOnce(&mut Value),
    ) -> Self {
        assert!(
            ui_dist().join("index.html").is_file(),
            "the dashboard is not built at {}: run `cargo xtask ui` (cargo xtask test does)",
            ui_dist().display()
        );
        let profile = TempDir::new("paypulse-chromium");
        let driver = Driver::start(Path::new(CHROMEDRIVER), &["--port={port}"], &[]);
        let mut capabilities = chromium_capabilities(&profile.0);
        if let Some(args) = capabilities["goog:chromeOptions"]["args"].as_array_mut() {
            if switches.iter().any(|switch| switch.starts_with("--window-size")) {
                args.retain(|arg| !arg.as_str().is_some_and(|arg| arg.starts_with("--window-size")));
            }
            args.extend(switches.iter().map(|switch| json!(switch)));
        }
        adjust(&mut capabilities);
        let client = driver.session(capabilities).await;
        let page = Self {
            client,
            name,
            driver,
            _profile: profile,
        };
        page.step(page.client.goto(url)).await;
        page
    }

    /// Runs one WebDriver command; a failure (or a driver that stops
    /// answering) saves evidence and fails the test.
    async fn step<T>(&self, command: impl Future<Output = Result<T, fantoccini::error::CmdError>>) -> T {
        match tokio::time::timeout(PAGE_TIMEOUT, command).await {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => {
                crate::webdriver::save_evidence(&self.client, self.name).await;
                panic!("driving the dashboard ({}): {error}", self.name);
            }
            Err(_) => {
                crate::webdriver::save_evidence(&self.client, self.name).await;
                panic!(
                    "driving the dashboard ({}): the browser did not answer within {PAGE_TIMEOUT:?}",
                    self.name
                );
            }
        }
    }

    /// `attribute` of every element matching `css`, in document order.
    async fn attributes(&self, css: &str, attribute: &str) -> Vec<Option<String>> {
        self.attribute_rows(css, &[attribute])
            .await
            .into_iter()
            .map(|mut row| row.remove(0))
            .collect()
    }

    /// `attributes` of every element matching `css`, read in one go: one
    /// snapshot of a list that may be growing meanwhile.
    async fn attribute_rows(&self, css: &str, attributes: &[&str]) -> Vec<Vec<Option<String>>> {
        let script = "return Array.from(document.querySelectorAll(arguments[0]))
            .map(e => arguments[1].map(name => e.getAttribute(name)));";
        let value = self
            .step(self.client.execute(script, vec![json!(css), json!(attributes)]))
            .await;
        serde_json::from_value(value).expect("a list of attribute lists")
    }

    /// `attribute` of the first element matching `css`.
    async fn attribute(&self, css: &str, attribute: &str) -> Option<String> {
        self.attributes(css, attribute).await.into_iter().next().flatten()
    }

    /// Polls until `attribute` of `css` satisfies `done`; returns its value.
    async fn wait_for(&self, css: &str, attribute: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let value = self.attribute(css, attribute).await;
            if let Some(value) = value.as_deref().filter(|value| done(value)) {
                return value.to_owned();
            }
            if Instant::now() > deadline {
                crate::webdriver::save_evidence(&self.client, self.name).await;
                panic!(
                    "{}: waited {PAGE_TIMEOUT:?} for {what}; {css} [{attribute}] is {value:?}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_equal(&self, css: &str, attribute: &str, expected: &str) {
        self.wait_for(css, attribute, &format!("{attribute} = {expected}"), |value| {
            value == expected
        })
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self
            .step(self.client.wait().at_most(PAGE_TIMEOUT).for_element(Locator::Css(css)))
            .await;
        self.step(element.click()).await;
    }

    /// Presses `key` wherever the keyboard focus is, as a person would: a
    /// WebDriver key action, not an event sent to an element we picked.
    async fn press(&self, key: Key) {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key.into() })
            .then(KeyAction::Up { value: key.into() });
        self.step(self.client.perform_actions(keys)).await;
    }

    /// Presses Tab until the element matching `css` has the focus.
    async fn tab_to(&self, css: &str) {
        let focused = "return document.activeElement !== null && document.activeElement.matches(arguments[0]);";
        for _ in 0..MAX_TABS {
            self.press(Key::Tab).await;
            if self.step(self.client.execute(focused, vec![json!(css)])).await == json!(true) {
                return;
            }
        }
        crate::webdriver::save_evidence(&self.client, self.name).await;
        panic!("{}: {MAX_TABS} presses of Tab never reached {css}", self.name);
    }

    /// The text of the first element matching `css`.
    async fn text(&self, css: &str) -> String {
        self.step(async { self.client.find(Locator::Css(css)).await?.text().await })
            .await
    }

    /// The address bar's query parameter `name`.
    async fn url_parameter(&self, name: &str) -> Option<String> {
        let url = self.step(self.client.current_url()).await;
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// Waits until the address bar's `name` satisfies `done`.
    async fn wait_url(&self, name: &str, what: &str, done: impl Fn(Option<&str>) -> bool) -> Option<String> {
        let deadline = Instant::now() + PAGE_TIMEOUT;
        loop {
            let value = self.url_parameter(name).await;
            if done(value.as_deref()) {
                return value;
            }
            if Instant::now() > deadline {
                crate::webdriver::save_evidence(&self.client, self.name).await;
                panic!(
                    "{}: waited {PAGE_TIMEOUT:?} for {what}; '{name}' is {value:?}",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn live(&self) {
        self.wait_equal("[data-testid=connection-status]", "data-state", "live")
            .await;
    }

    async fn feed(&self, attribute: &str) -> u64 {
        let value = self.attribute("[data-testid=events-feed]", attribute).await;
        value.and_then(|value| value.parse().ok()).unwrap_or(0)
    }
}

fn number(value: Option<String>) -> Option<f64> {
    value?.parse().ok()
}

/// Checks every figure of the metrics grid against the API for the range
/// the grid says it shows, once the page has fetched it after the last live
/// event it received (a refetch waits up to a second after the previous).
/// Returns the API's answer.
async fn check_metrics(page: &Page, app: &TestApp, base: &str) -> Value {
    let grid = "[data-testid=metrics-grid]";
    page.wait_equal("[data-testid=metrics]", "data-fresh", "true").await;
    page.wait_equal(grid, "data-state", "ready").await;
    let (from, to) = (
        page.attribute(grid, "data-from").await.unwrap(),
        page.attribute(grid, "data-to").await.unwrap(),
    );
    let api: Value = app
        .http
        .get(format!(
            "{base}/api/analytics/metrics?from={from}&to={to}&compare=previous"
        ))
        .header("X-Tenant-Id", "acme")
        .bearer_auth("pk_demo_acme_viewer")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let value =
        |testid: &'static str| async move { page.attribute(&format!("[data-testid={testid}]"), "data-value").await };
    let context = format!("grid for [{from}, {to}) against {api}");
    for (testid, field) in [
        ("metric-total-volume", "totalVolume"),
        ("metric-success-rate", "successRate"),
        ("metric-average-amount", "averageAmount"),
        ("metric-active-methods", "activeMethods"),
        ("metric-peak-hour", "peakHour"),
    ] {
        assert_eq!(number(value(testid).await), api[field].as_f64(), "{testid}: {context}");
    }
    // No top method is an empty data-value on the page, null in the API.
    let top = value("metric-top-method").await.filter(|top| !top.is_empty());
    assert_eq!(top.as_deref(), api["topPaymentMethod"].as_str(), "{context}");
    let hours: Vec<Option<f64>> = page
        .attributes("[data-testid=hour-bar]", "data-count")
        .await
        .into_iter()
        .map(number)
        .collect();
    let expected: Vec<Option<f64>> = api["hourlyCounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::as_f64)
        .collect();
    assert_eq!(hours, expected, "hour-of-day distribution, {context}");
    // Each change is against the API's previous period of the same length.
    let previous = &api["previous"];
    for (testid, field) in [
        ("metric-total-volume", "totalVolume"),
        ("metric-average-amount", "averageAmount"),
        ("metric-active-methods", "activeMethods"),
        ("metric-count", "count"),
    ] {
        let change = format!("[data-testid=change-{testid}]");
        assert_eq!(
            number(page.attribute(&change, "data-previous").await),
            previous[field].as_f64(),
            "{testid} against the previous period: {context}"
        );
        let direction = page.attribute(&change, "data-direction").await.unwrap();
        let (now, before) = (api[field].as_f64().unwrap(), previous[field].as_f64().unwrap());
        let text = page.text(&change).await;
        match direction.as_str() {
            "up" => assert!(now > before && text.starts_with('▲'), "{testid}: {text}"),
            "down" => assert!(now < before && text.starts_with('▼'), "{testid}: {text}"),
            _ => assert!(text.contains("no change"), "{testid}: {text}"),
        }
    }
    api
}

/// The chart's points as the page shows them.
async fn shown_points(page: &Page) -> Vec<ShownPoint> {
    let point = "[data-testid=trend-point]";
    points_from_columns(
        page.attributes(point, "data-timestamp").await,
        page.attributes(point, "data-amount").await,
        page.attributes(point, "data-count").await,
        page.attributes(point, "data-success-rate").await,
        page.attributes(point, "data-anomaly").await,
    )
}

fn api_points(api: &Value) -> Vec<ShownPoint> {
    api.as_array()
        .unwrap()
        .iter()
        .map(|point| {
            (
                point["timestamp"].as_str().map(str::to_owned),
                point["amount"].as_f64(),
                point["count"].as_f64(),
                point["successRate"].as_f64(),
                point["anomaly"].as_bool().map(|anomaly| anomaly.to_string()),
            )
        })
        .collect()
}

/// Waits for the chart to show the answer to the query it names, and
/// checks its points against the API's answer to the same query. Returns
/// the points.
async fn check_chart(page: &Page, app: &TestApp) -> Vec<ShownPoint> {
    let chart = "[data-testid=trend-chart]";
    page.wait_equal(chart, "data-fresh", "true").await;
    let query = page.attribute(chart, "data-query").await.unwrap();
    let api = app.json("acme", &format!("/api/analytics/trends?{query}")).await;
    let expected = api_points(&api);
    page.wait_equal(chart, "data-points", &expected.len().to_string()).await;
    let shown = shown_points(page).await;
    assert_eq!(shown, expected, "the chart's points are the API's for {query}");
    shown
}

/// What a first load may transfer (docs/ARCHITECTURE.md, "Dashboard").
const FIRST_LOAD_BUDGET_BYTES: u64 = 250 * 1024;

/// The first load is what the size budget counts: browsers (which all accept
/// gzip) get the compressed copies `cargo xtask ui` writes, and together
/// they stay within the budget; other clients get the plain files; the
/// dashboard's own routes get `index.html`.
#[tokio::test]
async fn dashboard_files_are_sent_gzipped_to_clients_that_accept_it() {
    let first_load: u64 = ["index.html", "style.css", "paypulse-ui.js", "paypulse-ui_bg.wasm"]
        .iter()
        .map(|file| std::fs::metadata(ui_dist().join(format!("{file}.gz"))).unwrap().len())
        .sum();
    assert!(
        first_load <= FIRST_LOAD_BUDGET_BYTES,
        "the first load is {} KB gzipped, over the {} KB budget: trim the dashboard before adding to it",
        first_load / 1024,
        FIRST_LOAD_BUDGET_BYTES / 1024
    );
    let app = TestApp::spawn().await;
    for (path, file, kind) in [
        ("/paypulse-ui_bg.wasm", "paypulse-ui_bg.wasm", "application/wasm"),
        ("/paypulse-ui.js", "paypulse-ui.js", "text/javascript"),
        ("/style.css", "style.css", "text/css"),
        ("/some/dashboard/route", "index.html", "text/html"),
    ] {
        let plain = std::fs::read(ui_dist().join(file)).unwrap();
        let gzipped = std::fs::read(ui_dist().join(format!("{file}.gz"))).unwrap();
        assert!(gzipped.len() < plain.len());
        for (accept, expected, encoding) in [
            (Some("gzip, deflate, br"), &gzipped, Some("gzip")),
            (None, &plain, None),
        ] {
            let mut request = app.http.get(app.url(path));
            if let Some(accept) = accept {
                request = request.header("Accept-Encoding", accept);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|value| value.to_str().unwrap().to_owned())
            };
            assert_eq!(
                header("content-encoding").as_deref(),
                encoding,
                "{path} with {accept:?}"
            );
            assert!(header("content-type").unwrap().starts_with(kind), "{path}");
            assert_eq!(
                &response.bytes().await.unwrap()[..],
                &expected[..],
                "{path} with {accept:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_number_on_screen_equals_the_api() {
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
        payment(
            "acme",
            now - TimeDelta::hours(30),
            7_000,
            "apple_pay",
            PaymentStatus::Succeeded,
        ),
    ])
    .await;
    let page = Page::open(&app.url(SIGN_IN), "browser-numbers").await;
    check_metrics(&page, &app, &app.url("")).await;
    let total = page.attribute("[data-testid=metric-total-volume]", "data-value").await;
    assert_eq!(total.as_deref(), Some("12345.97"));
    let text = page.text("[data-testid=metric-total-volume]").await;
    assert_eq!(text, "$12,345.97", "shown as exact money");
    let styles = page
        .step(page.client.execute(crate::webdriver::STYLE_PROBE, Vec::new()))
        .await;
    assert_eq!(
        styles,
        json!({"sheetApplied": false, "attributeApplied": true}),
        "inline styles under the page's CSP"
    );
    let url = page.step(page.client.current_url()).await;
    assert!(
        url.fragment().is_none(),
        "the key is removed from the address bar: {url}"
    );
}

#[tokio::test]
async fn the_period_toggle_shows_the_apis_points() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    let history: Vec<_> = (1..200_i64)
        .map(|index| {
            let status = if index % 9 == 0 {
                PaymentStatus::Failed
            } else {
                PaymentStatus::Succeeded
            };
            payment(
                "acme",
                now - TimeDelta::hours(index * 3),
                1_000 + index * 37,
                "card",
                status,
            )
        })
        .collect();
    app.insert(&history).await;
    let page = Page::open(&app.url(SIGN_IN), "browser-trends").await;
    let chart = "[data-testid=trend-chart]";
    for (period, from, bucket) in [
        ("week", "now-7d", "6h"),
        ("month", "now-30d", "1d"),
        ("day", "now-24h", "1h"),
    ] {
        page.click(&format!("[data-testid=period-{period}]")).await;
        page.wait_equal(chart, "data-period", period).await;
        // The toggles are the last 24 h, 7 d, 30 d in the period's buckets.
        page.wait_url("from", from, |value| value == Some(from)).await;
        assert_eq!(page.url_parameter("bucket").await.as_deref(), Some(bucket));
        let shown = check_chart(&page, &app).await;
        if period == "month" {
            // The README's picture of the dashboard.
            crate::webdriver::save_screenshot(&page.client, "browser-dashboard").await;
        }
        let buckets = Period::ALL
            .iter()
            .find(|choice| choice.as_str() == period)
            .unwrap()
            .default_points();
        assert!(
            (buckets..=buckets + 1).contains(&shown.len()),
            "{period}: the period's buckets, plus the partial one at the start: {}",
            shown.len()
        );
    }
}

/// A trend point as the page and the API give it: timestamp, amount, count,
/// success rate, anomaly.
type ShownPoint = (Option<String>, Option<f64>, Option<f64>, Option<f64>, Option<String>);

/// Five columns of attributes as rows, numbers parsed.
fn points_from_columns(
    timestamps: Vec<Option<String>>,
    amounts: Vec<Option<String>>,
    counts: Vec<Option<String>>,
    rates: Vec<Option<String>>,
    anomalies: Vec<Option<String>>,
) -> Vec<ShownPoint> {
    (0..timestamps.len())
        .map(|index| {
            (
                timestamps[index].clone(),
                number(amounts[index].clone()),
                number(counts[index].clone()),
                number(rates[index].clone()),
                anomalies[index].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn live_events_show_within_a_second_and_a_pause_keeps_them() {
    let app = TestApp::spawn().await;
    let page = Page::open(&app.url(SIGN_IN), "browser-live").await;
    page.live().await;
    let mut latencies = Vec::new();
    for index in 0..5 {
        let sent = Instant::now();
        let created = app.create("acme", card_payment(&format!("live-{index}"), 12.5)).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let row = format!("[data-testid=event-row][data-payment-id='{id}']");
        page.wait_for(&row, "data-type", "the new payment's row", |_| true)
            .await;
        latencies.push(sent.elapsed());
    }
    eprintln!("ingest-to-screen latencies: {latencies:?}");
    assert!(
        latencies.iter().all(|latency| *latency <= LIVE_WITHIN),
        "every event on screen within {LIVE_WITHIN:?}: {latencies:?}"
    );

    page.click("[data-testid=feed-pause]").await;
    page.wait_equal("[data-testid=feed-pause]", "aria-pressed", "true")
        .await;
    let shown = page.feed("data-rows").await;
    for index in 0..3 {
        app.create("acme", card_payment(&format!("paused-{index}"), 3.0)).await;
    }
    page.wait_equal("[data-testid=feed-waiting]", "data-value", "3").await;
    assert_eq!(page.feed("data-rows").await, shown, "a paused feed does not move");
    page.click("[data-testid=feed-pause]").await;
    page.wait_equal("[data-testid=events-feed]", "data-rows", &(shown + 3).to_string())
        .await;
    assert_eq!(
        page.attribute("[data-testid=feed-waiting]", "data-value")
            .await
            .as_deref(),
        Some("0")
    );
    let seqs: Vec<u64> = page
        .attributes("[data-testid=event-row]", "data-seq")
        .await
        .into_iter()
        .map(|seq| seq.unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs.len(), 8, "all rows fit the viewport");
    assert!(
        seqs.windows(2).all(|pair| pair[0] == pair[1] + 1),
        "newest first, consecutive: {seqs:?}"
    );
    assert_eq!(page.feed("data-gaps").await, 0);

    // The grid follows the events: it refetches, and then equals the API.
    page.wait_for(
        "[data-testid=metric-total-volume]",
        "data-value",
        "the grid to count 8 payments",
        |value| value == "71.5",
    )
    .await;
    check_metrics(&page, &app, &app.url("")).await;
}

#[tokio::test]
async fn a_restarted_server_is_rejoined_without_a_gap() {
    let app = TestApp::spawn().await;
    let port = free_port();
    let first = ServerProcess::start_at(&app, port, true).await;
    let page = Page::open(&first.url(SIGN_IN), "browser-restart").await;
    page.live().await;
    for index in 0..2 {
        app.create("acme", card_payment(&format!("before-{index}"), 1.0)).await;
    }
    page.wait_equal("[data-testid=events-feed]", "data-rows", "2").await;

    drop(first);
    page.wait_for(
        "[data-testid=connection-status]",
        "data-state",
        "the page to notice",
        |state| state != "live",
    )
    .await;
    // Payments accepted by another instance while the page is away.
    for index in 0..3 {
        app.create("acme", card_payment(&format!("during-{index}"), 1.0)).await;
    }
    let second = ServerProcess::start_at(&app, port, true).await;
    page.live().await;
    page.wait_equal("[data-testid=events-feed]", "data-rows", "5").await;
    assert_eq!(page.feed("data-gaps").await, 0, "every event exactly once, in order");
    assert_eq!(
        page.attribute("[data-testid=connection-status]", "data-resyncs")
            .await
            .as_deref(),
        Some("0")
    );
    let seqs = page.attributes("[data-testid=event-row]", "data-seq").await;
    assert_eq!(seqs.len(), 5);
    check_metrics(&page, &app, &second.url("")).await;
}

#[tokio::test]
async fn beyond_the_replay_window_the_page_reloads_cleanly() {
    let app = TestApp::spawn().await;
    let port = free_port();
    // Without Redis a process's feed history dies with it: the restarted
    // server cannot replay what the page missed.
    let first = ServerProcess::start_at(&app, port, false).await;
    let page = Page::open(&first.url(SIGN_IN), "browser-resync").await;
    page.live().await;
    for index in 0..2 {
        assert_eq!(first.ingest(&app, &format!("before-{index}")).await, 201);
    }
    page.wait_equal("[data-testid=events-feed]", "data-rows", "2").await;
    drop(first);
    // Accepted (by another instance) while no server feeds the page.
    app.create("acme", card_payment("while-away", 4.0)).await;
    let second = ServerProcess::start_at(&app, port, false).await;
    page.wait_equal("[data-testid=connection-status]", "data-resyncs", "1")
        .await;
    page.live().await;
    // The numbers were reloaded from REST: they include the payment whose
    // event the page never saw.
    page.wait_for(
        "[data-testid=metric-total-volume]",
        "data-value",
        "the reloaded total",
        |value| value == "12",
    )
    .await;
    check_metrics(&page, &app, &second.url("")).await;
    assert_eq!(second.ingest(&app, "after").await, 201);
    page.wait_equal("[data-testid=events-feed]", "data-rows", "3").await;
    assert_eq!(page.feed("data-gaps").await, 0, "the new feed continues without a gap");
}

#[tokio::test]
async fn with_the_simulator_on_every_row_is_a_stored_payment() {
    let mut app = TestApp::spawn_with(|config| {
        config.simulate = true;
        config.simulate_rate = 8.0;
    })
    .await;
    // The page is served by another instance (without a simulator) on the
    // same database and Redis, so the simulator can be stopped while the page
    // stays connected: only then do its numbers stop moving and can be
    // compared exactly.
    let server = ServerProcess::start(&app).await;
    let page = Page::open(&server.url(SIGN_IN), "browser-simulator").await;
    page.live().await;
    page.wait_for(
        "[data-testid=events-feed]",
        "data-rows",
        "twelve simulated events",
        |rows| rows.parse::<u64>().is_ok_and(|rows| rows >= 12),
    )
    .await;
    assert_eq!(page.feed("data-gaps").await, 0);
    // One snapshot: rows keep arriving, newest first, so two separate reads
    // of ids and types could pair one row's id with another's type.
    let rows = page
        .attribute_rows("[data-testid=event-row]", &["data-payment-id", "data-type"])
        .await;
    assert!(rows.len() >= 12);
    for row in &rows {
        let (id, kind) = (row[0].as_deref().unwrap(), row[1].as_deref().unwrap());
        let stored = app.json("acme", &format!("/api/payments/{id}")).await;
        let status = stored["status"].as_str().unwrap();
        // A received payment may have been refunded since its row arrived.
        let consistent = match kind {
            "received" => status == "succeeded" || status == "refunded",
            "failed" => status == "failed",
            "refunded" => status == "refunded",
            other => panic!("unknown row type {other}"),
        };
        assert!(consistent, "row {id} says {kind}, the API says {status}");
    }

    // The grid counts them too. Stop the simulator, then write one payment
    // behind whatever it had queued: once that payment's row is on the page,
    // the page has received every event, and once it is fresh its grid must
    // equal the API for its range, figure for figure.
    app.stop_server_and_wait().await;
    let last = app.write_behind_the_queue("acme", "after_the_simulator").await;
    let row = format!("[data-testid=event-row][data-payment-id='{}']", last.id.to_hex());
    page.wait_for(&row, "data-seq", "the last payment's row", |_| true)
        .await;
    assert_eq!(page.feed("data-gaps").await, 0);
    let counted = check_metrics(&page, &app, &server.url("")).await;
    let mut distinct: Vec<&Option<String>> = rows.iter().map(|row| &row[0]).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        counted["count"].as_u64().unwrap() > distinct.len() as u64,
        "the grid's range holds the simulated payments on screen and the last one: {counted}"
    );
}

/// The most Tab presses a control may be away: every control of the page
/// and then some.
const MAX_TABS: usize = 60;

#[tokio::test]
async fn usable_by_keyboard_at_1024_px_in_the_dark() {
    let app = TestApp::spawn().await;
    app.insert(&[payment(
        "acme",
        Utc::now() - TimeDelta::hours(3),
        2_500,
        "card",
        PaymentStatus::Succeeded,
    )])
    .await;
    let switches = [
        "--window-size=1024,900",
        "--force-dark-mode",
        "--blink-settings=preferredColorScheme=0",
    ];
    let page = Page::open_with(&app.url(SIGN_IN), "browser-keyboard", &switches).await;
    page.live().await;
    let script = |code: &'static str| page.step(page.client.execute(code, Vec::new()));
    assert_eq!(
        script("return getComputedStyle(document.body).backgroundColor;").await,
        json!("rgb(11, 18, 32)"),
        "the dark colours apply"
    );
    assert_eq!(
        script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth;").await,
        json!(true),
        "nothing is cut off or scrolls sideways at 1024 px"
    );

    // Tab from the top of the page reaches the month toggle; Enter selects it.
    page.tab_to("[data-testid=period-month]").await;
    page.press(Key::Enter).await;
    let chart = "[data-testid=trend-chart]";
    page.wait_equal(chart, "data-period", "month").await;
    page.wait_equal(chart, "data-fresh", "true").await;

    // Tab on to the chart; arrow keys step through its buckets to the one
    // that holds the payment, and the tooltip shows that bucket's numbers.
    page.tab_to(chart).await;
    let counts = page.attributes("[data-testid=trend-point]", "data-count").await;
    let holding = counts
        .iter()
        .position(|count| count.as_deref() == Some("1"))
        .expect("a bucket holds the payment");
    // From no bucket, ArrowLeft goes to the last one, then one back each.
    for _ in holding..counts.len() {
        page.press(Key::Left).await;
    }
    let tooltip = "[data-testid=trend-tooltip]";
    let timestamp = page.wait_for(tooltip, "data-timestamp", "the tooltip", |_| true).await;
    let api = app.json("acme", "/api/analytics/trends?period=month").await;
    let point = api
        .as_array()
        .unwrap()
        .iter()
        .find(|point| point["timestamp"] == timestamp.as_str())
        .unwrap_or_else(|| panic!("the tooltip's bucket {timestamp} is one of the API's: {api}"));
    assert_eq!(point["count"], 1, "the bucket the keys stepped to: {point}");
    assert_eq!(
        number(page.attribute(tooltip, "data-count").await),
        point["count"].as_f64()
    );
    assert_eq!(
        number(page.attribute(tooltip, "data-amount").await),
        point["amount"].as_f64()
    );
    assert_eq!(
        number(page.attribute(tooltip, "data-success-rate").await),
        point["successRate"].as_f64()
    );
    let shown = page.text(tooltip).await;
    assert!(
        shown.contains("Volume $25.00") && shown.contains("1 payments"),
        "the tooltip shows the bucket's numbers: {shown:?}"
    );

    // Tab on to the feed's row of a new payment; Enter opens its details.
    let created = app.create("acme", card_payment("keyboard", 9.0)).await;
    let id = created["id"].as_str().unwrap();
    let row = format!("[data-testid=event-row][data-payment-id='{id}']");
    page.wait_for(&row, "data-seq", "the row", |_| true).await;
    page.tab_to(&row).await;
    page.press(Key::Enter).await;
    let detail = "[data-testid=payment-detail]";
    page.wait_for(detail, "aria-label", "the details", |_| true).await;
    let heading = page.text(&format!("{detail} h3")).await;
    assert!(
        heading.ends_with(&format!("payment {id}")),
        "details of {id}: {heading:?}"
    );
    let fields = page
        .step(page.client.execute(
            "return Array.from(document.querySelectorAll(arguments[0] + ' dt'))
                .map(term => [term.textContent, term.nextElementSibling.textContent]);",
            vec![json!(detail)],
        ))
        .await;
    let fields: Vec<(String, String)> = serde_json::from_value(fields).expect("pairs of texts");
    for (name, expected) in [
        ("Amount", "$9.00"),
        ("External id", "keyboard"),
        ("Status", "succeeded"),
    ] {
        assert!(
            fields.iter().any(|(term, value)| term == name && value == expected),
            "the details say {name} {expected}: {fields:?}"
        );
    }
}

/// A server whose clock stands still at `now`: relative ranges (`now-6h`)
/// resolve to the same instants for the page and for the test, so both ask
/// the API the same question.
async fn app_at(now: chrono::DateTime<Utc>) -> TestApp {
    TestApp::spawn_with(|config| config.clock = Clock::Fixed(now)).await
}

/// The current minute: a clock for [`app_at`].
fn this_minute() -> chrono::DateTime<Utc> {
    let now = Utc::now();
    chrono::DateTime::from_timestamp(now.timestamp() - now.timestamp() % 60, 0).unwrap()
}

/// Drags across the chart from `start` to `end`, fractions of its width
/// from its centre (−0.5 is the left edge).
async fn drag_across(page: &Page, start: f64, end: f64) {
    let chart = "[data-testid=trend-chart]";
    let scroll = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});";
    page.step(page.client.execute(scroll, vec![json!(chart)])).await;
    let svg = page.step(page.client.find(Locator::Css(chart))).await;
    let width = page
        .step(page.client.execute(
            "return document.querySelector(arguments[0]).getBoundingClientRect().width;",
            vec![json!(chart)],
        ))
        .await
        .as_f64()
        .unwrap();
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: svg.clone(),
            duration: None,
            x: width * start,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveToElement {
            element: svg.clone(),
            duration: Some(Duration::from_millis(100)),
            x: width * end,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    page.step(page.client.perform_actions(drag)).await;
}

/// Seconds between the chart's first two buckets.
fn bucket_seconds(points: &[ShownPoint]) -> i64 {
    let at = |index: usize| -> chrono::DateTime<Utc> { points[index].0.as_deref().unwrap().parse().unwrap() };
    (at(1) - at(0)).num_seconds()
}

/// Waits until the grid shows `[from, to)` and checks it and the chart
/// against the API.
async fn check_range(page: &Page, app: &TestApp, from: &str, to: &str) -> Vec<ShownPoint> {
    let grid = "[data-testid=metrics-grid]";
    page.wait_equal(grid, "data-from", from).await;
    page.wait_equal(grid, "data-to", to).await;
    check_metrics(page, app, &app.url("")).await;
    check_chart(page, app).await
}

#[tokio::test]
async fn a_preset_a_custom_range_and_a_drag_set_the_url_the_numbers_and_the_chart() {
    let now = this_minute();
    let app = app_at(now).await;
    let at = |minutes: i64| now - TimeDelta::minutes(minutes);
    app.insert(&[
        payment("acme", at(10), 1_000, "card", PaymentStatus::Succeeded),
        payment("acme", at(50), 4_000, "paypal", PaymentStatus::Failed),
        payment("acme", at(130), 2_500, "card", PaymentStatus::Succeeded),
        payment("acme", at(170), 3_300, "apple_pay", PaymentStatus::Succeeded),
        payment("acme", at(200), 700, "card", PaymentStatus::Refunded),
        payment("acme", at(300), 1_200, "paypal", PaymentStatus::Succeeded),
        // In the periods before, for the comparisons.
        payment("acme", at(420), 9_000, "card", PaymentStatus::Succeeded),
        payment("acme", at(1_800), 5_000, "card", PaymentStatus::Succeeded),
    ])
    .await;
    let page = Page::open(&app.url(SIGN_IN), "browser-ranges").await;
    let instant = |minutes: i64| format_utc(&at(minutes));
    check_range(&page, &app, &instant(24 * 60), &instant(0)).await;

    // A preset: the last 6 hours, in buckets the server picks (5 minutes).
    let preset = page
        .step(page.client.find(Locator::Css("[data-testid=range-preset]")))
        .await;
    page.step(preset.select_by_value("6h")).await;
    page.wait_url("from", "the preset", |from| from == Some("now-6h")).await;
    assert_eq!(page.url_parameter("to").await.as_deref(), Some("now"));
    let six_hours = check_range(&page, &app, &instant(360), &instant(0)).await;
    assert_eq!(bucket_seconds(&six_hours), 300);

    // A drag across the middle sixth sets an absolute range, and the chart
    // refetches in finer buckets.
    drag_across(&page, -1.0 / 12.0, 1.0 / 12.0).await;
    let dragged_from = page
        .wait_url("from", "the dragged range", |from| {
            from.is_some_and(|from| !from.starts_with("now"))
        })
        .await
        .unwrap();
    let dragged_to = page.url_parameter("to").await.unwrap();
    assert_eq!(page.url_parameter("bucket").await, None);
    let dragged = check_range(&page, &app, &dragged_from, &dragged_to).await;
    assert_eq!(bucket_seconds(&dragged), 60, "minutes for about an hour");
    let span =
        dragged_to.parse::<chrono::DateTime<Utc>>().unwrap() - dragged_from.parse::<chrono::DateTime<Utc>>().unwrap();
    assert!(
        span >= TimeDelta::minutes(45) && span <= TimeDelta::minutes(75),
        "a sixth of six hours, give or take a bucket: {span}"
    );
    assert_eq!(
        page.attribute("[data-testid=trend-chart]", "data-period")
            .await
            .as_deref(),
        Some("custom")
    );

    // A custom range with the time of day, in the tenant's zone (UTC for acme).
    let (from, to) = (at(185), at(45));
    let local = |instant: chrono::DateTime<Utc>| instant.format("%Y-%m-%dT%H:%M").to_string();
    page.step(page.client.execute(
        "document.querySelector('[data-testid=range-from]').value = arguments[0];
         document.querySelector('[data-testid=range-to]').value = arguments[1];",
        vec![json!(local(from)), json!(local(to))],
    ))
    .await;
    page.click("[data-testid=range-apply]").await;
    page.wait_url("from", "the custom range", |value| {
        value == Some(format_utc(&from).as_str())
    })
    .await;
    assert_eq!(page.url_parameter("to").await, Some(format_utc(&to)));
    check_range(&page, &app, &format_utc(&from), &format_utc(&to)).await;

    // A reload shows the same view; back and forward walk the ranges.
    page.step(page.client.refresh()).await;
    check_range(&page, &app, &format_utc(&from), &format_utc(&to)).await;
    page.step(page.client.back()).await;
    check_range(&page, &app, &dragged_from, &dragged_to).await;
    page.step(page.client.back()).await;
    check_range(&page, &app, &instant(360), &instant(0)).await;
    assert_eq!(page.url_parameter("from").await.as_deref(), Some("now-6h"));
    page.step(page.client.forward()).await;
    check_range(&page, &app, &dragged_from, &dragged_to).await;

    // Zoom out doubles the span around its middle.
    let (start, end): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) =
        (dragged_from.parse().unwrap(), dragged_to.parse().unwrap());
    page.click("[data-testid=range-zoom-out]").await;
    let half = (end - start) / 2;
    check_range(&page, &app, &format_utc(&(start - half)), &format_utc(&(end + half))).await;
    // Earlier moves half a span back; Later half a span forward.
    page.click("[data-testid=range-back]").await;
    check_range(
        &page,
        &app,
        &format_utc(&(start - half * 3)),
        &format_utc(&(end - half)),
    )
    .await;
    page.click("[data-testid=range-forward]").await;
    check_range(&page, &app, &format_utc(&(start - half)), &format_utc(&(end + half))).await;
    // Later never goes past now: the range that would reach it becomes the
    // last span up to now, which follows the clock, and Later is disabled.
    let mut shown_to = page.url_parameter("to").await;
    for _ in 0..20 {
        if shown_to.as_deref() == Some("now") {
            break;
        }
        page.click("[data-testid=range-forward]").await;
        let before = shown_to.clone();
        shown_to = page
            .wait_url("to", "the range to move later", |to| to.map(str::to_owned) != before)
            .await;
    }
    assert_eq!(shown_to.as_deref(), Some("now"), "Later stops at now");
    let span = end - start + half * 2;
    let from = page.url_parameter("from").await.unwrap();
    assert!(from.starts_with("now-"), "{from}");
    check_range(&page, &app, &format_utc(&(now - span)), &format_utc(&now)).await;
    // The picker follows the route (a failure here is the picker's state,
    // below it is the button's).
    page.wait_equal("[data-testid=time-range]", "data-range-to", "now")
        .await;
    page.wait_for(
        "[data-testid=range-forward]",
        "disabled",
        "Later to be disabled",
        |_| true,
    )
    .await;
}

/// The rows of the payment list as ids, once loaded, and the API's ids for
/// the query the list names.
async fn check_list(page: &Page, app: &TestApp) -> Vec<Value> {
    let list = "[data-testid=payment-list]";
    page.wait_equal(list, "data-state", "ready").await;
    let query = page.attribute(list, "data-query").await.unwrap();
    let api = app.json("acme", &format!("/api/payments?{query}")).await;
    let expected: Vec<Option<String>> = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|payment| payment["id"].as_str().map(str::to_owned))
        .collect();
    page.wait_equal(list, "data-rows", &expected.len().to_string()).await;
    let shown = page.attributes("[data-testid=payment-row]", "data-payment-id").await;
    assert_eq!(shown, expected, "the list's rows are the API's for {query}");
    api["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_bucket_leads_to_its_payments_a_row_to_its_detail_and_breadcrumbs_back() {
    let now = this_minute();
    let app = app_at(now).await;
    // An hour three hours back: four payments in it, two elsewhere.
    let hour = chrono::DateTime::from_timestamp((now.timestamp() / 3_600 - 3) * 3_600, 0).unwrap();
    let mut payments = vec![
        payment(
            "acme",
            hour + TimeDelta::minutes(5),
            1_000,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment(
            "acme",
            hour + TimeDelta::minutes(15),
            2_000,
            "paypal",
            PaymentStatus::Failed,
        ),
        payment(
            "acme",
            hour + TimeDelta::minutes(25),
            3_000,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment(
            "acme",
            hour + TimeDelta::minutes(55),
            4_000,
            "card",
            PaymentStatus::Failed,
        ),
        payment(
            "acme",
            hour - TimeDelta::minutes(30),
            5_000,
            "card",
            PaymentStatus::Failed,
        ),
        payment(
            "acme",
            hour + TimeDelta::minutes(90),
            6_000,
            "card",
            PaymentStatus::Succeeded,
        ),
    ];
    payments[3].failure_reason = Some("insufficient_funds, \"retry\"".into());
    app.insert(&payments).await;
    let page = Page::open(&app.url(SIGN_IN), "browser-drilldown").await;
    page.live().await;
    check_chart(&page, &app).await;

    // A click on the hour's bar: its payments.
    let bar = format!("[data-testid=trend-point][data-timestamp='{}']", format_utc(&hour));
    let scroll = "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});";
    page.step(page.client.execute(scroll, vec![json!(bar)])).await;
    page.click(&bar).await;
    page.wait_url("view", "the list", |view| view == Some("payments")).await;
    assert_eq!(page.url_parameter("from").await, Some(format_utc(&hour)));
    assert_eq!(
        page.url_parameter("to").await,
        Some(format_utc(&(hour + TimeDelta::hours(1))))
    );
    let rows = check_list(&page, &app).await;
    assert_eq!(rows.len(), 4, "the bucket's four payments");
    crate::webdriver::save_screenshot(&page.client, "browser-drilldown").await;

    // Ordered by amount, largest first, on a click of the column.
    page.click("[data-testid=sort-amount]").await;
    page.wait_url("sort", "the order", |sort| sort == Some("-amount")).await;
    let by_amount = check_list(&page, &app).await;
    assert_eq!(by_amount[0]["amount"], 40.0);

    // A row: the payment's detail, every field from the API.
    let first = by_amount[0]["id"].as_str().unwrap().to_owned();
    page.click(&format!("[data-testid=payment-row][data-payment-id='{first}']"))
        .await;
    page.wait_url("view", "the detail", |view| view == Some("payment"))
        .await;
    assert_eq!(page.url_parameter("id").await.as_deref(), Some(first.as_str()));
    let detail = "[data-testid=payment-detail]";
    page.wait_equal(detail, "data-payment-id", &first).await;
    let text = page.text(detail).await;
    assert!(
        text.contains("$40.00") && text.contains("insufficient_funds, \"retry\"") && text.contains("Failed"),
        "the detail shows the payment: {text}"
    );

    // Breadcrumbs: back to the list (in its order), back and forth, then
    // the dashboard over the same range.
    page.click("[data-testid=crumb-payments]").await;
    page.wait_url("view", "the list again", |view| view == Some("payments"))
        .await;
    assert_eq!(page.url_parameter("sort").await.as_deref(), Some("-amount"));
    check_list(&page, &app).await;
    page.step(page.client.back()).await;
    page.wait_equal(detail, "data-payment-id", &first).await;
    page.click("[data-testid=crumb-dashboard]").await;
    page.wait_url("view", "the dashboard", |view| view.is_none()).await;
    check_metrics(&page, &app, &app.url("")).await;

    // The success rate leads to the failed payments, with their reasons.
    page.click("[data-testid=drill-failed]").await;
    page.wait_url("status", "the failed payments", |status| status == Some("failed"))
        .await;
    let failed = check_list(&page, &app).await;
    assert_eq!(
        failed.len(),
        2,
        "the hour's two failed payments (the range is still the bucket's)"
    );
    let reasons = page.text("[data-testid=payment-list] tbody").await;
    assert!(
        reasons.contains("card_declined") && reasons.contains("insufficient_funds"),
        "{reasons}"
    );

    // A payment's page follows it live: a refund shows while it is open.
    let succeeded = rows.iter().find(|payment| payment["status"] == "succeeded").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let route = format!("/?view=payment&id={succeeded}");
    page.step(page.client.goto(&app.url(&route))).await;
    page.wait_equal(detail, "data-status", "succeeded").await;
    page.live().await;
    assert_eq!(app.refund("acme", &succeeded).await.status(), 200);
    page.wait_equal(detail, "data-status", "refunded").await;
    let steps = page.attributes("[data-testid=timeline-step]", "data-step").await;
    assert_eq!(
        steps,
        [
            Some("created".into()),
            Some("succeeded".into()),
            Some("refunded".into())
        ]
    );
}

/// Files Chromium finished downloading into `directory`.
fn downloaded(directory: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|extension| extension == "csv"))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether Chromium is still writing a download into `directory` (it
/// reserves the final name with an empty file while the bytes go to a
/// `.crdownload` beside it).
fn downloading(directory: &Path) -> bool {
    std::fs::read_dir(directory).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|entry| {
            entry
                .path()
                .extension()
                .is_some_and(|extension| extension == "crdownload")
        })
    })
}

/// Waits for a new finished download in `directory` and returns its text
/// (a CSV always has its header, so a finished one is never empty).
async fn wait_download(page: &Page, directory: &Path, before: usize) -> String {
    let deadline = Instant::now() + PAGE_TIMEOUT;
    loop {
        let files = downloaded(directory);
        if files.len() > before && !downloading(directory) {
            let newest = files
                .iter()
                .max_by_key(|path| std::fs::metadata(path).and_then(|meta| meta.modified()).ok())
                .unwrap();
            let text = std::fs::read_to_string(newest).unwrap();
            if !text.is_empty() {
                return text;
            }
        }
        if Instant::now() > deadline {
            crate::webdriver::save_evidence(&page.client, page.name).await;
            panic!("{}: no download in {}", page.name, directory.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn exports_download_the_apis_csv_and_no_key_is_in_any_url_the_page_requests() {
    let now = this_minute();
    let app = app_at(now).await;
    let mut payments = vec![
        payment(
            "acme",
            now - TimeDelta::minutes(70),
            10,
            "card",
            PaymentStatus::Succeeded,
        ),
        payment("acme", now - TimeDelta::minutes(80), 20, "card", PaymentStatus::Failed),
        payment(
            "acme",
            now - TimeDelta::minutes(90),
            1_230,
            "paypal",
            PaymentStatus::Failed,
        ),
        payment(
            "acme",
            now - TimeDelta::minutes(95),
            150_000,
            "card",
            PaymentStatus::Refunded,
        ),
    ];
    payments[2].failure_reason = Some("declined, \"do not honor\"".into());
    app.insert(&payments).await;
    let downloads = TempDir::new("paypulse-downloads");
    let directory = downloads.0.clone();
    let page = Page::open_configured(&app.url(SIGN_IN), "browser-export", &[], |capabilities| {
        capabilities["goog:loggingPrefs"] = json!({"performance": "ALL"});
        capabilities["goog:chromeOptions"]["prefs"] = json!({
            "download.default_directory": directory.display().to_string(),
            "download.prompt_for_download": false,
        });
    })
    .await;
    page.live().await;
    // Headless Chromium saves downloads only when told where.
    let session = page.step(page.client.session_id()).await.unwrap();
    let allowed = app
        .http
        .post(format!(
            "http://127.0.0.1:{}/session/{session}/chromium/send_command",
            page.driver.port()
        ))
        .json(&json!({"cmd": "Browser.setDownloadBehavior",
            "params": {"behavior": "allow", "downloadPath": directory.display().to_string()}}))
        .send()
        .await
        .unwrap();
    assert!(allowed.status().is_success(), "{:?}", allowed.text().await);

    // Downloads go to the browser's download manager, not into the page's
    // network log: the links the page follows are recorded as it follows them.
    page.step(page.client.execute(
        "window.followedLinks = [];
         const click = HTMLAnchorElement.prototype.click;
         HTMLAnchorElement.prototype.click = function () { window.followedLinks.push(this.href); return click.call(this); };",
        Vec::new(),
    ))
    .await;

    // The chart's points.
    check_chart(&page, &app).await;
    let query = page.attribute("[data-testid=trend-chart]", "data-query").await.unwrap();
    page.click("[data-testid=export-csv]").await;
    let file = wait_download(&page, &directory, 0).await;
    let api = app.text("acme", &format!("/api/analytics/trends.csv?{query}")).await;
    assert_eq!(file, api, "the chart's CSV is the API's for {query}");

    // A list's payments, every page of them.
    page.click("[data-testid=drill-failed]").await;
    page.wait_url("status", "the failed payments", |status| status == Some("failed"))
        .await;
    check_list(&page, &app).await;
    let list = page
        .attribute("[data-testid=payment-list]", "data-query")
        .await
        .unwrap();
    let export_query: Vec<&str> = list.split('&').filter(|pair| !pair.starts_with("limit=")).collect();
    let export_query = export_query.join("&");
    page.click("[data-testid=export-csv]").await;
    let file = wait_download(&page, &directory, 1).await;
    let api = app
        .text("acme", &format!("/api/payments/export.csv?{export_query}"))
        .await;
    assert_eq!(file, api, "the list's CSV is the API's for {export_query}");
    assert!(file.contains("\"declined, \"\"do not honor\"\"\""), "{file}");

    // Every URL the page asked for, from Chromium's own network log.
    let log: Value = app
        .http
        .post(format!(
            "http://127.0.0.1:{}/session/{session}/se/log",
            page.driver.port()
        ))
        .json(&json!({"type": "performance"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut urls = Vec::new();
    for entry in log["value"].as_array().expect("log entries") {
        let message: Value = serde_json::from_str(entry["message"].as_str().unwrap()).unwrap();
        let message = &message["message"];
        let url = match message["method"].as_str() {
            Some("Network.requestWillBeSent") => message["params"]["request"]["url"].as_str(),
            Some("Network.webSocketCreated") => message["params"]["url"].as_str(),
            _ => None,
        };
        // The browser's own pages (chrome://) are not the dashboard's.
        urls.extend(url.filter(|url| !url.starts_with("chrome")).map(str::to_owned));
    }
    assert!(
        urls.iter().any(|url| url.contains("/ws/payments?ticket=")),
        "the socket's URL is in the log: {urls:?}"
    );
    let followed = page
        .step(page.client.execute("return window.followedLinks;", Vec::new()))
        .await;
    let followed: Vec<String> = serde_json::from_value(followed).unwrap();
    assert_eq!(followed.len(), 2, "both downloads: {followed:?}");
    assert!(
        followed
            .iter()
            .all(|url| url.contains(".csv?") && url.contains("ticket=tk_")),
        "{followed:?}"
    );
    urls.extend(followed);
    for url in &urls {
        assert!(
            !url.contains("pk_demo") && !url.contains("key="),
            "a key in a URL the page requested: {url}"
        );
    }
}

#[tokio::test]
async fn the_feed_opens_with_the_latest_payments_then_continues_live_without_a_gap_or_a_duplicate() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for index in 0..5 {
        created.push(app.create("acme", card_payment(&format!("before-{index}"), 2.0)).await);
    }
    let url = app.url(SIGN_IN);
    // Payments keep arriving while the page opens: some before its socket's
    // hello, some between the hello and the list, some after both.
    let during = {
        let app_url = app.url("");
        let http = app.http.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for index in 0..12 {
                let response: Value = http
                    .post(format!("{app_url}/api/payments"))
                    .header("X-Tenant-Id", "acme")
                    .bearer_auth("pk_demo_acme_ingest")
                    .json(&card_payment(&format!("during-{index}"), 3.0))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                ids.push(response["id"].as_str().unwrap().to_owned());
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            ids
        })
    };
    let page = Page::open(&url, "browser-feed-preload").await;
    page.live().await;
    let mut expected: Vec<String> = created
        .iter()
        .map(|payment| payment["id"].as_str().unwrap().to_owned())
        .collect();
    expected.extend(during.await.unwrap());
    for index in 0..2 {
        let payment = app.create("acme", card_payment(&format!("after-{index}"), 4.0)).await;
        expected.push(payment["id"].as_str().unwrap().to_owned());
    }
    page.wait_equal("[data-testid=events-feed]", "data-rows", &expected.len().to_string())
        .await;
    assert_eq!(page.feed("data-gaps").await, 0);
    let shown: Vec<String> = page
        .attributes("[data-testid=event-row]", "data-payment-id")
        .await
        .into_iter()
        .map(Option::unwrap)
        .collect();
    let mut distinct = shown.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), shown.len(), "no payment twice: {shown:?}");
    let mut wanted = expected.clone();
    wanted.sort();
    assert_eq!(
        distinct, wanted,
        "every payment, before the page, during its opening and after"
    );
    // Newest first: the last two are on top, with their seq.
    assert_eq!(shown[0], expected[expected.len() - 1]);
    assert_eq!(shown[1], expected[expected.len() - 2]);
    let seqs = page.attributes("[data-testid=event-row]", "data-seq").await;
    assert!(seqs[0].as_deref().is_some_and(|seq| !seq.is_empty()));
    assert!(
        seqs.last().unwrap().as_deref() == Some(""),
        "the oldest rows came from the list, without a seq: {seqs:?}"
    );
}

/// The method breakdown and the hour-of-day bars show the API's figures and
/// each leads to exactly its payments: a method's over the range, an hour's
/// on every day of the range.
#[tokio::test]
async fn a_method_and_an_hour_of_day_lead_to_their_payments() {
    let now = this_minute();
    let app = app_at(now).await;
    let methods = ["card", "paypal", "bank_transfer"];
    // Two days of payments: the dashboard's 24 hours hold some of each day's
    // hours, so an hour of the day spans two dates in the "last 7 days".
    let payments: Vec<_> = (0..60)
        .map(|index| {
            let at = now - TimeDelta::minutes(17 + index * 47);
            let status = if index % 5 == 0 {
                PaymentStatus::Failed
            } else {
                PaymentStatus::Succeeded
            };
            payment("acme", at, 1_000 + index * 10, methods[index as usize % 3], status)
        })
        .collect();
    app.insert(&payments).await;
    let page = Page::open(
        &app.url("/?from=now-7d&to=now#tenant=acme&key=pk_demo_acme_viewer"),
        "browser-methods-hours",
    )
    .await;
    page.live().await;
    let metrics = check_metrics(&page, &app, &app.url("")).await;
    let api_methods: Vec<Option<String>> = metrics["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["method"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(api_methods.len(), 3);
    let shown = page.attributes("[data-testid=method-row]", "data-method").await;
    assert_eq!(shown, api_methods, "the breakdown is the API's, largest volume first");
    let volumes = page.attributes("[data-testid=method-row]", "data-volume").await;
    let api_volumes: Vec<Option<String>> = metrics["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| Some(row["volume"].as_f64().unwrap().to_string()))
        .collect();
    assert_eq!(volumes, api_volumes);

    page.click("[data-testid=method-row][data-method=paypal]").await;
    page.wait_url("method", "the method's payments", |method| method == Some("paypal"))
        .await;
    let rows = check_list(&page, &app).await;
    assert_eq!(rows.len(), 20, "every third payment is paypal");
    assert!(rows.iter().all(|row| row["method"] == "paypal"));

    page.step(page.client.back()).await;
    page.wait_url("view", "the dashboard", |view| view.is_none()).await;
    let hourly = metrics["hourlyCounts"].as_array().unwrap();
    let (hour, count) = hourly
        .iter()
        .enumerate()
        .map(|(hour, count)| (hour, count.as_u64().unwrap()))
        .max_by_key(|(_, count)| *count)
        .unwrap();
    assert!(count >= 2, "the busiest hour holds payments of both days");
    page.click(&format!("[data-testid=hour-bar][data-hour='{hour}']")).await;
    page.wait_url("hour", "the hour's payments", |shown| shown == Some(&hour.to_string()))
        .await;
    let rows = check_list(&page, &app).await;
    assert_eq!(
        rows.len() as u64,
        count,
        "all of the hour's payments, on every day of the range"
    );
    let breadcrumbs = page.text("[data-testid=breadcrumbs]").await;
    assert!(breadcrumbs.contains("each day"), "{breadcrumbs}");
}

/// The element `css` names, once it is on the page.
async fn element(page: &Page, css: &str) -> fantoccini::elements::Element {
    page.step(page.client.wait().at_most(PAGE_TIMEOUT).for_element(Locator::Css(css)))
        .await
}

/// The list's filter form and "Show more", as a person uses them: the form
/// narrows the list to exactly the API's slice (and says so in the address
/// bar), and "Show more" pages through every row with the cursor, each once.
#[tokio::test]
async fn the_list_filters_and_pages_through_every_row() {
    let now = this_minute();
    let app = app_at(now).await;
    let payments: Vec<_> = (0..120)
        .map(|index| {
            let at = now - TimeDelta::minutes(1 + index * 2);
            let status = if index % 4 == 0 {
                PaymentStatus::Failed
            } else {
                PaymentStatus::Succeeded
            };
            let mut document = payment(
                "acme",
                at,
                100 + index * 37,
                ["card", "paypal"][index as usize % 2],
                status,
            );
            document.external_id = format!("ord_{index:03}");
            document
        })
        .collect();
    app.insert(&payments).await;
    let url = app.url("/?view=payments&from=now-6h&to=now#tenant=acme&key=pk_demo_acme_viewer");
    let page = Page::open(&url, "browser-list-pages").await;
    let list = "[data-testid=payment-list]";
    page.wait_equal(list, "data-rows", "50").await;
    assert_eq!(page.attribute(list, "data-complete").await.as_deref(), Some("false"));
    page.click("[data-testid=list-more]").await;
    page.wait_equal(list, "data-rows", "100").await;
    page.click("[data-testid=list-more]").await;
    page.wait_equal(list, "data-rows", "120").await;
    page.wait_equal(list, "data-complete", "true").await;
    let shown = page.attributes("[data-testid=payment-row]", "data-payment-id").await;
    let mut expected: Vec<&paypulse_server::store::documents::PaymentDoc> = payments.iter().collect();
    expected.sort_by_key(|document| std::cmp::Reverse((document.created_at, document.id)));
    let expected: Vec<Option<String>> = expected.iter().map(|document| Some(document.id.to_hex())).collect();
    assert_eq!(shown, expected, "every row once, newest first");

    // The form: failed card payments from 10.00, external ids starting ord_0.
    let status = element(&page, "[data-testid=filter-status]").await;
    page.step(status.select_by_value("failed")).await;
    let method = element(&page, "[data-testid=filter-method]").await;
    page.step(method.select_by_value("card")).await;
    let minimum = element(&page, "[data-testid=filter-min]").await;
    page.step(minimum.send_keys("10")).await;
    let prefix = element(&page, "[data-testid=filter-external-id]").await;
    page.step(prefix.send_keys("ord_0")).await;
    page.click("[data-testid=filter-apply]").await;
    page.wait_url("q", "the filters in the address bar", |q| q == Some("ord_0"))
        .await;
    assert_eq!(page.url_parameter("status").await.as_deref(), Some("failed"));
    assert_eq!(page.url_parameter("method").await.as_deref(), Some("card"));
    assert_eq!(page.url_parameter("minAmount").await.as_deref(), Some("10"));
    let rows = check_list(&page, &app).await;
    let independent = payments
        .iter()
        .filter(|document| {
            document.status == PaymentStatus::Failed
                && document.method == "card"
                && document.amount_minor >= 1_000
                && document.external_id.starts_with("ord_0")
        })
        .count();
    assert!(independent > 0);
    assert_eq!(rows.len(), independent, "the form's slice, computed independently");
}

/// A failure spike through the ingest API: a toast within 2 s of the
/// firing, the alert in the header, its history entry, and from there the
/// episode's failed payments; then its resolution as a second toast.
#[tokio::test]
async fn a_spike_toasts_within_two_seconds_and_its_history_entry_leads_to_its_payments() {
    let app = TestApp::spawn_with(|config| config.limits.alerts.tick = Duration::from_millis(100)).await;
    let rule = json!({
        "id": "failures", "name": "Half the payments failing", "kind": "failure_rate",
        "windowMinutes": 10, "threshold": 50, "minAttempts": 10,
        "pendingMinutes": 0, "keepFiringMinutes": 0, "enabled": true
    });
    app.replace_rules("acme", json!([rule])).await;
    let page = Page::open(&app.url(SIGN_IN), "browser-alerts").await;
    page.live().await;

    for index in 0..10 {
        let body = json!({"externalId": format!("spike_{index}"), "amount": 3.0, "currency": "USD",
            "method": "card", "status": "failed", "failureReason": "card_declined"});
        app.create("acme", body).await;
    }
    let toast = "[data-testid=alert-toast][data-state=firing]";
    let id = page
        .wait_for(toast, "data-alert-id", "a firing toast", |id| !id.is_empty())
        .await;
    let shown_at = Utc::now();
    let alerts = app.json("acme", "/api/alerts?state=firing").await;
    let alert = &alerts["items"][0];
    assert_eq!(alert["id"], id.as_str(), "the toast is the API's firing alert");
    let fired_at = paypulse_shared::time::parse_utc(alert["firedAt"].as_str().unwrap()).unwrap();
    let delay = shown_at - fired_at;
    assert!(
        delay <= TimeDelta::seconds(2),
        "the toast showed {delay} after the firing"
    );
    assert!(page.text(toast).await.contains("Half the payments failing"));
    page.wait_equal("[data-testid=active-alert]", "data-alert-id", &id)
        .await;

    page.click("[data-testid=alerts-link]").await;
    page.wait_url("view", "the alerts page", |view| view == Some("alerts"))
        .await;
    let entry = format!("[data-testid=alert-entry][data-alert-id='{id}']");
    page.wait_equal(&entry, "data-state", "firing").await;
    crate::webdriver::save_screenshot(&page.client, "browser-alert-history").await;
    page.click(&format!("{entry} [data-testid=alert-payments]")).await;
    page.wait_url("view", "the episode's payments", |view| view == Some("payments"))
        .await;
    assert_eq!(page.url_parameter("status").await.as_deref(), Some("failed"));
    let rows = check_list(&page, &app).await;
    assert_eq!(rows.len(), 10, "the spike's ten failed payments");

    for index in 0..20 {
        app.create("acme", card_payment(&format!("calm_{index}"), 3.0)).await;
    }
    page.wait_equal("[data-testid=alert-toast][data-state=resolved]", "data-alert-id", &id)
        .await;
    page.wait_equal("[data-testid=active-alerts]", "data-count", "0").await;
}
