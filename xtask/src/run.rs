//! `cargo xtask run`: the product on this machine in one command. Installs
//! what is missing, starts the embedded database (data kept in
//! .paypulse/data) unless `MONGODB_URI` is set, builds the dashboard and the
//! server, seeds demo tenants and keys on first run, serves with the traffic
//! simulator on, and prints a link that opens the dashboard signed in as a
//! demo tenant.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use clap::Args;

use crate::embedded_db::{EmbeddedDb, Storage};
use crate::process::{self, cargo, local_dir, root, terminate};
use crate::setup::{self, Needs};
use crate::ui;

/// Port the embedded database listens on for `run`.
const DATABASE_PORT: u16 = 27018;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Port of the dashboard and API.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Days of history to seed on first run: three weeks and today, so the
    /// volume-anomaly rule has the three seasons it needs.
    #[arg(long, default_value_t = 22)]
    days: u32,
    /// Average payments per hour per tenant, of the history and of the live
    /// simulation alike (one business at one rate); about 140,000 payments
    /// seeded in about a minute.
    #[arg(long, default_value_t = 90.0)]
    rate: f64,
    /// Delete the local database first and seed again.
    #[arg(long)]
    fresh: bool,
    /// Live simulated payments per second per tenant; `--rate` / 3600 unless
    /// given (a faster feed than the history makes all of it an anomaly).
    #[arg(long)]
    simulate_rate: Option<f64>,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    setup::ensure(Needs::default())?;
    ui::build(ui::Profile::Release)?;
    process::run(cargo().args(["build", "--package", "paypulse-server"]))?;
    let server = ui::target_root().join("debug/paypulse-server");

    let data = local_dir().join("data");
    let marker = local_dir().join("seeded");
    if args.fresh {
        std::fs::remove_dir_all(&data).ok();
        std::fs::remove_file(&marker).ok();
    }
    let embedded;
    let mongodb_uri = match std::env::var("MONGODB_URI") {
        Ok(uri) => uri,
        Err(_) => {
            embedded = EmbeddedDb::start(Storage::Directory(data), DATABASE_PORT)?;
            embedded.uri()
        }
    };

    if !marker.exists() {
        eprintln!(
            "seeding demo tenants (first run; {} days at {} payments/hour per tenant)",
            args.days, args.rate
        );
        process::run(
            std::process::Command::new(&server)
                .args([
                    "seed",
                    "--demo-keys",
                    "--days",
                    &args.days.to_string(),
                    "--rate",
                    &args.rate.to_string(),
                ])
                .env("MONGODB_URI", &mongodb_uri),
        )?;
        std::fs::write(&marker, "seeded by cargo xtask run\n").context("writing the seed marker")?;
    }

    let mut child = std::process::Command::new(&server)
        .args([
            "serve",
            "--simulate",
            "--simulate-rate",
            &args.simulate_rate.unwrap_or(args.rate / 3600.0).to_string(),
        ])
        .current_dir(root())
        .env("MONGODB_URI", &mongodb_uri)
        .env("PORT", args.port.to_string())
        .env("UI_DIST", ui::dist_dir())
        .spawn()
        .context("starting paypulse-server")?;
    let pid = Arc::new(AtomicU32::new(child.id()));
    let forwarded = Arc::clone(&pid);
    // Ctrl-C reaches the server through the terminal; forward it as well in
    // case the signal was sent to this process alone.
    ctrlc::set_handler(move || terminate(forwarded.load(Ordering::SeqCst))).context("installing the Ctrl-C handler")?;

    let link = format!("http://127.0.0.1:{}/#tenant=acme&key=pk_demo_acme_viewer", args.port);
    let admin = link.replace("_viewer", "_admin");
    eprintln!(
        "\n\x1b[1mPaypulse is running.\x1b[0m Open the dashboard (signed in as the demo tenant acme):\n\n    {link}\n\n\
         To edit the alert rules, sign in with the admin key: {admin}\n\
         Other demo tenants: globex (America/New_York), initech (Asia/Kolkata): change `tenant` and `key` in the link.\n\
         Stop with Ctrl-C.\n"
    );
    let status = child.wait().context("waiting for paypulse-server")?;
    eprintln!("paypulse-server stopped ({status}); stopping the database");
    Ok(())
}
