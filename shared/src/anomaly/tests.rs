//! The detector on synthetic histories: spikes, dips, level shifts, sparse
//! and zero-heavy hours, a bucket in progress, short histories.

use super::*;
use crate::wire::Bounds;

/// Mean amount of the synthetic payments, in minor units (50.00).
const AMOUNT: i64 = 5_000;

/// `succeeded` payments of [`AMOUNT`] and `failed` failures.
fn hour(succeeded: u64, failed: u64) -> Sample {
    Sample::new(succeeded, failed, succeeded as i64 * AMOUNT)
}

/// Six weeks of one busy hour: about 200 payments, 2 % failing.
fn busy_seasons() -> Vec<Sample> {
    [(196, 4), (207, 5), (189, 3), (214, 4), (201, 5), (193, 4)]
        .into_iter()
        .map(|(succeeded, failed)| hour(succeeded, failed))
        .collect()
}

fn judged(observed: Sample, seasons: &[Sample]) -> Verdict {
    judge(&observed, 1.0, seasons, &[])
}

/// A tiny deterministic generator (splitmix64) for the sparse series.
struct Random(u64);

impl Random {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn poisson(&mut self, mean: f64) -> u64 {
        let limit = (-mean).exp();
        let mut product = self.uniform();
        let mut count = 0;
        while product > limit {
            product *= self.uniform();
            count += 1;
        }
        count
    }
}

#[test]
fn an_ordinary_hour_is_inside_its_seasonal_band() {
    let verdict = judged(hour(203, 4), &busy_seasons());
    assert!(!verdict.is_anomaly(), "{verdict:?}");
    let band = verdict.band.expect("six seasons are enough");
    assert_eq!((band.basis, band.samples), (ExpectedBasis::Seasonal, 6));
    let payments = |minor: f64| minor / AMOUNT as f64;
    assert!((100.0..180.0).contains(&payments(band.volume_minor.low)), "{band:?}");
    assert!((230.0..330.0).contains(&payments(band.volume_minor.high)), "{band:?}");
    assert!((85.0..98.0).contains(&band.success_rate.low), "{band:?}");
}

#[test]
fn a_surge_is_too_high_and_a_dip_too_low() {
    let seasons = busy_seasons();
    assert_eq!(judged(hour(600, 12), &seasons).kinds, [AnomalyKind::VolumeHigh]);
    assert_eq!(judged(hour(50, 1), &seasons).kinds, [AnomalyKind::VolumeLow]);
    assert_eq!(judged(hour(0, 0), &seasons).kinds, [AnomalyKind::VolumeLow]);
    // Payments that fail instead of succeeding take their volume with them.
    assert_eq!(
        judged(hour(20, 180), &seasons).kinds,
        [AnomalyKind::VolumeLow, AnomalyKind::FailureRateHigh]
    );
}

#[test]
fn identical_weeks_do_not_make_every_wobble_anomalous() {
    // Zero MAD: the floors alone set the band (±10 % of volume, counting
    // noise, widened for six seasons), about 60 %–150 % of the usual volume.
    let seasons = vec![hour(200, 4); 6];
    for normal in [140, 170, 230, 280] {
        assert!(!judged(hour(normal, 4), &seasons).is_anomaly(), "{normal} payments");
    }
    assert_eq!(judged(hour(310, 6), &seasons).kinds, [AnomalyKind::VolumeHigh]);
    assert_eq!(judged(hour(110, 2), &seasons).kinds, [AnomalyKind::VolumeLow]);
    // By hand: the square root of the usual volume, √(200 × 5000), is 1000;
    // the floor is 5 % of it, 50 (the counting noise √(5000 / 2) is 50 as
    // well), widened for six seasons by √(1 + π/12); four of those either
    // side of 1000, squared back.
    let band = judged(hour(200, 4), &seasons).band.unwrap();
    let spread = 50.0 * (1.0 + std::f64::consts::PI / 12.0).sqrt();
    let usual = 200.0 * AMOUNT as f64;
    assert!(
        (band.volume_minor.low - (1000.0 - 4.0 * spread).powi(2)).abs() < 1e-6,
        "{band:?}"
    );
    assert!(
        (band.volume_minor.high - (1000.0 + 4.0 * spread).powi(2)).abs() < 1e-6,
        "{band:?}"
    );
    assert!((0.59..0.61).contains(&(band.volume_minor.low / usual)));
    assert!((1.49..1.51).contains(&(band.volume_minor.high / usual)));
    // Ten times busier, the relative floor alone sets the same proportions.
    let busier = judged(hour(2_000, 40), &[hour(2_000, 40); 6]).band.unwrap();
    assert!((busier.volume_minor.low / (10.0 * usual) - band.volume_minor.low / usual).abs() < 1e-9);
    assert!((busier.volume_minor.high / (10.0 * usual) - band.volume_minor.high / usual).abs() < 1e-9);
    // The same for the rate: 4 failures of 204 every week, and a bucket
    // with 8 is noise, not a spike.
    assert!(!judged(hour(196, 8), &seasons).is_anomaly());
}

#[test]
fn a_quiet_hour_can_be_empty_by_chance_up_to_about_ten_payments() {
    // Counting noise: with 9 payments usually, none happens by chance
    // (e^-9 ≈ 1 in 8,000 hours, and the band stays on the safe side of it);
    // with 12 it no longer does.
    let nine = judged(Sample::default(), &[hour(9, 0); 6]);
    assert!(!nine.is_anomaly(), "{nine:?}");
    assert_eq!(nine.band.unwrap().volume_minor.low, 0.0);
    let twelve = judged(Sample::default(), &[hour(12, 0); 6]);
    assert_eq!(twelve.kinds, [AnomalyKind::VolumeLow]);
    // And the band above a quiet hour is wide: 20 payments usually, up to
    // 58 is fine.
    let twenty = vec![hour(20, 0); 6];
    assert!(!judged(hour(58, 0), &twenty).is_anomaly());
    assert_eq!(judged(hour(60, 0), &twenty).kinds, [AnomalyKind::VolumeHigh]);
}

#[test]
fn one_bad_week_among_the_seasons_does_not_move_the_band() {
    let mut seasons = busy_seasons();
    let clean = judged(hour(200, 4), &seasons).band.unwrap();
    seasons[2] = hour(0, 0); // an outage three weeks ago
    let after_outage = judged(hour(200, 4), &seasons).band.unwrap();
    let moved = (after_outage.volume_minor.low - clean.volume_minor.low).abs() / clean.volume_minor.low;
    assert!(moved < 0.15, "{clean:?} {after_outage:?}");
    assert_eq!(judged(hour(40, 1), &seasons).kinds, [AnomalyKind::VolumeLow]);
}

#[test]
fn a_failure_spike_is_flagged_when_the_attempts_bear_it_out() {
    let seasons = busy_seasons();
    assert_eq!(judged(hour(170, 30), &seasons).kinds, [AnomalyKind::FailureRateHigh]);
    // 12 attempts, 3 failing (25 %): few attempts, but far above 2 % (and
    // far below the usual volume).
    assert_eq!(
        judged(hour(9, 3), &seasons).kinds,
        [AnomalyKind::VolumeLow, AnomalyKind::FailureRateHigh]
    );
    // 3 of 20 failing (15 %) is within the noise of 20 attempts.
    assert_eq!(judged(hour(17, 3), &seasons).kinds, [AnomalyKind::VolumeLow]);
    // 8 attempts are too few to have a rate, even half failing.
    let few = judged(hour(4, 4), &seasons);
    assert!(!few.kinds.contains(&AnomalyKind::FailureRateHigh), "{few:?}");
    assert_eq!(few.band.unwrap().success_rate.low, 0.0);
}

#[test]
fn one_or_two_failures_are_not_a_spike_even_after_weeks_without_any() {
    let seasons = vec![hour(200, 0); 6];
    assert!(
        !judged(hour(8, 2), &seasons)
            .kinds
            .contains(&AnomalyKind::FailureRateHigh)
    );
    assert!(
        judged(hour(7, 3), &seasons)
            .kinds
            .contains(&AnomalyKind::FailureRateHigh)
    );
}

#[test]
fn rare_failures_in_a_quiet_hour_set_the_usual_rate() {
    // Most weeks this hour has no failure, so the median of the weekly
    // rates is 0; the hour's failure rate is still about 2 %, and 3 of 28
    // is not a spike.
    let seasons = [
        hour(25, 0),
        hour(26, 1),
        hour(24, 0),
        hour(23, 0),
        hour(25, 2),
        hour(27, 0),
    ];
    assert!(!judged(hour(25, 3), &seasons).is_anomaly());
    assert_eq!(judged(hour(22, 6), &seasons).kinds, [AnomalyKind::FailureRateHigh]);
}

#[test]
fn a_seasonal_rate_rests_on_three_weeks_with_payments() {
    let mut seasons = vec![hour(0, 0), hour(0, 0), hour(0, 0), hour(0, 0), hour(50, 0), hour(50, 0)];
    let verdict = judged(hour(7, 3), &seasons);
    assert!(!verdict.is_anomaly(), "{verdict:?}");
    assert_eq!(verdict.band.unwrap().success_rate, Bounds { low: 0.0, high: 100.0 });
    seasons[0] = hour(50, 0);
    assert_eq!(judged(hour(7, 3), &seasons).kinds, [AnomalyKind::FailureRateHigh]);
}

#[test]
fn a_busy_tenants_rate_may_wobble_by_a_point() {
    // 10,000 attempts an hour, exactly 2 % failing every week: the sampling
    // noise is a tenth of a point, but weeks differ by more than that.
    let seasons = vec![hour(9_800, 200); 6];
    assert!(!judged(hour(9_700, 300), &seasons).is_anomaly());
    assert_eq!(judged(hour(9_100, 900), &seasons).kinds, [AnomalyKind::FailureRateHigh]);
}

#[test]
fn a_failure_rate_that_is_always_high_is_the_norm() {
    // A tenant whose 3 a.m. payments fail a third of the time.
    let seasons: Vec<Sample> = [(20, 10), (18, 11), (22, 9), (21, 10), (19, 12), (20, 9)]
        .into_iter()
        .map(|(succeeded, failed)| hour(succeeded, failed))
        .collect();
    assert!(!judged(hour(19, 12), &seasons).is_anomaly());
    assert_eq!(judged(hour(8, 24), &seasons).kinds, [AnomalyKind::FailureRateHigh]);
}

#[test]
fn a_level_shift_is_flagged_until_the_band_follows_it() {
    // The same hour every week: 100 payments for six weeks, then 200.
    let weekly: Vec<Sample> = (0..12).map(|week| hour(if week < 6 { 100 } else { 200 }, 0)).collect();
    let verdict = |week: usize, observed: Sample| {
        let seasons: Vec<Sample> = (1..=6).map(|back| weekly[week - back]).collect();
        judged(observed, &seasons)
    };
    let flagged: Vec<usize> = (6..12)
        .filter(|&week| verdict(week, weekly[week]).is_anomaly())
        .collect();
    assert_eq!(
        flagged,
        [6, 7, 8],
        "flagged while most seasons are from before the shift"
    );
    assert_eq!(verdict(6, weekly[6]).kinds, [AnomalyKind::VolumeHigh]);
    // Once the band has followed, going back to the old level is a drop.
    assert_eq!(verdict(10, hour(100, 0)).kinds, [AnomalyKind::VolumeLow]);
}

#[test]
fn a_sparse_hour_flags_nothing_over_two_weeks() {
    // Eight weeks of a quiet tenant: 0.4 payments an hour (most hours
    // empty), 10 % failing, amounts from 10 to 300. The last two weeks are
    // judged as the dashboard would judge them.
    let mut random = Random(11);
    let hours: Vec<Sample> = (0..8 * 168)
        .map(|_| {
            let payments = random.poisson(0.4);
            let failed = (0..payments).filter(|_| random.uniform() < 0.1).count() as u64;
            let volume: i64 = (failed..payments)
                .map(|_| 1_000 + (random.uniform() * 29_000.0) as i64)
                .sum();
            Sample::new(payments - failed, failed, volume)
        })
        .collect();
    assert!(hours.iter().filter(|sample| sample.attempts() == 0.0).count() > 8 * 168 / 2);
    for index in 6 * 168..8 * 168 {
        let seasons: Vec<Sample> = (1..=6).map(|weeks| hours[index - weeks * 168]).collect();
        let verdict = judge(&hours[index], 1.0, &seasons, &hours[index - 24..index]);
        assert!(!verdict.is_anomaly(), "hour {index}: {:?} {verdict:?}", hours[index]);
        if let Some(band) = verdict.band {
            assert_eq!(band.volume_minor.low, 0.0, "no sparse hour can be too low");
        }
    }
}

#[test]
fn a_zero_heavy_history_judges_only_what_is_far_out() {
    let seasons = [hour(0, 0), hour(1, 0), hour(0, 0), hour(0, 0), hour(2, 1), hour(0, 0)];
    for observed in [hour(0, 0), hour(1, 0), hour(3, 0), hour(0, 2), hour(6, 1)] {
        let verdict = judged(observed, &seasons);
        assert!(!verdict.is_anomaly(), "{observed:?}: {verdict:?}");
        assert_eq!(verdict.band.unwrap().volume_minor.low, 0.0);
    }
    // One payment of 40 times the usual amount is not a surge.
    assert!(!judged(Sample::new(1, 0, 40 * AMOUNT), &seasons).is_anomaly());
    // Forty payments where there are usually none or one are.
    assert_eq!(judged(hour(40, 0), &seasons).kinds, [AnomalyKind::VolumeHigh]);
}

#[test]
fn a_history_of_failures_only_still_knows_what_one_payment_is_worth() {
    // No payment succeeded at this hour for six weeks: the bucket's own
    // payments give the mean amount the counting noise is sized by.
    let seasons = vec![hour(0, 30); 6];
    assert!(!judged(hour(10, 20), &seasons).kinds.contains(&AnomalyKind::VolumeHigh));
    assert_eq!(judged(hour(40, 0), &seasons).kinds, [AnomalyKind::VolumeHigh]);
}

#[test]
fn only_the_six_nearest_weeks_and_the_last_day_of_buckets_count() {
    let mut seasons = vec![hour(200, 4); 6];
    seasons.extend(vec![hour(50, 1); 7]);
    let verdict = judged(hour(200, 4), &seasons);
    assert!(!verdict.is_anomaly(), "{verdict:?}");
    assert_eq!(verdict.band.unwrap().samples, MAX_SEASONS);
    let mut preceding = vec![hour(10, 0); 76];
    preceding.extend(vec![hour(100, 0); ROLLING_BUCKETS]);
    let verdict = judge(&hour(100, 0), 1.0, &[], &preceding);
    assert!(!verdict.is_anomaly(), "{verdict:?}");
    assert_eq!(verdict.band.unwrap().samples, ROLLING_BUCKETS);
}

#[test]
fn a_history_without_a_single_payment_judges_nothing() {
    let empty = vec![Sample::default(); 6];
    let verdict = judge(&hour(500, 50), 1.0, &empty, &empty);
    assert_eq!(verdict, Verdict::default());
}

#[test]
fn a_young_bucket_is_never_too_low_for_being_young() {
    let seasons = busy_seasons();
    let whole = judged(hour(200, 4), &seasons).band.unwrap();
    // Six minutes in: about 20 payments expected, the band scaled to match.
    let early = judge(&hour(18, 0), 0.1, &seasons, &[]);
    assert!(!early.is_anomaly(), "{early:?}");
    let band = early.band.unwrap();
    assert!(band.volume_minor.high < whole.volume_minor.high * 0.2, "{band:?}");
    // Nothing yet is not a drop before half the bucket has passed...
    for share in [0.05, 0.2, 0.45] {
        let empty = judge(&Sample::default(), share, &seasons, &[]);
        assert!(!empty.is_anomaly(), "{share}: {empty:?}");
        assert_eq!(empty.band.unwrap().volume_minor.low, 0.0);
    }
    // ...but is after most of it, and a pro-rata volume is fine then.
    assert_eq!(
        judge(&Sample::default(), 0.8, &seasons, &[]).kinds,
        [AnomalyKind::VolumeLow]
    );
    assert!(!judge(&hour(155, 3), 0.8, &seasons, &[]).is_anomaly());
    // A surge shows before the bucket is over.
    assert_eq!(
        judge(&hour(200, 4), 0.25, &seasons, &[]).kinds,
        [AnomalyKind::VolumeHigh]
    );
}

#[test]
fn a_young_bucket_whose_failures_spike_is_flagged() {
    let verdict = judge(&hour(20, 15), 0.2, &busy_seasons(), &[]);
    assert_eq!(verdict.kinds, [AnomalyKind::FailureRateHigh]);
}

#[test]
fn with_fewer_than_three_seasons_the_buckets_before_stand_in() {
    let preceding: Vec<Sample> = [100, 90, 120, 110, 95, 105, 115, 98, 102, 108]
        .into_iter()
        .map(|succeeded| hour(succeeded, 2))
        .collect();
    let two_seasons = [hour(1_000, 0), hour(1_000, 0)];
    let verdict = judge(&hour(70, 30), 1.0, &two_seasons, &preceding);
    let band = verdict.band.unwrap();
    assert_eq!((band.basis, band.samples), (ExpectedBasis::Rolling, 10));
    assert_eq!(verdict.kinds, [AnomalyKind::FailureRateHigh]);
    // A rolling band does not know the daily rhythm: a quiet hour is not a
    // drop, the morning rush not a surge; only a far larger volume is.
    assert!(!judge(&hour(5, 0), 1.0, &two_seasons, &preceding).is_anomaly());
    assert!(!judge(&hour(300, 6), 1.0, &two_seasons, &preceding).is_anomaly());
    assert_eq!(
        judge(&hour(1_000, 20), 1.0, &two_seasons, &preceding).kinds,
        [AnomalyKind::VolumeHigh]
    );
    // A few large payments in a quiet stretch are not a surge; many are.
    let quiet = vec![hour(1, 0); 24];
    assert!(!judge(&Sample::new(3, 0, 300_000), 1.0, &[], &quiet).is_anomaly());
    assert_eq!(
        judge(&Sample::new(12, 0, 240_000), 1.0, &[], &quiet).kinds,
        [AnomalyKind::VolumeHigh]
    );
    // A rolling failure rate rests on six buckets of ten attempts at least.
    let mut mixed = vec![hour(95, 5); 5];
    mixed.extend(vec![hour(2, 0); 5]);
    let spike = hour(70, 30);
    assert!(!judge(&spike, 1.0, &[], &mixed).is_anomaly());
    mixed.push(hour(95, 5));
    assert_eq!(judge(&spike, 1.0, &[], &mixed).kinds, [AnomalyKind::FailureRateHigh]);
    // Too few buckets before, too: nothing to judge against.
    assert_eq!(
        judge(&hour(70, 30), 1.0, &two_seasons, &preceding[..5]),
        Verdict::default()
    );
}

#[test]
fn a_series_is_judged_bucket_by_bucket_each_on_its_share() {
    let mut samples = vec![hour(100, 2); 10];
    samples.push(hour(25, 0)); // a quarter of the last bucket has passed
    let seasons: Vec<Vec<Sample>> = vec![vec![hour(100, 2); 6]; 11];
    let mut shares = vec![1.0; 10];
    shares.push(0.25);
    let verdicts = judge_series(&samples, &seasons, &shares);
    assert!(verdicts.iter().all(|verdict| !verdict.is_anomaly()), "{verdicts:?}");
    let last = verdicts[10].band.unwrap();
    assert!(
        last.volume_minor.high < 100.0 * AMOUNT as f64,
        "scaled to a quarter: {last:?}"
    );
    // Judged as a whole bucket it would be a drop.
    assert_eq!(
        judge_series(&samples, &seasons, &[])[10].kinds,
        [AnomalyKind::VolumeLow]
    );
    // A first bucket cut by the range's start is judged on its share too.
    let mut cut = samples.clone();
    cut[0] = hour(20, 0);
    assert!(!judge_series(&cut, &seasons, &[0.2])[0].is_anomaly());
    assert_eq!(judge_series(&cut, &seasons, &[])[0].kinds, [AnomalyKind::VolumeLow]);
    // Without seasons the first buckets have no history, the later ones a
    // rolling one.
    let rolling = judge_series(&samples, &[], &[]);
    assert!(
        rolling[..MIN_ROLLING_BUCKETS]
            .iter()
            .all(|verdict| verdict.band.is_none())
    );
    assert!(
        rolling[MIN_ROLLING_BUCKETS..]
            .iter()
            .all(|verdict| verdict.band.is_some())
    );
}
