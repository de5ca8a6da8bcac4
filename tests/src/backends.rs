//! The same core on every backend that is built: the official fixture's per-stage comparison and
//! the end-to-end detector (text embedding, anomaly maps, fused scores) of one backend against the
//! CPU reference backend. Each backend's test file is a thin `#[cfg(feature = ...)]` shell around
//! these generic functions, so adding a backend adds no comparison code.

use std::collections::BTreeMap;

use acd_core::weights::load::load_acd_clip;
use acd_core::Detector;
use acd_fixture::official::read_fixture;
use acd_fixture::official::{check, Comparison};
use burn::tensor::backend::Backend;

use crate::official_fixture_dir;

/// The CPU backend every other backend is compared with.
pub type Reference = burn::backend::NdArray<f32>;

/// Stage of a fixture tensor: its name up to the first dot (`vision`, `seg`, `fusion`, …).
pub fn stage(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// Worst comparison per stage: (stage, tensors, max abs, max rel, worst tensor).
pub fn per_stage(lines: &[Comparison]) -> Vec<(String, usize, f64, f64, String)> {
    let mut by: BTreeMap<String, (usize, f64, f64, String)> = BTreeMap::new();
    for c in lines.iter().filter(|c| c.not_applicable.is_none()) {
        let e = by
            .entry(stage(&c.name).to_string())
            .or_insert((0, 0.0, 0.0, String::new()));
        e.0 += 1;
        e.1 = e.1.max(c.max_abs);
        if c.max_rel >= e.2 {
            e.2 = c.max_rel;
            e.3 = c.name.clone();
        }
    }
    by.into_iter()
        .map(|(s, (n, a, r, w))| (s, n, a, r, w))
        .collect()
}

/// A Markdown table of [`per_stage`], as docs/parity.md shows it.
pub fn stage_table(backend: &str, lines: &[Comparison]) -> String {
    let mut s = String::from(
        "| backend | stage | tensors | max abs | max rel (worst tensor) |\n|---|---|---|---|---|\n",
    );
    for (stage, n, abs, rel, worst) in per_stage(lines) {
        s += &format!("| {backend} | `{stage}.*` | {n} | {abs:.1e} | {rel:.1e} (`{worst}`) |\n");
    }
    s
}

/// Runs the official fixture's full check (every tensor of io.safetensors, plus the fast inference
/// path and the end-to-end path from the PNG files) on backend `B`; panics with the failed lines.
pub fn fixture_check_passes<B: Backend>(backend: &str, device: &B::Device) -> Vec<Comparison> {
    let dir = official_fixture_dir();
    let files =
        read_fixture(&dir).unwrap_or_else(|e| panic!("fixture at {}: {e:#}", dir.display()));
    let lines = check::<B>(&files, device).expect("check runs");
    println!("{}", stage_table(backend, &lines));
    let failed: Vec<_> = lines.iter().filter(|c| !c.passed()).collect();
    for c in &failed {
        eprintln!(
            "FAIL [{backend}] {} max_abs {:.3e} tol {:.1e} {:?}",
            c.name, c.max_abs, c.tolerance, c.error
        );
    }
    assert!(
        failed.is_empty(),
        "{backend}: {} of {} fixture comparisons failed",
        failed.len(),
        lines.len()
    );
    assert!(
        lines.len() > 100,
        "{backend}: only {} comparisons",
        lines.len()
    );
    lines
}

/// What the detector gives for the fixture's images on one backend.
pub struct DetectorOutput {
    pub text_embedding: Vec<f32>,
    /// Per image: (fused score, p_cls, map at model size).
    pub images: Vec<(f32, f32, Vec<f32>)>,
}

/// The fixture's model as `acd detect` runs it (folded adapters, cached class embedding computed
/// by the text tower from the category name) on the fixture's PNG images.
pub fn detect_fixture_images<B: Backend>(device: B::Device) -> DetectorOutput {
    let files = read_fixture(&official_fixture_dir()).unwrap();
    let (mut store, fc) = crate::fixture_weights(&files);
    let model = load_acd_clip::<B>(&mut store, &fc.model, true, &device).unwrap();
    let mut det = Detector::new(model, fc.model.clone(), device);
    let category = if fc.real_name.is_empty() {
        fc.class_name.clone()
    } else {
        fc.real_name.clone()
    };
    let text_embedding = det
        .text_embedding(&category)
        .unwrap()
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap();
    let images = files
        .images
        .values()
        .map(|bytes| {
            let d = det.detect(bytes, &category).unwrap();
            (d.score, d.p_cls, d.map)
        })
        .collect::<Vec<_>>();
    assert!(!images.is_empty(), "the fixture has no images");
    DetectorOutput {
        text_embedding,
        images,
    }
}

/// The largest absolute difference of two equally long vectors.
pub fn max_abs(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .fold(0.0, f64::max)
}

/// Cross-backend differences: (text embedding, maps, fused scores, p_cls), each the max abs.
pub fn cross_backend(ours: &DetectorOutput, reference: &DetectorOutput) -> [f64; 4] {
    assert_eq!(ours.images.len(), reference.images.len());
    let mut d = [
        max_abs(&ours.text_embedding, &reference.text_embedding),
        0.0,
        0.0,
        0.0,
    ];
    for ((s, p, m), (rs, rp, rm)) in ours.images.iter().zip(&reference.images) {
        d[1] = d[1].max(max_abs(m, rm));
        d[2] = d[2].max((*s as f64 - *rs as f64).abs());
        d[3] = d[3].max((*p as f64 - *rp as f64).abs());
    }
    d
}

/// Cross-backend tolerances (docs/architecture.md §3.1 applied to quantities bounded by 1:
/// probabilities and a unit-norm embedding): 1e-4 absolute.
pub const CROSS_BACKEND_TOLERANCE: f64 = 1e-4;

/// Backend `B` against the CPU reference on the detector path; panics when a difference exceeds
/// [`CROSS_BACKEND_TOLERANCE`]. Returns the differences for the report.
pub fn matches_cpu_reference<B: Backend>(backend: &str, device: B::Device) -> [f64; 4] {
    compare_with_cpu_reference::<B>(backend, device, CROSS_BACKEND_TOLERANCE).1
}

/// Backend `B`'s detector output and its differences from the CPU reference's; panics when a
/// difference exceeds `tolerance`.
pub fn compare_with_cpu_reference<B: Backend>(
    backend: &str,
    device: B::Device,
    tolerance: f64,
) -> (DetectorOutput, [f64; 4]) {
    let ours = detect_fixture_images::<B>(device);
    let reference = detect_fixture_images::<Reference>(Default::default());
    let d = cross_backend(&ours, &reference);
    println!(
        "| {backend} vs ndarray | text embedding {:.1e} | maps {:.1e} | scores {:.1e} | p_cls {:.1e} |",
        d[0], d[1], d[2], d[3]
    );
    for (what, v) in ["text embedding", "maps", "fused scores", "p_cls"]
        .iter()
        .zip(d)
    {
        assert!(
            v <= tolerance,
            "{backend} vs ndarray: {what} differ by {v:.3e} (> {tolerance:.0e})"
        );
    }
    (ours, d)
}

/// The fused image score of maps at the sizes images are detected at (224 px up to 1024 px, the
/// paper's 518 among them) on backend `B`, against the maximum taken on the host: the score is
/// `w·p_cls + (1 − w)·max(map)`, so a reduction that skips values would lower it unseen. Each map
/// is uniform in [0, 0.9) with its one largest value placed at a different position.
pub fn fused_score_sees_the_whole_map<B: Backend>(backend: &str, device: B::Device) {
    use acd_core::anomaly_map::fuse_score;
    use burn::tensor::{Tensor, TensorData};
    for (size, peak_at) in [(224, 7), (518, 268_000), (640, 1), (1024, 1_048_575)] {
        let n = size * size;
        // a fixed pseudo-random map (xorshift), so a failure is reproducible
        let mut state = 0x2545_f491_u32 ^ size as u32;
        let mut values: Vec<f32> = (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state >> 8) as f32 / (1u32 << 24) as f32 * 0.9
            })
            .collect();
        values[peak_at % n] = 0.97;
        let map = Tensor::<B, 3>::from_data(TensorData::new(values, [1, size, size]), &device);
        let p_cls = Tensor::<B, 1>::from_data(TensorData::new(vec![0.25f32], [1]), &device);
        let (score, pixel_max) = fuse_score(p_cls, map, 0.9);
        let read = |t: Tensor<B, 1>| t.into_data().convert::<f32>().to_vec::<f32>().unwrap()[0];
        let (score, pixel_max) = (read(score), read(pixel_max));
        assert_eq!(
            pixel_max, 0.97,
            "{backend}: the maximum of a {size}×{size} map is 0.97, the backend says {pixel_max}"
        );
        let want = 0.9 * 0.25 + 0.1 * 0.97;
        assert!(
            (score as f64 - want).abs() < 1e-6,
            "{backend}: fused score {score} of a {size}×{size} map, expected {want}"
        );
    }
}
