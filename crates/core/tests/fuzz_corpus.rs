//! Replays the committed cargo-fuzz corpora (fuzz/corpus/<target>/, minimised with
//! `cargo fuzz cmin`) through the very functions the fuzz targets call (`acd_core::fuzz`), on
//! stable Rust, so that CI re-checks every input the fuzzer kept — and every input that once
//! crashed (fuzz/regressions/<target>/) — without nightly. A panic names the file.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) {
            files.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    files.sort();
    assert!(
        files.len() >= 10,
        "fuzz/corpus/{target} holds {} files: was the corpus committed?",
        files.len()
    );
    let panics: Vec<String> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).unwrap();
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        panics.is_empty(),
        "{target}: {} of {} inputs panic:\n{}",
        panics.len(),
        files.len(),
        panics.join("\n")
    );
}

#[test]
fn image_preprocess_corpus() {
    replay("image_preprocess", acd_core::fuzz::image_preprocess);
}

#[test]
fn bundle_manifest_corpus() {
    replay("bundle_manifest", acd_core::fuzz::bundle);
}

#[test]
fn pickle_corpus() {
    replay("pickle", acd_core::fuzz::pickle);
}

#[test]
fn tokenizer_corpus() {
    replay("tokenizer", acd_core::fuzz::tokenizer);
}
