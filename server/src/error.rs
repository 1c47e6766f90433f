//! The one error type of the HTTP API. Every failure becomes `{code, message}`
//! with the status that fits; database and internal errors are logged and
//! answered with a bare 500 that leaks nothing.

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::{RETRY_AFTER, SEC_WEBSOCKET_VERSION, UPGRADE};
use axum::response::{IntoResponse, Response};
use paypulse_shared::error::{ErrorBody, ErrorCode};
use paypulse_shared::query::QueryError;

/// An error the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client mistake or refusal with a stable `code` (which implies the
    /// status).
    #[error("{message}")]
    Client { code: ErrorCode, message: String },
    /// A dependency is unreachable: 503, safe to retry.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged, answered with 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            code,
            message: message.into(),
        }
    }

    /// 400 for a query parameter that is malformed or out of range.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// An error several requests share (one computation's, handed to all
    /// that waited on it): each gets its own copy.
    pub fn from_shared(error: std::sync::Arc<Self>) -> Self {
        std::sync::Arc::try_unwrap(error).unwrap_or_else(|shared| match &*shared {
            Self::Client { code, message } => Self::new(*code, message.clone()),
            Self::Unavailable(message) => Self::Unavailable(message.clone()),
            Self::Internal(error) => Self::Internal(anyhow::anyhow!("{error:#}")),
        })
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        Self::invalid_parameter(error.message)
    }
}

impl From<mongodb::error::Error> for ApiError {
    /// A transaction that still met conflicting writes after every retry,
    /// or a database that cannot be reached, is a 503: nothing was written
    /// and the same request can be sent again. Anything else is a 500.
    fn from(error: mongodb::error::Error) -> Self {
        use mongodb::error::TRANSIENT_TRANSACTION_ERROR;
        let transient = error.contains_label(TRANSIENT_TRANSACTION_ERROR)
            || crate::store::transaction::is_contended(&error)
            || crate::store::is_unreachable(&error);
        if transient {
            tracing::warn!(%error, "mongodb unavailable or contended");
            return Self::Unavailable("the database is busy or unreachable; retry shortly".into());
        }
        Self::Internal(anyhow::Error::new(error).context("mongodb"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, message) = match self {
            Self::Client { code, message } => (code, message),
            Self::Unavailable(message) => {
                tracing::warn!(%message, "dependency unavailable");
                (ErrorCode::Unavailable, message)
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                (ErrorCode::Internal, "internal server error".to_owned())
            }
        };
        let status = StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Json(ErrorBody { code, message });
        if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
            // Safe to retry: say when.
            return (status, [(RETRY_AFTER, "1")], body).into_response();
        }
        if status == StatusCode::UPGRADE_REQUIRED {
            // What to upgrade to (RFC 9110 §15.5.22), and the one WebSocket
            // version served (RFC 6455 §4.4).
            let headers = [(UPGRADE, "websocket"), (SEC_WEBSOCKET_VERSION, "13")];
            return (status, headers, body).into_response();
        }
        (status, body).into_response()
    }
}
