//! Paypulse's project automation, in Rust behind `cargo xtask`:
//! `run` (the product, on a fresh machine), `test` (everything CI checks),
//! `ui` (the WASM dashboard), `desktop` (the Tauri app: dev, .deb),
//! `setup` (the tools they need), `screenshots` (the README's), `bench`,
//! `fuzz` (the `cargo fuzz` targets, on nightly), `actionlint` (the CI
//! workflows).

mod bench;
mod desktop;
mod embedded_db;
mod fuzz;
mod process;
mod run;
mod screenshots;
mod setup;
mod test;
mod ui;
mod workflows;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Paypulse automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Install what is missing (system packages, WASM target, embedded
    /// database, wasm-opt), then run the product: database, seed, server,
    /// simulator, dashboard.
    Run(run::RunArgs),
    /// Run every check CI runs: fmt, clippy, unit and integration tests
    /// against real MongoDB-compatible and Redis servers, the WASM build,
    /// the desktop build and the browser smoke test.
    Test,
    /// Build the dashboard into ui/dist.
    Ui {
        /// Debug build: faster to compile, larger and slower.
        #[arg(long)]
        dev: bool,
    },
    /// Install the tools `run` and `test` need, and nothing else.
    Setup,
    /// The desktop app: `dev` (against `cargo xtask run`'s server) or
    /// `bundle` (the release .deb).
    Desktop {
        #[command(subcommand)]
        action: desktop::Action,
    },
    /// Copy the end-to-end tests' screenshots (target/screenshots/) into
    /// docs/screenshots/, where the README shows them.
    Screenshots,
    /// Run a benchmark (ingest, analytics, fanout, export, ui, detector); results in target/bench/<name>.json.
    Bench {
        name: String,
        /// Passed to the benchmark, e.g. `-- --payments 10000`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run the `cargo fuzz` targets (query, ingest, export_row, live), or
    /// one, each for `--seconds`, on the nightly toolchain; figures in
    /// target/bench/fuzz-<target>.json.
    Fuzz {
        target: Option<String>,
        #[arg(long, default_value_t = 600)]
        seconds: u64,
    },
    /// Check .github/workflows with actionlint (a step of `test` too).
    Actionlint,
}

fn main() -> std::process::ExitCode {
    // The error chain says what failed and how to fix it; a backtrace of
    // xtask itself would only bury that.
    match dispatch(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\x1b[1;31merror:\x1b[0m {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run(args) => run::run(args),
        Command::Test => test::test(),
        Command::Ui { dev } => {
            setup::ensure(setup::Needs::default())?;
            ui::build(if dev { ui::Profile::Dev } else { ui::Profile::Release })
        }
        Command::Setup => setup::ensure(setup::Needs::everything()),
        Command::Desktop { action } => desktop::desktop(action),
        Command::Screenshots => screenshots::copy(),
        Command::Bench { name, args } => bench::bench(&name, &args),
        Command::Fuzz { target, seconds } => fuzz::fuzz(target.as_deref(), seconds),
        Command::Actionlint => workflows::lint(),
    }
}
