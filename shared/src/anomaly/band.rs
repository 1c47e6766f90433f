//! The expected band of one bucket and the flags it raises.
//!
//! Volume and failure rate each get a robust centre (the median of the
//! reference samples) and a spread (1.4826 × their median absolute
//! deviation), floored so that a handful of identical weeks (a zero MAD) or a
//! tiny volume cannot make every wobble anomalous, and widened because the
//! centre is itself estimated from few values. A bucket is flagged beyond
//! `K` spreads, and only when the flag rests on enough payments to mean
//! something (see the `MIN_` constants).

use crate::money::Amount;
use crate::wire::{AnomalyKind, Bounds, Expected, ExpectedBasis};

use super::robust::{centre_and_sigma, median, widening};
use super::sample::Sample;

/// Spreads between a band's centre and its edges, for volume and failure
/// rate alike. A normal quantity strays that far to one side about 3 times
/// in 100,000, but payments are not quite normal and the spread comes from
/// a handful of weeks: in the detector benchmark, 4 gives 2 false flags in
/// 2,892 ordinary hours, 3.5 gives 8 and 3 gives 26. A dashboard that cries
/// wolf every day is ignored, so 4.
pub const K: f64 = 4.0;

/// Smallest spread of a seasonal band's square-root volume, as a share of
/// its centre: 5 % of the root is about 10 % of the volume. The same hour a
/// few weeks apart differs by several percent for reasons nobody would call
/// an incident (paydays, a campaign, the weather).
pub const SEASONAL_RELATIVE_FLOOR: f64 = 0.05;

/// Smallest spread of a rolling band's square-root volume, as a share of
/// its centre. The buckets just before do not know the daily rhythm, so the
/// morning rush after a quiet night must not look like a surge: with [`K`] =
/// 4 the band reaches about five times the recent median.
pub const ROLLING_RELATIVE_FLOOR: f64 = 0.3;

/// Smallest failure-rate spread, in percentage points, before the sampling
/// noise of the bucket's own attempts is added.
pub const RATE_FLOOR_PERCENT: f64 = 1.0;

/// Failure probability assumed at least when sizing sampling noise, so a
/// history without failures does not make the first one a spike.
pub const MIN_FAILURE_PROBABILITY: f64 = 0.01;

/// Attempts a bucket needs before its failure rate is judged.
pub const MIN_ATTEMPTS: f64 = 10.0;

/// Failed payments a bucket needs before its failure rate is flagged: one or
/// two failures are not a pattern, whatever rate they make.
pub const MIN_FAILED: f64 = 3.0;

/// Succeeded payments a bucket needs before it is flagged as a surge, so
/// that one large payment in a quiet hour is not an incident.
pub const MIN_SURGE_PAYMENTS: f64 = 10.0;

/// Succeeded payments the band must expect (after scaling to the elapsed
/// share) before a bucket can be too low: below it, an empty bucket is
/// within ordinary chance.
pub const MIN_EXPECTED_FOR_LOW: f64 = 10.0;

/// Share of a bucket in progress that must have elapsed before it can be too
/// low: earlier, a slow start is no evidence of anything.
pub const MIN_SHARE_FOR_LOW: f64 = 0.5;

/// Rolling reference buckets with at least [`MIN_ATTEMPTS`] needed before a
/// rolling band judges the failure rate (a seasonal band needs
/// [`super::MIN_SEASONS`] seasons with any attempt).
pub const MIN_ROLLING_RATE_BUCKETS: usize = 6;

/// The expected band of one bucket, in the units the detector works in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Band {
    /// Gross succeeded volume in minor units. `low` is 0 where "too low" is
    /// not judged (a rolling band, a young bucket, a quiet hour).
    pub volume_minor: Bounds<f64>,
    /// Success rate in percent. `low` is 0 when the bucket has too few
    /// attempts or the history too few rates for it to be judged.
    pub success_rate: Bounds<f64>,
    pub basis: ExpectedBasis,
    /// Reference samples the band was computed from.
    pub samples: usize,
}

/// What differs between a seasonal and a rolling band.
struct Tuning {
    relative_floor: f64,
    judges_low: bool,
    /// Attempts a reference sample needs for its failure rate to count.
    rate_sample_attempts: f64,
    /// Reference failure rates needed before the bucket's rate is judged.
    min_rates: usize,
}

impl Tuning {
    fn of(basis: ExpectedBasis) -> Self {
        match basis {
            // Seasonal samples may be shares of an hour (a fraction of a
            // payment each), so any attempt lets a season's rate count.
            ExpectedBasis::Seasonal => Self {
                relative_floor: SEASONAL_RELATIVE_FLOOR,
                judges_low: true,
                rate_sample_attempts: f64::MIN_POSITIVE,
                min_rates: super::MIN_SEASONS,
            },
            // The buckets just before follow the daily rhythm: a quiet
            // night would read as a drop, so a rolling band never does.
            ExpectedBasis::Rolling => Self {
                relative_floor: ROLLING_RELATIVE_FLOOR,
                judges_low: false,
                rate_sample_attempts: MIN_ATTEMPTS,
                min_rates: MIN_ROLLING_RATE_BUCKETS,
            },
        }
    }
}

impl Band {
    /// The band for `observed`, of which `share` (0–1) has elapsed, from
    /// `reference` (whole buckets: seasons or preceding buckets).
    pub fn new(observed: &Sample, share: f64, reference: &[Sample], basis: ExpectedBasis) -> Self {
        let tuning = Tuning::of(basis);
        Self {
            volume_minor: volume_bounds(observed, share, reference, &tuning),
            success_rate: success_bounds(observed, reference, &tuning),
            basis,
            samples: reference.len(),
        }
    }

    /// The conditions `observed` meets.
    pub fn kinds(&self, observed: &Sample) -> Vec<AnomalyKind> {
        let mut kinds = Vec::new();
        if observed.volume_minor < self.volume_minor.low {
            kinds.push(AnomalyKind::VolumeLow);
        }
        if observed.volume_minor > self.volume_minor.high && observed.succeeded >= MIN_SURGE_PAYMENTS {
            kinds.push(AnomalyKind::VolumeHigh);
        }
        if let Some(failure_rate) = observed.failure_rate()
            && observed.failed >= MIN_FAILED
            && 100.0 - failure_rate < self.success_rate.low
        {
            kinds.push(AnomalyKind::FailureRateHigh);
        }
        kinds
    }

    /// The band as the wire carries it, volume in major units at `scale`.
    /// The volume edges are rounded inwards to whole minor units, which
    /// keeps the flag exact for whole-unit volumes: a bucket is too low
    /// exactly when its amount is below the `low` shown.
    pub fn to_expected(&self, scale: u8) -> Expected {
        Expected {
            volume: Bounds {
                low: Amount::from_minor(self.volume_minor.low.ceil() as i64, scale),
                high: Amount::from_minor(self.volume_minor.high.floor() as i64, scale),
            },
            success_rate: self.success_rate,
            basis: self.basis,
            samples: u32::try_from(self.samples).unwrap_or(u32::MAX),
        }
    }
}

fn volume_bounds(observed: &Sample, share: f64, reference: &[Sample], tuning: &Tuning) -> Bounds<f64> {
    // What the elapsed part of the bucket should hold: each reference
    // scaled down, so the median, the deviation and the counting noise
    // below all shrink as they should for a shorter stretch.
    let expected: Vec<Sample> = reference.iter().map(|sample| sample.scaled(share)).collect();
    // The band is computed on the square root of the volume, where counting
    // noise has the same spread whatever the size of the bucket: it is then
    // tighter below the median than above it, as counts of payments are (an
    // hour that normally holds 25 payments can hold 45, but hardly none).
    let roots: Vec<f64> = expected
        .iter()
        .map(|sample| sample.volume_minor.max(0.0).sqrt())
        .collect();
    let (centre, sigma) = centre_and_sigma(roots);
    let typical_payments = median(expected.iter().map(|sample| sample.succeeded).collect());
    // Counting noise: a Poisson number of payments whose amounts vary about
    // as much as their mean (coefficient of variation near 1) sums to a
    // volume whose square root has a standard deviation of √(mean / 2),
    // whatever the number of payments. The observed bucket joins the mean
    // amount so that there is one even when the history holds only failures.
    let pooled: Sample = reference.iter().copied().sum::<Sample>() + *observed;
    let mean_amount = if pooled.succeeded > 0.0 {
        pooled.volume_minor / pooled.succeeded
    } else {
        0.0
    };
    let counting_noise = (mean_amount / 2.0).sqrt();
    let spread = sigma.max(tuning.relative_floor * centre).max(counting_noise) * widening(reference.len());
    let low_root = centre - K * spread;
    let judges_low = tuning.judges_low && share >= MIN_SHARE_FOR_LOW && typical_payments >= MIN_EXPECTED_FOR_LOW;
    Bounds {
        low: if judges_low && low_root > 0.0 {
            low_root * low_root
        } else {
            0.0
        },
        high: (centre + K * spread).powi(2),
    }
}

fn success_bounds(observed: &Sample, reference: &[Sample], tuning: &Tuning) -> Bounds<f64> {
    let rates: Vec<f64> = reference
        .iter()
        .filter(|sample| sample.attempts() >= tuning.rate_sample_attempts)
        .filter_map(Sample::failure_rate)
        .collect();
    if rates.len() < tuning.min_rates {
        return Bounds { low: 0.0, high: 100.0 };
    }
    let count = rates.len();
    let (median_rate, sigma) = centre_and_sigma(rates);
    // In a quiet hour most weeks have no failure at all, so the median of
    // the weeks' rates is usually 0 however often payments fail; the pooled
    // rate of all of them is not biased so, but follows one bad week. The
    // larger of the two errs towards not flagging.
    let pooled = reference
        .iter()
        .filter(|sample| sample.attempts() >= tuning.rate_sample_attempts)
        .copied()
        .sum::<Sample>()
        .failure_rate()
        .unwrap_or(0.0);
    let centre = median_rate.max(pooled);
    // The bucket's own attempts are a binomial sample of the usual failure
    // probability: few attempts make a noisy rate, so the band widens. This
    // noise and the floor's week-to-week wobble are independent, so their
    // variances add.
    let probability = (centre / 100.0).clamp(MIN_FAILURE_PROBABILITY, 1.0 - MIN_FAILURE_PROBABILITY);
    let sampling = 100.0 * (probability * (1.0 - probability) / observed.attempts().max(1.0)).sqrt();
    let spread = sigma.max(RATE_FLOOR_PERCENT.hypot(sampling)) * widening(count);
    let worst_failure = centre + K * spread;
    let best_failure = (centre - K * spread).max(0.0);
    Bounds {
        low: if observed.attempts() >= MIN_ATTEMPTS {
            (100.0 - worst_failure).clamp(0.0, 100.0)
        } else {
            0.0
        },
        high: (100.0 - best_failure).clamp(0.0, 100.0),
    }
}
