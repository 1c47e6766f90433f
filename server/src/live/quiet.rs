//! A branch of a watcher's loop that is polled only when its own waker
//! fired: the client's socket, the heartbeat's timer.
//!
//! A watcher sleeps on three things (the feed, its timer, its socket) and is
//! woken, nearly always, by the feed. Each time it went back to sleep it
//! polled all three, and polling the socket (tokio-tungstenite, tungstenite's
//! read buffer, tokio's readiness under its lock) and the timer cost about 4 %
//! of the fan-out's processor time at 1,200 events/s to 1,000 clients, work
//! the tuned bare server, which never reads, does not do (`perf`, issue 13).
//! The socket and the timer keep the waker they were last polled with until
//! they have something to say, so each is polled with a waker of its own that
//! notes that it fired before waking the task, and skipped while it has not.
//! A fired waker may have nothing behind it (tokio-tungstenite also wakes
//! the reader when a blocked write drains): that costs one poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures::task::AtomicWaker;

/// What the branch's own waker sets.
struct Signal {
    fired: AtomicBool,
    /// The watcher's task, woken after `fired` is set.
    task: AtomicWaker,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        self.task.wake();
    }
}

/// One quiet branch.
pub struct Quiet {
    signal: Arc<Signal>,
    waker: Waker,
}

impl Quiet {
    /// A branch polled at its first poll, then only when it fired.
    pub fn new() -> Self {
        let signal = Arc::new(Signal {
            fired: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        Self {
            waker: Waker::from(Arc::clone(&signal)),
            signal,
        }
    }

    /// Polls `inner` with the branch's own waker if it fired (or was
    /// [`Self::rearm`]ed) since `inner` last said `Pending`; otherwise says
    /// `Pending` without polling. Either way the task is woken when it
    /// fires. A `Ready` rearms it: whatever gave it may have more.
    pub fn poll<T>(&self, context: &mut Context<'_>, inner: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        // Registered before the flag is read: a wake in between finds it.
        self.signal.task.register(context.waker());
        if !self.signal.fired.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let polled = self.poll_now(inner);
        if polled.is_ready() {
            self.rearm();
        }
        polled
    }

    /// Polls `inner` with the branch's own waker whether it fired or not, so
    /// what it waits on holds that waker again.
    pub fn poll_now<T>(&self, inner: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        inner(&mut Context::from_waker(&self.waker))
    }

    /// The next [`Self::poll`] polls: what it waits on may hold no waker of
    /// the branch's (a timer that fired and was reset).
    pub fn rearm(&self) {
        self.signal.fired.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Counts its wakes.
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_branch_is_polled_first_then_only_after_its_waker_fired_and_it_wakes_the_task() {
        let task = Arc::new(Counter(AtomicUsize::new(0)));
        let task_waker = Waker::from(Arc::clone(&task));
        let mut context = Context::from_waker(&task_waker);
        let quiet = Quiet::new();
        // What the branch waits on: the waker it was last polled with.
        let held: std::cell::RefCell<Option<Waker>> = Default::default();
        let polls = std::cell::Cell::new(0);
        let poll = |context: &mut Context<'_>| {
            polls.set(polls.get() + 1);
            *held.borrow_mut() = Some(context.waker().clone());
            Poll::<()>::Pending
        };
        assert!(quiet.poll(&mut context, poll).is_pending());
        assert!(quiet.poll(&mut context, poll).is_pending());
        assert_eq!(polls.get(), 1, "not polled again before it fired");
        held.take().expect("it holds the branch's waker").wake();
        assert_eq!(task.0.load(Ordering::Relaxed), 1, "the task is woken");
        assert!(quiet.poll(&mut context, poll).is_pending());
        assert_eq!(polls.get(), 2, "polled once it fired");
        quiet.rearm();
        assert!(quiet.poll(&mut context, poll).is_pending());
        assert_eq!(polls.get(), 3, "polled once rearmed");
    }

    #[test]
    fn a_ready_branch_is_polled_again() {
        let task_waker = Waker::from(Arc::new(Counter(AtomicUsize::new(0))));
        let mut context = Context::from_waker(&task_waker);
        let quiet = Quiet::new();
        assert!(quiet.poll(&mut context, |_| Poll::Ready(1)).is_ready());
        assert_eq!(quiet.poll(&mut context, |_| Poll::Ready(2)), Poll::Ready(2));
    }
}
