//! `GET /healthz` (the process answers) and `GET /readyz` (MongoDB answers,
//! and Redis when configured): what load balancers and orchestrators probe;
//! and `paypulse-server healthcheck`, the probe a container runs on itself.

use std::time::Duration;

use anyhow::Context;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::routes::{Needs, Route};
use crate::state::Redis;
use crate::store::Store;

/// How long a dependency may take to answer a readiness probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/healthz", Needs::Nothing, healthz),
        Route::get("/readyz", Needs::Nothing, readyz),
    ]
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(store): State<Store>, State(Redis(redis)): State<Redis>) -> ApiResult<Json<Value>> {
    match tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            return Err(ApiError::Unavailable(format!("mongodb is not reachable: {error}")));
        }
        Err(_) => {
            return Err(ApiError::Unavailable("mongodb did not answer within 2 s".into()));
        }
    }
    let redis = match redis {
        None => "disabled",
        Some(mut connection) => {
            let command = redis::cmd("PING");
            match tokio::time::timeout(PROBE_TIMEOUT, command.query_async::<String>(&mut connection)).await {
                Ok(Ok(_)) => "ok",
                Ok(Err(error)) => {
                    return Err(ApiError::Unavailable(format!("redis is not reachable: {error}")));
                }
                Err(_) => {
                    return Err(ApiError::Unavailable("redis did not answer within 2 s".into()));
                }
            }
        }
    };
    Ok(Json(json!({ "status": "ready", "mongodb": "ok", "redis": redis })))
}

/// `paypulse-server healthcheck`: asks the server on this host for a probe
/// and fails unless it answers 2xx within 2 s. It is the image's HEALTHCHECK
/// (infra/docker): the runtime image has no curl, and a shell one-liner
/// that writes HTTP by hand proved only that a status line came back.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Port the server listens on (the one `serve` reads).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// The probe: /healthz (the process answers) or /readyz (MongoDB and
    /// Redis answer it too).
    #[arg(long, default_value = "/healthz")]
    pub path: String,
}

/// Runs the probe [`CheckArgs`] describe.
pub async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let uri = format!("http://127.0.0.1:{}{}", args.port, args.path);
    let request = axum::http::Request::get(&uri).body(String::new())?;
    let response = tokio::time::timeout(PROBE_TIMEOUT, client.request(request))
        .await
        .map_err(|_| anyhow::anyhow!("{uri} did not answer within 2 s"))?
        .with_context(|| format!("requesting {uri}"))?;
    anyhow::ensure!(response.status().is_success(), "{uri} answered {}", response.status());
    Ok(())
}
