//! Alert rules: validation that names the wrong field (`rules[2].windowMinutes`,
//! SPEC §3), the defaults every tenant starts with, and the bounds.

use std::collections::HashSet;

use super::{AlertRule, RuleKind};

/// Most rules a tenant may have.
pub const MAX_RULES: usize = 20;
/// Longest window, pending period and keep-firing period: one day.
pub const MAX_MINUTES: u32 = 24 * 60;
/// `minAttempts` of a failure-rate rule that does not say.
pub const DEFAULT_MIN_ATTEMPTS: u64 = 10;
/// Largest `minAttempts`.
pub const MAX_MIN_ATTEMPTS: u64 = 1_000_000;
/// Longest rule name and id.
pub const MAX_NAME: usize = 100;
pub const MAX_ID: usize = 64;

/// A rule that cannot be accepted: the field, as the client spelled it, and
/// what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

/// The rules every tenant starts with: a failure-rate spike and volume far
/// outside what the same hours of earlier weeks brought. Both wait a few
/// minutes before firing and keep firing through a short lull, which is
/// what keeps them from flapping.
pub fn defaults() -> Vec<AlertRule> {
    vec![
        AlertRule {
            id: "failure-rate".into(),
            name: "Failure rate above 15%".into(),
            kind: RuleKind::FailureRate,
            window_minutes: 10,
            threshold: Some(15.0),
            min_attempts: Some(DEFAULT_MIN_ATTEMPTS),
            pending_minutes: 2,
            keep_firing_minutes: 3,
            enabled: true,
            silenced_until: None,
        },
        AlertRule {
            id: "volume-anomaly".into(),
            name: "Volume far from usual".into(),
            kind: RuleKind::VolumeAnomaly,
            window_minutes: 30,
            threshold: None,
            min_attempts: None,
            pending_minutes: 5,
            keep_firing_minutes: 10,
            enabled: true,
            silenced_until: None,
        },
    ]
}

/// Checks `rules` and fills in what may be left out (`minAttempts` of a
/// failure-rate rule). `scale` is the tenant currency's decimal places: a
/// volume threshold must be a whole number of minor units.
pub fn validate(mut rules: Vec<AlertRule>, scale: u8) -> Result<Vec<AlertRule>, RuleError> {
    if rules.len() > MAX_RULES {
        return Err(error(
            "rules",
            format!("at most {MAX_RULES} rules, got {}", rules.len()),
        ));
    }
    let mut ids = HashSet::new();
    for (index, rule) in rules.iter_mut().enumerate() {
        let field = |name: &str| format!("rules[{index}].{name}");
        if rule.id.is_empty()
            || rule.id.len() > MAX_ID
            || !rule
                .id
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_')
        {
            return Err(error(
                field("id"),
                format!("1 to {MAX_ID} characters of a-z, 0-9, '-' and '_'"),
            ));
        }
        if !ids.insert(rule.id.clone()) {
            return Err(error(field("id"), format!("'{}' is used by an earlier rule", rule.id)));
        }
        let name = rule.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(error(field("name"), format!("1 to {MAX_NAME} characters")));
        }
        rule.name = name.to_owned();
        if rule.window_minutes == 0 || rule.window_minutes > MAX_MINUTES {
            return Err(error(field("windowMinutes"), format!("1 to {MAX_MINUTES} minutes")));
        }
        if rule.pending_minutes > MAX_MINUTES {
            return Err(error(field("pendingMinutes"), format!("0 to {MAX_MINUTES} minutes")));
        }
        if rule.keep_firing_minutes > MAX_MINUTES {
            return Err(error(field("keepFiringMinutes"), format!("0 to {MAX_MINUTES} minutes")));
        }
        check_threshold(rule, scale).map_err(|message| error(field("threshold"), message))?;
        match (rule.kind, rule.min_attempts) {
            (RuleKind::FailureRate, None) => rule.min_attempts = Some(DEFAULT_MIN_ATTEMPTS),
            (RuleKind::FailureRate, Some(attempts)) if attempts == 0 || attempts > MAX_MIN_ATTEMPTS => {
                return Err(error(field("minAttempts"), format!("1 to {MAX_MIN_ATTEMPTS}")));
            }
            (RuleKind::FailureRate, Some(_)) | (_, None) => {}
            (kind, Some(_)) => {
                return Err(error(
                    field("minAttempts"),
                    format!("only failure_rate rules take minAttempts, not {}", kind.as_str()),
                ));
            }
        }
    }
    Ok(rules)
}

fn check_threshold(rule: &AlertRule, scale: u8) -> Result<(), String> {
    let kind = rule.kind;
    let Some(threshold) = rule.threshold else {
        return if kind.has_threshold() {
            Err(format!("{} rules need a threshold", kind.as_str()))
        } else {
            Ok(())
        };
    };
    if !kind.has_threshold() {
        return Err("volume_anomaly rules judge against their band and take no threshold".into());
    }
    if !threshold.is_finite() {
        return Err("must be a number".into());
    }
    match kind {
        RuleKind::FailureRate if threshold <= 0.0 || threshold > 100.0 => {
            Err("a percentage above 0 and at most 100".into())
        }
        RuleKind::FailureRate => Ok(()),
        _ if threshold < 0.0 => Err("an amount of 0 or more, in major units".into()),
        _ => volume_minor(threshold, scale)
            .map(drop)
            .map_err(|_| format!("an amount with at most {scale} decimal places")),
    }
}

/// A volume threshold in major units as minor units of `scale`.
pub fn volume_minor(threshold: f64, scale: u8) -> Result<i64, crate::money::AmountError> {
    crate::money::Amount::from_f64(threshold)?.to_minor_units(scale)
}

fn error(field: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError {
        field: field.into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(change: impl FnOnce(&mut AlertRule)) -> Result<Vec<AlertRule>, RuleError> {
        let mut rules = defaults();
        change(&mut rules[1]);
        validate(rules, 2)
    }

    fn field_of(result: Result<Vec<AlertRule>, RuleError>) -> String {
        result.expect_err("refused").field
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(validate(defaults(), 2).unwrap(), defaults());
        assert_eq!(validate(defaults(), 0).unwrap(), defaults());
    }

    #[test]
    fn each_wrong_field_is_named_with_its_index() {
        assert_eq!(field_of(with(|rule| rule.window_minutes = 0)), "rules[1].windowMinutes");
        assert_eq!(
            field_of(with(|rule| rule.window_minutes = 1441)),
            "rules[1].windowMinutes"
        );
        assert_eq!(
            field_of(with(|rule| rule.pending_minutes = 5000)),
            "rules[1].pendingMinutes"
        );
        assert_eq!(
            field_of(with(|rule| rule.keep_firing_minutes = 5000)),
            "rules[1].keepFiringMinutes"
        );
        assert_eq!(field_of(with(|rule| rule.name = "  ".into())), "rules[1].name");
        assert_eq!(field_of(with(|rule| rule.id = "Bad Id".into())), "rules[1].id");
        assert_eq!(field_of(with(|rule| rule.id = "failure-rate".into())), "rules[1].id");
        assert_eq!(field_of(with(|rule| rule.threshold = Some(5.0))), "rules[1].threshold");
        assert_eq!(
            field_of(with(|rule| rule.min_attempts = Some(5))),
            "rules[1].minAttempts"
        );
    }

    #[test]
    fn thresholds_follow_the_kind() {
        let kind = |kind, threshold| {
            with(|rule| {
                rule.kind = kind;
                rule.threshold = threshold;
            })
        };
        assert!(kind(RuleKind::FailureRate, Some(12.5)).is_ok());
        assert_eq!(field_of(kind(RuleKind::FailureRate, Some(0.0))), "rules[1].threshold");
        assert_eq!(field_of(kind(RuleKind::FailureRate, Some(100.5))), "rules[1].threshold");
        assert_eq!(field_of(kind(RuleKind::FailureRate, None)), "rules[1].threshold");
        assert!(kind(RuleKind::VolumeBelow, Some(1500.25)).is_ok());
        assert!(kind(RuleKind::VolumeAbove, Some(0.0)).is_ok());
        assert_eq!(field_of(kind(RuleKind::VolumeAbove, Some(-1.0))), "rules[1].threshold");
        assert_eq!(field_of(kind(RuleKind::VolumeAbove, Some(0.001))), "rules[1].threshold");
        assert_eq!(
            field_of(kind(RuleKind::VolumeAbove, Some(f64::NAN))),
            "rules[1].threshold"
        );
    }

    #[test]
    fn a_failure_rate_rule_without_min_attempts_gets_the_default() {
        let mut rules = defaults();
        rules[0].min_attempts = None;
        assert_eq!(validate(rules, 2).unwrap()[0].min_attempts, Some(DEFAULT_MIN_ATTEMPTS));
        let mut rules = defaults();
        rules[0].min_attempts = Some(0);
        assert_eq!(field_of(validate(rules, 2)), "rules[0].minAttempts");
    }

    #[test]
    fn too_many_rules_are_refused_as_a_whole() {
        let rules: Vec<AlertRule> = (0..=MAX_RULES)
            .map(|index| AlertRule {
                id: format!("rule-{index}"),
                ..defaults()[0].clone()
            })
            .collect();
        assert_eq!(field_of(validate(rules, 2)), "rules");
    }
}
