//! Few-shot mode end to end with the trained demo bundle (www/models/demo) on a texture it was never
//! trained on (tiles, in product mode: one texture instance, disjoint windows):
//! - `acd detect` without references: the bundle's carpet memory (domain check only) calls tiles
//!   outside what the model knows, and no verdict is given;
//! - `acd detect --reference DIR`: the memory holds the folder's images, normal windows are inside
//!   the domain, and an anomalous window scores above every normal one;
//! - a corrupt reference image stops the run with exit status 2 and its name, before any image;
//! - `acd eval --shots` on a folder dataset without training images holds the references out of
//!   its test images.

mod support;
use support::{acd, demo_bundle, temp_dir};

use std::path::Path;
use std::process::Output;

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Product-mode tiles: 4 normal + 4 anomalous test windows, 8 reference windows.
fn tiles(dir: &Path) {
    let out = acd(
        &[
            "textures",
            "--textures",
            "tiles",
            "--texture-product",
            "--normal",
            "4",
            "--anomalous",
            "4",
            "--references",
            "8",
            "--texture-seed",
            "3",
            "--texture-size",
            "128",
            "--min-anomaly-area",
            "0.02",
            "--anomalies",
            "spot,draem",
            "--out",
        ],
        &[dir],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn detect_with_and_without_references() {
    let dir = temp_dir("few-shot-detect");
    tiles(&dir);
    let t = dir.join("tiles");
    let bundle = demo_bundle();
    let common = [
        "detect",
        "--category",
        "carpet",
        "--threshold",
        "0.5",
        "--bundle",
    ];

    // The bundle's own carpet memory: tiles are outside what the model knows.
    let out = acd(
        &common,
        &[
            &bundle,
            &t.join("good"),
            Path::new("--out"),
            &dir.join("o1"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for l in lines(&out) {
        assert_eq!(l["reference"]["source"], "bundle", "{l}");
        assert_eq!(l["reference"]["domain_only"], true, "{l}");
        assert_eq!(l["domain"]["outside"], true, "{l}");
        assert_eq!(l["verdict"], "outside", "{l}");
        assert_eq!(l["note"], "outside what this model knows for carpet", "{l}");
    }

    // With 8 normal windows of this tiles instance as references.
    let out = acd(
        &common,
        &[
            &bundle,
            &t.join("good"),
            &t.join("anomalous"),
            Path::new("--reference"),
            &t.join("reference"),
            Path::new("--out"),
            &dir.join("o2"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ls = lines(&out);
    assert_eq!(ls.len(), 8);
    let mut normal = Vec::new();
    let mut anomalous = Vec::new();
    for l in &ls {
        assert_eq!(l["reference"]["images"], 8, "{l}");
        assert_eq!(l["reference"]["source"], "user", "{l}");
        assert_eq!(l["reference"]["domain_only"], false, "{l}");
        let far = l["domain"]["far_fraction"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&far), "{l}");
        let score = l["score"].as_f64().unwrap();
        if l["image"].as_str().unwrap().contains("/good/") {
            assert_eq!(
                l["domain"]["outside"], false,
                "a normal window is in the domain: {l}"
            );
            normal.push(score);
        } else {
            anomalous.push(score);
        }
    }
    let max_normal = normal.iter().cloned().fold(f64::MIN, f64::max);
    let min_anomalous = anomalous.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        min_anomalous > max_normal,
        "every anomalous window should score above every normal one: {anomalous:?} vs {normal:?}"
    );

    // A corrupt reference image: exit 2, named, nothing analysed.
    let bad = dir.join("bad-refs");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(t.join("reference/000.png"), bad.join("a.png")).unwrap();
    std::fs::write(bad.join("b.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let out = acd(
        &common,
        &[
            &bundle,
            &t.join("good"),
            Path::new("--reference"),
            &bad,
            Path::new("--out"),
            &dir.join("o3"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no image may be analysed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("b.png"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_shots_holds_references_out_of_a_folder_test_set() {
    let dir = temp_dir("few-shot-eval");
    // Class mode folder dataset: 6 normal + 3 anomalous images, no training split.
    let out = acd(
        &[
            "textures",
            "--textures",
            "wood",
            "--normal",
            "6",
            "--anomalous",
            "3",
            "--texture-seed",
            "11",
            "--texture-size",
            "128",
            "--min-anomaly-area",
            "0.02",
            "--anomalies",
            "spot",
            "--out",
        ],
        &[&dir],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bundle = demo_bundle();
    let report = dir.join("report");
    let out = acd(
        &["eval", "--layout", "folder", "--shots", "1,2", "--bundle"],
        &[
            &bundle,
            Path::new("--dataset"),
            &dir,
            Path::new("--out"),
            &report,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wood: no normal training images; 2 normal test images held out"),
        "{err}"
    );
    let table = String::from_utf8_lossy(&out.stdout);
    for mode in [
        "zero-shot",
        "bundle memory (domain check only)",
        "K = 1",
        "K = 2",
    ] {
        assert!(
            table.contains(&format!("| wood | {mode} |")),
            "{mode}: {table}"
        );
    }
    // Every row is on the same 4 normal + 3 anomalous test images.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("shots.json")).unwrap()).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        let c = &row["classes"][0];
        assert_eq!(
            (c["n_normal"].as_u64(), c["n_anomalous"].as_u64()),
            (Some(4), Some(3)),
            "{row}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
