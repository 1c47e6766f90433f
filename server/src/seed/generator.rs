//! Realistic, reproducible payment history for one tenant and one UTC day:
//! a diurnal and weekly rhythm on the tenant's clock, the tenant's method mix,
//! log-normal amounts, 2–8 % failures with occasional spikes, and refunds of
//! recent payments. The same seed, tenant and day always give the same
//! payments with the same `externalId`s, which is what makes seeding
//! idempotent.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use mongodb::bson::oid::ObjectId;
use paypulse_shared::payment::PaymentStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Poisson};

use super::profiles::Profile;
use crate::store::documents::{PaymentDoc, to_bson};

/// Spread of amounts around the median (σ of the underlying normal).
pub(crate) const AMOUNT_SIGMA: f64 = 0.9;
/// Chance that a day has one hour of elevated failures.
const SPIKE_CHANCE: f64 = 0.2;
/// How much a spike multiplies the failure rate.
pub(crate) const SPIKE_FACTOR: f64 = 6.0;
/// Share of succeeded payments later refunded.
pub(crate) const REFUND_RATE: f64 = 0.03;
pub(crate) const FAILURE_REASONS: &[&str] = &[
    "card_declined",
    "insufficient_funds",
    "expired_card",
    "processing_error",
    "fraud_suspected",
];

/// Relative traffic at a local hour: quiet nights, a busy afternoon.
pub(crate) fn diurnal(hour: u32) -> f64 {
    let distance = f64::from(hour) - 14.0;
    0.15 + (-(distance * distance) / (2.0 * 3.5 * 3.5)).exp()
}

/// Payments expected per hour at the local time `local` of a tenant whose
/// average is `rate` an hour: the rhythm both the seeded history and the
/// simulator follow, so live traffic looks like the same business.
pub(crate) fn hourly_rate<T: TimeZone>(rate: f64, local: &DateTime<T>) -> f64 {
    let mean_diurnal = (0..24).map(diurnal).sum::<f64>() / 24.0;
    rate * diurnal(local.hour()) / mean_diurnal * weekly(local.weekday())
}

pub(crate) fn weekly(day: Weekday) -> f64 {
    if matches!(day, Weekday::Sat | Weekday::Sun) {
        0.65
    } else {
        1.14
    }
}

/// Payments of `profile` created on the UTC day `date`, before `now`, at an
/// average of `rate` payments per hour.
pub fn day_of_payments(
    profile: &Profile,
    date: NaiveDate,
    rate: f64,
    seed: u64,
    now: DateTime<Utc>,
) -> Vec<PaymentDoc> {
    let tz: Tz = profile.timezone.parse().unwrap_or(chrono_tz::UTC);
    let mut rng = StdRng::seed_from_u64(day_seed(seed, &profile.id, date));
    let amounts = LogNormal::new(profile.median_minor.ln(), AMOUNT_SIGMA).expect("valid log-normal");
    let spike_hour = rng.random_bool(SPIKE_CHANCE).then(|| rng.random_range(0..24u32));
    let day_start = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();

    let mut payments = Vec::new();
    for hour in 0..24u32 {
        let hour_start = day_start + TimeDelta::hours(i64::from(hour));
        let local = hour_start.with_timezone(&tz);
        let expected = hourly_rate(rate, &local);
        let count = Poisson::new(expected.max(1e-9))
            .map(|poisson| poisson.sample(&mut rng) as u64)
            .unwrap_or(0);
        let failure_rate = if spike_hour == Some(hour) {
            (profile.failure_rate * SPIKE_FACTOR).min(0.6)
        } else {
            profile.failure_rate
        };
        for _ in 0..count {
            let created = hour_start + TimeDelta::milliseconds(rng.random_range(0..3_600_000));
            let method = pick_method(profile, rng.random());
            let amount_minor = (amounts.sample(&mut rng).round() as i64).max(1);
            let failed = rng.random_bool(failure_rate);
            let refund_after = TimeDelta::minutes(rng.random_range(30..72 * 60));
            let refunded = !failed && rng.random_bool(REFUND_RATE) && created + refund_after < now;
            let reason = FAILURE_REASONS[rng.random_range(0..FAILURE_REASONS.len())];
            if created >= now {
                continue;
            }
            let sequence = payments.len();
            let (status, refunded_at, updated) = match (failed, refunded) {
                (true, _) => (PaymentStatus::Failed, None, created),
                (false, true) => (
                    PaymentStatus::Refunded,
                    Some(created + refund_after),
                    created + refund_after,
                ),
                (false, false) => (PaymentStatus::Succeeded, None, created),
            };
            payments.push(PaymentDoc {
                id: ObjectId::new(),
                tenant_id: profile.id.clone(),
                external_id: format!("seed_{}_{}_{sequence:05}", profile.id, date.format("%Y%m%d")),
                amount_minor,
                currency: profile.currency.to_owned(),
                method: method.to_owned(),
                status,
                failure_reason: failed.then(|| reason.to_owned()),
                refunded_at: refunded_at.map(to_bson),
                created_at: to_bson(created),
                updated_at: to_bson(updated),
            });
        }
    }
    payments
}

pub(crate) fn pick_method(profile: &Profile, draw: f64) -> &'static str {
    let mut cumulative = 0.0;
    for (method, share) in profile.methods {
        cumulative += share;
        if draw < cumulative {
            return method;
        }
    }
    profile.methods.last().map_or("card", |(method, _)| method)
}

/// A seed per (run seed, tenant, day), so each day is reproducible alone.
fn day_seed(seed: u64, tenant: &str, date: NaiveDate) -> u64 {
    // FNV-1a over the tenant id: stable across runs and platforms, unlike
    // the standard library's randomly keyed hasher.
    let tenant_hash = tenant.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    seed ^ tenant_hash ^ (i64::from(date.num_days_from_ce()) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::profiles::profile;
    use crate::store::documents::to_chrono;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    /// A "now" after every day these tests generate, fixed so that what they
    /// generate does not depend on when they run.
    fn later() -> DateTime<Utc> {
        date("2026-11-24").and_hms_opt(0, 0, 0).unwrap().and_utc()
    }

    #[test]
    fn the_same_day_gives_the_same_payments() {
        let now = later();
        let first = day_of_payments(&profile("acme"), date("2026-11-02"), 20.0, 7, now);
        let second = day_of_payments(&profile("acme"), date("2026-11-02"), 20.0, 7, now);
        let key = |payments: &[PaymentDoc]| -> Vec<_> {
            payments
                .iter()
                .map(|p| (p.external_id.clone(), p.amount_minor, p.status, p.created_at))
                .collect()
        };
        assert_eq!(key(&first), key(&second));
        assert!(!first.is_empty());
    }

    /// In Kolkata (UTC+05:30) the busy afternoon is the UTC morning: a
    /// generator that followed UTC hours would put the peak at 19:30 local
    /// and make 14:00 local barely busier than 03:00.
    #[test]
    fn traffic_follows_the_tenants_clock_and_failure_rates_stay_realistic() {
        let now = later();
        let initech = profile("initech");
        let kolkata: Tz = "Asia/Kolkata".parse().unwrap();
        assert_eq!(initech.timezone, "Asia/Kolkata");
        let mut by_local_hour = [0usize; 24];
        let mut failed = 0;
        let mut total = 0;
        for day in 1..=28 {
            let payments = day_of_payments(&initech, date("2026-10-01") + TimeDelta::days(day), 40.0, 1, now);
            for payment in &payments {
                let local = to_chrono(payment.created_at).with_timezone(&kolkata);
                by_local_hour[local.hour() as usize] += 1;
                failed += usize::from(payment.status == PaymentStatus::Failed);
            }
            total += payments.len();
        }
        assert!(
            by_local_hour[14] > 4 * by_local_hour[3],
            "local afternoons are busier than local nights: {by_local_hour:?}"
        );
        let peak = (0..24).max_by_key(|hour| by_local_hour[*hour]).unwrap();
        assert!(
            (13..=15).contains(&peak),
            "the busiest hour is mid-afternoon on the tenant's clock, not {peak}:00: {by_local_hour:?}"
        );
        let rate = failed as f64 / total as f64;
        assert!((0.02..=0.08).contains(&rate), "failure rate {rate}");
        let average_per_hour = total as f64 / (28.0 * 24.0);
        assert!((30.0..=50.0).contains(&average_per_hour), "{average_per_hour}");
    }

    #[test]
    fn nothing_is_created_in_the_future() {
        let now = Utc::now();
        let payments = day_of_payments(&profile("globex"), now.date_naive(), 100.0, 3, now);
        assert!(payments.iter().all(|payment| to_chrono(payment.created_at) < now));
        assert!(payments.iter().all(|payment| to_chrono(payment.updated_at) < now));
    }
}
