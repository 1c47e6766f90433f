//! Integration tests of paypulse-server against a real MongoDB-compatible
//! server (`MONGODB_URI`, started by `cargo xtask test`) and the real Redis
//! (`REDIS_URL`, default 127.0.0.1:6379), over real HTTP. Each test gets its
//! own database and Redis key prefix.

mod access;
mod alerts;
mod analytics_anomalies;
mod api_keys;
mod browser;
mod cache_races;
mod caching;
mod common;
mod contract;
mod correctness;
mod desktop;
mod drilldown;
mod export;
mod fanout;
mod faults;
mod health;
mod http_edges;
mod infra;

mod ingest;
mod isolation;
mod key_cache;
mod keyring;
mod live;
mod notifications;
mod parameters;
mod process;
mod reconcile;
mod replay_window;
mod seeding;
mod simulator;
mod stall_proxy;
mod tickets;
mod webdriver;
mod writer;
