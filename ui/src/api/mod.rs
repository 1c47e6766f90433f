//! The dashboard's door to the server's REST API. Components ask this module
//! for data and never build URLs or headers themselves; errors come back as
//! the server's `{code, message}` so the UI can branch on `code`.

use paypulse_shared::alerts::{AlertRules, AlertsPage};
use paypulse_shared::error::{ErrorBody, ErrorCode};
use paypulse_shared::payment::Payment;
use paypulse_shared::wire::{PaymentMetrics, PaymentsPage, Ticket, TrendData};
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

    // Queries come as the query strings `paypulse_shared::query::to_query`
    // writes (the query cache's keys), so nothing parses them back.

    /// Metrics (and the previous period's) for a `MetricsQuery`.
    pub async fn metrics(&self, query: &str) -> Result<PaymentMetrics, ApiFailure> {
        self.get_json(&format!("/api/analytics/metrics?{query}")).await
    }

    /// The trend points of a `TrendsQuery`.
    pub async fn trend(&self, query: &str) -> Result<Vec<TrendData>, ApiFailure> {
        self.get_json(&format!("/api/analytics/trends?{query}")).await
    }

    /// One page of a payment list (`PaymentListQuery`).
    pub async fn payments(&self, query: &str) -> Result<PaymentsPage, ApiFailure> {
        self.get_json(&format!("/api/payments?{query}")).await
    }

    /// One payment.
    pub async fn payment(&self, id: &str) -> Result<Payment, ApiFailure> {
        let id: String = js_sys::encode_uri_component(id).into();
        self.get_json(&format!("/api/payments/{id}")).await
    }

    /// A page of alerts (`state`, `limit`, ... as a query string), newest
    /// first.
    pub async fn alerts(&self, query: &str) -> Result<AlertsPage, ApiFailure> {
        self.get_json(&format!("/api/alerts?{query}")).await
    }

    /// The tenant's alert rules, and whether this key may change them.
    pub async fn alert_rules(&self) -> Result<AlertRules, ApiFailure> {
        self.get_json("/api/alerts/rules").await
    }

    /// Replaces the tenant's alert rules (an admin's key); the server's
    /// answer is the rules as stored.
    pub async fn save_alert_rules(&self, rules: &AlertRules) -> Result<AlertRules, ApiFailure> {
        let body = serde_json::to_string(rules).map_err(ApiFailure::network)?;
        let request = gloo_net::http::Request::put(&self.url("/api/alerts/rules"));
        let text = self.send(request, Some(body)).await?;
        parse(&text)
    }

    /// A single-use ticket that stands in for the key in one URL (a
    /// WebSocket or a download), so the key never goes into an address.
    pub async fn ticket(&self) -> Result<Ticket, ApiFailure> {
        let text = self
            .send(gloo_net::http::Request::post(&self.url("/api/tickets")), None)
            .await?;
        parse(&text)
    }

    /// `path` on the server the credentials name (the page's own when none).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.credentials.server)
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        let text = self.send(gloo_net::http::Request::get(&self.url(path)), None).await?;
        parse(&text)
    }

    /// Sends `request` with the credentials (and `body` as JSON) and reads
    /// the answer's body, or
    /// the server's `{code, message}`. Not generic: only the last step,
    /// reading the body as one type or another, is compiled once per type
    /// (every copy of a request's machinery counts against the page's size).
    async fn send(&self, request: gloo_net::http::RequestBuilder, body: Option<String>) -> Result<String, ApiFailure> {
        let request = request
            .header("Authorization", &format!("Bearer {}", self.credentials.key))
            .header("X-Tenant-Id", &self.credentials.tenant);
        let response = match body {
            Some(body) => {
                let request = request
                    .header("Content-Type", "application/json")
                    .body(body)
                    .map_err(ApiFailure::network)?;
                request.send().await
            }
            None => request.send().await,
        }
        .map_err(ApiFailure::network)?;
        let status = response.status();
        let text = response.text().await;
        if response.ok() {
            return text.map_err(|error| unreadable(status, error));
        }
        match text.ok().and_then(|text| serde_json::from_str::<ErrorBody>(&text).ok()) {
            Some(body) => Err(ApiFailure {
                status,
                code: body.code,
                message: body.message,
            }),
            None => Err(ApiFailure {
                status,
                code: ErrorCode::Unknown,
                message: format!("The server answered {status}."),
            }),
        }
    }
}

fn unreadable(status: u16, error: impl std::fmt::Display) -> ApiFailure {
    ApiFailure {
        status,
        code: ErrorCode::Unknown,
        message: format!("The server's answer could not be read ({error})."),
    }
}

/// A successful answer's body as `T`.
fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiFailure> {
    serde_json::from_str(text).map_err(|error| unreadable(200, error))
}
