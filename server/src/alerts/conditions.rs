//! What a rule's condition reads: the tenant's totals over the rule's
//! trailing window, and for a volume anomaly the same window of each of the
//! previous six weeks, judged by `shared::anomaly`.
//!
//! One read serves every rule of a tenant: the minutes of its longest window
//! (`Recent`), from the quarters the store keeps in memory and checks
//! against their rollups (`Store::fine_cells`), so an evaluation costs a
//! couple of small queries however many rules and payments the tenant has.
//! Windows are whole minutes: the current minute so far and the `window − 1`
//! before it.

use chrono::{DateTime, TimeDelta, Utc};
use paypulse_shared::Amount;
use paypulse_shared::alerts::rules::volume_minor;
use paypulse_shared::alerts::{AlertRule, RuleKind};
use paypulse_shared::anomaly::seasons::{bucket_end, weeks_earlier};
use paypulse_shared::anomaly::{MAX_SEASONS, Sample, judge};
use paypulse_shared::stats::Stats;
use paypulse_shared::wire::{AnomalyKind, Bucket};

use crate::store::Store;
use crate::store::documents::TenantDoc;
use crate::store::rollups::Level;
use chrono::DurationRound;

/// A rule's condition at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub holds: bool,
    /// Percent for failure rate, major units for volume.
    pub value: f64,
    /// What `value` was judged against (an anomaly: the band's edge).
    pub threshold: f64,
    /// For people: what was seen, in the rule's terms.
    pub message: String,
}

/// A tenant's recent minutes, newest last: what every rule's window is
/// summed from.
pub struct Recent {
    /// The start of the current minute.
    minute: DateTime<Utc>,
    /// `(minute start, totals)`, only minutes with payments.
    minutes: Vec<(DateTime<Utc>, Stats)>,
}

impl Recent {
    /// Reads the minutes of `tenant` that a window of `longest` minutes
    /// ending at `now` covers.
    pub async fn read(
        store: &Store,
        tenant_id: &str,
        now: DateTime<Utc>,
        longest: u32,
    ) -> mongodb::error::Result<Self> {
        let minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        let from = window_start(minute, longest);
        let cells = store
            .fine_cells(tenant_id, from, minute + TimeDelta::minutes(1), 1)
            .await?;
        let mut minutes: Vec<(DateTime<Utc>, Stats)> = Vec::new();
        for cell in cells {
            match minutes.last_mut() {
                Some((start, stats)) if *start == cell.start => stats.merge(&cell.stats),
                _ => minutes.push((cell.start, cell.stats)),
            }
        }
        minutes.sort_by_key(|(start, _)| *start);
        Ok(Self { minute, minutes })
    }

    /// Where a window of `minutes` begins.
    pub fn window_start(&self, minutes: u32) -> DateTime<Utc> {
        window_start(self.minute, minutes)
    }

    /// The totals of the last `minutes` minutes (the current one included).
    fn totals(&self, minutes: u32) -> Stats {
        let from = self.window_start(minutes);
        let mut stats = Stats::default();
        for (_, minute) in self.minutes.iter().filter(|(start, _)| *start >= from) {
            stats.merge(minute);
        }
        stats
    }
}

fn window_start(minute: DateTime<Utc>, minutes: u32) -> DateTime<Utc> {
    minute - TimeDelta::minutes(i64::from(minutes.max(1)) - 1)
}

/// Reads `rule`'s condition for `tenant` at `now` from its `recent`
/// minutes. `history_from` is when the tenant's data begins: earlier weeks
/// are not seasons of it.
pub async fn read(
    store: &Store,
    tenant: &TenantDoc,
    rule: &AlertRule,
    recent: &Recent,
    now: DateTime<Utc>,
    history_from: Option<DateTime<Utc>>,
) -> mongodb::error::Result<Reading> {
    let from = recent.window_start(rule.window_minutes);
    let stats = recent.totals(rule.window_minutes);
    let scale = tenant.scale();
    let major = |minor: i64| Amount::from_minor(minor, scale).to_f64();
    let over = format!("over the last {} min", rule.window_minutes);
    let volume = major(stats.volume_minor);
    let currency = &tenant.currency;
    let money = |minor: i64| money_text(minor, scale, currency);
    let volume_text = money(stats.volume_minor);
    Ok(match rule.kind {
        RuleKind::FailureRate => {
            let attempts = stats.count();
            let rate = if attempts == 0 {
                0.0
            } else {
                stats.failed as f64 * 100.0 / attempts as f64
            };
            let threshold = rule.threshold.unwrap_or(100.0);
            let min_attempts = rule.min_attempts.unwrap_or(1);
            let message = if attempts < min_attempts {
                format!(
                    "Too few payments to judge the failure rate {over}: {attempts} of the {min_attempts} needed ({} failed)",
                    stats.failed
                )
            } else {
                format!(
                    "Failure rate {rate:.1}% {over} ({} of {attempts} payments failed; threshold {threshold}%)",
                    stats.failed
                )
            };
            Reading {
                holds: attempts >= min_attempts && rate >= threshold,
                value: rate,
                threshold,
                message,
            }
        }
        RuleKind::VolumeAbove | RuleKind::VolumeBelow => {
            let threshold = rule.threshold.unwrap_or(0.0);
            let limit = volume_minor(threshold, scale).unwrap_or(i64::MAX);
            let (holds, word) = if rule.kind == RuleKind::VolumeAbove {
                (stats.volume_minor > limit, "above")
            } else {
                (stats.volume_minor < limit, "below")
            };
            Reading {
                holds,
                value: volume,
                threshold,
                message: format!(
                    "Volume {volume_text} {over}: {} {}",
                    if holds { word } else { "not" },
                    money(limit)
                ),
            }
        }
        RuleKind::VolumeAnomaly => {
            let past = past_weeks(store, tenant, from, now, history_from).await?;
            let verdict = judge(&Sample::from(&stats), 1.0, &past, &[]);
            let low = verdict.kinds.contains(&AnomalyKind::VolumeLow);
            let high = verdict.kinds.contains(&AnomalyKind::VolumeHigh);
            let Some(band) = verdict.band else {
                return Ok(Reading {
                    holds: false,
                    value: volume,
                    threshold: 0.0,
                    message: format!(
                        "Volume {volume_text} {over}; too little history to judge it (3 earlier weeks needed)"
                    ),
                });
            };
            let (low_minor, high_minor) = (
                band.volume_minor.low.round() as i64,
                band.volume_minor.high.round() as i64,
            );
            Reading {
                holds: low || high,
                value: volume,
                threshold: major(if low { low_minor } else { high_minor }),
                message: format!(
                    "Volume {volume_text} {over}, {} the {}–{} the same time of earlier weeks brought",
                    if low {
                        "far below"
                    } else if high {
                        "far above"
                    } else {
                        "within"
                    },
                    money(low_minor),
                    money(high_minor)
                ),
            }
        }
    })
}

/// The same window of each of the previous weeks (nearest first), read in
/// whole local hours from the hour rollups (kept in memory a few minutes by
/// `Store::past_totals`) and scaled to the window's length; weeks before the
/// tenant's data began are left out.
async fn past_weeks(
    store: &Store,
    tenant: &TenantDoc,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    history_from: Option<DateTime<Utc>>,
) -> mongodb::error::Result<Vec<Sample>> {
    let tz = tenant.tz();
    let mut weeks = Vec::with_capacity(MAX_SEASONS);
    let mut hours = Vec::new();
    for week in 1..=MAX_SEASONS as u32 {
        let Some(window) = weeks_earlier(from, to, tz, week) else {
            continue;
        };
        let whole = window.in_whole_hours(tz);
        if history_from.is_none_or(|begins| whole.start < begins) {
            break;
        }
        let first = hours.len();
        let mut hour = whole.start;
        while hour < whole.end {
            let end = bucket_end(hour, Bucket::Hour, tz);
            hours.push((hour, end));
            hour = end;
        }
        weeks.push((first..hours.len(), whole.factor));
    }
    let totals = store.past_totals(Level::Hour, &tenant.id, &hours).await?;
    Ok(weeks
        .into_iter()
        .map(|(range, factor)| {
            let mut stats = Stats::default();
            for (start, _) in &hours[range] {
                if let Some(total) = totals.get(start) {
                    stats.merge(total);
                }
            }
            Sample::from(&stats).scaled(factor)
        })
        .collect())
}

/// Money in an alert's message: grouped by thousands with the currency's
/// digits, e.g. `12,345.60 USD` (amounts are minor units here, so nothing
/// is rounded twice).
fn money_text(minor: i64, scale: u8, currency: &str) -> String {
    format!("{} {currency}", Amount::from_minor(minor, scale).grouped())
}

#[cfg(test)]
mod tests {
    use super::money_text;

    #[test]
    fn money_reads_as_money() {
        assert_eq!(money_text(282_594, 2, "USD"), "2,825.94 USD");
        assert_eq!(money_text(1_234_567_800, 2, "INR"), "12,345,678.00 INR");
        assert_eq!(money_text(5, 2, "EUR"), "0.05 EUR");
        assert_eq!(money_text(-100_000, 0, "JPY"), "-100,000 JPY");
        assert_eq!(money_text(999, 3, "KWD"), "0.999 KWD");
    }
}
