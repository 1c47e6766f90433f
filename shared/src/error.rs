//! The error body every failing API response carries: `{code, message}`.
//! Clients branch on `code` (stable, snake_case, one [`ErrorCode`] both sides
//! share) and show `message` to people.

use std::fmt;

use serde::{Deserialize, Serialize};

/// JSON body of every 4xx/5xx response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// What went wrong, in a sentence a person can act on.
    pub message: String,
}

/// Every `code` the API answers with, and the HTTP status each one goes
/// with: the server never pairs a code with another status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A query parameter is malformed or out of range (400).
    InvalidParameter,
    /// A request body is malformed or a field of it is wrong (400).
    InvalidBody,
    /// An alert rule of `PUT /api/alerts/rules` is wrong; the message names
    /// the field, e.g. `rules[2].windowMinutes` (400).
    InvalidRule,
    /// Too many requests or connections for now; `Retry-After` says when to
    /// try again (429).
    RateLimited,
    /// The body is not JSON (415).
    UnsupportedMediaType,
    /// The body is larger than the server accepts (413).
    PayloadTooLarge,
    /// No credential was sent (401).
    MissingCredentials,
    /// The credential is not one the server knows, or it expired (401).
    InvalidCredentials,
    /// The credential belongs to another tenant than the one addressed (403).
    TenantMismatch,
    /// The credential's role may not do this (403).
    InsufficientRole,
    /// No such resource for this tenant (404).
    NotFound,
    /// The endpoint does not take that method (405).
    MethodNotAllowed,
    /// The same `externalId` was sent before with other fields (409).
    IdempotencyConflict,
    /// The tenant's last admin key cannot be revoked (409).
    LastAdminKey,
    /// A limit of the tenant's is reached, e.g. its number of API keys (422).
    LimitReached,
    /// The payment was refunded before (409).
    AlreadyRefunded,
    /// Only succeeded payments can be refunded (409).
    NotRefundable,
    /// The payment's currency is not the tenant's (422).
    CurrencyMismatch,
    /// The payment method is not in the catalogue (422).
    UnknownMethod,
    /// The tenant has not enabled the payment method (422).
    MethodNotEnabled,
    /// A succeeded payment came with a failure reason (422).
    UnexpectedFailureReason,
    /// The payment is dated in the future (422).
    CreatedAtInFuture,
    /// `createdAt` is older than ingest takes (422): history is imported.
    CreatedAtTooOld,
    /// A plain request reached the WebSocket endpoint (426).
    WebsocketRequired,
    /// A dependency is unreachable; retry after `Retry-After` (503).
    Unavailable,
    /// Anything else (500); the server logged it.
    Internal,
    /// A code this build does not know (a newer server): read its status.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub const fn status(self) -> u16 {
        match self {
            Self::InvalidParameter | Self::InvalidBody | Self::InvalidRule => 400,
            Self::MissingCredentials | Self::InvalidCredentials => 401,
            Self::TenantMismatch | Self::InsufficientRole => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::IdempotencyConflict | Self::AlreadyRefunded | Self::NotRefundable | Self::LastAdminKey => 409,
            Self::PayloadTooLarge => 413,
            Self::CurrencyMismatch
            | Self::UnknownMethod
            | Self::MethodNotEnabled
            | Self::UnexpectedFailureReason
            | Self::CreatedAtInFuture
            | Self::CreatedAtTooOld
            | Self::LimitReached => 422,
            Self::UnsupportedMediaType => 415,
            Self::WebsocketRequired => 426,
            Self::Internal | Self::Unknown => 500,
            Self::RateLimited => 429,
            Self::Unavailable => 503,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidParameter => "invalid_parameter",
            Self::InvalidBody => "invalid_body",
            Self::InvalidRule => "invalid_rule",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidCredentials => "invalid_credentials",
            Self::TenantMismatch => "tenant_mismatch",
            Self::InsufficientRole => "insufficient_role",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::LastAdminKey => "last_admin_key",
            Self::LimitReached => "limit_reached",
            Self::AlreadyRefunded => "already_refunded",
            Self::NotRefundable => "not_refundable",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::UnknownMethod => "unknown_method",
            Self::MethodNotEnabled => "method_not_enabled",
            Self::UnexpectedFailureReason => "unexpected_failure_reason",
            Self::CreatedAtInFuture => "created_at_in_future",
            Self::CreatedAtTooOld => "created_at_too_old",
            Self::WebsocketRequired => "websocket_required",
            Self::RateLimited => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::Unknown => "unknown",
        }
    }

    /// Whether a new credential (another key or tenant) is the way out.
    pub const fn needs_credentials(self) -> bool {
        matches!(
            self,
            Self::MissingCredentials | Self::InvalidCredentials | Self::TenantMismatch | Self::InsufficientRole
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_and_write_their_wire_spelling() {
        let body: ErrorBody = serde_json::from_str(r#"{"code":"tenant_mismatch","message":"m"}"#).unwrap();
        assert_eq!(body.code, ErrorCode::TenantMismatch);
        assert_eq!(body.code.status(), 403);
        assert_eq!(
            serde_json::to_value(ErrorCode::InvalidParameter).unwrap(),
            serde_json::json!(ErrorCode::InvalidParameter.as_str())
        );
        let newer: ErrorBody = serde_json::from_str(r#"{"code":"from_the_future","message":"m"}"#).unwrap();
        assert_eq!(newer.code, ErrorCode::Unknown);
    }
}
