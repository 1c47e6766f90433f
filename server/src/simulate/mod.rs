//! The traffic simulator (`serve --simulate`): live payments for every tenant
//! through the same ingest path as real traffic (the same validation, the
//! same group-commit writer, the same refund call), at a configurable rate
//! that follows the tenant's daily rhythm, with occasional failure spikes and
//! refunds of recent payments. Off unless asked for; the run command turns it
//! on, tests do not.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::Timelike;
use mongodb::bson::oid::ObjectId;
use paypulse_shared::Amount;
use paypulse_shared::payment::PaymentStatus;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal};
use tokio::task::JoinSet;

use crate::ingest::CreatePayment;
use crate::seed::generator::{AMOUNT_SIGMA, FAILURE_REASONS, REFUND_RATE, SPIKE_FACTOR, diurnal, pick_method};
use crate::seed::profiles;
use crate::state::AppState;
use crate::store::documents::TenantDoc;
use crate::store::writes::CreateOutcome;

/// Recent succeeded payments kept per tenant as refund candidates.
const RECENT_PAYMENTS: usize = 1_000;
/// Average time between failure spikes, and how long one lasts.
const SPIKE_EVERY: Duration = Duration::from_secs(15 * 60);
const SPIKE_LENGTH: Duration = Duration::from_secs(90);

/// Starts one simulated stream per tenant; they stop when the set is dropped.
pub async fn start(state: AppState, rate_per_second: f64) -> anyhow::Result<JoinSet<()>> {
    use futures::TryStreamExt;
    let tenants: Vec<TenantDoc> = state
        .store
        .tenants()
        .find(mongodb::bson::doc! {})
        .await?
        .try_collect()
        .await?;
    let mut streams = JoinSet::new();
    for tenant in tenants {
        tracing::info!(tenant = %tenant.id, rate_per_second, "simulating live payments");
        streams.spawn(simulate_tenant(state.clone(), tenant, rate_per_second));
    }
    Ok(streams)
}

async fn simulate_tenant(state: AppState, tenant: TenantDoc, rate_per_second: f64) {
    let profile = profiles::profile(&tenant.id);
    let mut rng = StdRng::from_os_rng();
    let amounts = LogNormal::new(profile.median_minor.ln(), AMOUNT_SIGMA).expect("valid log-normal");
    let mean_diurnal = (0..24).map(diurnal).sum::<f64>() / 24.0;
    let mut recent: VecDeque<ObjectId> = VecDeque::with_capacity(RECENT_PAYMENTS);
    let mut spike_left = Duration::ZERO;
    loop {
        let hour = chrono::Utc::now().with_timezone(&tenant.tz()).hour();
        let rate = (rate_per_second * diurnal(hour) / mean_diurnal).max(1e-6);
        let wait = Duration::from_secs_f64(Exp::new(rate).expect("positive rate").sample(&mut rng).min(60.0));
        tokio::time::sleep(wait).await;

        spike_left = spike_left.saturating_sub(wait);
        if rng.random_bool((wait.as_secs_f64() / SPIKE_EVERY.as_secs_f64()).min(1.0)) {
            tracing::info!(tenant = %tenant.id, "simulating a failure spike");
            spike_left = SPIKE_LENGTH;
        }
        let failure_rate = if spike_left.is_zero() {
            profile.failure_rate
        } else {
            (profile.failure_rate * SPIKE_FACTOR).min(0.6)
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
        match crate::ingest::submit(&state, &tenant, body).await {
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
                && let Err(error) = crate::ingest::refund_by_id(&state, &tenant.id, id).await
            {
                tracing::warn!(tenant = %tenant.id, %error, "simulated refund failed");
            }
        }
    }
}
