//! Alert evaluation benchmark (`cargo xtask bench alerts`): what evaluating
//! alert rules costs under production's conditions. 100 tenants, each with
//! five rules (two failure-rate windows, volume above and below, a volume
//! anomaly over three weeks of history), take 1,000 payments a second in
//! all through the writer (the ingest path without HTTP), while every
//! tenant is evaluated as production does (within a second of its writes,
//! and every 5 s).
//!
//! Rounds alternate the evaluator on and off under the same load (the
//! order alternating too). Reported: evaluations per second, the mean and
//! p99 time of one tenant's evaluation, the CPU seconds per second of this
//! process and of the database server with and without evaluation (so the
//! difference is what alerting costs), and per tenant. Results go to
//! target/bench/alerts.json.

mod common;

use std::time::{Duration, Instant};

use axum::extract::FromRef;
use paypulse_server::ingest::{CreatePayment, Ingestion};
use paypulse_server::seed::{self, SeedArgs};
use paypulse_server::state::AppState;
use paypulse_server::store::documents::TenantDoc;
use paypulse_shared::Amount;
use paypulse_shared::alerts::{AlertRule, RuleKind};
use serde_json::json;

const TENANTS: usize = 100;

fn rule(id: &str, kind: RuleKind, window: u32, threshold: Option<f64>) -> AlertRule {
    AlertRule {
        id: id.into(),
        name: id.into(),
        kind,
        window_minutes: window,
        threshold,
        min_attempts: (kind == RuleKind::FailureRate).then_some(10),
        pending_minutes: 2,
        keep_firing_minutes: 3,
        enabled: true,
        silenced_until: None,
    }
}

fn rules() -> Vec<AlertRule> {
    vec![
        rule("failures-10m", RuleKind::FailureRate, 10, Some(15.0)),
        rule("failures-1h", RuleKind::FailureRate, 60, Some(8.0)),
        rule("volume-high", RuleKind::VolumeAbove, 60, Some(1_000_000.0)),
        rule("volume-low", RuleKind::VolumeBelow, 30, Some(1.0)),
        rule("volume-band", RuleKind::VolumeAnomaly, 30, None),
    ]
}

/// Sends `rate` payments a second spread over `tenants` for `length`;
/// returns how many were written.
async fn load(state: &AppState, tenants: &[TenantDoc], rate: f64, length: Duration, round: usize) -> usize {
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    let mut sent = 0usize;
    let mut tasks = tokio::task::JoinSet::new();
    while started.elapsed() < length {
        ticker.tick().await;
        let due = (started.elapsed().as_secs_f64() * rate) as usize;
        while sent < due {
            let tenant = tenants[sent % tenants.len()].clone();
            let failed = sent.is_multiple_of(17);
            let body = CreatePayment {
                external_id: format!("bench_{round}_{sent}"),
                amount: Amount::from_minor(1_000 + (sent as i64 * 37) % 9_000, tenant.scale()),
                currency: tenant.currency.clone(),
                method: tenant.methods[sent % tenant.methods.len()].clone(),
                status: if failed { "failed" } else { "succeeded" }.into(),
                failure_reason: failed.then(|| "card_declined".into()),
                created_at: None,
            };
            let ingestion = Ingestion::from_ref(state);
            tasks.spawn(async move { ingestion.submit(&tenant, body).await.is_ok() });
            sent += 1;
        }
    }
    let mut written = 0;
    while let Some(done) = tasks.join_next().await {
        written += usize::from(done.unwrap_or(false));
    }
    written
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rate: f64 = common::arg("--rate", 1_000.0);
    let seconds: u64 = common::arg("--seconds", 20);
    let history_days: u32 = common::arg("--days", 22);
    let rounds = common::rounds();
    let uri = common::mongodb_uri("alerts")?;
    let database = format!("bench_{:x}", rand::random::<u32>());
    let config = common::config(&uri, &database);
    let state = paypulse_server::connect(config).await?;
    let store = state.store.clone();
    state.evaluator.set_paused(true);

    let names: Vec<String> = (0..TENANTS).map(|index| format!("tenant-{index:03}")).collect();
    let started = Instant::now();
    seed::seed(
        &store,
        &SeedArgs {
            database: state.config.database.clone(),
            tenants: names.clone(),
            days: history_days,
            rate: 2.0,
            demo_keys: false,
            random_seed: 7,
        },
    )
    .await?;
    eprintln!(
        "seeded {TENANTS} tenants with {history_days} days of history in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    for name in &names {
        let audit = paypulse_server::store::audit::AuditDoc::new(
            name,
            "bench",
            paypulse_server::store::audit::AuditAction::AlertRulesReplaced,
            "the benchmark's rules".to_owned(),
            chrono::Utc::now(),
        );
        state.writer.replace_alert_rules(name, rules(), audit).await?;
    }
    let tenants = store.all_tenants().await?;
    anyhow::ensure!(tenants.len() == TENANTS, "{} tenants", tenants.len());

    let own = std::process::id().to_string();
    let database_pids = common::database_pids(&uri);
    let mut with = Vec::new();
    let mut without = Vec::new();
    let mut rounds_json = Vec::new();
    for round in 0..rounds {
        for side in common::turns(round, 2) {
            let evaluating = side == 0;
            state.evaluator.set_paused(!evaluating);
            let before = state.evaluator.stats();
            let (own_before, db_before) = (common::cpu_seconds(&own).unwrap_or(0.0), common::cpu_of(&database_pids));
            let began = Instant::now();
            let written = load(&state, &tenants, rate, Duration::from_secs(seconds), round * 2 + side).await;
            let elapsed = began.elapsed().as_secs_f64();
            let after = state.evaluator.stats();
            let own_cpu = (common::cpu_seconds(&own).unwrap_or(0.0) - own_before) / elapsed;
            let db_cpu = (common::cpu_of(&database_pids) - db_before) / elapsed;
            let evaluations = after.evaluations - before.evaluations;
            let busy = (after.busy - before.busy).as_secs_f64();
            let row = json!({
                "round": round + 1,
                "evaluator": evaluating,
                "payments_per_second": written as f64 / elapsed,
                "cpu_per_second": { "server": own_cpu, "database": db_cpu, "both": own_cpu + db_cpu },
                "evaluations_per_second": evaluations as f64 / elapsed,
                "mean_evaluation_ms": if evaluations == 0 { 0.0 } else { busy * 1_000.0 / evaluations as f64 },
                "transitions_made": after.transitions_made - before.transitions_made,
            });
            eprintln!("{row}");
            if evaluating {
                with.push((
                    own_cpu + db_cpu,
                    evaluations as f64 / elapsed,
                    busy,
                    evaluations,
                    own_cpu,
                    db_cpu,
                ));
            } else {
                without.push(own_cpu + db_cpu);
            }
            rounds_json.push(row);
        }
    }
    let cpu_with: Vec<f64> = with.iter().map(|row| row.0).collect();
    let evaluations_per_second: Vec<f64> = with.iter().map(|row| row.1).collect();
    let mean_ms: Vec<f64> = with
        .iter()
        .map(|row| {
            if row.3 == 0 {
                0.0
            } else {
                row.2 * 1_000.0 / row.3 as f64
            }
        })
        .collect();
    let cost = common::median(&cpu_with) - common::median(&without);
    let result = json!({
        "benchmark": "alerts",
        "tenants": TENANTS,
        "rules_per_tenant": rules().len(),
        "payments_per_second_target": rate,
        "seconds_per_side": seconds,
        "history_days": history_days,
        "rounds": rounds_json,
        "median": {
            "cpu_per_second_with_evaluator": common::median(&cpu_with),
            "cpu_per_second_without": common::median(&without),
            "evaluator_cpu_per_second": cost,
            "evaluator_cpu_per_tenant_ms_per_second": cost * 1_000.0 / TENANTS as f64,
            "evaluations_per_second": common::median(&evaluations_per_second),
            "mean_evaluation_ms": common::median(&mean_ms),
        },
    });
    eprintln!(
        "evaluator: {:.1} evaluations/s, {:.1} ms per tenant evaluation (wall, incl. database), \
         {:.3} CPU-s/s in all ({:.2} ms of CPU per tenant per second), medians of {rounds} rounds",
        common::median(&evaluations_per_second),
        common::median(&mean_ms),
        cost,
        cost * 1_000.0 / TENANTS as f64,
    );
    common::write_result("alerts", &result)?;
    common::drop_database(store.database()).await;
    Ok(())
}
