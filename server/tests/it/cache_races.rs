//! The analytics cache under concurrency: while payments are written and
//! refunded through two instances sharing Redis, readers on both instances
//! never get an answer older than a write that was acknowledged before
//! their read began (the generation is bumped before a writer answers).
//! Without Redis the same holds for one instance with its in-process cache.
//!
//! Minute trends race the same way: they come from quarters kept in memory
//! (`store::edges`), which this process's writes keep current and another
//! instance's writes make it read again. On one instance, writes always in
//! flight must not make it read the quarter again and again (the soak found
//! that loop when kept quarters were judged by their sums).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{TimeDelta, Utc};
use paypulse_shared::time::format_utc;

use paypulse_server::access::rate::RateLimits;

use crate::common::{TestApp, card_payment};

/// Payments written (and every fourth one refunded) during a race.
const WRITES: u64 = 160;
/// Clients writing at once: enough that the group-commit writer always has
/// a transaction in flight, as under steady ingest.
const WRITERS: u64 = 4;
/// Readers per instance.
const READERS: usize = 2;

/// Acknowledged writes so far.
#[derive(Default)]
struct Acknowledged {
    created: AtomicU64,
    refunded: AtomicU64,
    done: AtomicBool,
}

/// Writes through `instances` in turn from [`WRITERS`] clients at once,
/// counting each write once it is acknowledged; done once all are.
async fn write(instances: Vec<Arc<TestApp>>, acknowledged: Arc<Acknowledged>) {
    let clients: Vec<_> = (0..WRITERS)
        .map(|client| {
            let (instances, acknowledged) = (instances.clone(), Arc::clone(&acknowledged));
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for (nth, index) in (client..WRITES).step_by(WRITERS as usize).enumerate() {
                    let app = &instances[index as usize % instances.len()];
                    let payment = card_payment(&format!("race_{index}"), 1.5);
                    let created = accepted(|| app.ingest_post("acme", "/api/payments", &payment)).await;
                    assert!(created.status().is_success(), "ingest answered {}", created.status());
                    let created: serde_json::Value = created.json().await.unwrap();
                    acknowledged.created.fetch_add(1, Ordering::SeqCst);
                    ids.push(created["id"].as_str().unwrap().to_owned());
                    if nth % 4 == 3 {
                        let path = format!("/api/payments/{}/refund", ids[nth / 2]);
                        let refunded = accepted(|| app.ingest_post("acme", &path, &serde_json::json!({}))).await;
                        assert_eq!(refunded.status(), 200);
                        acknowledged.refunded.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    acknowledged.done.store(true, Ordering::SeqCst);
}

/// The answer to the request `send` builds, sent again after a 503 once its
/// `Retry-After` has passed, as the server's answer invites. Writes of two
/// instances to one tenant's current quarter meet on its rollup documents;
/// a transaction that keeps meeting the other's is given up with nothing
/// written (`store::transaction`), and the client tries again.
async fn accepted(send: impl Fn() -> reqwest::RequestBuilder) -> reqwest::Response {
    for _ in 0..20 {
        let response = send().send().await.unwrap();
        if response.status() != 503 {
            return response;
        }
        let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    }
    panic!("still refused after 20 tries");
}

/// What is read, and what an answer counts: payments, and refunds where
/// the answer shows them.
#[derive(Clone, Copy)]
enum Answer {
    /// `PaymentMetrics`: `count` and `refundedCount`.
    Metrics,
    /// `TrendData[]` in 1-minute buckets: the sum of `count` (a refund
    /// leaves a bucket's count as it was).
    MinuteTrends,
}

impl Answer {
    /// The path of a fixed range (one cache key for every read) around the
    /// writes.
    fn path(self) -> String {
        let now = Utc::now();
        let (from, to) = (
            format_utc(&(now - TimeDelta::hours(1))),
            format_utc(&(now + TimeDelta::hours(1))),
        );
        match self {
            Answer::Metrics => format!("/api/analytics/metrics?from={from}&to={to}"),
            Answer::MinuteTrends => format!("/api/analytics/trends?from={from}&to={to}&bucket=1m"),
        }
    }

    fn counts(self, answer: &serde_json::Value) -> (u64, Option<u64>) {
        match self {
            Answer::Metrics => (
                answer["count"].as_u64().unwrap(),
                Some(answer["refundedCount"].as_u64().unwrap()),
            ),
            Answer::MinuteTrends => (
                answer
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|point| point["count"].as_u64().unwrap())
                    .sum(),
                None,
            ),
        }
    }
}

/// Reads `path` on `app` until the writer is done; every answer counts at
/// least what was acknowledged before the read began. Returns the reads made.
async fn read(app: Arc<TestApp>, answer: Answer, path: String, acknowledged: Arc<Acknowledged>) -> u64 {
    let mut reads = 0;
    loop {
        let finished = acknowledged.done.load(Ordering::SeqCst);
        let created = acknowledged.created.load(Ordering::SeqCst);
        let refunded = acknowledged.refunded.load(Ordering::SeqCst);
        let (count, refunded_count) = answer.counts(&app.json("acme", &path).await);
        reads += 1;
        assert!(
            count >= created,
            "read {reads} on {} counted {count} payments, {created} were acknowledged before it began",
            app.address
        );
        if let Some(refunded_count) = refunded_count {
            assert!(
                refunded_count >= refunded,
                "read {reads} counted {refunded_count} refunds, {refunded} were acknowledged before it began"
            );
        }
        if finished {
            assert_eq!(count, WRITES, "the last read sees every payment");
            if let Some(refunded_count) = refunded_count {
                assert_eq!(refunded_count, WRITES / 4, "the last read sees every refund");
            }
            return reads;
        }
    }
}

async fn race(instances: Vec<Arc<TestApp>>, answer: Answer) {
    let path = answer.path();
    let computed_before: u64 = instances.iter().map(|app| app.state.cache.computations()).sum();
    let acknowledged = Arc::new(Acknowledged::default());
    let mut readers = Vec::new();
    for app in &instances {
        for _ in 0..READERS {
            readers.push(tokio::spawn(read(
                Arc::clone(app),
                answer,
                path.clone(),
                Arc::clone(&acknowledged),
            )));
        }
    }
    write(instances.clone(), Arc::clone(&acknowledged)).await;
    let mut reads = 0;
    for reader in readers {
        reads += reader.await.unwrap();
    }
    let computed: u64 = instances.iter().map(|app| app.state.cache.computations()).sum::<u64>() - computed_before;
    // Otherwise this would say nothing about the cache.
    assert!(
        computed < reads,
        "{reads} reads, {computed} computed: some answers must come from the cache"
    );
}

/// Two instances sharing a database and Redis, without per-key limits
/// (many readers play with one key).
async fn two_instances() -> Vec<Arc<TestApp>> {
    let first = Arc::new(TestApp::spawn_with(|config| config.limits.rates = RateLimits::lifted()).await);
    let second = Arc::new(TestApp::spawn_sharing(&first).await);
    vec![first, second]
}

#[tokio::test]
async fn reads_racing_writes_on_two_instances_never_miss_an_acknowledged_write() {
    race(two_instances().await, Answer::Metrics).await;
}

#[tokio::test]
async fn reads_racing_writes_on_one_instance_without_redis_never_miss_one() {
    let app = Arc::new(
        TestApp::spawn_with(|config| {
            config.redis_url = None;
            config.limits.rates = RateLimits::lifted();
        })
        .await,
    );
    race(vec![app], Answer::Metrics).await;
}

#[tokio::test]
async fn minute_trends_racing_writes_on_two_instances_never_miss_one() {
    // Each instance's kept quarter goes stale with every write of the
    // other, which counts under its own writer in the quarter's rollup.
    race(two_instances().await, Answer::MinuteTrends).await;
}

#[tokio::test]
async fn minute_trends_under_this_instances_writes_read_the_quarter_once() {
    let app = Arc::new(TestApp::spawn_with(|config| config.limits.rates = RateLimits::lifted()).await);
    let before = app.store.quarters_read();
    race(vec![Arc::clone(&app)], Answer::MinuteTrends).await;
    let read = app.store.quarters_read() - before;
    // The writes fall in one quarter, or two when one ends during the race.
    // Each may be read by each reader that finds it not kept yet; nothing
    // of ours makes a kept quarter stale.
    let limit = 2 * READERS as u64;
    assert!(
        (1..=limit).contains(&read),
        "{read} quarters read whole while {WRITERS} clients wrote {WRITES} payments; at most {limit} expected"
    );
}
