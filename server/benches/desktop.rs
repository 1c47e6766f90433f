//! Desktop benchmark (`cargo xtask bench desktop`): the desktop app (its
//! optimised build, under Xvfb, through tauri-driver and WebKitWebDriver)
//! against the browser build of the same dashboard in headless Chromium,
//! on one server in one run.
//!
//! - **Cold start** (`--rounds`, at least five, the order alternating):
//!   from asking the driver for a session (the app or the browser starts
//!   then, with a fresh home or profile that already holds the sign-in) to
//!   a populated dashboard (metrics, chart points, a live connection);
//!   the drivers are listening before the clock starts.
//! - **Memory under a live feed**: both open at once on the same tenant
//!   while 200 events a second (`--rate`) are published to its feed for
//!   `--minutes` (10); every minute, the proportional (PSS) and resident
//!   (RSS) memory of every process each one runs (the app and its WebKit
//!   processes; Chromium's browser, renderer, GPU and utility processes),
//!   the drivers left out. One run side by side: both see the same events
//!   at the same moments.
//! - **Export to disk** (`--payments`, 1,000,000, written straight into the
//!   collection): the list of every payment exported as CSV through each
//!   one's own path (the app: its save dialog, driven with xdotool, then
//!   the stream to the file; the browser: its download), timed from the
//!   confirming key or click to the finished file, rows/s, and the peak
//!   growth of its memory (PSS, sampled every 100 ms); the file's rows are
//!   counted. Rounds alternate.
//!
//! Results go to target/bench/desktop.json.

mod common;
#[path = "../tests/it/webdriver.rs"]
#[allow(dead_code)]
mod webdriver;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use paypulse_server::state::AppState;
use serde_json::{Value, json};
use webdriver::{Driver, TempDir, Xvfb};

/// What a page or an export may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(600);
/// The drivers, which are not the product.
const DRIVERS: [&str; 3] = ["tauri-driver", "WebKitWebDriver", "chromedriver"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Desktop,
    Browser,
}

impl Side {
    const BOTH: [Self; 2] = [Self::Desktop, Self::Browser];

    fn name(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Browser => "browser",
        }
    }
}

/// A private session bus for the app (its notifications and single
/// instance use one), stopped on drop.
struct Bus {
    daemon: Child,
    address: String,
}

impl Bus {
    fn start() -> anyhow::Result<Self> {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().expect("piped")).read_line(&mut address)?;
        Ok(Self {
            daemon,
            address: address.trim().to_owned(),
        })
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        self.daemon.kill().ok();
        self.daemon.wait().ok();
    }
}

/// Where both run: the server, the app's binary and tools, a display.
struct Bench {
    base: String,
    application: PathBuf,
    tauri_driver: PathBuf,
    display: Xvfb,
    bus: Bus,
}

/// One running app or browser, signed in, and what it was started in.
struct Running {
    side: Side,
    driver: Driver,
    client: Client,
    /// The app's home or the browser's profile.
    _home: TempDir,
    downloads: TempDir,
    environment: Vec<(&'static str, String)>,
    /// From the session's request to a populated dashboard.
    wall_ms: f64,
    /// From the page's navigation to a populated dashboard.
    page_ms: f64,
}

impl Bench {
    async fn start(&self, side: Side) -> anyhow::Result<Running> {
        let home = TempDir::new(&format!("paypulse-bench-{}", side.name()));
        let downloads = TempDir::new("paypulse-bench-downloads");
        let (driver, capabilities, environment) = match side {
            Side::Desktop => {
                // Signed in already, as the app is after its first day.
                let folder = home.0.join("config/com.paypulse.desktop");
                std::fs::create_dir_all(&folder)?;
                let settings = json!({"tenant": "acme", "server": self.base, "keyIn": "file"});
                std::fs::write(folder.join("settings.json"), settings.to_string())?;
                std::fs::write(folder.join("api-key"), "pk_demo_acme_viewer")?;
                let environment = webdriver::desktop_environment(&self.display.display, &self.bus.address, &home.0);
                let driver = Driver::start(&self.tauri_driver, &webdriver::TAURI_DRIVER_ARGS, &environment);
                let capabilities = json!({
                    "browserName": "wry",
                    "tauri:options": { "application": self.application },
                });
                (driver, capabilities, environment)
            }
            Side::Browser => {
                let driver = Driver::start(Path::new("/usr/bin/chromedriver"), &["--port={port}"], &[]);
                let mut capabilities = webdriver::chromium_capabilities(&home.0);
                capabilities["goog:chromeOptions"]["prefs"] = json!({
                    "download.default_directory": downloads.0.display().to_string(),
                    "download.prompt_for_download": false,
                });
                (driver, capabilities, Vec::new())
            }
        };
        driver.ready().await;
        let started = Instant::now();
        let client = driver.session(capabilities).await;
        if side == Side::Browser {
            client
                .goto(&format!("{}/#tenant=acme&key=pk_demo_acme_viewer", self.base))
                .await?;
        }
        let populated =
            tokio::time::timeout(STEP_TIMEOUT, client.execute_async(common::POPULATED, Vec::new())).await??;
        let page_ms = populated["at"].as_f64().unwrap_or(f64::NAN);
        let wall_ms = common::millis(started.elapsed());
        if side == Side::Browser {
            // Headless Chromium saves downloads only when told where.
            let session = client.session_id().await?.unwrap_or_default();
            let allowed = reqwest::Client::new()
                .post(format!(
                    "http://127.0.0.1:{}/session/{session}/chromium/send_command",
                    driver.port()
                ))
                .json(&json!({"cmd": "Browser.setDownloadBehavior",
                    "params": {"behavior": "allow", "downloadPath": downloads.0.display().to_string()}}))
                .send()
                .await?;
            anyhow::ensure!(allowed.status().is_success(), "downloads refused: {}", allowed.status());
        }
        Ok(Running {
            side,
            driver,
            client,
            _home: home,
            downloads,
            environment,
            wall_ms,
            page_ms,
        })
    }
}

impl Running {
    /// Every process the driver started, the drivers left out.
    fn processes(&self) -> Vec<u32> {
        let group = self.driver.pid();
        let mut family: HashSet<u32> = HashSet::from([group]);
        let mut found = Vec::new();
        // Parents before children is not guaranteed: repeat until stable.
        loop {
            let before = family.len();
            for (pid, parent, process_group, name) in all_processes() {
                if (family.contains(&parent) || process_group == group) && family.insert(pid) {
                    found.push((pid, name));
                }
            }
            if family.len() == before {
                break;
            }
        }
        found
            .into_iter()
            .filter(|(_, name)| !DRIVERS.contains(&name.as_str()))
            .map(|(pid, _)| pid)
            .collect()
    }

    /// PSS and RSS in MiB, summed over [`Self::processes`].
    fn memory(&self) -> (f64, f64) {
        self.processes().into_iter().fold((0.0, 0.0), |(pss, rss), pid| {
            (
                pss + pss_mib(pid).unwrap_or(0.0),
                rss + common::rss_mib(pid).unwrap_or(0.0),
            )
        })
    }

    fn process_names(&self) -> Vec<String> {
        self.processes()
            .into_iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect()
    }

    fn xdotool(&self, args: &[&str]) -> String {
        let output = Command::new("xdotool")
            .args(args)
            .envs(self.environment.iter().map(|(name, value)| (*name, value.as_str())))
            .output()
            .expect("running xdotool");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Exports the list on screen through this side's own path into
    /// `self.downloads`; answers the seconds from the confirming key or
    /// click to the finished file, the file, and the peak PSS growth.
    async fn export(&self) -> anyhow::Result<(f64, PathBuf, f64)> {
        let button = self
            .client
            .wait()
            .at_most(STEP_TIMEOUT)
            .for_element(Locator::Css("[data-testid=export-csv][data-busy=false]"))
            .await?;
        let before = self.memory().0;
        let target = self.downloads.0.join("every payment.csv");
        let started = match self.side {
            Side::Desktop => {
                button.click().await?;
                let deadline = Instant::now() + Duration::from_secs(60);
                let dialog = loop {
                    let found = self.xdotool(&["search", "--onlyvisible", "--name", "Save"]);
                    if let Some(window) = found.lines().last() {
                        break window.to_owned();
                    }
                    anyhow::ensure!(Instant::now() < deadline, "no save dialog opened");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                };
                self.xdotool(&["windowfocus", "--sync", &dialog]);
                self.xdotool(&["key", "ctrl+a"]);
                self.xdotool(&["type", "--delay", "2", &target.display().to_string()]);
                self.xdotool(&["key", "Return"]);
                Instant::now()
            }
            Side::Browser => {
                let started = Instant::now();
                button.click().await?;
                started
            }
        };
        let mut peak = before;
        let finished = loop {
            if let Some(file) = self.finished_file(&target) {
                break file;
            }
            anyhow::ensure!(started.elapsed() < STEP_TIMEOUT, "the export never finished");
            peak = peak.max(self.memory().0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let seconds = started.elapsed().as_secs_f64();
        Ok((seconds, finished, peak - before))
    }

    /// The finished export: the app renames its `.part` to the name given
    /// once all of it is written; Chromium renames its `.crdownload`.
    fn finished_file(&self, target: &Path) -> Option<PathBuf> {
        match self.side {
            Side::Desktop => target.is_file().then(|| target.to_owned()),
            Side::Browser => std::fs::read_dir(&self.downloads.0)
                .ok()?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .find(|path| path.extension().is_some_and(|extension| extension == "csv")),
        }
    }

    async fn close(self) {
        self.client.close().await.ok();
    }
}

/// `(pid, parent, process group, name)` of every process.
fn all_processes() -> Vec<(u32, u32, u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (name) state parent group …`; the name may hold spaces.
            let (head, tail) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let mut fields = tail.split_whitespace().skip(1);
            let parent = fields.next()?.parse().ok()?;
            let group = fields.next()?.parse().ok()?;
            Some((pid, parent, group, name))
        })
        .collect()
}

/// Proportional set size of `pid` in MiB: shared pages divided among the
/// processes sharing them, so a family of processes is not counted twice.
fn pss_mib(pid: u32) -> anyhow::Result<f64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let kib: f64 = rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|value| value.split_whitespace().next())
        .ok_or_else(|| anyhow::anyhow!("no Pss for {pid}"))?
        .parse()?;
    Ok(kib / 1024.0)
}

/// Publishes `rate` events a second to `acme`'s feed for `minutes`, and
/// samples both sides' memory every minute.
async fn live_feed(state: &AppState, sides: &[Running], rate: u64, minutes: u64) -> Value {
    let sample = |minute: u64| -> Value {
        let mut row = json!({ "minute": minute });
        for running in sides {
            let (pss, rss) = running.memory();
            row[running.side.name()] = json!({ "pss_mib": pss, "rss_mib": rss });
        }
        eprintln!("memory: {row}");
        row
    };
    let mut samples = vec![sample(0)];
    let started = Instant::now();
    let mut published = 0_u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    for minute in 1..=minutes {
        while started.elapsed() < Duration::from_secs(60 * minute) {
            ticker.tick().await;
            common::publish_due(state, started, rate, &mut published).await;
        }
        samples.push(sample(minute));
    }
    let growth = |side: Side, key: &str| {
        let first = samples
            .first()
            .map_or(0.0, |row| row[side.name()][key].as_f64().unwrap_or(0.0));
        let last = samples
            .last()
            .map_or(0.0, |row| row[side.name()][key].as_f64().unwrap_or(0.0));
        json!({ "start": first, "end": last, "growth": last - first })
    };
    json!({
        "events_per_second": rate,
        "minutes": minutes,
        "events_published": published,
        "desktop": { "pss_mib": growth(Side::Desktop, "pss_mib"), "rss_mib": growth(Side::Desktop, "rss_mib") },
        "browser": { "pss_mib": growth(Side::Browser, "pss_mib"), "rss_mib": growth(Side::Browser, "rss_mib") },
        "per_minute": samples,
    })
}

fn summary(values: &[f64]) -> Value {
    json!({ "median": common::median(values), "per_round": values })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds = common::rounds();
    let minutes: u64 = common::arg("--minutes", 10);
    let rate: u64 = common::arg("--rate", 200);
    let payments: usize = common::arg("--payments", 1_000_000);
    let application = PathBuf::from(std::env::var("DESKTOP_BIN")?);
    let tauri_driver = PathBuf::from(std::env::var("TAURI_DRIVER")?);
    anyhow::ensure!(application.is_file(), "no app at {}", application.display());

    let uri = common::mongodb_uri("desktop")?;
    let database = format!("bench_desktop_{:x}", rand::random::<u32>());
    let mut config = common::config(&uri, &database);
    config.ui_dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    let state = paypulse_server::connect(config).await?;
    common::seed_acme(&state, 30, 4.0, 7).await?;
    let bench = Bench {
        base: format!("http://{}", common::serve(state.clone()).await?),
        application,
        tauri_driver,
        display: Xvfb::start(),
        bus: Bus::start()?,
    };

    // Cold starts, alternating.
    let (mut wall, mut page) = ([Vec::new(), Vec::new()], [Vec::new(), Vec::new()]);
    for round in 0..rounds {
        for turn in common::turns(round, 2) {
            let running = bench.start(Side::BOTH[turn]).await?;
            eprintln!(
                "round {round}: {} populated {:.0} ms after its start ({:.0} ms after its page's)",
                running.side.name(),
                running.wall_ms,
                running.page_ms
            );
            wall[turn].push(running.wall_ms);
            page[turn].push(running.page_ms);
            running.close().await;
        }
    }
    let ratios: Vec<f64> = wall[0]
        .iter()
        .zip(&wall[1])
        .map(|(desktop, browser)| desktop / browser)
        .collect();
    let cold_start = json!({
        "what": "from the session's request (the app or browser starting, signed in) to metrics, chart points and a live connection on screen",
        "desktop_ms": summary(&wall[0]),
        "browser_ms": summary(&wall[1]),
        "desktop_over_browser": summary(&ratios),
        "desktop_page_ms": summary(&page[0]),
        "browser_page_ms": summary(&page[1]),
    });
    eprintln!("cold start: {cold_start}");

    // Both at once under the same live feed.
    let sides = vec![bench.start(Side::Desktop).await?, bench.start(Side::Browser).await?];
    let processes = json!({
        "desktop": sides[0].process_names(),
        "browser": sides[1].process_names(),
    });
    eprintln!("measured processes: {processes}");
    let mut memory = live_feed(&state, &sides, rate, minutes).await;
    memory["processes"] = processes;
    for running in sides {
        running.close().await;
    }

    // Exports of every payment, alternating.
    common::load_payments(&state, payments).await?;
    let list = "?view=payments&from=now-91d&to=now";
    let mut export = [Vec::new(), Vec::new()];
    let mut growth = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        for turn in common::turns(round, 2) {
            let running = bench.start(Side::BOTH[turn]).await?;
            running
                .client
                .execute(&format!("window.location.search = '{list}';"), Vec::new())
                .await?;
            running
                .client
                .wait()
                .at_most(STEP_TIMEOUT)
                .for_element(Locator::Css("[data-testid=payment-list][data-state=ready]"))
                .await?;
            let (seconds, file, peak) = running.export().await?;
            let rows = BufReader::new(std::fs::File::open(&file)?).lines().count() - 1;
            anyhow::ensure!(rows >= payments, "{} exported {rows} rows", running.side.name());
            eprintln!(
                "round {round}: {} exported {rows} rows in {seconds:.1} s ({:.0} rows/s), memory +{peak:.1} MiB",
                running.side.name(),
                rows as f64 / seconds
            );
            export[turn].push(rows as f64 / seconds);
            growth[turn].push(peak);
            running.close().await;
        }
    }
    let export_ratios: Vec<f64> = export[0]
        .iter()
        .zip(&export[1])
        .map(|(desktop, browser)| desktop / browser)
        .collect();
    let export = json!({
        "payments": payments,
        "what": "the list of every payment exported to a file (the app: save dialog then its stream to disk; the browser: its download), from the confirming key or click to the finished file",
        "desktop_rows_per_second": summary(&export[0]),
        "browser_rows_per_second": summary(&export[1]),
        "desktop_over_browser": summary(&export_ratios),
        "desktop_peak_pss_growth_mib": summary(&growth[0]),
        "browser_peak_pss_growth_mib": summary(&growth[1]),
    });
    let result = json!({
        "benchmark": "desktop",
        "rounds": rounds,
        "cold_start": cold_start,
        "memory_under_live_feed": memory,
        "export": export,
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    common::write_result("desktop", &result)?;
    common::drop_database(state.store.database()).await;
    Ok(())
}
