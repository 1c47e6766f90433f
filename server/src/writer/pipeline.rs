//! The post-commit pipeline: every committed write's domain events, in
//! commit order, handed to each subscriber in turn. The order of the
//! subscribers matters and is fixed here: the analytics cache forgets what
//! the write made stale before the live feed tells dashboards about it (a
//! dashboard that refetches on an event must not be served the old answer),
//! and the alert evaluator comes last, after the data it reads is fresh.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;
use paypulse_shared::live::FeedItem;

use crate::analytics::cache::AnalyticsCache;
use crate::live::Live;
use crate::store::events::DomainEvent;

/// Something that must learn of every committed write. `committed` is
/// called once per committed batch, never concurrently, in commit order;
/// the writer's callers are answered after every subscriber returned, so a
/// subscriber should hand slow work off rather than do it inline.
pub trait Subscriber: Send + Sync {
    fn committed<'a>(&'a self, events: &'a [DomainEvent]) -> BoxFuture<'a, ()>;
}

/// The subscribers, in the order they are told.
#[derive(Clone, Default)]
pub struct Pipeline {
    subscribers: Vec<Arc<dyn Subscriber>>,
}

impl Pipeline {
    /// Adds `subscriber` after the ones already there.
    pub fn then(mut self, subscriber: Arc<dyn Subscriber>) -> Self {
        self.subscribers.push(subscriber);
        self
    }

    /// Tells every subscriber about `events`, one after the other.
    pub async fn committed(&self, events: &[DomainEvent]) {
        if events.is_empty() {
            return;
        }
        for subscriber in &self.subscribers {
            subscriber.committed(events).await;
        }
    }
}

/// The tenants `events` touch, once each, in first-seen order.
pub fn tenants_of(events: &[DomainEvent], mut keep: impl FnMut(&DomainEvent) -> bool) -> Vec<&str> {
    let mut tenants: Vec<&str> = Vec::new();
    for event in events.iter().filter(|event| keep(event)) {
        if !tenants.contains(&event.tenant()) {
            tenants.push(event.tenant());
        }
    }
    tenants
}

/// Invalidates each touched tenant's cached analytics.
impl Subscriber for AnalyticsCache {
    fn committed<'a>(&'a self, events: &'a [DomainEvent]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            for tenant in tenants_of(events, DomainEvent::changes_analytics) {
                self.invalidate(tenant).await;
            }
        })
    }
}

/// Publishes the feed's events, per tenant in commit order.
impl Subscriber for Live {
    fn committed<'a>(&'a self, events: &'a [DomainEvent]) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let at = Utc::now();
            let mut by_tenant: Vec<(&str, Vec<FeedItem>)> = Vec::new();
            for event in events {
                let Some(live) = event.live_event(at) else {
                    continue;
                };
                match by_tenant.iter_mut().find(|(tenant, _)| *tenant == event.tenant()) {
                    Some((_, batch)) => batch.push(live),
                    None => by_tenant.push((event.tenant(), vec![live])),
                }
            }
            for (tenant, batch) in by_tenant {
                self.publish(tenant, batch).await;
            }
        })
    }
}
