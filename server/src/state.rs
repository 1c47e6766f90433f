//! The state every handler shares: one cheap-to-clone handle per backend.

use std::sync::Arc;

use crate::analytics::cache::AnalyticsCache;
use crate::config::Config;
use crate::live::Live;
use crate::store::Store;
use crate::tenancy::key_cache::KeyCache;
use crate::tenancy::tickets::Tickets;
use crate::writer::Writer;

/// Handed to handlers with `State`; clones share everything.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Redis, when configured; the manager reconnects by itself.
    pub redis: Option<redis::aio::ConnectionManager>,
    /// The one route of every write to the store (`crate::writer`).
    pub writer: Writer,
    /// Runs the tenants' alert rules (its statistics, for benchmarks).
    pub evaluator: crate::alerts::Evaluator,
    /// Live feeds of every tenant (`/ws/payments`).
    pub live: Live,
    /// Cached analytics answers, invalidated by every write.
    pub cache: AnalyticsCache,
    /// Recent API-key lookups.
    pub keys: KeyCache,
    /// Single-use credentials for URLs (`POST /api/tickets`).
    pub tickets: Arc<Tickets>,
}
