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
//!   Tasks API), event-to-screen latency (the time from publishing an event
//!   to the frame its row is first in the DOM, same clock, same machine),
//!   and the JavaScript heap and WebAssembly memory before and after (after
//!   a forced garbage collection).
//!
//! Events go straight to the live feed (`Live::publish`, the path committed
//! payments take after the database) so the numbers are the page's, not the
//! database's. Results go to target/bench/ui.json.

mod common;
#[path = "../tests/it/webdriver.rs"]
#[allow(dead_code)]
mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use fantoccini::Client;
use paypulse_server::state::AppState;
use paypulse_shared::money::Amount;
use paypulse_shared::payment::{EventType, Payment, PaymentEvent, PaymentStatus};
use serde_json::{Value, json};

/// The page's probes, installed once it is populated.
const PROBES: &str = r#"
const probe = { frames: [], longTasks: [], latencies: [], unmeasured: 0, last: performance.now(), lastSeq: null };
window.__probe = probe;
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) probe.longTasks.push(entry.duration);
}).observe({ type: 'longtask' });
function frame(time) {
  probe.frames.push(time - probe.last);
  probe.last = time;
  const feed = document.querySelector('[data-testid=events-feed]');
  const seq = feed ? Number(feed.getAttribute('data-last-seq') || 0) : 0;
  if (probe.lastSeq !== null && seq > probe.lastSeq) {
    const now = Date.now();
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
const taken = { frames: probe.frames, longTasks: probe.longTasks, latencies: probe.latencies, unmeasured: probe.unmeasured };
probe.frames = []; probe.longTasks = []; probe.latencies = []; probe.unmeasured = 0;
return taken;
"#;

/// JavaScript heap and WebAssembly memory after a full collection.
const MEMORY: &str = r#"
window.gc();
return { jsHeap: performance.memory.usedJSHeapSize, wasm: window.paypulseWasmMemory.buffer.byteLength };
"#;

/// Waits (in the page) for a populated dashboard; answers ms since navigation
/// and what each resource transferred.
const POPULATED: &str = r#"
const done = arguments[arguments.length - 1];
function check() {
  const ready = document.querySelector('[data-testid=metrics-grid][data-state=ready]')
    && document.querySelector('[data-testid=trend-point]')
    && document.querySelector('[data-testid=connection-status][data-state=live]');
  if (!ready) return requestAnimationFrame(check);
  const at = performance.now();
  const entries = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));
  done({ at, resources: entries.map(e => ({ name: e.name, encoded: e.encodedBodySize, decoded: e.decodedBodySize })) });
}
check();
"#;

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn event(index: u64) -> PaymentEvent {
    let now = Utc::now();
    let (event_type, status) = match index % 20 {
        0 => (EventType::PaymentFailed, PaymentStatus::Failed),
        1 => (EventType::PaymentRefunded, PaymentStatus::Refunded),
        _ => (EventType::PaymentReceived, PaymentStatus::Succeeded),
    };
    let methods = ["card", "paypal", "bank_transfer", "apple_pay", "google_pay"];
    PaymentEvent {
        event_type,
        payment: Payment {
            id: format!("bench-{index}"),
            tenant_id: "acme".into(),
            external_id: format!("bench-{index}"),
            amount: Amount::from_minor(1_000 + (index as i64 * 7_919) % 90_000, 2),
            currency: "USD".into(),
            method: methods[index as usize % methods.len()].into(),
            status,
            failure_reason: (status == PaymentStatus::Failed).then(|| "card_declined".into()),
            refunded_at: None,
            created_at: now,
            updated_at: now,
        },
        timestamp: now,
        seq: None,
    }
}

async fn js(client: &Client, script: &str) -> anyhow::Result<Value> {
    Ok(client.execute(script, Vec::new()).await?)
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .map_or_else(Vec::new, |items| items.iter().filter_map(Value::as_f64).collect())
}

/// Publishes `rate` events a second for `seconds` while draining the probes.
async fn firehose(state: &AppState, client: &Client, rate: u64, seconds: u64) -> anyhow::Result<Value> {
    let before = js(client, MEMORY).await?;
    js(client, DRAIN).await?;
    let (mut frames, mut long_tasks, mut latencies, mut unmeasured) = (Vec::new(), Vec::new(), Vec::new(), 0.0);
    let started = Instant::now();
    let mut published = 0_u64;
    let mut next_drain = Duration::from_secs(10);
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        if due > published {
            let events: Vec<PaymentEvent> = (published..due).map(event).collect();
            published = due;
            state.live.publish("acme", events).await;
        }
        if started.elapsed() >= next_drain {
            next_drain += Duration::from_secs(10);
            let taken = js(client, DRAIN).await?;
            frames.extend(numbers(&taken["frames"]));
            long_tasks.extend(numbers(&taken["longTasks"]));
            latencies.extend(numbers(&taken["latencies"]));
            unmeasured += taken["unmeasured"].as_f64().unwrap_or(0.0);
        }
    }
    // Let the last events land before the final drain.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let taken = js(client, DRAIN).await?;
    frames.extend(numbers(&taken["frames"]));
    long_tasks.extend(numbers(&taken["longTasks"]));
    latencies.extend(numbers(&taken["latencies"]));
    unmeasured += taken["unmeasured"].as_f64().unwrap_or(0.0);
    let after = js(client, MEMORY).await?;
    let rows = client
        .execute(
            "return Number(document.querySelector('[data-testid=events-feed]').getAttribute('data-rows'));",
            Vec::new(),
        )
        .await?;
    let long_total = long_tasks.iter().fold(0.0, |total, duration| total + duration);
    let mb = |value: &Value| value.as_f64().unwrap_or(0.0) / 1_048_576.0;
    let result = json!({
        "events_per_second": rate,
        "seconds": seconds,
        "events_published": published,
        "frames": frames.len(),
        "frame_ms": { "p50": percentile(&mut frames, 50.0), "p95": percentile(&mut frames, 95.0), "max": percentile(&mut frames, 100.0) },
        "long_tasks": { "count": long_tasks.len(), "total_ms": long_total, "max_ms": percentile(&mut long_tasks, 100.0) },
        "event_to_screen_ms": {
            "measured": latencies.len(),
            "not_in_view_when_first_rendered": unmeasured,
            "p50": percentile(&mut latencies, 50.0),
            "p95": percentile(&mut latencies, 95.0),
            "max": percentile(&mut latencies, 100.0),
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
    let populated = client.execute_async(POPULATED, Vec::new()).await?;
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
