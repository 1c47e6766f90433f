//! Tickets (SPEC §3 `POST /api/tickets`): short-lived, single-use
//! credentials for the two URLs a browser cannot put a header on, the live
//! socket and a download, so a key never goes into a URL.
//!
//! A ticket is 192 random bits; only its SHA-256 is kept, with the tenant
//! and role of the key that asked for it and its expiry. Redeeming takes it
//! away atomically: with Redis `SET PX NX` then `GETDEL`, so a ticket issued
//! by one instance is good on any instance, once; without Redis a map of this
//! process, pruned as it goes and bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use redis::aio::ConnectionManager;

use super::keys::hash_key;
use crate::store::documents::Role;

/// How long a ticket is good for (SPEC §3).
pub const TTL: Duration = Duration::from_secs(60);
/// Most unredeemed tickets one process holds without Redis; beyond it new
/// ones are refused (503) until old ones expire.
pub const MAX_OUTSTANDING: usize = 100_000;

/// What a ticket stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub tenant: String,
    pub role: Role,
}

/// Why no ticket was issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("too many tickets are outstanding; retry shortly")]
    Full,
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Issues and redeems tickets.
pub struct Tickets {
    ttl: Duration,
    store: Backend,
}

enum Backend {
    Local(Mutex<Local>),
    Redis { manager: ConnectionManager, prefix: String },
}

#[derive(Default)]
struct Local {
    grants: HashMap<String, (Grant, Instant)>,
    /// Hashes in the order they were issued, which is also expiry order.
    issued: VecDeque<(Instant, String)>,
}

impl Local {
    fn prune(&mut self, now: Instant) {
        while let Some((expires, hash)) = self.issued.front() {
            if *expires > now {
                break;
            }
            self.grants.remove(hash);
            self.issued.pop_front();
        }
    }
}

impl Tickets {
    /// Tickets of this process alone.
    pub fn local(ttl: Duration) -> Self {
        Self {
            ttl,
            store: Backend::Local(Mutex::default()),
        }
    }

    /// Tickets shared by every instance through Redis.
    pub fn redis(manager: ConnectionManager, prefix: &str, ttl: Duration) -> Self {
        Self {
            ttl,
            store: Backend::Redis {
                manager,
                prefix: prefix.to_owned(),
            },
        }
    }

    /// How long a ticket issued now is good for.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new ticket for `grant`.
    pub async fn issue(&self, grant: Grant) -> Result<String, IssueError> {
        let mut secret = [0_u8; 24];
        rand::rng().fill_bytes(&mut secret);
        let ticket = format!("tk_{}", URL_SAFE_NO_PAD.encode(secret));
        let hash = hash_key(&ticket);
        match &self.store {
            Backend::Local(local) => {
                let now = Instant::now();
                let mut local = local.lock().expect("tickets lock");
                local.prune(now);
                if local.grants.len() >= MAX_OUTSTANDING {
                    return Err(IssueError::Full);
                }
                let expires = now + self.ttl;
                local.grants.insert(hash.clone(), (grant, expires));
                local.issued.push_back((expires, hash));
            }
            Backend::Redis { manager, prefix } => {
                let mut connection = manager.clone();
                redis::cmd("SET")
                    .arg(redis_key(prefix, &hash))
                    .arg(format!("{}\n{}", grant.role.as_str(), grant.tenant))
                    .arg("PX")
                    // Redis refuses an expiry of zero.
                    .arg((self.ttl.as_millis() as u64).max(1))
                    .arg("NX")
                    .query_async::<()>(&mut connection)
                    .await?;
            }
        }
        Ok(ticket)
    }

    /// What `ticket` grants, if it was issued, has not expired and was not
    /// redeemed before; it cannot be redeemed again.
    pub async fn redeem(&self, ticket: &str) -> Result<Option<Grant>, redis::RedisError> {
        let hash = hash_key(ticket);
        match &self.store {
            Backend::Local(local) => {
                let now = Instant::now();
                let mut local = local.lock().expect("tickets lock");
                local.prune(now);
                Ok(local
                    .grants
                    .remove(&hash)
                    .and_then(|(grant, expires)| (expires > now).then_some(grant)))
            }
            Backend::Redis { manager, prefix } => {
                let mut connection = manager.clone();
                let value: Option<String> = redis::cmd("GETDEL")
                    .arg(redis_key(prefix, &hash))
                    .query_async(&mut connection)
                    .await?;
                Ok(value.and_then(|value| {
                    let (role, tenant) = value.split_once('\n')?;
                    Some(Grant {
                        tenant: tenant.to_owned(),
                        role: Role::parse(role)?,
                    })
                }))
            }
        }
    }
}

/// Tickets have a key per ticket; `{ticket}` keeps them in one hash slot of
/// their own on a Redis Cluster.
fn redis_key(prefix: &str, hash: &str) -> String {
    format!("{prefix}{{ticket}}:{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> Grant {
        Grant {
            tenant: "acme".into(),
            role: Role::Viewer,
        }
    }

    #[tokio::test]
    async fn a_ticket_is_good_once() {
        let tickets = Tickets::local(TTL);
        let ticket = tickets.issue(grant()).await.unwrap();
        assert!(ticket.starts_with("tk_") && ticket.len() > 30, "{ticket}");
        assert_eq!(tickets.redeem(&ticket).await.unwrap(), Some(grant()));
        assert_eq!(tickets.redeem(&ticket).await.unwrap(), None, "single use");
        assert_eq!(tickets.redeem("tk_forged").await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_expired_ticket_is_refused_and_forgotten() {
        let tickets = Tickets::local(Duration::ZERO);
        let ticket = tickets.issue(grant()).await.unwrap();
        assert_eq!(tickets.redeem(&ticket).await.unwrap(), None);
        let Backend::Local(local) = &tickets.store else {
            unreachable!("a local store")
        };
        assert!(local.lock().unwrap().grants.is_empty(), "pruned");
    }
}
