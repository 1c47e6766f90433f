//! Builds the dashboard without Trunk: cargo for wasm32, the bindgen step as
//! a library (wasm-bindgen-cli-support, pinned to the same version as the UI's
//! wasm-bindgen), wasm-opt from npm for size, then the static files. The
//! result in ui/dist is what the server serves and the desktop app embeds.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::process::{self, root};
use crate::setup::wasm_opt_path;

/// Build flavour of the dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Release,
}

pub fn dist_dir() -> PathBuf {
    root().join("ui/dist")
}

pub fn build(profile: Profile) -> anyhow::Result<()> {
    let (cargo_profile, target_dir) = match profile {
        Profile::Dev => ("dev", "debug"),
        Profile::Release => ("wasm-release", "wasm-release"),
    };
    process::run(process::cargo().args([
        "build",
        "--package",
        "paypulse-ui",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        cargo_profile,
    ]))?;
    let wasm = target_root()
        .join("wasm32-unknown-unknown")
        .join(target_dir)
        .join("paypulse-ui.wasm");
    let dist = dist_dir();
    std::fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
    eprintln!("\x1b[1m$ wasm-bindgen --target web {}\x1b[0m", wasm.display());
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        .typescript(false)
        .debug(profile == Profile::Dev)
        .out_name("paypulse-ui")
        .generate(&dist)
        .context("running wasm-bindgen")?;
    let bound = dist.join("paypulse-ui_bg.wasm");
    if profile == Profile::Release {
        // The features rustc's wasm32 target enables by default; wasm-opt
        // must accept them and may use nothing beyond them.
        let features = [
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
            "--enable-multivalue",
        ];
        process::run(
            Command::new(wasm_opt_path())
                .arg("-Oz")
                .args(features)
                .arg(&bound)
                .arg("-o")
                .arg(&bound),
        )?;
    }
    for file in ["index.html", "style.css"] {
        copy(&root().join("ui").join(file), &dist.join(file))?;
    }
    // The server sends these to browsers that accept gzip (all do): what a
    // first load transfers.
    let mut transfer = 0;
    for file in ["index.html", "style.css", "paypulse-ui.js", "paypulse-ui_bg.wasm"] {
        transfer += gzip(&dist.join(file))?;
    }
    let size = std::fs::metadata(&bound)?.len();
    eprintln!(
        "dashboard built in {} (wasm {} KB; first load {} KB gzipped)",
        dist.display(),
        size / 1024,
        transfer / 1024
    );
    Ok(())
}

/// Writes `<path>.gz` beside `path`; returns its size. Zopfli rather than
/// zlib's best level: the files are compressed once per build and sent on
/// every first load, and its gzip streams are some 5 % smaller (any gzip
/// decoder reads them).
fn gzip(path: &Path) -> anyhow::Result<u64> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut compressed = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        &bytes[..],
        &mut compressed,
    )
    .with_context(|| format!("compressing {}", path.display()))?;
    let mut target = path.as_os_str().to_owned();
    target.push(".gz");
    std::fs::write(&target, &compressed).with_context(|| format!("writing {}", Path::new(&target).display()))?;
    Ok(compressed.len() as u64)
}

fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::copy(from, to).with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// The shared target directory (CARGO_TARGET_DIR when set).
pub fn target_root() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}
