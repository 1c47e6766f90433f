//! Paypulse server: REST analytics, payment ingest and drill-down, tenancy
//! and the dashboard,
//! over MongoDB (and Redis when configured).
//!
//! `router(state)` is the whole HTTP surface; `launch` serves it on a given
//! listener until `shutdown` resolves, which is how `main` and the
//! integration tests both run it.

pub mod access;
pub mod alerts;
pub mod analytics;
pub mod clock;
pub mod config;
pub mod error;
pub mod export;
pub mod headers;
pub mod health;
pub mod ingest;
pub mod live;
pub mod memory;
pub mod params;
pub mod payments;
pub mod reconcile;
pub mod routes;
pub mod seed;
pub mod simulate;
pub mod state;
pub mod store;
pub mod web;
pub mod writer;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Store;
use paypulse_shared::error::ErrorCode;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let api = routes::api_router()
        .fallback(|| async { ApiError::not_found("no such API endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not accept that method")
        })
        .layer(axum::middleware::map_response(headers::no_store))
        .layer(axum::middleware::from_fn_with_state(
            state.config.limits.request_deadline,
            headers::deadline,
        ));
    let cors =
        headers::cors(&state.config.cors_origins, access::TENANT_HEADER).expect("CORS_ORIGINS checked by connect");
    Router::new()
        .nest("/api", api)
        .merge(routes::root_router())
        .merge(web::router(&state.config.ui_dist))
        .layer(cors)
        .layer(axum::middleware::map_response(headers::secure))
        // Spans name the path only: query strings can carry a WebSocket key.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

/// How every Redis connection manager of the process behaves. Commands on
/// the request path (cache generations, tickets, live batches) fail fast
/// while Redis is away instead of waiting through the manager's default six
/// reconnect attempts (about 10 s per request); the manager keeps
/// reconnecting in the background.
fn redis_manager_config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_connection_timeout(Some(std::time::Duration::from_millis(500)))
        .set_response_timeout(Some(std::time::Duration::from_secs(2)))
}

/// Connects to the backends named by `config`.
pub async fn connect(config: Config) -> anyhow::Result<AppState> {
    // A malformed origin stops the start, with its name.
    drop(headers::cors(&config.cors_origins, access::TENANT_HEADER)?);
    let redis = match &config.redis_url {
        None => None,
        Some(url) => {
            // Nagle's algorithm off, as on the clients' sockets (see
            // `launch`): a live batch's script and the stream read that
            // follows it are small writes that must not wait for an ACK.
            let info = redis::IntoConnectionInfo::into_connection_info(url.as_str())
                .context("parsing REDIS_URL")?
                .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
            let client = redis::Client::open(info).context("parsing REDIS_URL")?;
            let manager = client
                .get_connection_manager_with_config(redis_manager_config())
                .await
                .context("connecting to redis")?;
            Some((client, manager))
        }
    };
    let store = Store::connect(&config.database).await?;
    let limits = config.limits;
    let live = match &redis {
        None => live::Live::local(limits.live),
        Some((client, _)) => live::Live::shared(
            client.clone(),
            redis_manager_config(),
            &config.redis_prefix,
            store.clone(),
            limits.live,
        )
        .await
        .context("reading the live streams from redis")?,
    };
    let redis = redis.map(|(_, manager)| manager);
    let cache = match &redis {
        None => analytics::cache::AnalyticsCache::local(),
        Some(manager) => analytics::cache::AnalyticsCache::redis(manager.clone(), &config.redis_prefix),
    };
    let tickets = match &redis {
        None => access::tickets::Tickets::local(limits.ticket_ttl),
        Some(manager) => access::tickets::Tickets::redis(manager.clone(), &config.redis_prefix, limits.ticket_ttl),
    };
    let evaluator = alerts::Evaluator::default();
    let pipeline = writer::pipeline::Pipeline::default()
        .then(Arc::new(cache.clone()))
        .then(Arc::new(live.clone()))
        .then(Arc::new(evaluator.clone()));
    let writer = writer::Writer::start(store.clone(), pipeline, limits.writer);
    evaluator.start(store.clone(), writer.clone(), config.clock, limits.alerts);
    let keys = match &redis {
        None => access::key_cache::KeyCache::local(limits.key_cache_ttl),
        Some(manager) => {
            access::key_cache::KeyCache::redis(manager.clone(), &config.redis_prefix, limits.key_cache_ttl)
        }
    };
    let access = access::Access::new(
        store.clone(),
        keys,
        tickets,
        limits.rates,
        config.base_domain.as_deref(),
        config.clock,
    );
    Ok(AppState {
        clock: config.clock,
        config: Arc::new(config),
        store,
        redis: state::Redis(redis),
        writer,
        evaluator,
        live,
        cache,
        access,
    })
}

/// Serves until `shutdown` resolves, then finishes in-flight requests. The
/// simulator, when configured, runs alongside and stops with the server.
pub async fn launch(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _simulator = if state.config.simulate {
        anyhow::ensure!(
            state.config.simulate_rate > 0.0 && state.config.simulate_rate.is_finite(),
            "SIMULATE_RATE must be a positive number"
        );
        Some(
            simulate::start(state.clone(), state.config.simulate_rate)
                .await
                .context("starting the simulator")?,
        )
    } else {
        None
    };
    // Every accepted connection without Nagle's algorithm (axum 0.8 leaves
    // it on): a live frame is a small write, and with Nagle on, a frame sent
    // while the one before is unacknowledged waits for that ACK, which the
    // client's kernel may delay by up to 40 ms (docs/ARCHITECTURE.md, "Live
    // feed").
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream: &mut tokio::net::TcpStream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "setting TCP_NODELAY on a connection");
        }
    });
    // On shutdown the server stops accepting, answers what it holds, and
    // closes every live socket with 1012 so its client resumes at once on
    // another instance. Upgraded connections are no longer axum's to wait
    // for, so the watchers' holds are waited for here, up to `CLOSE_GRACE`.
    let hub = Arc::clone(&state.live.hub);
    let closing = Arc::clone(&hub);
    let shutdown = async move {
        shutdown.await;
        closing.close_all();
    };
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving http")?;
    // A client too slow to take its closing frame within the grace is
    // dropped with the process.
    tokio::time::timeout(CLOSE_GRACE, hub.released()).await.ok();
    Ok(())
}

/// How long a shutting-down process waits for its live sockets to take
/// their close frames (a slow client's is dropped after it).
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);
