//! Alerts (SPEC §3 "Alerts"): the rules a tenant sets, the alerts their
//! evaluation produces, and the pure parts of both that the server and the
//! dashboard share: rule validation and defaults (`rules`) and the lifecycle
//! of one rule's episodes (`lifecycle`, Grafana's Normal → Pending → Firing →
//! Recovering → Normal).

pub mod lifecycle;
pub mod rules;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a rule watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Failed / (succeeded + failed) over the window at or above `threshold`
    /// percent, once the window holds `minAttempts` payments.
    FailureRate,
    /// Succeeded volume over the window above `threshold` (major units).
    VolumeAbove,
    /// Succeeded volume over the window below `threshold` (major units).
    VolumeBelow,
    /// Succeeded volume over the window outside the band the same window of
    /// the previous weeks gives (`crate::anomaly`).
    VolumeAnomaly,
}

impl RuleKind {
    pub const ALL: [Self; 4] = [
        Self::FailureRate,
        Self::VolumeAbove,
        Self::VolumeBelow,
        Self::VolumeAnomaly,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::FailureRate => "failure_rate",
            Self::VolumeAbove => "volume_above",
            Self::VolumeBelow => "volume_below",
            Self::VolumeAnomaly => "volume_anomaly",
        }
    }

    /// Whether the rule needs a `threshold`.
    pub const fn has_threshold(self) -> bool {
        !matches!(self, Self::VolumeAnomaly)
    }
}

/// One alert rule of a tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertRule {
    /// Stable id, chosen by the editor: `[a-z0-9_-]`, at most 64 characters.
    pub id: String,
    pub name: String,
    pub kind: RuleKind,
    /// The trailing window the condition is computed over.
    pub window_minutes: u32,
    /// Percent for `failure_rate`, major units of the tenant's currency for
    /// the volume rules; absent for `volume_anomaly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// `failure_rate` only: payments the window must hold before it is judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_attempts: Option<u64>,
    /// How long the condition must hold before the alert fires.
    pub pending_minutes: u32,
    /// How long a firing alert stays firing once the condition is false.
    pub keep_firing_minutes: u32,
    pub enabled: bool,
    /// Until then the rule is evaluated and recorded but notifies nobody.
    #[serde(
        default,
        with = "crate::time::rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub silenced_until: Option<DateTime<Utc>>,
}

impl AlertRule {
    /// Whether the rule is silenced at `now`.
    pub fn silenced_at(&self, now: DateTime<Utc>) -> bool {
        self.silenced_until.is_some_and(|until| now < until)
    }
}

/// `GET`/`PUT /api/alerts/rules`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRules {
    pub rules: Vec<AlertRule>,
    /// In answers: whether the caller may change the rules (an admin key),
    /// so a dashboard shows the editor only to those who can use it.
    /// Ignored in a `PUT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub editable: Option<bool>,
}

/// Where an episode is (SPEC §3): `firing` includes Grafana's Recovering
/// (the condition is false but `keepFiringMinutes` has not run out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Firing, Self::Resolved];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

/// One episode of one rule: from the condition first holding to its
/// resolution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub kind: RuleKind,
    pub state: AlertState,
    /// When the condition first held (the episode began).
    #[serde(with = "crate::time::rfc3339")]
    pub started_at: DateTime<Utc>,
    #[serde(
        default,
        with = "crate::time::rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub fired_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        with = "crate::time::rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub resolved_at: Option<DateTime<Utc>>,
    /// The watched value at the last transition: percent for failure rate,
    /// major units for volume.
    pub value: f64,
    /// What `value` was judged against (for an anomaly, the band's edge it
    /// crossed).
    pub threshold: f64,
    /// One sentence for people: what happened, in the rule's words.
    pub message: String,
    /// Whether the rule was silenced at the transition: recorded, nobody
    /// notified.
    #[serde(default)]
    pub silenced: bool,
    /// The window whose payments caused the episode (the history's link to
    /// the drill-down list): from the start of the rule's window when the
    /// episode began to its end (or now, while it lasts).
    #[serde(with = "crate::time::rfc3339")]
    pub window_from: DateTime<Utc>,
    #[serde(
        default,
        with = "crate::time::rfc3339_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub window_to: Option<DateTime<Utc>>,
}

impl Alert {
    /// Whether people are told about this alert in its current state: on
    /// firing and on the resolution of a fired episode, unless silenced.
    pub fn notifies(&self) -> bool {
        !self.silenced
            && match self.state {
                AlertState::Firing => true,
                AlertState::Resolved => self.fired_at.is_some(),
                AlertState::Pending => false,
            }
    }
}

/// A page of `GET /api/alerts`, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertsPage {
    pub items: Vec<Alert>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_utc;

    fn alert(state: AlertState, fired: bool, silenced: bool) -> Alert {
        let at = parse_utc("2026-11-24T10:00:00Z").unwrap();
        Alert {
            id: "a1".into(),
            rule_id: "failures".into(),
            rule_name: "Failure rate".into(),
            kind: RuleKind::FailureRate,
            state,
            started_at: at,
            fired_at: fired.then_some(at),
            resolved_at: None,
            value: 12.5,
            threshold: 10.0,
            message: "Failure rate 12.5% over 10 min".into(),
            silenced,
            window_from: at,
            window_to: None,
        }
    }

    #[test]
    fn only_firing_and_the_resolution_of_a_fired_episode_notify() {
        assert!(!alert(AlertState::Pending, false, false).notifies());
        assert!(alert(AlertState::Firing, true, false).notifies());
        assert!(alert(AlertState::Resolved, true, false).notifies());
        assert!(!alert(AlertState::Resolved, false, false).notifies(), "never fired");
        assert!(!alert(AlertState::Firing, true, true).notifies(), "silenced");
    }

    #[test]
    fn an_alert_is_camel_case_json_as_the_spec_writes_it() {
        let json = serde_json::to_value(alert(AlertState::Firing, true, false)).unwrap();
        assert_eq!(json["ruleId"], "failures");
        assert_eq!(json["kind"], "failure_rate");
        assert_eq!(json["state"], "firing");
        assert_eq!(json["startedAt"], "2026-11-24T10:00:00Z");
        assert_eq!(json["firedAt"], "2026-11-24T10:00:00Z");
        assert!(json.get("resolvedAt").is_none());
        let back: Alert = serde_json::from_value(json).unwrap();
        assert_eq!(back, alert(AlertState::Firing, true, false));
    }
}
