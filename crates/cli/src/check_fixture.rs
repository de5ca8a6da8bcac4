//! `acd check-fixture DIR`: one line per compared tensor, then `N passed, M failed`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use acd_core::fixture::{check, FixtureFiles};
use anyhow::Context;

use crate::backend::BackendKind;

#[derive(clap::Args)]
pub struct Args {
    /// Fixture folder: config.json, weights.safetensors, io.safetensors, images/.
    pub dir: PathBuf,
    /// Where to run: flex (the CPU default: gemm matmul, all cores), ndarray (CPU), wgpu, cuda.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendKind,
}

pub fn read_fixture(dir: &std::path::Path) -> anyhow::Result<FixtureFiles> {
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .with_context(|| format!("reading {}", dir.join(name).display()))
    };
    let mut images = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("images")) {
        for e in entries.flatten() {
            if e.path().is_file() {
                images.insert(
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path())?,
                );
            }
        }
    }
    Ok(FixtureFiles {
        config_json: String::from_utf8(read("config.json")?).context("config.json is not UTF-8")?,
        weights: read("weights.safetensors")?,
        io: read("io.safetensors")?,
        images,
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = read_fixture(&args.dir)?;
    let lines = crate::with_backend!(args.backend, |B, device| check::<B>(&files, &device)?);
    let (mut passed, mut failed) = (0, 0);
    for c in &lines {
        if let Some(reason) = &c.not_applicable {
            println!("N/A   {:<56} {reason}", c.name);
            continue;
        }
        let status = if c.passed() { "PASS" } else { "FAIL" };
        match &c.error {
            Some(e) => println!("{status}  {:<56} {e}", c.name),
            None => println!(
                "{status}  {:<56} max_abs {:.3e}  max_rel {:.3e}  tol {:.1e}",
                c.name, c.max_abs, c.max_rel, c.tolerance
            ),
        }
        if c.passed() {
            passed += 1
        } else {
            failed += 1
        }
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
