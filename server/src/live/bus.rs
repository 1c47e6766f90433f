//! Live events between server instances, through Redis.
//!
//! Publishing runs one Lua script per batch that, atomically, makes sure the
//! tenant's epoch exists, numbers each event with `INCR` and appends it to the
//! tenant's stream (`XADD`, trimmed to about the replay window). Stream order
//! is therefore `seq` order, whichever instance published. Every instance
//! reads every tenant's stream (`XREAD BLOCK` on a connection of its own, so
//! the blocking read never delays other commands) and delivers the events to
//! its hub, which serves its watchers. At start an instance reads the streams
//! from their beginning, so its history already holds the replay window and
//! clients can resume on any instance, across restarts of any instance.
//!
//! Redis keeps nothing on disk here: when it restarts, sequences and streams
//! are gone, the next publish creates a new epoch, and watchers reconnect and
//! resync. While Redis is down, payments are still accepted (they live in
//! MongoDB) but not broadcast.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paypulse_shared::payment::PaymentEvent;
use rand::Rng;
use redis::aio::ConnectionManager;
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig};

use super::hub::{HISTORY_EVENTS, LiveHub};
use crate::store::Store;

/// How long one blocking read waits for new events.
const BLOCK: Duration = Duration::from_secs(1);
/// How often the set of tenants to read is refreshed.
const TENANT_REFRESH: Duration = Duration::from_secs(10);
/// Pause before reconnecting after a Redis error.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

const PUBLISH: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[1])
local seq = 0
for i = 3, #ARGV do
  seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '*', 'seq', seq, 'epoch', epoch, 'event', ARGV[i])
end
return seq
";

/// Publishes to and reads from the Redis streams of every tenant.
pub struct RedisBus {
    /// Tenants this instance published or subscribed for, so their streams
    /// are read at once rather than at the next tenant refresh.
    announced: std::sync::Mutex<std::collections::HashSet<String>>,
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
    script: redis::Script,
}

impl RedisBus {
    pub fn new(client: redis::Client, manager: ConnectionManager, prefix: &str) -> Self {
        Self {
            announced: std::sync::Mutex::default(),
            client,
            manager,
            prefix: prefix.to_owned(),
            script: redis::Script::new(PUBLISH),
        }
    }

    fn key(&self, tenant: &str, part: &str) -> String {
        key(&self.prefix, tenant, part)
    }

    /// Numbers and appends `events` of `tenant` to its stream.
    pub async fn publish(&self, tenant: &str, events: &[PaymentEvent]) -> anyhow::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.announce(tenant);
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(self.key(tenant, "epoch"))
            .key(self.key(tenant, "seq"))
            .key(self.key(tenant, "stream"))
            .arg(format!("{:016x}", rand::rng().random::<u64>()))
            .arg(HISTORY_EVENTS);
        for event in events {
            invocation.arg(serde_json::to_string(event)?);
        }
        let mut connection = self.manager.clone();
        let _last_seq: u64 = invocation.invoke_async(&mut connection).await?;
        Ok(())
    }

    /// The epoch of `tenant`'s shared sequence, created if Redis has none.
    pub async fn ensure_epoch(&self, tenant: &str) -> redis::RedisResult<String> {
        self.announce(tenant);
        let mut connection = self.manager.clone();
        let key = self.key(tenant, "epoch");
        let candidate = format!("{:016x}", rand::rng().random::<u64>());
        let _created: bool = redis::cmd("SET")
            .arg(&key)
            .arg(candidate)
            .arg("NX")
            .query_async(&mut connection)
            .await
            .map(|reply: Option<String>| reply.is_some())?;
        connection.get(&key).await
    }

    fn announce(&self, tenant: &str) {
        self.announced
            .lock()
            .expect("announced tenants lock")
            .insert(tenant.to_owned());
    }

    /// Delivers everything the streams hold now to `hub`, so an instance
    /// starts with the shared history (and `hello` reports the shared `seq`).
    /// Returns where each stream was read up to.
    pub async fn catch_up(&self, hub: &LiveHub, store: &Store) -> anyhow::Result<HashMap<String, String>> {
        let mut positions = HashMap::new();
        let mut connection = self.manager.clone();
        for tenant in store.tenant_ids().await? {
            let stream = self.key(&tenant, "stream");
            let entries: redis::streams::StreamRangeReply = connection.xrange_all(&stream).await?;
            for entry in &entries.ids {
                deliver_entry(hub, &tenant, entry);
            }
            let position = entries
                .ids
                .last()
                .map_or_else(|| "0".to_owned(), |last| last.id.clone());
            positions.insert(stream, position);
        }
        Ok(positions)
    }

    /// Reads every tenant's stream into `hub` from `positions` until the
    /// process ends, reconnecting after errors.
    pub async fn consume(self: Arc<Self>, hub: Arc<LiveHub>, store: Store, mut positions: HashMap<String, String>) {
        let config = AsyncConnectionConfig::new().set_response_timeout(Some(BLOCK * 5));
        loop {
            let mut connection = match self.client.get_multiplexed_async_connection_with_config(&config).await {
                Ok(connection) => connection,
                Err(error) => {
                    tracing::warn!(%error, "live bus: redis unavailable, retrying");
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    continue;
                }
            };
            let mut refreshed: Option<Instant> = None;
            loop {
                if refreshed.is_none_or(|at| at.elapsed() > TENANT_REFRESH) {
                    match store.tenant_ids().await {
                        Ok(tenants) => {
                            for tenant in tenants {
                                positions
                                    .entry(self.key(&tenant, "stream"))
                                    .or_insert_with(|| "0".to_owned());
                            }
                            refreshed = Some(Instant::now());
                        }
                        Err(error) => tracing::warn!(%error, "live bus: listing tenants"),
                    }
                }
                for tenant in self.announced.lock().expect("announced tenants lock").iter() {
                    positions
                        .entry(self.key(tenant, "stream"))
                        .or_insert_with(|| "0".to_owned());
                }
                if positions.is_empty() {
                    tokio::time::sleep(BLOCK).await;
                    refreshed = None;
                    continue;
                }
                let keys: Vec<&String> = positions.keys().collect();
                let ids: Vec<&String> = keys.iter().map(|key| &positions[*key]).collect();
                let options = StreamReadOptions::default()
                    .block(BLOCK.as_millis() as usize)
                    .count(1_000);
                let reply: redis::RedisResult<Option<StreamReadReply>> =
                    connection.xread_options(&keys, &ids, &options).await;
                let reply = match reply {
                    Ok(reply) => reply,
                    Err(error) => {
                        tracing::warn!(%error, "live bus: reading streams failed, reconnecting");
                        // After a Redis restart the streams start again.
                        positions.values_mut().for_each(|position| *position = "0".to_owned());
                        tokio::time::sleep(RECONNECT_PAUSE).await;
                        break;
                    }
                };
                for stream in reply.map(|reply| reply.keys).unwrap_or_default() {
                    let Some(tenant) = tenant_of(&self.prefix, &stream.key) else {
                        continue;
                    };
                    for entry in &stream.ids {
                        deliver_entry(&hub, &tenant, entry);
                    }
                    if let Some(last) = stream.ids.last() {
                        positions.insert(stream.key.clone(), last.id.clone());
                    }
                }
            }
        }
    }
}

/// Hands one stream entry to the hub.
fn deliver_entry(hub: &LiveHub, tenant: &str, entry: &redis::streams::StreamId) {
    let (Some(seq), Some(epoch), Some(text)) = (
        entry.get::<u64>("seq"),
        entry.get::<String>("epoch"),
        entry.get::<String>("event"),
    ) else {
        tracing::warn!(id = %entry.id, "live bus: malformed stream entry");
        return;
    };
    match serde_json::from_str::<PaymentEvent>(&text) {
        Ok(event) => hub.deliver(tenant, &epoch, seq, event),
        Err(error) => tracing::warn!(%error, "live bus: unreadable event"),
    }
}

/// Keys of one tenant; the `{tenant}` hash tag keeps them in one cluster
/// slot, as the script needs.
fn key(prefix: &str, tenant: &str, part: &str) -> String {
    format!("{prefix}:live:{{{tenant}}}:{part}")
}

/// The tenant of a stream key.
fn tenant_of(prefix: &str, key: &str) -> Option<String> {
    let rest = key.strip_prefix(&format!("{prefix}:live:{{"))?;
    rest.strip_suffix("}:stream").map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_the_tenants_hash_tag_and_name_it_back() {
        assert_eq!(key("paypulse", "acme", "stream"), "paypulse:live:{acme}:stream");
        assert_eq!(
            tenant_of("paypulse", "paypulse:live:{acme}:stream").as_deref(),
            Some("acme")
        );
        assert_eq!(tenant_of("paypulse", "other:live:{acme}:stream"), None);
    }
}
