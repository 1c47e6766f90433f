//! Whether MongoDB was found unreachable a moment ago. An operation that
//! finds no server has waited the whole server selection
//! ([`super::SERVER_SELECTION_TIMEOUT`]) to learn it; for a short while
//! after ([`PAUSE`]) the writer refuses writes and the access layer answers
//! from its key cache without asking, so that during an outage callers hear
//! a 503 at once instead of each waiting it out. The first operation after
//! the pause asks again: it is the probe that finds the database back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an unreachable database is taken as down without asking again.
pub const PAUSE: Duration = Duration::from_secs(1);

/// Whether `error` means the database could not be reached (no server to
/// select, a connection that broke), as opposed to a query or a conflict.
pub fn is_unreachable(error: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    matches!(
        *error.kind,
        ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. }
    ) || error.get_custom::<super::transaction::Unreachable>().is_some()
}

/// The last time the database could not be reached, and how it failed.
#[derive(Debug, Default)]
pub struct Outage {
    seen: Mutex<Option<(Instant, mongodb::error::Error)>>,
}

impl Outage {
    /// Notes `error` if it says the database is unreachable.
    pub fn saw(&self, error: &mongodb::error::Error) {
        if is_unreachable(error) {
            *self.seen.lock().expect("outage lock") = Some((Instant::now(), error.clone()));
        }
    }

    /// The error to answer with, while the database is taken as down.
    pub fn current(&self) -> Option<mongodb::error::Error> {
        self.seen
            .lock()
            .expect("outage lock")
            .as_ref()
            .filter(|(at, _)| at.elapsed() < PAUSE)
            .map(|(_, error)| error.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_taken_as_down_for_the_pause_only() {
        let outage = Outage::default();
        outage.saw(&mongodb::error::Error::custom("a query error"));
        assert!(outage.current().is_none(), "other errors say nothing of reachability");
        let unreachable = mongodb::error::Error::custom(super::super::transaction::Unreachable(
            mongodb::error::Error::custom("no server"),
        ));
        outage.saw(&unreachable);
        assert!(outage.current().is_some());
        *outage.seen.lock().unwrap() = Some((Instant::now() - PAUSE, unreachable));
        assert!(
            outage.current().is_none(),
            "after the pause, the next operation asks again"
        );
    }
}
