//! The analytics cache: rendered JSON of metrics and trend responses, per
//! tenant, in Redis when configured (shared by every instance) and in this
//! process (bounded by size, with moka).
//!
//! Invalidation is by generation, not by TTL: every committed write bumps the
//! tenant's generation (before the writer answers), and cache keys include it,
//! so a read right after a write never finds an answer computed before it.
//! Stale generations simply expire. Concurrent misses for one key in this
//! process wait for a single computation (moka's, which hands the work to
//! another waiter when the request computing it is cancelled, so nothing is
//! left behind); across instances at most one computation per instance
//! runs. When Redis fails, the cache steps aside and answers are computed
//! directly.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::error::{ApiError, ApiResult};

/// How long a cached answer lives at most.
const TTL: Duration = Duration::from_secs(60);
/// Most bytes of answers this process holds.
const LOCAL_BYTES: u64 = 64 * 1024 * 1024;

/// Where the generations (and the shared answers) are kept.
enum Backend {
    Redis {
        connection: ConnectionManager,
        prefix: String,
    },
    /// Per tenant: as many entries as tenants.
    Local { generations: Mutex<HashMap<String, u64>> },
}

/// Cached analytics answers; clones share everything.
#[derive(Clone)]
pub struct AnalyticsCache {
    backend: Arc<Backend>,
    /// Answers by `tenant:generation:query`, the key naming the generation
    /// so an entry is never served after a write.
    answers: moka::future::Cache<String, Arc<str>>,
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
        })
    }

    fn with(backend: Backend) -> Self {
        Self {
            backend: Arc::new(backend),
            answers: moka::future::Cache::builder()
                .max_capacity(LOCAL_BYTES)
                .weigher(|key: &String, body: &Arc<str>| u32::try_from(key.len() + body.len()).unwrap_or(u32::MAX))
                .time_to_live(TTL)
                .build(),
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
            Backend::Local { generations } => {
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
        let answer = self
            .answers
            .try_get_with_by_ref(&key, async {
                if let Some(shared) = self.shared(&key).await {
                    return Ok(Arc::from(shared));
                }
                self.computations.fetch_add(1, Ordering::Relaxed);
                let body = compute().await?;
                self.share(&key, &body).await;
                Ok::<_, ApiError>(Arc::from(body))
            })
            .await
            .map_err(ApiError::from_shared)?;
        Ok(answer.to_string())
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
            Backend::Local { generations } => Some(
                generations
                    .lock()
                    .expect("cache lock")
                    .get(tenant)
                    .copied()
                    .unwrap_or(0),
            ),
        }
    }

    /// The answer another instance stored under `key`.
    async fn shared(&self, key: &str) -> Option<String> {
        match &*self.backend {
            Backend::Redis { connection, .. } => connection.clone().get(key).await.ok().flatten(),
            Backend::Local { .. } => None,
        }
    }

    /// Stores `body` under `key` for the other instances.
    async fn share(&self, key: &str, body: &str) {
        if let Backend::Redis { connection, .. } = &*self.backend {
            let stored: redis::RedisResult<()> = connection.clone().set_ex(key, body, TTL.as_secs()).await;
            if let Err(error) = stored {
                tracing::warn!(%error, "analytics cache: storing failed");
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

    #[tokio::test]
    async fn a_computation_cancelled_midway_leaves_nothing_behind() {
        let cache = AnalyticsCache::local();
        let (started, started_here) = tokio::sync::oneshot::channel();
        let stuck = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .get_or_compute("acme", "q", || async move {
                        started.send(()).ok();
                        std::future::pending::<ApiResult<String>>().await
                    })
                    .await
            })
        };
        started_here.await.unwrap();
        // The request computing it goes away (its client hung up).
        stuck.abort();
        assert!(stuck.await.unwrap_err().is_cancelled());
        let next = tokio::time::timeout(
            Duration::from_secs(5),
            cache.get_or_compute("acme", "q", || async { Ok("5".to_owned()) }),
        )
        .await
        .expect("the next request computes at once, waiting on nothing left behind");
        assert_eq!(next.unwrap(), "5");
    }
}
