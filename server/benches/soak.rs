//! Soak (`cargo xtask bench soak`): the real server binary, in a process of
//! its own, for `--minutes` (30) at a steady load: its traffic simulator on
//! (`--simulate-rate` payments/s for each demo tenant), `--rate` (50)
//! payments/s more for `acme` through `POST /api/payments`, and `--clients`
//! (500) WebSocket clients watching `acme` as the dashboard does. Each
//! client leaves and resumes with `since` every `--resume-seconds` (300),
//! the clients spread evenly over that time, as dashboards whose
//! connections drop do: the server holds acme's replay window from the first
//! resume on (read from Redis), so the soak measures it too.
//!
//! Every `--sample-seconds` (10) it reads the server's resident memory and
//! open files from /proc. The report gives them at the start (once every
//! client is connected and the load has run a minute), at the end, at their
//! highest, and the memory's trend (least squares, MiB per 10 minutes) over
//! the whole run and over its last third, where a run long enough to fill
//! every bounded cache shows whether it stays flat.
//!
//! Every client checks its feed as it arrives, across its resumes: each
//! event's `seq` must be the one after the last, so a gap is a lost event
//! and a repeat a duplicate; a `resync_required` ends the client (a failure:
//! a resume within the replay window must be served); at the end every
//! client must stand at the same last `seq`.
//! Then, once every request is answered, every payment the server answered
//! 201 must be stored once, and, once the server is killed (its simulator
//! writes until then), `paypulse-server reconcile` must find the rollups
//! equal to the payments. The server's own `memory` lines (its heap as the
//! allocator counts it, what its bounded stores hold), logged once a minute
//! to target/bench/server.log (or `BENCH_SERVER_LOG`), are read back into
//! the report, and the quarter payments kept must stay within the server's
//! bound: `--kept-payments` (the server's default, 1,000,000) is passed to
//! it as `KEPT_PAYMENTS`, so a run shorter than the hours that default takes
//! to fill can still let quarters go (it must stay above what is in use,
//! ~340,000 at 150 payments/s). Results go to target/bench/soak.json.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mongodb::bson::doc;
use paypulse_server::store::edges::MAX_PAYMENTS;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Connections opened a second while the clients join: below the viewer
/// key's rate limit (50/s), as clients of a real deployment arrive.
const JOINS_PER_SECOND: u64 = 40;
/// How long the load runs before the start values are read.
const WARM_UP: Duration = Duration::from_secs(60);

/// What one client saw of its feed.
#[derive(Default)]
struct Feed {
    events: AtomicU64,
    lost: AtomicU64,
    duplicated: AtomicU64,
    last_seq: AtomicU64,
    /// Times it left and resumed with `since`.
    resumes: AtomicU64,
    /// Why its connection ended, if it did.
    ended: std::sync::Mutex<Option<String>>,
}

/// Watches `url` until the task is aborted, checking every `seq`; leaves and
/// resumes after the last `seq` it saw first after `first_resume`, then
/// every `resume_every`.
async fn watch(
    url: String,
    feed: Arc<Feed>,
    joined: tokio::sync::mpsc::Sender<()>,
    first_resume: Duration,
    resume_every: Duration,
) {
    let end = |why: String| *feed.ended.lock().expect("feed lock") = Some(why);
    let mut last: Option<u64> = None;
    let mut resume_at = tokio::time::Instant::now() + first_resume;
    loop {
        let address = match last {
            Some(seq) => format!("{url}&since={seq}"),
            None => url.clone(),
        };
        let mut socket = match tokio_tungstenite::connect_async(&address).await {
            Ok((socket, _)) => socket,
            Err(error) => return end(format!("connect: {error}")),
        };
        loop {
            let message = tokio::select! {
                message = socket.next() => message,
                () = tokio::time::sleep_until(resume_at) => break,
            };
            let Some(message) = message else {
                return end("the connection ended".to_owned());
            };
            let text = match message {
                Ok(Message::Text(text)) => text,
                Ok(Message::Close(frame)) => return end(format!("closed: {frame:?}")),
                Ok(_) => continue,
                Err(error) => return end(format!("failed: {error}")),
            };
            let frame: Value = serde_json::from_str(&text).expect("JSON frames");
            match frame["type"].as_str() {
                // A resumed connection's `hello` gives the feed's newest
                // `seq`; what the client missed follows it.
                Some("hello") if last.is_none() => {
                    last = frame["seq"].as_u64();
                    joined.send(()).await.ok();
                    continue;
                }
                Some("hello" | "heartbeat") => continue,
                Some("resync_required") => return end("resync_required".to_owned()),
                _ => {}
            }
            let Some(seq) = frame["seq"].as_u64() else {
                continue;
            };
            let previous = last.unwrap_or(seq - 1);
            if seq <= previous {
                feed.duplicated.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            feed.lost.fetch_add(seq - previous - 1, Ordering::Relaxed);
            feed.events.fetch_add(1, Ordering::Relaxed);
            feed.last_seq.store(seq, Ordering::Relaxed);
            last = Some(seq);
        }
        socket.close(None).await.ok();
        feed.resumes.fetch_add(1, Ordering::Relaxed);
        resume_at += resume_every;
    }
}

/// One reading of the server process.
struct Sample {
    at_seconds: f64,
    rss_mib: f64,
    open_files: usize,
}

/// One `memory` line of the server's log (`paypulse_server::memory`).
struct MemoryLine {
    allocated_mib: f64,
    resident_mib: f64,
    events_held: f64,
    quarter_payments_kept: f64,
}

/// The `memory` lines in `log` that carry the allocator's figures, in order.
fn memory_lines(log: &str) -> Vec<MemoryLine> {
    log.lines()
        .filter_map(|line| {
            let fields = line.split_once("paypulse_server::memory: memory ")?.1;
            let field = |name: &str| {
                fields
                    .split_whitespace()
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?
                    .parse::<f64>()
                    .ok()
            };
            Some(MemoryLine {
                allocated_mib: field("allocated_mib")?,
                resident_mib: field("resident_mib")?,
                events_held: field("events_held")?,
                quarter_payments_kept: field("quarter_payments_kept")?,
            })
        })
        .collect()
}

/// Least-squares slope of `rss_mib` over time, in MiB per 10 minutes.
fn trend(samples: &[&Sample]) -> f64 {
    let count = samples.len() as f64;
    if count < 2.0 {
        return f64::NAN;
    }
    let mean_t = samples.iter().map(|sample| sample.at_seconds).sum::<f64>() / count;
    let mean_m = samples.iter().map(|sample| sample.rss_mib).sum::<f64>() / count;
    let covariance: f64 = samples
        .iter()
        .map(|sample| (sample.at_seconds - mean_t) * (sample.rss_mib - mean_m))
        .sum();
    let variance: f64 = samples.iter().map(|sample| (sample.at_seconds - mean_t).powi(2)).sum();
    covariance / variance * 600.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let begun = Instant::now();
    let minutes: f64 = common::arg("--minutes", 30.0);
    let clients: usize = common::arg("--clients", 500);
    let rate: u64 = common::arg("--rate", 50);
    let simulate_rate: f64 = common::arg("--simulate-rate", 2.0);
    let sample_every = Duration::from_secs_f64(common::arg("--sample-seconds", 10.0));
    let resume_every = Duration::from_secs_f64(common::arg("--resume-seconds", 300.0));
    let kept_bound: usize = common::arg("--kept-payments", MAX_PAYMENTS);
    let uri = common::mongodb_uri("soak")?;
    let database = format!("bench_soak_{:x}", rand::random::<u32>());
    // A bare store, not a whole `AppState`: that would start an alert
    // evaluator here too, a second instance beside the server that writes
    // nothing and so reads the busy current quarter whole every second
    // (`store::edges`), which sessions 13 and 14 took for the server's own.
    let config = common::config(&uri, &database);
    let store = paypulse_server::store::Store::connect(&config.database).await?;
    common::seed_acme_into(&store, &config, 1, 60.0, 1).await?;
    // A bounded pool: the server's open files then count its own (500
    // sockets, the database's and Redis's connections), not however many
    // idle keep-alive connections an unbounded client pool keeps after a
    // slow second.
    let http = reqwest::Client::builder().pool_max_idle_per_host(16).build()?;
    let simulate = simulate_rate.to_string();
    let kept = kept_bound.to_string();
    let server = common::ServerBinary::start(
        &uri,
        &database,
        &http,
        &[
            ("SIMULATE", "true"),
            ("SIMULATE_RATE", &simulate),
            ("KEPT_PAYMENTS", &kept),
        ],
    )
    .await?;
    let pid = server.pid();
    let url = format!(
        "{}/ws/payments?tenant=acme&key=pk_demo_acme_viewer&control=true",
        server.base.replacen("http", "ws", 1)
    );

    // The clients join at a steady pace, each once it has its `hello`.
    let (joined, mut joins) = tokio::sync::mpsc::channel(clients);
    let feeds: Vec<Arc<Feed>> = (0..clients).map(|_| Arc::default()).collect();
    let mut watchers = Vec::with_capacity(clients);
    for (index, feed) in feeds.iter().enumerate() {
        // Resumes spread evenly: one client every `resume_every / clients`.
        let first_resume = WARM_UP + resume_every.mul_f64((index + 1) as f64 / clients as f64);
        watchers.push(tokio::spawn(watch(
            url.clone(),
            Arc::clone(feed),
            joined.clone(),
            first_resume,
            resume_every,
        )));
        tokio::time::sleep(Duration::from_millis(1_000 / JOINS_PER_SECOND)).await;
    }
    drop(joined);
    for count in 0..clients {
        tokio::time::timeout(Duration::from_secs(60), joins.recv())
            .await
            .map_err(|_| anyhow::anyhow!("{count} of {clients} clients joined within a minute"))?;
    }
    eprintln!(
        "{clients} clients watching; load for {minutes} minutes: {rate} payments/s over HTTP, the simulator at \
         {simulate_rate}/s per tenant, at most {kept_bound} kept quarter payments"
    );

    // Ingest at `rate`, each payment its own request, as an integration would.
    let acknowledged = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let ingest = {
        let (http, base) = (http.clone(), server.base.clone());
        let (acknowledged, refused, sent) = (Arc::clone(&acknowledged), Arc::clone(&refused), Arc::clone(&sent));
        tokio::spawn(async move {
            let started = Instant::now();
            let mut ticks = tokio::time::interval(Duration::from_millis(20));
            loop {
                ticks.tick().await;
                let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
                while sent.load(Ordering::Relaxed) < due {
                    let index = sent.fetch_add(1, Ordering::Relaxed);
                    let (http, base) = (http.clone(), base.clone());
                    let (acknowledged, refused) = (Arc::clone(&acknowledged), Arc::clone(&refused));
                    tokio::spawn(async move {
                        let method = ["card", "paypal", "apple_pay"][index as usize % 3];
                        let body = json!({
                            "externalId": format!("soak_{index}"), "amount": 12.5 + (index % 40) as f64,
                            "currency": "USD", "method": method,
                            "status": if index % 25 == 0 { "failed" } else { "succeeded" },
                        });
                        let answer = http
                            .post(format!("{base}/api/payments"))
                            .header("X-Tenant-Id", "acme")
                            .bearer_auth("pk_demo_acme_ingest")
                            .json(&body)
                            .send()
                            .await;
                        match answer {
                            Ok(response) if response.status() == 201 => acknowledged.fetch_add(1, Ordering::Relaxed),
                            _ => refused.fetch_add(1, Ordering::Relaxed),
                        };
                    });
                }
            }
        })
    };

    let started = Instant::now();
    let duration = Duration::from_secs_f64(minutes * 60.0);
    let mut samples = Vec::new();
    let mut ticks = tokio::time::interval(sample_every);
    while started.elapsed() < duration {
        ticks.tick().await;
        let sample = Sample {
            at_seconds: started.elapsed().as_secs_f64(),
            rss_mib: common::rss_mib(pid)?,
            open_files: common::open_files(pid)?,
        };
        let delivered: u64 = feeds.iter().map(|feed| feed.events.load(Ordering::Relaxed)).sum();
        eprintln!(
            "  {:>6.0} s: rss {:.1} MiB, {} open files, {} payments acknowledged, {delivered} events delivered",
            sample.at_seconds,
            sample.rss_mib,
            sample.open_files,
            acknowledged.load(Ordering::Relaxed)
        );
        samples.push(sample);
    }
    ingest.abort();
    // Every request sent is answered before anything is counted: a request
    // slower than the clients' catching up would be acknowledged after the
    // count and read as a payment lost (the first soak of session 12).
    let answered_by = Instant::now() + Duration::from_secs(60);
    let unanswered =
        || sent.load(Ordering::Relaxed) - acknowledged.load(Ordering::Relaxed) - refused.load(Ordering::Relaxed);
    while unanswered() > 0 {
        anyhow::ensure!(
            Instant::now() < answered_by,
            "{} payment requests unanswered a minute after the load stopped",
            unanswered()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // What is in flight lands; every client catches up with the last event.
    let settle = Instant::now() + Duration::from_secs(30);
    let newest = || {
        feeds
            .iter()
            .map(|feed| feed.last_seq.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    };
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let top = newest();
        let behind = feeds
            .iter()
            .filter(|feed| feed.last_seq.load(Ordering::Relaxed) != top)
            .count();
        if behind == 0 || Instant::now() > settle {
            break;
        }
    }
    let last_seq = newest();
    let behind = feeds
        .iter()
        .filter(|feed| feed.last_seq.load(Ordering::Relaxed) != last_seq)
        .count();
    let ended: Vec<String> = feeds
        .iter()
        .filter_map(|feed| feed.ended.lock().expect("feed lock").clone())
        .collect();
    for watcher in watchers {
        watcher.abort();
    }
    let sum = |field: fn(&Feed) -> &AtomicU64| {
        feeds
            .iter()
            .map(|feed| field(feed).load(Ordering::Relaxed))
            .sum::<u64>()
    };
    let (events, lost, duplicated, resumes) = (
        sum(|feed| &feed.events),
        sum(|feed| &feed.lost),
        sum(|feed| &feed.duplicated),
        sum(|feed| &feed.resumes),
    );

    let stored = store
        .payments()
        .count_documents(doc! { "tenantId": "acme", "externalId": { "$regex": "^soak_" } })
        .await?;
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    // Reconciled once the server is gone (killed, as a crash would): its
    // simulator writes until then, and a payment committed between
    // reconcile's read of the payments and its read of the rollups is
    // drift that is not there.
    let memory = memory_lines(&server.logged()?);
    drop(server);
    let reconcile = std::process::Command::new(env!("CARGO_BIN_EXE_paypulse-server"))
        .args(["reconcile", "--tenants", "acme,globex,initech"])
        .env("MONGODB_URI", &uri)
        .env("MONGODB_DB", &database)
        .output()?;
    let reconcile_clean = reconcile.status.success();

    let steady: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.at_seconds >= WARM_UP.as_secs_f64())
        .collect();
    let (first, last) = (
        steady.first().copied().or(samples.first()),
        steady.last().copied().or(samples.last()),
    );
    let peak_rss = samples.iter().map(|sample| sample.rss_mib).fold(0.0, f64::max);
    let peak_files = samples.iter().map(|sample| sample.open_files).max().unwrap_or(0);
    let memory_trend = trend(&steady);
    let late_trend = trend(&steady[steady.len() * 2 / 3..]);
    let peak = |field: fn(&MemoryLine) -> f64| memory.iter().map(field).fold(f64::NAN, f64::max);
    let heap = |field: fn(&MemoryLine) -> f64| json!({ "first": memory.first().map(field), "last": memory.last().map(field), "peak": peak(field) });
    let result = json!({
        "benchmark": "soak",
        "minutes": minutes,
        "clients": clients,
        "ingest_per_second": rate,
        "simulate_per_second_per_tenant": simulate_rate,
        "kept_payments_bound": kept_bound,
        "warm_up_seconds": WARM_UP.as_secs(),
        "rss_mib": { "start": first.map(|sample| sample.rss_mib), "end": last.map(|sample| sample.rss_mib), "peak": peak_rss, "trend_mib_per_10_min": memory_trend, "trend_last_third_mib_per_10_min": late_trend },
        "open_files": { "start": first.map(|sample| sample.open_files), "end": last.map(|sample| sample.open_files), "peak": peak_files },
        "events_delivered": events,
        "events_lost": lost,
        "events_duplicated": duplicated,
        "resumes": resumes,
        "resume_seconds": resume_every.as_secs_f64(),
        "clients_behind_at_end": behind,
        "clients_ended": ended.len(),
        "why_clients_ended": ended.iter().take(5).collect::<Vec<_>>(),
        "last_seq": last_seq,
        "payments_acknowledged": acknowledged,
        "payments_refused": refused.load(Ordering::Relaxed),
        "payments_stored": stored,
        "reconcile_clean": reconcile_clean,
        "reconcile_report": String::from_utf8_lossy(&reconcile.stdout).lines().rev().take(5).collect::<Vec<_>>(),
        "server_memory_lines": {
            "allocated_mib": heap(|line| line.allocated_mib),
            "resident_mib": heap(|line| line.resident_mib),
            "events_held": heap(|line| line.events_held),
            "quarter_payments_kept": heap(|line| line.quarter_payments_kept),
            "each": memory.iter().map(|line| json!([line.allocated_mib, line.resident_mib, line.events_held, line.quarter_payments_kept])).collect::<Vec<_>>(),
        },
        "samples": samples.iter().map(|sample| json!([sample.at_seconds, sample.rss_mib, sample.open_files])).collect::<Vec<_>>(),
        "seconds_total": begun.elapsed().as_secs_f64(),
    });
    eprintln!(
        "rss {:.1} → {:.1} MiB (peak {peak_rss:.1}, trend {memory_trend:+.2} MiB/10 min, over the last third {late_trend:+.2}); \
         open files {:?} → {:?} (peak {peak_files}); \
         {events} events delivered, {lost} lost, {duplicated} duplicated, {resumes} resumes, {} clients ended, {behind} behind; \
         {acknowledged} payments acknowledged, {stored} stored; reconcile {}",
        first.map_or(f64::NAN, |sample| sample.rss_mib),
        last.map_or(f64::NAN, |sample| sample.rss_mib),
        first.map(|sample| sample.open_files),
        last.map(|sample| sample.open_files),
        ended.len(),
        if reconcile_clean { "clean" } else { "found drift" },
    );
    if let (Some(first), Some(last)) = (memory.first(), memory.last()) {
        eprintln!(
            "the server's memory lines: heap {:.1} → {:.1} MiB allocated, {:.1} → {:.1} MiB resident (peak {:.1}); \
             {} → {} events held, {} → {} quarter payments kept (peak {}, bound {kept_bound})",
            first.allocated_mib,
            last.allocated_mib,
            first.resident_mib,
            last.resident_mib,
            peak(|line| line.resident_mib),
            first.events_held,
            last.events_held,
            first.quarter_payments_kept,
            last.quarter_payments_kept,
            peak(|line| line.quarter_payments_kept),
        );
    }
    common::write_result("soak", &result)?;
    common::drop_database(store.database()).await;
    anyhow::ensure!(
        lost == 0 && duplicated == 0 && ended.is_empty() && behind == 0,
        "the feed lost or repeated events"
    );
    anyhow::ensure!(stored == acknowledged, "an acknowledged payment is not stored once");
    anyhow::ensure!(reconcile_clean, "the rollups drifted from the payments");
    // The line operators read (`paypulse_server::memory`), once a minute.
    anyhow::ensure!(
        memory.len() as f64 >= minutes.floor(),
        "the server logged {} memory lines with its allocator's figures in {minutes} minutes",
        memory.len()
    );
    // What the server kept within the bounds it claims (session 18's soak
    // found the kept quarters past theirs, between reads).
    let quarter_peak = peak(|line| line.quarter_payments_kept);
    anyhow::ensure!(
        quarter_peak <= kept_bound as f64,
        "the server kept {quarter_peak} quarter payments, past its bound of {kept_bound}"
    );
    Ok(())
}
