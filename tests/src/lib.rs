//! The cross-backend parity harness: the core against the official-code fixtures and the
//! open_clip / PIL references made by `scripts/make_reference.py`, on every backend built.

pub mod backends;
pub mod synthetic_weights;

use std::path::PathBuf;

/// This package's directory, as `cargo test` gives it when the test runs (the value compiled in is
/// only the fallback: a test binary reused from another checkout sharing the target directory
/// would read that checkout's files).
pub fn package_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    package_dir()
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// `shared/` beside the checkout (CI lays a copy there), or `$ACD_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    if let Ok(d) = std::env::var("ACD_SHARED_DIR") {
        return PathBuf::from(d);
    }
    repo_root()
        .parent()
        .expect("checkout has a parent")
        .join("shared")
}

/// The official fixture folder (config A), or `$ACD_FIXTURE_DIR`.
pub fn official_fixture_dir() -> PathBuf {
    std::env::var("ACD_FIXTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| shared_dir().join("fixtures/acd-official"))
}

/// Committed references under `tests/reference/`.
pub fn reference_dir() -> PathBuf {
    repo_root().join("tests/reference")
}

/// The official fixture's weights (remapped, q/k/v packed) and its configuration, from its files
/// (`read_fixture(&official_fixture_dir())`, read once by the caller, which often needs the images too).
pub fn fixture_weights(
    files: &acd_fixture::official::FixtureFiles,
) -> (
    acd_core::weights::TensorStore,
    acd_fixture::official::FixtureConfig,
) {
    let store = acd_core::weights::TensorStore::from_safetensors(&files.weights)
        .unwrap()
        .finish();
    let config = acd_fixture::official::FixtureConfig::parse(&files.config_json, &store).unwrap();
    (store, config)
}
