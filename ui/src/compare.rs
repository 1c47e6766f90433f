//! A metric against the previous period of the same length: which way it
//! moved and by how much, in words (an arrow and "up"/"down" for screen
//! readers) as well as in colour, and whether that is good news.

use crate::format;

/// Which way a figure moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trend {
    Up,
    Down,
    Flat,
}

impl Trend {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Flat => "flat",
        }
    }

    const fn arrow(self) -> &'static str {
        match self {
            Self::Up => "▲",
            Self::Down => "▼",
            Self::Flat => "=",
        }
    }
}

/// How a change is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Relative change in percent (volumes, amounts).
    Percent,
    /// Difference in percentage points (a rate).
    Points,
    /// Difference in units (a count).
    Count,
}

/// Whether a rise is good news (green), bad news (red) or neither (blue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Good {
    WhenUp,
    Neither,
}

/// One figure's change, ready to show.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub trend: Trend,
    /// `▲ 12.3% vs previous 24 h`.
    pub text: String,
    /// The same for screen readers: `up 12.3% against the previous 24 h`.
    pub spoken: String,
    /// CSS class: `good`, `bad` or `neutral`.
    pub tone: &'static str,
}

/// `current` against `previous` over a period described by `span` (`24 h`).
pub fn change(current: f64, previous: f64, measure: Measure, good: Good, span: &str) -> Change {
    let difference = current - previous;
    let (trend, amount) = match measure {
        Measure::Percent if previous == 0.0 => {
            let trend = if current > 0.0 { Trend::Up } else { Trend::Flat };
            (trend, (current > 0.0).then(|| "from none".to_owned()))
        }
        Measure::Percent => {
            let percent = difference / previous.abs() * 100.0;
            (
                direction(percent, 0.05),
                Some(format!("{}%", format::fixed(percent.abs(), 1))),
            )
        }
        Measure::Points => (
            direction(difference, 0.05),
            Some(format!("{} pts", format::fixed(difference.abs(), 1))),
        ),
        Measure::Count => (direction(difference, 0.5), Some(format::fixed(difference.abs(), 0))),
    };
    let amount = match (trend, amount) {
        (Trend::Flat, _) | (_, None) => "no change".to_owned(),
        (_, Some(amount)) => amount,
    };
    let tone = match (good, trend) {
        (_, Trend::Flat) | (Good::Neither, _) => "neutral",
        (Good::WhenUp, Trend::Up) => "good",
        (Good::WhenUp, Trend::Down) => "bad",
    };
    let spoken_trend = match trend {
        Trend::Flat => String::new(),
        trend => format!("{} ", trend.as_str()),
    };
    Change {
        trend,
        text: format!("{} {amount} vs previous {span}", trend.arrow()),
        spoken: format!("{spoken_trend}{amount} against the previous {span}"),
        tone,
    }
}

fn direction(value: f64, threshold: f64) -> Trend {
    if value >= threshold {
        Trend::Up
    } else if value <= -threshold {
        Trend::Down
    } else {
        Trend::Flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_change_in_percent_and_rates_in_points() {
        let rise = change(1_123.0, 1_000.0, Measure::Percent, Good::WhenUp, "24 h");
        assert_eq!(
            (rise.trend, rise.text.as_str(), rise.tone),
            (Trend::Up, "▲ 12.3% vs previous 24 h", "good")
        );
        assert_eq!(rise.spoken, "up 12.3% against the previous 24 h");
        let fall = change(93.5, 99.0, Measure::Points, Good::WhenUp, "1 h");
        assert_eq!((fall.text.as_str(), fall.tone), ("▼ 5.5 pts vs previous 1 h", "bad"));
        let methods = change(3.0, 5.0, Measure::Count, Good::Neither, "7 d");
        assert_eq!(
            (methods.text.as_str(), methods.tone),
            ("▼ 2 vs previous 7 d", "neutral")
        );
    }

    #[test]
    fn nothing_before_and_no_change() {
        assert_eq!(
            change(10.0, 0.0, Measure::Percent, Good::WhenUp, "1 h").text,
            "▲ from none vs previous 1 h"
        );
        let same = change(0.0, 0.0, Measure::Percent, Good::WhenUp, "1 h");
        assert_eq!(
            (same.trend, same.text.as_str(), same.tone),
            (Trend::Flat, "= no change vs previous 1 h", "neutral")
        );
        assert_eq!(
            change(98.04, 98.0, Measure::Points, Good::WhenUp, "1 h").trend,
            Trend::Flat
        );
    }
}
