//! `paypulse-server seed`: the demo tenants, the method catalogue, optional
//! demo keys, and realistic payment history. Idempotent: a second run with
//! the same flags inserts nothing and changes nothing.

pub(crate) mod generator;
pub mod profiles;

use std::io::{IsTerminal, Write};

use anyhow::Context;
use chrono::{TimeDelta, Utc};
use clap::Args;
use mongodb::bson::DateTime as BsonDateTime;

use crate::access::keys;
use crate::config::DatabaseConfig;
use crate::store::Store;
use crate::store::documents::{Role, TenantDoc};

pub use generator::day_of_payments;

/// Flags of `seed`.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Tenants to create (demo profiles exist for acme, globex, initech).
    #[arg(long, value_delimiter = ',', default_value = "acme,globex,initech")]
    pub tenants: Vec<String>,
    /// Days of history, today included.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Average payments per hour per tenant.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Also create the well-known keys pk_demo_<tenant>_viewer,
    /// pk_demo_<tenant>_ingest and pk_demo_<tenant>_admin. Never use in
    /// production.
    #[arg(long)]
    pub demo_keys: bool,
    /// Seed of the random generator; the same seed gives the same data.
    #[arg(long, default_value_t = 42)]
    pub random_seed: u64,
}

pub async fn run(args: SeedArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate > 0.0 && args.rate.is_finite(),
        "--rate must be a positive number"
    );
    let store = Store::connect(&args.database).await?;
    seed(&store, &args).await
}

/// Seeds into an open store (also used by the integration tests).
pub async fn seed(store: &Store, args: &SeedArgs) -> anyhow::Result<()> {
    store.ensure_methods().await.context("writing the method catalogue")?;
    let now = Utc::now();
    let today = now.date_naive();
    let interactive = std::io::stderr().is_terminal();
    for tenant_id in &args.tenants {
        let profile = profiles::profile(tenant_id);
        store
            .ensure_tenant(&TenantDoc {
                id: profile.id.clone(),
                name: profile.name.clone(),
                timezone: profile.timezone.to_owned(),
                currency: profile.currency.to_owned(),
                methods: profile.methods.iter().map(|(method, _)| (*method).to_owned()).collect(),
                alert_rules: None,
                api_keys: Vec::new(),
                created_at: BsonDateTime::now(),
            })
            .await
            .with_context(|| format!("creating tenant {tenant_id}"))?;
        if args.demo_keys {
            for role in Role::ALL {
                let key = keys::demo_key(tenant_id, role);
                store
                    .ensure_api_key(tenant_id, &keys::stored_key(&key, role, "demo"))
                    .await?;
            }
        }
        let mut inserted = 0;
        let mut existing = 0;
        for day in 0..args.days {
            let date = today - TimeDelta::days(i64::from(args.days - 1 - day));
            let payments = day_of_payments(&profile, date, args.rate, args.random_seed, now);
            let outcome = store
                .import_payments(&payments)
                .await
                .with_context(|| format!("inserting {tenant_id} {date}"))?;
            inserted += outcome.inserted;
            existing += outcome.duplicates;
            if interactive {
                eprint!(
                    "\r  {tenant_id}: day {}/{} · {inserted} new, {existing} already there   ",
                    day + 1,
                    args.days
                );
                std::io::stderr().flush().ok();
            }
        }
        if interactive {
            eprintln!();
        }
        println!(
            "seeded {tenant_id} ({}, {}, {}): {inserted} payments inserted, {existing} already present",
            profile.name, profile.timezone, profile.currency
        );
    }
    if args.demo_keys {
        println!(
            "demo keys: pk_demo_<tenant>_viewer (read), pk_demo_<tenant>_ingest (write) and pk_demo_<tenant>_admin (read, alert rules)"
        );
    }
    Ok(())
}
