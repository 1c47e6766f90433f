//! The trend chart's geometry, kept apart from the DOM so it is computed
//! once per change of its inputs (points, size) and tested natively: volume
//! as bars on the left axis, success rate as a line on the right axis (from
//! a floor scaled to the data up to 100%), anomalous buckets marked, "nice"
//! tick values, which bucket a pointer is over, and the buckets a drag
//! selects.

use std::ops::Range;

use paypulse_shared::wire::TrendData;

/// Space around the plot for the axes' labels (px).
pub const MARGIN_LEFT: f64 = 64.0;
pub const MARGIN_RIGHT: f64 = 48.0;
pub const MARGIN_TOP: f64 = 12.0;
pub const MARGIN_BOTTOM: f64 = 28.0;

/// One bucket as drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    /// Index into the full series (not the zoomed one).
    pub index: usize,
    pub x: f64,
    pub width: f64,
    pub y: f64,
    pub height: f64,
    pub anomaly: bool,
    /// The expected volume band (`expected.volume`), as a top and a height
    /// on the same axis, drawn behind the bar.
    pub band: Option<(f64, f64)>,
}

/// A labelled tick on an axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub at: f64,
    pub value: f64,
}

/// A bucket labelled on the time axis, at the middle of its bar.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeTick {
    pub index: usize,
    pub x: f64,
}

/// Everything the SVG needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Geometry {
    pub width: f64,
    pub height: f64,
    pub bars: Vec<Bar>,
    /// SVG path of the success-rate line (empty buckets are skipped: a rate
    /// of nothing is not 0 %).
    pub rate_path: String,
    pub volume_ticks: Vec<Tick>,
    pub rate_ticks: Vec<Tick>,
    /// Buckets labelled on the time axis.
    pub time_ticks: Vec<TimeTick>,
    /// The buckets drawn: the zoom, or every one.
    pub range: Range<usize>,
    /// The bottom of the success-rate axis (its top is 100 %): scaled to
    /// the data, so a fall from 99 % to 93 % is not a few pixels.
    pub rate_floor: f64,
}

impl Geometry {
    /// Lays out `points[range]` in a `width` × `height` box.
    pub fn new(points: &[TrendData], range: Range<usize>, width: f64, height: f64) -> Self {
        let range = range.start.min(points.len())..range.end.min(points.len());
        let shown = &points[range.clone()];
        let plot_width = (width - MARGIN_LEFT - MARGIN_RIGHT).max(1.0);
        let plot_height = (height - MARGIN_TOP - MARGIN_BOTTOM).max(1.0);
        let bottom = MARGIN_TOP + plot_height;
        // The axis holds the bands too, so a bar far below its band shows
        // how far.
        let max_volume = shown
            .iter()
            .map(|point| {
                let high = point
                    .expected
                    .as_ref()
                    .map_or(0.0, |expected| expected.volume.high.to_f64());
                point.amount.to_f64().max(high)
            })
            .fold(0.0, f64::max);
        let volume_step = nice_step(max_volume / 4.0);
        let volume_top = (max_volume / volume_step).ceil().max(1.0) * volume_step;
        let slot = plot_width / shown.len().max(1) as f64;
        let bars = shown
            .iter()
            .enumerate()
            .map(|(offset, point)| {
                let height = point.amount.to_f64() / volume_top * plot_height;
                let band = point.expected.as_ref().map(|expected| {
                    let (low, high) = (expected.volume.low.to_f64(), expected.volume.high.to_f64());
                    (
                        bottom - high / volume_top * plot_height,
                        ((high - low) / volume_top * plot_height).max(1.0),
                    )
                });
                Bar {
                    index: range.start + offset,
                    x: MARGIN_LEFT + offset as f64 * slot + slot * 0.1,
                    width: slot * 0.8,
                    y: bottom - height,
                    height,
                    anomaly: point.anomaly,
                    band,
                }
            })
            .collect();
        let rate_floor = rate_floor(shown);
        let mut rate_path = String::new();
        let mut drawing = false;
        for (offset, point) in shown.iter().enumerate() {
            if point.count == 0 {
                drawing = false;
                continue;
            }
            let x = MARGIN_LEFT + (offset as f64 + 0.5) * slot;
            let rate = point.success_rate.clamp(rate_floor.0, 100.0);
            let y = bottom - (rate - rate_floor.0) / (100.0 - rate_floor.0) * plot_height;
            rate_path.push_str(if drawing { " L" } else { " M" });
            rate_path.push_str(&crate::format::fixed(x, 1));
            rate_path.push(',');
            rate_path.push_str(&crate::format::fixed(y, 1));
            drawing = true;
        }
        let ticks = |low: f64, top: f64, step: f64| -> Vec<Tick> {
            let steps = ((top - low) / step).round() as u32;
            (0..=steps)
                .map(|index| {
                    let value = low + step * f64::from(index);
                    Tick {
                        at: bottom - (value - low) / (top - low) * plot_height,
                        value,
                    }
                })
                .collect()
        };
        // About six labels along the time axis, on whole buckets.
        let every = shown.len().div_ceil(6).max(1);
        let time_ticks = (0..shown.len())
            .step_by(every)
            .map(|offset| TimeTick {
                index: range.start + offset,
                x: MARGIN_LEFT + (offset as f64 + 0.5) * slot,
            })
            .collect();
        Self {
            width,
            height,
            bars,
            rate_path: rate_path.trim_start().to_owned(),
            volume_ticks: ticks(0.0, volume_top, volume_step),
            rate_ticks: ticks(rate_floor.0, 100.0, rate_floor.1),
            rate_floor: rate_floor.0,
            time_ticks,
            range,
        }
    }

    /// The bucket under the pointer at `x` (px from the chart's left edge).
    pub fn bucket_at(&self, x: f64) -> Option<usize> {
        let len = self.range.len();
        let plot_width = (self.width - MARGIN_LEFT - MARGIN_RIGHT).max(1.0);
        let offset = ((x - MARGIN_LEFT) / plot_width * len as f64).floor();
        (offset >= 0.0 && (offset as usize) < len).then(|| self.range.start + offset as usize)
    }

    /// The buckets a drag from `x1` to `x2` covers, both ends included;
    /// `None` for a drag within one bucket (a click, not a zoom).
    pub fn drag_range(&self, x1: f64, x2: f64) -> Option<Range<usize>> {
        let clamp = |x: f64| x.clamp(MARGIN_LEFT, self.width - MARGIN_RIGHT - 0.01);
        let first = self.bucket_at(clamp(x1.min(x2)))?;
        let last = self.bucket_at(clamp(x1.max(x2)))?;
        (last > first).then(|| first..last + 1)
    }
}

/// The bottom of the success-rate axis and its tick step: the highest of
/// 0, 50, 80, 90, 95, 98 and 99 % that leaves the lowest rate shown (of
/// buckets with payments) at least half a point above the bottom.
pub fn rate_floor(points: &[TrendData]) -> (f64, f64) {
    const FLOORS: [(f64, f64); 7] = [
        (99.0, 0.25),
        (98.0, 0.5),
        (95.0, 1.0),
        (90.0, 2.0),
        (80.0, 5.0),
        (50.0, 10.0),
        (0.0, 25.0),
    ];
    let lowest = points
        .iter()
        .filter(|point| point.count > 0)
        .map(|point| point.success_rate)
        .fold(100.0, f64::min);
    FLOORS
        .into_iter()
        .find(|(floor, _)| *floor <= lowest - 0.5)
        .unwrap_or((0.0, 25.0))
}

/// The smallest 1, 2, 2.5 or 5 × 10^n at or above `value` (1 for nothing):
/// an axis step that reads in round numbers.
pub fn nice_step(value: f64) -> f64 {
    if value.is_nan() || value <= 0.0 || value.is_infinite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|step| step * magnitude)
        .find(|candidate| *candidate >= value * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};
    use paypulse_shared::money::Amount;

    fn points(amounts: &[(i64, u64, f64, bool)]) -> Vec<TrendData> {
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        amounts
            .iter()
            .enumerate()
            .map(|(index, &(minor, count, success_rate, anomaly))| TrendData {
                timestamp: start + TimeDelta::hours(index as i64),
                amount: Amount::from_minor(minor, 2),
                count,
                success_rate,
                anomaly,
                anomaly_kinds: Vec::new(),
                expected: None,
            })
            .collect()
    }

    #[test]
    fn round_axis_steps() {
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(nice_step(7.3), 10.0);
        assert_eq!(nice_step(120.0), 200.0);
        assert_eq!(nice_step(2_100.0), 2_500.0);
        assert_eq!(nice_step(500.0), 500.0);
        assert_eq!(nice_step(0.031), 0.05);
    }

    #[test]
    fn axes_read_in_round_steps() {
        let series = points(&[(490_000, 3, 100.0, false)]);
        let geometry = Geometry::new(&series, 0..1, 300.0, 140.0);
        let values: Vec<f64> = geometry.volume_ticks.iter().map(|tick| tick.value).collect();
        assert_eq!(values, [0.0, 2_000.0, 4_000.0, 6_000.0]);
        let rates: Vec<f64> = geometry.rate_ticks.iter().map(|tick| tick.value).collect();
        assert_eq!(
            rates,
            [99.0, 99.25, 99.5, 99.75, 100.0],
            "all 100 %: the top point only"
        );
        let labelled: Vec<usize> = Geometry::new(&points(&[(1, 1, 100.0, false); 30]), 0..30, 600.0, 140.0)
            .time_ticks
            .iter()
            .map(|tick| tick.index)
            .collect();
        assert_eq!(labelled, [0, 5, 10, 15, 20, 25]);
    }

    #[test]
    fn bars_scale_to_the_left_axis_and_the_rate_to_the_right() {
        let series = points(&[(10_000, 4, 100.0, false), (5_000, 2, 50.0, true), (0, 0, 0.0, false)]);
        // Plot area: 300 - 64 - 48 = 188 wide, 140 - 12 - 28 = 100 tall.
        let geometry = Geometry::new(&series, 0..3, 300.0, 140.0);
        assert_eq!(geometry.volume_ticks.last().unwrap().value, 100.0, "steps of 25");
        let heights: Vec<f64> = geometry.bars.iter().map(|bar| bar.height).collect();
        assert_eq!(heights, [100.0, 50.0, 0.0]);
        assert!(geometry.bars[1].anomaly);
        // The empty bucket has no rate: the line stops instead of dropping to 0.
        assert_eq!(geometry.rate_path, "M95.3,12.0 L158.0,62.0", "50 % on an axis from 0");
        assert_eq!(geometry.rate_floor, 0.0);
    }

    #[test]
    fn expected_bands_share_the_volume_axis() {
        use paypulse_shared::wire::{Bounds, Expected, ExpectedBasis};
        let mut series = points(&[(5_000, 4, 100.0, true), (10_000, 4, 100.0, false)]);
        series[0].expected = Some(Expected {
            volume: Bounds {
                low: Amount::from_minor(10_000, 2),
                high: Amount::from_minor(20_000, 2),
            },
            success_rate: Bounds { low: 90.0, high: 100.0 },
            basis: ExpectedBasis::Seasonal,
            samples: 6,
        });
        // Plot 100 px tall from y 12 to 112; the band's 200 tops the axis.
        let geometry = Geometry::new(&series, 0..2, 300.0, 140.0);
        assert_eq!(geometry.volume_ticks.last().unwrap().value, 200.0);
        assert_eq!(geometry.bars[0].band, Some((12.0, 50.0)), "100 to 200");
        assert_eq!(geometry.bars[0].height, 25.0, "the bar far below it");
        assert_eq!(geometry.bars[1].band, None);
    }

    #[test]
    fn the_rate_axis_scales_to_the_data() {
        let floor = |rates: &[f64]| {
            let series: Vec<(i64, u64, f64, bool)> = rates.iter().map(|rate| (100, 10, *rate, false)).collect();
            rate_floor(&points(&series)).0
        };
        assert_eq!(floor(&[99.0, 93.0]), 90.0);
        assert_eq!(floor(&[99.6, 99.9]), 99.0);
        assert_eq!(floor(&[97.0]), 95.0);
        assert_eq!(floor(&[40.0]), 0.0);
        // Empty buckets have no rate to show.
        assert_eq!(
            rate_floor(&points(&[(0, 0, 0.0, false), (10, 1, 100.0, false)])).0,
            99.0
        );
        let series = points(&[(100, 10, 99.0, false), (100, 10, 93.0, false)]);
        let geometry = Geometry::new(&series, 0..2, 300.0, 140.0);
        let rates: Vec<f64> = geometry.rate_ticks.iter().map(|tick| tick.value).collect();
        assert_eq!(rates, [90.0, 92.0, 94.0, 96.0, 98.0, 100.0]);
        // 93 % on a 90–100 % axis 100 px tall: 30 px above the bottom (112).
        assert!(geometry.rate_path.ends_with(",82.0"), "{}", geometry.rate_path);
    }

    #[test]
    fn pointer_and_drag_map_to_buckets_of_the_zoom() {
        let series = points(&[(1, 1, 100.0, false); 24]);
        let geometry = Geometry::new(&series, 8..16, 64.0 + 48.0 + 800.0, 300.0);
        assert_eq!(geometry.bucket_at(64.0), Some(8));
        assert_eq!(geometry.bucket_at(64.0 + 799.0), Some(15));
        assert_eq!(geometry.bucket_at(10.0), None);
        assert_eq!(geometry.drag_range(64.0 + 150.0, 64.0 + 420.0), Some(9..13));
        assert_eq!(
            geometry.drag_range(64.0 + 420.0, 64.0 + 150.0),
            Some(9..13),
            "either direction"
        );
        assert_eq!(geometry.drag_range(64.0 + 10.0, 64.0 + 20.0), None, "a click");
        assert_eq!(geometry.drag_range(0.0, 2_000.0), Some(8..16), "clamped to the plot");
    }
}
