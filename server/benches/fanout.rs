//! Fan-out benchmark (`cargo xtask bench fanout`): 1,000 WebSocket clients
//! watch one tenant while the event rate climbs step by step (×1.25, from 50
//! events/s) until an event takes more than 100 ms at p99 to reach the
//! clients, or some client misses events. Five servers take the same clients
//! and events in the same run:
//!
//! - `paypulse_redis`: Paypulse's `/ws/payments`, events published through
//!   `Live`, the path a committed payment takes, via the Redis stream when
//!   `REDIS_URL` is set;
//! - `paypulse_local`: a second Paypulse `AppState` over the same database
//!   without Redis (its own port, the in-process hub); the two Paypulse rows
//!   separate the Redis hop from the server's own cost;
//! - `bare_tuned`: the limit of this machine, a bare tokio-tungstenite server
//!   that forwards a broadcast channel of frames serialized once and writes
//!   as Paypulse does (`TCP_NODELAY`; every frame already queued fed, one
//!   flush when drained);
//! - `bare_naive`: the same server written the first way that comes to mind
//!   (one `send`, a write and a flush, per frame; Nagle left on), called
//!   "minimal" before;
//! - `nestjs_gateway`: the seed's stack, a NestJS gateway on
//!   `@nestjs/platform-ws` (server/benches/fanout/nest/gateway.mjs, packages
//!   pinned by its package-lock.json, installed by `cargo xtask bench` into
//!   .paypulse/nest and started here as a Node child process). The benchmark
//!   hands it each batch of events (those due in one 5 ms tick) as one Nest
//!   message over a publisher WebSocket of its own; the gateway serializes
//!   each event once and sends it to every watcher. That hop (a local socket,
//!   a JSON parse) is of the same kind as Paypulse's through Redis (a local
//!   socket, a script, a stream read), so `paypulse_redis` is the row to set
//!   beside it.
//!
//! Each round ramps them all; which one goes first rotates from round to
//! round. The report gives, per server, the median over the rounds (at least
//! five) of its highest sustained delivered messages/s, the latency at the
//! first step (50 events/s, the same for every server, so p50 and p99
//! compare at equal, low load), and the ratios of the medians and of each
//! round. To keep the run short, a server's ramp after its first round starts
//! a few steps below its best of the previous round (after the common first
//! step), on the same grid of rates. The grid's ×1.25 is too coarse to
//! compare servers within 25 %, so after the first failed step `--refine`
//! (2) probes bisect (geometrically) between it and the last step held: the
//! best rate is then known within about 6 %. The old method's figure (the mean of two
//! rounds, Paypulse via Redis over the naive server) is kept as a labelled
//! row computed from rounds 1 and 2. `--servers a,b` runs only those (for a
//! quick look while working); named there, `bare_preframed` adds a bare
//! server that builds each event's whole frame once and writes a client's
//! burst with one vectored write, no per-connection buffer, as Paypulse's
//! watchers have since session 22 (the same write without the product).
//! Around each step the
//! benchmark reads Redis's own processor time (`INFO cpu`): the Redis server
//! runs on the cores the servers and their clients share, and only Paypulse
//! with Redis makes it work, so the report gives Redis's cores at each
//! server's best step beside its rate. Results go to
//! target/bench/fanout.json.
//!
//! Latency is publish-to-client: the publisher notes when it hands event `i`
//! over (its `externalId` is `fan_<i>`), and a client subtracts that from
//! when it read the frame. Both sides run in this process on one clock (the
//! Node process only relays).

#[path = "fanout/baselines.rs"]
mod baselines;
mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use baselines::{Bare, Frame, NestGateway};
use futures::StreamExt;
use mongodb::bson::oid::ObjectId;
use paypulse_server::live::Live;
use paypulse_server::store::documents::{PaymentDoc, to_bson};
use paypulse_shared::live::FeedItem;
use paypulse_shared::payment::{EventType, PaymentEvent, PaymentStatus};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

/// Latency above which a step fails.
const P99_LIMIT_MS: f64 = 100.0;
/// Each step's rate over the previous one's.
const STEP_FACTOR: f64 = 1.25;
/// The bare servers' per-client queue: the same as Paypulse's.
const QUEUE: usize = paypulse_server::live::hub::WATCHER_QUEUE;
/// Events a run may publish at most (the publish-time table's size).
const MAX_EVENTS: usize = 4_000_000;

/// A latency histogram clients record into concurrently: exact below 64 µs,
/// then 32 buckets per power of two (about 3 % resolution).
struct Histogram {
    buckets: Vec<AtomicU64>,
}

impl Histogram {
    const BUCKETS: usize = 64 + 32 * 40;

    fn new() -> Self {
        Self {
            buckets: (0..Self::BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn index(micros: u64) -> usize {
        if micros < 64 {
            return micros as usize;
        }
        let power = 63 - micros.leading_zeros() as usize; // ≥ 6
        let mantissa = (micros >> (power - 5)) as usize; // 32..=63
        (64 + (power - 6) * 32 + (mantissa - 32)).min(Self::BUCKETS - 1)
    }

    /// The largest value bucket `index` holds.
    fn upper(index: usize) -> u64 {
        if index < 64 {
            return index as u64;
        }
        let power = (index - 64) / 32 + 6;
        let mantissa = ((index - 64) % 32 + 32) as u64;
        ((mantissa + 1) << (power - 5)) - 1
    }

    fn record(&self, micros: u64) {
        self.buckets[Self::index(micros)].fetch_add(1, Ordering::Relaxed);
    }

    fn total(&self) -> u64 {
        self.buckets.iter().map(|bucket| bucket.load(Ordering::Relaxed)).sum()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|bucket| bucket.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::upper(index) as f64 / 1_000.0;
            }
        }
        f64::NAN
    }

    fn reset(&self) {
        for bucket in &self.buckets {
            bucket.store(0, Ordering::Relaxed);
        }
    }
}

/// What clients and the publisher share.
struct Shared {
    started: Instant,
    /// When event `i` was handed to the server, in ns since `started`.
    published: Vec<AtomicU64>,
    latencies: Histogram,
    /// Clients whose connection ended.
    closed: AtomicUsize,
}

impl Shared {
    fn now(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }
}

/// The server under test.
enum Subject {
    Paypulse {
        name: &'static str,
        live: Live,
        address: SocketAddr,
    },
    Bare {
        kind: Bare,
        sender: broadcast::Sender<Frame>,
        address: SocketAddr,
        seq: AtomicU64,
    },
    Nest {
        gateway: NestGateway,
        seq: AtomicU64,
    },
}

impl Subject {
    fn name(&self) -> &'static str {
        match self {
            Subject::Paypulse { name, .. } => name,
            Subject::Bare { kind, .. } => kind.name(),
            Subject::Nest { .. } => "nestjs_gateway",
        }
    }

    fn url(&self) -> String {
        match self {
            Subject::Paypulse { address, .. } => {
                format!("ws://{address}/ws/payments?tenant=acme&key=pk_demo_acme_viewer&control=true")
            }
            Subject::Bare { address, .. } => format!("ws://{address}/"),
            Subject::Nest { gateway, .. } => format!("ws://{}/", gateway.address),
        }
    }

    async fn publish(&self, events: Vec<PaymentEvent>) -> anyhow::Result<()> {
        match self {
            Subject::Paypulse { live, .. } => {
                live.publish("acme", events.into_iter().map(FeedItem::Payment).collect())
                    .await;
            }
            // Numbered and serialized once per event, as Paypulse's hub does.
            Subject::Bare { kind, sender, seq, .. } => {
                for mut event in events {
                    event.seq = Some(seq.fetch_add(1, Ordering::Relaxed) + 1);
                    let text = serde_json::to_string(&event).expect("events serialize");
                    sender.send(Frame::new(*kind, text)).ok();
                }
            }
            Subject::Nest { gateway, seq } => {
                let events: Vec<Value> = events
                    .into_iter()
                    .map(|mut event| {
                        event.seq = Some(seq.fetch_add(1, Ordering::Relaxed) + 1);
                        serde_json::to_value(&event).expect("events serialize")
                    })
                    .collect();
                gateway.publish(&events).await?;
            }
        }
        Ok(())
    }
}

/// The event index in a frame's `"externalId":"fan_<i>"`.
fn event_index(text: &str) -> Option<usize> {
    const MARK: &str = "\"externalId\":\"fan_";
    let start = text.find(MARK)? + MARK.len();
    let digits = text[start..].split('"').next()?;
    digits.parse().ok()
}

/// The clients' WebSocket settings: a read buffer of 8 KiB, well above a
/// frame (about 400 bytes), where tungstenite's default is 128 KiB.
/// Tungstenite zeroes the read buffer's free room at every read attempt, two
/// per frame here (the read and the one that finds the socket empty): at
/// 128 KiB that was a quarter of the whole run's processor time (`perf`),
/// spent by the clients, the same for every server, and taken from the
/// server under test on this two-core machine.
fn client_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(8 * 1024)
}

/// One watching client: connects, waits for the server's first frame, then
/// records the latency of every event until its connection ends.
async fn client(url: String, shared: Arc<Shared>, ready: tokio::sync::mpsc::Sender<()>) -> anyhow::Result<()> {
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(client_config()), false).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(_))) => break,
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => anyhow::bail!("closed before its first frame"),
        }
    }
    ready.send(()).await.ok();
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message
            && let Some(index) = event_index(&text)
        {
            let sent = shared.published[index].load(Ordering::Relaxed);
            shared.latencies.record(shared.now().saturating_sub(sent) / 1_000);
        }
    }
    shared.closed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn event(index: usize) -> PaymentEvent {
    let now = chrono::Utc::now();
    let failed = index.is_multiple_of(20);
    let document = PaymentDoc {
        id: ObjectId::new(),
        tenant_id: "acme".into(),
        external_id: format!("fan_{index}"),
        amount_minor: 100 + (index as i64 * 37) % 50_000,
        currency: "USD".into(),
        method: ["card", "paypal", "apple_pay"][index % 3].into(),
        status: if failed {
            PaymentStatus::Failed
        } else {
            PaymentStatus::Succeeded
        },
        failure_reason: failed.then(|| "card_declined".to_owned()),
        refunded_at: None,
        created_at: to_bson(now),
        updated_at: to_bson(now),
    };
    PaymentEvent {
        event_type: if failed {
            EventType::PaymentFailed
        } else {
            EventType::PaymentReceived
        },
        payment: document.to_wire(),
        timestamp: now,
        seq: None,
    }
}

/// Redis's own account of its processor time (`INFO cpu`), read around
/// each step: the Redis server runs on the cores the benchmark shares.
struct RedisCpu(redis::aio::MultiplexedConnection);

impl RedisCpu {
    async fn connect(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self(client.get_multiplexed_async_connection().await?))
    }

    /// User and system seconds so far; `None` (the step reports none) when
    /// Redis does not answer.
    async fn seconds(&self) -> Option<f64> {
        let info: String = redis::cmd("INFO")
            .arg("cpu")
            .query_async(&mut self.0.clone())
            .await
            .ok()?;
        let field = |name: &str| {
            info.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(':')?.trim().parse::<f64>().ok())
        };
        Some(field("used_cpu_user")? + field("used_cpu_sys")?)
    }
}

/// What one step measured.
struct Step {
    /// Its place on the grid of rates: `--start-rate` × 1.25^index.
    index: usize,
    rate: f64,
    expected: u64,
    delivered: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    closed: usize,
    /// Redis's processor time over the step's, in cores (`None` without
    /// Redis): what the Redis hop takes of the cores the server and its
    /// clients share, which the bare servers never pay.
    redis_cores: Option<f64>,
}

impl Step {
    fn sustained(&self) -> bool {
        self.delivered == self.expected && self.p99_ms <= P99_LIMIT_MS && self.closed == 0
    }

    fn per_second(&self) -> f64 {
        self.delivered as f64 / self.seconds
    }

    fn to_json(&self) -> Value {
        json!({
            "step": self.index, "events_per_second": self.rate, "expected": self.expected, "delivered": self.delivered,
            "delivered_per_second": self.per_second(), "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
            "clients_closed": self.closed, "sustained": self.sustained(), "redis_cores": self.redis_cores,
        })
    }
}

/// Waits until no copy has arrived for a quarter second (at most 10 s): a
/// failed step's stragglers must not count in the next probe.
async fn settle(shared: &Shared) {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let before = shared.latencies.total();
        tokio::time::sleep(Duration::from_millis(250)).await;
        if shared.latencies.total() == before || Instant::now() > give_up {
            return;
        }
    }
}

/// What every step of one server's ramp works with.
struct Ramp<'a> {
    subject: &'a Subject,
    shared: &'a Shared,
    settings: &'a Settings,
    /// Clients connected at the ramp's start.
    clients: usize,
    redis: Option<&'a RedisCpu>,
}

impl Ramp<'_> {
    /// Publishes at `rate` for one step's time, from event `next` on (moved
    /// past what it published), and measures what the clients got.
    async fn run_step(&self, index: usize, rate: f64, next: &mut usize) -> anyhow::Result<Step> {
        let Self {
            subject,
            shared,
            settings,
            clients,
            redis,
        } = *self;
        shared.latencies.reset();
        let closed_before = shared.closed.load(Ordering::Relaxed);
        let watching = (clients - closed_before) as u64;
        let first = *next;
        let redis_before = match redis {
            Some(redis) => redis.seconds().await,
            None => None,
        };
        let started = Instant::now();
        let mut ticks = tokio::time::interval(Duration::from_millis(5));
        loop {
            ticks.tick().await;
            let elapsed = started.elapsed().as_secs_f64().min(settings.step_seconds);
            let due = first + (rate * elapsed) as usize;
            if *next < due {
                anyhow::ensure!(due <= MAX_EVENTS, "more than {MAX_EVENTS} events: lower --max-rate");
                let events: Vec<PaymentEvent> = (*next..due).map(event).collect();
                let handed = shared.now();
                for index in *next..due {
                    shared.published[index].store(handed, Ordering::Relaxed);
                }
                subject.publish(events).await?;
                *next = due;
            }
            if elapsed >= settings.step_seconds {
                break;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let redis_cores = match (redis, redis_before) {
            (Some(redis), Some(before)) => redis.seconds().await.map(|after| (after - before) / seconds),
            _ => None,
        };
        let expected = (*next - first) as u64 * watching;
        // Stragglers: wait until every copy arrived, or give up after 2 s.
        let deadline = Instant::now() + Duration::from_secs(2);
        while shared.latencies.total() < expected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let step = Step {
            index,
            rate,
            expected,
            delivered: shared.latencies.total(),
            seconds,
            p50_ms: shared.latencies.percentile_ms(50.0),
            p99_ms: shared.latencies.percentile_ms(99.0),
            closed: shared.closed.load(Ordering::Relaxed) - closed_before,
            redis_cores,
        };
        eprintln!(
            "  {}: {:>7.0} events/s → {:>9.0} msgs/s delivered ({}/{}), p50 {:.2} ms, p99 {:.2} ms{}{}",
            subject.name(),
            rate,
            step.per_second(),
            step.delivered,
            step.expected,
            step.p50_ms,
            step.p99_ms,
            if step.closed > 0 {
                format!(", {} clients closed", step.closed)
            } else {
                String::new()
            },
            step.redis_cores
                .map_or_else(String::new, |cores| format!(", redis {cores:.2} cores")),
        );
        Ok(step)
    }
}

/// Connects the clients, then raises the rate until a step fails: first the
/// grid's first step (the reference every server meets), then on from step
/// `resume_at` (at least the second).
async fn ramp(
    subject: &Subject,
    clients: usize,
    settings: &Settings,
    resume_at: usize,
    redis: Option<&RedisCpu>,
) -> anyhow::Result<Vec<Step>> {
    let shared = Arc::new(Shared {
        started: Instant::now(),
        published: (0..MAX_EVENTS).map(|_| AtomicU64::new(0)).collect(),
        latencies: Histogram::new(),
        closed: AtomicUsize::new(0),
    });
    let (ready, mut readiness) = tokio::sync::mpsc::channel(clients);
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        tasks.push(tokio::spawn(client(subject.url(), Arc::clone(&shared), ready.clone())));
    }
    drop(ready);
    for connected in 0..clients {
        tokio::time::timeout(Duration::from_secs(60), readiness.recv())
            .await
            .map_err(|_| anyhow::anyhow!("{} of {clients} clients connected in 60 s", connected))?
            .ok_or_else(|| anyhow::anyhow!("a client failed to connect"))?;
    }

    let ramp = Ramp {
        subject,
        shared: &shared,
        settings,
        clients,
        redis,
    };
    let mut steps: Vec<Step> = Vec::new();
    let mut next = 0_usize;
    let mut index = 0;
    loop {
        let rate = settings.start_rate * STEP_FACTOR.powi(index as i32);
        if rate > settings.max_rate {
            break;
        }
        let step = ramp.run_step(index, rate, &mut next).await?;
        let sustained = step.sustained();
        steps.push(step);
        // A resumed ramp's first step only compares latency at equal load:
        // whether it holds or not, the ramp goes on where it resumes.
        let resumes = index == 0 && resume_at > 1;
        if !sustained && !resumes {
            break;
        }
        index = if index == 0 { resume_at.max(1) } else { index + 1 };
    }
    // The grid's ×1.25 cannot tell 0.8 of another server from 0.95: between
    // the last step held and the first failed, `--refine` probes halve the
    // gap (geometrically), each kept on the held step's grid index.
    let held = steps
        .iter()
        .rev()
        .find(|step| step.sustained() && step.index > 0)
        .map(|step| (step.index, step.rate));
    let failed = steps
        .last()
        .filter(|step| !step.sustained() && step.index > 0)
        .map(|step| step.rate);
    // Only with every client still watching (a probe with fewer clients
    // would be easier), and once the failed step's last copies are in.
    if let (Some((held_index, mut low)), Some(mut high)) = (held, failed)
        && shared.closed.load(Ordering::Relaxed) == 0
    {
        for _ in 0..settings.refine {
            settle(&shared).await;
            let rate = (low * high).sqrt();
            let step = ramp.run_step(held_index, rate, &mut next).await?;
            if step.sustained() {
                low = rate;
            } else {
                high = rate;
            }
            steps.push(step);
        }
    }
    for task in tasks {
        task.abort();
    }
    // The next server starts on a quiet machine, not while this one still
    // closes a thousand sockets.
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(steps)
}

struct Settings {
    start_rate: f64,
    max_rate: f64,
    step_seconds: f64,
    /// After its first round, a server's ramp resumes this many steps below
    /// its best sustained step of the previous round.
    resume_below: usize,
    /// Probes between the last step held and the first failed.
    refine: usize,
}

/// The best sustained step of a ramp.
fn best(steps: &[Step]) -> Option<&Step> {
    steps
        .iter()
        .filter(|step| step.sustained())
        .max_by(|left, right| left.per_second().total_cmp(&right.per_second()))
}

/// What one server reached in each round.
#[derive(Default)]
struct Record {
    best_delivered: Vec<f64>,
    best_events: Vec<f64>,
    /// Redis's cores at the best step (NaN without Redis).
    best_redis_cores: Vec<f64>,
    reference_p50: Vec<f64>,
    reference_p99: Vec<f64>,
    /// Where its next ramp resumes.
    resume_at: usize,
}

impl Record {
    fn add(&mut self, steps: &[Step], resume_below: usize) {
        let top = best(steps);
        self.best_delivered.push(top.map_or(0.0, Step::per_second));
        self.best_events.push(top.map_or(0.0, |step| step.rate));
        self.best_redis_cores
            .push(top.and_then(|step| step.redis_cores).unwrap_or(f64::NAN));
        let reference = steps.first().filter(|step| step.index == 0);
        self.reference_p50.push(reference.map_or(f64::NAN, |step| step.p50_ms));
        self.reference_p99.push(reference.map_or(f64::NAN, |step| step.p99_ms));
        self.resume_at = top.map_or(1, |step| step.index.saturating_sub(resume_below));
    }

    fn to_json(&self) -> Value {
        json!({
            "best_delivered_per_second": self.best_delivered,
            "best_delivered_per_second_median": common::median(&self.best_delivered),
            "best_events_per_second": self.best_events,
            "best_events_per_second_median": common::median(&self.best_events),
            "first_step_p50_ms": self.reference_p50,
            "first_step_p50_ms_median": common::median(&self.reference_p50),
            "first_step_p99_ms": self.reference_p99,
            "first_step_p99_ms_median": common::median(&self.reference_p99),
            "best_step_redis_cores": self.best_redis_cores,
            "best_step_redis_cores_median": common::median(&self.best_redis_cores),
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let begun = Instant::now();
    let clients: usize = common::arg("--clients", 1_000);
    let rounds = common::rounds();
    let settings = Settings {
        start_rate: common::arg("--start-rate", 50.0),
        max_rate: common::arg("--max-rate", 100_000.0),
        step_seconds: common::arg("--step-seconds", 4.0),
        resume_below: common::arg("--resume-below", 3),
        refine: common::arg("--refine", 2),
    };
    // `--servers a,b` runs only those (for a quick look); by default all.
    let named: Vec<String> = common::arg("--servers", String::new())
        .split(',')
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    let only = (!named.is_empty()).then_some(named);
    let wanted = |name: &str| only.as_ref().is_none_or(|only| only.iter().any(|one| one == name));
    let uri = common::mongodb_uri("fanout")?;
    let database = format!("bench_fanout_{:x}", rand::random::<u32>());
    let config = common::config(&uri, &database);
    let redis_used = config.redis_url.is_some();
    let mut local_config = config.clone();
    local_config.redis_url = None;
    let redis_cpu = match &config.redis_url {
        Some(url) => Some(RedisCpu::connect(url).await?),
        None => None,
    };
    let state = paypulse_server::connect(config).await?;
    common::seed_acme(&state, 0, 1.0, 1).await?;
    let mut subjects = Vec::new();
    for kind in [Bare::Tuned, Bare::Naive, Bare::Preframed] {
        // The pre-framed server only when named, as the variants below.
        let named = only.iter().flatten().any(|one| one == kind.name());
        if !wanted(kind.name()) || (kind == Bare::Preframed && !named) {
            continue;
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let sender = broadcast::channel(QUEUE).0;
        subjects.push(Subject::Bare {
            kind,
            sender: sender.clone(),
            address: listener.local_addr()?,
            seq: AtomicU64::new(0),
        });
        tokio::spawn(baselines::bare_server(kind, listener, sender));
    }
    if wanted("nestjs_gateway") {
        let script = std::env::var_os("FANOUT_NEST_GATEWAY").ok_or_else(|| {
            anyhow::anyhow!(
                "FANOUT_NEST_GATEWAY is not set: run `cargo xtask bench fanout`, which installs the NestJS gateway"
            )
        })?;
        subjects.push(Subject::Nest {
            gateway: NestGateway::start(std::path::Path::new(&script)).await?,
            seq: AtomicU64::new(0),
        });
    }
    if redis_used && wanted("paypulse_redis") {
        subjects.push(Subject::Paypulse {
            name: "paypulse_redis",
            live: state.live.clone(),
            address: common::serve(state.clone()).await?,
        });
    }
    // The same product over the same database, without Redis: events go
    // from `Live::publish` straight to this process's hub.
    let local = paypulse_server::connect(local_config).await?;
    if wanted("paypulse_local") {
        subjects.push(Subject::Paypulse {
            name: "paypulse_local",
            live: local.live.clone(),
            address: common::serve(local.clone()).await?,
        });
    }
    // Only when named: the server as it was served before TCP_NODELAY (the
    // latency floor's cause), for a before-and-after in one run.
    if only
        .as_ref()
        .is_some_and(|only| only.iter().any(|one| one == "paypulse_local_nagle"))
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let router = paypulse_server::router(local.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        subjects.push(Subject::Paypulse {
            name: "paypulse_local_nagle",
            live: local.live.clone(),
            address,
        });
    }
    anyhow::ensure!(!subjects.is_empty(), "--servers named no server this run has");

    let mut runs = Vec::new();
    let mut records: Vec<Record> = subjects.iter().map(|_| Record::default()).collect();
    let mut first = Vec::new();
    for round in 0..rounds {
        eprintln!("round {}", round + 1);
        let order = common::turns(round, subjects.len());
        first.push(subjects[order[0]].name());
        for which in order {
            let subject = &subjects[which];
            let steps = ramp(
                subject,
                clients,
                &settings,
                records[which].resume_at,
                redis_cpu.as_ref(),
            )
            .await?;
            records[which].add(&steps, settings.resume_below);
            runs.push(json!({
                "server": subject.name(),
                "round": round,
                "best_sustained": best(&steps).map(Step::to_json),
                "steps": steps.iter().map(Step::to_json).collect::<Vec<_>>(),
            }));
        }
    }

    let record = |name: &str| {
        subjects
            .iter()
            .position(|subject| subject.name() == name)
            .map(|which| &records[which])
    };
    // A comparison of two servers' throughput, null when either did not run.
    let versus = |ours: &str, baseline: &str| match (record(ours), record(baseline)) {
        (Some(ours), Some(baseline)) => common::compared(&ours.best_delivered, &baseline.best_delivered),
        _ => Value::Null,
    };
    // One server's latency at the reference step over another's (medians).
    let slower = |ours: &str, baseline: &str, p50: bool| match (record(ours), record(baseline)) {
        (Some(ours), Some(baseline)) if p50 => {
            json!(common::median(&ours.reference_p50) / common::median(&baseline.reference_p50))
        }
        (Some(ours), Some(baseline)) => {
            json!(common::median(&ours.reference_p99) / common::median(&baseline.reference_p99))
        }
        _ => Value::Null,
    };
    let mut comparisons = serde_json::Map::new();
    let ours_all = subjects
        .iter()
        .filter(|subject| matches!(subject, Subject::Paypulse { .. }));
    for ours in ours_all.map(Subject::name) {
        for baseline in ["bare_tuned", "bare_preframed", "bare_naive", "nestjs_gateway"] {
            comparisons.insert(format!("{ours}_over_{baseline}"), versus(ours, baseline));
            comparisons.insert(
                format!("{ours}_over_{baseline}_reference_p50"),
                slower(ours, baseline, true),
            );
            comparisons.insert(
                format!("{ours}_over_{baseline}_reference_p99"),
                slower(ours, baseline, false),
            );
        }
    }
    comparisons.insert(
        "paypulse_redis_over_local".into(),
        versus("paypulse_redis", "paypulse_local"),
    );
    comparisons.insert(
        "bare_preframed_over_bare_tuned".into(),
        versus("bare_preframed", "bare_tuned"),
    );
    let redis_hop_p50 = match (record("paypulse_redis"), record("paypulse_local")) {
        (Some(redis), Some(local)) => {
            json!(common::median(&redis.reference_p50) - common::median(&local.reference_p50))
        }
        _ => Value::Null,
    };
    let old_method = match (record("paypulse_redis"), record("bare_naive")) {
        (Some(redis), Some(naive)) => {
            let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
            let two = rounds.min(2);
            json!({
                "what": "the ratio as reported before issue 9: mean of two rounds, Paypulse via Redis over the naive bare server (then called minimal; here rounds 1 and 2 of this run)",
                "ratio": mean(&redis.best_delivered[..two]) / mean(&naive.best_delivered[..two]),
            })
        }
        _ => Value::Null,
    };
    // The Redis row when it ran: what production serves.
    let headline = if record("paypulse_redis").is_some() {
        "paypulse_redis_over_bare_tuned"
    } else {
        "paypulse_local_over_bare_tuned"
    };
    let figure = |key: &str| {
        let Some(value) = comparisons.get(key) else {
            return f64::NAN;
        };
        value
            .get("ratio_of_medians")
            .unwrap_or(value)
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    eprintln!(
        "\n{:<22} {:>14} {:>22} {:>22} {:>20} {:>7}",
        "server", "best msgs/s", "p50 at first step (ms)", "p99 at first step (ms)", "redis cores at best", "rounds"
    );
    for (subject, record) in subjects.iter().zip(&records) {
        eprintln!(
            "{:<22} {:>14.0} {:>22.2} {:>22.2} {:>20.2} {:>7}",
            subject.name(),
            common::median(&record.best_delivered),
            common::median(&record.reference_p50),
            common::median(&record.reference_p99),
            common::median(&record.best_redis_cores),
            record.best_delivered.len(),
        );
    }
    eprintln!(
        "Paypulse with Redis / tuned bare: {:.2} (target 0.9); without Redis / tuned bare: {:.2}; with Redis / NestJS: {:.1}; \
         without Redis / NestJS: {:.1}; with / without Redis: {:.2}; p50 at {} events/s over the naive bare server's: {:.2} with Redis, \
         {:.2} without (target 1.5)",
        figure("paypulse_redis_over_bare_tuned"),
        figure("paypulse_local_over_bare_tuned"),
        figure("paypulse_redis_over_nestjs_gateway"),
        figure("paypulse_local_over_nestjs_gateway"),
        figure("paypulse_redis_over_local"),
        settings.start_rate,
        figure("paypulse_redis_over_bare_naive_reference_p50"),
        figure("paypulse_local_over_bare_naive_reference_p50"),
    );
    let servers: serde_json::Map<String, Value> = subjects
        .iter()
        .zip(&records)
        .map(|(subject, record)| (subject.name().to_owned(), record.to_json()))
        .collect();
    let result = json!({
        "benchmark": "fanout",
        "clients": clients,
        "rounds": rounds,
        "first_in_round": first,
        "p99_limit_ms": P99_LIMIT_MS,
        "start_rate": settings.start_rate,
        "step_factor": STEP_FACTOR,
        "step_seconds": settings.step_seconds,
        "resume_below": settings.resume_below,
        "redis": redis_used,
        "servers": servers,
        "comparisons": comparisons,
        "redis_hop_first_step_p50_ms": redis_hop_p50,
        "ratio": comparisons.get(headline).and_then(|comparison| comparison.get("ratio_of_medians")),
        "ratio_is": headline,
        "target_ratio": 0.9,
        "target_p50_over_bare_naive": 1.5,
        "old_method": old_method,
        "seconds_total": begun.elapsed().as_secs_f64(),
        "runs": runs,
    });
    common::write_result("fanout", &result)?;
    common::drop_database(state.store.database()).await;
    Ok(())
}
