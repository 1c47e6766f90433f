//! What the server's memory holds, logged once a minute for operators: the
//! bytes live in the heap beside those the allocator keeps resident, and
//! what the bounded in-memory stores hold (replay windows, kept quarters).
//!
//! The binary's allocator is jemalloc (`main.rs`): glibc's malloc kept what
//! its per-thread arenas had freed, so a burst (a stall's backlog written
//! to 500 clients, a quarter read whole) left the process larger for good,
//! and resident memory could not tell a leak from a burst. jemalloc returns
//! freed pages after a few seconds (from background threads) and counts
//! live bytes, so `allocated` growing is the process holding more, and
//! `resident` far above it is the allocator's own keeping.

use std::time::Duration;

use tikv_jemalloc_ctl::{epoch, stats};

use crate::state::AppState;

/// How often the line is logged.
const EVERY: Duration = Duration::from_secs(60);

/// The allocator's readings, in bytes.
#[derive(Clone, Copy, Debug)]
struct Heap {
    /// Bytes the process has allocated and not freed.
    allocated: usize,
    /// Bytes of the allocator's pages that are resident.
    resident: usize,
}

/// The allocator's readings now; `None` when jemalloc is not the process's
/// allocator (tests run with the system's) or cannot say.
fn heap() -> Option<Heap> {
    epoch::advance().ok()?;
    let heap = Heap {
        allocated: stats::allocated::read().ok()?,
        resident: stats::resident::read().ok()?,
    };
    (heap.allocated > 0).then_some(heap)
}

/// Logs what memory holds every [`EVERY`] until the process ends.
pub fn report(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.tick().await;
        let mib = |bytes: usize| (bytes as f64 / (1 << 20) as f64 * 10.0).round() / 10.0;
        loop {
            ticks.tick().await;
            let (events_held, watchers) = state.live.hub.totals();
            let quarter_payments_kept = state.store.quarter_payments_kept();
            match heap() {
                Some(heap) => tracing::info!(
                    allocated_mib = mib(heap.allocated),
                    resident_mib = mib(heap.resident),
                    events_held,
                    watchers,
                    quarter_payments_kept,
                    "memory"
                ),
                None => tracing::info!(events_held, watchers, quarter_payments_kept, "memory"),
            }
        }
    })
}
