//! MongoDB storage: the connection, the collections and their documents, and
//! the queries the features make. Every query takes the tenant id first.

pub mod alerts;
pub mod audit;
pub mod documents;
pub mod edges;
pub mod events;
pub mod history;
pub mod kept_rollups;
pub mod outage;
pub mod payments;
pub mod planner;
pub mod reconcile;
pub mod rollups;
pub mod scan;
pub mod schema;
pub mod tenants;
pub mod transaction;
pub mod writes;

use anyhow::Context;
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};

use crate::config::DatabaseConfig;
use documents::{MethodDoc, PaymentDoc, TenantDoc};
pub use outage::is_unreachable;

/// How long an operation waits for a reachable server before it fails
/// (503), unless the connection string says otherwise: about a replica
/// set's election, so a failover is waited out and an outage is not.
pub const SERVER_SELECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Collection names, in one place.
pub mod names {
    pub const PAYMENTS: &str = "payments";
    pub const TENANTS: &str = "tenants";
    pub const METHODS: &str = "methods";
    /// One document per tenant and 15-minute cell (see `rollups`).
    pub const ROLLUPS: &str = "cell_rollups";
    /// One document per tenant and local hour (see `rollups`).
    pub const HOUR_ROLLUPS: &str = "hour_rollups";
    /// One document per tenant and local day (see `rollups`).
    pub const DAY_ROLLUPS: &str = "day_rollups";
    /// Every level's collection.
    pub const ALL_ROLLUPS: [&str; 3] = [ROLLUPS, HOUR_ROLLUPS, DAY_ROLLUPS];
    /// One document per alert episode (see `alerts`).
    pub const ALERTS: &str = "alerts";
    /// One document per tenant and alert rule: where its lifecycle is.
    pub const ALERT_STATES: &str = "alert_states";
    /// One document per change to a tenant's keys or alert rules (see `audit`).
    pub const AUDIT: &str = "audit";
    /// The first layout, one document per cell and method: rebuilt into
    /// `ROLLUPS` and dropped at start.
    pub const LEGACY_ROLLUPS: &str = "rollups";
}

/// The database handle; clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    database: Database,
    /// Held by each import transaction (`import_payments`: seed, backfills)
    /// of this process: concurrent imports meet on the same rollup documents
    /// and would only abort each other with write conflicts. Live writes need
    /// no lock: the writer (`crate::writer`) runs them one at a time. Other
    /// instances (and an import beside the writer) still conflict, and are
    /// retried with backoff.
    imports: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Payments of past quarters that ranges cut through (see `edges`).
    edges: std::sync::Arc<edges::EdgeCache>,
    /// Hour rollups of this process's earlier reads (see `kept_rollups`).
    kept: std::sync::Arc<kept_rollups::KeptRollups>,
    /// Totals of past intervals and history starts, for the trends' seasons
    /// (see `history`).
    history: std::sync::Arc<history::KeptHistory>,
    /// Transaction attempts this process started again after a transient
    /// error (write conflicts with other instances, mostly).
    retries: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whether the database was found unreachable a moment ago.
    outage: std::sync::Arc<outage::Outage>,
}

/// Cuts a list read with `limit + 1` down to one page of `limit`: whether
/// more follow is whether the extra one came (how every cursor-paginated
/// list here knows it has a next page without counting).
pub(crate) fn split_page<T>(page: &mut Vec<T>, limit: u32) -> bool {
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    more
}

impl Store {
    /// Connects, checks the server answers, and makes sure every collection,
    /// validator and index exists.
    pub async fn connect(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let mut options = ClientOptions::parse(&config.mongodb_uri)
            .await
            .context("parsing MONGODB_URI")?;
        options.app_name = Some("paypulse-server".to_owned());
        // The driver waits 30 s for a server by default: with the database
        // down, every write would hang that long before its 503. A URI that
        // sets `serverSelectionTimeoutMS` keeps its own.
        options.server_selection_timeout.get_or_insert(SERVER_SELECTION_TIMEOUT);
        let client = Client::with_options(options).context("creating the mongodb client")?;
        let store = Self {
            database: client.database(&config.mongodb_db),
            imports: std::sync::Arc::default(),
            edges: std::sync::Arc::new(edges::EdgeCache::with_bound(config.kept_payments)),
            kept: std::sync::Arc::default(),
            history: std::sync::Arc::default(),
            retries: std::sync::Arc::default(),
            outage: std::sync::Arc::default(),
        };
        store.ping().await.context("connecting to mongodb")?;
        let created = schema::ensure(&store.database)
            .await
            .context("creating collections and indexes")?;
        store
            .migrate_rollups(&created)
            .await
            .context("building rollups in the current layout")?;
        Ok(store)
    }

    /// Whether the database was found unreachable a moment ago.
    pub fn outage(&self) -> &outage::Outage {
        &self.outage
    }

    /// One round trip to the server.
    pub async fn ping(&self) -> mongodb::error::Result<()> {
        self.database
            .run_command(mongodb::bson::doc! { "ping": 1 })
            .await
            .map(drop)
    }

    /// How many transaction attempts this process has retried since it
    /// started (each transaction gets at most `transaction::TRANSACTION_ATTEMPTS`).
    pub fn transaction_retries(&self) -> u64 {
        self.retries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits for this process's turn to run an import transaction.
    pub(crate) async fn import_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.imports.lock().await
    }

    pub(crate) fn edges(&self) -> &edges::EdgeCache {
        &self.edges
    }

    pub(crate) fn kept_rollups(&self) -> &kept_rollups::KeptRollups {
        &self.kept
    }

    pub(crate) fn kept_history(&self) -> &history::KeptHistory {
        &self.history
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn payments(&self) -> Collection<PaymentDoc> {
        self.database.collection(names::PAYMENTS)
    }

    pub fn tenants(&self) -> Collection<TenantDoc> {
        self.database.collection(names::TENANTS)
    }

    pub fn methods(&self) -> Collection<MethodDoc> {
        self.database.collection(names::METHODS)
    }
}
