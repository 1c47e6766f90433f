//! The socket service: keeps one `/ws/payments` connection open for the
//! signed-in tenant, hands its frames to the store, and reconnects when the
//! store says so (after the backoff delay, resuming after the last event),
//! or when the server's heartbeats stop (a connection that died without a
//! close: the computer slept, the network changed).
//!
//! Events are handed over in batches, at most one per animation frame, so a
//! firehose costs one store update and one render per frame, not one per
//! event. Hidden tabs get no animation frames; a timer flushes there too, so
//! the pending batch stays small.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use paypulse_shared::live::{FeedItem, LiveFrame};

use paypulse_shared::query::{PaymentListQuery, to_query};

use super::protocol::{Position, parse, socket_url};
use crate::api::ApiClient;
use crate::platform::Platform;
use crate::session::Credentials;
use crate::store::alerts::AlertEffect;
use crate::store::{Action, Effect};

/// When animation frames do not come (a hidden tab), events still reach the
/// store this often.
const FLUSH_FALLBACK_MS: i32 = 250;

/// Silence after which a connection is taken for dead before its first
/// heartbeat says how often they come: two of the server's default 15 s and
/// a margin.
const FIRST_SILENCE_MS: u32 = 45_000;
/// After a heartbeat: dead when the next two have not come, with this much
/// slack for a busy page.
const SILENCE_SLACK_MS: u32 = 2_000;

/// Payments the feed opens with.
const FEED_PRELOAD: u32 = 50;

/// The firing alerts (more than a tenant's rules can have at once) and the
/// history's first page.
const FIRING_ALERTS: &str = "state=firing&limit=100";
const ALERT_HISTORY: &str = "limit=50";

/// Applies an action to the store and returns its effects.
pub type Dispatch = Rc<dyn Fn(Action) -> Vec<Effect>>;

/// Stops the service when dropped.
pub struct LiveService {
    inner: Rc<Inner>,
}

struct Inner {
    credentials: Credentials,
    client: Rc<ApiClient>,
    /// Tells the user of alerts outside the page.
    platform: Platform,
    dispatch: Dispatch,
    /// Called for [`Effect::InvalidateQueries`].
    invalidate: Rc<dyn Fn()>,
    connection: RefCell<Option<Connection>>,
    pending: RefCell<Vec<FeedItem>>,
    flush_scheduled: Cell<bool>,
    stopped: Cell<bool>,
    /// A history request is running; another was asked for meanwhile.
    history_busy: Cell<bool>,
    history_again: Cell<bool>,
    /// Counts the watchdog's arming: a timer armed before the latest one
    /// (or before the connection closed) does nothing.
    watchdog: Cell<u32>,
}

/// A socket and the handlers it calls, dropped together.
struct Connection {
    socket: WebSocket,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        self.socket.close_with_code(1000).ok();
    }
}

impl LiveService {
    /// Connects as `credentials` and keeps connected until dropped.
    pub fn start(
        credentials: Credentials,
        client: Rc<ApiClient>,
        platform: Platform,
        dispatch: Dispatch,
        invalidate: Rc<dyn Fn()>,
    ) -> Self {
        let inner = Rc::new(Inner {
            credentials,
            client,
            platform,
            dispatch,
            invalidate,
            connection: RefCell::new(None),
            pending: RefCell::new(Vec::new()),
            flush_scheduled: Cell::new(false),
            stopped: Cell::new(false),
            history_busy: Cell::new(false),
            history_again: Cell::new(false),
            watchdog: Cell::new(0),
        });
        Inner::open(&inner, None);
        Self { inner }
    }
}

impl Drop for LiveService {
    fn drop(&mut self) {
        self.inner.stopped.set(true);
        self.inner.connection.borrow_mut().take();
    }
}

impl Inner {
    /// Asks for a ticket, then opens the socket with it. A refused ticket is
    /// a failed connection (with the server's reason), retried by the same
    /// backoff.
    fn open(this: &Rc<Self>, resume: Option<Position>) {
        if this.stopped.get() {
            return;
        }
        let weak = Rc::downgrade(this);
        let client = this.client.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let ticket = client.ticket().await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            match ticket {
                Ok(ticket) => Inner::connect(&inner, &ticket.ticket, resume),
                // No socket was opened: no close code (0), the server's
                // message says why.
                Err(failure) => inner.closed(0, failure.message),
            }
        });
    }

    fn connect(this: &Rc<Self>, ticket: &str, resume: Option<Position>) {
        if this.stopped.get() {
            return;
        }
        let origin = web_sys::window()
            .and_then(|window| window.location().origin().ok())
            .unwrap_or_default();
        let url = socket_url(&this.credentials, &origin, ticket, resume.as_ref());
        let socket = match WebSocket::new(&url) {
            Ok(socket) => socket,
            Err(error) => {
                let reason = error.as_string().unwrap_or_else(|| "the address was refused".into());
                this.closed(1006, reason);
                return;
            }
        };
        let weak = Rc::downgrade(this);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let (Some(inner), Some(text)) = (weak.upgrade(), event.data().as_string()) {
                inner.receive(&text);
            }
        });
        let weak = Rc::downgrade(this);
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            if let Some(inner) = weak.upgrade() {
                inner.closed(event.code(), event.reason());
            }
        });
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        // Replacing the old connection drops its handlers; this runs from a
        // timer, never from inside them.
        *this.connection.borrow_mut() = Some(Connection {
            socket,
            _on_message: on_message,
            _on_close: on_close,
        });
        this.watch(FIRST_SILENCE_MS);
    }

    /// Takes the connection for dead if nothing re-arms this within
    /// `silence_ms`. A computer that slept, or a network that changed,
    /// leaves a socket that looks open and never closes: only the missing
    /// heartbeats tell, and then the feed resumes on a new one.
    fn watch(self: &Rc<Self>, silence_ms: u32) {
        let armed = self.watchdog.get().wrapping_add(1);
        self.watchdog.set(armed);
        let weak = Rc::downgrade(self);
        after(silence_ms.min(i32::MAX as u32) as i32, move || {
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.watchdog.get() != armed || inner.connection.borrow_mut().take().is_none() {
                return;
            }
            inner.closed(
                0,
                "the server went quiet (the computer slept or the network changed)".to_owned(),
            );
        });
    }

    fn receive(self: Rc<Self>, text: &str) {
        match parse(text) {
            Some(LiveFrame::Event(event)) => {
                self.pending.borrow_mut().push(FeedItem::Payment(*event));
                self.schedule_flush();
            }
            // In the same batch as the events, so `seq` stays in order.
            Some(LiveFrame::Alert(frame)) => {
                self.pending.borrow_mut().push(FeedItem::Alert(*frame));
                self.schedule_flush();
            }
            Some(LiveFrame::Hello(position)) => {
                self.flush();
                self.dispatch(Action::Hello(position));
            }
            Some(LiveFrame::ResyncRequired(position)) => {
                self.flush();
                self.dispatch(Action::ResyncRequired(position));
            }
            Some(LiveFrame::Heartbeat(heartbeat)) => {
                let every_ms = u32::try_from(heartbeat.every_ms).unwrap_or(u32::MAX / 4);
                self.watch(every_ms.saturating_mul(2).saturating_add(SILENCE_SLACK_MS));
            }
            // A newer server may add frame types: skipped, never fatal.
            Some(LiveFrame::Unknown(_)) | None => {
                web_sys::console::warn_1(&format!("ignoring an unknown live frame: {text}").into())
            }
        }
    }

    fn closed(self: &Rc<Self>, code: u16, reason: String) {
        if self.stopped.get() {
            return;
        }
        // Disarmed: the next connection arms its own.
        self.watchdog.set(self.watchdog.get().wrapping_add(1));
        self.flush();
        self.dispatch(Action::Closed {
            code,
            reason,
            random: js_sys::Math::random(),
        });
    }

    fn dispatch(self: &Rc<Self>, action: Action) {
        for effect in (self.dispatch)(action) {
            match effect {
                Effect::InvalidateQueries => (self.invalidate)(),
                Effect::LoadLatest => {
                    let weak = Rc::downgrade(self);
                    let client = self.client.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let latest = PaymentListQuery {
                            limit: Some(FEED_PRELOAD),
                            ..PaymentListQuery::default()
                        };
                        let page = client.payments(&to_query(&latest)).await;
                        if let Some(inner) = weak.upgrade() {
                            inner.dispatch(Action::Latest(page.ok().map(|page| page.items)));
                        }
                    });
                }
                Effect::Alerts(AlertEffect::LoadActive) => {
                    let weak = Rc::downgrade(self);
                    let client = self.client.clone();
                    wasm_bindgen_futures::spawn_local(async move {
                        let firing = client.alerts(FIRING_ALERTS).await;
                        if let Some(inner) = weak.upgrade() {
                            inner.dispatch(Action::ActiveAlerts(firing.ok().map(|page| page.items)));
                        }
                    });
                }
                Effect::Alerts(AlertEffect::LoadHistory) => self.load_history(),
                Effect::Alerts(AlertEffect::Notify(alert)) => {
                    let weak = Rc::downgrade(self);
                    let platform = self.platform;
                    wasm_bindgen_futures::spawn_local(async move {
                        if let Err(problem) = platform.notify(&alert).await
                            && let Some(inner) = weak.upgrade()
                        {
                            inner.dispatch(Action::NotificationsUnavailable(problem));
                        }
                    });
                }
                Effect::Alerts(AlertEffect::DismissLater { toast, delay_ms }) => {
                    let weak = Rc::downgrade(self);
                    after(delay_ms as i32, move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.dispatch(Action::DismissToast(toast));
                        }
                    });
                }
                Effect::Reconnect { delay_ms, resume } => {
                    let weak = Rc::downgrade(self);
                    after(delay_ms as i32, move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.dispatch(Action::Reconnecting);
                            Inner::open(&inner, resume);
                        }
                    });
                }
            }
        }
    }

    /// One history request at a time: answers cannot arrive out of order,
    /// and frames in a burst cost one more request, not one each.
    fn load_history(self: &Rc<Self>) {
        if self.history_busy.replace(true) {
            self.history_again.set(true);
            return;
        }
        let weak = Rc::downgrade(self);
        let client = self.client.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let page = client.alerts(ALERT_HISTORY).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            inner.history_busy.set(false);
            inner.dispatch(Action::AlertHistory(page.map_err(|failure| failure.message)));
            if inner.history_again.replace(false) {
                inner.load_history();
            }
        });
    }

    fn schedule_flush(self: &Rc<Self>) {
        if self.flush_scheduled.replace(true) {
            return;
        }
        let flush = |weak: Weak<Self>| {
            move || {
                if let Some(inner) = weak.upgrade() {
                    inner.flush();
                }
            }
        };
        if let Some(window) = web_sys::window() {
            let on_frame = Closure::once_into_js(flush(Rc::downgrade(self)));
            window.request_animation_frame(on_frame.unchecked_ref()).ok();
        }
        after(FLUSH_FALLBACK_MS, flush(Rc::downgrade(self)));
    }

    fn flush(self: &Rc<Self>) {
        self.flush_scheduled.set(false);
        let batch = std::mem::take(&mut *self.pending.borrow_mut());
        if !batch.is_empty() {
            self.dispatch(Action::Events(batch));
        }
    }
}

/// Runs `f` once after `delay_ms`.
pub fn after(delay_ms: i32, f: impl FnOnce() + 'static) {
    if let Some(window) = web_sys::window() {
        let callback = Closure::once_into_js(f);
        window
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback.unchecked_ref(), delay_ms)
            .ok();
    }
}
