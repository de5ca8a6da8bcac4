//! `acd detect` on the hostile-image corpus (tests/corpus/images, scripts/make-image-corpus.py) as
//! one batch: each good file gives a result at its expected size, each bad file an error line with
//! the expected words, the batch goes on after every error, the exit status is 1 (some failed),
//! nothing panics, and no input is overwritten — even with the output folder the input folder and
//! an input named like another input's output.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture_dir() -> PathBuf {
    std::env::var("ACD_FIXTURE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| package_dir().join("../../../shared/fixtures/acd-official"))
}

fn corpus_dir() -> PathBuf {
    package_dir().join("../../tests/corpus/images")
}

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_corpus_as_one_batch_reports_the_bad_skips_nothing_else_and_overwrites_no_input() {
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus_dir().join("expected.json")).unwrap())
            .unwrap();
    let files = expected["files"].as_object().unwrap();
    let limits = &expected["limits"];

    // The corpus in a scratch folder, which is also the output folder; plus an input named like
    // the overlay `ok_rgb.png` would write.
    let dir = std::env::temp_dir().join(format!("acd-cli-corpus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in files.keys() {
        std::fs::copy(corpus_dir().join(name), dir.join(name)).unwrap();
    }
    std::fs::copy(corpus_dir().join("ok.bmp"), dir.join("ok_rgb.overlay.png")).unwrap();
    let before = snapshot(&dir);

    let output = Command::new(env!("CARGO_BIN_EXE_acd"))
        .arg("detect")
        .arg(&dir)
        .arg("--fixture")
        .arg(fixture_dir())
        .args(["--category", "bottle", "--out"])
        .arg(&dir)
        .arg("--max-image-bytes")
        .arg(limits["max_bytes"].to_string())
        .arg("--max-image-pixels")
        .arg(limits["max_pixels"].to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        output.status.code(),
        Some(1),
        "some images failed: {stderr}"
    );

    let lines: HashMap<String, Value> = stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let name = Path::new(v["image"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, v)
        })
        .collect();
    // One line per input file: every corpus file plus the extra one.
    assert_eq!(lines.len(), files.len() + 1, "{stdout}");
    let n_bad = files.values().filter(|w| w.get("error").is_some()).count();
    assert!(
        stderr.contains(&format!("{} of {} images failed", n_bad, files.len() + 1)),
        "{stderr}"
    );

    let mut problems = Vec::new();
    for (name, want) in files {
        let got = &lines[name];
        if let Some(ok) = want.get("ok") {
            if got.get("error").is_some()
                || got["width"] != ok["width"]
                || got["height"] != ok["height"]
            {
                problems.push(format!("{name}: {got}"));
            }
        } else {
            let err = got["error"].as_str().unwrap_or_default().to_lowercase();
            for w in want["error"].as_array().unwrap() {
                if !err.contains(&w.as_str().unwrap().to_lowercase()) {
                    problems.push(format!("{name}: error {err:?} lacks {w}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Inputs untouched; the good images got their outputs; `ok_rgb.png`'s outputs took another
    // name instead of overwriting the input `ok_rgb.overlay.png`.
    let after = snapshot(&dir);
    for (name, bytes) in &before {
        assert!(after[name] == *bytes, "input {name} was modified");
    }
    for name in ["ok_rgb.png", "ok_rgb.jpg"] {
        let overlay = lines[name]["overlay"].as_str().unwrap();
        assert!(
            overlay.contains("ok_rgb-") && !overlay.ends_with("/ok_rgb.overlay.png"),
            "{name}: {overlay}"
        );
    }
    assert!(lines["ok_rgb.overlay.png"]["score"].is_number());
    for (name, want) in files {
        let stem = name.rsplit_once('.').unwrap().0;
        let overlay = after.contains_key(&format!("{stem}.overlay.png"))
            || after.contains_key(&format!("{stem}-2.overlay.png"));
        assert_eq!(
            overlay,
            want.get("ok").is_some(),
            "{name}: overlay written only for good images"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Exit status 2: the command could not run at all (README, "Bad input, limits and exit codes").
#[test]
fn exit_status_2_when_the_command_cannot_run() {
    let dir = std::env::temp_dir().join(format!("acd-cli-exit2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::write(
        bundle.join("manifest.json"),
        r#"{"format": "acd-clip-bundle", "version": 99}"#,
    )
    .unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_acd"))
            .arg("detect")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let image = corpus_dir().join("ok_rgb.png");
    let (code, err) = run(&[
        dir.join("empty").as_os_str(),
        "--bundle".as_ref(),
        bundle.as_os_str(),
        "--category".as_ref(),
        "bottle".as_ref(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no image files found"), "{err}");
    let (code, err) = run(&[
        image.as_os_str(),
        "--bundle".as_ref(),
        bundle.as_os_str(),
        "--category".as_ref(),
        "bottle".as_ref(),
        "--out".as_ref(),
        dir.join("out").as_os_str(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("version 99"), "{err}");
    let (code, _) = run(&["--no-such-flag".as_ref()]);
    assert_eq!(code, Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// This package's directory as `cargo test` sets it at run time (why: `acd_parity::package_dir`).
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
