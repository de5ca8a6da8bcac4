//! `acd eval` on image-level datasets, with the demo bundle on carpet textures: the same images as
//! plain folders with masks, as folders without masks, as a CSV index (probability labels and a
//! cut-off, no masks) and as a jsonl index with masks. Each form gives the same image metrics
//! (the same images and scores); pixel metrics exist exactly where every anomalous image has a
//! mask, and the report says so for each class. `acd train --synthetic` reads the CSV form.

mod support;
use support::{acd, demo_bundle, ok, temp_dir};

use std::path::{Path, PathBuf};
use std::process::Command;

/// Evaluates `dataset` (extra args after it) and returns report.json's only class.
fn eval(dataset: &Path, extra: &[&str], out: &Path) -> (serde_json::Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acd"));
    cmd.args(["eval", "--bundle"])
        .arg(demo_bundle())
        .arg("--dataset")
        .arg(dataset)
        .args(extra)
        .arg("--out")
        .arg(out);
    let stdout = ok(&cmd.output().unwrap());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let classes = report["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 1);
    (classes[0].clone(), stdout)
}

#[test]
fn folders_csv_and_jsonl_with_and_without_masks() {
    let dir = temp_dir("image-level-forms");
    let root = dir.join("folders");
    ok(&acd(
        &[
            "textures",
            "--textures",
            "carpet",
            "--normal",
            "6",
            "--anomalous",
            "6",
            "--anomalies",
            "spot,scratch",
            "--min-anomaly-area",
            "0.02",
            "--texture-seed",
            "31",
            "--texture-size",
            "128",
            "--out",
        ],
        &[&root],
    ));
    let carpet = root.join("carpet");
    let mut images: Vec<(String, bool)> = Vec::new();
    let mut masks: Vec<String> = Vec::new();
    for entry in walk(&carpet) {
        let rel = entry
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.contains("ground_truth") {
            masks.push(rel);
        } else {
            images.push((rel.clone(), !rel.starts_with("carpet/good/")));
        }
    }
    images.sort();
    assert_eq!(images.len(), 12);
    assert_eq!(masks.len(), 6);

    // 1. Folders with masks: pixel metrics.
    let (with_masks, _) = eval(&root, &[], &dir.join("r1"));
    assert_eq!(with_masks["pixel_metrics"]["status"], "computed");
    assert!(with_masks["pixel_auroc"].as_f64().is_some());

    // 2. The jsonl index with masks: the same numbers, pixels included.
    let mut jsonl = String::new();
    for (rel, bad) in &images {
        let p = Path::new(rel);
        let mut row =
            serde_json::json!({"image_path": rel, "label": u8::from(*bad), "class_name": "carpet"});
        if *bad {
            // carpet/<defect>/<stem>.png -> carpet/ground_truth/<defect>/<stem>_mask.png
            let defect = p.parent().unwrap().file_name().unwrap().to_string_lossy();
            let stem = p.file_stem().unwrap().to_string_lossy();
            let mask = format!("carpet/ground_truth/{defect}/{stem}_mask.png");
            assert!(masks.contains(&mask), "{mask} in {masks:?}");
            row["mask_path"] = serde_json::json!(mask);
        }
        jsonl.push_str(&format!("{row}\n"));
    }
    std::fs::write(root.join("index.jsonl"), jsonl).unwrap();
    let (from_jsonl, _) = eval(&root.join("index.jsonl"), &[], &dir.join("r2"));
    for k in ["image_auroc", "image_ap", "pixel_auroc", "pixel_ap"] {
        assert_eq!(from_jsonl[k], with_masks[k], "{k}");
    }

    // 3. A CSV with probabilities, a cut-off and no masks: image metrics only, and said so.
    let mut csv = String::from("file;p\n");
    for (i, (rel, bad)) in images.iter().enumerate() {
        // Normal images at 0 or 1/3, anomalous at 2/3 or 1: the cut-off 0.5 separates them.
        let p = match (bad, i % 2) {
            (false, 0) => "0",
            (false, _) => "0.3333",
            (true, 0) => "0.6667",
            (true, _) => "1",
        };
        csv.push_str(&format!("{rel};{p}\n"));
    }
    std::fs::write(root.join("labels.csv"), csv).unwrap();
    let columns = [
        "--image-column",
        "file",
        "--label-column",
        "p",
        "--label-cutoff",
        "0.5",
        "--class-name",
        "carpet",
    ];
    let (from_csv, md) = eval(&root.join("labels.csv"), &columns, &dir.join("r3"));
    for k in ["image_auroc", "image_ap", "image_f1_max"] {
        assert_eq!(from_csv[k], with_masks[k], "{k}");
    }
    assert_eq!(
        (
            from_csv["n_normal"].clone(),
            from_csv["n_anomalous"].clone()
        ),
        (6.into(), 6.into())
    );
    assert!(from_csv["pixel_auroc"].is_null() && from_csv["pixel_aupro"].is_null());
    assert_eq!(from_csv["pixel_metrics"]["status"], "no_masks");
    assert!(
        md.contains("carpet not computed: none of its 6 anomalous images has a mask"),
        "{md}"
    );

    // 4. Folders without masks: the same as the CSV.
    std::fs::remove_dir_all(carpet.join("ground_truth")).unwrap();
    let _ = std::fs::remove_file(root.join("index.jsonl"));
    let _ = std::fs::remove_file(root.join("labels.csv"));
    let (no_masks, _) = eval(&root, &[], &dir.join("r4"));
    assert_eq!(no_masks["pixel_metrics"]["status"], "no_masks");
    assert_eq!(no_masks["image_auroc"], with_masks["image_auroc"]);

    // Supervised training needs masks and says how to train without them.
    let o = acd(
        &[
            "train",
            "--preset",
            "tiny",
            "--image-size",
            "64",
            "--epochs",
            "1",
            "--dataset",
        ],
        &[&root, Path::new("--out"), &dir.join("run")],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("have no mask") && err.contains("--synthetic"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `acd train --synthetic` reads a CSV index (its normal rows) like any other dataset.
#[test]
fn train_synthetic_reads_a_csv_index() {
    let dir = temp_dir("image-level-train");
    ok(&acd(
        &[
            "textures",
            "--textures",
            "wood",
            "--normal",
            "4",
            "--texture-seed",
            "41",
            "--texture-size",
            "64",
            "--out",
        ],
        &[&dir.join("d")],
    ));
    let mut csv = String::from("path,label\n");
    for e in walk(&dir.join("d/wood/good")) {
        csv.push_str(&format!(
            "{},good\n",
            e.strip_prefix(dir.join("d")).unwrap().display()
        ));
    }
    std::fs::write(dir.join("d/normals.csv"), csv).unwrap();
    // Trains one epoch on the CSV's normal rows; `kinds` is --anomalies ("" for the default kinds).
    let train = |kinds: &str, out: &Path| {
        let mut args = vec![
            "train",
            "--preset",
            "tiny",
            "--image-size",
            "64",
            "--patch-size",
            "8",
            "--groups",
            "2",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--synthetic",
            "--class-name",
            "wood",
            "--backend",
            "flex",
        ];
        if !kinds.is_empty() {
            args.extend(["--anomalies", kinds]);
        }
        args.push("--dataset");
        acd(
            &args,
            &[&dir.join("d/normals.csv"), Path::new("--out"), out],
        )
    };
    let run = dir.join("run");
    ok(&train("", &run));
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    // 4 normal images, each once as it is and once with a synthetic anomaly.
    assert!(log.contains("\"samples_per_epoch\":8"), "{log}");
    assert!(
        log.contains("\"synthetic_anomalies\":[\"draem\",\"cut_paste\",\"scratch\",\"spot\"]"),
        "{log}"
    );
    // --anomalies chooses the kinds, the opt-in texture-wide one included; a wrong name is refused.
    let texture_wide = dir.join("run-wide");
    ok(&train("texture_wide,spot", &texture_wide));
    let log = std::fs::read_to_string(texture_wide.join("train.log")).unwrap();
    assert!(
        log.contains("\"synthetic_anomalies\":[\"texture_wide\",\"spot\"]"),
        "{log}"
    );
    let refused = train("smudge", &dir.join("run-bad"));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("texture_wide"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
