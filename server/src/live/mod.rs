//! `/ws/payments` (SPEC §3): the live feed of one tenant over WebSocket.
//!
//! Authentication is the REST one (key and tenant from the `Authorization`
//! and `X-Tenant-Id` headers, or from the `key` and `tenant` query parameters
//! browsers must use); bad credentials or parameters are refused with the
//! usual `{code, message}` before the upgrade. Then the server sends the
//! missed events or a `resync_required` when the client asked to resume with
//! `since` (and `epoch`), and live events that pass its filters: one
//! `PaymentEvent` per text frame, as SPEC §3 says. A client that asks with
//! `control=true` (the dashboard) also gets a `hello` (`epoch`, `seq`) first,
//! the tenant's alerts, and a `heartbeat` text frame with each ping (its
//! script sees no pings). Pings go out every 15 s; a client that does not
//! answer within the next interval is closed with 4001. A client that falls more than
//! [`hub::WATCHER_QUEUE`] events behind, or whose socket does not take a
//! frame within 10 s, is closed with 4008: memory stays bounded. Those
//! figures are [`LiveLimits`]' defaults; tests shorten them.

pub mod bus;
pub mod hub;
mod quiet;
pub mod socket;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::live::FeedItem;
use paypulse_shared::live::{CloseCode, FeedPosition, Heartbeat, LiveFrame};
use paypulse_shared::query::LiveQuery;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::access::Viewer;
use crate::error::ApiError;
use crate::params::{self, Params};
use crate::routes::{Needs, Route};
use crate::store::Store;
use crate::store::documents::Role;
use bus::SharedBus;
use hub::{Disconnect, Hold, LiveEvent, LiveHub, Received, Subscription};
use paypulse_shared::error::ErrorCode;
use quiet::Quiet;
use socket::{Socket, Upgrade};
use std::sync::Arc;

/// Most queued events written to a client in one write.
const MAX_BURST: usize = 256;
/// Most client messages read before a missing pong is judged (clients send
/// only pongs and a close).
const MAX_DRAIN: usize = 64;

/// The feed's timings and bounds (docs/ARCHITECTURE.md, "Live feed").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveLimits {
    /// Interval of server pings; no pong by the next one closes with 4001.
    pub heartbeat: Duration,
    /// How long a frame (or a burst of them, and the closing frame) may wait
    /// for the client's socket before the watcher is closed with 4008.
    pub send_timeout: Duration,
    /// Events a watcher may fall behind the feed before it is closed with 4008.
    pub watcher_queue: usize,
    /// What each tenant's history keeps for clients that resume.
    pub replay: hub::ReplayWindow,
    /// Most watchers of one tenant on this instance; more are refused with
    /// 429 before the upgrade.
    pub max_watchers: usize,
}

impl Default for LiveLimits {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(15),
            send_timeout: Duration::from_secs(10),
            watcher_queue: hub::WATCHER_QUEUE,
            replay: hub::ReplayWindow::default(),
            max_watchers: hub::MAX_WATCHERS,
        }
    }
}

/// Where written payments are announced: the process's own hub, or Redis,
/// which numbers them once for every instance.
#[derive(Clone)]
pub struct Live {
    pub hub: Arc<LiveHub>,
    bus: Option<SharedBus>,
    limits: LiveLimits,
}

impl Live {
    /// A feed for this process alone.
    pub fn local(limits: LiveLimits) -> Self {
        Self {
            hub: Arc::new(LiveHub::new(limits.replay, limits.watcher_queue, limits.max_watchers)),
            bus: None,
            limits,
        }
    }

    /// A feed shared through Redis: reads what the streams hold, then keeps
    /// reading them in the background.
    pub async fn shared(
        client: redis::Client,
        config: redis::aio::ConnectionManagerConfig,
        prefix: &str,
        store: Store,
        limits: LiveLimits,
    ) -> anyhow::Result<Self> {
        let hub = Arc::new(LiveHub::new(limits.replay, limits.watcher_queue, limits.max_watchers).backed_by_redis());
        let bus = SharedBus::start(client, config, prefix, limits.replay, Arc::clone(&hub), store).await?;
        Ok(Self {
            hub,
            bus: Some(bus),
            limits,
        })
    }

    /// Joins `tenant`'s feed (see [`LiveHub::subscribe`]), on the shared
    /// epoch when the feed goes through Redis.
    pub async fn subscribe(
        &self,
        tenant: &str,
        resume: Option<(u64, Option<&str>)>,
        filtered: bool,
    ) -> Result<Subscription, ApiError> {
        if let Some(bus) = &self.bus {
            match bus.ensure_epoch(tenant).await {
                Ok(epoch) => self.hub.align_epoch(tenant, &epoch),
                Err(error) => tracing::warn!(%error, tenant, "live bus: reading the epoch"),
            }
            // Resumes that arrive together read the stream once: the hub
            // loads a feed's window one read at a time.
            if resume.is_some()
                && !self.hub.holds_window(tenant)
                && let Err(error) = self.hub.load(tenant, bus.window(tenant)).await
            {
                // Served from what the feed holds: the client may be
                // told to resync when it need not have been.
                tracing::warn!(%error, tenant, "live bus: reading the replay window");
            }
        }
        self.hub.subscribe(tenant, resume, filtered).map_err(|hub::Full(most)| {
            ApiError::new(
                ErrorCode::RateLimited,
                format!("tenant '{tenant}' has {most} live connections to this server, the most it may; close one or retry later"),
            )
        })
    }

    /// Announces `events` of `tenant`, in order, after they were committed.
    pub async fn publish(&self, tenant: &str, events: Vec<FeedItem>) {
        match &self.bus {
            None => self.hub.publish(tenant, events),
            Some(bus) => {
                let count = events.len();
                if let Err(error) = bus.publish(tenant, events).await {
                    // The payments are stored; watchers miss them and resync
                    // when the feed restarts.
                    tracing::warn!(%error, tenant, count, "live events not published");
                }
            }
        }
    }
}

pub fn routes() -> Vec<Route> {
    vec![Route::get("/ws/payments", Needs::KeyOrUrl(Role::Viewer), connect)]
}

async fn connect(
    State(live): State<Live>,
    Params(query): Params<LiveQuery>,
    Viewer(caller): Viewer,
    upgrade: Result<Upgrade, ApiError>,
) -> Result<Response, ApiError> {
    let tenant = caller.tenant;
    params::check_amounts(&query.filter, tenant.scale())?;
    let upgrade = upgrade?;
    let asked = Asked::new(query.since.is_some(), query.control, query.filter);
    let subscription = live
        .subscribe(
            &tenant.id,
            query.since.map(|since| (since, query.epoch.as_deref())),
            !asked.unfiltered,
        )
        .await?;
    let watcher = Watcher {
        hub: Arc::clone(&live.hub),
        limits: live.limits,
    };
    let config = socket::config(MAX_CLIENT_MESSAGE, READ_BUFFER);
    Ok(upgrade.serve(config, move |socket| watcher.watch(socket, subscription, asked)))
}

/// The largest message a client may send (it sends only pongs and a
/// close): a bigger one ends the connection before it is buffered whole.
pub const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

/// How much of the client's socket one read takes. Tungstenite zeroes this
/// much of its read buffer at every read attempt, and until session 21 (when
/// the socket became a quiet branch, read only when it has something) a
/// watcher's `select!` polled its socket each time it woke, once per event
/// it was sent: at the default 128 KiB, 1,000 watchers zeroed 128 MB per
/// event, about half the fan-out's processor time (`perf`, issue 13).
/// Clients send only pongs and a close, a few bytes each; a larger message
/// still arrives, in more reads.
const READ_BUFFER: usize = 1024;

/// What one client asked of the feed.
struct Asked {
    /// It gave `since`: it gets the missed events or `resync_required`.
    resumed: bool,
    /// It reads `hello`, `heartbeat` and `alert` frames.
    control: bool,
    filter: PaymentFilter,
    /// The filter lets every payment through.
    unfiltered: bool,
}

impl Asked {
    fn new(resumed: bool, control: bool, filter: PaymentFilter) -> Self {
        Self {
            resumed,
            control,
            unfiltered: filter.is_empty(),
            filter,
        }
    }

    fn wants(&self, event: &LiveEvent) -> bool {
        match event.item {
            // Most clients filter nothing: no look at the payment then.
            FeedItem::Payment(_) if self.unfiltered => true,
            _ => event.passes(&self.filter, self.control),
        }
    }

    /// The text frame to send for what the feed gave, if the client wants
    /// it. A client that filters nothing is given frames (see
    /// [`hub::Frame`]), one that filters whole events.
    fn frame(&self, received: Received) -> Option<Bytes> {
        match received {
            Received::Frame(frame) => (!frame.alert || self.control).then_some(frame.wire),
            Received::Event(event) => self.wants(&event).then(|| event.wire.clone()),
        }
    }
}

/// One connected client's side of the feed.
struct Watcher {
    hub: Arc<LiveHub>,
    limits: LiveLimits,
}

/// Why a watcher ended.
enum Ended {
    /// The client closed, or its connection failed.
    ByClient,
    /// The server closes it for this reason.
    Closed(Disconnect),
    /// The feed restarted under a new epoch (4010).
    FeedRestarted,
    /// The process is shutting down (1012, service restart).
    ServerClosing,
}

/// A control frame: `hello` or `resync_required`, with the feed's position.
fn control(frame: fn(FeedPosition) -> LiveFrame, subscription: &Subscription) -> Bytes {
    let position = FeedPosition {
        epoch: subscription.epoch.clone(),
        seq: subscription.latest_seq,
    };
    socket::text_frame(&serde_json::to_string(&frame(position)).unwrap_or_default())
}

impl Watcher {
    /// Sends frames, in one write when the connection takes them. Fails
    /// when the connection breaks, or when the client's socket has not
    /// taken them within the send limit.
    async fn send(&self, socket: &mut Socket, frames: &[Bytes]) -> Result<(), Ended> {
        let mut write = std::pin::pin!(socket.write(frames));
        // Nearly every write fits the socket's buffer and is done at its
        // first poll: only one that has to wait arms the send limit's timer.
        // A timer per write meant 1,000 timer-wheel insertions and removals
        // per event for 1,000 watchers, on the fan-out's hot path.
        let written = match futures::poll!(write.as_mut()) {
            std::task::Poll::Ready(written) => written,
            std::task::Poll::Pending => match tokio::time::timeout(self.limits.send_timeout, write).await {
                Ok(written) => written,
                Err(_) => return Err(Ended::Closed(Disconnect::SendTimeout)),
            },
        };
        written.map_err(|_| Ended::ByClient)
    }

    /// Serves the feed to one client until it leaves or breaks a limit, then
    /// closes with the code that says why.
    async fn watch(self, mut socket: Socket, subscription: Subscription, asked: Asked) {
        // Held until the closing frame is sent: a process shutting down
        // waits for it.
        let hold = self.hub.hold();
        let (code, reason) = match self.serve(&mut socket, subscription, asked, &hold).await {
            Ended::ByClient => {
                // Tungstenite's answer to the client's close, if it sent one.
                tokio::time::timeout(self.limits.send_timeout, socket.flush())
                    .await
                    .ok();
                return;
            }
            Ended::FeedRestarted => (CloseCode::FeedRestarted.code(), "feed restarted"),
            Ended::ServerClosing => (
                CloseCode::ServerRestart.code(),
                "server restarting: resume on another instance",
            ),
            Ended::Closed(cause) => {
                self.hub.record_disconnect(cause);
                let (code, reason) = match cause {
                    Disconnect::HeartbeatTimeout => (CloseCode::HeartbeatTimeout, "heartbeat timeout"),
                    Disconnect::FellBehind => (CloseCode::SlowConsumer, "slow consumer: fell too far behind the feed"),
                    Disconnect::SendTimeout => (CloseCode::SlowConsumer, "slow consumer: a frame waited too long"),
                };
                (code.code(), reason)
            }
        };
        // The closing frame gets the same time as any other to reach a slow
        // client (after the rest of a frame the send limit cut, if one was);
        // after that the connection is dropped all the same.
        let frame = socket::close_frame(code, reason);
        tokio::time::timeout(self.limits.send_timeout, socket.write(std::slice::from_ref(&frame)))
            .await
            .ok();
    }

    async fn serve(&self, socket: &mut Socket, mut subscription: Subscription, asked: Asked, hold: &Hold) -> Ended {
        // Joined after the shutdown began: its channel will not be closed.
        if hold.is_closing() {
            return Ended::ServerClosing;
        }
        if asked.control
            && let Err(ended) = self.send(socket, &[control(LiveFrame::Hello, &subscription)]).await
        {
            return ended;
        }
        if asked.resumed {
            match subscription.backlog.take() {
                Some(backlog) => {
                    let missed: Vec<Bytes> = backlog
                        .iter()
                        .filter(|event| asked.wants(event))
                        .map(|event| event.wire.clone())
                        .collect();
                    for chunk in missed.chunks(MAX_BURST) {
                        if let Err(ended) = self.send(socket, chunk).await {
                            return ended;
                        }
                    }
                }
                None => {
                    if let Err(ended) = self
                        .send(socket, &[control(LiveFrame::ResyncRequired, &subscription)])
                        .await
                    {
                        return ended;
                    }
                }
            }
        }
        let mut heartbeat = Heartbeats::new(self.limits.heartbeat, asked.control);
        let input = Quiet::new();
        // The frames of one burst. Emptied after each, so it holds no frame
        // between bursts; its capacity, at most `MAX_BURST` handles (8 KiB),
        // is what a connection keeps.
        let mut burst = Vec::new();
        // Biased, the feed first: a wake for an event polls the channel
        // alone, as the bare server does. Unbiased, each wake polled all the
        // branches in a random order, including the socket (issue 13). The
        // socket and the timer are quiet branches: polled when their own
        // wakers fired, not each time the watcher goes back to sleep. The
        // feed cannot starve them: the heartbeat is checked after every
        // burst, and what the client sent is read before a missing pong is
        // judged.
        loop {
            let result = tokio::select! {
                biased;
                received = subscription.receiver.recv() => match received {
                    Ok(first) => self.send_burst(socket, &mut subscription, &asked, first, &mut burst).await,
                    Err(RecvError::Lagged(_)) => Err(Ended::Closed(Disconnect::FellBehind)),
                    Err(RecvError::Closed) if hold.is_closing() => Err(Ended::ServerClosing),
                    Err(RecvError::Closed) => Err(Ended::FeedRestarted),
                },
                () = heartbeat.due() => Ok(()),
                incoming = read_quietly(socket, &input) => heartbeat.read(incoming),
            };
            if let Err(ended) = result {
                return ended;
            }
            if heartbeat.is_due() {
                let Err(ended) = self.beat(socket, &input, &mut heartbeat).await else {
                    continue;
                };
                return ended;
            }
        }
    }

    /// Sends `first` and every event already queued behind it (up to
    /// [`MAX_BURST`]) that the client asked for, in one write: under a
    /// firehose that is one system call per burst, not one per event. The
    /// frames were built when the events were published; the burst holds
    /// handles to them, not copies.
    async fn send_burst(
        &self,
        socket: &mut Socket,
        subscription: &mut Subscription,
        asked: &Asked,
        first: Received,
        burst: &mut Vec<Bytes>,
    ) -> Result<(), Ended> {
        let receiver = &mut subscription.receiver;
        let mut lagged = false;
        burst.extend(asked.frame(first));
        for _ in 1..MAX_BURST {
            match receiver.try_recv() {
                Ok(received) => burst.extend(asked.frame(received)),
                Err(TryRecvError::Lagged(_)) => {
                    lagged = true;
                    break;
                }
                // Closed is seen by the next recv, after this burst.
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if !burst.is_empty() {
            let sent = self.send(socket, burst).await;
            burst.clear();
            sent?;
        }
        if lagged {
            return Err(Ended::Closed(Disconnect::FellBehind));
        }
        Ok(())
    }

    /// The heartbeat is due: the client has answered the last ping (or it is
    /// closed with 4001), and gets the next.
    async fn beat(&self, socket: &mut Socket, input: &Quiet, heartbeat: &mut Heartbeats) -> Result<(), Ended> {
        if heartbeat.awaiting_pong {
            // A busy feed leaves the socket unread: what arrived is read
            // now, before the pong is called missing, with the input's own
            // waker, which the socket then holds again. Outside the task's
            // budget (a burst may have spent it, and the read would then say
            // nothing was there), so at most `MAX_DRAIN` messages: a client
            // that never stops sending cannot hold the task here.
            let drained = std::future::poll_fn(|_| {
                for _ in 0..MAX_DRAIN {
                    match input.poll_now(|context| socket.poll_next(context)) {
                        std::task::Poll::Ready(incoming) => {
                            if let Err(ended) = heartbeat.read(incoming) {
                                return std::task::Poll::Ready(Err(ended));
                            }
                        }
                        std::task::Poll::Pending => return std::task::Poll::Ready(Ok(())),
                    }
                }
                // More is waiting: the loop's quiet read takes it next.
                input.rearm();
                std::task::Poll::Ready(Ok(()))
            });
            tokio::task::unconstrained(drained).await?;
            if heartbeat.awaiting_pong {
                return Err(Ended::Closed(Disconnect::HeartbeatTimeout));
            }
        }
        let frames = heartbeat.sent();
        self.send(socket, frames).await
    }
}

/// The client's next message, read when the socket's own waker says it has
/// something ([`Quiet`]).
async fn read_quietly(socket: &mut Socket, input: &Quiet) -> Option<Result<Message, tungstenite::Error>> {
    std::future::poll_fn(|context| input.poll(context, |context| socket.poll_next(context))).await
}

/// A watcher's heartbeat: a ping each interval, and a `heartbeat` text frame
/// with it for a client that reads control frames. The ping is for the
/// server (the pong proves the client alive); the text frame for the
/// client's script, which sees no pings, to know the connection is.
struct Heartbeats {
    every: Duration,
    next: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// `next` is polled only when it fired or was reset ([`Quiet`]).
    timer: Quiet,
    /// `next`'s deadline, held here: checked after every burst, it was a
    /// cache miss into the boxed timer for each of 1,000 watchers (`perf`,
    /// issue 13).
    due_at: tokio::time::Instant,
    /// A ping, then for a client that reads control frames the `heartbeat`
    /// text frame, built once.
    frames: Vec<Bytes>,
    awaiting_pong: bool,
}

impl Heartbeats {
    fn new(every: Duration, control: bool) -> Self {
        let text = control.then(|| {
            let frame = LiveFrame::Heartbeat(Heartbeat {
                every_ms: every.as_millis() as u64,
            });
            socket::text_frame(&serde_json::to_string(&frame).unwrap_or_default())
        });
        let frames = std::iter::once(socket::ping_frame()).chain(text).collect();
        let due_at = tokio::time::Instant::now() + every;
        Self {
            every,
            next: Box::pin(tokio::time::sleep_until(due_at)),
            timer: Quiet::new(),
            due_at,
            frames,
            awaiting_pong: false,
        }
    }

    /// Resolves when the next beat is due.
    async fn due(&mut self) {
        let (timer, next) = (&self.timer, &mut self.next);
        std::future::poll_fn(|context| timer.poll(context, |context| next.as_mut().poll(context))).await;
    }

    /// By the clock, not the timer: a timer that was never polled (the
    /// feed was never idle) never fires.
    fn is_due(&self) -> bool {
        tokio::time::Instant::now() >= self.due_at
    }

    /// The frames of one beat; the next is due a whole interval later, so
    /// the client has that long to answer, even when this task was too
    /// busy to beat on time.
    fn sent(&mut self) -> &[Bytes] {
        self.awaiting_pong = true;
        self.due_at = tokio::time::Instant::now() + self.every;
        self.next.as_mut().reset(self.due_at);
        // Polled at once: a timer that fired gave its waker up, and the
        // reset one must be given the branch's again.
        self.timer.rearm();
        &self.frames
    }

    /// Takes what the client sent: a pong answers the last ping; a close, an
    /// error or the end of the stream ends the watcher.
    fn read(&mut self, incoming: Option<Result<Message, tungstenite::Error>>) -> Result<(), Ended> {
        match incoming {
            Some(Ok(Message::Pong(_))) => self.awaiting_pong = false,
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(Ended::ByClient),
            Some(Ok(_)) => {}
        }
        Ok(())
    }
}
