//! The state every handler shares: one cheap-to-clone handle per backend.
//! Each is a sub-state (`FromRef`): a handler takes only the parts it uses
//! (`State<Store>`, `State<Writer>`, …), and the access layer its own
//! ([`Access`]), so features do not reach into each other through here.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::access::Access;
use crate::analytics::cache::AnalyticsCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::live::Live;
use crate::store::Store;
use crate::writer::Writer;

/// Redis, when configured; the manager reconnects by itself.
#[derive(Clone)]
pub struct Redis(pub Option<redis::aio::ConnectionManager>);

/// Handed to the router; clones share everything.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub config: Arc<Config>,
    /// Where "now" comes from (the configuration's).
    pub clock: Clock,
    pub store: Store,
    pub redis: Redis,
    /// The one route of every write to the store (`crate::writer`).
    pub writer: Writer,
    /// Runs the tenants' alert rules (its statistics, for benchmarks).
    pub evaluator: crate::alerts::Evaluator,
    /// Live feeds of every tenant (`/ws/payments`).
    pub live: Live,
    /// Cached analytics answers, invalidated by every write.
    pub cache: AnalyticsCache,
    /// Credentials into callers: keys, tickets.
    pub access: Access,
}
