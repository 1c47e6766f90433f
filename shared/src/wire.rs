//! Analytics responses of the REST API (SPEC §3): metrics, trend points,
//! payment pages, and the `period` parameter.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::money::Amount;
use crate::payment::Payment;

/// `GET /api/analytics/metrics`. The first five fields are the contract; the
/// rest are additions the dashboard uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMetrics {
    pub total_volume: Amount,
    pub success_rate: f64,
    pub average_amount: Amount,
    pub peak_hour: Option<u8>,
    pub top_payment_method: Option<String>,
    pub active_methods: u32,
    /// Payments in range, succeeded (refunded included) plus failed.
    pub count: u64,
    pub succeeded_count: u64,
    pub failed_count: u64,
    pub refunded_count: u64,
    /// Gross volume less refunds.
    pub net_volume: Amount,
    pub refunded_volume: Amount,
    /// Payments per hour of day (0–23, tenant time zone).
    pub hourly_counts: Vec<u64>,
    /// Every method with a payment in range, largest succeeded volume first
    /// (alphabetical on ties): the breakdown behind `topPaymentMethod`.
    #[serde(default)]
    pub methods: Vec<MethodBreakdown>,
    /// ISO 4217 code the amounts are in.
    pub currency: String,
    /// IANA zone the hours of day are read in (the tenant's).
    pub timezone: String,
    /// The range the numbers cover, `[from, to)`.
    #[serde(with = "crate::time::rfc3339")]
    pub from: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    pub to: DateTime<Utc>,
    /// With `compare=previous`: the same metrics for the range of equal
    /// length ending at `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Box<PaymentMetrics>>,
}

/// One payment method's share of a range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MethodBreakdown {
    pub method: String,
    /// Succeeded (refunded included) plus failed.
    pub count: u64,
    pub failed_count: u64,
    /// Gross succeeded volume.
    pub volume: Amount,
    pub success_rate: f64,
}

/// One bucket of `GET /api/analytics/trends`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrendData {
    /// Start of the bucket (aligned to the tenant's time zone), in UTC.
    #[serde(with = "crate::time::rfc3339")]
    pub timestamp: DateTime<Utc>,
    /// Gross succeeded volume.
    pub amount: Amount,
    /// Payments in the bucket, succeeded (refunded included) plus failed.
    pub count: u64,
    pub success_rate: f64,
    /// True when the bucket's volume or failure rate lies outside `expected`
    /// (see `anomaly_kinds` for which).
    pub anomaly: bool,
    /// Which conditions made the bucket anomalous; empty (and left out of the
    /// JSON) when it is not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomaly_kinds: Vec<AnomalyKind>,
    /// The band the flag was judged against; absent when there was too
    /// little history to judge the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
}

/// Why a trend bucket is anomalous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// Gross volume below the band.
    VolumeLow,
    /// Gross volume above the band.
    VolumeHigh,
    /// Failure rate above what the band allows (success rate below its low).
    FailureRateHigh,
}

/// A trend point's expected band (SPEC §3 `expected`): the values its
/// anomaly flag was judged against. A value inside `[low, high]` is not
/// flagged; for the success rate only falling below `low` is (a rate better
/// than usual is not news), and `low` is 0 when the bucket had too few
/// attempts for its rate to mean anything. For the bucket still in progress
/// the volume band is scaled to the share of it already elapsed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expected {
    /// Gross succeeded volume.
    pub volume: Bounds<Amount>,
    /// Percent, 0–100.
    pub success_rate: Bounds<f64>,
    /// What the band was computed from.
    pub basis: ExpectedBasis,
    /// How many earlier buckets it was computed from.
    pub samples: u32,
}

/// A closed interval `[low, high]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounds<T> {
    pub low: T,
    pub high: T,
}

/// Where an expected band comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedBasis {
    /// The same local hours of the week, 3 to 6 weeks back.
    Seasonal,
    /// The buckets just before, when fewer than 3 weeks of history exist.
    Rolling,
}

/// A page of `GET /api/payments`, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentsPage {
    pub items: Vec<Payment>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The trend windows of SPEC §3.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Last 24 hours in 1-hour buckets.
    Day,
    /// Last 7 days in 6-hour buckets.
    Week,
    /// Last 30 days in 1-day buckets.
    Month,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Self; 3] = [Self::Day, Self::Week, Self::Month];

    /// The query-string spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// Number of buckets of the default window.
    pub const fn default_points(self) -> usize {
        match self {
            Self::Day => 24,
            Self::Week => 28,
            Self::Month => 30,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The width of a trend bucket (`bucket=` of the trends endpoint), in the
/// tenant's wall-clock time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    Minute,
    FiveMinutes,
    FifteenMinutes,
    Hour,
    SixHours,
    Day,
}

impl Bucket {
    /// Every bucket, finest first.
    pub const ALL: [Self; 6] = [
        Self::Minute,
        Self::FiveMinutes,
        Self::FifteenMinutes,
        Self::Hour,
        Self::SixHours,
        Self::Day,
    ];

    /// Most points a trend picks its own bucket for: the finest bucket that
    /// keeps a span under this many points is chosen.
    pub const MAX_AUTO_POINTS: i64 = 120;

    /// The query-string spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "1m",
            Self::FiveMinutes => "5m",
            Self::FifteenMinutes => "15m",
            Self::Hour => "1h",
            Self::SixHours => "6h",
            Self::Day => "1d",
        }
    }

    /// Nominal length in minutes (a local day around a DST change is 23 or
    /// 25 hours; buckets follow the wall clock).
    pub const fn minutes(self) -> i64 {
        match self {
            Self::Minute => 1,
            Self::FiveMinutes => 5,
            Self::FifteenMinutes => 15,
            Self::Hour => 60,
            Self::SixHours => 360,
            Self::Day => 1_440,
        }
    }

    /// The bucket a trend over `span` uses when none is asked for: the
    /// finest that gives at most [`Self::MAX_AUTO_POINTS`] points (a 1-hour
    /// span gets minutes, 24 hours quarter hours, 30 days six hours).
    pub fn for_span(span: chrono::TimeDelta) -> Self {
        let minutes = span.num_minutes().max(1);
        Self::ALL
            .into_iter()
            .find(|bucket| (minutes + bucket.minutes() - 1) / bucket.minutes() <= Self::MAX_AUTO_POINTS)
            .unwrap_or(Self::Day)
    }
}

impl From<Period> for Bucket {
    fn from(period: Period) -> Self {
        match period {
            Period::Day => Self::Hour,
            Period::Week => Self::SixHours,
            Period::Month => Self::Day,
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `bucket` that is not one of the six sizes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown bucket '{0}' (expected 1m, 5m, 15m, 1h, 6h or 1d)")]
pub struct UnknownBucket(pub String);

impl FromStr for Bucket {
    type Err = UnknownBucket;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|bucket| bucket.as_str() == text)
            .ok_or_else(|| UnknownBucket(text.to_owned()))
    }
}

/// `POST /api/tickets`: a single-use credential for a URL (a WebSocket or a
/// download), valid until `expiresAt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub ticket: String,
    #[serde(with = "crate::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

/// A `period` that is not day, week or month.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown period '{0}' (expected day, week or month)")]
pub struct UnknownPeriod(pub String);

impl FromStr for Period {
    type Err = UnknownPeriod;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|period| period.as_str() == text)
            .ok_or_else(|| UnknownPeriod(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    /// Metrics with something in every field.
    fn sample_metrics() -> PaymentMetrics {
        PaymentMetrics {
            total_volume: Amount::from_minor(30, 2),
            success_rate: 50.0,
            average_amount: Amount::from_minor(30, 2),
            peak_hour: Some(9),
            top_payment_method: Some("card".into()),
            active_methods: 2,
            count: 2,
            succeeded_count: 1,
            failed_count: 1,
            refunded_count: 0,
            net_volume: Amount::from_minor(30, 2),
            refunded_volume: Amount::from_minor(0, 2),
            hourly_counts: vec![0; 24],
            methods: vec![MethodBreakdown {
                method: "card".into(),
                count: 2,
                failed_count: 1,
                volume: Amount::from_minor(30, 2),
                success_rate: 50.0,
            }],
            currency: "USD".into(),
            timezone: "America/New_York".into(),
            from: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
            to: Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap(),
            previous: None,
        }
    }

    #[test]
    fn metrics_match_the_contract_field_for_field() {
        let metrics = sample_metrics();
        let document = json!({
            "totalVolume": 0.3, "successRate": 50.0, "averageAmount": 0.3, "peakHour": 9,
            "topPaymentMethod": "card", "activeMethods": 2, "count": 2, "succeededCount": 1,
            "failedCount": 1, "refundedCount": 0, "netVolume": 0.3, "refundedVolume": 0.0,
            "hourlyCounts": vec![0; 24], "currency": "USD", "timezone": "America/New_York",
            "methods": [{"method": "card", "count": 2, "failedCount": 1, "volume": 0.3, "successRate": 50.0}],
            "from": "2026-11-23T10:00:00Z", "to": "2026-11-24T10:00:00Z"
        });
        assert_eq!(serde_json::to_value(&metrics).unwrap(), document);
        assert_eq!(serde_json::from_value::<PaymentMetrics>(document).unwrap(), metrics);
    }

    #[test]
    fn empty_metrics_have_nulls_not_missing_fields() {
        let empty = PaymentMetrics {
            peak_hour: None,
            top_payment_method: None,
            ..sample_metrics()
        };
        let document = serde_json::to_value(&empty).unwrap();
        let object = document.as_object().unwrap();
        assert_eq!(object.get("peakHour"), Some(&serde_json::Value::Null), "{document}");
        assert_eq!(
            object.get("topPaymentMethod"),
            Some(&serde_json::Value::Null),
            "{document}"
        );
        assert_eq!(serde_json::from_value::<PaymentMetrics>(document).unwrap(), empty);
    }

    #[test]
    fn trend_point_matches_the_contract() {
        let point = TrendData {
            timestamp: Utc.with_ymd_and_hms(2026, 11, 24, 4, 30, 0).unwrap(),
            amount: Amount::from_minor(123_456, 2),
            count: 7,
            success_rate: 85.71428571428571,
            anomaly: false,
            anomaly_kinds: Vec::new(),
            expected: None,
        };
        let document = json!({"timestamp": "2026-11-24T04:30:00Z", "amount": 1234.56, "count": 7,
            "successRate": 85.71428571428571, "anomaly": false});
        assert_eq!(serde_json::to_value(&point).unwrap(), document);
        assert_eq!(serde_json::from_value::<TrendData>(document).unwrap(), point);
    }

    #[test]
    fn an_anomalous_point_carries_its_kinds_and_band() {
        let point = TrendData {
            timestamp: Utc.with_ymd_and_hms(2026, 11, 24, 4, 30, 0).unwrap(),
            amount: Amount::from_minor(1_230, 2),
            count: 40,
            success_rate: 75.0,
            anomaly: true,
            anomaly_kinds: vec![AnomalyKind::VolumeLow, AnomalyKind::FailureRateHigh],
            expected: Some(Expected {
                volume: Bounds {
                    low: Amount::from_minor(1_230_000, 2),
                    high: Amount::from_minor(4_560_000, 2),
                },
                success_rate: Bounds { low: 95.1, high: 99.0 },
                basis: ExpectedBasis::Seasonal,
                samples: 6,
            }),
        };
        let document = json!({"timestamp": "2026-11-24T04:30:00Z", "amount": 12.3, "count": 40,
            "successRate": 75.0, "anomaly": true, "anomalyKinds": ["volume_low", "failure_rate_high"],
            "expected": {"volume": {"low": 12300.0, "high": 45600.0},
                "successRate": {"low": 95.1, "high": 99.0}, "basis": "seasonal", "samples": 6}});
        assert_eq!(serde_json::to_value(&point).unwrap(), document);
        assert_eq!(serde_json::from_value::<TrendData>(document).unwrap(), point);
    }

    #[test]
    fn buckets_follow_the_span() {
        use chrono::TimeDelta;
        let chosen = |span: TimeDelta| Bucket::for_span(span).as_str();
        assert_eq!(chosen(TimeDelta::minutes(15)), "1m");
        assert_eq!(chosen(TimeDelta::hours(1)), "1m");
        assert_eq!(chosen(TimeDelta::hours(6)), "5m");
        assert_eq!(chosen(TimeDelta::hours(24)), "15m");
        assert_eq!(chosen(TimeDelta::days(7)), "6h");
        assert_eq!(chosen(TimeDelta::days(30)), "6h");
        assert_eq!(chosen(TimeDelta::days(60)), "1d");
        for bucket in Bucket::ALL {
            assert_eq!(bucket.as_str().parse(), Ok(bucket));
        }
        assert!("2m".parse::<Bucket>().is_err());
    }

    #[test]
    fn periods_parse_and_know_their_sizes() {
        assert_eq!("week".parse(), Ok(Period::Week));
        assert!("hour".parse::<Period>().is_err());
        let sizes: Vec<_> = Period::ALL.iter().map(|period| period.default_points()).collect();
        assert_eq!(sizes, [24, 28, 30]);
    }
}
