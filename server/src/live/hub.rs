//! The live hub: per tenant, a sequence counter, a replay history and two
//! broadcast channels, one of frames for watchers that take every payment
//! and one of whole events for watchers that filter ([`Tap`]). Each event is
//! serialized to JSON once, when published, and every watcher sends the same
//! bytes. Watchers resume with the `seq` of the last event they saw; the
//! history answers them gap-free while the event is still in it, and tells
//! them to resync otherwise.
//!
//! The `epoch` names a tenant's sequence. Alone, a process numbers events
//! itself and its epochs change when it restarts (the history goes with
//! them). With Redis, the sequence and epoch live in Redis and every instance
//! `deliver`s the same numbered events; a Redis restart starts a new epoch.
//! Either way a client holding a `seq` of another epoch is told to resync
//! instead of being sent the wrong events.
//!
//! Alone, a process's history is the only copy of the window, so it keeps
//! every tenant's. With Redis the stream holds the window too, and a feed
//! keeps its history in memory only while it is watched on this instance
//! (and for the window's age after its last watcher left): a tenant nobody
//! watches here costs a counter, not up to 10,000 events (~6 MB) on every
//! instance. A client resuming on a feed that holds no history has it
//! loaded from the stream first ([`LiveHub::load`]).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::live::FeedItem;
use tokio::sync::broadcast;

/// The replay window: at least this many events, and at least this old.
pub const HISTORY_EVENTS: usize = 10_000;
pub const HISTORY_AGE: Duration = Duration::from_secs(5 * 60);
/// Hard cap on the history however busy the last five minutes were.
pub const HISTORY_CAP: usize = 50_000;
/// Events a watcher may fall behind before it is cut off as a slow consumer.
pub const WATCHER_QUEUE: usize = 1_024;
/// Most watchers one tenant may have on one instance: a leaked key cannot
/// open sockets until the process runs out of memory or descriptors.
pub const MAX_WATCHERS: usize = 5_000;

/// What a feed's history keeps: every event of the last `age`, and at least
/// the last `events` events however old, but never more than `cap`. The
/// Redis streams are trimmed by the same rule, so every instance, including
/// one that starts later, holds the same window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayWindow {
    pub events: usize,
    pub age: Duration,
    pub cap: usize,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self {
            events: HISTORY_EVENTS,
            age: HISTORY_AGE,
            cap: HISTORY_CAP,
        }
    }
}

impl ReplayWindow {
    /// Whether the oldest of `held` events, published `oldest_age` ago, is
    /// outside the window.
    fn drops_oldest(&self, held: usize, oldest_age: Duration) -> bool {
        held > self.cap || (held > self.events && oldest_age > self.age)
    }
}

/// One published event, serialized once.
#[derive(Debug)]
pub struct LiveEvent {
    pub seq: u64,
    /// The item itself, for watchers' filters.
    pub item: FeedItem,
    published: Instant,
    /// The text frame every watcher sends, whole (header and JSON), built
    /// once ([`super::socket`]).
    pub wire: Bytes,
}

impl LiveEvent {
    /// `item` numbered `seq` and serialized; `None` (logged) when it cannot be.
    fn new(seq: u64, mut item: FeedItem, published: Instant) -> Option<Arc<Self>> {
        item.set_seq(seq);
        match item.text() {
            Ok(text) => Some(Arc::new(Self {
                seq,
                item,
                published,
                wire: super::socket::text_frame(&text),
            })),
            Err(error) => {
                tracing::error!(%error, "serializing a live event");
                None
            }
        }
    }

    /// Whether a watcher with `filter` gets this item: payment events that
    /// match it, and every alert when it reads `control` frames (the
    /// filters are about payments; a dashboard showing only failures still
    /// wants to know one fired, while a client that asked for nothing but
    /// SPEC §3's payment events gets only those).
    pub fn passes(&self, filter: &PaymentFilter, control: bool) -> bool {
        match &self.item {
            FeedItem::Payment(event) => filter.matches(event),
            FeedItem::Alert(_) => control,
        }
    }

    /// The JSON the frame carries.
    #[cfg(test)]
    pub fn json(&self) -> &str {
        std::str::from_utf8(super::socket::payload(&self.wire)).unwrap_or_default()
    }

    fn frame(&self) -> Frame {
        Frame {
            wire: self.wire.clone(),
            alert: matches!(self.item, FeedItem::Alert(_)),
        }
    }
}

/// An event as a watcher that filters nothing receives it: the frame every
/// watcher sends, and whether it is an alert (which only clients that read
/// control frames get). Its copy for each watcher touches one shared count,
/// the frame's, as the tuned bare server's frame does (the channel's slot,
/// which every receiver locks and counts down, is shared by both); an
/// `Arc<LiveEvent>` touched a second one, on the cache line every watcher
/// then read the event from, and that one increment was 2 % of the
/// fan-out's processor time (`perf` at 1,200 events/s to 1,000 clients,
/// issue 13).
#[derive(Clone, Debug)]
pub struct Frame {
    pub wire: Bytes,
    pub alert: bool,
}

/// What a watcher receives: frames when it takes every payment, whole
/// events when it filters (it looks at each).
pub enum Tap {
    Frames(broadcast::Receiver<Frame>),
    Events(broadcast::Receiver<Arc<LiveEvent>>),
}

/// One item a [`Tap`] gave.
pub enum Received {
    Frame(Frame),
    Event(Arc<LiveEvent>),
}

impl Tap {
    /// The next item; cancel-safe, as the channel's `recv`.
    pub async fn recv(&mut self) -> Result<Received, broadcast::error::RecvError> {
        match self {
            Tap::Frames(receiver) => receiver.recv().await.map(Received::Frame),
            Tap::Events(receiver) => receiver.recv().await.map(Received::Event),
        }
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Result<Received, broadcast::error::TryRecvError> {
        match self {
            Tap::Frames(receiver) => receiver.try_recv().map(Received::Frame),
            Tap::Events(receiver) => receiver.try_recv().map(Received::Event),
        }
    }
}

/// A feed's two channels, each made when its first watcher joins and let go
/// at the next event after its last watcher left (a send that finds no
/// receiver, or an event nobody keeps): a feed nobody watches here holds no
/// channel buffer (~72 KiB of slots for frames, ~32 KiB for events) once
/// an event has passed.
#[derive(Default)]
struct Channels {
    frames: Option<broadcast::Sender<Frame>>,
    events: Option<broadcast::Sender<Arc<LiveEvent>>>,
}

impl Channels {
    fn watchers(&self) -> usize {
        self.frames.as_ref().map_or(0, broadcast::Sender::receiver_count)
            + self.events.as_ref().map_or(0, broadcast::Sender::receiver_count)
    }

    /// Events the slowest watcher has yet to take.
    fn queued(&self) -> usize {
        let frames = self.frames.as_ref().map_or(0, broadcast::Sender::len);
        frames.max(self.events.as_ref().map_or(0, broadcast::Sender::len))
    }

    fn send(&mut self, event: &Arc<LiveEvent>) {
        // An error is a channel with no receiver left: it goes.
        if let Some(frames) = &self.frames
            && frames.send(event.frame()).is_err()
        {
            self.frames = None;
        }
        if let Some(events) = &self.events
            && events.send(Arc::clone(event)).is_err()
        {
            self.events = None;
        }
    }

    fn tap(&mut self, filtered: bool, capacity: usize) -> Tap {
        if filtered {
            Tap::Events(
                self.events
                    .get_or_insert_with(|| broadcast::channel(capacity).0)
                    .subscribe(),
            )
        } else {
            Tap::Frames(
                self.frames
                    .get_or_insert_with(|| broadcast::channel(capacity).0)
                    .subscribe(),
            )
        }
    }
}

struct Feed {
    epoch: String,
    /// The `seq` before the epoch's first event (see [`new_epoch`]).
    base: u64,
    latest_seq: u64,
    /// Events up to `latest_seq`, without a gap; what is kept is
    /// [`Kept`]'s to say.
    history: VecDeque<Arc<LiveEvent>>,
    kept: Kept,
    /// When the feed last had a watcher here (or began to keep its history).
    watched_at: Instant,
    channels: Channels,
    /// Held while the window is read from Redis ([`LiveHub::load`]): when
    /// many clients resume at once (their instance went away), the stream
    /// is read once, and other feeds load beside it.
    loading: Arc<tokio::sync::Mutex<()>>,
}

/// How much of the replay window a feed's history holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kept {
    /// None of it: events only pass through to watchers (a feed backed by
    /// Redis that nobody has resumed on lately).
    Nothing,
    /// What arrived since the window began loading from Redis.
    Since,
    /// All of it: a resume it cannot serve is told to resync.
    Window,
}

impl Feed {
    fn new(epoch: String, kept: Kept) -> Self {
        let base = epoch_base(&epoch);
        Self {
            epoch,
            base,
            latest_seq: base,
            history: VecDeque::new(),
            kept,
            watched_at: Instant::now(),
            channels: Channels::default(),
            loading: Arc::default(),
        }
    }

    /// Appends an event numbered `seq`, published at `published` (by this
    /// process, or by another one through Redis), and broadcasts it; the
    /// history then keeps what `window` says. An event with nobody to send
    /// it to or keep it for is only counted: `item` (which may parse it from
    /// the stream's text) is not even called.
    fn append(&mut self, seq: u64, item: impl FnOnce() -> Option<FeedItem>, published: Instant, window: &ReplayWindow) {
        if self.kept == Kept::Nothing && self.channels.watchers() == 0 {
            self.latest_seq = seq;
            // Channels whose watchers all left go here too: no send will.
            self.channels = Channels::default();
            return;
        }
        let Some(live) = item().and_then(|item| LiveEvent::new(seq, item, published)) else {
            return;
        };
        self.latest_seq = seq;
        if self.kept != Kept::Nothing {
            self.history.push_back(Arc::clone(&live));
        }
        self.channels.send(&live);
        self.trim(window);
    }

    fn trim(&mut self, window: &ReplayWindow) {
        while self
            .history
            .front()
            .is_some_and(|oldest| window.drops_oldest(self.history.len(), oldest.published.elapsed()))
        {
            self.history.pop_front();
        }
    }

    /// After a batch (for a feed backed by Redis): a watched feed stays
    /// kept; one nobody has watched here for the window's age lets its
    /// history go. The stream still holds it for whoever resumes later.
    fn forget_if_unwatched(&mut self, now: Instant, window: &ReplayWindow) {
        if self.channels.watchers() > 0 {
            self.watched_at = now;
        } else if self.kept != Kept::Nothing && now.duration_since(self.watched_at) > window.age {
            self.kept = Kept::Nothing;
            self.history = VecDeque::new();
        }
    }
}

/// What a new watcher starts from.
pub struct Subscription {
    pub epoch: String,
    /// The last `seq` published before the watcher joined.
    pub latest_seq: u64,
    /// Events after the watcher's `since`, or `None` when they are no longer
    /// all in the history (or `since` belongs to another epoch).
    pub backlog: Option<Vec<Arc<LiveEvent>>>,
    pub receiver: Tap,
}

/// A tenant already has this many watchers in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full(pub usize);

/// Every tenant's feed in this process.
pub struct LiveHub {
    feeds: Mutex<HashMap<String, Feed>>,
    window: ReplayWindow,
    /// Redis holds the window too: feeds keep theirs only while watched.
    backed: bool,
    watcher_queue: usize,
    /// Most watchers of one tenant in this process.
    max_watchers: usize,
    /// Watchers this process closed, by [`Disconnect`] cause: what an
    /// operator watches, and how tests see which limit a connection met.
    disconnects: [AtomicU64; 3],
    /// Set when the process shuts down: every watcher closes (1012).
    closing: tokio::sync::watch::Sender<bool>,
    /// Windows read from Redis so far, for operators and tests.
    loads: AtomicU64,
}

/// What [`LiveHub::hold`] gives: dropped, it lets the process exit.
pub struct Hold(tokio::sync::watch::Receiver<bool>);

impl Hold {
    /// Whether [`LiveHub::close_all`] has been called: a watcher whose
    /// channel closed tells its client the server is restarting, not that
    /// the feed did. It is read only then, so the hot path never touches
    /// the signal all watchers share.
    pub fn is_closing(&self) -> bool {
        *self.0.borrow()
    }
}

/// An event numbered elsewhere (by Redis), as [`LiveHub::deliver`] takes it.
pub struct Numbered {
    pub epoch: String,
    pub seq: u64,
    /// The item's JSON as the stream holds it: parsed only by a feed that
    /// sends or keeps it, so an instance reading every tenant's stream
    /// parses only the events of the tenants watched on it.
    pub text: String,
    /// How long ago it was published.
    pub age: Duration,
}

impl Numbered {
    /// The item, or `None` (logged) when the text is not one.
    fn item(&self) -> Option<FeedItem> {
        FeedItem::from_text(&self.text)
            .inspect_err(|error| tracing::warn!(%error, seq = self.seq, "live: an unreadable event"))
            .ok()
    }
}

/// Why the server closed a watcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disconnect {
    /// No pong by the next ping (close code 4001).
    HeartbeatTimeout,
    /// More than the watcher queue behind the feed (4008).
    FellBehind,
    /// A frame not taken by the client's socket within the send limit (4008).
    SendTimeout,
}

/// A new epoch: the microseconds since 1970 when it began. The epoch is
/// also its feed's base, the `seq` before its first event, so `seq` values
/// never repeat across epochs (a feed would need a million events a second,
/// sustained, to reach the next epoch's base): a `since` below the current
/// base names an event of an earlier epoch, and `since` alone is enough to
/// resume. Redis epochs are made the same way, from Redis's clock.
fn new_epoch() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    micros.to_string()
}

/// The base `seq` of `epoch`; 0 for an epoch that is not a number (written
/// by an older version), whose events are numbered from 1.
fn epoch_base(epoch: &str) -> u64 {
    epoch.parse().unwrap_or(0)
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new(ReplayWindow::default(), WATCHER_QUEUE, MAX_WATCHERS)
    }
}

impl LiveHub {
    pub fn new(window: ReplayWindow, watcher_queue: usize, max_watchers: usize) -> Self {
        Self {
            feeds: Mutex::new(HashMap::new()),
            window,
            backed: false,
            watcher_queue,
            max_watchers,
            disconnects: Default::default(),
            closing: tokio::sync::watch::Sender::new(false),
            loads: AtomicU64::new(0),
        }
    }

    /// A hub whose feeds' windows are also in Redis streams (see the
    /// module): an unwatched feed keeps no history, and [`Self::load`]
    /// fills it when a client resumes.
    pub fn backed_by_redis(mut self) -> Self {
        self.backed = true;
        self
    }

    /// Closes every watcher of this process: the process is shutting down.
    /// Each is told with 1012 (service restart) and resumes with `since` on
    /// another instance, which holds the same replay window (with Redis).
    pub fn close_all(&self) {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        // Set before the channels close, under the lock `subscribe` takes:
        // a watcher that finds its channel closed, or that joined after
        // this, sees it.
        self.closing.send_replace(true);
        for feed in feeds.values_mut() {
            // Dropping both senders closes every receiver once it has taken
            // what was queued: each watcher wakes, sends that, then 1012.
            feed.channels = Channels::default();
        }
    }

    /// A watcher's hold on the process, taken for the whole life of its
    /// connection: it tells the watcher when the process shuts down, and
    /// the process waits for every hold to be let go (the closing frame
    /// sent) before it exits.
    pub fn hold(&self) -> Hold {
        Hold(self.closing.subscribe())
    }

    /// Resolves once every [`Hold`] is let go (at once if none is held).
    pub async fn released(&self) {
        self.closing.closed().await;
    }

    fn new_feed(&self, epoch: String) -> Feed {
        // Alone, the history is the window's only copy: kept from the start.
        let kept = if self.backed { Kept::Nothing } else { Kept::Window };
        Feed::new(epoch, kept)
    }

    /// `tenant`'s feed, created under a random epoch if it has none.
    fn feed<'a>(&self, feeds: &'a mut HashMap<String, Feed>, tenant: &str) -> &'a mut Feed {
        feeds
            .entry(tenant.to_owned())
            .or_insert_with(|| self.new_feed(new_epoch()))
    }

    /// `tenant`'s feed, restarted first if its epoch is not `epoch`.
    fn feed_of_epoch<'a>(&self, feeds: &'a mut HashMap<String, Feed>, tenant: &str, epoch: &str) -> &'a mut Feed {
        let feed = feeds
            .entry(tenant.to_owned())
            .or_insert_with(|| self.new_feed(epoch.to_owned()));
        if feed.epoch != epoch {
            // A new epoch: history and numbering restart, and every current
            // watcher's channel closes so it reconnects (and resyncs).
            *feed = self.new_feed(epoch.to_owned());
        }
        feed
    }

    /// The current epoch of `tenant`'s feed.
    pub fn epoch(&self, tenant: &str) -> String {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        self.feed(&mut feeds, tenant).epoch.clone()
    }

    /// Makes `epoch` the epoch of `tenant`'s feed (from Redis). A different
    /// current epoch means the shared sequence restarted: the feed restarts.
    pub fn align_epoch(&self, tenant: &str, epoch: &str) {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        self.feed_of_epoch(&mut feeds, tenant, epoch);
    }

    /// Adds events numbered elsewhere (by Redis) to `tenant`'s feed, in
    /// order. A new epoch restarts the feed; an event already seen is
    /// ignored; a gap empties the history, since resumes across it cannot be
    /// served.
    ///
    /// A batch goes in under one lock, as [`Self::publish`]'s does: watchers
    /// woken by its first event find the rest queued and send it in one
    /// write. Delivered one by one, they woke once per event or so, and the
    /// Redis path's fan-out did a sixth less than the local one (issue 13).
    pub fn deliver(&self, tenant: &str, events: impl IntoIterator<Item = Numbered>) {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        let now = Instant::now();
        for numbered in events {
            let (seq, age) = (numbered.seq, numbered.age);
            let feed = self.feed_of_epoch(&mut feeds, tenant, &numbered.epoch);
            if seq <= feed.latest_seq {
                continue;
            }
            if seq != feed.latest_seq + 1 {
                feed.history.clear();
                if self.backed && feed.kept == Kept::Window {
                    // What was missed may still be in the stream: the next
                    // resume loads it.
                    feed.kept = Kept::Since;
                }
            }
            feed.append(
                seq,
                || numbered.item(),
                now.checked_sub(age).unwrap_or(now),
                &self.window,
            );
        }
        if self.backed
            && let Some(feed) = feeds.get_mut(tenant)
        {
            feed.forget_if_unwatched(now, &self.window);
        }
    }

    /// Whether `tenant`'s history holds its whole replay window, so a resume
    /// can be answered from it. Always, for a hub not backed by Redis.
    pub fn holds_window(&self, tenant: &str) -> bool {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        self.feed(&mut feeds, tenant).kept == Kept::Window
    }

    /// Loads `tenant`'s replay window from where `read` finds it (the Redis
    /// stream, as numbered events oldest first) into its history, which
    /// keeps it from then on. What is delivered while `read` runs is kept
    /// aside and joined to it, so no event is lost or held twice.
    pub async fn load<F>(&self, tenant: &str, read: F) -> anyhow::Result<()>
    where
        F: Future<Output = anyhow::Result<Vec<Numbered>>>,
    {
        let turn = {
            let mut feeds = self.feeds.lock().expect("live hub lock");
            Arc::clone(&self.feed(&mut feeds, tenant).loading)
        };
        let _turn = turn.lock().await;
        {
            let mut feeds = self.feeds.lock().expect("live hub lock");
            let feed = self.feed(&mut feeds, tenant);
            match feed.kept {
                // Loaded while this waited its turn: nothing to read.
                Kept::Window => return Ok(()),
                Kept::Nothing => {
                    feed.kept = Kept::Since;
                    feed.watched_at = Instant::now();
                }
                Kept::Since => {}
            }
        }
        self.loads.fetch_add(1, Ordering::Relaxed);
        let read = read.await?;
        let mut feeds = self.feeds.lock().expect("live hub lock");
        let feed = self.feed(&mut feeds, tenant);
        if feed.kept != Kept::Since {
            // Loaded meanwhile by another resume, or forgotten again.
            return Ok(());
        }
        // The stream's events that lead, without a gap, up to the first one
        // held (or to the latest, when none is).
        let joins_at = feed.history.front().map_or(feed.latest_seq, |first| first.seq - 1);
        let now = Instant::now();
        let mut older: Vec<Arc<LiveEvent>> = Vec::new();
        for numbered in read {
            let (seq, age) = (numbered.seq, numbered.age);
            if numbered.epoch != feed.epoch || seq > joins_at {
                continue;
            }
            if older.last().is_some_and(|last| last.seq + 1 != seq) {
                older.clear();
            }
            let item = numbered.item();
            older.extend(item.and_then(|item| LiveEvent::new(seq, item, now.checked_sub(age).unwrap_or(now))));
        }
        if older.last().is_some_and(|last| last.seq == joins_at) {
            for event in older.into_iter().rev() {
                feed.history.push_front(event);
            }
        }
        feed.trim(&self.window);
        feed.kept = Kept::Window;
        Ok(())
    }

    /// How many replay windows this process has read from Redis.
    pub fn windows_loaded(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// How many events `tenant`'s history holds in this process.
    pub fn held(&self, tenant: &str) -> usize {
        let feeds = self.feeds.lock().expect("live hub lock");
        feeds.get(tenant).map_or(0, |feed| feed.history.len())
    }

    /// How many events every feed's history holds in this process, and how
    /// many watchers the feeds have.
    pub fn totals(&self) -> (usize, usize) {
        let feeds = self.feeds.lock().expect("live hub lock");
        feeds.values().fold((0, 0), |(events, watchers), feed| {
            (events + feed.history.len(), watchers + feed.channels.watchers())
        })
    }

    /// Numbers, serializes, records and broadcasts `events` of `tenant`, in
    /// order (the feed of a process without Redis).
    pub fn publish(&self, tenant: &str, events: impl IntoIterator<Item = FeedItem>) {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        let feed = self.feed(&mut feeds, tenant);
        let now = Instant::now();
        for event in events {
            let seq = feed.latest_seq + 1;
            feed.append(seq, || Some(event), now, &self.window);
        }
        if self.backed {
            feed.forget_if_unwatched(now, &self.window);
        }
    }

    /// Counts a watcher closed for `cause`.
    pub fn record_disconnect(&self, cause: Disconnect) {
        self.disconnects[cause as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Watchers closed for `cause` since the process started.
    pub fn disconnects(&self, cause: Disconnect) -> u64 {
        self.disconnects[cause as usize].load(Ordering::Relaxed)
    }

    /// How many watchers `tenant`'s feed has now.
    pub fn watchers(&self, tenant: &str) -> usize {
        let feeds = self.feeds.lock().expect("live hub lock");
        feeds.get(tenant).map_or(0, |feed| feed.channels.watchers())
    }

    /// Events the slowest watcher of `tenant` in this process has yet to
    /// take: how far behind the feed its laggard is.
    pub fn queued(&self, tenant: &str) -> usize {
        let feeds = self.feeds.lock().expect("live hub lock");
        feeds.get(tenant).map_or(0, |feed| feed.channels.queued())
    }

    /// Joins `tenant`'s feed, resuming after `since` if given (of `epoch`,
    /// when the client names it: an optional extra check); a `filtered`
    /// watcher receives whole events, the others their frames.
    pub fn subscribe(
        &self,
        tenant: &str,
        resume: Option<(u64, Option<&str>)>,
        filtered: bool,
    ) -> Result<Subscription, Full> {
        let mut feeds = self.feeds.lock().expect("live hub lock");
        let feed = self.feed(&mut feeds, tenant);
        // Each watcher holds one receiver of one of the tenant's two
        // channels, dropped when it ends: the count is exact, under the
        // same lock.
        if feed.channels.watchers() >= self.max_watchers {
            return Err(Full(self.max_watchers));
        }
        // Subscribing under the lock that publish holds: every event after
        // the backlog's last one arrives on the receiver, none twice.
        let receiver = feed.channels.tap(filtered, self.watcher_queue);
        let backlog = resume.and_then(|(since, epoch)| {
            if epoch.is_some_and(|epoch| epoch != feed.epoch) || since < feed.base || since > feed.latest_seq {
                return None;
            }
            let oldest = feed.history.front().map_or(feed.latest_seq + 1, |event| event.seq);
            (since + 1 >= oldest).then(|| feed.history.iter().filter(|event| event.seq > since).cloned().collect())
        });
        Ok(Subscription {
            epoch: feed.epoch.clone(),
            latest_seq: feed.latest_seq,
            backlog,
            receiver,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::socket;
    use chrono::Utc;
    use paypulse_shared::Amount;
    use paypulse_shared::payment::{EventType, Payment, PaymentEvent, PaymentStatus};

    fn event(amount_minor: i64) -> FeedItem {
        let now = Utc::now();
        FeedItem::Payment(PaymentEvent {
            event_type: EventType::PaymentReceived,
            payment: Payment {
                id: "p".into(),
                tenant_id: "acme".into(),
                external_id: "x".into(),
                amount: Amount::from_minor(amount_minor, 2),
                currency: "USD".into(),
                method: "card".into(),
                status: PaymentStatus::Succeeded,
                failure_reason: None,
                refunded_at: None,
                created_at: now,
                updated_at: now,
            },
            timestamp: now,
            seq: None,
        })
    }

    /// Delivers one event numbered elsewhere.
    fn deliver(hub: &LiveHub, tenant: &str, epoch: &str, seq: u64, item: FeedItem, age: Duration) {
        let (epoch, text) = (epoch.to_owned(), item.text().unwrap());
        hub.deliver(tenant, [Numbered { epoch, seq, text, age }]);
    }

    fn join(hub: &LiveHub, tenant: &str, resume: Option<(u64, Option<&str>)>) -> Subscription {
        hub.subscribe(tenant, resume, false).expect("room for a watcher")
    }

    #[test]
    fn a_tenant_has_at_most_its_watchers_and_a_leaving_one_makes_room() {
        let hub = LiveHub::new(ReplayWindow::default(), WATCHER_QUEUE, 2);
        let first = join(&hub, "acme", None);
        let _second = hub.subscribe("acme", None, true).expect("room for a watcher");
        assert_eq!(hub.subscribe("acme", None, false).err(), Some(Full(2)));
        assert!(hub.subscribe("globex", None, true).is_ok(), "each tenant has its own");
        drop(first);
        assert!(
            hub.subscribe("acme", None, true).is_ok(),
            "a watcher that left makes room"
        );
    }

    /// The `seq` before the first event of `tenant`'s current epoch.
    fn base(hub: &LiveHub, tenant: &str) -> u64 {
        hub.epoch(tenant).parse().unwrap()
    }

    #[test]
    fn numbers_events_per_tenant_and_serializes_them_once() {
        let hub = LiveHub::default();
        hub.publish("acme", [event(1), event(2)]);
        hub.publish("globex", [event(3)]);
        let base = base(&hub, "acme");
        let acme = join(&hub, "acme", Some((base, Some(&hub.epoch("acme")))));
        let backlog = acme.backlog.unwrap();
        assert_eq!(
            backlog.iter().map(|event| event.seq).collect::<Vec<_>>(),
            [base + 1, base + 2]
        );
        assert!(backlog[1].json().contains(&format!("\"seq\":{}", base + 2)));
        let globex = epoch_base(&hub.epoch("globex"));
        assert_eq!(join(&hub, "globex", None).latest_seq, globex + 1);
    }

    #[test]
    fn resumes_from_history_and_asks_for_resync_beyond_it() {
        let hub = LiveHub::default();
        hub.publish("acme", (0..5).map(event));
        let base = base(&hub, "acme");
        let epoch = hub.epoch("acme");
        let resumed = join(&hub, "acme", Some((base + 3, Some(&epoch)))).backlog.unwrap();
        assert_eq!(
            resumed.iter().map(|event| event.seq).collect::<Vec<_>>(),
            [base + 4, base + 5]
        );
        assert!(
            join(&hub, "acme", Some((base + 5, Some(&epoch))))
                .backlog
                .unwrap()
                .is_empty()
        );
        assert!(
            join(&hub, "acme", Some((base + 2, Some("another-epoch"))))
                .backlog
                .is_none()
        );
        assert!(
            join(&hub, "acme", Some((base + 9, Some(&epoch)))).backlog.is_none(),
            "a seq from the future"
        );
    }

    #[test]
    fn since_alone_resumes_and_recognises_another_epochs_seq() {
        let hub = LiveHub::default();
        hub.publish("acme", (0..5).map(event));
        let base = base(&hub, "acme");
        let resumed = join(&hub, "acme", Some((base + 3, None))).backlog.unwrap();
        assert_eq!(resumed.len(), 2, "no epoch needed");
        assert!(
            join(&hub, "acme", Some((base - 1, None))).backlog.is_none(),
            "below the base: an earlier epoch's seq"
        );
        assert!(join(&hub, "acme", Some((3, None))).backlog.is_none());
        // Redis's epochs carry their base the same way.
        deliver(&hub, "acme", "2000", 2001, event(1), Duration::ZERO);
        assert_eq!(join(&hub, "acme", Some((2000, None))).backlog.unwrap().len(), 1);
        assert!(join(&hub, "acme", Some((base + 5, None))).backlog.is_none());
    }

    #[test]
    fn delivered_events_keep_their_numbers_and_epochs() {
        let hub = LiveHub::default();
        deliver(&hub, "acme", "e1", 7, event(1), Duration::ZERO);
        deliver(&hub, "acme", "e1", 8, event(2), Duration::ZERO);
        deliver(&hub, "acme", "e1", 8, event(2), Duration::ZERO);
        let backlog = join(&hub, "acme", Some((7, Some("e1")))).backlog.unwrap();
        assert_eq!(
            backlog.iter().map(|event| event.seq).collect::<Vec<_>>(),
            [8],
            "duplicates are ignored"
        );
        let mut watcher = join(&hub, "acme", None).receiver;
        deliver(&hub, "acme", "e1", 10, event(3), Duration::ZERO);
        assert!(
            join(&hub, "acme", Some((8, Some("e1")))).backlog.is_none(),
            "a gap cannot be resumed across"
        );
        let Ok(Received::Frame(frame)) = watcher.try_recv() else {
            panic!("a frame for a watcher that filters nothing")
        };
        assert!(String::from_utf8_lossy(socket::payload(&frame.wire)).contains("\"seq\":10"));
        deliver(&hub, "acme", "e2", 1, event(4), Duration::ZERO);
        assert_eq!(hub.epoch("acme"), "e2");
        assert!(
            matches!(watcher.try_recv(), Err(broadcast::error::TryRecvError::Closed)),
            "a new epoch closes watchers"
        );
        assert_eq!(join(&hub, "acme", Some((0, Some("e2")))).backlog.unwrap().len(), 1);
    }

    #[test]
    fn beyond_the_newest_events_history_keeps_only_the_young_ones() {
        let window = ReplayWindow {
            events: 3,
            age: Duration::from_secs(60),
            cap: 10,
        };
        let hub = LiveHub::new(window, WATCHER_QUEUE, MAX_WATCHERS);
        let old = Duration::from_secs(61);
        for seq in 1..=5 {
            deliver(&hub, "acme", "e1", seq, event(1), old);
        }
        // Of events older than the window's age, only the newest three stay.
        assert!(join(&hub, "acme", Some((1, Some("e1")))).backlog.is_none());
        assert_eq!(join(&hub, "acme", Some((2, Some("e1")))).backlog.unwrap().len(), 3);
        // Young events all stay, up to the cap, and push the old ones out.
        for seq in 6..=12 {
            deliver(&hub, "acme", "e1", seq, event(1), Duration::ZERO);
        }
        assert_eq!(join(&hub, "acme", Some((5, Some("e1")))).backlog.unwrap().len(), 7);
        assert!(join(&hub, "acme", Some((4, Some("e1")))).backlog.is_none());
        for seq in 13..=20 {
            deliver(&hub, "acme", "e1", seq, event(1), Duration::ZERO);
        }
        assert_eq!(join(&hub, "acme", Some((10, Some("e1")))).backlog.unwrap().len(), 10);
        assert!(
            join(&hub, "acme", Some((9, Some("e1")))).backlog.is_none(),
            "at most the cap"
        );
    }

    /// Events `seqs` of epoch "e1", as a Redis stream returns them.
    fn stream(seqs: impl IntoIterator<Item = u64>) -> Vec<Numbered> {
        seqs.into_iter()
            .map(|seq| Numbered {
                epoch: "e1".into(),
                seq,
                text: event(seq as i64).text().unwrap(),
                age: Duration::ZERO,
            })
            .collect()
    }

    fn backed(age: Duration) -> LiveHub {
        let window = ReplayWindow {
            events: 100,
            age,
            cap: 1_000,
        };
        LiveHub::new(window, WATCHER_QUEUE, MAX_WATCHERS).backed_by_redis()
    }

    #[tokio::test]
    async fn backed_by_redis_an_unwatched_feed_holds_nothing_until_a_resume_loads_its_window() {
        let hub = backed(Duration::from_secs(600));
        hub.deliver("acme", stream(1..=10));
        assert_eq!(hub.held("acme"), 0, "nobody watches: nothing held");
        assert!(!hub.holds_window("acme"));
        assert_eq!(
            join(&hub, "acme", None).latest_seq,
            10,
            "but the feed's position is known"
        );

        hub.load("acme", async { Ok(stream(1..=10)) }).await.unwrap();
        assert!(hub.holds_window("acme"));
        let backlog = join(&hub, "acme", Some((4, Some("e1")))).backlog.unwrap();
        assert_eq!(
            backlog.iter().map(|event| event.seq).collect::<Vec<_>>(),
            [5, 6, 7, 8, 9, 10]
        );
        assert!(backlog[0].json().contains("\"seq\":5"), "numbered as delivered");

        hub.deliver("acme", stream(11..=12));
        assert_eq!(hub.held("acme"), 12, "a loaded window is kept up to date");
    }

    /// A hub that has counted events 1..=8 and loads its window while
    /// 9..=12 reach it, from a stream read that saw up to `read_until`.
    async fn loaded_while_events_arrive(read_until: u64) -> LiveHub {
        let hub = backed(Duration::from_secs(600));
        hub.deliver("acme", stream(1..=8));
        let read = async {
            hub.deliver("acme", stream(9..=12));
            Ok(stream(1..=read_until))
        };
        hub.load("acme", read).await.unwrap();
        hub
    }

    #[tokio::test]
    async fn a_feed_s_window_is_read_once_while_other_feeds_load_beside_it() {
        let hub = Arc::new(backed(Duration::from_secs(600)));
        hub.deliver("acme", stream(1..=8));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let first = tokio::spawn({
            let hub = Arc::clone(&hub);
            async move {
                let read = async {
                    released.await.ok();
                    Ok(stream(1..=8))
                };
                hub.load("acme", read).await
            }
        });
        while hub.windows_loaded() == 0 {
            tokio::task::yield_now().await;
        }
        // A second resume on acme while the first read is under way.
        let read_again = Arc::new(AtomicU64::new(0));
        let second = tokio::spawn({
            let (hub, read_again) = (Arc::clone(&hub), Arc::clone(&read_again));
            async move {
                let read = async move {
                    read_again.fetch_add(1, Ordering::Relaxed);
                    Ok(stream(1..=8))
                };
                hub.load("acme", read).await
            }
        });
        // Let the second resume run up to where it waits.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        // Another feed loads beside it, not after it.
        hub.load("globex", async { Ok(Vec::new()) }).await.unwrap();
        assert!(hub.holds_window("globex"));
        assert!(!second.is_finished() && !hub.holds_window("acme"));

        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(read_again.load(Ordering::Relaxed), 0, "the second resume found it held");
        assert_eq!(hub.windows_loaded(), 2, "acme once, globex once");
        assert_eq!(hub.held("acme"), 8);
    }

    #[tokio::test]
    async fn a_window_read_while_events_arrive_holds_each_event_once_in_order() {
        let hub = loaded_while_events_arrive(10).await;
        let backlog = join(&hub, "acme", Some((0, Some("e1")))).backlog.unwrap();
        assert_eq!(
            backlog.iter().map(|event| event.seq).collect::<Vec<_>>(),
            (1..=12).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_window_with_a_hole_before_what_arrived_is_not_joined_to_it() {
        // A stream read that somehow stops short of what arrived.
        let hub = loaded_while_events_arrive(7).await;
        assert!(join(&hub, "acme", Some((8, Some("e1")))).backlog.is_some());
        assert!(
            join(&hub, "acme", Some((7, Some("e1")))).backlog.is_none(),
            "event 8 is held nowhere: resync, not a replay with a hole"
        );
    }

    #[tokio::test]
    async fn a_feed_nobody_watches_for_the_windows_age_lets_its_history_go() {
        let hub = backed(Duration::ZERO);
        hub.deliver("acme", stream(1..=5));
        hub.load("acme", async { Ok(stream(1..=5)) }).await.unwrap();
        let watcher = join(&hub, "acme", None);
        hub.deliver("acme", stream(6..=6));
        assert_eq!(hub.held("acme"), 6, "watched: kept");
        drop(watcher);
        hub.deliver("acme", stream(7..=7));
        assert_eq!(hub.held("acme"), 0, "unwatched past the age: let go");
        assert!(!hub.holds_window("acme"), "the next resume loads it again");
    }

    #[test]
    fn alone_a_hub_keeps_every_window_watched_or_not() {
        let hub = LiveHub::default();
        hub.publish("acme", (0..5).map(event));
        assert_eq!(hub.held("acme"), 5);
        assert!(hub.holds_window("acme"));
    }

    #[test]
    fn closing_closes_every_channel_after_what_it_queued() {
        let hub = LiveHub::default();
        let mut watcher = join(&hub, "acme", None).receiver;
        let hold = hub.hold();
        hub.publish("acme", [event(1)]);
        assert!(!hold.is_closing());
        hub.close_all();
        assert!(hold.is_closing());
        assert!(watcher.try_recv().is_ok(), "what was queued is still sent");
        assert!(matches!(
            watcher.try_recv(),
            Err(broadcast::error::TryRecvError::Closed)
        ));
        assert!(hub.hold().is_closing(), "a watcher joining afterwards sees it too");
    }

    #[test]
    fn watchers_that_filter_get_whole_events_the_others_frames_and_an_unwatched_channel_goes() {
        let hub = LiveHub::default();
        let mut filtered = hub.subscribe("acme", None, true).unwrap().receiver;
        let mut unfiltered = join(&hub, "acme", None).receiver;
        hub.publish("acme", [event(1)]);
        let Ok(Received::Event(whole)) = filtered.try_recv() else {
            panic!("a whole event for a watcher that filters")
        };
        let Ok(Received::Frame(frame)) = unfiltered.try_recv() else {
            panic!("a frame for one that does not")
        };
        assert_eq!((&frame.wire, frame.alert), (&whole.wire, false));
        drop(filtered);
        hub.publish("acme", [event(2)]);
        let feeds = hub.feeds.lock().unwrap();
        let channels = &feeds["acme"].channels;
        assert!(channels.events.is_none(), "its last watcher left: the channel went");
        assert!(channels.frames.is_some());
    }

    #[test]
    fn a_feed_backed_by_redis_lets_its_channels_go_once_its_watchers_left() {
        let hub = LiveHub::default().backed_by_redis();
        hub.align_epoch("acme", "e1");
        let watcher = join(&hub, "acme", None);
        deliver(&hub, "acme", "e1", 1, event(1), Duration::ZERO);
        drop(watcher);
        // Kept nothing and watched by nobody: the event is only counted.
        deliver(&hub, "acme", "e1", 2, event(2), Duration::ZERO);
        let feeds = hub.feeds.lock().unwrap();
        assert!(feeds["acme"].channels.frames.is_none());
        assert_eq!(feeds["acme"].latest_seq, 2);
    }

    #[test]
    fn a_feed_parses_an_event_only_when_it_sends_or_keeps_it() {
        let hub = LiveHub::default().backed_by_redis();
        let unreadable = |seq| Numbered {
            epoch: "e1".into(),
            seq,
            text: "not an event".into(),
            age: Duration::ZERO,
        };
        hub.deliver("acme", [unreadable(1)]);
        assert_eq!(
            join(&hub, "acme", None).latest_seq,
            1,
            "unwatched: counted, never parsed"
        );
        let _watcher = join(&hub, "acme", None);
        hub.deliver("acme", [unreadable(2)]);
        assert_eq!(
            join(&hub, "acme", None).latest_seq,
            1,
            "watched: parsed, and an unreadable one is left out"
        );
    }

    #[test]
    fn history_is_bounded() {
        let hub = LiveHub::default();
        hub.publish("acme", (0..(HISTORY_CAP as i64 + 10)).map(event));
        let subscription = join(&hub, "acme", Some((base(&hub, "acme"), None)));
        assert!(subscription.backlog.is_none(), "the first events left the history");
        let feeds = hub.feeds.lock().unwrap();
        assert_eq!(feeds["acme"].history.len(), HISTORY_CAP);
    }
}
