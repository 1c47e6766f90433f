//! Live events between server instances, through Redis.
//!
//! Publishing runs one Lua script per batch that, atomically, makes sure the
//! tenant's epoch exists, numbers each event with `INCR`, appends it to the
//! tenant's stream (`XADD`) and trims the stream to the replay window (the
//! newest `events`, everything younger than `age`, never more than `cap`:
//! [`ReplayWindow`]), so an instance that starts later finds the whole
//! window there. Entry ids are Redis's clock in milliseconds, so an event's
//! age is known on every instance. Stream order
//! is therefore `seq` order, whichever instance published. Every instance
//! reads every tenant's stream (`XREAD BLOCK` on a connection of its own, so
//! the blocking read never delays other commands) and delivers the events to
//! its hub, which serves its watchers. At start an instance reads only the
//! newest entry of each stream (where each feed stands); a feed's window is
//! read whole when a client first resumes on it here ([`SharedBus::window`]),
//! so clients can resume on any instance, across restarts of any instance,
//! and an instance holds only the windows of the feeds watched on it.
//!
//! All of it runs on a thread of its own, with a runtime of its own
//! ([`SharedBus`]). On the server's runtime, under fan-out load, thousands
//! of watcher tasks are queued, and each Redis reply waited a whole turn of
//! that queue before its task ran: the script's reply, then the stream
//! read's, a few milliseconds each under load, so the Redis path delivered
//! later than the local one and gave up at a lower rate (issue 13).
//!
//! Redis keeps nothing on disk here: when it restarts, sequences and streams
//! are gone, the next publish creates a new epoch, and watchers reconnect and
//! resync. While Redis is down, payments are still accepted (they live in
//! MongoDB) but not broadcast.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paypulse_shared::live::FeedItem;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig};

use super::hub::{LiveHub, Numbered, ReplayWindow};
use crate::store::Store;

/// How long one blocking read waits for new events.
const BLOCK: Duration = Duration::from_secs(1);
/// How often the set of tenants to read is refreshed.
const TENANT_REFRESH: Duration = Duration::from_secs(10);
/// Pause before reconnecting after a Redis error.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// KEYS: epoch, seq. Makes sure the tenant has an epoch: a new one is
/// Redis's clock in microseconds, and the sequence starts from it, so `seq`
/// values never repeat across epochs (see `hub::new_epoch`).
const ENSURE_EPOCH: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  local now = redis.call('TIME')
  epoch = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[1], epoch)
  redis.call('SET', KEYS[2], epoch)
end
";

/// KEYS: epoch, seq, stream. ARGV: the window's `events`, `age` in
/// milliseconds and `cap`, then the events. Past the newest `events`
/// entries, those older than `age` are the stream's oldest (ids grow with
/// time): at most that surplus of them is read, and the stream is trimmed
/// just past the last one read.
const PUBLISH: &str = r"
local seq = 0
for i = 4, #ARGV do
  seq = redis.call('INCR', KEYS[2])
  redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[3], '*', 'seq', seq, 'epoch', epoch, 'event', ARGV[i])
end
local surplus = redis.call('XLEN', KEYS[3]) - tonumber(ARGV[1])
if surplus > 0 then
  local now = redis.call('TIME')
  local cutoff = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[2])
  local aged = redis.call('XRANGE', KEYS[3], '-', string.format('%d', cutoff), 'COUNT', surplus)
  if #aged > 0 then
    local millis, sequence = string.match(aged[#aged][1], '^(%d+)-(%d+)$')
    redis.call('XTRIM', KEYS[3], 'MINID', millis .. '-' .. string.format('%d', tonumber(sequence) + 1))
  end
end
return seq
";

/// Publishes to and reads from the Redis streams of every tenant.
struct RedisBus {
    /// Tenants this instance published or subscribed for, so their streams
    /// are read at once rather than at the next tenant refresh.
    announced: std::sync::Mutex<std::collections::HashSet<String>>,
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
    script: redis::Script,
    epoch_script: redis::Script,
    window: ReplayWindow,
}

/// The feed's Redis side as the rest of the process uses it: every command
/// runs on the bus's thread.
#[derive(Clone)]
pub struct SharedBus {
    bus: Arc<RedisBus>,
    thread: Arc<BusThread>,
}

impl SharedBus {
    /// Starts the bus's thread, connects there, delivers what the streams
    /// hold to `hub`, and keeps reading them there in the background.
    pub async fn start(
        client: redis::Client,
        config: ConnectionManagerConfig,
        prefix: &str,
        window: ReplayWindow,
        hub: Arc<LiveHub>,
        store: Store,
    ) -> anyhow::Result<Self> {
        let thread = Arc::new(BusThread::start()?);
        let prefix = prefix.to_owned();
        let bus = thread
            .run(async move {
                // Made on this thread, the connection's own task runs here.
                let manager = client.get_connection_manager_with_config(config).await?;
                Ok(Arc::new(RedisBus::new(client, manager, &prefix, window)))
            })
            .await?;
        let positions = thread
            .run({
                let (bus, hub, store) = (Arc::clone(&bus), Arc::clone(&hub), store.clone());
                async move { bus.catch_up(&hub, &store).await }
            })
            .await?;
        thread.handle.spawn(Arc::clone(&bus).consume(hub, store, positions));
        Ok(Self { bus, thread })
    }

    /// Numbers and appends `events` of `tenant` to its stream.
    pub async fn publish(&self, tenant: &str, events: Vec<FeedItem>) -> anyhow::Result<()> {
        let (bus, tenant) = (Arc::clone(&self.bus), tenant.to_owned());
        self.thread
            .run(async move { bus.publish(&tenant, &events).await })
            .await
    }

    /// The epoch of `tenant`'s shared sequence, created if Redis has none.
    pub async fn ensure_epoch(&self, tenant: &str) -> anyhow::Result<String> {
        let (bus, tenant) = (Arc::clone(&self.bus), tenant.to_owned());
        self.thread
            .run(async move { Ok(bus.ensure_epoch(&tenant).await?) })
            .await
    }

    /// Every event `tenant`'s stream holds (its replay window), oldest
    /// first.
    pub async fn window(&self, tenant: &str) -> anyhow::Result<Vec<Numbered>> {
        let (bus, tenant) = (Arc::clone(&self.bus), tenant.to_owned());
        self.thread
            .run(async move {
                let mut connection = bus.manager.clone();
                let entries: redis::streams::StreamRangeReply =
                    connection.xrange_all(bus.key(&tenant, "stream")).await?;
                Ok(entries.ids.iter().filter_map(numbered).collect())
            })
            .await
    }
}

/// A thread running a single-threaded runtime for the bus, until the last
/// [`SharedBus`] goes: the runtime, and the tasks on it, go with it.
struct BusThread {
    handle: tokio::runtime::Handle,
    /// Dropped, it ends the thread.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl BusThread {
    fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new().name("live-bus".into()).spawn(move || {
            // An error is the sender dropped: the feed is gone.
            runtime.block_on(stopped).ok();
        })?;
        Ok(Self { handle, _stop: stop })
    }

    /// Runs `work` on the bus's thread and waits for it.
    async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = anyhow::Result<T>> + Send + 'static,
    ) -> anyhow::Result<T> {
        self.handle
            .spawn(work)
            .await
            .map_err(|error| anyhow::anyhow!("live bus: {error}"))?
    }
}

impl RedisBus {
    fn new(client: redis::Client, manager: ConnectionManager, prefix: &str, window: ReplayWindow) -> Self {
        Self {
            announced: std::sync::Mutex::default(),
            client,
            manager,
            prefix: prefix.to_owned(),
            script: redis::Script::new(&format!("{ENSURE_EPOCH}{PUBLISH}")),
            epoch_script: redis::Script::new(&format!("{ENSURE_EPOCH}return epoch")),
            window,
        }
    }

    fn key(&self, tenant: &str, part: &str) -> String {
        key(&self.prefix, tenant, part)
    }

    /// Numbers and appends `events` of `tenant` to its stream.
    async fn publish(&self, tenant: &str, events: &[FeedItem]) -> anyhow::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.announce(tenant);
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(self.key(tenant, "epoch"))
            .key(self.key(tenant, "seq"))
            .key(self.key(tenant, "stream"))
            .arg(self.window.events)
            .arg(self.window.age.as_millis() as u64)
            .arg(self.window.cap);
        for event in events {
            invocation.arg(event.text()?);
        }
        let mut connection = self.manager.clone();
        let _last_seq: u64 = invocation.invoke_async(&mut connection).await?;
        Ok(())
    }

    /// The epoch of `tenant`'s shared sequence, created if Redis has none.
    async fn ensure_epoch(&self, tenant: &str) -> redis::RedisResult<String> {
        self.announce(tenant);
        let mut connection = self.manager.clone();
        self.epoch_script
            .key(self.key(tenant, "epoch"))
            .key(self.key(tenant, "seq"))
            .invoke_async(&mut connection)
            .await
    }

    fn announce(&self, tenant: &str) {
        self.announced
            .lock()
            .expect("announced tenants lock")
            .insert(tenant.to_owned());
    }

    /// Delivers the newest event of every stream to `hub`, so an instance
    /// starts where each shared feed stands (`hello` reports the shared
    /// `seq`); the windows stay in Redis until a client resumes. Returns
    /// where each stream was read up to.
    async fn catch_up(&self, hub: &LiveHub, store: &Store) -> anyhow::Result<HashMap<String, String>> {
        let mut positions = HashMap::new();
        let mut connection = self.manager.clone();
        for tenant in store.tenant_ids().await? {
            let stream = self.key(&tenant, "stream");
            let entries: redis::streams::StreamRangeReply = connection.xrevrange_count(&stream, "+", "-", 1).await?;
            deliver(hub, &tenant, &entries.ids);
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
    async fn consume(self: Arc<Self>, hub: Arc<LiveHub>, store: Store, mut positions: HashMap<String, String>) {
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
                    deliver(&hub, &tenant, &stream.ids);
                    if let Some(last) = stream.ids.last() {
                        positions.insert(stream.key.clone(), last.id.clone());
                    }
                }
            }
        }
    }
}

/// How long ago Redis added the entry `id` (`<milliseconds>-<n>`), by this
/// machine's clock: zero when the clocks disagree the other way.
fn entry_age(id: &str) -> Duration {
    let added = id
        .split('-')
        .next()
        .and_then(|millis| millis.parse::<u64>().ok())
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    Duration::from_millis(now.saturating_sub(added))
}

/// Hands `tenant`'s stream `entries` to the hub: read outside its lock,
/// delivered under it at once.
fn deliver(hub: &LiveHub, tenant: &str, entries: &[redis::streams::StreamId]) {
    let events: Vec<Numbered> = entries.iter().filter_map(numbered).collect();
    hub.deliver(tenant, events);
}

/// The event one stream entry holds, or `None` (logged) when it is not one.
/// Its JSON is parsed by the hub, and only for a feed that needs it.
fn numbered(entry: &redis::streams::StreamId) -> Option<Numbered> {
    let (Some(seq), Some(epoch), Some(text)) = (
        entry.get::<u64>("seq"),
        entry.get::<String>("epoch"),
        entry.get::<String>("event"),
    ) else {
        tracing::warn!(id = %entry.id, "live bus: malformed stream entry");
        return None;
    };
    Some(Numbered {
        epoch,
        seq,
        text,
        age: entry_age(&entry.id),
    })
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

    #[test]
    fn an_entry_is_as_old_as_its_id_says() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let age = entry_age(&format!("{}-3", now - 60_000));
        assert!(
            age >= Duration::from_secs(60) && age < Duration::from_secs(70),
            "{age:?}"
        );
        assert_eq!(entry_age(&format!("{}-0", now + 60_000)), Duration::ZERO);
    }
}
