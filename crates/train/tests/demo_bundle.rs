//! The committed demo bundle (`www/models/demo`, trained by `acd train` on procedural textures)
//! still detects: on held-out textures (data seed 1000, never used in training or validation)
//! it measured mean pixel AUROC 0.9629 and image AUROC 0.9892 (docs/training.md); the issue's
//! bar is 0.95 / 0.90, asserted here, so a re-trained bundle must meet it too. The data spec is
//! the one the demo was trained on.

use std::collections::HashMap;
use std::path::PathBuf;

use acd_core::weights::bundle::{load_bundle, parse_manifest};
use acd_core::Detector;
use acd_data::{AnomalyKind, TextureDatasetSpec, TextureKind};
use acd_train::evaluation::evaluate;
use acd_train::sources::texture_eval_set;
use burn::backend::NdArray;

type B = NdArray<f32>;

fn demo_dir() -> PathBuf {
    package_dir().join("../../www/models/demo")
}

#[test]
fn demo_bundle_detects_held_out_synthetic_anomalies() {
    let dir = demo_dir();
    let json =
        std::fs::read_to_string(dir.join("manifest.json")).expect("www/models/demo is committed");
    let manifest = parse_manifest(&json).unwrap();
    assert!(
        !manifest.untrained,
        "the demo bundle must be a trained model"
    );
    let files: HashMap<String, Vec<u8>> = manifest
        .files
        .iter()
        .map(|f| (f.file.clone(), std::fs::read(dir.join(&f.file)).unwrap()))
        .collect();
    let device = Default::default();
    let bundle = load_bundle::<B>(&manifest, &files, &device).unwrap();
    let size = bundle.manifest.config.clip.vision.image_size as u32;
    let mut detector = Detector::from_bundle(bundle, device);

    let spec = TextureDatasetSpec {
        kinds: vec![TextureKind::Carpet, TextureKind::Woven, TextureKind::Wood],
        anomaly_kinds: vec![AnomalyKind::Spot, AnomalyKind::Scratch],
        min_area_fraction: 0.02,
        ..TextureDatasetSpec::new(size, 20, 20, 1000)
    };
    let run = evaluate(&mut detector, texture_eval_set(&spec), 0.3, &mut |_, _| {}).unwrap();
    let mean = |f: &dyn Fn(&acd_eval::ClassResult) -> Option<f64>| {
        run.classes.iter().map(|c| f(c).unwrap()).sum::<f64>() / run.classes.len() as f64
    };
    let pixel = mean(&|c| c.pixel_auroc);
    let image = mean(&|c| c.image_auroc);
    for c in &run.classes {
        eprintln!(
            "{}: pixel AUROC {:.4}, image AUROC {:.4}",
            c.class_name,
            c.pixel_auroc.unwrap_or(f64::NAN),
            c.image_auroc.unwrap_or(f64::NAN)
        );
    }
    eprintln!("mean: pixel AUROC {pixel:.4}, image AUROC {image:.4}");
    assert_eq!(run.classes.len(), 3);
    assert!(pixel >= 0.95, "held-out pixel AUROC {pixel}");
    assert!(image >= 0.90, "held-out image AUROC {image}");
}

/// This package's directory as `cargo test` sets it at run time (why: `acd_parity::package_dir`).
fn package_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}
