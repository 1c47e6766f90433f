//! Who is calling and for which tenant (SPEC §4). The tenant comes from the
//! `X-Tenant-Id` header or the subdomain; the credential is a bearer API key
//! that must belong to that tenant and carry the role the endpoint needs.

pub mod key_cache;
pub mod keys;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::documents::{Role, TenantDoc};
use paypulse_shared::error::ErrorCode;

/// Header that names the tenant when no subdomain does.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// An authenticated caller: its tenant and the role of the key it used.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: Arc<TenantDoc>,
    pub role: Role,
}

impl Caller {
    /// Refuses with 403 unless the key has `role`.
    pub fn require(self, role: Role) -> Result<Self, ApiError> {
        if self.role == role {
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
