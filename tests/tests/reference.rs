//! Normal-reference memory (few-shot mode) in the library, with the trained demo bundle:
//! - an image that is itself the memory's only reference has reference anomaly 0, so its map and
//!   score are exactly half the zero-shot ones (`½·zero-shot + ½·reference`), and it is in the domain;
//! - a memory stored in a bundle (`add_reference`) loads with its size and SHA-256 checked and gives
//!   the same detection as the same memory set at run time; a changed byte is refused with the file
//!   named; a manifest that names a memory file missing from `files` is refused; the bundle without
//!   memories still loads;
//! - a memory made for another model is refused with the reason.

use std::collections::HashMap;

use acd_cli::model_source::read_bundle;
use acd_core::preprocess::RgbImage;
use acd_core::reference::{
    BuildOptions, ReferenceFeatures, ReferenceGroup, ReferenceMemory, ReferenceSource,
};
use acd_core::weights::bundle::{
    add_reference, load_bundle, parse_manifest, BundleError, Manifest,
};
use acd_core::Detector;
use acd_data::TextureKind;

type Cpu = burn::backend::NdArray<f32>;

fn demo() -> (Manifest, HashMap<String, Vec<u8>>) {
    read_bundle(&acd_parity::repo_root().join("www/models/demo")).unwrap()
}

fn detector(manifest: &Manifest, files: &HashMap<String, Vec<u8>>) -> Detector<Cpu> {
    let device = Default::default();
    Detector::from_bundle(
        load_bundle::<Cpu>(manifest, files, &device).unwrap(),
        device,
    )
}

/// Windows of one tiles instance (a texture the demo was not trained on).
fn tiles(n: u32) -> Vec<RgbImage> {
    let strip = acd_data::product_strip(TextureKind::Tiles, 5, 128, n);
    (0..n)
        .map(|i| {
            let w = acd_data::product_window(&strip, 128, i).unwrap();
            RgbImage {
                width: 128,
                height: 128,
                pixels: w.into_raw(),
            }
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn an_image_that_is_its_own_reference_halves_the_zero_shot_map() {
    let (m, f) = demo();
    let mut d = detector(&m, &f);
    let img = tiles(1).remove(0);
    d.remove_reference("carpet");
    let zero = d.detect_image(&img, "carpet").unwrap();
    assert!(zero.reference.is_none() && zero.domain.is_none());
    for features in ReferenceFeatures::ALL {
        let options = BuildOptions {
            features,
            ..BuildOptions::default()
        };
        let memory = d
            .build_reference(std::slice::from_ref(&img), &options)
            .unwrap();
        let info = d
            .set_reference("carpet", memory, ReferenceSource::User)
            .unwrap();
        assert_eq!(info.images, 1);
        let det = d.detect_image(&img, "carpet").unwrap();
        assert!(
            det.reference_map.iter().all(|&a| a.abs() < 1e-3),
            "{features:?}"
        );
        let half: Vec<f32> = zero.map.iter().map(|v| 0.5 * v).collect();
        assert!(max_abs_diff(&det.map, &half) < 1e-3, "{features:?}");
        assert!((det.score - 0.5 * zero.score).abs() < 1e-3, "{features:?}");
        let domain = det.domain.unwrap();
        assert_eq!(domain.far_fraction, 0.0);
        assert!(!domain.outside);
    }
}

#[test]
fn memories_in_bundles_are_verified_and_equal_the_run_time_ones() {
    let (mut m, mut f) = demo();
    let refs = tiles(4);
    let probe = tiles(6).remove(5);
    let mut d = detector(&m, &f);
    let memory = d.build_reference(&refs, &BuildOptions::default()).unwrap();
    d.set_reference("wood", memory.clone(), ReferenceSource::User)
        .unwrap();
    let runtime = d.detect_image(&probe, "wood").unwrap();

    let (file, bytes) = add_reference(&mut m, "wood", &memory, "4 tiles windows", false).unwrap();
    f.insert(file.clone(), bytes.clone());
    let m = parse_manifest(&serde_json::to_string(&m).unwrap()).unwrap();
    let entry = m.files.iter().find(|e| e.file == file).unwrap();
    assert_eq!(entry.bytes, bytes.len() as u64);
    let mut d2 = detector(&m, &f);
    let stored = d2.detect_image(&probe, "wood").unwrap();
    let info = stored.reference.clone().unwrap();
    assert_eq!(
        (info.images, info.source, info.domain_only),
        (4, ReferenceSource::Bundle, false)
    );
    assert_eq!(max_abs_diff(&stored.map, &runtime.map), 0.0);
    assert_eq!(stored.score, runtime.score);

    // One changed byte: refused by its checksum, the file named.
    let mut tampered = f.clone();
    let b = tampered.get_mut(&file).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    match load_bundle::<Cpu>(&m, &tampered, &Default::default()) {
        Err(BundleError::Checksum { file: bad }) => assert_eq!(bad, file),
        other => panic!("expected a checksum error, got {:?}", other.err()),
    }
    // A memory file the manifest does not list (no size or SHA-256 to check).
    let mut unlisted = m.clone();
    unlisted.files.retain(|e| e.file != file);
    let err = load_bundle::<Cpu>(&unlisted, &f, &Default::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains(&file) && err.contains("not listed"), "{err}");
    // Without any memory (a bundle written before memories existed) it loads as before.
    let mut bare = m.clone();
    for c in &mut bare.categories {
        c.reference = None;
    }
    bare.files.retain(|e| !e.file.starts_with("reference-"));
    let d3 = detector(&bare, &f);
    assert!(d3.reference("wood").is_none() && d3.reference("carpet").is_none());
}

#[test]
fn a_memory_for_another_model_is_refused() {
    let (m, f) = demo();
    let mut d = detector(&m, &f);
    let wrong_width = ReferenceMemory {
        groups: vec![ReferenceGroup {
            dim: 32,
            features: vec![0.25; 32 * 4],
            normal_distance: 0.1,
        }],
        images: 1,
        grid: 16,
        seed: 0,
        features: ReferenceFeatures::PatchEmbedding,
    };
    let err = d
        .set_reference("carpet", wrong_width.clone(), ReferenceSource::User)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not fit") && err.contains("[32]"),
        "{err}"
    );
    let wrong_grid = ReferenceMemory {
        grid: 8,
        groups: vec![ReferenceGroup {
            dim: 64,
            ..wrong_width.groups[0].clone()
        }],
        ..wrong_width
    };
    let err = d
        .set_reference("carpet", wrong_grid, ReferenceSource::User)
        .unwrap_err()
        .to_string();
    assert!(err.contains("8 × 8"), "{err}");
}
