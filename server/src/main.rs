//! `paypulse-server`: `serve` the API and dashboard, `seed` demo data,
//! `reconcile` the rollups with the raw payments, `healthcheck` a server.

use anyhow::Context;
use clap::{Parser, Subcommand};
use paypulse_server::config::Config;
use paypulse_server::seed::SeedArgs;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// jemalloc, not the system's malloc: see `paypulse_server::memory`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    name = "paypulse-server",
    version,
    about = "Paypulse: real-time payment analytics server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API, the live feed and the dashboard.
    Serve(Box<Config>),
    /// Create the demo tenants, their keys and realistic payment history.
    Seed(SeedArgs),
    /// Recompute the rollups from the raw payments and report (or, with
    /// --repair, fix) any cell that differs.
    Reconcile(paypulse_server::reconcile::ReconcileArgs),
    /// Ask the server on this host whether it answers (a container's
    /// health check).
    Healthcheck(paypulse_server::health::CheckArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env is normal outside development.
    dotenvy::dotenv().ok();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        // Colours for a terminal only: a file or a log collector gets
        // plain lines.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    match Cli::parse().command {
        Command::Serve(config) => serve(*config).await,
        Command::Seed(args) => paypulse_server::seed::run(args).await,
        Command::Reconcile(args) => paypulse_server::reconcile::run(args).await,
        Command::Healthcheck(args) => paypulse_server::health::check(args).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(?config, "starting");
    let address = (config.host, config.port);
    let state = paypulse_server::connect(config).await?;
    let _memory = paypulse_server::memory::report(state.clone());
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding {}:{}", address.0, address.1))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    paypulse_server::launch(state, listener, shutdown_signal()).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        tokio::signal::ctrl_c().await.ok();
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
