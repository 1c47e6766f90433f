//! Typed configuration, read once in `main` from the environment (and `.env`
//! in development). Handlers never read the environment; tests build a
//! `Config` directly.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::access::key_cache;
use crate::clock::Clock;
use crate::live::LiveLimits;
use crate::writer::WriterLimits;

/// Everything `serve` needs to know.
#[derive(Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Redis for the analytics cache and cross-instance fan-out; without it
    /// one process works alone.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of every Redis key this deployment writes.
    #[arg(long, env = "REDIS_PREFIX", default_value = "paypulse")]
    pub redis_prefix: String,
    /// Folder of the built dashboard (index.html, wasm, js, css).
    #[arg(long, env = "UI_DIST", default_value = "ui/dist")]
    pub ui_dist: PathBuf,
    /// Generate live payments for every tenant through the ingest path
    /// (demo and development only).
    #[arg(long, env = "SIMULATE")]
    pub simulate: bool,
    /// Average simulated payments per second per tenant.
    #[arg(long, env = "SIMULATE_RATE", default_value_t = 0.025)]
    pub simulate_rate: f64,
    /// Domain under which `<tenant>.<domain>` names a tenant (e.g.
    /// `paypulse.local`); unset means tenants come only from `X-Tenant-Id`.
    #[arg(long, env = "BASE_DOMAIN")]
    pub base_domain: Option<String>,
    /// Origins whose pages may call the API from elsewhere (CORS),
    /// comma-separated. The default lets the desktop app's webview in
    /// (`tauri://localhost` on Linux and macOS, `http://tauri.localhost` on
    /// Windows); the dashboard this server serves is same-origin.
    #[arg(
        long,
        env = "CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "tauri://localhost,http://tauri.localhost"
    )]
    pub cors_origins: Vec<String>,
    /// The bounds and timings the server promises; production's unless a
    /// test shortens them.
    #[arg(skip)]
    pub limits: Limits,
    /// Where "now" comes from: the system clock unless a test fixes it.
    #[arg(skip)]
    pub clock: Clock,
}

/// Every bound and timing that docs/ARCHITECTURE.md promises and a test must
/// be able to reach without waiting minutes. The defaults are production's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub live: LiveLimits,
    pub writer: WriterLimits,
    /// The alert evaluator's timings.
    pub alerts: crate::alerts::AlertLimits,
    /// How long a found API key is trusted without asking MongoDB again.
    pub key_cache_ttl: Duration,
    /// How long a ticket (`POST /api/tickets`) is good for.
    pub ticket_ttl: Duration,
    /// Requests a second per API key.
    pub rates: crate::access::rate::RateLimits,
    /// How long an API request may take to be answered (`headers::deadline`).
    pub request_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            live: LiveLimits::default(),
            writer: WriterLimits::default(),
            alerts: crate::alerts::AlertLimits::default(),
            key_cache_ttl: key_cache::TTL,
            ticket_ttl: crate::access::tickets::TTL,
            rates: crate::access::rate::RateLimits::default(),
            request_deadline: crate::headers::REQUEST_DEADLINE,
        }
    }
}

/// Where the MongoDB data lives, and how much of it a process keeps in
/// memory; shared by `serve` and `seed`.
#[derive(Clone, Args)]
pub struct DatabaseConfig {
    /// MongoDB connection string.
    #[arg(
        long,
        env = "MONGODB_URI",
        default_value = "mongodb://127.0.0.1:27017/?directConnection=true"
    )]
    pub mongodb_uri: String,
    /// Database name.
    #[arg(long, env = "MONGODB_DB", default_value = "paypulse")]
    pub mongodb_db: String,
    /// Payments this process keeps in memory to answer reads of busy
    /// quarters (about 32 bytes each, over all tenants; `store::edges`). It
    /// must hold the quarters in use, about 2.5 of each busy tenant's;
    /// below that, reads aggregate raw payments again and again.
    #[arg(long, env = "KEPT_PAYMENTS", default_value_t = crate::store::edges::MAX_PAYMENTS, value_parser = kept_payments)]
    pub kept_payments: usize,
}

/// A bound on kept payments: a whole number above zero (zero would read
/// every busy quarter's raw payments on every read).
fn kept_payments(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) | Err(_) => Err(format!("expected a number of payments above 0, got {text:?}")),
        Ok(bound) => Ok(bound),
    }
}

impl DatabaseConfig {
    /// `mongodb_db` at `mongodb_uri`, with the default bound on kept payments.
    pub fn new(mongodb_uri: impl Into<String>, mongodb_db: impl Into<String>) -> Self {
        Self {
            mongodb_uri: mongodb_uri.into(),
            mongodb_db: mongodb_db.into(),
            kept_payments: crate::store::edges::MAX_PAYMENTS,
        }
    }
}

/// Hides the password of a connection string (`scheme://user:***@host`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{}", &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("mongodb_uri", &redact_url(&self.mongodb_uri))
            .field("mongodb_db", &self.mongodb_db)
            .field("kept_payments", &self.kept_payments)
            .finish()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("ui_dist", &self.ui_dist)
            .field("simulate", &self.simulate)
            .field("simulate_rate", &self.simulate_rate)
            .field("base_domain", &self.base_domain)
            .field("limits", &self.limits)
            .field("clock", &self.clock)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_payments_bound_is_a_number_above_zero() {
        assert_eq!(kept_payments("450000"), Ok(450_000));
        assert!(kept_payments("0").is_err());
        assert!(kept_payments("lots").is_err());
    }

    #[test]
    fn debug_output_hides_passwords() {
        let config = DatabaseConfig::new("mongodb://app:s3cret@db.internal:27017/?tls=true", "paypulse");
        let printed = format!("{config:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(
            printed.contains("mongodb://app:***@db.internal:27017/?tls=true"),
            "{printed}"
        );
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact_url("redis://:pw@cache:6379/0"), "redis://:***@cache:6379/0");
    }
}
