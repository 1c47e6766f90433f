//! Every transaction of the store runs here, through the MongoDB driver's
//! convenient transaction API: it retries the whole transaction on a
//! transient error (a write conflict with another instance, a failover),
//! with its own jittered backoff, and retries a commit whose result is
//! unknown, as the drivers' specification says. Ours is only the bound:
//! the driver would keep trying for two minutes, while the writer runs one
//! transaction at a time, so a conflict that does not clear within
//! [`TRANSACTION_ATTEMPTS`] attempts becomes a 503 the client may retry
//! (nothing was written), not a two-minute stall of every write behind it.
//! The same holds in time: no new attempt starts [`TRANSACTION_DEADLINE`]
//! after the first. And an attempt that found no server to talk to (it
//! waited the whole server selection for one) is not repeated: the database
//! is down, and the caller hears so at once ([`Unreachable`]) instead of
//! after every attempt's wait.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use mongodb::ClientSession;
use mongodb::error::ErrorKind;

use super::Store;

/// Attempts of one transaction before it gives up.
pub const TRANSACTION_ATTEMPTS: usize = 12;

/// No attempt of a transaction starts later than this after its first.
pub const TRANSACTION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// The error of a transaction that gave up after [`TRANSACTION_ATTEMPTS`]
/// or [`TRANSACTION_DEADLINE`]
/// (a `mongodb` custom error: see [`is_contended`]).
#[derive(Debug)]
struct Contended;

/// The error of a transaction given up because its last attempt found no
/// server (a `mongodb` custom error, so that the driver does not retry it
/// as it would the selection error, which it labels transient).
#[derive(Debug)]
pub struct Unreachable(pub mongodb::error::Error);

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
        R: Send + 'static,
    {
        let mut session = self.database().client().start_session().await?;
        let attempts = AtomicUsize::new(0);
        let started = std::time::Instant::now();
        // The error of the last attempt, which the driver keeps to itself.
        let last_error: Arc<Mutex<Option<mongodb::error::Error>>> = Arc::default();
        let result = session
            .start_transaction()
            .and_run(context, |session, context| {
                let attempt = attempts.fetch_add(1, Ordering::Relaxed);
                let previous = last_error.lock().expect("transaction error lock").take();
                if let Some(error) = previous.filter(|error| matches!(*error.kind, ErrorKind::ServerSelection { .. })) {
                    return async { Err(mongodb::error::Error::custom(Unreachable(error))) }.boxed();
                }
                if attempt == TRANSACTION_ATTEMPTS || (attempt > 0 && started.elapsed() > TRANSACTION_DEADLINE) {
                    return async { Err(mongodb::error::Error::custom(Contended)) }.boxed();
                }
                let recorder = Arc::clone(&last_error);
                work(session, context)
                    .inspect(move |result| {
                        if let Err(error) = result {
                            *recorder.lock().expect("transaction error lock") = Some(error.clone());
                        }
                    })
                    .boxed()
            })
            .await;
        let retried = attempts.load(Ordering::Relaxed).clamp(1, TRANSACTION_ATTEMPTS) - 1;
        self.retries.fetch_add(retried as u64, Ordering::Relaxed);
        result
    }
}
