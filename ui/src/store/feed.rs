//! The live feed's rows: every event received, in `seq` order, each once;
//! a pause that freezes what is shown while later events are kept and
//! counted; filters by type and method; and a bound on how many rows a
//! dashboard left open all day holds.
//!
//! Rows are numbered by their position since the page opened (`absolute`),
//! which never shifts when old rows are dropped, so the filtered view and a
//! pause can be kept incrementally: a batch costs its own size, not the
//! feed's.

use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;

use paypulse_shared::filter::PaymentFilter;
use paypulse_shared::payment::{EventType, Payment, PaymentEvent, PaymentStatus};

/// Rows kept; the oldest go first (and are counted) beyond it.
pub const MAX_ROWS: usize = 50_000;

/// Which rows are shown: the one payment filter of `shared`, whose empty
/// sets mean "all".
pub type FeedFilter = PaymentFilter;

/// The events a payment's status shows happened to it.
pub fn reflected_events(status: PaymentStatus) -> &'static [EventType] {
    match status {
        PaymentStatus::Succeeded => &[EventType::PaymentReceived],
        PaymentStatus::Failed => &[EventType::PaymentFailed],
        PaymentStatus::Refunded => &[EventType::PaymentReceived, EventType::PaymentRefunded],
    }
}

/// What became of one received event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    Added,
    /// Its `seq` was already in the feed (a resume overlapping what we had).
    Duplicate,
    /// Added, but one or more `seq` before it never arrived.
    AfterGap,
}

#[derive(Clone, Debug)]
pub struct Feed {
    rows: VecDeque<Rc<PaymentEvent>>,
    capacity: usize,
    /// Rows dropped off the old end so far: the absolute number of `rows[0]`.
    dropped: u64,
    /// Absolute numbers of the rows the filter lets through, oldest first.
    matching: VecDeque<u64>,
    filter: FeedFilter,
    /// While paused: rows with an absolute number below this are shown.
    paused_at: Option<u64>,
    last_seq: Option<u64>,
    gaps: u64,
    /// Events the preloaded rows already show (payment id and type): when
    /// they arrive live they are not shown again.
    reflected: BTreeSet<(String, EventType)>,
}

impl Default for Feed {
    fn default() -> Self {
        Self::with_capacity(MAX_ROWS)
    }
}

impl Feed {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            rows: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
            matching: VecDeque::new(),
            filter: FeedFilter::default(),
            paused_at: None,
            last_seq: None,
            gaps: 0,
            reflected: BTreeSet::new(),
        }
    }

    /// The last `seq` received: where a reconnection resumes.
    pub fn last_seq(&self) -> Option<u64> {
        self.last_seq
    }

    /// Continues numbering after `seq` without a row: the feed's start on
    /// first connection, or a resync's restart point.
    pub fn continue_after(&mut self, seq: u64) {
        self.last_seq = Some(seq);
    }

    /// Times an event arrived after a missing `seq`; zero unless the server
    /// broke its promise (the browser tests check it).
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Opens the feed with `payments` (newest first, as the list endpoint
    /// gives them), each a row of its latest event, without a `seq`. The
    /// events they already reflect (a refunded payment was received, then
    /// refunded) are remembered, so the same events arriving live are not
    /// shown twice.
    pub fn preload(&mut self, payments: Vec<Payment>) {
        for payment in payments.into_iter().rev() {
            let (event_type, timestamp, reflects) = match payment.status {
                PaymentStatus::Succeeded => (
                    EventType::PaymentReceived,
                    payment.created_at,
                    &[EventType::PaymentReceived][..],
                ),
                PaymentStatus::Failed => (
                    EventType::PaymentFailed,
                    payment.created_at,
                    &[EventType::PaymentFailed][..],
                ),
                PaymentStatus::Refunded => (
                    EventType::PaymentRefunded,
                    payment.refunded_at.unwrap_or(payment.updated_at),
                    &[EventType::PaymentReceived, EventType::PaymentRefunded][..],
                ),
            };
            for reflected in reflects {
                self.reflected.insert((payment.id.clone(), *reflected));
            }
            self.push(PaymentEvent {
                event_type,
                payment,
                timestamp,
                seq: None,
            });
        }
    }

    /// Counts `seq` as received: `Duplicate` if it already was, `AfterGap`
    /// if one before it never arrived. Alert frames are numbered in the
    /// same sequence as payment events and pass here without a row.
    pub fn note_seq(&mut self, seq: Option<u64>) -> Received {
        let mut outcome = Received::Added;
        if let (Some(seq), Some(last)) = (seq, self.last_seq) {
            if seq <= last {
                return Received::Duplicate;
            }
            if seq > last + 1 {
                self.gaps += 1;
                outcome = Received::AfterGap;
            }
        }
        if seq.is_some() {
            self.last_seq = seq;
        }
        outcome
    }

    /// Adds one event unless its `seq` is already in the feed.
    pub fn receive(&mut self, event: PaymentEvent) -> Received {
        let outcome = self.note_seq(event.seq);
        if outcome == Received::Duplicate {
            return outcome;
        }
        if !self.reflected.is_empty() && self.reflected.remove(&(event.payment.id.clone(), event.event_type)) {
            return Received::Duplicate;
        }
        self.push(event);
        outcome
    }

    fn push(&mut self, event: PaymentEvent) {
        let absolute = self.dropped + self.rows.len() as u64;
        if self.filter.matches(&event) {
            self.matching.push_back(absolute);
        }
        self.rows.push_back(Rc::new(event));
        while self.rows.len() > self.capacity {
            self.rows.pop_front();
            self.dropped += 1;
        }
        while self.matching.front().is_some_and(|&first| first < self.dropped) {
            self.matching.pop_front();
        }
    }

    /// Rows dropped for space since the page opened.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn filter(&self) -> &FeedFilter {
        &self.filter
    }

    pub fn set_filter(&mut self, filter: FeedFilter) {
        self.matching = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, event)| filter.matches(event))
            .map(|(index, _)| self.dropped + index as u64)
            .collect();
        self.filter = filter;
    }

    pub fn is_paused(&self) -> bool {
        self.paused_at.is_some()
    }

    /// Freezes the rows shown; later ones are kept and counted.
    pub fn pause(&mut self) {
        if self.paused_at.is_none() {
            self.paused_at = Some(self.dropped + self.rows.len() as u64);
        }
    }

    pub fn resume(&mut self) {
        self.paused_at = None;
    }

    /// The rows the filter lets through that are shown: all of them when
    /// live, those received before the pause when paused.
    pub fn shown_len(&self) -> usize {
        match self.paused_at {
            None => self.matching.len(),
            Some(end) => self.matching.partition_point(|&absolute| absolute < end),
        }
    }

    /// Rows (matching the filter) received since the pause: shown on resume.
    pub fn waiting(&self) -> usize {
        self.matching.len() - self.shown_len()
    }

    /// The `index`-th shown row, newest first.
    pub fn shown(&self, index: usize) -> Option<Rc<PaymentEvent>> {
        let len = self.shown_len();
        let absolute = *self.matching.get(len.checked_sub(index + 1)?)?;
        let position = usize::try_from(absolute.checked_sub(self.dropped)?).ok()?;
        self.rows.get(position).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::event;
    use paypulse_shared::payment::EventType;

    fn shown_seqs(feed: &Feed) -> Vec<u64> {
        (0..feed.shown_len())
            .map(|index| feed.shown(index).unwrap().seq.unwrap())
            .collect()
    }

    #[test]
    fn keeps_each_seq_once_and_counts_gaps() {
        let mut feed = Feed::default();
        feed.continue_after(10);
        assert_eq!(
            feed.receive(event(11, EventType::PaymentReceived, "card")),
            Received::Added
        );
        assert_eq!(
            feed.receive(event(11, EventType::PaymentReceived, "card")),
            Received::Duplicate
        );
        assert_eq!(
            feed.receive(event(9, EventType::PaymentReceived, "card")),
            Received::Duplicate
        );
        assert_eq!(
            feed.receive(event(13, EventType::PaymentFailed, "card")),
            Received::AfterGap
        );
        assert_eq!(feed.gaps(), 1);
        assert_eq!(feed.last_seq(), Some(13));
        assert_eq!(shown_seqs(&feed), [13, 11]);
    }

    #[test]
    fn a_pause_freezes_the_rows_and_counts_what_arrives() {
        let mut feed = Feed::default();
        for seq in 1..=3 {
            feed.receive(event(seq, EventType::PaymentReceived, "card"));
        }
        feed.pause();
        for seq in 4..=6 {
            feed.receive(event(seq, EventType::PaymentReceived, "card"));
        }
        assert_eq!(shown_seqs(&feed), [3, 2, 1]);
        assert_eq!(feed.waiting(), 3);
        feed.resume();
        assert_eq!(shown_seqs(&feed), [6, 5, 4, 3, 2, 1]);
        assert_eq!(feed.waiting(), 0);
    }

    #[test]
    fn filters_apply_to_old_and_new_rows() {
        let mut feed = Feed::default();
        feed.receive(event(1, EventType::PaymentReceived, "card"));
        feed.receive(event(2, EventType::PaymentFailed, "paypal"));
        feed.receive(event(3, EventType::PaymentRefunded, "card"));
        feed.set_filter(FeedFilter {
            methods: ["card".to_owned()].into(),
            ..FeedFilter::default()
        });
        assert_eq!(shown_seqs(&feed), [3, 1]);
        feed.receive(event(4, EventType::PaymentReceived, "paypal"));
        feed.receive(event(5, EventType::PaymentFailed, "card"));
        assert_eq!(shown_seqs(&feed), [5, 3, 1]);
        feed.set_filter(FeedFilter {
            types: [EventType::PaymentFailed].into(),
            ..FeedFilter::default()
        });
        assert_eq!(shown_seqs(&feed), [5, 2]);
    }

    #[test]
    fn holds_at_most_its_capacity_and_counts_what_it_dropped() {
        let mut feed = Feed::with_capacity(100);
        feed.pause();
        for seq in 1..=250 {
            feed.receive(event(seq, EventType::PaymentReceived, "card"));
        }
        assert_eq!(feed.dropped(), 150);
        // Everything shown before the pause is gone; the kept rows wait.
        assert_eq!(feed.shown_len(), 0);
        assert_eq!(feed.waiting(), 100);
        feed.resume();
        assert_eq!(feed.shown_len(), 100);
        assert_eq!(feed.shown(0).unwrap().seq, Some(250));
        assert_eq!(feed.shown(99).unwrap().seq, Some(151));
        assert_eq!(feed.shown(100), None);
    }
}
