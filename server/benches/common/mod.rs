//! What every benchmark does the same way: its flags, a server over a
//! database of its own, the demo tenant `acme` with its keys, the results
//! file in target/bench, and how a comparison is summarized: percentiles by
//! nearest rank, rounds whose order alternates, medians over rounds.

#![allow(dead_code)] // each benchmark uses part of this

use std::net::Ipv4Addr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use mongodb::bson::oid::ObjectId;
use paypulse_server::store::documents::{PaymentDoc, to_bson};
use paypulse_shared::live::FeedItem;
use paypulse_shared::money::Amount;
use paypulse_shared::payment::{EventType, Payment, PaymentEvent, PaymentStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use paypulse_server::config::{Config, DatabaseConfig};
use paypulse_server::seed::{self, SeedArgs};
use paypulse_server::state::AppState;
use tokio::net::TcpListener;

/// The value after `--name`, or `default`.
pub fn arg<T: FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|pair| pair[0] == name)
        .and_then(|pair| pair[1].parse().ok())
        .unwrap_or(default)
}

/// Whether the flag `--name` was given.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|arg| arg == name)
}

/// `MONGODB_URI`, which `cargo xtask bench` sets.
pub fn mongodb_uri(benchmark: &str) -> anyhow::Result<String> {
    std::env::var("MONGODB_URI")
        .map_err(|_| anyhow::anyhow!("MONGODB_URI is not set: run `cargo xtask bench {benchmark}`"))
}

/// A server's configuration over `database`, with Redis when `REDIS_URL` is
/// set (under a key prefix of its own).
pub fn config(uri: &str, database: &str) -> Config {
    Config {
        host: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        database: DatabaseConfig::new(uri, database),
        redis_url: std::env::var("REDIS_URL").ok(),
        redis_prefix: redis_prefix(database),
        ui_dist: "ui/dist".into(),
        simulate: false,
        simulate_rate: 1.0,
        base_domain: None,
        cors_origins: vec!["tauri://localhost".to_owned(), "http://tauri.localhost".to_owned()],
        // One key stands for the many clients a benchmark plays: no
        // per-key rate limit (production's would throttle that one key).
        limits: paypulse_server::config::Limits {
            rates: paypulse_server::access::rate::RateLimits::lifted(),
            ..Default::default()
        },
        clock: Default::default(),
    }
}

/// Seeds `acme` (UTC, USD, its demo keys) with `days` of history at `rate`
/// payments an hour.
pub async fn seed_acme(state: &AppState, days: u32, rate: f64, random_seed: u64) -> anyhow::Result<()> {
    seed_acme_into(&state.store, &state.config, days, rate, random_seed).await
}

/// [`seed_acme`] through a bare store: for a benchmark whose process must
/// not run a Paypulse instance of its own beside the server it measures.
pub async fn seed_acme_into(
    store: &paypulse_server::store::Store,
    config: &Config,
    days: u32,
    rate: f64,
    random_seed: u64,
) -> anyhow::Result<()> {
    let args = SeedArgs {
        database: config.database.clone(),
        tenants: vec!["acme".into()],
        days,
        rate,
        demo_keys: true,
        random_seed,
    };
    seed::seed(store, &args).await
}

/// Drops `database` unless its whole server is a throw-away one that
/// `cargo xtask bench` started and stops (`BENCH_THROWAWAY_DATABASE`):
/// dropping a million payments on SecantusDB takes minutes, and a database
/// that outlives the run must not keep a benchmark's data.
pub async fn drop_database(database: &mongodb::Database) {
    if std::env::var_os("BENCH_THROWAWAY_DATABASE").is_none() {
        database.drop().await.ok();
    }
    drop_redis_keys(&redis_prefix(database.name())).await;
}

/// The Redis key prefix of a benchmark's servers over `database` (every
/// variant's prefix starts with it).
pub fn redis_prefix(database: &str) -> String {
    format!("paypulse-{database}")
}

/// Deletes the keys a benchmark's servers left in Redis (feed streams,
/// epochs, cached reads), as the tests do: Redis outlives the run.
async fn drop_redis_keys(prefix: &str) {
    let Ok(url) = std::env::var("REDIS_URL") else {
        return;
    };
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut redis) = client.get_multiplexed_async_connection().await else {
        return;
    };
    // The prefix's own keys, and those of variants named after it
    // (`fanout`'s `paypulse_redis_wb<N>k`).
    for pattern in [format!("{prefix}:*"), format!("{prefix}-*")] {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut redis)
            .await
            .unwrap_or_default();
        for chunk in keys.chunks(1_000) {
            redis::cmd("DEL").arg(chunk).query_async::<()>(&mut redis).await.ok();
        }
    }
}

/// Serves `state` on a free local port; returns its address.
pub async fn serve(state: AppState) -> anyhow::Result<std::net::SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let address = listener.local_addr()?;
    tokio::spawn(paypulse_server::launch(state, listener, std::future::pending()));
    Ok(address)
}

/// Prints `result` and writes it to target/bench/`name`.json.
pub fn write_result(name: &str, result: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(result)?;
    println!("{text}");
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join(format!("{name}.json")), text)?;
    Ok(())
}

/// Milliseconds in `duration`, as benchmarks report them.
pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}

/// The `p`th percentile (0–100) of `values` by nearest rank: always one of
/// the values measured, never an interpolation. NaN (null in the JSON) when
/// nothing was measured, so an empty row cannot pass for a fast one.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median by nearest rank (the middle one of an odd count).
pub fn median(values: &[f64]) -> f64 {
    percentile(values, 50.0)
}

/// Count, p50, p95, p99 and max of latencies in milliseconds.
pub fn latency_summary(values: &[f64]) -> serde_json::Value {
    serde_json::json!({
        "n": values.len(),
        "p50_ms": percentile(values, 50.0),
        "p95_ms": percentile(values, 95.0),
        "p99_ms": percentile(values, 99.0),
        "max_ms": percentile(values, 100.0),
    })
}

/// Rounds a benchmark repeats its comparison by default: the house rule is
/// the median of at least five, so one noisy round cannot decide.
pub const ROUNDS: usize = 5;

/// `--rounds`, by default [`ROUNDS`]; fewer only for a smoke run (the
/// results file records how many there were).
pub fn rounds() -> usize {
    arg("--rounds", ROUNDS).max(1)
}

/// The order in which `sides` take their turn in round `round`. Each side
/// opens a round in turn (for two: A B, then B A), because on a shared
/// machine whoever goes first meets different conditions (caches, the other
/// side's leftovers, a neighbour's load) than whoever goes second.
pub fn turns(round: usize, sides: usize) -> Vec<usize> {
    (0..sides).map(|offset| (round + offset) % sides).collect()
}

/// A side's value per round and the baseline's, summarized the way every
/// benchmark reports a comparison: both medians, their ratio, and the ratio
/// of each round (their median too), so the spread is visible.
pub fn compared(ours: &[f64], baseline: &[f64]) -> serde_json::Value {
    let per_round: Vec<f64> = ours.iter().zip(baseline).map(|(ours, base)| ours / base).collect();
    serde_json::json!({
        "ours_median": median(ours),
        "baseline_median": median(baseline),
        "ratio_of_medians": median(ours) / median(baseline),
        "ratio_per_round": per_round,
        "median_of_round_ratios": median(&per_round),
    })
}

/// CPU seconds (user + system) the process `pid` has used, from /proc.
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) end with ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The pids of the database server at `uri` when it is a SecantusDB
/// process of this machine (what `cargo xtask bench` starts), found by the
/// port on its command line.
pub fn database_pids(uri: &str) -> Vec<String> {
    let port = uri
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', '?']).next())
        .and_then(|host| host.rsplit_once(':'))
        .map(|(_, port)| port.to_owned());
    let Some(port) = port else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let words: Vec<String> = cmdline
                    .split(|byte| *byte == 0)
                    .map(|word| String::from_utf8_lossy(word).into_owned())
                    .collect();
                words.iter().any(|word| word.contains("secantus"))
                    && words.windows(2).any(|pair| pair[0] == "--port" && pair[1] == port)
            })
        })
        .collect()
}

/// CPU seconds the processes `pids` have used in all.
pub fn cpu_of(pids: &[String]) -> f64 {
    pids.iter().filter_map(|pid| cpu_seconds(pid)).sum()
}

/// Days [`load_payments`] spreads payments over.
const LOAD_DAYS: i64 = 90;
const LOAD_BATCH: usize = 2_000;

/// Writes `count` payments of `acme` over the last [`LOAD_DAYS`] days
/// straight into the collection (what an export reads; no rollups).
pub async fn load_payments(state: &AppState, count: usize) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(11);
    let now = Utc::now();
    let methods = ["card", "paypal", "bank_transfer", "apple_pay"];
    let payments = state.store.database().collection::<PaymentDoc>("payments");
    let started = Instant::now();
    let mut written = 0;
    while written < count {
        let batch: Vec<PaymentDoc> = (0..LOAD_BATCH.min(count - written))
            .map(|_| {
                let at = now - TimeDelta::milliseconds(rng.random_range(1..LOAD_DAYS * 86_400_000));
                let failed = rng.random_range(0..20) == 0;
                PaymentDoc {
                    id: ObjectId::new(),
                    tenant_id: "acme".into(),
                    external_id: format!("exp_{}", ObjectId::new().to_hex()),
                    amount_minor: rng.random_range(100..500_000),
                    currency: "USD".into(),
                    method: methods[rng.random_range(0..methods.len())].into(),
                    status: if failed {
                        PaymentStatus::Failed
                    } else {
                        PaymentStatus::Succeeded
                    },
                    failure_reason: failed.then(|| "card_declined".into()),
                    refunded_at: None,
                    created_at: to_bson(at),
                    updated_at: to_bson(at),
                }
            })
            .collect();
        written += batch.len();
        // SecantusDB now and then answers a large insert with an internal
        // error; a retry of the same documents (unordered, so those already
        // in are skipped as duplicates) completes it.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match payments.insert_many(&batch).ordered(false).await {
                Ok(_) => break,
                Err(error) if attempt < 5 => {
                    if matches!(*error.kind, mongodb::error::ErrorKind::InsertMany(_)) {
                        // Duplicates of a half-finished earlier attempt.
                        break;
                    }
                    eprintln!("insert failed ({error}); retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    eprintln!("{count} payments written in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The `index`th of a stream of live events of `acme`: mostly received,
/// one in 20 failed, one in 20 refunded, over five methods.
pub fn live_event(index: u64) -> PaymentEvent {
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

/// The real server binary (`paypulse-server serve`) on `database`, in a
/// process of its own so its memory and files are its own; killed when
/// dropped. Redis when `REDIS_URL` is set, as the benchmark's own state.
pub struct ServerBinary {
    child: std::process::Child,
    pub base: String,
    /// Where its output goes, and how long that file was when it started.
    log: (std::path::PathBuf, u64),
}

/// Where a server binary's output goes: the file `BENCH_SERVER_LOG` names,
/// or target/bench/server.log, appended to (a run reads its own lines from
/// where the file ended when its server started).
fn server_log() -> std::io::Result<(std::path::PathBuf, std::fs::File)> {
    let path = match std::env::var_os("BENCH_SERVER_LOG") {
        Some(path) => std::path::PathBuf::from(path),
        None => {
            let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
            std::fs::create_dir_all(&folder)?;
            folder.join("server.log")
        }
    };
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    Ok((path, file))
}

impl ServerBinary {
    /// Starts it with the environment `extra` besides the database, and
    /// waits until it is ready.
    pub async fn start(
        uri: &str,
        database: &str,
        http: &reqwest::Client,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let (path, log) = server_log()?;
        let log_from = log.metadata()?.len();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_paypulse-server"))
            .arg("serve")
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("MONGODB_URI", uri)
            .env("MONGODB_DB", database)
            .env("REDIS_PREFIX", redis_prefix(database))
            .env_remove("SIMULATE")
            .envs(extra.iter().copied())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log: (path, log_from),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .map(|response| !response.status().is_success())
            .unwrap_or(true)
        {
            anyhow::ensure!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it has logged so far.
    pub fn logged(&self) -> anyhow::Result<String> {
        use std::io::{Read, Seek};
        let (path, from) = &self.log;
        let mut file = std::fs::File::open(path)?;
        file.seek(std::io::SeekFrom::Start(*from))?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok(text)
    }
}

impl Drop for ServerBinary {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Files process `pid` holds open (sockets included), from /proc.
pub fn open_files(pid: u32) -> anyhow::Result<usize> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// Resident set size of process `pid` in MiB, from /proc.
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("malformed VmRSS"))?
        .parse()?;
    Ok(kib / 1024.0)
}

/// Waits (in the page) for a populated dashboard; answers ms since navigation
/// and what each resource transferred.
pub const POPULATED: &str = r#"
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

/// Publishes [`live_event`]s to `acme`'s feed at `rate` a second since
/// `started`: each call publishes those due by now and answers how many.
pub async fn publish_due(state: &AppState, started: Instant, rate: u64, published: &mut u64) -> u64 {
    let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
    if due <= *published {
        return 0;
    }
    let events: Vec<FeedItem> = (*published..due)
        .map(|index| FeedItem::Payment(live_event(index)))
        .collect();
    let count = due - *published;
    *published = due;
    state.live.publish("acme", events).await;
    count
}
