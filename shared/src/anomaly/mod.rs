//! Seasonal anomaly detection for trend buckets.
//!
//! Payments follow the week: Monday 09:00 is busy, Sunday 04:00 is not. A
//! bucket is therefore judged against the same local interval of the
//! previous weeks ([`MIN_SEASONS`] to [`MAX_SEASONS`] of them, the
//! "seasons"), not against its neighbours: its volume may be too low or too
//! high, and its failure rate too high. With fewer than three weeks of
//! history the buckets just before it stand in (a rolling baseline), which
//! knows nothing of the daily rhythm and so judges more leniently. The band,
//! its parameters and why are in `band.rs`; where the seasons of a bucket lie
//! on the clock (DST, half-hour zones) in `seasons` (feature `tz`).
//!
//! Everything here is pure: the caller reads the history and hands it over
//! as [`Sample`]s.

mod band;
mod robust;
mod sample;
#[cfg(feature = "tz")]
pub mod seasons;

#[cfg(test)]
mod tests;

pub use band::{
    Band, K, MIN_ATTEMPTS, MIN_EXPECTED_FOR_LOW, MIN_FAILED, MIN_FAILURE_PROBABILITY, MIN_ROLLING_RATE_BUCKETS,
    MIN_SHARE_FOR_LOW, MIN_SURGE_PAYMENTS, RATE_FLOOR_PERCENT, ROLLING_RELATIVE_FLOOR, SEASONAL_RELATIVE_FLOOR,
};
pub use robust::MAD_TO_SIGMA;
pub use sample::Sample;

use crate::wire::{AnomalyKind, ExpectedBasis};

/// Seasons needed before a bucket is judged against them.
pub const MIN_SEASONS: usize = 3;
/// Seasons used at most (the nearest ones): older weeks say less about now.
pub const MAX_SEASONS: usize = 6;
/// Buckets before the judged one that a rolling baseline looks at, at most.
pub const ROLLING_BUCKETS: usize = 24;
/// Buckets before the judged one that a rolling baseline needs.
pub const MIN_ROLLING_BUCKETS: usize = 6;

/// The judgement of one bucket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    /// The band it was judged against; `None` when there was too little
    /// history (and then nothing is flagged).
    pub band: Option<Band>,
    /// The conditions it meets, in [`AnomalyKind`] order; empty when normal.
    pub kinds: Vec<AnomalyKind>,
}

impl Verdict {
    /// Whether any condition fired.
    pub fn is_anomaly(&self) -> bool {
        !self.kinds.is_empty()
    }
}

/// Judges one bucket.
///
/// - `observed`: its totals so far.
/// - `share`: the share of it that `observed` covers: 1 for a finished
///   bucket, the elapsed share for the one in progress, the part inside the
///   range for a first bucket cut by a range's start. Its volume band is
///   scaled to that share, and it cannot be too low below
///   [`MIN_SHARE_FOR_LOW`].
/// - `seasons`: the same local interval 1, 2, … weeks earlier, nearest
///   first, each scaled to the bucket's length; weeks without data (before
///   the tenant's first payment, or an interval the clock skipped) left out.
///   At most the first [`MAX_SEASONS`] are used.
/// - `preceding`: the buckets of the series before this one, oldest first,
///   for the rolling baseline (the last [`ROLLING_BUCKETS`] are used).
///
/// Seasons are used when there are at least [`MIN_SEASONS`] and one of them
/// holds a payment; otherwise the rolling baseline, when at least
/// [`MIN_ROLLING_BUCKETS`] buckets precede and one holds a payment;
/// otherwise nothing is judged. A history without a single payment says
/// nothing about what is normal (a tenant that has not started yet).
pub fn judge(observed: &Sample, share: f64, seasons: &[Sample], preceding: &[Sample]) -> Verdict {
    let share = if share.is_nan() { 1.0 } else { share.clamp(0.0, 1.0) };
    let seasons = &seasons[..seasons.len().min(MAX_SEASONS)];
    let rolling = &preceding[preceding.len().saturating_sub(ROLLING_BUCKETS)..];
    let has_payments = |samples: &[Sample]| samples.iter().any(|sample| sample.attempts() > 0.0);
    let (basis, reference) = if seasons.len() >= MIN_SEASONS && has_payments(seasons) {
        (ExpectedBasis::Seasonal, seasons)
    } else if rolling.len() >= MIN_ROLLING_BUCKETS && has_payments(rolling) {
        (ExpectedBasis::Rolling, rolling)
    } else {
        return Verdict::default();
    };
    let band = Band::new(observed, share, reference, basis);
    Verdict {
        kinds: band.kinds(observed),
        band: Some(band),
    }
}

/// Judges every bucket of a series, oldest first.
///
/// `seasons[i]` are bucket `i`'s seasons and `shares[i]` the share of it
/// its sample covers (see [`judge`]); buckets past the end of either have no
/// seasons and are whole, so `&[]` for both judges a series without history
/// whose buckets are all complete. Each bucket's rolling baseline is the
/// buckets before it in `samples`.
pub fn judge_series(samples: &[Sample], seasons: &[Vec<Sample>], shares: &[f64]) -> Vec<Verdict> {
    samples
        .iter()
        .enumerate()
        .map(|(index, observed)| {
            let share = shares.get(index).copied().unwrap_or(1.0);
            let own_seasons = seasons.get(index).map_or(&[][..], Vec::as_slice);
            judge(observed, share, own_seasons, &samples[..index])
        })
        .collect()
}
