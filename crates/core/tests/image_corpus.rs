//! The hostile-image corpus (tests/corpus/images, written by scripts/make-image-corpus.py)
//! through the library: every file gives the outcome `expected.json` states — the decoded size
//! and quadrant colours for good files, an error with the stated words for bad ones — and no
//! file panics.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use acd_core::preprocess::{decode_image, preprocess, DecodeLimits};
use serde_json::Value;

fn corpus_dir() -> PathBuf {
    package_dir().join("../../tests/corpus/images")
}

fn expectations() -> (DecodeLimits, Vec<(String, Value)>) {
    let text = std::fs::read_to_string(corpus_dir().join("expected.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let limits = DecodeLimits {
        max_bytes: v["limits"]["max_bytes"].as_u64().unwrap() as usize,
        max_pixels: v["limits"]["max_pixels"].as_u64().unwrap(),
    };
    let files = v["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (limits, files)
}

/// What is wrong with the outcome of `name` (None when it is the expected one).
fn check(
    name: &str,
    want: &Value,
    got: Result<acd_core::preprocess::RgbImage, String>,
) -> Option<String> {
    match (want.get("ok"), got) {
        (Some(ok), Ok(img)) => {
            let (w, h) = (
                ok["width"].as_u64().unwrap() as usize,
                ok["height"].as_u64().unwrap() as usize,
            );
            if (img.width, img.height) != (w, h) {
                return Some(format!(
                    "{name}: decoded {}×{}, expected {w}×{h}",
                    img.width, img.height
                ));
            }
            let tol = ok["tol"].as_i64().unwrap();
            for p in ok["pixels"].as_array().unwrap() {
                let (x, y) = (
                    p[0].as_u64().unwrap() as usize,
                    p[1].as_u64().unwrap() as usize,
                );
                let at = 3 * (y * img.width + x);
                let got = &img.pixels[at..at + 3];
                let exp: Vec<i64> = p[2]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_i64().unwrap())
                    .collect();
                if got
                    .iter()
                    .zip(&exp)
                    .any(|(&g, &e)| (g as i64 - e).abs() > tol)
                {
                    return Some(format!(
                        "{name}: pixel ({x}, {y}) is {got:?}, expected {exp:?} ± {tol}"
                    ));
                }
            }
            None
        }
        (Some(_), Err(e)) => Some(format!("{name}: expected an image, got the error {e:?}")),
        (None, Ok(img)) => Some(format!(
            "{name}: expected an error, decoded {}×{}",
            img.width, img.height
        )),
        (None, Err(e)) => {
            let words: Vec<&str> = want["error"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect();
            let missing: Vec<&&str> = words
                .iter()
                .filter(|w| !e.to_lowercase().contains(&w.to_lowercase()))
                .collect();
            (!missing.is_empty()).then(|| format!("{name}: error {e:?} lacks {missing:?}"))
        }
    }
}

#[test]
fn every_corpus_file_has_its_expected_outcome_and_none_panics() {
    let (limits, files) = expectations();
    // The folder and the expectations describe the same files.
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.json")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "corpus folder vs expected.json");
    assert!(files.iter().filter(|(_, w)| w.get("ok").is_some()).count() >= 20);
    assert!(
        files
            .iter()
            .filter(|(_, w)| w.get("error").is_some())
            .count()
            >= 10
    );

    let mut failures = Vec::new();
    for (name, want) in &files {
        let bytes = std::fs::read(corpus_dir().join(name)).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let decoded = decode_image(&bytes, &limits).map_err(|e| e.to_string());
            // The model input path (resize + normalise) takes the same decision.
            let input = preprocess(&bytes, 24, &limits);
            (decoded, input)
        }));
        match outcome {
            Err(_) => failures.push(format!("{name}: PANIC")),
            Ok((decoded, input)) => {
                if decoded.is_ok() != input.is_ok() {
                    failures.push(format!("{name}: decode and preprocess disagree"));
                }
                if let Ok((x, _)) = &input {
                    if x.len() != 3 * 24 * 24 || !x.iter().all(|v| v.is_finite()) {
                        failures.push(format!("{name}: bad model input"));
                    }
                }
                failures.extend(check(name, want, decoded));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn the_defaults_are_the_documented_limits_and_the_corpus_limits_bite() {
    let d = DecodeLimits::default();
    assert_eq!((d.max_bytes, d.max_pixels), (256 << 20, 64_000_000));
    // A file refused for its size under the corpus limits decodes under the defaults.
    let (limits, _) = expectations();
    let bytes = std::fs::read(corpus_dir().join("bad_too_many_bytes.bmp")).unwrap();
    assert!(decode_image(&bytes, &limits).is_err());
    let img = decode_image(&bytes, &d).unwrap();
    assert_eq!(
        (img.width, img.height, &img.pixels[..3]),
        (200, 120, &[1u8, 2, 3][..])
    );
    // A declared size over the default pixel limit is refused under the defaults as well.
    let bomb = std::fs::read(corpus_dir().join("bad_bomb.png")).unwrap();
    let err = decode_image(&bomb, &d).unwrap_err().to_string();
    assert!(
        err.contains("10000×10000") && err.contains("64000000"),
        "{err}"
    );
}

/// This package's directory as `cargo test` sets it at run time (why: `acd_parity::package_dir`).
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
