//! The alerts the dashboard shows (SPEC §3 "Alerts", §6): the firing ones
//! (always on screen), the toasts of transitions that notify, and the
//! history's first page.
//!
//! The firing list comes from `GET /api/alerts?state=firing` when the socket
//! (re)connects and is kept current by alert frames; a frame that arrives
//! while that request runs is applied again on its answer, which may
//! predate it. A toast is shown once per alert and state: a frame replayed
//! after a reconnection, or a transition the list already showed, never
//! toasts twice. The history is refetched after alert frames; each frame
//! is also written into it at once, so the panel never lags the toast.
//! Pure: the shell fetches, waits and hands back what it got.

use paypulse_shared::alerts::{Alert, AlertState, AlertsPage};

/// How long a toast stays unless closed (ms).
pub const TOAST_MS: u32 = 10_000;
/// Toasts on screen at once; the oldest goes beyond it.
pub const MAX_TOASTS: usize = 5;
/// Notifications remembered for de-duplication: far more than a day's
/// transitions of any tenant's twenty rules.
const MAX_NOTIFIED: usize = 500;
/// Frames kept to re-apply on REST answers that may predate them.
const MAX_RECENT: usize = 50;

/// One notification on screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Toast {
    /// Numbered from 1 since the page opened, for closing it.
    pub id: u64,
    pub alert: Alert,
}

/// The first page of the history, as last fetched and updated by frames.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Newest first (by `startedAt`).
    pub items: Vec<Alert>,
    /// Whether an answer (or a frame) has been received.
    pub loaded: bool,
    /// The last request's failure, cleared by the next success.
    pub error: Option<String>,
}

/// What the shell must do for the alerts.
#[derive(Clone, Debug, PartialEq)]
pub enum AlertEffect {
    /// Fetch the firing alerts and hand them back as `ActiveAlerts`.
    LoadActive,
    /// Fetch the history's first page and hand it back as `AlertHistory`.
    LoadHistory,
    /// Close toast `toast` after `delay_ms`.
    DismissLater { toast: u64, delay_ms: u32 },
    /// Tell the user about this transition outside the page too, where the
    /// platform can (the desktop app's OS notification); once per alert
    /// and state, as its toast.
    Notify(Alert),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Alerts {
    /// Firing alerts, most recently started first.
    active: Vec<Alert>,
    /// Whether the firing list has been received once.
    pub active_loaded: bool,
    /// Frames received since the lists were last asked for on a
    /// (re)connection, applied again on answers that may predate them.
    recent: Vec<Alert>,
    toasts: Vec<Toast>,
    next_toast: u64,
    /// `(alert id, state)` of every toast shown, oldest first.
    notified: Vec<(String, AlertState)>,
    pub history: History,
    /// Why alerts cannot be shown outside the page (the desktop's OS
    /// notifications), once that has failed; the toasts still show.
    pub notifications_problem: Option<String>,
}

impl Alerts {
    pub fn active(&self) -> &[Alert] {
        &self.active
    }

    pub fn toasts(&self) -> &[Toast] {
        &self.toasts
    }

    /// The socket (re)connected or resynced: what happened meanwhile is in
    /// the REST answers.
    pub fn reload(&mut self) -> Vec<AlertEffect> {
        self.recent.clear();
        vec![AlertEffect::LoadActive, AlertEffect::LoadHistory]
    }

    /// An alert frame (not a duplicate by `seq`).
    pub fn receive(&mut self, alert: Alert) -> Vec<AlertEffect> {
        let mut effects = Vec::new();
        self.apply(&alert);
        if self.recent.len() >= MAX_RECENT {
            self.recent.remove(0);
        }
        self.recent.push(alert.clone());
        upsert(&mut self.history.items, &alert);
        self.history.loaded = true;
        let key = (alert.id.clone(), alert.state);
        if alert.notifies() && !self.notified.contains(&key) {
            if self.notified.len() >= MAX_NOTIFIED {
                self.notified.remove(0);
            }
            self.notified.push(key);
            // A newer state of the same alert replaces its toast.
            self.toasts.retain(|toast| toast.alert.id != alert.id);
            if self.toasts.len() >= MAX_TOASTS {
                self.toasts.remove(0);
            }
            self.next_toast += 1;
            self.toasts.push(Toast {
                id: self.next_toast,
                alert: alert.clone(),
            });
            effects.push(AlertEffect::DismissLater {
                toast: self.next_toast,
                delay_ms: TOAST_MS,
            });
            effects.push(AlertEffect::Notify(alert));
        }
        effects
    }

    /// The firing alerts as the server listed them; frames received since
    /// the request was made are newer and applied on top.
    pub fn active_loaded(&mut self, firing: Vec<Alert>) {
        // Newest first, as the API lists them.
        self.active = firing;
        self.active_loaded = true;
        for alert in std::mem::take(&mut self.recent) {
            self.apply(&alert);
            self.recent.push(alert);
        }
    }

    /// The history's first page; frames received since the request are
    /// kept on top of it.
    pub fn history_loaded(&mut self, page: Result<AlertsPage, String>) {
        match page {
            Ok(page) => {
                self.history.items = page.items;
                for alert in &self.recent {
                    upsert(&mut self.history.items, alert);
                }
                self.history.loaded = true;
                self.history.error = None;
            }
            Err(message) => self.history.error = Some(message),
        }
    }

    pub fn dismiss(&mut self, toast: u64) {
        self.toasts.retain(|shown| shown.id != toast);
    }

    fn apply(&mut self, alert: &Alert) {
        self.active.retain(|held| held.id != alert.id);
        if alert.state == AlertState::Firing {
            insert_newest_first(&mut self.active, alert);
        }
    }
}

/// Puts `alert` in `items` (newest first), replacing an earlier state of
/// its episode (an episode only moves forward: pending, firing, resolved;
/// a frame older than the answer it is applied to changes nothing).
fn upsert(items: &mut Vec<Alert>, alert: &Alert) {
    let rank = |state: AlertState| AlertState::ALL.iter().position(|known| *known == state);
    match items.iter_mut().find(|held| held.id == alert.id) {
        Some(held) if rank(held.state) <= rank(alert.state) => *held = alert.clone(),
        Some(_) => {}
        None => insert_newest_first(items, alert),
    }
}

/// Inserts `alert` into `alerts` (newest first by `startedAt`), after those
/// that started at the same time. Not a sort: each sort is code of its own
/// in the page, and these lists are short.
fn insert_newest_first(alerts: &mut Vec<Alert>, alert: &Alert) {
    let at = alerts
        .iter()
        .position(|held| held.started_at < alert.started_at)
        .unwrap_or(alerts.len());
    alerts.insert(at, alert.clone());
}

#[cfg(test)]
pub mod testing {
    use chrono::{TimeDelta, TimeZone, Utc};
    use paypulse_shared::alerts::{Alert, AlertState, RuleKind};

    /// Alert `id` of the failure-rate rule, started `minute` minutes after
    /// 10:00, in `state`.
    pub fn alert(id: &str, minute: i64, state: AlertState) -> Alert {
        let started = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap() + TimeDelta::minutes(minute);
        Alert {
            id: id.into(),
            rule_id: "failure-rate".into(),
            rule_name: "Failure rate above 15%".into(),
            kind: RuleKind::FailureRate,
            state,
            started_at: started,
            fired_at: (state != AlertState::Pending).then(|| started + TimeDelta::minutes(2)),
            resolved_at: (state == AlertState::Resolved).then(|| started + TimeDelta::minutes(20)),
            value: 22.4,
            threshold: 15.0,
            message: "Failure rate above 15% — 22.4% over 10 min".into(),
            silenced: false,
            window_from: started - TimeDelta::minutes(10),
            window_to: (state == AlertState::Resolved).then(|| started + TimeDelta::minutes(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::alert;
    use super::*;

    fn ids(alerts: &[Alert]) -> Vec<&str> {
        alerts.iter().map(|alert| alert.id.as_str()).collect()
    }

    fn toasts(alerts: &Alerts) -> Vec<(u64, &str, AlertState)> {
        alerts
            .toasts()
            .iter()
            .map(|toast| (toast.id, toast.alert.id.as_str(), toast.alert.state))
            .collect()
    }

    #[test]
    fn firing_and_resolved_frames_keep_the_active_list() {
        let mut alerts = Alerts::default();
        assert_eq!(alerts.reload(), [AlertEffect::LoadActive, AlertEffect::LoadHistory]);
        alerts.active_loaded(vec![alert("a1", 0, AlertState::Firing)]);
        alerts.receive(alert("a2", 5, AlertState::Firing));
        assert_eq!(ids(alerts.active()), ["a2", "a1"], "newest first");
        alerts.receive(alert("a1", 0, AlertState::Resolved));
        assert_eq!(ids(alerts.active()), ["a2"]);
        // A pending alert is not active (the server does not send them, but
        // a newer one might).
        alerts.receive(alert("a3", 7, AlertState::Pending));
        assert_eq!(ids(alerts.active()), ["a2"]);
    }

    #[test]
    fn frames_newer_than_the_firing_list_are_applied_on_top_of_it() {
        let mut alerts = Alerts::default();
        alerts.reload();
        // The list was read before a2 fired and before a1 resolved.
        alerts.receive(alert("a2", 5, AlertState::Firing));
        alerts.receive(alert("a1", 0, AlertState::Resolved));
        alerts.active_loaded(vec![alert("a1", 0, AlertState::Firing)]);
        assert_eq!(ids(alerts.active()), ["a2"]);
        // The next reconnection starts afresh.
        alerts.reload();
        alerts.active_loaded(Vec::new());
        assert!(alerts.active().is_empty());
    }

    #[test]
    fn each_alert_and_state_toasts_once() {
        let mut alerts = Alerts::default();
        alerts.reload();
        alerts.active_loaded(vec![alert("old", 0, AlertState::Firing)]);
        assert_eq!(
            alerts.receive(alert("a1", 5, AlertState::Firing)),
            [
                AlertEffect::DismissLater {
                    toast: 1,
                    delay_ms: TOAST_MS
                },
                AlertEffect::Notify(alert("a1", 5, AlertState::Firing)),
            ]
        );
        // The same frame replayed after a reconnection (a resume whose
        // `since` was before it, or a second page open) does not toast.
        alerts.reload();
        assert!(alerts.receive(alert("a1", 5, AlertState::Firing)).is_empty());
        assert_eq!(toasts(&alerts), [(1, "a1", AlertState::Firing)]);
        // A resolution replaces its alert's firing toast.
        alerts.receive(alert("old", 0, AlertState::Resolved));
        alerts.receive(alert("a1", 5, AlertState::Resolved));
        assert_eq!(
            toasts(&alerts),
            [(2, "old", AlertState::Resolved), (3, "a1", AlertState::Resolved)]
        );
        alerts.dismiss(2);
        assert_eq!(toasts(&alerts), [(3, "a1", AlertState::Resolved)]);
        alerts.receive(alert("a1", 5, AlertState::Resolved));
        assert_eq!(
            toasts(&alerts),
            [(3, "a1", AlertState::Resolved)],
            "closed, not shown again"
        );
    }

    #[test]
    fn silenced_alerts_are_recorded_without_a_toast() {
        let mut alerts = Alerts::default();
        let mut silenced = alert("a1", 5, AlertState::Firing);
        silenced.silenced = true;
        assert!(alerts.receive(silenced).is_empty());
        assert!(alerts.toasts().is_empty());
        assert_eq!(ids(alerts.active()), ["a1"], "still firing, shown as silenced");
        assert_eq!(ids(&alerts.history.items), ["a1"]);
        // A resolution of an episode that never fired notifies nobody.
        let mut quiet = alert("a2", 6, AlertState::Resolved);
        quiet.fired_at = None;
        assert!(alerts.receive(quiet).is_empty());
    }

    #[test]
    fn at_most_a_few_toasts_are_on_screen() {
        let mut alerts = Alerts::default();
        for minute in 0..8 {
            alerts.receive(alert(&format!("a{minute}"), minute, AlertState::Firing));
        }
        let shown: Vec<u64> = alerts.toasts().iter().map(|toast| toast.id).collect();
        assert_eq!(shown, [4, 5, 6, 7, 8]);
    }

    #[test]
    fn the_history_is_refreshed_and_frames_show_at_once() {
        let mut alerts = Alerts::default();
        alerts.reload();
        alerts.history_loaded(Ok(AlertsPage {
            items: vec![alert("a1", 0, AlertState::Firing)],
            next_cursor: None,
        }));
        assert!(alerts.history.loaded);
        alerts.receive(alert("a2", 5, AlertState::Firing));
        alerts.receive(alert("a1", 0, AlertState::Resolved));
        let states: Vec<(&str, AlertState)> = alerts
            .history
            .items
            .iter()
            .map(|alert| (alert.id.as_str(), alert.state))
            .collect();
        assert_eq!(states, [("a2", AlertState::Firing), ("a1", AlertState::Resolved)]);
        // A refresh that failed keeps the list and says why.
        alerts.history_loaded(Err("The server answered 500.".into()));
        assert_eq!(alerts.history.items.len(), 2);
        assert_eq!(alerts.history.error.as_deref(), Some("The server answered 500."));
        // The refreshed page replaces it (frames since the request stay on
        // top of it).
        alerts.history_loaded(Ok(AlertsPage {
            items: vec![alert("a2", 5, AlertState::Firing), alert("a1", 0, AlertState::Resolved)],
            next_cursor: None,
        }));
        assert_eq!(ids(&alerts.history.items), ["a2", "a1"]);
        assert_eq!(alerts.history.error, None);
        // An answer older than a frame does not take its alert back.
        alerts.history_loaded(Ok(AlertsPage {
            items: vec![alert("a1", 0, AlertState::Firing)],
            next_cursor: None,
        }));
        let states: Vec<AlertState> = alerts.history.items.iter().map(|alert| alert.state).collect();
        assert_eq!(
            states,
            [AlertState::Firing, AlertState::Resolved],
            "a2 firing, a1 resolved"
        );
    }
}
