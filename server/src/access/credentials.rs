//! Where a request carries its credential and names its tenant (SPEC §4).
//!
//! The tenant comes from the `X-Tenant-Id` header or the subdomain; the
//! credential is a bearer API key in `Authorization`. On the routes marked
//! with [`UrlCredentials`] (the live socket and the downloads, which a
//! browser cannot give a header), the URL may carry it instead: a
//! single-use `ticket`, or a `key` with its `tenant`.

use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::request::Parts;

use crate::error::ApiError;
use paypulse_shared::error::ErrorCode;

/// Header that names the tenant when no subdomain does.
pub const TENANT_HEADER: &str = "x-tenant-id";

/// Marks a route whose URL may carry the credential (a route layer:
/// `.route_layer(Extension(UrlCredentials))`).
#[derive(Clone, Copy, Debug)]
pub struct UrlCredentials;

/// What proves who the caller is.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential {
    Key(String),
    /// From `POST /api/tickets`; good once.
    Ticket(String),
}

/// A request's credential and the tenant it names, if any (a ticket names
/// its own).
#[derive(Debug, PartialEq, Eq)]
pub struct Presented {
    pub credential: Credential,
    pub tenant: Option<String>,
}

impl Presented {
    /// Reads the credential where the route allows it: the header always;
    /// on a [`UrlCredentials`] route a ticket first, then the header's key,
    /// then the URL's. A missing or malformed one is 401.
    pub fn read(parts: &Parts, base_domain: Option<&str>) -> Result<Self, ApiError> {
        if parts.extensions.get::<UrlCredentials>().is_none() {
            let key = bearer_key(parts)?;
            return Ok(Self {
                credential: Credential::Key(key.to_owned()),
                tenant: requested_tenant(parts, base_domain)?,
            });
        }
        let (mut tenant, mut key, mut ticket) = (None, None, None);
        for (name, value) in form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
            let slot = match name.as_ref() {
                "tenant" => &mut tenant,
                "key" => &mut key,
                "ticket" => &mut ticket,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        let tenant = match tenant {
            Some(tenant) => Some(tenant),
            None => requested_tenant(parts, base_domain)?,
        };
        let credential = match (ticket, optional_bearer_key(parts)?, key) {
            (Some(ticket), _, _) => Credential::Ticket(ticket),
            (None, Some(header), _) => Credential::Key(header.to_owned()),
            (None, None, Some(key)) => Credential::Key(key),
            (None, None, None) => {
                return Err(ApiError::new(
                    ErrorCode::MissingCredentials,
                    "send a ticket from POST /api/tickets as the 'ticket' query parameter, or an API key as 'Authorization: Bearer <key>'",
                ));
            }
        };
        Ok(Self { credential, tenant })
    }
}

/// The bearer key of a request, if it sent one.
fn optional_bearer_key(parts: &Parts) -> Result<Option<&str>, ApiError> {
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
fn requested_tenant(parts: &Parts, base_domain: Option<&str>) -> Result<Option<String>, ApiError> {
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
    use axum::http::Request;

    fn parts(uri: &str, headers: &[(&str, &str)], url_credentials: bool) -> Parts {
        let mut request = Request::builder().uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        if url_credentials {
            parts.extensions.insert(UrlCredentials);
        }
        parts
    }

    fn presented(credential: Credential, tenant: Option<&str>) -> Presented {
        Presented {
            credential,
            tenant: tenant.map(str::to_owned),
        }
    }

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

    #[test]
    fn a_url_carries_the_credential_only_where_the_route_allows_it() {
        let header = [("authorization", "Bearer pk_h"), ("x-tenant-id", "acme")];
        let from_header = presented(Credential::Key("pk_h".into()), Some("acme"));
        assert_eq!(
            Presented::read(&parts("/x?key=pk_u&tenant=globex", &header, false), None).unwrap(),
            from_header,
            "an ordinary route reads the header alone"
        );
        assert!(Presented::read(&parts("/x?key=pk_u&tenant=acme", &[], false), None).is_err());
        assert_eq!(
            Presented::read(&parts("/x?key=pk_u&tenant=globex", &[], true), None).unwrap(),
            presented(Credential::Key("pk_u".into()), Some("globex"))
        );
        assert_eq!(
            Presented::read(&parts("/x?key=pk_u", &header, true), None).unwrap(),
            from_header,
            "the header's key wins over the URL's"
        );
        assert_eq!(
            Presented::read(&parts("/x?ticket=t1&key=pk_u", &header, true), None).unwrap(),
            presented(Credential::Ticket("t1".into()), Some("acme")),
            "a ticket wins over any key"
        );
        assert!(Presented::read(&parts("/x?tenant=acme", &[], true), None).is_err());
    }

    #[test]
    fn the_subdomain_names_the_tenant_when_no_header_does() {
        let host = [("authorization", "Bearer pk_h"), ("host", "acme.paypulse.local")];
        assert_eq!(
            Presented::read(&parts("/x", &host, false), Some("paypulse.local"))
                .unwrap()
                .tenant
                .as_deref(),
            Some("acme")
        );
        let both = [
            ("authorization", "Bearer pk_h"),
            ("host", "acme.paypulse.local"),
            ("x-tenant-id", "globex"),
        ];
        assert_eq!(
            Presented::read(&parts("/x", &both, false), Some("paypulse.local"))
                .unwrap()
                .tenant
                .as_deref(),
            Some("globex"),
            "the header wins"
        );
    }
}
