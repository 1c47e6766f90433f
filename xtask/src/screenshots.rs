//! `cargo xtask screenshots`: the pictures the README shows come from the
//! end-to-end tests, which save them in target/screenshots/ on every run;
//! this copies the latest into docs/screenshots/, so they are refreshed
//! by running the tests, never drawn by hand.

use anyhow::{Context, bail};

use crate::process::root;
use crate::ui;

pub fn copy() -> anyhow::Result<()> {
    let from = ui::target_root().join("screenshots");
    let to = root().join("docs/screenshots");
    std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
    let mut copied = Vec::new();
    for entry in std::fs::read_dir(&from).with_context(|| {
        format!(
            "no {}: run `cargo xtask test` (the end-to-end tests take them) first",
            from.display()
        )
    })? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "png") {
            let name = path.file_name().expect("a file").to_owned();
            std::fs::copy(&path, to.join(&name)).with_context(|| format!("copying {}", path.display()))?;
            copied.push(name.to_string_lossy().into_owned());
        }
    }
    if copied.is_empty() {
        bail!("no screenshots in {}", from.display());
    }
    copied.sort();
    eprintln!("copied into {}: {}", to.display(), copied.join(", "));
    Ok(())
}
