//! A short-lived, bounded, in-process cache of API keys found in MongoDB.
//! Without it every request costs a MongoDB query before any work starts,
//! and under load those queries queue in front of the writes. The price is
//! that a revoked or changed key keeps working for up to the cache's TTL (30 s
//! by default) on each instance. Unknown keys are not remembered: a key
//! created a moment after someone tried it works at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::documents::TenantDoc;

/// How long a lookup is trusted by default.
pub const TTL: Duration = Duration::from_secs(30);
/// Most keys remembered; beyond that the cache starts over.
const CAPACITY: usize = 10_000;

/// When a key was found, and the tenant owning it.
type Entry = (Instant, Arc<TenantDoc>);

/// Hash of a key → its entry.
#[derive(Clone)]
pub struct KeyCache {
    ttl: Duration,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::new(TTL)
    }
}

impl KeyCache {
    /// A cache that trusts a lookup for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::default(),
        }
    }

    /// The tenant that owned the key of `hash` less than the TTL ago.
    pub fn get(&self, hash: &str) -> Option<Arc<TenantDoc>> {
        let entries = self.entries.lock().expect("key cache lock");
        entries
            .get(hash)
            .filter(|(stored, _)| stored.elapsed() < self.ttl)
            .map(|(_, tenant)| Arc::clone(tenant))
    }

    /// Remembers that the key of `hash` belongs to `tenant`.
    pub fn put(&self, hash: &str, tenant: Arc<TenantDoc>) {
        let mut entries = self.entries.lock().expect("key cache lock");
        if entries.len() >= CAPACITY {
            entries.retain(|_, (stored, _)| stored.elapsed() < self.ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(hash.to_owned(), (Instant::now(), tenant));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::DateTime as BsonDateTime;

    fn tenant() -> Arc<TenantDoc> {
        Arc::new(TenantDoc {
            id: "acme".into(),
            name: "Acme".into(),
            timezone: "UTC".into(),
            currency: "USD".into(),
            methods: vec!["card".into()],
            alert_rules: None,
            api_keys: Vec::new(),
            created_at: BsonDateTime::now(),
        })
    }

    #[test]
    fn remembers_found_keys_for_its_ttl_and_stays_bounded() {
        let cache = KeyCache::default();
        assert!(cache.get("a").is_none());
        cache.put("a", tenant());
        assert_eq!(cache.get("a").map(|tenant| tenant.id.clone()).as_deref(), Some("acme"));
        for index in 0..(CAPACITY + 5) {
            cache.put(&index.to_string(), tenant());
        }
        assert!(cache.entries.lock().unwrap().len() <= CAPACITY);

        let expired = KeyCache::new(Duration::ZERO);
        expired.put("a", tenant());
        assert!(expired.get("a").is_none(), "a lookup older than the TTL is not trusted");
    }
}
