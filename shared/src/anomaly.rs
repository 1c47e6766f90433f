//! Flags trend buckets whose failure rate is far above the series' norm.
//!
//! Volume follows a daily rhythm, so a quiet night is not news; a failure-rate
//! spike is. The test is a robust z-score: distance from the median failure
//! rate in units of the median absolute deviation (scaled to σ), with a floor
//! of two percentage points so that a series of identical rates does not flag
//! noise. Buckets with fewer than [`MIN_COUNT`] payments are never flagged.

/// Buckets with fewer payments than this are too small to judge.
pub const MIN_COUNT: u64 = 10;
/// Robust z-score above which a bucket is anomalous.
pub const THRESHOLD: f64 = 3.5;
/// Smallest spread assumed, in percentage points of failure rate.
pub const MIN_SPREAD: f64 = 2.0;
/// Buckets needed before anything is judged.
pub const MIN_BUCKETS: usize = 6;

/// One flag per `(count, success_rate)` bucket.
pub fn failure_spikes(buckets: &[(u64, f64)]) -> Vec<bool> {
    let judged: Vec<f64> = buckets
        .iter()
        .filter(|(count, _)| *count >= MIN_COUNT)
        .map(|(_, rate)| 100.0 - rate)
        .collect();
    if judged.len() < MIN_BUCKETS {
        return vec![false; buckets.len()];
    }
    let centre = median(judged.clone());
    let deviation = median(judged.iter().map(|rate| (rate - centre).abs()).collect());
    let spread = (1.4826 * deviation).max(MIN_SPREAD);
    buckets
        .iter()
        .map(|(count, rate)| *count >= MIN_COUNT && ((100.0 - rate) - centre) / spread > THRESHOLD)
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_a_failure_spike_and_nothing_else() {
        let mut buckets = vec![
            (100, 96.0),
            (120, 95.0),
            (90, 97.0),
            (110, 96.5),
            (100, 95.5),
            (80, 96.0),
        ];
        buckets.push((100, 70.0));
        let flags = failure_spikes(&buckets);
        assert_eq!(flags, [false, false, false, false, false, false, true]);
    }

    #[test]
    fn small_buckets_and_short_series_are_not_judged() {
        let mut buckets = vec![(100, 96.0); 6];
        buckets.push((3, 0.0));
        assert!(failure_spikes(&buckets).iter().all(|flag| !flag));
        assert!(failure_spikes(&[(100, 96.0), (100, 10.0)]).iter().all(|flag| !flag));
    }

    #[test]
    fn identical_rates_do_not_flag_small_wobbles() {
        let mut buckets = vec![(100, 95.0); 10];
        buckets.push((100, 91.0));
        assert!(failure_spikes(&buckets).iter().all(|flag| !flag));
    }

    #[test]
    fn empty_series_is_fine() {
        assert!(failure_spikes(&[]).is_empty());
    }
}
