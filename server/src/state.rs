//! The state every handler shares: one cheap-to-clone handle per backend.

use std::sync::Arc;

use crate::analytics::cache::AnalyticsCache;
use crate::config::Config;
use crate::ingest::IngestQueue;
use crate::live::Live;
use crate::store::Store;
use crate::tenancy::key_cache::KeyCache;
use crate::tenancy::tickets::Tickets;

/// Handed to handlers with `State`; clones share everything.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    /// Redis, when configured; the manager reconnects by itself.
    pub redis: Option<redis::aio::ConnectionManager>,
    /// The group-commit writer of new payments.
    pub ingest: IngestQueue,
    /// Live feeds of every tenant (`/ws/payments`).
    pub live: Live,
    /// Cached analytics answers, invalidated by every write.
    pub cache: AnalyticsCache,
    /// Recent API-key lookups.
    pub keys: KeyCache,
    /// Single-use credentials for URLs (`POST /api/tickets`).
    pub tickets: Arc<Tickets>,
}
