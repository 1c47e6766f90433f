//! The traffic simulator (`serve --simulate`): live payments for every tenant
//! through the same ingest path as real traffic (the same validation, the
//! same group-commit writer, the same refund call), at a configurable rate
//! that follows the tenant's daily rhythm, with occasional failure spikes and
//! refunds of recent payments. Off unless asked for; the run command turns it
//! on, tests do not.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::FromRef;
use mongodb::bson::oid::ObjectId;
use paypulse_shared::Amount;
use paypulse_shared::payment::PaymentStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};
use tokio::task::JoinSet;

use crate::ingest::{CreatePayment, Ingestion};
use crate::seed::generator::{AMOUNT_SIGMA, FAILURE_REASONS, REFUND_RATE, SPIKE_FACTOR, hourly_rate, pick_method};
use crate::seed::profiles;
use crate::state::AppState;
use crate::store::documents::TenantDoc;
use crate::store::writes::CreateOutcome;

/// Recent succeeded payments kept per tenant as refund candidates.
const RECENT_PAYMENTS: usize = 1_000;
/// The longest single wait: the rate follows the hour of the day, so a long
/// quiet wait is cut and drawn again at the rate of the new moment (the
/// exponential distribution forgets how long it already waited).
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Now and then the simulator breaks a tenant's traffic, so that a new user
/// sees alerts fire and resolve within minutes of `cargo xtask run`: a
/// failure spike (a failure rate far above the tenant's) a few minutes in and
/// then every quarter of an hour or so, and a volume drop (a tenth of the
/// usual traffic, long enough to leave the band of the same hours of earlier
/// weeks) ten minutes in and then about hourly.
#[derive(Clone, Copy, Debug)]
struct Incident {
    /// Before the first one, between one's end and the next one's start
    /// (mean), and how long one lasts.
    first: (Duration, Duration),
    every: Duration,
    length: Duration,
}

const FAILURE_SPIKE: Incident = Incident {
    first: (Duration::from_secs(2 * 60), Duration::from_secs(4 * 60)),
    every: Duration::from_secs(15 * 60),
    length: Duration::from_secs(8 * 60),
};
/// The failure rate during a spike. At the demo's 90 payments an hour a
/// ten-minute window holds about 15 payments: a weaker or shorter spike
/// leaves the default rule (15 % from 10 payments) flapping between pending
/// and normal instead of firing (seen in a first run).
const SPIKE_FAILURE_RATE: f64 = 0.6;
const VOLUME_DROP: Incident = Incident {
    first: (Duration::from_secs(8 * 60), Duration::from_secs(12 * 60)),
    every: Duration::from_secs(45 * 60),
    length: Duration::from_secs(40 * 60),
};
/// The share of the usual traffic during a drop.
const DROP_SHARE: f64 = 0.1;

/// When an incident is on.
struct Schedule {
    incident: Incident,
    starts: tokio::time::Instant,
    ends: tokio::time::Instant,
}

impl Schedule {
    fn new(incident: Incident, rng: &mut StdRng) -> Self {
        let (earliest, latest) = incident.first;
        let starts = tokio::time::Instant::now() + rng.random_range(earliest..=latest);
        Self {
            incident,
            starts,
            ends: starts + incident.length,
        }
    }

    /// Whether the incident is on now; plans the next one once it is over.
    fn on(&mut self, rng: &mut StdRng, tenant: &str, what: &str) -> bool {
        let now = tokio::time::Instant::now();
        if now >= self.ends {
            let gap = Exp::new(1.0 / self.incident.every.as_secs_f64())
                .expect("a positive rate")
                .sample(rng);
            self.starts = now + Duration::from_secs_f64(gap);
            self.ends = self.starts + self.incident.length;
            tracing::info!(
                tenant,
                what,
                in_seconds = gap.round(),
                "simulator: next incident planned"
            );
        }
        now >= self.starts
    }
}

/// Starts one simulated stream per tenant; they stop when the set is dropped.
pub async fn start(state: AppState, rate_per_second: f64) -> anyhow::Result<JoinSet<()>> {
    let tenants = state.store.all_tenants().await?;
    let mut streams = JoinSet::new();
    for tenant in tenants {
        tracing::info!(tenant = %tenant.id, rate_per_second, "simulating live payments");
        streams.spawn(simulate_tenant(Ingestion::from_ref(&state), tenant, rate_per_second));
    }
    Ok(streams)
}

async fn simulate_tenant(ingestion: Ingestion, tenant: TenantDoc, rate_per_second: f64) {
    let profile = profiles::profile(&tenant.id);
    let mut rng = StdRng::from_os_rng();
    let amounts = LogNormal::new(profile.median_minor.ln(), AMOUNT_SIGMA).expect("valid log-normal");
    let mut recent: VecDeque<ObjectId> = VecDeque::with_capacity(RECENT_PAYMENTS);
    let mut spikes = Schedule::new(FAILURE_SPIKE, &mut rng);
    let mut drops = Schedule::new(VOLUME_DROP, &mut rng);
    loop {
        let local = chrono::Utc::now().with_timezone(&tenant.tz());
        let dropped = drops.on(&mut rng, &tenant.id, "volume drop");
        let share = if dropped { DROP_SHARE } else { 1.0 };
        // The seed's rhythm at the simulator's average rate.
        let rate = (hourly_rate(rate_per_second * 3600.0, &local) / 3600.0 * share).max(1e-6);
        let wait = Duration::from_secs_f64(Exp::new(rate).expect("positive rate").sample(&mut rng));
        if wait > MAX_WAIT {
            tokio::time::sleep(MAX_WAIT).await;
            continue;
        }
        tokio::time::sleep(wait).await;

        let failure_rate = if spikes.on(&mut rng, &tenant.id, "failure spike") {
            (profile.failure_rate * SPIKE_FACTOR).max(SPIKE_FAILURE_RATE)
        } else {
            profile.failure_rate
        };
        let failed = rng.random_bool(failure_rate);
        let method = pick_method(&profile, rng.random());
        let minor = (amounts.sample(&mut rng).round() as i64).max(1);
        let body = CreatePayment {
            external_id: format!("sim_{}_{:016x}", tenant.id, rng.random::<u64>()),
            amount: Amount::from_minor(minor, tenant.scale()),
            currency: tenant.currency.clone(),
            method: method.to_owned(),
            status: if failed {
                PaymentStatus::Failed
            } else {
                PaymentStatus::Succeeded
            }
            .as_str()
            .to_owned(),
            failure_reason: failed.then(|| FAILURE_REASONS[rng.random_range(0..FAILURE_REASONS.len())].to_owned()),
            created_at: None,
        };
        match ingestion.submit(&tenant, body).await {
            Ok(CreateOutcome::Created(payment)) if payment.status == PaymentStatus::Succeeded => {
                if recent.len() == RECENT_PAYMENTS {
                    recent.pop_front();
                }
                recent.push_back(payment.id);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(tenant = %tenant.id, %error, "simulated payment refused"),
        }
        if !recent.is_empty() && rng.random_bool(REFUND_RATE) {
            let index = rng.random_range(0..recent.len());
            if let Some(id) = recent.remove(index)
                && let Err(error) = ingestion.refund(&tenant.id, id).await
            {
                tracing::warn!(tenant = %tenant.id, %error, "simulated refund failed");
            }
        }
    }
}
