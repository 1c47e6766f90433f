//! Per-key rate limits: each API key may make so many requests a second on
//! an instance (GCRA, with governor), after which it is answered 429
//! `rate_limited` with `Retry-After` until it is back within its quota. A
//! reading key (viewer, admin) and a writing key (ingest) have their own
//! quotas: a dashboard makes a few requests a second, a payment service
//! thousands. The limits are per instance, so N instances behind a load
//! balancer allow N times the quota; that is the point where it matters
//! least (a key that can reach N instances is throttled on each), and it
//! keeps Redis off every request's path.
//!
//! Keys are limited after they are authenticated, so the limiter holds only
//! keys that exist (at most 100 per tenant): it cannot be grown by sending
//! made-up keys.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::store::documents::Role;

/// Requests a second, and the burst above it, for one kind of key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Rate {
    pub const fn of(per_second: u32, burst: u32) -> Self {
        match (NonZeroU32::new(per_second), NonZeroU32::new(burst)) {
            (Some(per_second), Some(burst)) => Self { per_second, burst },
            _ => panic!("a rate is at least one request"),
        }
    }

    fn quota(self) -> Quota {
        Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// The quotas of reading and writing keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Viewer and admin keys: dashboards, scripts that read.
    pub reads: Rate,
    /// Ingest keys: payment services.
    pub writes: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            reads: Rate::of(50, 200),
            writes: Rate::of(2_000, 4_000),
        }
    }
}

impl RateLimits {
    /// No practical limit: for a benchmark or a test where one key stands
    /// for many clients (production's limit would throttle that one key).
    pub const fn lifted() -> Self {
        Self {
            reads: Rate::of(1_000_000, 1_000_000),
            writes: Rate::of(1_000_000, 1_000_000),
        }
    }
}

/// The limiters of this instance; clones share them.
#[derive(Clone)]
pub struct Limiter {
    reads: Arc<DefaultKeyedRateLimiter<String>>,
    writes: Arc<DefaultKeyedRateLimiter<String>>,
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            reads: Arc::new(RateLimiter::keyed(limits.reads.quota())),
            writes: Arc::new(RateLimiter::keyed(limits.writes.quota())),
        }
    }

    /// Counts one request of the key `key_id` of `role`; false when it is
    /// over its quota.
    pub fn admit(&self, key_id: &str, role: Role) -> bool {
        let limiter = match role {
            Role::Ingest => &self.writes,
            Role::Viewer | Role::Admin => &self.reads,
        };
        limiter.check_key(&key_id.to_owned()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_and_keys_do_not_share() {
        let limiter = Limiter::new(RateLimits {
            reads: Rate::of(1, 3),
            writes: Rate::of(1, 1),
        });
        for _ in 0..3 {
            assert!(limiter.admit("key_a", Role::Viewer));
        }
        assert!(!limiter.admit("key_a", Role::Viewer), "past its burst");
        assert!(limiter.admit("key_b", Role::Admin), "another key has its own quota");
        assert!(limiter.admit("key_c", Role::Ingest));
        assert!(!limiter.admit("key_c", Role::Ingest), "writing keys have theirs");
    }
}
