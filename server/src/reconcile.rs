//! `paypulse-server reconcile`: checks that the rollups analytics read equal
//! a recomputation from the raw payments, tenant by tenant, and with
//! `--repair` rewrites the cells that differ. Exits non-zero on drift it did
//! not repair, so it can run as a scheduled check.

use anyhow::{Context, bail};
use clap::Args;

use crate::config::DatabaseConfig;
use crate::store::Store;

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Only these tenants (default: every tenant).
    #[arg(long, value_delimiter = ',')]
    pub tenants: Vec<String>,
    /// Rewrite drifted cells with the values of the raw payments.
    #[arg(long)]
    pub repair: bool,
}

pub async fn run(args: ReconcileArgs) -> anyhow::Result<()> {
    let store = Store::connect(&args.database).await?;
    let tenants = if args.tenants.is_empty() {
        store.tenant_ids().await.context("listing tenants")?
    } else {
        args.tenants.clone()
    };
    let mut unrepaired = 0;
    for tenant in &tenants {
        let drift = store
            .drift(tenant)
            .await
            .with_context(|| format!("reconciling {tenant}"))?;
        if drift.is_empty() {
            println!("{tenant}: rollups match the raw payments");
            continue;
        }
        println!("{tenant}: {} cells differ from the raw payments", drift.len());
        for cell in drift.iter().take(20) {
            println!(
                "  {:?} {} {}: expected {:?}, stored {:?}",
                cell.level,
                paypulse_shared::time::format_utc(&cell.key.start),
                cell.key.method,
                cell.expected,
                cell.stored
            );
        }
        if args.repair {
            store
                .repair(&drift)
                .await
                .with_context(|| format!("repairing {tenant}"))?;
            println!("{tenant}: repaired {} cells", drift.len());
        } else {
            unrepaired += drift.len();
        }
    }
    if unrepaired > 0 {
        bail!("{unrepaired} cells drifted; run again with --repair to rewrite them from the raw payments");
    }
    Ok(())
}
