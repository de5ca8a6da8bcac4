//! The parity harness across backends: every backend that is built runs the official fixture's
//! per-stage check and the end-to-end detector, and is compared with the CPU backend.
//!
//!   cargo test --release -p acd-parity --test backends                   CPU: burn-flex against ndarray
//!   cargo test --release -p acd-parity --features wgpu --test backends   + wgpu (Vulkan; lavapipe in CI)
//!   cargo test --release -p acd-parity --features cuda --test backends   + CUDA (opt-in, needs a GPU)
//!
//! `--nocapture` prints each backend's per-stage table (docs/parity.md records them).

use acd_core::weights::raw::RawTensor;
use acd_fixture::official::{compare, Comparison};
use acd_parity::backends::{cross_backend, per_stage, stage, DetectorOutput};

/// The per-stage summary keeps the worst tensor of each stage, so one bad tensor cannot hide.
#[test]
fn per_stage_summary_keeps_the_worst_tensor() {
    let t = |v: &[f32]| RawTensor::new(vec![v.len()], v.to_vec());
    let lines: Vec<Comparison> = vec![
        compare("vision.block0.out", &t(&[1.0, 2.0]), &t(&[1.0, 2.0]), None),
        compare("vision.block1.out", &t(&[1.0, 2.5]), &t(&[1.0, 2.0]), None),
        compare("seg.group0.logits", &t(&[0.5]), &t(&[0.25]), None),
    ];
    assert_eq!(stage("vision.block1.out"), "vision");
    let s = per_stage(&lines);
    assert_eq!(s.len(), 2);
    let (name, n, abs, rel, worst) = &s[1];
    assert_eq!(
        (name.as_str(), *n, worst.as_str()),
        ("vision", 2, "vision.block1.out")
    );
    assert!((abs - 0.5).abs() < 1e-12 && (rel - 0.25).abs() < 1e-12);
    assert_eq!(s[0].0, "seg");
}

/// The cross-backend comparison sees a difference in any of its four quantities.
#[test]
fn cross_backend_comparison_sees_each_difference() {
    let base = || DetectorOutput {
        text_embedding: vec![0.1, 0.2],
        images: vec![(0.5, 0.4, vec![0.0, 1.0]), (0.6, 0.3, vec![0.2, 0.3])],
    };
    assert_eq!(cross_backend(&base(), &base()), [0.0; 4]);
    let mut o = base();
    o.text_embedding[1] = 0.25;
    o.images[1].2[0] = 0.5;
    o.images[0].0 = 0.0;
    o.images[1].1 = 0.0;
    let d = cross_backend(&o, &base());
    let want = [0.05, 0.3, 0.5, 0.3];
    for (got, want) in d.iter().zip(want) {
        assert!((got - want).abs() < 1e-6, "{d:?}");
    }
}

/// The two tests of one backend: the full fixture check, and the detector against ndarray.
macro_rules! backend_tests {
    ($module:ident, $name:literal, $backend:ty, $device:expr) => {
        mod $module {
            use acd_parity::backends::{fixture_check_passes, matches_cpu_reference};

            /// Every fixture tensor within the tolerance of the official output.
            #[test]
            fn official_fixture_passes() {
                fixture_check_passes::<$backend>($name, &$device);
            }

            /// The text embedding, maps and scores equal the CPU reference backend's.
            #[test]
            fn matches_ndarray() {
                matches_cpu_reference::<$backend>($name, $device);
            }

            /// The fused score takes the maximum of the whole map at every image size.
            #[test]
            fn fused_score_sees_the_whole_map() {
                acd_parity::backends::fused_score_sees_the_whole_map::<$backend>($name, $device);
            }
        }
    };
}

// burn-flex, the second CPU backend (always built: `acd --backend flex`, the CLI's default).
backend_tests!(
    flex,
    "flex",
    burn::backend::Flex,
    burn::backend::flex::FlexDevice
);

// wgpu: Vulkan (lavapipe in CI), Metal, DX12.
#[cfg(feature = "wgpu")]
backend_tests!(
    wgpu,
    "wgpu",
    burn::backend::Wgpu,
    burn::backend::wgpu::WgpuDevice::default()
);

// CUDA: opt-in, needs an NVIDIA GPU and driver at run time.
#[cfg(feature = "cuda")]
backend_tests!(
    cuda,
    "cuda",
    burn::backend::Cuda,
    burn::backend::cuda::CudaDevice::default()
);
