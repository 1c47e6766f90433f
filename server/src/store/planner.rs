//! The range planner behind every analytics read: which rollup documents,
//! and which raw payments, add up to exactly one tenant's payments in
//! `[from, to)` at the least cost.
//!
//! On the document stores we run on, a read costs about one document
//! whatever it holds, so a range takes its whole intervals from the coarsest
//! level its question allows and the pieces at its ends from the next finer
//! level, down to quarters. A quarter only partly inside the range comes
//! from the raw payments. Every answer is exact: rollups and payments are
//! written in one transaction.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use futures::FutureExt;
use futures::future::BoxFuture;
use paypulse_shared::stats::{CELL_MINUTES, Cell, cell_start};

use super::Store;
use super::rollups::{Level, ceil_to_cell};

impl Store {
    /// Every cell of one tenant's payments in `[from, to)`, none coarser
    /// than `coarsest`: each cell lies within one interval of that level,
    /// which is what the caller buckets by (metrics need hours for the hour
    /// of day; a month trend needs only days).
    ///
    /// The whole intervals of the level come from its rollups, the rest (at
    /// either end) from the next finer level. When the range ends in an
    /// interval whose remainder is still in the future (a range ending now),
    /// that interval comes from its rollup less the payments already dated
    /// after `to` (normally none): one empty index scan instead of the finer
    /// reads.
    pub async fn cells(
        &self,
        tenant_id: &str,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        coarsest: Level,
    ) -> mongodb::error::Result<Vec<Cell>> {
        let mut cells = self.level_cells(coarsest, tenant_id, tz, from, to).await?;
        cells.sort_by(|left, right| (left.start, &left.method).cmp(&(right.start, &right.method)));
        Ok(cells)
    }

    /// [`Store::cells`] at `level` and below, unsorted. Boxed: it recurses
    /// into the finer levels for the ends.
    fn level_cells<'a>(
        &'a self,
        level: Level,
        tenant_id: &'a str,
        tz: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> BoxFuture<'a, mongodb::error::Result<Vec<Cell>>> {
        async move {
            let Some(finer) = level.finer() else {
                return self.quarter_cells(tenant_id, from, to).await;
            };
            if to <= from {
                return Ok(Vec::new());
            }
            let first = level.ceil(from, tz);
            let last = level.floor(to, tz);
            if first >= last {
                return self.level_cells(finer, tenant_id, tz, from, to).await;
            }
            let tail_end = level.ceil(to, tz);
            let tail_from_rollup = tail_end > to && past_length(to, tail_end, Utc::now()).is_zero();
            let whole_end = if tail_from_rollup { tail_end } else { last };
            let tail = async {
                if tail_from_rollup {
                    self.payment_cells(tenant_id, to, tail_end).await
                } else {
                    self.level_cells(finer, tenant_id, tz, last, to).await
                }
            };
            let (head, whole, tail) = futures::try_join!(
                self.level_cells(finer, tenant_id, tz, from, first),
                self.whole_cells(level, tenant_id, first, whole_end),
                tail,
            )?;
            let mut cells = head;
            if tail_from_rollup {
                let (mut last_cells, whole): (Vec<Cell>, Vec<Cell>) =
                    whole.into_iter().partition(|cell| cell.start == last);
                subtract(&mut last_cells, &tail);
                cells.extend(whole);
                cells.extend(last_cells);
            } else {
                cells.extend(whole);
                cells.extend(tail);
            }
            Ok(cells)
        }
        .boxed()
    }

    /// The cells of the whole intervals of `level` in `[from, to)`. Hours
    /// come through the kept copies (see [`super::kept_rollups`]): a range
    /// reads up to a few hundred of them, whose size follows how busy the
    /// tenant is. Days are read directly: a range holds a few dozen, and
    /// checking versions would cost as much as reading them.
    async fn whole_cells(
        &self,
        level: Level,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        match level {
            Level::Hour => self.kept_rollup_cells(level, tenant_id, from, to).await,
            Level::Quarter | Level::Day => self.rollup_cells(level, tenant_id, from, to).await,
        }
    }

    /// The 15-minute cells of one tenant's payments in `[from, to)`: whole
    /// cells from the quarter level. A partial cell at either end that is
    /// wholly past comes from its payments kept in memory (see
    /// [`super::edges`]); otherwise, or when it is too busy to keep, from
    /// whichever is cheaper, the raw payments of the part inside the range,
    /// or the cell's rollup less the raw payments of the part outside it.
    /// For a range that ends now the part outside is in the future, so the
    /// current cell costs one empty index scan instead of up to 15 minutes of
    /// payments.
    pub async fn quarter_cells(
        &self,
        tenant_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        if to <= from {
            return Ok(Vec::new());
        }
        let first = cell_start(from);
        let end = ceil_to_cell(to);
        let mut stored = self.stored_quarters(tenant_id, first, end).await?;
        let now = Utc::now();
        let mut partials = Vec::new();
        let mut edges = vec![first];
        let last = end - TimeDelta::minutes(CELL_MINUTES);
        if last != first {
            edges.push(last);
        }
        for start in edges {
            let cell_end = start + TimeDelta::minutes(CELL_MINUTES);
            let (inside_from, inside_to) = (from.max(start), to.min(cell_end));
            if (inside_from, inside_to) == (start, cell_end) {
                continue;
            }
            let quarter = stored.remove(&start).unwrap_or_default();
            let kept = if cell_end <= now {
                self.kept_quarter_cells(tenant_id, start, &quarter, inside_from, inside_to)
                    .await?
            } else {
                None
            };
            let cells = match kept {
                Some(cells) => cells,
                None => {
                    self.partial_quarter(
                        tenant_id,
                        quarter.cells,
                        (start, cell_end),
                        (inside_from, inside_to),
                        now,
                    )
                    .await?
                }
            };
            partials.extend(cells);
        }
        let whole = stored.into_values().flat_map(|quarter| quarter.cells);
        Ok(whole.chain(partials).collect())
    }

    /// The part `[inside_from, inside_to)` of the quarter `[start, end)`
    /// whose rollup holds `stored`, from whichever is cheaper: the raw
    /// payments inside, or the rollup less the raw payments outside.
    async fn partial_quarter(
        &self,
        tenant_id: &str,
        stored: Vec<Cell>,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        (inside_from, inside_to): (DateTime<Utc>, DateTime<Utc>),
        now: DateTime<Utc>,
    ) -> mongodb::error::Result<Vec<Cell>> {
        let direct = past_length(inside_from, inside_to, now);
        let complement = past_length(start, inside_from, now) + past_length(inside_to, end, now);
        if direct <= complement {
            return self.payment_cells(tenant_id, inside_from, inside_to).await;
        }
        let mut cells = stored;
        for (outside_from, outside_to) in [(start, inside_from), (inside_to, end)] {
            if outside_from < outside_to {
                let outside = self.payment_cells(tenant_id, outside_from, outside_to).await?;
                subtract(&mut cells, &outside);
            }
        }
        Ok(cells)
    }
}

/// How much of `[from, to)` lies before `now`: what reading its payments
/// costs (a sender's clock may run slightly ahead, so later is rare, not
/// impossible, and is still read).
fn past_length(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> TimeDelta {
    (to.min(now) - from).max(TimeDelta::zero())
}

/// Takes `outside` (cells of part of the same interval) away from `cells`,
/// method by method, dropping methods left with nothing.
fn subtract(cells: &mut Vec<Cell>, outside: &[Cell]) {
    for part in outside {
        if let Some(cell) = cells.iter_mut().find(|cell| cell.method == part.method) {
            cell.stats.remove(&part.stats);
        }
    }
    cells.retain(|cell| !cell.stats.is_empty());
}

#[cfg(test)]
mod tests {
    use super::*;
    use paypulse_shared::stats::Stats;
    use paypulse_shared::time::parse_utc;

    #[test]
    fn only_the_past_part_of_a_range_costs_a_read() {
        let now = parse_utc("2026-11-24T10:00:00Z").unwrap();
        let before = parse_utc("2026-11-24T09:50:00Z").unwrap();
        let after = parse_utc("2026-11-24T10:10:00Z").unwrap();
        assert_eq!(past_length(before, after, now), TimeDelta::minutes(10));
        assert_eq!(past_length(now, after, now), TimeDelta::zero());
    }

    #[test]
    fn subtracting_a_part_drops_methods_left_empty() {
        let start = parse_utc("2026-11-24T10:00:00Z").unwrap();
        let cell = |method: &str, succeeded, volume_minor| Cell {
            start,
            method: method.into(),
            stats: Stats {
                succeeded,
                volume_minor,
                ..Stats::default()
            },
        };
        let mut cells = vec![cell("card", 3, 300), cell("upi", 1, 50)];
        subtract(&mut cells, &[cell("card", 1, 100), cell("upi", 1, 50)]);
        assert_eq!(cells, vec![cell("card", 2, 200)]);
    }
}
