//! The analytics cache under concurrency: while payments are written and
//! refunded through two instances sharing Redis, readers on both instances
//! never get an answer older than a write that was acknowledged before
//! their read began (the generation is bumped before a writer answers).
//! Without Redis the same holds for one instance with its in-process cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{TimeDelta, Utc};
use paypulse_shared::time::format_utc;

use paypulse_server::access::rate::RateLimits;

use crate::common::{TestApp, card_payment};

/// Payments written (and every fourth one refunded) during a race.
const WRITES: u64 = 120;
/// Readers per instance.
const READERS: usize = 2;

/// Acknowledged writes so far.
#[derive(Default)]
struct Acknowledged {
    created: AtomicU64,
    refunded: AtomicU64,
    done: AtomicBool,
}

/// Writes through `instances` in turn, counting each write once it is
/// acknowledged.
async fn write(instances: Vec<Arc<TestApp>>, acknowledged: Arc<Acknowledged>) {
    let mut ids = Vec::new();
    for index in 0..WRITES {
        let app = &instances[index as usize % instances.len()];
        let created = app.create("acme", card_payment(&format!("race_{index}"), 1.5)).await;
        acknowledged.created.fetch_add(1, Ordering::SeqCst);
        ids.push(created["id"].as_str().unwrap().to_owned());
        if index % 4 == 3 {
            let id = &ids[index as usize / 2];
            assert_eq!(app.refund("acme", id).await.status(), 200);
            acknowledged.refunded.fetch_add(1, Ordering::SeqCst);
        }
    }
    acknowledged.done.store(true, Ordering::SeqCst);
}

/// Reads `path` on `app` until the writer is done; every answer counts at
/// least what was acknowledged before the read began. Returns the reads made.
async fn read(app: Arc<TestApp>, path: String, acknowledged: Arc<Acknowledged>) -> u64 {
    let mut reads = 0;
    loop {
        let finished = acknowledged.done.load(Ordering::SeqCst);
        let created = acknowledged.created.load(Ordering::SeqCst);
        let refunded = acknowledged.refunded.load(Ordering::SeqCst);
        let metrics = app.json("acme", &path).await;
        reads += 1;
        let count = metrics["count"].as_u64().unwrap();
        let refunded_count = metrics["refundedCount"].as_u64().unwrap();
        assert!(
            count >= created,
            "read {reads} on {} counted {count} payments, {created} were acknowledged before it began",
            app.address
        );
        assert!(
            refunded_count >= refunded,
            "read {reads} counted {refunded_count} refunds, {refunded} were acknowledged before it began"
        );
        if finished {
            assert_eq!(
                (count, refunded_count),
                (WRITES, WRITES / 4),
                "the last read sees everything"
            );
            return reads;
        }
    }
}

async fn race(instances: Vec<Arc<TestApp>>) {
    // A fixed range (one cache key for every read) around the writes.
    let now = Utc::now();
    let path = format!(
        "/api/analytics/metrics?from={}&to={}",
        format_utc(&(now - TimeDelta::hours(1))),
        format_utc(&(now + TimeDelta::hours(1)))
    );
    let computed_before: u64 = instances.iter().map(|app| app.state.cache.computations()).sum();
    let acknowledged = Arc::new(Acknowledged::default());
    let mut readers = Vec::new();
    for app in &instances {
        for _ in 0..READERS {
            readers.push(tokio::spawn(read(
                Arc::clone(app),
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

#[tokio::test]
async fn reads_racing_writes_on_two_instances_never_miss_an_acknowledged_write() {
    // Many readers played with one key: no per-key rate limit.
    let first = Arc::new(TestApp::spawn_with(|config| config.limits.rates = RateLimits::lifted()).await);
    let second = Arc::new(TestApp::spawn_sharing(&first).await);
    race(vec![first, second]).await;
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
    race(vec![app]).await;
}
