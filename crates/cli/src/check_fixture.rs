//! `acd check-fixture DIR`: one line per compared tensor, then `N passed, M failed`.

use std::path::PathBuf;
use std::process::ExitCode;

use acd_fixture::official::{check, read_fixture};

use crate::backend::BackendKind;

#[derive(clap::Args)]
pub struct Args {
    /// Fixture folder: config.json, weights.safetensors, io.safetensors, images/.
    pub dir: PathBuf,
    /// Where to run: flex (the CPU default: gemm matmul, all cores), ndarray (CPU), wgpu, cuda.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: BackendKind,
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
