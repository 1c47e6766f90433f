//! `cargo xtask bench <name>`: runs a benchmark against the same kind of
//! servers the tests use (a throw-away SecantusDB unless `MONGODB_URI` is set,
//! and Redis at `REDIS_URL`, by default the local one, as in production; pass
//! `--no-redis` for a single instance without it) and leaves its results in
//! target/bench/<name>.json. Benchmarks report ratios against a baseline
//! measured in the same run, as medians of rounds whose order alternates,
//! because this machine is shared and noisy. `detector` is the exception: it
//! measures the anomaly detector's quality on a synthetic series, pure
//! arithmetic in `shared/` that needs no server, database or Redis.
//! `fanout` also measures the seed's stack, a NestJS gateway, which this
//! installs from npm into .paypulse/nest (see [`nest_gateway`]).

use crate::process::{self, cargo};
use crate::setup::{self, Needs};
use crate::test::{database, ensure_redis, redis_url};

/// Benchmarks that exist, and what they measure.
pub const BENCHMARKS: &[(&str, &str)] = &[
    (
        "ingest",
        "accepted payments/s end to end vs the best of 1, 2 and 4 concurrent raw insert_many streams of the same documents; \
         medians of 5 alternating rounds (and the old one-stream ratio)",
    ),
    (
        "analytics",
        "metrics and trends (day, week, month, a custom range, the last hour by minute) latency at 10k vs 1M payments: the old method (cache invalidated, no writes) and, with 10 payments/s \
         flowing into each tenant, computed answers, cached answers and the first request of a fresh process; 5 rounds, sizes \
         alternating request by request; vs naive raw aggregation",
    ),
    (
        "fanout",
        "highest event rate 1,000 WebSocket clients of one tenant receive with p99 <= 100 ms, and p50/p99 at 50 events/s: \
         Paypulse with and without Redis vs a tuned bare tokio server (the limit), a naive one and a NestJS gateway \
         (@nestjs/platform-ws, the seed's stack), medians of 5 rounds in rotating order",
    ),
    (
        "export",
        "1,000,000 payments exported as CSV over HTTP by the server binary: rows/s vs a raw unsorted driver read of the same payments, \
         time to the first byte, and the server's peak resident memory over what it held before; medians of 5 alternating rounds",
    ),
    (
        "alerts",
        "alert evaluation under load: 100 tenants with 5 rules each (over 22 days of history) at 1,000 payments/s through the writer, \
         rounds alternating the evaluator on and off: evaluations/s, time per tenant evaluation, CPU of the server and the database \
         with and without it; medians of 5 rounds",
    ),
    (
        "ui",
        "the dashboard in headless Chromium: first-load size and time, then at 200 and 1,000 events/s frame times, long tasks, \
         heap, and for every event the time until the store holds it and the feed counts it (and the old in-view latency)",
    ),
    (
        "desktop",
        "the desktop app (optimised build, under Xvfb) vs the browser build in headless Chromium: cold start to a populated \
         dashboard (medians of 5 alternating rounds), PSS/RSS of all their processes over 10 minutes of 200 events/s side by \
         side, and a 1,000,000-row export to disk through the save dialog vs a download: rows/s and peak memory growth",
    ),
    (
        "soak",
        "the server binary with its simulator on, payments ingested over HTTP and WebSocket clients watching (by default 30 \
         minutes, 50 payments/s, 500 clients; the benchmark prints what its flags set): \
         resident memory and open files at the start, the end and their peak, the memory's trend, and every client's feed \
         checked seq by seq (lost, duplicated), every acknowledged payment stored once, reconcile clean",
    ),
    (
        "detector",
        "anomaly detection quality on ten synthetic 8-week hourly series with injected failure spikes, volume drops and \
         surges in the last 2 weeks: precision and recall per kind of the seasonal detector, its rolling fallback and the \
         old series-wide z-score",
    ),
];

/// Tells a benchmark that its database server is thrown away after it.
const THROWAWAY_DATABASE: &str = "BENCH_THROWAWAY_DATABASE";

pub fn bench(name: &str, extra: &[String]) -> anyhow::Result<()> {
    let Some((_, what)) = BENCHMARKS.iter().find(|(known, _)| *known == name) else {
        let known: Vec<_> = BENCHMARKS.iter().map(|(known, _)| *known).collect();
        anyhow::bail!("no benchmark '{name}' (known: {})", known.join(", "));
    };
    eprintln!("benchmark {name}: {what}");
    if name == "detector" {
        return process::run(
            cargo()
                .args([
                    "bench",
                    "--package",
                    "paypulse-shared",
                    "--features",
                    "tz",
                    "--bench",
                    name,
                    "--",
                ])
                .args(extra),
        );
    }
    let desktop = name == "desktop";
    setup::ensure(Needs {
        browser: name == "ui" || desktop,
        desktop,
    })?;
    if name == "ui" || desktop {
        crate::ui::build(crate::ui::Profile::Release)?;
    }
    if desktop {
        // The app as optimised as the server it is measured against (the
        // bench profile: release without LTO), the dashboard embedded.
        process::run(cargo().args([
            "build",
            "--package",
            "paypulse-desktop",
            "--features",
            "custom-protocol",
            "--profile",
            "bench",
        ]))?;
    }
    let redis = !extra.iter().any(|arg| arg == "--no-redis");
    let redis_url = redis_url();
    if redis {
        ensure_redis(&redis_url)?;
    }
    let (embedded, mongodb_uri) = database()?;
    let mut command = cargo();
    command
        .args(["bench", "--package", "paypulse-server", "--bench", name, "--"])
        .args(extra.iter().filter(|arg| *arg != "--no-redis"))
        .env("MONGODB_URI", mongodb_uri)
        .env_remove("REDIS_URL");
    if desktop {
        command
            .env("DESKTOP_BIN", crate::ui::target_root().join("release/paypulse-desktop"))
            .env("TAURI_DRIVER", setup::tauri_driver_path());
    }
    if redis {
        command.env("REDIS_URL", &redis_url);
    }
    if name == "fanout" {
        command.env("FANOUT_NEST_GATEWAY", nest_gateway()?);
    }
    // The embedded server is thrown away with everything in it when the
    // benchmark ends; dropping a million payments first takes minutes.
    if embedded.is_some() {
        command.env(THROWAWAY_DATABASE, "1");
    }
    process::run(&mut command)
}

/// The NestJS gateway the fan-out benchmark starts, with its packages: the
/// committed package.json and package-lock.json (server/benches/fanout/nest)
/// installed with `npm ci` into .paypulse/nest, again only when the lock
/// changed, and the gateway's script copied beside them (Node resolves
/// packages from the script's folder). Returns the script's path.
fn nest_gateway() -> anyhow::Result<std::path::PathBuf> {
    let source = process::root().join("server/benches/fanout/nest");
    let target = process::local_dir().join("nest");
    std::fs::create_dir_all(&target)?;
    let lock = std::fs::read(source.join("package-lock.json"))?;
    let installed_lock = target.join("installed-package-lock.json");
    if std::fs::read(&installed_lock).ok().as_ref() != Some(&lock) {
        if !process::on_path("npm") {
            anyhow::bail!("npm is needed for the fan-out benchmark's NestJS gateway; install Node.js and npm");
        }
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), target.join(file))?;
        }
        process::run(
            std::process::Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&target),
        )?;
        std::fs::write(&installed_lock, &lock)?;
    }
    let script = target.join("gateway.mjs");
    std::fs::copy(source.join("gateway.mjs"), &script)?;
    Ok(script)
}
