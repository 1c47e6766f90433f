//! `cargo xtask desktop`: the desktop app through the Tauri CLI our setup
//! installs. `dev` runs it against the product `cargo xtask run` serves;
//! `bundle` builds the `.deb` (the release build, the dashboard embedded);
//! the test suite packages a debug build the same way and drives the app
//! as that package installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::process::{self, root};
use crate::setup::{self, Needs};
use crate::ui;

#[derive(Clone, Copy, Debug, clap::Subcommand)]
pub enum Action {
    /// `tauri dev`: the app against http://127.0.0.1:8080 (start the
    /// product with `cargo xtask run` first).
    Dev,
    /// `tauri build`: the release `.deb` under target/release/bundle/deb/.
    Bundle,
}

pub fn desktop(action: Action) -> anyhow::Result<()> {
    setup::ensure(Needs {
        desktop: true,
        ..Needs::default()
    })?;
    match action {
        Action::Dev => process::run(tauri().arg("dev")),
        Action::Bundle => {
            let package = bundle(Profile::Release, true)?;
            eprintln!(
                "\nbuilt {}\ninstall it with: sudo apt install {}",
                package.display(),
                package.display()
            );
            Ok(())
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// What ships: optimised, as `tauri build` makes it.
    Release,
    /// What the tests drive: the same package from the debug build.
    Debug,
}

/// Builds the `.deb` and returns its path; `with_ui` builds the dashboard
/// first (tauri.conf.json's beforeBuildCommand), which a caller that has
/// just built it skips.
pub fn bundle(profile: Profile, with_ui: bool) -> anyhow::Result<PathBuf> {
    let mut command = tauri();
    command.args(["build", "--bundles", "deb", "--ci"]);
    if profile == Profile::Debug {
        command.arg("--debug");
    }
    if !with_ui {
        command.args(["--config", r#"{"build":{"beforeBuildCommand":null}}"#]);
    }
    process::run(&mut command)?;
    let folder = ui::target_root()
        .join(if profile == Profile::Debug { "debug" } else { "release" })
        .join("bundle/deb");
    // The newest package there: its name carries tauri.conf.json's version.
    let newest = std::fs::read_dir(&folder)
        .with_context(|| format!("tauri build made no {}", folder.display()))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|extension| extension == "deb"))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .max();
    let Some((_, package)) = newest else {
        bail!("tauri build made no .deb in {}", folder.display());
    };
    Ok(package)
}

/// Unpacks `package` into `into` (emptied first), as `dpkg` would install
/// it under `/`; returns the app's binary in it.
pub fn unpack(package: &Path, into: &Path) -> anyhow::Result<PathBuf> {
    if into.exists() {
        std::fs::remove_dir_all(into).with_context(|| format!("emptying {}", into.display()))?;
    }
    process::run(Command::new("dpkg-deb").arg("--extract").arg(package).arg(into))?;
    Ok(into.join("usr/bin/paypulse-desktop"))
}

/// The Tauri CLI, run in src-tauri/.
fn tauri() -> Command {
    let mut command = Command::new(setup::tauri_cli_path());
    command.current_dir(root().join("src-tauri"));
    command
}
