//! `GET /healthz` (the process answers) and `GET /readyz` (MongoDB answers,
//! and Redis when configured): what load balancers and orchestrators probe.

use std::time::Duration;

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
