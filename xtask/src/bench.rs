//! `cargo xtask bench <name>`: runs a benchmark against the same kind of
//! servers the tests use (a throw-away SecantusDB unless `MONGODB_URI` is set,
//! and Redis at `REDIS_URL` when set) and leaves its results in
//! target/bench/<name>.json. Benchmarks report ratios against a baseline
//! measured in the same run, because this machine is shared and noisy.

use crate::embedded_db::{EmbeddedDb, Storage};
use crate::process::{self, cargo, free_port};
use crate::setup::{self, Needs};

/// Benchmarks that exist, and what they measure.
pub const BENCHMARKS: &[(&str, &str)] = &[(
    "ingest",
    "accepted payments/s end to end vs a raw insert_many of the same documents",
)];

pub fn bench(name: &str, extra: &[String]) -> anyhow::Result<()> {
    let Some((_, what)) = BENCHMARKS.iter().find(|(known, _)| *known == name) else {
        let known: Vec<_> = BENCHMARKS.iter().map(|(known, _)| *known).collect();
        anyhow::bail!("no benchmark '{name}' (known: {})", known.join(", "));
    };
    eprintln!("benchmark {name}: {what}");
    setup::ensure(Needs::default())?;
    let embedded;
    let mongodb_uri = match std::env::var("MONGODB_URI") {
        Ok(uri) => uri,
        Err(_) => {
            embedded = EmbeddedDb::start(Storage::Memory, free_port()?)?;
            embedded.uri()
        }
    };
    process::run(
        cargo()
            .args(["bench", "--package", "paypulse-server", "--bench", name, "--"])
            .args(extra)
            .env("MONGODB_URI", mongodb_uri),
    )
}
