//! `cargo xtask bench <name>`: runs a benchmark against the same kind of
//! servers the tests use (a throw-away SecantusDB unless `MONGODB_URI` is set,
//! and Redis at `REDIS_URL`, by default the local one, as in production; pass
//! `--no-redis` for a single instance without it) and leaves its results in
//! target/bench/<name>.json. Benchmarks report ratios against a baseline
//! measured in the same run, because this machine is shared and noisy.

use crate::process::{self, cargo};
use crate::setup::{self, Needs};
use crate::test::{database, ensure_redis, redis_url};

/// Benchmarks that exist, and what they measure.
pub const BENCHMARKS: &[(&str, &str)] = &[
    (
        "ingest",
        "accepted payments/s end to end vs a raw insert_many of the same documents",
    ),
    (
        "analytics",
        "metrics and trends latency with 10k and 1M payments, cache off and on, vs naive raw aggregation",
    ),
    (
        "fanout",
        "highest event rate 1,000 WebSocket clients of one tenant receive with p99 <= 100 ms, vs a minimal broadcast server",
    ),
    (
        "ui",
        "the dashboard in headless Chromium: first-load size and time, then frame times, long tasks, heap and event-to-screen latency at 200 and 1,000 events/s",
    ),
];

pub fn bench(name: &str, extra: &[String]) -> anyhow::Result<()> {
    let Some((_, what)) = BENCHMARKS.iter().find(|(known, _)| *known == name) else {
        let known: Vec<_> = BENCHMARKS.iter().map(|(known, _)| *known).collect();
        anyhow::bail!("no benchmark '{name}' (known: {})", known.join(", "));
    };
    eprintln!("benchmark {name}: {what}");
    setup::ensure(Needs {
        browser: name == "ui",
        ..Needs::default()
    })?;
    if name == "ui" {
        crate::ui::build(crate::ui::Profile::Release)?;
    }
    let redis = !extra.iter().any(|arg| arg == "--no-redis");
    let redis_url = redis_url();
    if redis {
        ensure_redis(&redis_url)?;
    }
    let (_embedded, mongodb_uri) = database()?;
    let mut command = cargo();
    command
        .args(["bench", "--package", "paypulse-server", "--bench", name, "--"])
        .args(extra.iter().filter(|arg| *arg != "--no-redis"))
        .env("MONGODB_URI", mongodb_uri)
        .env_remove("REDIS_URL");
    if redis {
        command.env("REDIS_URL", &redis_url);
    }
    process::run(&mut command)
}
