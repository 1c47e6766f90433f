//! The test harness: a real server on a port-0 listener, its own database,
//! demo tenants and keys, and helpers to insert payments and call the API.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use mongodb::bson::oid::ObjectId;
use paypulse_server::config::{Config, DatabaseConfig};
use paypulse_server::seed::{self, SeedArgs};
use paypulse_server::state::AppState;
use paypulse_server::store::Store;
use paypulse_server::store::documents::{PaymentDoc, to_bson};
use paypulse_shared::payment::PaymentStatus;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The demo tenants every test database starts with.
pub const TENANTS: [&str; 3] = ["acme", "globex", "initech"];

/// Where the MongoDB-compatible server is; a missing one fails loudly.
pub fn mongodb_uri() -> String {
    std::env::var("MONGODB_URI").unwrap_or_else(|_| {
        panic!(
            "MONGODB_URI is not set: run the suite with `cargo xtask test`, which starts a MongoDB-compatible server"
        )
    })
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The built dashboard (`cargo xtask ui` writes it).
pub fn ui_dist() -> PathBuf {
    std::env::var_os("UI_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/dist"))
}

/// A unique name for this test's database and key prefix.
fn unique_name() -> String {
    format!("test_{:016x}", rand::rng().random::<u64>())
}

pub fn test_config(database: &str) -> Config {
    Config {
        host: Ipv4Addr::LOCALHOST.into(),
        port: 0,
        database: DatabaseConfig::new(mongodb_uri(), database),
        redis_url: Some(redis_url()),
        redis_prefix: format!("paypulse-{database}"),
        ui_dist: ui_dist(),
        simulate: false,
        simulate_rate: 1.0,
        base_domain: Some("paypulse.local".to_owned()),
        cors_origins: vec!["tauri://localhost".to_owned(), "http://tauri.localhost".to_owned()],
        limits: Default::default(),
        clock: Default::default(),
    }
}

/// Sends the servers' warnings and errors to the test's captured output, so
/// a failing test shows what the server logged (a 500's cause, for one).
fn show_server_warnings() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_test_writer()
            .try_init()
            .ok();
    });
}

/// A running server with its own database.
pub struct TestApp {
    pub address: SocketAddr,
    /// The server's state, for tests that reach past HTTP (the live hub).
    pub state: AppState,
    pub store: Store,
    pub http: reqwest::Client,
    database: String,
    owns_database: bool,
    shutdown: Option<oneshot::Sender<()>>,
    /// The task running `launch`: it ends once the server has stopped.
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts a server over a fresh database holding the demo tenants and keys.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::start(test_config(&unique_name()), adjust, true).await
    }

    /// A second server on the same database and Redis prefix as `other`, as
    /// another instance behind a load balancer would be.
    pub async fn spawn_sharing(other: &TestApp) -> Self {
        let mut app = Self::start((*other.state.config).clone(), |_| {}, false).await;
        // The database belongs to `other`; this instance must not drop it.
        app.owns_database = false;
        app
    }

    async fn start(mut config: Config, adjust: impl FnOnce(&mut Config), seed_tenants: bool) -> Self {
        show_server_warnings();
        let database = config.database.mongodb_db.clone();
        adjust(&mut config);
        let state: AppState = paypulse_server::connect(config)
            .await
            .expect("connecting the test server");
        let store = state.store.clone();
        let tenants_only = SeedArgs {
            database: state.config.database.clone(),
            tenants: TENANTS.iter().map(|tenant| (*tenant).to_owned()).collect(),
            days: 0,
            rate: 1.0,
            demo_keys: true,
            random_seed: 1,
        };
        if seed_tenants {
            seed::seed(&store, &tenants_only).await.expect("creating demo tenants");
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding port 0");
        let address = listener.local_addr().expect("local address");
        let (shutdown, stop) = oneshot::channel();
        let shared = state.clone();
        let server = tokio::spawn(paypulse_server::launch(state, listener, async {
            stop.await.ok();
        }));
        Self {
            address,
            state: shared,
            store,
            http: reqwest::Client::new(),
            database,
            owns_database: true,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Stops the server (and its simulator) while keeping the database.
    pub fn stop_server(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
    }

    /// Stops the server and waits until `launch` has returned: the listener
    /// is closed and the simulator's tasks are cancelled (on a test's
    /// single-threaded runtime none of them runs again). The group-commit
    /// writer lives on (this app's state holds it), so writes already queued
    /// still commit; [`TestApp::write_behind_the_queue`] waits for them.
    pub async fn stop_server_and_wait(&mut self) {
        self.stop_server();
        if let Some(server) = self.server.take() {
            server
                .await
                .expect("the server task panicked")
                .expect("the server stopped with an error");
        }
    }

    /// Writes a succeeded card payment for `tenant` through this app's
    /// group-commit writer directly (no HTTP, so it works after the server
    /// stopped) and returns it once committed. The writer takes requests
    /// first in, first out, and announces each batch before answering, so by
    /// then every write queued before this one is committed and announced.
    pub async fn write_behind_the_queue(&self, tenant: &str, external_id: &str) -> PaymentDoc {
        let tenant = self
            .store
            .tenant(tenant)
            .await
            .expect("reading the tenant")
            .expect("the tenant exists");
        let body = paypulse_server::ingest::CreatePayment {
            external_id: external_id.to_owned(),
            amount: paypulse_shared::Amount::from_minor(100, tenant.scale()),
            currency: tenant.currency.clone(),
            method: "card".to_owned(),
            status: "succeeded".to_owned(),
            failure_reason: None,
            created_at: None,
        };
        let ingestion = <paypulse_server::ingest::Ingestion as axum::extract::FromRef<_>>::from_ref(&self.state);
        match ingestion.submit(&tenant, body).await {
            Ok(paypulse_server::store::writes::CreateOutcome::Created(payment)) => payment,
            other => panic!("writing {external_id} behind the queue: {other:?}"),
        }
    }

    /// Every payment document of `tenant`, read straight from MongoDB.
    pub async fn stored_payments(&self, tenant: &str) -> Vec<PaymentDoc> {
        use futures::TryStreamExt;
        self.store
            .payments()
            .find(mongodb::bson::doc! { "tenantId": tenant })
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The live feed of `tenant` as its demo viewer reading control frames
    /// (`hello`, `heartbeat`, `alert`) as the dashboard does, with `extra`
    /// query parameters (`&since=3&epoch=...`).
    pub fn watch_url(&self, tenant: &str, extra: &str) -> String {
        self.spec_watch_url(tenant, &format!("&control=true{extra}"))
    }

    /// The live feed as a client that knows only SPEC §3 asks for it.
    pub fn spec_watch_url(&self, tenant: &str, extra: &str) -> String {
        format!(
            "ws://{}/ws/payments?tenant={tenant}&key=pk_demo_{tenant}_viewer{extra}",
            self.address
        )
    }

    /// A GET as `tenant` with its demo viewer key.
    pub fn viewer_get(&self, tenant: &str, path: &str) -> reqwest::RequestBuilder {
        self.get_as(tenant, &format!("pk_demo_{tenant}_viewer"), path)
    }

    pub fn get_as(&self, tenant: &str, key: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .header("X-Tenant-Id", tenant)
            .bearer_auth(key)
    }

    /// GETs `path` as `tenant`'s viewer, expecting 200; the body as text
    /// (a CSV export).
    pub async fn text(&self, tenant: &str, path: &str) -> String {
        let response = self.viewer_get(tenant, path).send().await.expect("request");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, 200, "GET {path} as {tenant}: {body}");
        body
    }

    /// GETs `path` as `tenant`'s viewer, expecting 200 and JSON.
    pub async fn json(&self, tenant: &str, path: &str) -> serde_json::Value {
        self.json_as(tenant, &format!("pk_demo_{tenant}_viewer"), path).await
    }

    /// GETs `path` as `tenant` with `key`, expecting 200 and JSON.
    pub async fn json_as(&self, tenant: &str, key: &str, path: &str) -> serde_json::Value {
        let response = self.get_as(tenant, key, path).send().await.expect("request");
        let status = response.status();
        let body = response.text().await.expect("body");
        assert_eq!(status, 200, "GET {path} as {tenant}: {body}");
        serde_json::from_str(&body).expect("JSON body")
    }

    /// A POST as `tenant` with its demo ingest key.
    pub fn ingest_post(&self, tenant: &str, path: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("X-Tenant-Id", tenant)
            .bearer_auth(format!("pk_demo_{tenant}_ingest"))
            .json(body)
    }

    /// Ingests `body` for `tenant`, expecting success, and returns the payment.
    pub async fn create(&self, tenant: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self.ingest_post(tenant, "/api/payments", &body).send().await.unwrap();
        assert!(response.status().is_success(), "ingest answered {}", response.status());
        response.json().await.unwrap()
    }

    /// Refunds payment `id` of `tenant`.
    pub async fn refund(&self, tenant: &str, id: &str) -> reqwest::Response {
        let path = format!("/api/payments/{id}/refund");
        self.ingest_post(tenant, &path, &serde_json::json!({}))
            .send()
            .await
            .unwrap()
    }

    /// Replaces `tenant`'s alert rules with its demo admin key, expecting
    /// success.
    pub async fn replace_rules(&self, tenant: &str, rules: serde_json::Value) {
        let response = self
            .http
            .put(self.url("/api/alerts/rules"))
            .header("X-Tenant-Id", tenant)
            .bearer_auth(format!("pk_demo_{tenant}_admin"))
            .json(&serde_json::json!({ "rules": rules }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(status, 200, "PUT rules: {}", response.text().await.unwrap_or_default());
    }

    /// How many payments of `tenant` are stored.
    pub async fn stored_count(&self, tenant: &str) -> u64 {
        self.store
            .payments()
            .count_documents(mongodb::bson::doc! { "tenantId": tenant })
            .await
            .expect("counting payments")
    }

    pub async fn insert(&self, payments: &[PaymentDoc]) {
        let outcome = self.store.import_payments(payments).await.expect("inserting payments");
        assert_eq!(outcome.inserted as usize, payments.len(), "test payments must be new");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
        // Drop the database from a thread of its own: Drop cannot await, and
        // the test's runtime may be shutting down.
        if !self.owns_database {
            return;
        }
        // A database on a server of the test's own (`faults`) goes with
        // that server; dropping it could wait on a transaction a killed
        // process left open there.
        let shared_server = self.state.config.database.mongodb_uri == mongodb_uri();
        let database = std::mem::take(&mut self.database);
        let prefix = self.state.config.redis_prefix.clone();
        let cleanup = std::thread::spawn(move || {
            if let Ok(mut redis) = redis::Client::open(redis_url()).and_then(|client| client.get_connection()) {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{prefix}:*"))
                    .query(&mut redis)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    redis::cmd("DEL").arg(keys).query::<()>(&mut redis).ok();
                }
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if !shared_server {
                    return;
                }
                if let Ok(client) = mongodb::Client::with_uri_str(mongodb_uri()).await {
                    client.database(&database).drop().await.ok();
                }
            });
        });
        // A failing test may leave a write of this app mid-transaction, on
        // the runtime this thread would block: dropping the database would
        // then wait for it forever, and the failure would become a hang. So
        // after a failure the clean-up runs on its own.
        if !std::thread::panicking() {
            cleanup.join().ok();
        }
    }
}

/// A payment for a test, with sensible defaults.
pub fn payment(
    tenant: &str,
    created_at: DateTime<Utc>,
    amount_minor: i64,
    method: &str,
    status: PaymentStatus,
) -> PaymentDoc {
    let currency = if tenant == "initech" { "INR" } else { "USD" };
    PaymentDoc {
        id: ObjectId::new(),
        tenant_id: tenant.to_owned(),
        external_id: format!("ext_{}", ObjectId::new().to_hex()),
        amount_minor,
        currency: currency.to_owned(),
        method: method.to_owned(),
        status,
        failure_reason: (status == PaymentStatus::Failed).then(|| "card_declined".to_owned()),
        refunded_at: (status == PaymentStatus::Refunded).then(|| to_bson(created_at + chrono::TimeDelta::hours(1))),
        created_at: to_bson(created_at),
        updated_at: to_bson(created_at),
    }
}

/// Asserts an error response: status, `code`, and a message mentioning `hint`.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str, hint: &str) {
    let actual = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("error bodies are JSON");
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    let message = body["message"].as_str().expect("message is a string");
    assert!(message.contains(hint), "message {message:?} should mention {hint:?}");
    assert_eq!(
        body.as_object().map(|object| object.len()),
        Some(2),
        "exactly code and message: {body}"
    );
}

/// An ingest body for a succeeded card payment in USD.
pub fn card_payment(external_id: &str, amount: f64) -> serde_json::Value {
    serde_json::json!({"externalId": external_id, "amount": amount, "currency": "USD", "method": "card", "status": "succeeded"})
}

/// Waits until `condition` holds, checking every 10 ms; fails naming `what`
/// after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: std::time::Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !condition().await {
        assert!(std::time::Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// A WebSocket client of the live feed at `url`.
pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects a WebSocket client to `url`.
pub async fn open_socket(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|error| panic!("connecting {url}: {error}"))
        .0
}

/// The next JSON text frame of a WebSocket (pings are answered by the client
/// library).
pub async fn next_json<S>(socket: &mut S) -> serde_json::Value
where
    S: futures::Stream<Item = Result<tokio_tungstenite::tungstenite::Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(15), socket.next())
            .await
            .expect("a message in time")
            .expect("the connection stays open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => {
                let frame: serde_json::Value = serde_json::from_str(&text).expect("JSON text frames");
                // Heartbeats are the connection's, not the feed's.
                if frame["type"] != "heartbeat" {
                    return frame;
                }
            }
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}
