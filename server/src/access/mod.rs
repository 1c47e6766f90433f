//! Access (SPEC §4): the one layer that turns a request's credential into a
//! caller. A handler names the role it needs by its extractor ([`Viewer`],
//! [`Ingest`], [`Admin`]); nothing else reads a credential, looks a key up
//! or redeems a ticket. Where the credential is read is
//! [`credentials`]; keys are checked against the tenant's stored hashes
//! (through [`key_cache`]); tickets (`POST /api/tickets`) stand for a key on
//! the two URLs a browser cannot give a header, the live socket and a
//! download.

pub mod api_keys;
pub mod audit_trail;
pub mod credentials;
pub mod key_cache;
pub mod keys;
pub mod rate;
pub mod tickets;

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use paypulse_shared::wire::Ticket;

use crate::clock::Clock;
use crate::error::ApiError;
use crate::routes::{Needs, Route};
use crate::store::Store;
use crate::store::audit::{AuditAction, AuditDoc};
use crate::store::documents::{Role, TenantDoc};
use crate::store::tenants::RevokeKey;
use credentials::{Credential, Presented};
use key_cache::KeyCache;
use paypulse_shared::error::ErrorCode;
use tickets::{Grant, IssueError, Tickets};

pub use credentials::{TENANT_HEADER, UrlCredentials};

/// What the access layer needs, and nothing else of the server: a
/// sub-state of [`AppState`].
#[derive(Clone)]
pub struct Access {
    store: Store,
    keys: KeyCache,
    tickets: Arc<Tickets>,
    limiter: rate::Limiter,
    /// Tenants are the first label of hosts under it, when set.
    base_domain: Option<Arc<str>>,
    clock: Clock,
}

/// An authenticated caller: its tenant and the role of the key it used.
#[derive(Clone, Debug)]
pub struct Caller {
    pub tenant: Arc<TenantDoc>,
    pub role: Role,
    /// The id of the key presented (none for a ticket): what the audit
    /// trail and the logs name.
    pub key_id: Option<String>,
}

impl Caller {
    /// Who the audit trail says made a change.
    pub fn actor(&self) -> &str {
        self.key_id.as_deref().unwrap_or("ticket")
    }
}

impl Caller {
    /// Refuses with 403 unless the key's role grants `role`'s rights.
    fn require(self, role: Role) -> Result<Self, ApiError> {
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

impl<S> FromRequestParts<S> for Caller
where
    Access: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let access = Access::from_ref(state);
        let presented = Presented::read(parts, access.base_domain.as_deref())?;
        access.caller(presented).await
    }
}

/// Extractors for a caller whose key grants a role: 401 without a valid
/// credential, 403 for another tenant's or a lesser key.
macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name(pub Caller);

        impl<S> FromRequestParts<S> for $name
        where
            Access: FromRef<S>,
            S: Send + Sync,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                Caller::from_request_parts(parts, state).await?.require($role).map(Self)
            }
        }
    };
}

role_extractor!(
    /// A caller that may read the tenant's data and watch its live feed.
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// A caller that may write payments.
    Ingest,
    Role::Ingest
);
role_extractor!(
    /// A caller that may change the tenant's settings (alert rules).
    Admin,
    Role::Admin
);

impl Access {
    pub fn new(
        store: Store,
        keys: KeyCache,
        tickets: Tickets,
        rates: rate::RateLimits,
        base_domain: Option<&str>,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            keys,
            tickets: Arc::new(tickets),
            limiter: rate::Limiter::new(rates),
            base_domain: base_domain.map(Arc::from),
            clock,
        }
    }

    /// Revokes the key `key_id` of the caller's tenant (unless it is the
    /// tenant's last admin key), recording who did: from then on it works
    /// on no instance.
    pub async fn revoke_key(&self, by: &Caller, key_id: &str) -> Result<RevokeKey, ApiError> {
        let tenant_id = &by.tenant.id;
        let audit = AuditDoc::new(
            tenant_id,
            by.actor(),
            AuditAction::KeyRevoked,
            key_id.to_owned(),
            self.clock.now(),
        );
        let revoked = self.store.revoke_api_key(tenant_id, key_id, &audit).await?;
        if revoked != RevokeKey::Revoked {
            return Ok(revoked);
        }
        if let Err(error) = self.keys.invalidate().await {
            // The key is gone from MongoDB, but an instance may still trust
            // it until its cache's TTL: the caller must know.
            return Err(ApiError::Internal(anyhow::Error::new(error).context(
                "the key is revoked, but other instances may accept it until their key cache expires (30 s)",
            )));
        }
        Ok(revoked)
    }

    /// The tenant holding the key of `hash`, from MongoDB; at once an
    /// error while the database was just found unreachable.
    async fn look_up(&self, hash: &str) -> mongodb::error::Result<Option<TenantDoc>> {
        if let Some(error) = self.store.outage().current() {
            return Err(error);
        }
        let found = self.store.tenant_by_key_hash(hash).await;
        if let Err(error) = &found {
            self.store.outage().saw(error);
        }
        found
    }

    /// The caller `presented` proves.
    async fn caller(&self, presented: Presented) -> Result<Caller, ApiError> {
        match presented.credential {
            Credential::Key(key) => self.authenticate(presented.tenant, &key).await,
            Credential::Ticket(ticket) => self.redeem_ticket(presented.tenant, &ticket).await,
        }
    }

    /// Checks that `key` is valid and belongs to the `requested` tenant: 401
    /// for an unknown key, 400 when no tenant is named, 403 for another
    /// tenant's key.
    async fn authenticate(&self, requested: Option<String>, key: &str) -> Result<Caller, ApiError> {
        let hash = keys::hash_key(key);
        let generation = self.keys.generation().await;
        let tenant = match generation.and_then(|generation| self.keys.get(&hash, generation)) {
            Some(known) => Some(known),
            None => match self.look_up(&hash).await {
                Ok(found) => {
                    let found = found.map(Arc::new);
                    if let (Some(tenant), Some(generation)) = (&found, generation) {
                        self.keys.put(&hash, generation, Arc::clone(tenant));
                    }
                    found
                }
                // MongoDB is down: a key known in this generation is still
                // good (see `key_cache`); an unknown one cannot be checked.
                Err(error) if crate::store::is_unreachable(&error) => Some(
                    generation
                        .and_then(|generation| self.keys.get_stale(&hash, generation))
                        .ok_or_else(|| ApiError::from(error))?,
                ),
                Err(error) => return Err(error.into()),
            },
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
        let stored = tenant.api_keys.iter().find(|stored| stored.hash == hash);
        let stored = stored.ok_or_else(|| ApiError::new(ErrorCode::InvalidCredentials, "the API key is not valid"))?;
        if !self.limiter.admit(&stored.id, stored.role) {
            return Err(ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "API key {} is over its request rate on this server; slow down and retry after the Retry-After delay",
                    stored.id
                ),
            ));
        }
        let (role, key_id) = (stored.role, Some(stored.id.clone()));
        Ok(Caller { tenant, role, key_id })
    }

    /// The caller a ticket was issued to; 401 when it is unknown, expired
    /// or used, 403 when the request names another tenant.
    async fn redeem_ticket(&self, requested: Option<String>, ticket: &str) -> Result<Caller, ApiError> {
        let grant = self
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
        let tenant = self
            .store
            .tenant(&grant.tenant)
            .await?
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidCredentials, "the ticket's tenant no longer exists"))?;
        Ok(Caller {
            tenant: Arc::new(tenant),
            role: grant.role,
            key_id: None,
        })
    }
}

pub fn routes() -> Vec<Route> {
    let mut routes = vec![Route::post("/tickets", Needs::AnyKey, issue_ticket)];
    routes.extend(api_keys::routes());
    routes.extend(audit_trail::routes());
    routes
}

/// `POST /api/tickets`: a ticket bound to the caller's tenant and role.
async fn issue_ticket(State(access): State<Access>, caller: Caller) -> Result<Json<Ticket>, ApiError> {
    let grant = Grant {
        tenant: caller.tenant.id.clone(),
        role: caller.role,
    };
    let expires_at =
        access.clock.now() + chrono::TimeDelta::from_std(access.tickets.ttl()).unwrap_or(chrono::TimeDelta::MAX);
    let ticket = access.tickets.issue(grant).await.map_err(|error| match error {
        IssueError::Full => ApiError::Unavailable(error.to_string()),
        IssueError::Redis(error) => ApiError::Internal(anyhow::Error::new(error).context("issuing a ticket")),
    })?;
    Ok(Json(Ticket { ticket, expires_at }))
}
