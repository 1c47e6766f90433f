//! One rule's episodes, as Grafana runs them: Normal → Pending (the condition
//! holds) → Firing (it held for the pending period) → Recovering (it stopped
//! holding) → Normal again once it has not held for the keep-firing period;
//! holding again while Recovering goes back to Firing in the same episode.
//! Pending that stops holding before it fires goes back to Normal, and the
//! episode ends without having fired (nobody was told it began).
//!
//! Pure: `step` takes where the rule is, whether its condition holds now and
//! the time, and says where it goes. The server persists the phase and
//! writes each step that changes it, once, whatever the number of instances.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Where one rule is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Normal,
    /// The condition has held since `started_at`.
    Pending { started_at: DateTime<Utc> },
    /// Fired at `fired_at`; the condition held at the last evaluation.
    Firing {
        started_at: DateTime<Utc>,
        fired_at: DateTime<Utc>,
    },
    /// Fired, and the condition has not held since `since`.
    Recovering {
        started_at: DateTime<Utc>,
        fired_at: DateTime<Utc>,
        since: DateTime<Utc>,
    },
}

/// What a step did, for the history and for notifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Normal → Pending: an episode began.
    Began,
    /// → Firing (from Pending, or from Normal with no pending period).
    Fired,
    /// Firing → Recovering: still firing, the condition stopped holding.
    Recovering,
    /// Recovering → Firing: the condition holds again, same episode.
    Relapsed,
    /// → Normal after firing: the episode is resolved.
    Resolved,
    /// Pending → Normal: the episode ended without firing.
    Abandoned,
}

/// A rule's periods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Periods {
    pub pending: TimeDelta,
    pub keep_firing: TimeDelta,
}

impl Periods {
    pub fn minutes(pending: u32, keep_firing: u32) -> Self {
        Self {
            pending: TimeDelta::minutes(i64::from(pending)),
            keep_firing: TimeDelta::minutes(i64::from(keep_firing)),
        }
    }
}

impl Phase {
    /// Where the rule goes when its condition `holds` at `now`, and what
    /// that was; `None` when it stays where it is.
    pub fn step(self, holds: bool, now: DateTime<Utc>, periods: Periods) -> Option<(Self, Change)> {
        let fire = |started_at| Self::Firing {
            started_at,
            fired_at: now,
        };
        match (self, holds) {
            (Self::Normal, false) => None,
            (Self::Normal, true) if periods.pending <= TimeDelta::zero() => Some((fire(now), Change::Fired)),
            (Self::Normal, true) => Some((Self::Pending { started_at: now }, Change::Began)),
            (Self::Pending { started_at }, true) if now - started_at >= periods.pending => {
                Some((fire(started_at), Change::Fired))
            }
            (Self::Pending { .. }, true) => None,
            (Self::Pending { .. }, false) => Some((Self::Normal, Change::Abandoned)),
            (Self::Firing { .. }, true) => None,
            (Self::Firing { .. }, false) if periods.keep_firing <= TimeDelta::zero() => {
                Some((Self::Normal, Change::Resolved))
            }
            (Self::Firing { started_at, fired_at }, false) => Some((
                Self::Recovering {
                    started_at,
                    fired_at,
                    since: now,
                },
                Change::Recovering,
            )),
            (
                Self::Recovering {
                    started_at, fired_at, ..
                },
                true,
            ) => Some((Self::Firing { started_at, fired_at }, Change::Relapsed)),
            (Self::Recovering { since, .. }, false) if now - since >= periods.keep_firing => {
                Some((Self::Normal, Change::Resolved))
            }
            (Self::Recovering { .. }, false) => None,
        }
    }

    /// When the episode under way began.
    pub fn started_at(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Normal => None,
            Self::Pending { started_at } | Self::Firing { started_at, .. } | Self::Recovering { started_at, .. } => {
                Some(started_at)
            }
        }
    }

    /// When the episode under way fired.
    pub fn fired_at(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Firing { fired_at, .. } | Self::Recovering { fired_at, .. } => Some(fired_at),
            Self::Normal | Self::Pending { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        crate::time::parse_utc("2026-11-24T10:00:00Z").unwrap() + TimeDelta::minutes(minute)
    }

    /// Runs `conditions` (one per minute from minute 0) and returns the
    /// changes with their minute.
    fn run(conditions: &[bool], periods: Periods) -> Vec<(i64, Change)> {
        let mut phase = Phase::Normal;
        let mut changes = Vec::new();
        for (minute, holds) in conditions.iter().enumerate() {
            let minute = minute as i64;
            if let Some((next, change)) = phase.step(*holds, at(minute), periods) {
                phase = next;
                changes.push((minute, change));
            }
        }
        changes
    }

    #[test]
    fn a_spike_fires_after_the_pending_period_and_resolves_after_keep_firing() {
        let conditions = [false, true, true, true, true, false, false, false, false];
        assert_eq!(
            run(&conditions, Periods::minutes(2, 3)),
            [
                (1, Change::Began),
                (3, Change::Fired),
                (5, Change::Recovering),
                (8, Change::Resolved)
            ]
        );
    }

    #[test]
    fn a_short_dip_keeps_the_alert_firing_in_the_same_episode() {
        let conditions = [true, true, false, true, false, false, false];
        let changes = run(&conditions, Periods::minutes(1, 2));
        assert_eq!(
            changes,
            [
                (0, Change::Began),
                (1, Change::Fired),
                (2, Change::Recovering),
                (3, Change::Relapsed),
                (4, Change::Recovering),
                (6, Change::Resolved)
            ]
        );
        assert_eq!(changes.iter().filter(|(_, change)| *change == Change::Fired).count(), 1);
    }

    #[test]
    fn a_blip_shorter_than_the_pending_period_never_fires() {
        let changes = run(&[true, false, true, true, false], Periods::minutes(5, 5));
        assert_eq!(
            changes,
            [
                (0, Change::Began),
                (1, Change::Abandoned),
                (2, Change::Began),
                (4, Change::Abandoned)
            ]
        );
    }

    #[test]
    fn zero_periods_fire_and_resolve_at_once() {
        assert_eq!(
            run(&[true, false], Periods::minutes(0, 0)),
            [(0, Change::Fired), (1, Change::Resolved)]
        );
    }

    #[test]
    fn the_episode_keeps_its_start_and_firing_time() {
        let periods = Periods::minutes(2, 5);
        let (pending, _) = Phase::Normal.step(true, at(0), periods).unwrap();
        let (firing, _) = pending.step(true, at(2), periods).unwrap();
        assert_eq!(firing.started_at(), Some(at(0)));
        assert_eq!(firing.fired_at(), Some(at(2)));
        let (recovering, _) = firing.step(false, at(4), periods).unwrap();
        assert_eq!(recovering.fired_at(), Some(at(2)));
        assert_eq!(
            recovering.step(false, at(8), periods),
            None,
            "keeps firing for 5 minutes"
        );
    }
}
