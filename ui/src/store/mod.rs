//! The dashboard's state: one [`Dashboard`] value changed only by
//! [`Action`]s through [`Dashboard::reduce`], a pure function (no browser,
//! no clock, no randomness: the caller passes them in) that returns the
//! [`Effect`]s the shell must carry out. The reducer is what the native unit
//! tests exercise; the components only dispatch and render.

pub mod alerts;
pub mod feed;
pub mod query;

use paypulse_shared::alerts::{Alert, AlertsPage};
use paypulse_shared::live::{AlertFrame, FeedItem};
use paypulse_shared::payment::{EventType, Payment};

use crate::live::backoff::Backoff;
use paypulse_shared::live::CloseCode;

use crate::live::protocol::Position;
use alerts::{AlertEffect, Alerts};
use feed::{Feed, FeedFilter, Received};

/// The live connection as the user sees it (`connection-status`).
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    /// Opening the socket; `attempt` counts from 1 since the last success.
    Connecting { attempt: u32 },
    /// Receiving events.
    Live,
    /// Lost; the next attempt starts after `retry_in_ms`.
    Waiting { reason: String, retry_in_ms: u32 },
}

/// Everything the dashboard shows that is not a REST answer.
#[derive(Clone, Debug)]
pub struct Dashboard {
    pub connection: Connection,
    backoff: Backoff,
    /// The feed's epoch, once a `hello` named it.
    epoch: Option<String>,
    pub feed: Feed,
    /// Times the feed had to be reloaded because missed events were gone.
    pub resyncs: u32,
    /// The latest payments the feed opens with.
    preload: Preload,
    /// Firing alerts, toasts and the history.
    pub alerts: Alerts,
}

/// The feed opens with the latest payments from the list endpoint, fetched
/// after the first `hello` (so they include every event up to its `seq`),
/// while the events after it are held back; then the held events follow,
/// those the list already shows dropped (see [`Feed::preload`]). No event is
/// missed (before the `hello`: in the list; after: held) and none is shown
/// twice.
#[derive(Clone, Debug, Default)]
enum Preload {
    #[default]
    NotStarted,
    Loading {
        /// In order: payment events and alert frames (whose `seq` counts
        /// too; the alerts themselves are applied at once).
        held: Vec<FeedItem>,
    },
    Done,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self {
            connection: Connection::Connecting { attempt: 1 },
            backoff: Backoff::default(),
            epoch: None,
            feed: Feed::default(),
            resyncs: 0,
            preload: Preload::NotStarted,
            alerts: Alerts::default(),
        }
    }
}

/// Something that happened.
#[derive(Clone, Debug)]
pub enum Action {
    /// The socket sent `hello`.
    Hello(Position),
    /// Payment events and alert frames received since the last batch (one
    /// animation frame's worth), in the order they came.
    Events(Vec<FeedItem>),
    /// The server can no longer replay what we missed.
    ResyncRequired(Position),
    /// The socket closed or could not open; `random` in `[0, 1)` jitters the
    /// retry delay.
    Closed {
        code: u16,
        reason: String,
        random: f64,
    },
    /// The retry delay has passed and a new socket is being opened.
    Reconnecting,
    /// The latest payments, newest first, for the feed to open with;
    /// `None` if they could not be fetched (the feed opens empty).
    Latest(Option<Vec<Payment>>),
    TogglePause,
    Pause,
    SetFilter(FeedFilter),
    /// The firing alerts (`GET /api/alerts?state=firing`); `None` if they
    /// could not be fetched (the list keeps what frames said).
    ActiveAlerts(Option<Vec<Alert>>),
    /// The history's first page, or why it could not be fetched.
    AlertHistory(Result<AlertsPage, String>),
    /// A toast was closed (by its button or its timer).
    DismissToast(u64),
    /// The platform could not show an alert outside the page, and why.
    NotificationsUnavailable(String),
}

/// What the shell must do after an action.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// REST answers may be out of date: refetch (throttled).
    InvalidateQueries,
    /// Open a new socket after `delay_ms`, resuming from `resume`.
    Reconnect { delay_ms: u32, resume: Option<Position> },
    /// Fetch the latest payments and hand them back as [`Action::Latest`].
    LoadLatest,
    /// Fetch or time something for the alerts.
    Alerts(AlertEffect),
}

impl Dashboard {
    /// Applies `action` and returns what the shell must do next.
    pub fn reduce(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::Hello(position) => {
                self.connection = Connection::Live;
                self.backoff.succeed();
                let resumed = self.epoch.as_deref() == Some(position.epoch.as_str());
                if !resumed {
                    // A new feed (first connection): events continue after
                    // its current `seq`. A resumed one replays after ours.
                    self.feed.continue_after(position.seq);
                }
                self.epoch = Some(position.epoch);
                // Whatever happened while we were away is in the REST data.
                let mut effects = vec![Effect::InvalidateQueries];
                if matches!(self.preload, Preload::NotStarted) {
                    self.preload = Preload::Loading { held: Vec::new() };
                    effects.push(Effect::LoadLatest);
                }
                effects.extend(self.alerts.reload().into_iter().map(Effect::Alerts));
                effects
            }
            Action::Events(items) => {
                let mut effects = Vec::new();
                let mut added = false;
                let mut alerted = false;
                for item in items {
                    let holding = matches!(self.preload, Preload::Loading { .. });
                    let alert = match item {
                        FeedItem::Payment(event) if holding => {
                            added = true;
                            self.hold(FeedItem::Payment(event));
                            continue;
                        }
                        FeedItem::Payment(event) => {
                            added |= self.feed.receive(event) != Received::Duplicate;
                            continue;
                        }
                        // Held for its `seq`, shown at once.
                        FeedItem::Alert(frame) if holding => {
                            self.hold(FeedItem::Alert(AlertFrame {
                                alert: frame.alert.clone(),
                                seq: frame.seq,
                            }));
                            frame.alert
                        }
                        FeedItem::Alert(frame) if self.feed.note_seq(frame.seq) == Received::Duplicate => continue,
                        FeedItem::Alert(frame) => frame.alert,
                    };
                    alerted = true;
                    effects.extend(self.alerts.receive(alert).into_iter().map(Effect::Alerts));
                }
                if added {
                    effects.insert(0, Effect::InvalidateQueries);
                }
                if alerted {
                    effects.push(Effect::Alerts(AlertEffect::LoadHistory));
                }
                effects
            }
            Action::Latest(payments) => {
                let Preload::Loading { held } = std::mem::replace(&mut self.preload, Preload::Done) else {
                    return Vec::new();
                };
                // A payment whose every event is among the held ones is
                // shown by those (with their `seq`), not by the list.
                // A list, not a set: a few events, and a set would be another
                // sort and tree in the page.
                let held_events: Vec<(&str, EventType)> = held
                    .iter()
                    .filter_map(|item| match item {
                        FeedItem::Payment(event) => Some((event.payment.id.as_str(), event.event_type)),
                        FeedItem::Alert(_) => None,
                    })
                    .collect();
                let listed: Vec<Payment> = payments
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|payment| {
                        !feed::reflected_events(payment.status)
                            .iter()
                            .all(|event_type| held_events.contains(&(payment.id.as_str(), *event_type)))
                    })
                    .collect();
                self.feed.preload(listed);
                self.release(held);
                Vec::new()
            }
            Action::ResyncRequired(position) => {
                // Held events come before the resync's position: shown now,
                // and the latest payments no longer awaited.
                if let Preload::Loading { held } = std::mem::replace(&mut self.preload, Preload::Done) {
                    self.release(held);
                }
                self.resyncs += 1;
                self.feed.continue_after(position.seq);
                self.epoch = Some(position.epoch);
                let mut effects = vec![Effect::InvalidateQueries];
                effects.extend(self.alerts.reload().into_iter().map(Effect::Alerts));
                effects
            }
            Action::Closed { code, reason, random } => {
                let delay_ms = self.backoff.fail(random);
                self.connection = Connection::Waiting {
                    reason: close_reason(code, &reason),
                    retry_in_ms: delay_ms,
                };
                vec![Effect::Reconnect {
                    delay_ms,
                    resume: self.resume_position(),
                }]
            }
            Action::Reconnecting => {
                self.connection = Connection::Connecting {
                    attempt: self.backoff.failures() + 1,
                };
                Vec::new()
            }
            Action::TogglePause => {
                if self.feed.is_paused() {
                    self.feed.resume();
                } else {
                    self.feed.pause();
                }
                Vec::new()
            }
            Action::Pause => {
                self.feed.pause();
                Vec::new()
            }
            Action::SetFilter(filter) => {
                self.feed.set_filter(filter);
                Vec::new()
            }
            Action::ActiveAlerts(firing) => {
                if let Some(firing) = firing {
                    self.alerts.active_loaded(firing);
                }
                Vec::new()
            }
            Action::AlertHistory(page) => {
                self.alerts.history_loaded(page);
                Vec::new()
            }
            Action::DismissToast(toast) => {
                self.alerts.dismiss(toast);
                Vec::new()
            }
            Action::NotificationsUnavailable(problem) => {
                self.alerts.notifications_problem = Some(problem);
                Vec::new()
            }
        }
    }

    fn hold(&mut self, item: FeedItem) {
        if let Preload::Loading { held } = &mut self.preload {
            held.push(item);
        }
    }

    /// Applies what was held while the latest payments loaded: the events
    /// to the feed, the alert frames' `seq` (their alerts are shown).
    fn release(&mut self, held: Vec<FeedItem>) {
        for item in held {
            match item {
                FeedItem::Payment(event) => {
                    self.feed.receive(event);
                }
                FeedItem::Alert(frame) => {
                    self.feed.note_seq(frame.seq);
                }
            }
        }
    }

    /// Where a new socket resumes: after the last event we hold, in the
    /// epoch it belongs to.
    pub fn resume_position(&self) -> Option<Position> {
        let held = match &self.preload {
            Preload::Loading { held } => held.iter().filter_map(item_seq).max(),
            _ => None,
        };
        Some(Position {
            epoch: self.epoch.clone()?,
            seq: held.max(self.feed.last_seq())?,
        })
    }
}

fn item_seq(item: &FeedItem) -> Option<u64> {
    match item {
        FeedItem::Payment(event) => event.seq,
        FeedItem::Alert(frame) => frame.seq,
    }
}

/// A close code in words for the connection status.
fn close_reason(code: u16, reason: &str) -> String {
    let known = match code {
        1000 | 1001 => "the server closed the connection",
        1006 => "the connection was lost",
        1011 => "the server hit an error",
        // Sent by proxies, not by Paypulse (its 1012 is `CloseCode`'s).
        1013 => "the server is busy",
        _ => CloseCode::from_code(code).map_or("", CloseCode::explanation),
    };
    match (known.is_empty(), reason.is_empty()) {
        (false, _) => known.to_owned(),
        (true, false) => reason.to_owned(),
        (true, true) => format!("the connection closed (code {code})"),
    }
}

/// Builders for the tests of this module tree.
#[cfg(test)]
pub mod testing {
    use chrono::{TimeDelta, TimeZone, Utc};
    use paypulse_shared::money::Amount;
    use paypulse_shared::payment::{EventType, Payment, PaymentEvent, PaymentStatus};

    pub fn event(seq: u64, event_type: EventType, method: &str) -> PaymentEvent {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap() + TimeDelta::seconds(seq as i64);
        let status = match event_type {
            EventType::PaymentReceived => PaymentStatus::Succeeded,
            EventType::PaymentFailed => PaymentStatus::Failed,
            EventType::PaymentRefunded => PaymentStatus::Refunded,
        };
        PaymentEvent {
            event_type,
            payment: Payment {
                id: format!("p{seq}"),
                tenant_id: "acme".into(),
                external_id: format!("x{seq}"),
                amount: Amount::from_minor(1_000 + seq as i64, 2),
                currency: "USD".into(),
                method: method.into(),
                status,
                failure_reason: None,
                refunded_at: None,
                created_at: at,
                updated_at: at,
            },
            timestamp: at,
            seq: Some(seq),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alerts::testing::alert;
    use paypulse_shared::alerts::AlertState;
    use paypulse_shared::payment::{EventType, PaymentEvent, PaymentStatus};
    use testing::event;

    /// What a (re)connection or a resync reloads.
    const RELOAD: [Effect; 3] = [
        Effect::InvalidateQueries,
        Effect::Alerts(AlertEffect::LoadActive),
        Effect::Alerts(AlertEffect::LoadHistory),
    ];

    fn alert_frame(seq: u64, alert: Alert) -> FeedItem {
        FeedItem::Alert(AlertFrame { alert, seq: Some(seq) })
    }

    fn toasted(dashboard: &Dashboard) -> Vec<(String, AlertState)> {
        dashboard
            .alerts
            .toasts()
            .iter()
            .map(|toast| (toast.alert.id.clone(), toast.alert.state))
            .collect()
    }

    #[test]
    fn alert_frames_count_for_resuming_and_a_replay_never_toasts_twice() {
        let mut dashboard = Dashboard::default();
        connected(&mut dashboard, "e1", 10);
        dashboard.reduce(Action::ActiveAlerts(Some(Vec::new())));
        let effects = dashboard.reduce(Action::Events(vec![
            FeedItem::Payment(event(11, EventType::PaymentFailed, "card")),
            alert_frame(12, alert("a1", 0, AlertState::Firing)),
            FeedItem::Payment(event(13, EventType::PaymentFailed, "card")),
        ]));
        assert_eq!(
            effects,
            [
                Effect::InvalidateQueries,
                Effect::Alerts(AlertEffect::DismissLater {
                    toast: 1,
                    delay_ms: alerts::TOAST_MS
                }),
                Effect::Alerts(AlertEffect::Notify(alert("a1", 0, AlertState::Firing))),
                Effect::Alerts(AlertEffect::LoadHistory),
            ]
        );
        assert_eq!(dashboard.feed.gaps(), 0, "the alert's seq is not a gap");
        assert_eq!(dashboard.alerts.active().len(), 1);
        closed(&mut dashboard, 1006);
        assert_eq!(
            dashboard.resume_position(),
            Some(position("e1", 13)),
            "resumes after the last frame of either kind"
        );
        // The resumed socket replays from an older position (another tab's,
        // or a server that kept more): the alert frame again, then news.
        let effects = dashboard.reduce(Action::Hello(position("e1", 14)));
        assert_eq!(effects[..], RELOAD);
        dashboard.reduce(Action::Events(vec![
            alert_frame(12, alert("a1", 0, AlertState::Firing)),
            FeedItem::Payment(event(13, EventType::PaymentFailed, "card")),
            alert_frame(14, alert("a1", 0, AlertState::Resolved)),
        ]));
        assert_eq!(
            toasted(&dashboard),
            [("a1".to_owned(), AlertState::Resolved)],
            "the firing toast is replaced by the resolution, never shown twice"
        );
        assert!(dashboard.alerts.active().is_empty());
        assert_eq!(dashboard.feed.gaps(), 0);
        assert_eq!(dashboard.resume_position(), Some(position("e1", 14)));
        // The firing list read on reconnection predates the resolution.
        dashboard.reduce(Action::ActiveAlerts(Some(vec![alert("a1", 0, AlertState::Firing)])));
        assert!(dashboard.alerts.active().is_empty());
        dashboard.reduce(Action::DismissToast(2));
        assert!(toasted(&dashboard).is_empty());
    }

    #[test]
    fn alert_frames_while_the_feed_opens_are_shown_and_counted() {
        let mut dashboard = Dashboard::default();
        dashboard.reduce(Action::Hello(position("e1", 10)));
        dashboard.reduce(Action::Events(vec![
            alert_frame(11, alert("a1", 0, AlertState::Firing)),
            FeedItem::Payment(event(12, EventType::PaymentReceived, "card")),
        ]));
        assert_eq!(toasted(&dashboard), [("a1".to_owned(), AlertState::Firing)]);
        assert_eq!(dashboard.resume_position(), Some(position("e1", 12)));
        dashboard.reduce(Action::Latest(Some(Vec::new())));
        dashboard.reduce(Action::Events(vec![FeedItem::Payment(event(
            13,
            EventType::PaymentReceived,
            "card",
        ))]));
        assert_eq!(dashboard.feed.gaps(), 0);
        assert_eq!(rows(&dashboard).len(), 2);
        assert_eq!(dashboard.resume_position(), Some(position("e1", 13)));
    }

    #[test]
    fn the_history_follows_alert_frames_and_its_answers() {
        let mut dashboard = Dashboard::default();
        connected(&mut dashboard, "e1", 0);
        dashboard.reduce(Action::AlertHistory(Err("down".into())));
        assert_eq!(dashboard.alerts.history.error.as_deref(), Some("down"));
        let effects = dashboard.reduce(Action::Events(vec![alert_frame(1, alert("a1", 0, AlertState::Firing))]));
        assert_eq!(effects.last(), Some(&Effect::Alerts(AlertEffect::LoadHistory)));
        assert_eq!(dashboard.alerts.history.items.len(), 1, "shown before the refetch");
        dashboard.reduce(Action::AlertHistory(Ok(AlertsPage {
            items: vec![
                alert("a1", 0, AlertState::Firing),
                alert("a0", -60, AlertState::Resolved),
            ],
            next_cursor: None,
        })));
        assert_eq!(dashboard.alerts.history.items.len(), 2);
        assert_eq!(dashboard.alerts.history.error, None);
    }

    fn events(events: Vec<PaymentEvent>) -> Action {
        Action::Events(events.into_iter().map(FeedItem::Payment).collect())
    }

    fn position(epoch: &str, seq: u64) -> Position {
        Position {
            epoch: epoch.into(),
            seq,
        }
    }

    /// A first connection, with the latest payments (none) loaded.
    fn connected(dashboard: &mut Dashboard, epoch: &str, seq: u64) {
        dashboard.reduce(Action::Hello(position(epoch, seq)));
        dashboard.reduce(Action::Latest(Some(Vec::new())));
    }

    fn closed(dashboard: &mut Dashboard, code: u16) -> Vec<Effect> {
        dashboard.reduce(Action::Closed {
            code,
            reason: String::new(),
            random: 0.0,
        })
    }

    #[test]
    fn a_lost_connection_resumes_after_the_last_event() {
        let mut dashboard = Dashboard::default();
        assert_eq!(dashboard.resume_position(), None);
        connected(&mut dashboard, "e1", 40);
        assert_eq!(dashboard.connection, Connection::Live);
        let effects = dashboard.reduce(events(vec![
            event(41, EventType::PaymentReceived, "card"),
            event(42, EventType::PaymentFailed, "card"),
        ]));
        assert_eq!(effects, [Effect::InvalidateQueries]);
        let effects = closed(&mut dashboard, 1006);
        assert_eq!(
            effects,
            [Effect::Reconnect {
                delay_ms: 250,
                resume: Some(position("e1", 42))
            }]
        );
        assert_eq!(
            dashboard.connection,
            Connection::Waiting {
                reason: "the connection was lost".into(),
                retry_in_ms: 250
            }
        );
        dashboard.reduce(Action::Reconnecting);
        assert_eq!(dashboard.connection, Connection::Connecting { attempt: 2 });
        // The resumed socket says hello with the feed's latest seq, then
        // replays what we missed, which may overlap what we hold.
        dashboard.reduce(Action::Hello(position("e1", 45)));
        dashboard.reduce(events(
            (42..=45)
                .map(|seq| event(seq, EventType::PaymentReceived, "card"))
                .collect(),
        ));
        assert_eq!(dashboard.feed.last_seq(), Some(45));
        assert_eq!(dashboard.feed.gaps(), 0);
        assert_eq!(dashboard.feed.shown_len(), 5);
    }

    #[test]
    fn failures_back_off_until_a_hello() {
        let mut dashboard = Dashboard::default();
        let delays: Vec<u32> = (0..4)
            .map(|_| match closed(&mut dashboard, 1006).as_slice() {
                [Effect::Reconnect { delay_ms, resume: None }] => *delay_ms,
                other => panic!("unexpected effects {other:?}"),
            })
            .collect();
        assert_eq!(delays, [250, 500, 1_000, 2_000]);
        dashboard.reduce(Action::Hello(position("e1", 0)));
        assert!(matches!(
            closed(&mut dashboard, 4008).as_slice(),
            [Effect::Reconnect { delay_ms: 250, .. }]
        ));
        assert_eq!(
            dashboard.connection,
            Connection::Waiting {
                reason: "this page fell too far behind the live feed".into(),
                retry_in_ms: 250
            }
        );
    }

    #[test]
    fn a_resync_continues_from_the_servers_position_and_reloads() {
        let mut dashboard = Dashboard::default();
        connected(&mut dashboard, "e1", 10);
        dashboard.reduce(events(vec![event(11, EventType::PaymentReceived, "card")]));
        closed(&mut dashboard, 4010);
        dashboard.reduce(Action::Hello(position("e2", 3)));
        let effects = dashboard.reduce(Action::ResyncRequired(position("e2", 3)));
        assert_eq!(effects[..], RELOAD);
        assert_eq!(dashboard.resyncs, 1);
        dashboard.reduce(events(vec![event(4, EventType::PaymentReceived, "card")]));
        assert_eq!(dashboard.feed.gaps(), 0);
        assert_eq!(dashboard.resume_position(), Some(position("e2", 4)));
    }

    #[test]
    fn replayed_duplicates_do_not_invalidate() {
        let mut dashboard = Dashboard::default();
        connected(&mut dashboard, "e1", 0);
        dashboard.reduce(events(vec![event(1, EventType::PaymentReceived, "card")]));
        let effects = dashboard.reduce(events(vec![event(1, EventType::PaymentReceived, "card")]));
        assert!(effects.is_empty());
    }

    fn listed(seq: u64, status: PaymentStatus) -> Payment {
        let mut payment = event(seq, EventType::PaymentReceived, "card").payment;
        payment.status = status;
        if status == PaymentStatus::Refunded {
            payment.refunded_at = Some(payment.created_at + chrono::TimeDelta::minutes(1));
        }
        payment
    }

    fn rows(dashboard: &Dashboard) -> Vec<(String, EventType, Option<u64>)> {
        (0..dashboard.feed.shown_len())
            .map(|index| {
                let event = dashboard.feed.shown(index).unwrap();
                (event.payment.id.clone(), event.event_type, event.seq)
            })
            .collect()
    }

    #[test]
    fn the_feed_opens_with_the_latest_payments_without_a_gap_or_a_duplicate() {
        let mut dashboard = Dashboard::default();
        let effects = dashboard.reduce(Action::Hello(position("e1", 10)));
        assert_eq!(
            effects,
            [
                Effect::InvalidateQueries,
                Effect::LoadLatest,
                Effect::Alerts(AlertEffect::LoadActive),
                Effect::Alerts(AlertEffect::LoadHistory)
            ]
        );
        // Events after the hello arrive before the list: held back. p9 was
        // refunded (seq 11; received before the hello) and p12 created
        // (seq 12) before the list was read, so the list shows both; p13
        // came after it.
        let refund_of_9 = {
            let mut refund = event(11, EventType::PaymentRefunded, "card");
            refund.payment.id = "p9".into();
            refund
        };
        dashboard.reduce(events(vec![refund_of_9, event(12, EventType::PaymentReceived, "card")]));
        assert_eq!(dashboard.feed.shown_len(), 0, "held until the list is in");
        assert_eq!(
            dashboard.resume_position(),
            Some(position("e1", 12)),
            "held events count for resuming"
        );
        dashboard.reduce(Action::Latest(Some(vec![
            listed(12, PaymentStatus::Succeeded),
            listed(9, PaymentStatus::Refunded),
            listed(8, PaymentStatus::Failed),
        ])));
        dashboard.reduce(events(vec![
            event(12, EventType::PaymentReceived, "card"),
            event(13, EventType::PaymentReceived, "card"),
        ]));
        assert_eq!(
            rows(&dashboard),
            [
                ("p13".to_owned(), EventType::PaymentReceived, Some(13)),
                // Its one event was held: shown by the event, with its seq.
                ("p12".to_owned(), EventType::PaymentReceived, Some(12)),
                ("p9".to_owned(), EventType::PaymentRefunded, None),
                ("p8".to_owned(), EventType::PaymentFailed, None),
            ]
        );
        assert_eq!(dashboard.feed.gaps(), 0);
        assert_eq!(dashboard.resume_position(), Some(position("e1", 13)));
        // A refund of a listed payment after the list is a new row.
        let mut refund = event(14, EventType::PaymentRefunded, "card");
        refund.payment.id = "p12".into();
        dashboard.reduce(events(vec![refund]));
        assert_eq!(
            rows(&dashboard)[0],
            ("p12".to_owned(), EventType::PaymentRefunded, Some(14))
        );
        // Reconnections do not load the list again.
        closed(&mut dashboard, 1006);
        let effects = dashboard.reduce(Action::Hello(position("e1", 14)));
        assert_eq!(effects[..], RELOAD);
    }

    #[test]
    fn a_failed_list_opens_the_feed_with_the_held_events() {
        let mut dashboard = Dashboard::default();
        dashboard.reduce(Action::Hello(position("e1", 0)));
        dashboard.reduce(events(vec![event(1, EventType::PaymentReceived, "card")]));
        dashboard.reduce(Action::Latest(None));
        assert_eq!(
            rows(&dashboard),
            [("p1".to_owned(), EventType::PaymentReceived, Some(1))]
        );
    }

    #[test]
    fn close_codes_read_as_words() {
        assert_eq!(
            close_reason(4001, ""),
            "the server heard nothing from this page for too long"
        );
        assert_eq!(
            close_reason(1012, "server restarting: resume on another instance"),
            "the server is restarting"
        );
        assert_eq!(close_reason(4999, "custom"), "custom");
        assert_eq!(close_reason(4999, ""), "the connection closed (code 4999)");
    }
}
