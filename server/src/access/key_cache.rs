//! API keys found in MongoDB, remembered by each instance (bounded, and
//! trusted for a TTL at most: the tenant document they carry may change).
//! Without it every request costs a MongoDB query before any work starts,
//! and under load those queries queue in front of the writes.
//!
//! Invalidation is by generation, as the analytics cache's: revoking a key
//! bumps the keys' generation (in Redis, for every instance, or in this
//! process without Redis), and an entry remembered under an older one is not
//! trusted, so a revoked key stops working everywhere at once rather than
//! after the TTL. The generation is read before MongoDB is, so a lookup that
//! races a revocation is remembered under the old generation. When Redis
//! does not answer, the cache steps aside: every lookup goes to MongoDB,
//! and Redis is asked again a second later, so an unreachable Redis costs
//! one request its timeout, not every request.
//! Unknown keys are never remembered: a key created a moment after someone
//! tried it works at once.
//!
//! While MongoDB cannot be reached, a key looked up in the current
//! generation stays good past its TTL (up to [`STALE_IF_UNREACHABLE`]):
//! nothing can revoke a key or change its tenant while the database is
//! down, and a revocation before the outage moved the generation. So an
//! outage leaves cached reads and live feeds working for known callers,
//! rather than turning every request into a 503 after 30 s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::store::documents::TenantDoc;

/// How long a lookup is trusted by default.
pub const TTL: Duration = Duration::from_secs(30);
/// How long past its TTL a lookup is still used while MongoDB is unreachable.
pub const STALE_IF_UNREACHABLE: Duration = Duration::from_secs(15 * 60);
/// Most keys remembered.
const CAPACITY: u64 = 10_000;
/// How long the cache stays aside after Redis failed to answer.
const ASIDE_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Where the keys' generation is kept.
#[derive(Clone)]
enum Generation {
    Local(Arc<AtomicU64>),
    Redis {
        connection: ConnectionManager,
        key: String,
        /// When a read last failed.
        failed: Arc<Mutex<Option<Instant>>>,
    },
}

/// A key's lookup: the tenant owning it, found in which generation, when.
#[derive(Clone)]
struct Entry {
    generation: u64,
    found: Instant,
    tenant: Arc<TenantDoc>,
}

/// Hash of a key → its lookup.
#[derive(Clone)]
pub struct KeyCache {
    entries: moka::sync::Cache<String, Entry>,
    /// How long a lookup is trusted while MongoDB answers.
    ttl: Duration,
    generation: Generation,
}

impl KeyCache {
    /// A cache of this process alone, trusting a lookup for `ttl` at most.
    pub fn local(ttl: Duration) -> Self {
        Self::with(ttl, Generation::Local(Arc::default()))
    }

    /// A cache whose invalidations reach every instance sharing `prefix`
    /// of Redis.
    pub fn redis(connection: ConnectionManager, prefix: &str, ttl: Duration) -> Self {
        let key = format!("{prefix}:keys:gen");
        Self::with(
            ttl,
            Generation::Redis {
                connection,
                key,
                failed: Arc::default(),
            },
        )
    }

    fn with(ttl: Duration, generation: Generation) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl + STALE_IF_UNREACHABLE)
                .build(),
            ttl,
            generation,
        }
    }

    /// The keys' current generation; `None` when it cannot be read (the
    /// cache is then not to be used).
    pub async fn generation(&self) -> Option<u64> {
        match &self.generation {
            Generation::Local(generation) => Some(generation.load(Ordering::SeqCst)),
            Generation::Redis {
                connection,
                key,
                failed,
            } => {
                let recently = failed
                    .lock()
                    .expect("key cache lock")
                    .is_some_and(|at| at.elapsed() < ASIDE_AFTER_FAILURE);
                if recently {
                    return None;
                }
                let read: redis::RedisResult<Option<u64>> = connection.clone().get(key).await;
                match read {
                    Ok(generation) => Some(generation.unwrap_or(0)),
                    Err(error) => {
                        tracing::warn!(%error, "key cache: generation unreadable, looking keys up in mongodb");
                        *failed.lock().expect("key cache lock") = Some(Instant::now());
                        None
                    }
                }
            }
        }
    }

    /// The tenant that owned the key of `hash` in `generation`, found
    /// within the TTL.
    pub fn get(&self, hash: &str, generation: u64) -> Option<Arc<TenantDoc>> {
        self.lookup(hash, generation, self.ttl)
    }

    /// The same, found within the TTL plus [`STALE_IF_UNREACHABLE`]: only
    /// for when MongoDB cannot be asked.
    pub fn get_stale(&self, hash: &str, generation: u64) -> Option<Arc<TenantDoc>> {
        self.lookup(hash, generation, self.ttl + STALE_IF_UNREACHABLE)
    }

    fn lookup(&self, hash: &str, generation: u64, age: Duration) -> Option<Arc<TenantDoc>> {
        self.entries
            .get(hash)
            .filter(|entry| entry.generation == generation && entry.found.elapsed() < age)
            .map(|entry| entry.tenant)
    }

    /// Remembers that the key of `hash` belonged to `tenant` in `generation`.
    pub fn put(&self, hash: &str, generation: u64, tenant: Arc<TenantDoc>) {
        let entry = Entry {
            generation,
            found: Instant::now(),
            tenant,
        };
        self.entries.insert(hash.to_owned(), entry);
    }

    /// Makes every remembered key untrusted, on every instance.
    pub async fn invalidate(&self) -> redis::RedisResult<()> {
        match &self.generation {
            Generation::Local(generation) => {
                generation.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Generation::Redis { connection, key, .. } => connection.clone().incr(key, 1).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> Arc<TenantDoc> {
        Arc::new(TenantDoc::sample("UTC", &["card"]))
    }

    #[tokio::test]
    async fn remembers_found_keys_until_invalidated_and_stays_bounded() {
        let cache = KeyCache::local(TTL);
        let generation = cache.generation().await.unwrap();
        assert!(cache.get("a", generation).is_none());
        cache.put("a", generation, tenant());
        assert_eq!(
            cache.get("a", generation).map(|tenant| tenant.id.clone()).as_deref(),
            Some("acme")
        );
        cache.invalidate().await.unwrap();
        let next = cache.generation().await.unwrap();
        assert_ne!(next, generation);
        assert!(cache.get("a", next).is_none(), "an invalidated entry is not trusted");

        for index in 0..(CAPACITY + 500) {
            cache.put(&index.to_string(), next, tenant());
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.entry_count() <= CAPACITY);
    }

    #[tokio::test]
    async fn trusts_a_lookup_for_its_ttl_at_most() {
        let cache = KeyCache::local(Duration::from_millis(1));
        cache.put("a", 0, tenant());
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            cache.get("a", 0).is_none(),
            "a lookup older than the TTL is not trusted"
        );
        assert!(
            cache.get_stale("a", 0).is_some(),
            "while MongoDB is unreachable it is still used"
        );
        assert!(
            cache.get_stale("a", 1).is_none(),
            "but never across a revocation (a new generation)"
        );
    }
}
