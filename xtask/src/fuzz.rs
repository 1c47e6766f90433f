//! `cargo xtask fuzz [<target>] [--seconds N]`: runs the `cargo fuzz`
//! targets of `fuzz/` (docs/ARCHITECTURE.md "Fuzzing") one after another,
//! each for N seconds, on rustup's nightly toolchain, installing
//! cargo-fuzz and the toolchain when missing. Prints and writes to
//! target/bench/fuzz-<target>.json each target's executions, coverage (libFuzzer's
//! final `cov:` and `ft:`), corpus size and whether it crashed; fails when
//! one did, naming the input libFuzzer wrote to fuzz/artifacts/.
//!
//! The grown corpus stays in fuzz/corpus/ (out of git) for the next run;
//! fuzz/seeds/ holds a few committed inputs per target and fuzz/dicts/ the
//! tokens the inputs are made of.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::process;

/// The cargo-fuzz this project is fuzzed with.
const CARGO_FUZZ_VERSION: &str = "0.13.1";

/// Every target, with what it feeds the product.
pub const TARGETS: [(&str, &str); 4] = [
    ("query", "query strings and time ranges of every endpoint"),
    ("ingest", "POST /api/payments bodies, validated for a tenant"),
    ("export_row", "CSV export rows of arbitrary stored payments"),
    ("live", "the /ws/payments query string and live text frames"),
];

/// What one target's run showed.
#[derive(Debug, Default)]
struct Outcome {
    name: String,
    seconds: f64,
    executions: Option<u64>,
    coverage: Option<u64>,
    features: Option<u64>,
    corpus: usize,
    peak_rss_mb: Option<u64>,
    crashed: bool,
    artifact: Option<String>,
}

pub fn fuzz(target: Option<&str>, seconds: u64) -> anyhow::Result<()> {
    let targets: Vec<&str> = match target {
        None => TARGETS.iter().map(|(name, _)| *name).collect(),
        Some(name) if TARGETS.iter().any(|(known, _)| *known == name) => vec![name],
        Some(name) => {
            let known: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
            bail!("no fuzz target '{name}' (known: {})", known.join(", "));
        }
    };
    ensure_nightly()?;
    ensure_cargo_fuzz()?;
    process::run(nightly_fuzz().arg("build"))?;
    let mut outcomes = Vec::new();
    for name in targets {
        outcomes.push(run_target(name, seconds)?);
    }
    let reports = process::root().join("target/bench");
    std::fs::create_dir_all(&reports)?;
    for outcome in &outcomes {
        let path = reports.join(format!("fuzz-{}.json", outcome.name));
        std::fs::write(&path, summary(seconds, outcome)).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "\n{:<11} {:>12} {:>7} {:>8} {:>7}  crashed",
        "target", "executions", "cov", "ft", "corpus"
    );
    for outcome in &outcomes {
        let shown = |value: Option<u64>| value.map_or_else(|| "?".to_owned(), |value| value.to_string());
        eprintln!(
            "{:<11} {:>12} {:>7} {:>8} {:>7}  {}",
            outcome.name,
            shown(outcome.executions),
            shown(outcome.coverage),
            shown(outcome.features),
            outcome.corpus,
            outcome
                .artifact
                .as_deref()
                .unwrap_or(if outcome.crashed { "yes" } else { "no" }),
        );
    }
    eprintln!("written to {}/fuzz-<target>.json", reports.display());
    let crashed: Vec<&str> = outcomes
        .iter()
        .filter(|outcome| outcome.crashed)
        .map(|outcome| outcome.name.as_str())
        .collect();
    if !crashed.is_empty() {
        bail!(
            "fuzzing found failures in {}: reproduce with `cargo +nightly fuzz run <target> <artifact>`, then add the input as a unit test next to the code and fix it",
            crashed.join(", ")
        );
    }
    Ok(())
}

/// `cargo +nightly fuzz`, from the workspace root (where fuzz/ is).
fn nightly_fuzz() -> Command {
    let mut command = Command::new("cargo");
    command.current_dir(process::root()).args(["+nightly", "fuzz"]);
    // `cargo xtask` sets the stable toolchain for its children; rustup's
    // `+nightly` must win.
    command.env_remove("RUSTUP_TOOLCHAIN").env_remove("CARGO");
    command
}

fn ensure_nightly() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .context("running rustup: fuzzing needs rustup's nightly toolchain")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.starts_with("nightly"))
    {
        return Ok(());
    }
    process::run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))
}

fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let version = nightly_fuzz().arg("--version").output();
    let wanted = format!("cargo-fuzz {CARGO_FUZZ_VERSION}");
    if version.is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == wanted) {
        return Ok(());
    }
    process::run(
        Command::new("cargo")
            .args(["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ_VERSION])
            .env_remove("RUSTUP_TOOLCHAIN"),
    )
}

/// Runs `name` for `seconds`, echoing libFuzzer's output and keeping the
/// figures of its last lines.
fn run_target(name: &str, seconds: u64) -> anyhow::Result<Outcome> {
    let fuzz_dir = process::root().join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(name);
    std::fs::create_dir_all(&corpus)?;
    let mut command = nightly_fuzz();
    command.args(["run", name]).arg(&corpus);
    let seeds = fuzz_dir.join("seeds").join(name);
    if seeds.is_dir() {
        command.arg(&seeds);
    }
    command.arg("--").args([
        format!("-max_total_time={seconds}"),
        "-print_final_stats=1".to_owned(),
        // An input that takes seconds is a denial of service, not a slow
        // machine; one that allocates half a gigabyte at once likewise.
        "-timeout=10".to_owned(),
        "-rss_limit_mb=2048".to_owned(),
        "-malloc_limit_mb=512".to_owned(),
    ]);
    let dictionary = fuzz_dir.join("dicts").join(format!("{name}.dict"));
    if dictionary.is_file() {
        command.arg(format!("-dict={}", dictionary.display()));
    }
    eprintln!("\x1b[1m$ {}\x1b[0m", process::describe(&command));
    let started = Instant::now();
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting the fuzz target {name}"))?;
    let mut outcome = Outcome {
        name: name.to_owned(),
        ..Outcome::default()
    };
    let stderr = child.stderr.take().expect("piped");
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        eprintln!("{line}");
        read_line(&line, &mut outcome);
    }
    let status = child.wait()?;
    outcome.seconds = started.elapsed().as_secs_f64();
    outcome.crashed |= !status.success();
    outcome.corpus = files_in(&corpus);
    Ok(outcome)
}

/// Takes what `line` of libFuzzer's output tells.
fn read_line(line: &str, outcome: &mut Outcome) {
    // `#123456 DONE cov: 812 ft: 3301 corp: 410/52Kb ...` and the
    // `pulse`/`NEW` lines before it: the last one seen is the final count.
    if line.starts_with('#') {
        let mut words = line.split_whitespace();
        while let Some(word) = words.next() {
            match word {
                "cov:" => outcome.coverage = words.next().and_then(|value| value.parse().ok()),
                "ft:" => outcome.features = words.next().and_then(|value| value.parse().ok()),
                _ => {}
            }
        }
    }
    if let Some(value) = line.strip_prefix("stat::number_of_executed_units:") {
        outcome.executions = value.trim().parse().ok();
    }
    if let Some(value) = line.strip_prefix("stat::peak_rss_mb:") {
        outcome.peak_rss_mb = value.trim().parse().ok();
    }
    if line.contains("==ERROR: libFuzzer") || line.starts_with("SUMMARY: libFuzzer") || line.contains("panicked at") {
        outcome.crashed = true;
    }
    if let Some((_, path)) = line.split_once("Test unit written to ") {
        outcome.artifact = Some(path.trim().to_owned());
    }
}

fn files_in(directory: &Path) -> usize {
    std::fs::read_dir(directory).map_or(0, |entries| entries.flatten().count())
}

/// One target's run as JSON (by hand: xtask has no serde).
fn summary(seconds: u64, outcome: &Outcome) -> String {
    let number = |value: Option<u64>| value.map_or_else(|| "null".to_owned(), |value| value.to_string());
    let artifact = outcome.artifact.as_ref().map_or_else(
        || "null".to_owned(),
        |path| format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\"")),
    );
    format!(
        "{{\n  \"target\": \"{}\",\n  \"maxTotalTime\": {seconds},\n  \"seconds\": {:.0},\n  \"executions\": {},\n  \"cov\": {},\n  \"ft\": {},\n  \"corpus\": {},\n  \"peakRssMb\": {},\n  \"crashed\": {},\n  \"artifact\": {}\n}}\n",
        outcome.name,
        outcome.seconds,
        number(outcome.executions),
        number(outcome.coverage),
        number(outcome.features),
        outcome.corpus,
        number(outcome.peak_rss_mb),
        outcome.crashed,
        artifact,
    )
}
