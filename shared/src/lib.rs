//! Paypulse's shared vocabulary: the JSON wire types of SPEC §3, the query
//! strings, live frames and error codes both sides branch on, and the pure
//! arithmetic behind the analytics (money, metric definitions, trend buckets,
//! anomaly flags), compiled both for the server and for the WASM dashboard.

pub mod alerts;
pub mod anomaly;
pub mod catalogue;
pub mod currency;
pub mod error;
pub mod filter;
pub mod live;
pub mod money;
pub mod payment;
pub mod query;
pub mod range;
pub mod stats;
pub mod time;
pub mod wire;

#[cfg(feature = "tz")]
pub mod buckets;
#[cfg(feature = "tz")]
pub mod metrics;
#[cfg(feature = "tz")]
pub mod trends;

pub use money::Amount;
