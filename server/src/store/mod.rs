//! MongoDB storage: the connection, the collections and their documents, and
//! the queries the features make. Every query takes the tenant id first.

pub mod alerts;
pub mod documents;
pub mod edges;
pub mod events;
pub mod history;
pub mod kept_rollups;
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
        let client = Client::with_options(options).context("creating the mongodb client")?;
        let store = Self {
            database: client.database(&config.mongodb_db),
            imports: std::sync::Arc::default(),
            edges: std::sync::Arc::default(),
            kept: std::sync::Arc::default(),
            history: std::sync::Arc::default(),
            retries: std::sync::Arc::default(),
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
