//! The model in f16 on wgpu (Vulkan; Mesa's lavapipe in CI), as `acd --backend wgpu-f16` runs it:
//! the weights and activations in f16, the map stage in f32 (`acd_core::precision`), against the
//! CPU reference in f32. Its own test binary: Burn fixes a device's precision once, and the f32
//! wgpu tests (tests/backends.rs) use the same device.
//!
//!   cargo test --release -p acd-parity --features wgpu --test wgpu_f16 -- --nocapture
#![cfg(feature = "wgpu")]

use std::sync::OnceLock;

use acd_cli::model_source::read_bundle;
use acd_core::preprocess::RgbImage;
use acd_core::reference::{BuildOptions, ReferenceSource};
use acd_core::weights::bundle::load_bundle;
use acd_core::weights::load::load_clip_only;
use acd_core::{Detector, Head};
use acd_data::TextureKind;
use acd_fixture::official::{read_fixture, FixtureFiles};
use acd_parity::backends::max_abs;
use acd_parity::{fixture_weights, official_fixture_dir};
use burn::backend::wgpu::WgpuDevice;
use burn::backend::Wgpu;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorData};

type Cpu = burn::backend::NdArray<f32>;

/// f16 keeps 11 significant bits: unit roundoff 2⁻¹¹ ≈ 4.9e-4. For the fixture's small random model
/// every compared quantity is bounded by 1 (probabilities, a unit-norm embedding): four units,
/// 2e-3 (measured: 4.9e-4 at most).
const FIXTURE_TOLERANCE: f64 = 2e-3;

/// Where the logits are scaled-up similarities (a trained model's; CLIP's ×100 in the training-free
/// head), the tokens' rounding is scaled with them: 100 · 2⁻¹¹ ≈ 0.05 in a logit per unit, up to
/// 0.012 in a sigmoid (slope ≤ ¼). Bound: 4 of the overlay's 256 colour levels, 4/255 ≈ 0.016
/// (measured: 7.2e-3 on the demo, 4.4e-3 training-free). A wrong kernel or an overflow moves the
/// maps by 0.1 and more.
const SCALED_LOGITS_TOLERANCE: f64 = 4.0 / 255.0;

/// The wgpu device with f16 as its precision (set once, before its first tensor).
fn f16_device() -> WgpuDevice {
    static READY: OnceLock<()> = OnceLock::new();
    let device = WgpuDevice::default();
    READY.get_or_init(|| {
        acd_core::precision::use_f16::<Wgpu>(&device)
            .expect("the Vulkan driver has f16 shaders (lavapipe does)")
    });
    device
}

/// Values of an f32 map that f16 cannot hold: none when the map stage ran in f16.
fn share_beyond_f16(values: &[f32]) -> f64 {
    let beyond = values
        .iter()
        .filter(|&&v| burn::tensor::f16::from_f32(v).to_f32() != v)
        .count();
    beyond as f64 / values.len() as f64
}

#[test]
fn the_fixture_model_in_f16_matches_the_f32_reference() {
    let device = f16_device();
    let made = Tensor::<Wgpu, 1>::from_data(TensorData::from([0.5f32]), &device);
    assert_eq!(
        made.dtype(),
        DType::F16,
        "the device does not make f16 tensors"
    );
    let (ours, _) = acd_parity::backends::compare_with_cpu_reference::<Wgpu>(
        "wgpu-f16",
        device,
        FIXTURE_TOLERANCE,
    );
    for (_, _, map) in &ours.images {
        let share = share_beyond_f16(map);
        assert!(
            share > 0.5,
            "only {share:.2} of the map's values are beyond f16: the map stage did not run in f32"
        );
    }
}

fn demo_detector<B: Backend>(device: B::Device) -> Detector<B> {
    let dir = acd_parity::repo_root().join("www/models/demo");
    let (manifest, files) = read_bundle(&dir).unwrap();
    Detector::from_bundle(
        load_bundle::<B>(&manifest, &files, &device).unwrap(),
        device,
    )
}

/// Windows of one tiles instance (a texture the demo was not trained on).
fn tiles(n: u32) -> Vec<RgbImage> {
    let strip = acd_data::product_strip(TextureKind::Tiles, 5, 128, n);
    (0..n)
        .map(|i| RgbImage {
            width: 128,
            height: 128,
            pixels: acd_data::product_window(&strip, 128, i).unwrap().into_raw(),
        })
        .collect()
}

/// The trained demo model, zero-shot and with a normal-reference memory of 4 images, in f16
/// against f32 on the CPU: the maps, the reference anomaly and the scores.
#[test]
fn the_demo_model_with_a_reference_memory_in_f16_matches_the_f32_reference() {
    let mut f16 = demo_detector::<Wgpu>(f16_device());
    let mut f32 = demo_detector::<Cpu>(Default::default());
    let images = tiles(6);
    let (normal, tested) = images.split_at(4);
    // zero-shot first: without the bundle's own (domain-only) memory
    f16.remove_reference("carpet");
    f32.remove_reference("carpet");
    for with_memory in [false, true] {
        if with_memory {
            let options = BuildOptions::default();
            let memory = f16.build_reference(normal, &options).unwrap();
            f16.set_reference("carpet", memory, ReferenceSource::User)
                .unwrap();
            let memory = f32.build_reference(normal, &options).unwrap();
            f32.set_reference("carpet", memory, ReferenceSource::User)
                .unwrap();
        }
        for image in tested {
            let (a, b) = (
                f16.detect_image(image, "carpet").unwrap(),
                f32.detect_image(image, "carpet").unwrap(),
            );
            let d = [
                max_abs(&a.map, &b.map),
                max_abs(&a.reference_map, &b.reference_map),
                (a.score as f64 - b.score as f64).abs(),
                (a.p_cls as f64 - b.p_cls as f64).abs(),
            ];
            println!("| demo, memory {with_memory} | map {:.1e} | reference {:.1e} | score {:.1e} | p_cls {:.1e} |", d[0], d[1], d[2], d[3]);
            assert!(
                d.iter().all(|&v| v <= SCALED_LOGITS_TOLERANCE),
                "f16 against f32 (memory: {with_memory}): {d:?}"
            );
            assert_eq!(a.reference_map.is_empty(), !with_memory);
            assert!(
                share_beyond_f16(&a.map) > 0.5,
                "the map stage did not run in f32"
            );
        }
    }
}

/// The fixture's CLIP alone as the training-free head (`acd export --training-free`).
fn training_free_detector<B: Backend>(files: &FixtureFiles, device: B::Device) -> Detector<B> {
    let (mut store, fixture) = fixture_weights(files);
    let cfg = fixture.model;
    let model = load_clip_only::<B>(&mut store, &cfg, true, &device).unwrap();
    Detector::with_head(model, cfg, Head::TrainingFree, device)
}

/// The training-free head in f16 against f32 on the CPU, on the fixture's images.
#[test]
fn the_training_free_head_in_f16_matches_the_f32_reference() {
    let files = read_fixture(&official_fixture_dir()).unwrap();
    let mut f16 = training_free_detector::<Wgpu>(&files, f16_device());
    let mut f32 = training_free_detector::<Cpu>(&files, Default::default());
    for bytes in files.images.values() {
        let (a, b) = (
            f16.detect(bytes, "bottle").unwrap(),
            f32.detect(bytes, "bottle").unwrap(),
        );
        let d = [
            max_abs(&a.map, &b.map),
            (a.score as f64 - b.score as f64).abs(),
            (a.p_cls as f64 - b.p_cls as f64).abs(),
        ];
        println!(
            "| training-free fixture | map {:.1e} | score {:.1e} | p_cls {:.1e} |",
            d[0], d[1], d[2]
        );
        assert!(
            d.iter().all(|&v| v <= SCALED_LOGITS_TOLERANCE),
            "training-free head, f16 against f32: {d:?}"
        );
        assert!(
            share_beyond_f16(&a.map) > 0.5,
            "the map stage did not run in f32"
        );
    }
}
