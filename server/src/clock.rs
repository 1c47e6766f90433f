//! The server's clock: what "now" is for validating and dating payments, for
//! windows that end now and for alert periods. The system clock in
//! production; a fixed instant in tests of limits that are relative to now
//! (such as the 5-minute allowance for `createdAt` in the future), so an edge
//! can be hit exactly; the system clock moved forward by the test in tests of
//! periods measured in minutes (an alert's pending period), so they need not
//! wait minutes.

use chrono::{DateTime, TimeDelta, Utc};

/// Where "now" comes from.
#[derive(Clone, Copy, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// Always this instant.
    Fixed(DateTime<Utc>),
    /// The system clock plus what the offset holds, in milliseconds.
    Shifted(&'static std::sync::atomic::AtomicI64),
}

impl Clock {
    /// The current instant at the precision MongoDB stores (milliseconds), so
    /// a time echoed back matches what the database compares against.
    pub fn now(&self) -> DateTime<Utc> {
        let now = self.exact();
        DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or_default()
    }

    fn exact(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => *at,
            Clock::Shifted(offset) => {
                Utc::now() + TimeDelta::milliseconds(offset.load(std::sync::atomic::Ordering::SeqCst))
            }
        }
    }

    /// Where a window that "ends now" ends: the next whole second. Every
    /// payment written so far is inside it, and identical requests within
    /// one second share a cache key.
    pub fn window_end(&self) -> DateTime<Utc> {
        let now = self.exact();
        let second = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        if second == now {
            second
        } else {
            second + TimeDelta::seconds(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paypulse_shared::time::parse_utc;

    #[test]
    fn a_fixed_clock_reads_its_instant_in_milliseconds() {
        let at = parse_utc("2026-11-24T10:00:00.123456Z").unwrap();
        let clock = Clock::Fixed(at);
        assert_eq!(clock.now(), parse_utc("2026-11-24T10:00:00.123Z").unwrap());
        assert_eq!(clock.window_end(), parse_utc("2026-11-24T10:00:01Z").unwrap());
        let whole = Clock::Fixed(parse_utc("2026-11-24T10:00:00Z").unwrap());
        assert_eq!(whole.window_end(), parse_utc("2026-11-24T10:00:00Z").unwrap());
        assert!(Clock::System.now() <= Clock::System.window_end());
    }
}
