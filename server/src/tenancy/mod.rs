//! Who is calling and for which tenant (SPEC §4). The tenant comes from the
//! `X-Tenant-Id` header or the subdomain; the credential is a bearer API key
//! that must belong to that tenant and carry the role the endpoint needs,
//! or, on the two URLs browsers cannot send a header to (the live socket, a
//! download), a single-use ticket issued for such a key (`POST /api/tickets`).

pub mod key_cache;
pub mod keys;
pub mod tickets;

use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;
use axum::routing::post;
use axum::{Json, Router};
use paypulse_shared::wire::Ticket;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::documents::{Role, TenantDoc};
use paypulse_shared::error::ErrorCode;
use tickets::{Grant, IssueError};

/// Header that names the tenant when no subdomain does.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// An authenticated caller: its tenant and the role of the key it used.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: Arc<TenantDoc>,
    pub role: Role,
}

impl Caller {
    /// Refuses with 403 unless the key's role grants `role`'s rights.
    pub fn require(self, role: Role) -> Result<Self, ApiError> {
        if self.role.grants(role) {
            Ok(self)
        } else {
            Err(ApiError::new(
                ErrorCode::InsufficientRole,
                format!(
                    "this endpoint needs a {} key; the key sent is a {} key",
                    role.as_str(),
                    self.role.as_str()
                ),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let key = bearer_key(parts)?;
        let requested = requested_tenant(parts, state.config.base_domain.as_deref())?;
        authenticate(state, requested, key).await
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/tickets", post(issue_ticket))
}

/// `POST /api/tickets`: a ticket bound to the caller's tenant and role.
async fn issue_ticket(State(state): State<AppState>, caller: Caller) -> Result<Json<Ticket>, ApiError> {
    let grant = Grant {
        tenant: caller.tenant.id.clone(),
        role: caller.role,
    };
    let expires_at =
        state.config.clock.now() + chrono::TimeDelta::from_std(state.tickets.ttl()).unwrap_or(chrono::TimeDelta::MAX);
    let ticket = state.tickets.issue(grant).await.map_err(|error| match error {
        IssueError::Full => ApiError::Unavailable(error.to_string()),
        IssueError::Redis(error) => ApiError::Internal(anyhow::Error::new(error).context("issuing a ticket")),
    })?;
    Ok(Json(Ticket { ticket, expires_at }))
}

/// The caller of a URL credential: a ticket (single use) when one is given,
/// else the key of `Authorization` or of the `key` query parameter. The
/// tenant is the one the request names (`tenant` parameter, header or
/// subdomain) or, for a ticket, the ticket's.
pub async fn url_caller(
    state: &AppState,
    parts: &Parts,
    tenant: Option<&str>,
    key: Option<&str>,
    ticket: Option<&str>,
) -> Result<Caller, ApiError> {
    let requested = match tenant {
        Some(tenant) => Some(tenant.to_owned()),
        None => requested_tenant(parts, state.config.base_domain.as_deref())?,
    };
    if let Some(ticket) = ticket {
        return redeem_ticket(state, requested, ticket).await;
    }
    let key = match (key, optional_bearer_key(parts)?) {
        (_, Some(header)) => header,
        (Some(key), None) => key,
        (None, None) => {
            return Err(ApiError::new(
                ErrorCode::MissingCredentials,
                "send a ticket from POST /api/tickets as the 'ticket' query parameter, or an API key as 'Authorization: Bearer <key>'",
            ));
        }
    };
    authenticate(state, requested, key).await
}

/// The caller a ticket was issued to; 401 when it is unknown, expired or
/// used, 403 when the request names another tenant.
async fn redeem_ticket(state: &AppState, requested: Option<String>, ticket: &str) -> Result<Caller, ApiError> {
    let grant = state
        .tickets
        .redeem(ticket)
        .await
        .map_err(|error| ApiError::Internal(anyhow::Error::new(error).context("redeeming a ticket")))?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidCredentials,
                "the ticket is not valid: tickets expire after a minute and are good for one use; ask POST /api/tickets for a new one",
            )
        })?;
    if requested.as_ref().is_some_and(|requested| *requested != grant.tenant) {
        return Err(ApiError::new(
            ErrorCode::TenantMismatch,
            format!(
                "the ticket does not belong to tenant '{}'",
                requested.unwrap_or_default()
            ),
        ));
    }
    let tenant = state
        .store
        .tenant(&grant.tenant)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidCredentials, "the ticket's tenant no longer exists"))?;
    Ok(Caller {
        tenant: Arc::new(tenant),
        role: grant.role,
    })
}

/// Checks that `key` is valid and belongs to the `requested` tenant: 401 for
/// an unknown key, 400 when no tenant is named, 403 for another tenant's key.
pub async fn authenticate(state: &AppState, requested: Option<String>, key: &str) -> Result<Caller, ApiError> {
    let hash = keys::hash_key(key);
    let tenant = match state.keys.get(&hash) {
        Some(known) => Some(known),
        None => {
            let found = state.store.tenant_by_key_hash(&hash).await?.map(Arc::new);
            if let Some(tenant) = &found {
                state.keys.put(&hash, Arc::clone(tenant));
            }
            found
        }
    };
    let Some(tenant) = tenant else {
        return Err(ApiError::new(ErrorCode::InvalidCredentials, "the API key is not valid"));
    };
    let Some(requested) = requested else {
        return Err(ApiError::invalid_parameter(
            "no tenant given: send the X-Tenant-Id header or use the tenant's subdomain",
        ));
    };
    if tenant.id != requested {
        return Err(ApiError::new(
            ErrorCode::TenantMismatch,
            format!("the API key does not belong to tenant '{requested}'"),
        ));
    }
    let role = tenant
        .api_keys
        .iter()
        .find(|stored| stored.hash == hash)
        .map(|stored| stored.role);
    let role = role.ok_or_else(|| ApiError::new(ErrorCode::InvalidCredentials, "the API key is not valid"))?;
    Ok(Caller { tenant, role })
}

/// The bearer key of a request, if it sent one.
pub fn optional_bearer_key(parts: &Parts) -> Result<Option<&str>, ApiError> {
    if parts.headers.contains_key(AUTHORIZATION) {
        bearer_key(parts).map(Some)
    } else {
        Ok(None)
    }
}

fn bearer_key(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::new(
            ErrorCode::MissingCredentials,
            "send an API key as 'Authorization: Bearer <key>'",
        )
    };
    let header = parts.headers.get(AUTHORIZATION).ok_or_else(missing)?;
    let value = header.to_str().map_err(|_| missing())?;
    let (scheme, key) = value.split_once(' ').ok_or_else(missing)?;
    let key = key.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || key.is_empty() {
        return Err(missing());
    }
    Ok(key)
}

/// The tenant the request names: the header wins; otherwise the first label
/// of a host under the configured base domain.
pub fn requested_tenant(parts: &Parts, base_domain: Option<&str>) -> Result<Option<String>, ApiError> {
    if let Some(header) = parts.headers.get(TENANT_HEADER) {
        let tenant = header
            .to_str()
            .map_err(|_| ApiError::invalid_parameter("X-Tenant-Id is not valid text"))?;
        let tenant = tenant.trim();
        if tenant.is_empty() {
            return Err(ApiError::invalid_parameter("X-Tenant-Id is empty"));
        }
        return Ok(Some(tenant.to_owned()));
    }
    let Some(base_domain) = base_domain else {
        return Ok(None);
    };
    let host = parts
        .headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or_default();
    Ok(tenant_from_host(host, base_domain))
}

/// `acme.paypulse.local:8080` under `paypulse.local` is `acme`.
pub fn tenant_from_host(host: &str, base_domain: &str) -> Option<String> {
    let host = host.rsplit_once(':').map_or(host, |(name, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            name
        } else {
            host
        }
    });
    let host = host.to_ascii_lowercase();
    let label = host
        .strip_suffix(&base_domain.to_ascii_lowercase())?
        .strip_suffix('.')?;
    (!label.is_empty() && !label.contains('.')).then(|| label.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tenant_from_the_first_label_under_the_base_domain() {
        assert_eq!(
            tenant_from_host("acme.paypulse.local", "paypulse.local").as_deref(),
            Some("acme")
        );
        assert_eq!(
            tenant_from_host("Acme.Paypulse.Local:8080", "paypulse.local").as_deref(),
            Some("acme")
        );
        assert_eq!(tenant_from_host("paypulse.local", "paypulse.local"), None);
        assert_eq!(tenant_from_host("a.b.paypulse.local", "paypulse.local"), None);
        assert_eq!(tenant_from_host("acme.example.com", "paypulse.local"), None);
        assert_eq!(tenant_from_host("evilpaypulse.local", "paypulse.local"), None);
    }
}
