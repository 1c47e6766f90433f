//! Dashboard benchmark (`cargo xtask bench ui`): the real page in headless
//! Chromium against the real server.
//!
//! - First load: bytes the browser received for the page (encoded body
//!   sizes from Resource Timing: gzip, as served) against the 250 KB budget,
//!   and the time from navigation to a populated dashboard (metrics, chart
//!   points and a live connection).
//! - Firehose: events published to the tenant's live feed at each rate
//!   (default 200 and 1,000 per second, five minutes each) while probes in
//!   the page record every animation frame's duration, long tasks (Long
//!   Tasks API), and the JavaScript heap and WebAssembly memory before and
//!   after (after a forced garbage collection).
//! - Latency of **every** event, none left out: the time from publishing it
//!   until the page's store holds it (the feed's `data-last-seq` reaches its
//!   `seq`, seen by a mutation observer right after the update) and until
//!   the feed's count shows it (`data-rows` plus `data-dropped` reaches it,
//!   read by a probe at every animation frame, so at most one frame late). `seq` numbers the tenant's
//!   events one by one, so the benchmark knows which event each `seq` and
//!   each count is and when it published it; the page's `Date.now()` and
//!   the benchmark's `SystemTime` are the same machine's clock.
//! - Kept from before, labelled as such: event-to-screen latency of the rows
//!   that were in view in the first frame they were in the DOM (most rows
//!   at a high rate never are, and are not counted there).
//!
//! Events go straight to the live feed (`Live::publish`, the path committed
//! payments take after the database) so the numbers are the page's, not the
//! database's. Results go to target/bench/ui.json.

mod common;
#[path = "../tests/it/webdriver.rs"]
#[allow(dead_code)]
mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::Client;
use paypulse_server::state::AppState;
use serde_json::{Value, json};

/// The page's probes, installed once it is populated. `held` and `counted`
/// are flat lists of (Date.now(), value) pairs.
const PROBES: &str = r#"
const feed = document.querySelector('[data-testid=events-feed]');
const attribute = name => Number(feed.getAttribute(name) || 0);
const count = () => attribute('data-rows') + attribute('data-dropped');
const probe = { frames: [], longTasks: [], latencies: [], unmeasured: 0, held: [], counted: [],
                last: performance.now(), lastSeq: null, lastHeld: attribute('data-last-seq'), lastCount: count() };
window.__probe = probe;
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) probe.longTasks.push(entry.duration);
}).observe({ type: 'longtask' });
// The store's last seq is written to the attribute in the same update that
// stores the events; the observer runs right after it.
new MutationObserver(() => {
  const seq = attribute('data-last-seq');
  if (seq !== probe.lastHeld) { probe.held.push(Date.now(), seq); probe.lastHeld = seq; }
}).observe(feed, { attributes: true, attributeFilter: ['data-last-seq'] });
function frame(time) {
  probe.frames.push(time - probe.last);
  probe.last = time;
  const now = Date.now();
  const shown = count();
  if (shown !== probe.lastCount) { probe.counted.push(now, shown); probe.lastCount = shown; }
  const seq = attribute('data-last-seq');
  if (probe.lastSeq !== null && seq > probe.lastSeq) {
    let measured = 0;
    for (const row of document.querySelectorAll('[data-testid=event-row]')) {
      if (Number(row.dataset.seq) > probe.lastSeq) {
        probe.latencies.push(now - Number(row.dataset.at));
        measured += 1;
      }
    }
    probe.unmeasured += seq - probe.lastSeq - measured;
  }
  probe.lastSeq = seq;
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);
"#;

/// Takes what the probes gathered since the last call.
const DRAIN: &str = r#"
const probe = window.__probe;
const taken = { frames: probe.frames, longTasks: probe.longTasks, latencies: probe.latencies, unmeasured: probe.unmeasured,
                held: probe.held, counted: probe.counted };
probe.frames = []; probe.longTasks = []; probe.latencies = []; probe.unmeasured = 0; probe.held = []; probe.counted = [];
return taken;
"#;

/// The feed's last `seq`, its count (rows plus those no longer kept) and
/// its gaps.
const FEED: &str = r#"
const feed = document.querySelector('[data-testid=events-feed]');
const attribute = name => Number(feed.getAttribute(name) || 0);
return { seq: attribute('data-last-seq'), count: attribute('data-rows') + attribute('data-dropped'), gaps: attribute('data-gaps') };
"#;

/// JavaScript heap and WebAssembly memory after a full collection.
const MEMORY: &str = r#"
window.gc();
return { jsHeap: performance.memory.usedJSHeapSize, wasm: window.paypulseWasmMemory.buffer.byteLength };
"#;

async fn js(client: &Client, script: &str) -> anyhow::Result<Value> {
    Ok(client.execute(script, Vec::new()).await?)
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .map_or_else(Vec::new, |items| items.iter().filter_map(Value::as_f64).collect())
}

/// Milliseconds since the Unix epoch, as the page's `Date.now()` counts.
fn epoch_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1_000.0)
}

/// What the probes gathered over one firehose.
#[derive(Default)]
struct Gathered {
    frames: Vec<f64>,
    long_tasks: Vec<f64>,
    in_view: Vec<f64>,
    not_in_view: f64,
    /// (page time, the feed's last `seq`) whenever it changed.
    held: Vec<(f64, u64)>,
    /// (page time, the feed's count) whenever it changed.
    counted: Vec<(f64, u64)>,
}

impl Gathered {
    async fn drain(&mut self, client: &Client) -> anyhow::Result<()> {
        let taken = js(client, DRAIN).await?;
        self.frames.extend(numbers(&taken["frames"]));
        self.long_tasks.extend(numbers(&taken["longTasks"]));
        self.in_view.extend(numbers(&taken["latencies"]));
        self.not_in_view += taken["unmeasured"].as_f64().unwrap_or(0.0);
        let pairs = |values: Vec<f64>| -> Vec<(f64, u64)> {
            values.chunks_exact(2).map(|pair| (pair[0], pair[1] as u64)).collect()
        };
        self.held.extend(pairs(numbers(&taken["held"])));
        self.counted.extend(pairs(numbers(&taken["counted"])));
        Ok(())
    }
}

/// The latency of every published event from the moments a value that
/// counts events one by one (`seq`, or the feed's count) changed: event `k`
/// (0-based) is reached when the value passes `before + k + 1`. Returns the
/// latencies of the events reached and how many were never reached.
fn every_event(changes: &[(f64, u64)], before: u64, published_at: &[f64]) -> (Vec<f64>, usize) {
    let mut latencies = Vec::with_capacity(published_at.len());
    let mut reached = before;
    for &(at, value) in changes {
        while reached < value {
            let index = (reached - before) as usize;
            if let Some(published) = published_at.get(index) {
                latencies.push(at - published);
            }
            reached += 1;
        }
    }
    let missing = published_at.len() - latencies.len();
    (latencies, missing)
}

/// The feed's last `seq`, count and gaps.
async fn feed_state(client: &Client) -> anyhow::Result<(u64, u64, u64)> {
    let feed = js(client, FEED).await?;
    let number = |name: &str| feed[name].as_f64().unwrap_or(0.0) as u64;
    Ok((number("seq"), number("count"), number("gaps")))
}

/// Publishes `rate` events a second for `seconds` while draining the probes.
async fn firehose(state: &AppState, client: &Client, rate: u64, seconds: u64) -> anyhow::Result<Value> {
    let before = js(client, MEMORY).await?;
    // What the probes saw before this rate is not this rate's.
    js(client, DRAIN).await?;
    let mut gathered = Gathered::default();
    let (seq_before, count_before, gaps_before) = feed_state(client).await?;
    let mut published_at = Vec::with_capacity((rate * seconds) as usize);
    let started = Instant::now();
    let mut published = 0_u64;
    let mut next_drain = Duration::from_secs(10);
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let at = epoch_ms();
        let count = common::publish_due(state, started, rate, &mut published).await;
        published_at.extend(std::iter::repeat_n(at, count as usize));
        if started.elapsed() >= next_drain {
            next_drain += Duration::from_secs(10);
            gathered.drain(client).await?;
        }
    }
    // Let the last events land (every one, or 10 s at most) before the final
    // drain; what never lands is counted as such.
    let waited = Instant::now();
    while feed_state(client).await?.0 < seq_before + published && waited.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // One more frame for the count to be seen.
    tokio::time::sleep(Duration::from_millis(100)).await;
    gathered.drain(client).await?;
    let (seq_after, count_after, gaps_after) = feed_state(client).await?;
    let after = js(client, MEMORY).await?;
    let rows = client
        .execute(
            "return Number(document.querySelector('[data-testid=events-feed]').getAttribute('data-rows'));",
            Vec::new(),
        )
        .await?;
    let (held, not_held) = every_event(&gathered.held, seq_before, &published_at);
    let (counted, not_counted) = every_event(&gathered.counted, count_before, &published_at);
    let Gathered {
        frames,
        long_tasks,
        in_view,
        not_in_view,
        ..
    } = gathered;
    let long_total = long_tasks.iter().fold(0.0, |total, duration| total + duration);
    let mb = |value: &Value| value.as_f64().unwrap_or(0.0) / 1_048_576.0;
    let with_missing = |mut summary: Value, key: &str, missing: usize| {
        summary[key] = json!(missing);
        summary
    };
    let result = json!({
        "events_per_second": rate,
        "seconds": seconds,
        "events_published": published,
        "frames": frames.len(),
        "frame_ms": { "p50": common::percentile(&frames, 50.0), "p95": common::percentile(&frames, 95.0), "max": common::percentile(&frames, 100.0) },
        "long_tasks": { "count": long_tasks.len(), "total_ms": long_total, "max_ms": common::percentile(&long_tasks, 100.0) },
        "every_event": {
            "what": "every published event, from publishing until the page's store held it (data-last-seq reached its seq) and until the feed's count (data-rows + data-dropped) showed it",
            "until_held_by_store": with_missing(common::latency_summary(&held), "never_held", not_held),
            "until_counted_by_feed": with_missing(common::latency_summary(&counted), "never_counted", not_counted),
            "feed_seq_before_after": [seq_before, seq_after],
            "feed_count_before_after": [count_before, count_after],
            "feed_gaps_during": gaps_after.saturating_sub(gaps_before),
        },
        "event_to_screen_in_view_ms": {
            "what": "the old measure: only rows in view in the first frame they were in the DOM",
            "measured": in_view.len(),
            "not_in_view_when_first_rendered": not_in_view,
            "p50": common::percentile(&in_view, 50.0),
            "p95": common::percentile(&in_view, 95.0),
            "max": common::percentile(&in_view, 100.0),
        },
        "js_heap_mb": { "before": mb(&before["jsHeap"]), "after": mb(&after["jsHeap"]), "growth": mb(&after["jsHeap"]) - mb(&before["jsHeap"]) },
        "wasm_memory_mb": { "before": mb(&before["wasm"]), "after": mb(&after["wasm"]) },
        "feed_rows_kept": rows,
    });
    eprintln!("{rate} events/s: {result}");
    Ok(result)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = common::arg("--seconds", 300);
    let rates: String = common::arg("--rates", "200,1000".to_owned());
    let rates: Vec<u64> = rates.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let uri = common::mongodb_uri("ui")?;
    let database = format!("bench_{:x}", rand::random::<u32>());
    let mut config = common::config(&uri, &database);
    config.ui_dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    anyhow::ensure!(
        config.ui_dist.join("paypulse-ui_bg.wasm.gz").is_file(),
        "the dashboard is not built: run `cargo xtask ui` (cargo xtask bench ui does)"
    );
    let state = paypulse_server::connect(config).await?;
    common::seed_acme(&state, 30, 4.0, 7).await?;
    let base = format!("http://{}", common::serve(state.clone()).await?);

    let profile = webdriver::TempDir::new("paypulse-bench-chromium");
    let driver = webdriver::Driver::start(std::path::Path::new("/usr/bin/chromedriver"), &["--port={port}"], &[]);
    let mut capabilities = webdriver::chromium_capabilities(&profile.0);
    if let Some(args) = capabilities["goog:chromeOptions"]["args"].as_array_mut() {
        args.extend([json!("--js-flags=--expose-gc"), json!("--enable-precise-memory-info")]);
    }
    let client = driver.session(capabilities).await;
    client
        .goto(&format!("{base}/#tenant=acme&key=pk_demo_acme_viewer"))
        .await?;
    let populated = client.execute_async(common::POPULATED, Vec::new()).await?;
    let resources = populated["resources"].as_array().cloned().unwrap_or_default();
    let transferred: f64 = resources.iter().filter_map(|entry| entry["encoded"].as_f64()).sum();
    let loaded: Vec<Value> = resources
        .iter()
        .filter(|entry| {
            let name = entry["name"].as_str().unwrap_or_default();
            !name.contains("/api/") && !name.contains("/ws/")
        })
        .cloned()
        .collect();
    let page_bytes: f64 = loaded.iter().filter_map(|entry| entry["encoded"].as_f64()).sum();
    let first_load = json!({
        "time_to_populated_ms": populated["at"],
        "page_bytes_transferred": page_bytes,
        "page_kb_transferred": page_bytes / 1024.0,
        "budget_kb": 250,
        "all_bytes_transferred_including_api": transferred,
        "resources": loaded,
    });
    eprintln!("first load: {first_load}");
    js(&client, PROBES).await?;
    let mut runs = Vec::new();
    for rate in rates {
        runs.push(firehose(&state, &client, rate, seconds).await?);
    }
    client.close().await.ok();
    let result = json!({
        "benchmark": "ui",
        "redis": state.config.redis_url.is_some(),
        "first_load": first_load,
        "firehose": runs,
    });
    common::write_result("ui", &result)?;
    Ok(())
}
