//! Every transaction of the store runs here, through the MongoDB driver's
//! convenient transaction API: it retries the whole transaction on a
//! transient error (a write conflict with another instance, a failover),
//! with its own jittered backoff, and retries a commit whose result is
//! unknown, as the drivers' specification says. Ours is only the bound:
//! the driver would keep trying for two minutes, while the writer runs one
//! transaction at a time, so a conflict that does not clear within
//! [`TRANSACTION_ATTEMPTS`] attempts becomes a 503 the client may retry
//! (nothing was written), not a two-minute stall of every write behind it.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use mongodb::ClientSession;

use super::Store;

/// Attempts of one transaction before it gives up.
pub const TRANSACTION_ATTEMPTS: usize = 12;

/// The error of a transaction that gave up after [`TRANSACTION_ATTEMPTS`]
/// (a `mongodb` custom error: see [`is_contended`]).
#[derive(Debug)]
struct Contended;

/// Whether `error` is a transaction that met conflicting writes on every
/// attempt.
pub fn is_contended(error: &mongodb::error::Error) -> bool {
    error.get_custom::<Contended>().is_some()
}

impl Store {
    /// Runs `work` with `context` in one transaction and commits it; see the
    /// module's notes for retries. `work` must return every error it meets
    /// (the driver decides from them whether the transaction is retried).
    /// What `work` borrows goes in `context` (the driver's way of letting a
    /// callback that runs again borrow from its caller).
    pub(super) async fn in_transaction<C, R>(
        &self,
        context: C,
        mut work: impl for<'b> FnMut(&'b mut ClientSession, &'b mut C) -> BoxFuture<'b, mongodb::error::Result<R>> + Send,
    ) -> mongodb::error::Result<R>
    where
        C: Send,
        R: Send,
    {
        let mut session = self.database().client().start_session().await?;
        let attempts = AtomicUsize::new(0);
        let result = session
            .start_transaction()
            .and_run(context, |session, context| {
                if attempts.fetch_add(1, Ordering::Relaxed) == TRANSACTION_ATTEMPTS {
                    return async { Err(mongodb::error::Error::custom(Contended)) }.boxed();
                }
                work(session, context)
            })
            .await;
        let retried = attempts.load(Ordering::Relaxed).clamp(1, TRANSACTION_ATTEMPTS) - 1;
        self.retries.fetch_add(retried as u64, Ordering::Relaxed);
        result
    }
}
