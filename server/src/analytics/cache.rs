//! The analytics cache: rendered JSON of metrics and trend responses, per
//! tenant, in Redis when configured (shared by every instance) or in this
//! process otherwise.
//!
//! Invalidation is by generation, not by TTL: every committed write bumps the
//! tenant's generation (before the writer answers), and cache keys include it,
//! so a read right after a write never finds an answer computed before it.
//! Stale generations simply expire. Concurrent misses for one key in this
//! process wait for a single computation (stampede protection); across
//! instances at most one computation per instance runs. When Redis fails, the
//! cache steps aside and answers are computed directly.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::error::ApiResult;

/// How long a cached answer lives at most.
const TTL: Duration = Duration::from_secs(60);
/// Most answers the in-process cache holds.
const LOCAL_CAPACITY: usize = 10_000;

enum Backend {
    Redis {
        connection: ConnectionManager,
        prefix: String,
    },
    Local {
        generations: Mutex<HashMap<String, u64>>,
        entries: Mutex<HashMap<String, (Instant, String)>>,
    },
}

/// Cached analytics answers; clones share everything.
#[derive(Clone)]
pub struct AnalyticsCache {
    backend: Arc<Backend>,
    in_flight: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    computations: Arc<AtomicU64>,
}

impl AnalyticsCache {
    pub fn redis(connection: ConnectionManager, prefix: &str) -> Self {
        Self::with(Backend::Redis {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    pub fn local() -> Self {
        Self::with(Backend::Local {
            generations: Mutex::default(),
            entries: Mutex::default(),
        })
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend: Arc::new(backend),
            in_flight: Arc::default(),
            computations: Arc::default(),
        }
    }

    /// How many answers were computed rather than served from the cache.
    pub fn computations(&self) -> u64 {
        self.computations.load(Ordering::Relaxed)
    }

    /// Makes every cached answer of `tenant` unreachable.
    pub async fn invalidate(&self, tenant: &str) {
        match &*self.backend {
            Backend::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                let bumped: redis::RedisResult<u64> =
                    connection.incr(format!("{prefix}:cache:{{{tenant}}}:gen"), 1).await;
                if let Err(error) = bumped {
                    tracing::warn!(%error, tenant, "analytics cache: invalidation failed");
                }
            }
            Backend::Local { generations, .. } => {
                *generations
                    .lock()
                    .expect("cache lock")
                    .entry(tenant.to_owned())
                    .or_default() += 1;
            }
        }
    }

    /// The cached answer for `query` of `tenant`, or the one `compute` makes.
    pub async fn get_or_compute<F, Fut>(&self, tenant: &str, query: &str, compute: F) -> ApiResult<String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ApiResult<String>>,
    {
        let Some(generation) = self.generation(tenant).await else {
            self.computations.fetch_add(1, Ordering::Relaxed);
            return compute().await;
        };
        let key = self.key(tenant, generation, query);
        if let Some(hit) = self.get(&key).await {
            return Ok(hit);
        }
        let gate = Arc::clone(
            self.in_flight
                .lock()
                .expect("cache lock")
                .entry(key.clone())
                .or_default(),
        );
        let _turn = gate.lock().await;
        // Whoever held the gate before us may have filled the cache.
        if let Some(hit) = self.get(&key).await {
            return Ok(hit);
        }
        self.computations.fetch_add(1, Ordering::Relaxed);
        let answer = compute().await;
        if let Ok(body) = &answer {
            self.put(&key, body).await;
        }
        self.in_flight.lock().expect("cache lock").remove(&key);
        answer
    }

    fn key(&self, tenant: &str, generation: u64, query: &str) -> String {
        match &*self.backend {
            Backend::Redis { prefix, .. } => format!("{prefix}:cache:{{{tenant}}}:{generation}:{query}"),
            Backend::Local { .. } => format!("{tenant}:{generation}:{query}"),
        }
    }

    async fn generation(&self, tenant: &str) -> Option<u64> {
        match &*self.backend {
            Backend::Redis { connection, prefix } => {
                let mut connection = connection.clone();
                let read: redis::RedisResult<Option<u64>> =
                    connection.get(format!("{prefix}:cache:{{{tenant}}}:gen")).await;
                match read {
                    Ok(generation) => Some(generation.unwrap_or(0)),
                    Err(error) => {
                        tracing::warn!(%error, "analytics cache unavailable");
                        None
                    }
                }
            }
            Backend::Local { generations, .. } => Some(
                generations
                    .lock()
                    .expect("cache lock")
                    .get(tenant)
                    .copied()
                    .unwrap_or(0),
            ),
        }
    }

    async fn get(&self, key: &str) -> Option<String> {
        match &*self.backend {
            Backend::Redis { connection, .. } => connection.clone().get(key).await.ok().flatten(),
            Backend::Local { entries, .. } => {
                let entries = entries.lock().expect("cache lock");
                entries
                    .get(key)
                    .filter(|(stored, _)| stored.elapsed() < TTL)
                    .map(|(_, body)| body.clone())
            }
        }
    }

    async fn put(&self, key: &str, body: &str) {
        match &*self.backend {
            Backend::Redis { connection, .. } => {
                let stored: redis::RedisResult<()> = connection.clone().set_ex(key, body, TTL.as_secs()).await;
                if let Err(error) = stored {
                    tracing::warn!(%error, "analytics cache: storing failed");
                }
            }
            Backend::Local { entries, .. } => {
                let mut entries = entries.lock().expect("cache lock");
                if entries.len() >= LOCAL_CAPACITY {
                    entries.retain(|_, (stored, _)| stored.elapsed() < TTL);
                }
                if entries.len() >= LOCAL_CAPACITY {
                    // Still full of fresh answers: start over rather than grow.
                    entries.clear();
                }
                entries.insert(key.to_owned(), (Instant::now(), body.to_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_cache_serves_until_invalidated_and_computes_once_under_a_stampede() {
        let cache = AnalyticsCache::local();
        let first = cache
            .get_or_compute("acme", "q", || async { Ok("1".to_owned()) })
            .await
            .unwrap();
        let second = cache
            .get_or_compute("acme", "q", || async { Ok("2".to_owned()) })
            .await
            .unwrap();
        assert_eq!((first.as_str(), second.as_str()), ("1", "1"));
        cache.invalidate("acme").await;
        assert_eq!(
            cache
                .get_or_compute("acme", "q", || async { Ok("3".to_owned()) })
                .await
                .unwrap(),
            "3"
        );
        assert_eq!(cache.computations(), 2);

        cache.invalidate("acme").await;
        let calls = Arc::new(AtomicU64::new(0));
        let waiting: Vec<_> = (0..20)
            .map(|_| {
                let (cache, calls) = (cache.clone(), Arc::clone(&calls));
                tokio::spawn(async move {
                    cache
                        .get_or_compute("acme", "q", || async move {
                            calls.fetch_add(1, Ordering::Relaxed);
                            tokio::task::yield_now().await;
                            Ok("4".to_owned())
                        })
                        .await
                })
            })
            .collect();
        for task in waiting {
            assert_eq!(task.await.unwrap().unwrap(), "4");
        }
        assert_eq!(
            calls.load(Ordering::Relaxed),
            1,
            "one computation for twenty concurrent misses"
        );
    }
}
