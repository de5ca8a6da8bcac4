//! What the CLI's end-to-end tests share: running the built `acd`, a fresh temporary folder, the
//! trained demo bundle.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `acd` with `args` followed by `paths`.
pub fn acd(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acd"))
        .args(args)
        .args(paths)
        .output()
        .unwrap()
}

/// Asserts that `out` succeeded (printing both streams if not) and returns its stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An empty folder for this test process, `acd-<tag>-<pid>` in the temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("acd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The trained demo bundle the page serves.
pub fn demo_bundle() -> PathBuf {
    package_dir().join("../../www/models/demo")
}

/// This package's directory as `cargo test` sets it at run time (why: `acd_parity::package_dir`).
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
