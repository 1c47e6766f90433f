//! The dashboard's door to the server's REST API. Components ask this module
//! for data and never build URLs or headers themselves; errors come back as
//! the server's `{code, message}` so the UI can branch on `code`.

use paypulse_shared::error::{ErrorBody, ErrorCode};
use paypulse_shared::wire::{PaymentMetrics, Period, TrendData};
use serde::de::DeserializeOwned;

use crate::session::Credentials;

/// A failed call: the server's error, or a network failure in the same shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status, or 0 when the server could not be reached.
    pub status: u16,
    /// The server's code; `Unknown` when the failure is not the server's
    /// (unreachable, or an answer that could not be read).
    pub code: ErrorCode,
    pub message: String,
}

impl ApiFailure {
    fn network(error: impl std::fmt::Display) -> Self {
        Self {
            status: 0,
            code: ErrorCode::Unknown,
            message: format!("The server could not be reached ({error})."),
        }
    }

    /// Whether signing in again (new key or tenant) is the way out.
    pub fn needs_credentials(&self) -> bool {
        self.code.needs_credentials()
    }
}

/// Calls the API as one tenant with one key.
#[derive(Clone, Debug)]
pub struct ApiClient {
    credentials: Credentials,
}

impl ApiClient {
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }

    /// The trend of `period`'s default window.
    pub async fn trend(&self, period: Period) -> Result<Vec<TrendData>, ApiFailure> {
        self.get_json(&format!("/api/analytics/trends?period={period}")).await
    }

    /// Metrics of the last 24 hours.
    pub async fn metrics(&self) -> Result<PaymentMetrics, ApiFailure> {
        self.get_json("/api/analytics/metrics").await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        let url = format!("{}{path}", self.credentials.server);
        let response = gloo_net::http::Request::get(&url)
            .header("Authorization", &format!("Bearer {}", self.credentials.key))
            .header("X-Tenant-Id", &self.credentials.tenant)
            .send()
            .await
            .map_err(ApiFailure::network)?;
        let status = response.status();
        if response.ok() {
            return response.json::<T>().await.map_err(|error| ApiFailure {
                status,
                code: ErrorCode::Unknown,
                message: format!("The server's answer could not be read ({error})."),
            });
        }
        match response.json::<ErrorBody>().await {
            Ok(body) => Err(ApiFailure {
                status,
                code: body.code,
                message: body.message,
            }),
            Err(_) => Err(ApiFailure {
                status,
                code: ErrorCode::Unknown,
                message: format!("The server answered {status}."),
            }),
        }
    }
}
