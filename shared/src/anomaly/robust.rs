//! Median and median absolute deviation: a centre and a spread that one
//! outlier among a handful of values cannot drag away, which matters when a
//! band rests on three to six earlier weeks and one of them may itself have
//! been an incident.

/// Scales a median absolute deviation to the standard deviation of a normal
/// distribution with that deviation.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// The middle value (the mean of the two middle ones for an even count);
/// 0 for no values.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

/// The median and 1.4826 × the median absolute deviation from it.
pub fn centre_and_sigma(values: Vec<f64>) -> (f64, f64) {
    let centre = median(values.clone());
    let deviation = median(values.into_iter().map(|value| (value - centre).abs()).collect());
    (centre, MAD_TO_SIGMA * deviation)
}

/// How much wider than the spread of single values the band must be when
/// its centre is the median of only `count` of them: the median of n normal
/// values has a variance of about π/(2n) σ², and a new value differs from
/// it by the sum of both errors.
pub fn widening(count: usize) -> f64 {
    (1.0 + std::f64::consts::PI / (2.0 * count.max(1) as f64)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty_sets() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(Vec::new()), 0.0);
    }

    #[test]
    fn one_outlier_moves_neither_centre_nor_spread_much() {
        let (centre, sigma) = centre_and_sigma(vec![100.0, 104.0, 96.0, 102.0, 98.0, 900.0]);
        assert_eq!(centre, 101.0);
        assert!((sigma - MAD_TO_SIGMA * 3.0).abs() < 1e-9, "{sigma}");
        assert_eq!(centre_and_sigma(vec![5.0; 4]), (5.0, 0.0));
    }

    #[test]
    fn fewer_values_widen_more() {
        assert!((widening(6) - (1.0 + std::f64::consts::PI / 12.0).sqrt()).abs() < 1e-12);
        assert!(widening(3) > widening(6) && widening(6) > widening(24) && widening(24) > 1.0);
    }
}
