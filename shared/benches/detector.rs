//! Detector quality benchmark (`cargo xtask bench detector`): how well the
//! seasonal detector finds anomalies injected into a synthetic series, and
//! how well the series-wide z-score it replaced does on the same hours.
//!
//! The series: 8 weeks of hourly totals of one tenant (UTC, so every week is
//! 168 hours) with a daily rhythm (about 25 payments an hour at night, 200 in
//! the early afternoon), a weekly one (weekends quieter), 1 % growth a week,
//! day-to-day and week-to-week wobble of a few percent, Poisson payment
//! counts, log-normal amounts and a failure rate of 3 % (4 % at night). In
//! the last two weeks, episodes of one to three hours are injected at random
//! hours, none touching another: failure spikes (+5, +10, +20, +40 percentage
//! points), volume drops (to 60, 40, 20 and 0 %) and volume surges (×1.5, ×2,
//! ×3, ×5), each size twice. Everything comes from one seeded splitmix64, so
//! every run judges the same series.
//!
//! Every hour of the last two weeks is judged by:
//! - **seasonal**: `anomaly::judge` with the same hour 1–6 weeks earlier as
//!   seasons (the injected episodes of the week before included, as in
//!   production) and the 24 hours before it as the rolling baseline;
//! - **rolling**: the same detector without seasons, as `build_trend` judges
//!   the last point of a day trend (the 23 hours before it), which is what
//!   the server does until it reads history;
//! - **z-score, day window**: the old detector (kept below as it was) on the
//!   day trend ending with the hour, counting the flag of its last point;
//! - **z-score, two weeks**: the old detector on all 336 hours at once,
//!   which lets it see the future of every hour and so flatters it.
//!
//! Per anomaly kind: TP (flagged with the injected kind), FP (flagged with a
//! kind in an hour with no injection at all), cross (flagged with another
//! kind than the one injected, e.g. a volume drop while failures cost 40 %
//! of the succeeded volume: neither right nor a false alarm), FN (injected
//! and not flagged with that kind). Overall: an hour flagged with any kind
//! against an hour with any injection. The old detector only flags failure
//! rates, so its flags count as `failure_rate_high`. Results go to
//! target/bench/detector.json.

use std::collections::BTreeMap;

use paypulse_shared::anomaly::{Sample, judge};
use paypulse_shared::wire::AnomalyKind;
use serde_json::{Value, json};

const SEED: u64 = 0x5EA5_0A11_DE7E_C7ED;
/// Series judged, each from its own seed (`SEED` + its number): one series
/// has too few anomalous hours for its precision to mean much.
const SERIES: u64 = 10;
const HOURS_PER_WEEK: usize = 168;
const WEEKS: usize = 8;
const JUDGED_WEEKS: usize = 2;
const PEAK_PAYMENTS: f64 = 200.0;
/// Median payment in minor units (40.00).
const MEDIAN_AMOUNT_MINOR: f64 = 4_000.0;

/// splitmix64: a tiny, well-mixed generator, so the benchmark needs no
/// dependency and every run draws the same numbers.
struct Random(u64);

impl Random {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.uniform() * bound as f64) as usize
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }

    /// Poisson: by multiplication below 30, else the normal approximation.
    fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean < 30.0 {
            let limit = (-mean).exp();
            let mut product = self.uniform();
            let mut count = 0;
            while product > limit {
                product *= self.uniform();
                count += 1;
            }
            return count;
        }
        (mean + mean.sqrt() * self.normal()).round().max(0.0) as u64
    }
}

/// An injected episode.
#[derive(Clone, Copy, Debug)]
struct Episode {
    kind: AnomalyKind,
    /// Percentage points added to the failure rate, or the factor on the
    /// number of payments.
    size: f64,
    start: usize,
    hours: usize,
}

impl Episode {
    fn label(&self) -> String {
        match self.kind {
            AnomalyKind::FailureRateHigh => format!("+{} pp", self.size),
            AnomalyKind::VolumeLow => format!("to {} %", self.size * 100.0),
            AnomalyKind::VolumeHigh => format!("x{}", self.size),
        }
    }
}

/// Payments expected in hour `index` before any wobble or injection.
fn rhythm(index: usize) -> f64 {
    let week = index / HOURS_PER_WEEK;
    let day = (index % HOURS_PER_WEEK) / 24;
    let hour = (index % 24) as f64;
    let weekday = [1.0, 1.0, 1.0, 1.05, 1.1, 0.75, 0.6][day];
    let daily = 0.12 + 0.88 * (-((hour - 14.0) / 5.0).powi(2)).exp();
    PEAK_PAYMENTS * weekday * daily * 1.01f64.powi(week as i32)
}

fn episodes(random: &mut Random) -> Vec<Episode> {
    let first_judged = (WEEKS - JUDGED_WEEKS) * HOURS_PER_WEEK;
    let judged_hours = JUDGED_WEEKS * HOURS_PER_WEEK;
    let plan = [
        (AnomalyKind::FailureRateHigh, [5.0, 10.0, 20.0, 40.0]),
        (AnomalyKind::VolumeLow, [0.6, 0.4, 0.2, 0.0]),
        (AnomalyKind::VolumeHigh, [1.5, 2.0, 3.0, 5.0]),
    ];
    let mut placed: Vec<Episode> = Vec::new();
    for (kind, sizes) in plan {
        for size in sizes {
            for _ in 0..2 {
                loop {
                    let hours = 1 + random.below(3);
                    let start = first_judged + random.below(judged_hours - hours);
                    // Two hours apart at least, so each hour has one cause.
                    let apart = placed
                        .iter()
                        .all(|other| start + hours + 2 <= other.start || other.start + other.hours + 2 <= start);
                    if apart {
                        placed.push(Episode {
                            kind,
                            size,
                            start,
                            hours,
                        });
                        break;
                    }
                }
            }
        }
    }
    placed
}

/// The hourly totals and, per hour, the episode injected into it.
fn series(random: &mut Random, episodes: &[Episode]) -> (Vec<Sample>, Vec<Option<Episode>>) {
    let hours = WEEKS * HOURS_PER_WEEK;
    let week_wobble: Vec<f64> = (0..WEEKS).map(|_| 1.0 + 0.03 * random.normal()).collect();
    let day_wobble: Vec<f64> = (0..hours / 24).map(|_| 1.0 + 0.04 * random.normal()).collect();
    let mut samples = Vec::with_capacity(hours);
    let mut truth = Vec::with_capacity(hours);
    for index in 0..hours {
        let episode = episodes
            .iter()
            .find(|episode| (episode.start..episode.start + episode.hours).contains(&index))
            .copied();
        let mut mean = rhythm(index) * week_wobble[index / HOURS_PER_WEEK] * day_wobble[index / 24];
        let night = index % 24 < 6;
        let mut failure = if night { 0.04 } else { 0.03 };
        match episode {
            Some(Episode {
                kind: AnomalyKind::FailureRateHigh,
                size,
                ..
            }) => failure += size / 100.0,
            Some(Episode { size, .. }) => mean *= size,
            None => {}
        }
        let payments = random.poisson(mean);
        let (mut succeeded, mut failed, mut volume) = (0, 0, 0i64);
        for _ in 0..payments {
            if random.uniform() < failure {
                failed += 1;
            } else {
                succeeded += 1;
                volume += (MEDIAN_AMOUNT_MINOR * (0.8 * random.normal()).exp()).round() as i64;
            }
        }
        samples.push(Sample::new(succeeded, failed, volume));
        truth.push(episode);
    }
    (samples, truth)
}

/// The detector this one replaced (issue 11), verbatim but for names: flags
/// buckets whose failure rate is more than 3.5 robust z-scores above the
/// series' median, the spread at least 2 points; buckets under 10 payments
/// and series with fewer than 6 judged buckets are never flagged.
mod series_wide_z_score {
    const MIN_COUNT: u64 = 10;
    const THRESHOLD: f64 = 3.5;
    const MIN_SPREAD: f64 = 2.0;
    const MIN_BUCKETS: usize = 6;

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
}

/// `(count, success rate)` of a sample, as the old detector took them.
fn shape(sample: &Sample) -> (u64, f64) {
    let count = sample.attempts().round() as u64;
    let rate = if count == 0 {
        0.0
    } else {
        sample.succeeded * 100.0 / sample.attempts()
    };
    (count, rate)
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    true_positive: u32,
    false_positive: u32,
    cross: u32,
    false_negative: u32,
}

impl Counts {
    fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }

    fn to_json(self) -> Value {
        json!({
            "tp": self.true_positive, "fp": self.false_positive, "cross": self.cross,
            "fn": self.false_negative, "precision": self.precision(), "recall": self.recall(),
        })
    }
}

fn ratio(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        f64::NAN
    } else {
        f64::from(part) / f64::from(whole)
    }
}

const KINDS: [AnomalyKind; 3] = [
    AnomalyKind::VolumeLow,
    AnomalyKind::VolumeHigh,
    AnomalyKind::FailureRateHigh,
];

fn kind_name(kind: AnomalyKind) -> &'static str {
    match kind {
        AnomalyKind::VolumeLow => "volume_low",
        AnomalyKind::VolumeHigh => "volume_high",
        AnomalyKind::FailureRateHigh => "failure_rate_high",
    }
}

/// One detector's score over the judged hours.
#[derive(Default)]
struct Score {
    per_kind: BTreeMap<&'static str, Counts>,
    overall: Counts,
    /// (kind, size in thousandths) → (size label, hours flagged with that
    /// kind, hours injected), smallest size first.
    by_size: BTreeMap<(&'static str, i64), (String, u32, u32)>,
}

impl Score {
    fn count(&mut self, flagged: &[AnomalyKind], truth: Option<Episode>) {
        for kind in KINDS {
            let counts = self.per_kind.entry(kind_name(kind)).or_default();
            let injected = truth.is_some_and(|episode| episode.kind == kind);
            match (flagged.contains(&kind), injected, truth.is_some()) {
                (true, true, _) => counts.true_positive += 1,
                (true, false, true) => counts.cross += 1,
                (true, false, false) => counts.false_positive += 1,
                (false, true, _) => counts.false_negative += 1,
                (false, false, _) => {}
            }
        }
        match (!flagged.is_empty(), truth.is_some()) {
            (true, true) => self.overall.true_positive += 1,
            (true, false) => self.overall.false_positive += 1,
            (false, true) => self.overall.false_negative += 1,
            (false, false) => {}
        }
        if let Some(episode) = truth {
            let key = (kind_name(episode.kind), (episode.size * 1_000.0).round() as i64);
            let entry = self.by_size.entry(key).or_insert_with(|| (episode.label(), 0, 0));
            entry.1 += u32::from(flagged.contains(&episode.kind));
            entry.2 += 1;
        }
    }

    fn print(&self, name: &str) {
        println!("\n{name}");
        println!(
            "  {:<18} {:>4} {:>4} {:>6} {:>4} {:>10} {:>7}",
            "kind", "TP", "FP", "cross", "FN", "precision", "recall"
        );
        let rows = self.per_kind.iter().map(|(kind, counts)| (*kind, *counts));
        // A detector that never flags a kind has no precision for it.
        let shown = |value: f64| {
            if value.is_nan() {
                "-".to_owned()
            } else {
                format!("{value:.3}")
            }
        };
        for (kind, counts) in rows.chain([("overall (any)", self.overall)]) {
            println!(
                "  {:<18} {:>4} {:>4} {:>6} {:>4} {:>10} {:>7}",
                kind,
                counts.true_positive,
                counts.false_positive,
                counts.cross,
                counts.false_negative,
                shown(counts.precision()),
                shown(counts.recall())
            );
        }
        for kind in KINDS.map(kind_name) {
            let sizes: Vec<String> = self
                .by_size
                .iter()
                .filter(|((of, _), _)| *of == kind)
                .map(|(_, (size, hit, all))| format!("{size}: {hit}/{all}"))
                .collect();
            println!("  recall by size, {kind} (hours): {}", sizes.join(", "));
        }
    }

    fn to_json(&self) -> Value {
        let per_kind: serde_json::Map<String, Value> = self
            .per_kind
            .iter()
            .map(|(kind, counts)| ((*kind).to_owned(), counts.to_json()))
            .collect();
        let by_size: Vec<Value> = self
            .by_size
            .iter()
            .map(|((kind, _), (size, hit, all))| json!({"kind": kind, "size": size, "flagged": hit, "hours": all}))
            .collect();
        json!({"perKind": per_kind, "overall": self.overall.to_json(), "recallBySize": by_size})
    }
}

/// The four detectors' scores over one series.
#[derive(Default)]
struct Scores {
    seasonal: Score,
    rolling: Score,
    day_window: Score,
    two_weeks: Score,
    hours: usize,
    anomalous_hours: usize,
    episodes: usize,
}

impl Scores {
    fn judge_series(&mut self, seed: u64) {
        let mut random = Random(seed);
        let injected = episodes(&mut random);
        let (samples, truth) = series(&mut random, &injected);
        let first = (WEEKS - JUDGED_WEEKS) * HOURS_PER_WEEK;
        let judged = first..samples.len();
        let old_over_two_weeks =
            series_wide_z_score::failure_spikes(&samples[judged.clone()].iter().map(shape).collect::<Vec<_>>());
        let old_kind = |flag: bool| {
            if flag {
                vec![AnomalyKind::FailureRateHigh]
            } else {
                Vec::new()
            }
        };
        for index in judged.clone() {
            let observed = &samples[index];
            let seasons: Vec<Sample> = (1..=6).map(|weeks| samples[index - weeks * HOURS_PER_WEEK]).collect();
            let verdict = judge(observed, 1.0, &seasons, &samples[index - 24..index]);
            self.seasonal.count(&verdict.kinds, truth[index]);
            let verdict = judge(observed, 1.0, &[], &samples[index - 23..index]);
            self.rolling.count(&verdict.kinds, truth[index]);
            let window: Vec<(u64, f64)> = samples[index - 23..=index].iter().map(shape).collect();
            let flags = series_wide_z_score::failure_spikes(&window);
            self.day_window.count(&old_kind(flags[23]), truth[index]);
            self.two_weeks
                .count(&old_kind(old_over_two_weeks[index - first]), truth[index]);
        }
        self.hours += judged.len();
        self.anomalous_hours += truth[judged].iter().filter(|episode| episode.is_some()).count();
        self.episodes += injected.len();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut scores = Scores::default();
    for series in 0..SERIES {
        scores.judge_series(SEED.wrapping_add(series));
    }
    println!(
        "{SERIES} series; {} hours judged (the last {JUDGED_WEEKS} of {WEEKS} weeks of each), {} of them in {} injected episodes",
        scores.hours, scores.anomalous_hours, scores.episodes
    );
    let detectors = [
        ("seasonal (new: same hour 1-6 weeks back)", &scores.seasonal),
        (
            "rolling (new without history: 23 hours before, as build_trend)",
            &scores.rolling,
        ),
        ("z-score (old), day window ending at the hour", &scores.day_window),
        ("z-score (old), all two weeks at once", &scores.two_weeks),
    ];
    for (name, score) in detectors {
        score.print(name);
    }
    let result = json!({
        "series": SERIES,
        "hoursJudged": scores.hours,
        "anomalousHours": scores.anomalous_hours,
        "episodes": scores.episodes,
        "detectors": detectors.iter().map(|(name, score)| (name.to_string(), score.to_json())).collect::<serde_json::Map<_, _>>(),
    });
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&folder)?;
    std::fs::write(folder.join("detector.json"), serde_json::to_string_pretty(&result)?)?;
    Ok(())
}
