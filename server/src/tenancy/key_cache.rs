//! A short-lived, bounded, in-process cache of API-key lookups. Without it
//! every request costs a MongoDB query before any work starts, and under load
//! those queries queue in front of the writes. The price is that a revoked or
//! changed key keeps working for up to [`TTL`] on each instance.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::documents::TenantDoc;

/// How long a lookup is trusted.
pub const TTL: Duration = Duration::from_secs(30);
/// Most keys remembered; beyond that the cache starts over.
const CAPACITY: usize = 10_000;

/// When a lookup was made, and the tenant owning the key (`None`: no tenant).
type Entry = (Instant, Option<Arc<TenantDoc>>);

/// Hash of a key → its last lookup.
#[derive(Clone, Default)]
pub struct KeyCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl KeyCache {
    /// The remembered answer for `hash`, if fresh.
    pub fn get(&self, hash: &str) -> Option<Option<Arc<TenantDoc>>> {
        let entries = self.entries.lock().expect("key cache lock");
        entries
            .get(hash)
            .filter(|(stored, _)| stored.elapsed() < TTL)
            .map(|(_, tenant)| tenant.clone())
    }

    pub fn put(&self, hash: &str, tenant: Option<Arc<TenantDoc>>) {
        let mut entries = self.entries.lock().expect("key cache lock");
        if entries.len() >= CAPACITY {
            entries.retain(|_, (stored, _)| stored.elapsed() < TTL);
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

    #[test]
    fn remembers_answers_including_unknown_keys_and_stays_bounded() {
        let cache = KeyCache::default();
        assert!(cache.get("a").is_none());
        cache.put("a", None);
        assert_eq!(cache.get("a").map(|tenant| tenant.is_none()), Some(true));
        for index in 0..(CAPACITY + 5) {
            cache.put(&index.to_string(), None);
        }
        assert!(cache.entries.lock().unwrap().len() <= CAPACITY);
    }
}
