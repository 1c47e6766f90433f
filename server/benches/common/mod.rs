//! What every benchmark does the same way: its flags, a server over a
//! database of its own, the demo tenant `acme` with its keys, and the results
//! file in target/bench.

#![allow(dead_code)] // each benchmark uses part of this

use std::net::Ipv4Addr;
use std::str::FromStr;

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
        database: DatabaseConfig {
            mongodb_uri: uri.to_owned(),
            mongodb_db: database.to_owned(),
        },
        redis_url: std::env::var("REDIS_URL").ok(),
        redis_prefix: format!("paypulse-{database}"),
        ui_dist: "ui/dist".into(),
        simulate: false,
        simulate_rate: 1.0,
        base_domain: None,
        limits: Default::default(),
        clock: Default::default(),
    }
}

/// Seeds `acme` (UTC, USD, its demo keys) with `days` of history at `rate`
/// payments an hour.
pub async fn seed_acme(state: &AppState, days: u32, rate: f64, random_seed: u64) -> anyhow::Result<()> {
    let args = SeedArgs {
        database: state.config.database.clone(),
        tenants: vec!["acme".into()],
        days,
        rate,
        demo_keys: true,
        random_seed,
    };
    seed::seed(&state.store, &args).await
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
