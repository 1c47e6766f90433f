//! The rule editor's model: a rule as the form holds it (text as typed),
//! turned back into [`AlertRule`]s and checked with the server's own
//! `rules::validate`, so most mistakes are named before a request is sent,
//! in the server's words (`rules[2].windowMinutes: 1 to 1440 minutes`).
//! Pure and tested natively; the view only binds inputs to it.

use chrono::{DateTime, Utc};
use paypulse_shared::Amount;
use paypulse_shared::alerts::rules::{self, RuleError};
use paypulse_shared::alerts::{AlertRule, RuleKind};

/// One rule as typed into the form.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleForm {
    pub id: String,
    pub name: String,
    /// `RuleKind::as_str`.
    pub kind: String,
    pub window_minutes: String,
    /// Empty: none (a `volume_anomaly` rule has none).
    pub threshold: String,
    /// Empty: the server's default (failure-rate rules only).
    pub min_attempts: String,
    pub pending_minutes: String,
    pub keep_firing_minutes: String,
    pub enabled: bool,
    pub silenced_until: Option<DateTime<Utc>>,
    /// The "silence until" input: wall-clock time in the tenant's zone.
    pub until: String,
}

/// A text field of the form: its input's `name` (the API's spelling), its
/// label and its test id, and whether a rule of a kind has it.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub testid: &'static str,
    pub size: &'static str,
}

/// The text fields, in the order the form shows them; the threshold and
/// `minAttempts` only for the kinds that take them (see [`RuleForm::has`]).
pub const FIELDS: [Field; 6] = [
    field("name", "Name", "rule-name", "22"),
    field("windowMinutes", "Window (min)", "rule-window", "5"),
    field("threshold", "Threshold", "rule-threshold", "9"),
    field("minAttempts", "Min. payments", "rule-min-attempts", "6"),
    field("pendingMinutes", "Pending (min)", "rule-pending", "4"),
    field("keepFiringMinutes", "Keep firing (min)", "rule-keep-firing", "4"),
];

const fn field(name: &'static str, label: &'static str, testid: &'static str, size: &'static str) -> Field {
    Field {
        name,
        label,
        testid,
        size,
    }
}

/// A rule kind in words, for the kind selector and the summaries.
pub fn kind_label(kind: RuleKind) -> &'static str {
    match kind {
        RuleKind::FailureRate => "Failure rate above",
        RuleKind::VolumeAbove => "Volume above",
        RuleKind::VolumeBelow => "Volume below",
        RuleKind::VolumeAnomaly => "Volume far from usual",
    }
}

pub fn kind_of(text: &str) -> Option<RuleKind> {
    RuleKind::ALL.into_iter().find(|kind| kind.as_str() == text)
}

fn number<T: ToString>(value: T) -> String {
    value.to_string()
}

/// A threshold as typed: its exact decimal (`15`, `1500.25`), never a
/// float's approximation.
fn threshold_text(threshold: Option<f64>) -> String {
    threshold
        .and_then(|threshold| Amount::from_f64(threshold).ok())
        .map(|amount| amount.to_string())
        .unwrap_or_default()
}

impl RuleForm {
    pub fn of(rule: &AlertRule) -> Self {
        Self {
            id: rule.id.clone(),
            name: rule.name.clone(),
            kind: rule.kind.as_str().to_owned(),
            window_minutes: number(rule.window_minutes),
            threshold: threshold_text(rule.threshold),
            min_attempts: rule.min_attempts.map(number).unwrap_or_default(),
            pending_minutes: number(rule.pending_minutes),
            keep_firing_minutes: number(rule.keep_firing_minutes),
            enabled: rule.enabled,
            silenced_until: rule.silenced_until,
            until: String::new(),
        }
    }

    /// Whether this rule's kind has the field named `name`.
    pub fn has(&self, name: &str) -> bool {
        let kind = kind_of(&self.kind);
        match name {
            "threshold" => kind.is_some_and(RuleKind::has_threshold),
            "minAttempts" => kind == Some(RuleKind::FailureRate),
            _ => true,
        }
    }

    /// The text of the field (or input) named `name`.
    pub fn get(&self, name: &str) -> &str {
        match name {
            "id" => &self.id,
            "name" => &self.name,
            "kind" => &self.kind,
            "windowMinutes" => &self.window_minutes,
            "threshold" => &self.threshold,
            "minAttempts" => &self.min_attempts,
            "pendingMinutes" => &self.pending_minutes,
            "keepFiringMinutes" => &self.keep_firing_minutes,
            "until" => &self.until,
            _ => "",
        }
    }

    /// Sets the field (or input) named `name` as typed; `enabled` takes
    /// "true" or "false".
    pub fn set(&mut self, name: &str, value: String) {
        let slot = match name {
            "name" => &mut self.name,
            "kind" => &mut self.kind,
            "windowMinutes" => &mut self.window_minutes,
            "threshold" => &mut self.threshold,
            "minAttempts" => &mut self.min_attempts,
            "pendingMinutes" => &mut self.pending_minutes,
            "keepFiringMinutes" => &mut self.keep_firing_minutes,
            "until" => &mut self.until,
            "enabled" => {
                self.enabled = value == "true";
                return;
            }
            _ => return,
        };
        *slot = value;
    }

    /// A new rule of `kind` with usual settings, its id not among `taken`.
    pub fn new_rule(kind: RuleKind, taken: &[String]) -> Self {
        let id = (1..)
            .map(|number| format!("{}-{number}", kind.as_str().replace('_', "-")))
            .find(|id| !taken.contains(id))
            .unwrap_or_default();
        let (threshold, window, pending, keep) = match kind {
            RuleKind::FailureRate => ("15", 10, 2, 5),
            RuleKind::VolumeAbove => ("10000", 60, 5, 10),
            RuleKind::VolumeBelow => ("100", 60, 10, 10),
            RuleKind::VolumeAnomaly => ("", 30, 5, 10),
        };
        Self {
            id,
            name: kind_label(kind).to_owned(),
            kind: kind.as_str().to_owned(),
            window_minutes: number(window),
            threshold: threshold.to_owned(),
            min_attempts: String::new(),
            pending_minutes: number(pending),
            keep_firing_minutes: number(keep),
            enabled: true,
            silenced_until: None,
            until: String::new(),
        }
    }

    /// The rule this form says, as rule `index` of the list (for naming a
    /// field that is not a number).
    pub fn to_rule(&self, index: usize) -> Result<AlertRule, RuleError> {
        let wrong = |field: &str, message: &str| RuleError {
            field: format!("rules[{index}].{field}"),
            message: message.to_owned(),
        };
        let minutes = |field: &str, text: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| wrong(field, "a whole number of minutes"))
        };
        let kind = kind_of(&self.kind).ok_or_else(|| wrong("kind", "an unknown kind of rule"))?;
        let threshold = match self.threshold.trim() {
            _ if !kind.has_threshold() => None,
            "" => None,
            text => Some(
                Amount::parse(text)
                    .map_err(|_| wrong("threshold", "a number such as 15 or 1500.50"))?
                    .to_f64(),
            ),
        };
        let min_attempts = match self.min_attempts.trim() {
            _ if kind != RuleKind::FailureRate => None,
            "" => None,
            text => Some(
                text.parse::<u64>()
                    .map_err(|_| wrong("minAttempts", "a whole number of payments"))?,
            ),
        };
        Ok(AlertRule {
            id: self.id.trim().to_owned(),
            name: self.name.clone(),
            kind,
            window_minutes: minutes("windowMinutes", &self.window_minutes)?,
            threshold,
            min_attempts,
            pending_minutes: minutes("pendingMinutes", &self.pending_minutes)?,
            keep_firing_minutes: minutes("keepFiringMinutes", &self.keep_firing_minutes)?,
            enabled: self.enabled,
            silenced_until: self.silenced_until,
        })
    }
}

/// The rules the forms say, checked as the server checks them; `scale` is
/// the decimal places of the tenant's currency (volume thresholds are whole
/// minor units).
pub fn rules_of(forms: &[RuleForm], scale: u8) -> Result<Vec<AlertRule>, RuleError> {
    let rules = forms
        .iter()
        .enumerate()
        .map(|(index, form)| form.to_rule(index))
        .collect::<Result<Vec<_>, _>>()?;
    rules::validate(rules, scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::at;

    fn forms() -> Vec<RuleForm> {
        rules::defaults().iter().map(RuleForm::of).collect()
    }

    #[test]
    fn the_defaults_survive_the_form_unchanged() {
        let forms = forms();
        assert_eq!(forms[0].threshold, "15");
        assert_eq!(forms[0].min_attempts, "10");
        assert_eq!(forms[1].threshold, "", "an anomaly rule has no threshold");
        assert_eq!(rules_of(&forms, 2).unwrap(), rules::defaults());
    }

    #[test]
    fn mistakes_name_the_field_as_the_server_does() {
        let field = |change: fn(&mut RuleForm)| {
            let mut forms = forms();
            change(&mut forms[1]);
            rules_of(&forms, 2).unwrap_err().to_string()
        };
        assert_eq!(
            field(|form| form.window_minutes = "0".into()),
            "rules[1].windowMinutes: 1 to 1440 minutes"
        );
        assert_eq!(
            field(|form| form.pending_minutes = "soon".into()),
            "rules[1].pendingMinutes: a whole number of minutes"
        );
        assert_eq!(
            field(|form| form.name = " ".into()),
            "rules[1].name: 1 to 100 characters"
        );
        let mut forms = forms();
        forms.push(RuleForm::new_rule(RuleKind::VolumeBelow, &[]));
        forms[2].threshold = "10.005".into();
        assert_eq!(
            rules_of(&forms, 2).unwrap_err().to_string(),
            "rules[2].threshold: an amount with at most 2 decimal places"
        );
        forms[2].threshold = "ten".into();
        assert_eq!(rules_of(&forms, 2).unwrap_err().field, "rules[2].threshold");
        forms[2].threshold = "1500.5".into();
        let rules = rules_of(&forms, 2).unwrap();
        assert_eq!(rules[2].threshold, Some(1500.5));
        assert_eq!(rules[2].min_attempts, None, "only failure-rate rules take it");
    }

    #[test]
    fn inputs_edit_the_form_by_name() {
        let mut form = forms().remove(0);
        for field in FIELDS {
            assert!(form.has(field.name), "{}", field.name);
        }
        form.set("windowMinutes", "30".into());
        form.set("enabled", "false".into());
        form.set("kind", "volume_anomaly".into());
        assert_eq!(form.get("windowMinutes"), "30");
        assert!(!form.enabled);
        assert!(!form.has("threshold") && !form.has("minAttempts"));
        let rule = form.to_rule(0).unwrap();
        assert_eq!(
            (rule.kind, rule.window_minutes, rule.threshold),
            (RuleKind::VolumeAnomaly, 30, None)
        );
    }

    #[test]
    fn new_rules_get_free_ids_and_usual_settings() {
        let taken = vec!["failure-rate-1".to_owned()];
        let form = RuleForm::new_rule(RuleKind::FailureRate, &taken);
        assert_eq!(form.id, "failure-rate-2");
        let rule = form.to_rule(0).unwrap();
        assert_eq!((rule.threshold, rule.window_minutes), (Some(15.0), 10));
        let anomaly = RuleForm::new_rule(RuleKind::VolumeAnomaly, &[]).to_rule(0).unwrap();
        assert_eq!(anomaly.threshold, None);
        assert!(rules::validate(vec![anomaly], 0).is_ok());
    }

    #[test]
    fn a_silence_is_kept_through_the_form() {
        let now = at("2026-11-24T10:00:00Z");
        let mut rule = rules::defaults().remove(0);
        rule.silenced_until = Some(now + chrono::TimeDelta::hours(1));
        let rule = RuleForm::of(&rule).to_rule(0).unwrap();
        assert_eq!(rule.silenced_until, Some(at("2026-11-24T11:00:00Z")));
        assert!(rule.silenced_at(now) && !rule.silenced_at(at("2026-11-24T11:00:00Z")));
    }
}
