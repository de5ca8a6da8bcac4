//! The exact inference simplifications are exact: folding the 1×1 fusion conv and both LoRA scales
//! into the up-projections (docs/model.md §2.3), and one difference map instead of the per-group
//! 2-channel blur → upsample → mean → softmax (docs/model.md §4.3), on randomly initialised models
//! of several shapes.

use acd_core::anomaly_map::MapOperators;
use acd_core::clip::tokenizer::ClipTokenizer;
use acd_core::config::{
    AcdClipConfig, Activation, AdapterConfig, ClipConfig, ConfigError, Domain, TextConfig,
    VisionConfig,
};
use acd_core::model::{AcdClip, PredictOptions};
use acd_core::prompts::prompt_tokens;
use acd_core::trace::Trace;
use burn::tensor::{Distribution, Tensor};

type B = burn::backend::NdArray<f32>;

fn tiny(n_groups: usize, kernels: Vec<usize>, domain: Domain, image_size: usize) -> AcdClipConfig {
    AcdClipConfig {
        clip: ClipConfig {
            vision: VisionConfig {
                width: 32,
                layers: 6,
                heads: 2,
                patch_size: 8,
                image_size,
                mlp_hidden: 64,
            },
            text: TextConfig {
                width: 16,
                layers: 6,
                heads: 2,
                context_length: 77,
                vocab_size: 49408,
                mlp_hidden: 32,
            },
            embed_dim: 24,
            activation: Activation::Gelu,
        },
        adapter: AdapterConfig {
            n_groups,
            lora_rank: 4,
            conv_lora_rank: 2,
            kernels,
            head_hidden: 20,
            gate_hidden: 12,
            ..Default::default()
        },
        domain,
        map_size: image_size + 3,
    }
}

fn max_abs_diff<const D: usize>(a: &Tensor<B, D>, b: &Tensor<B, D>) -> f32 {
    (a.clone() - b.clone()).abs().max().into_scalar()
}

fn check(cfg: &AcdClipConfig) {
    cfg.validate().unwrap();
    let device = Default::default();
    let model = AcdClip::<B>::new(cfg, &device);
    let (n, a) = prompt_tokens(&ClipTokenizer::new(), "dark bottle").unwrap();
    let text = model
        .class_embedding(cfg, &n, &a, &device, &mut Trace::off())
        .unwrap();
    let s = cfg.clip.vision.image_size;
    let images = Tensor::<B, 4>::random([2, 3, s, s], Distribution::Normal(0.0, 1.0), &device);
    let ops = MapOperators::new(
        cfg.clip.vision.grid(),
        cfg.map_size,
        Some(cfg.domain.blur()),
    );

    // Reference: unfolded adapters, the official per-group order.
    let features = model.forward_vision(cfg, images.clone(), &mut Trace::off());
    let reference = model.predict(
        cfg,
        &features,
        text.clone(),
        &ops,
        PredictOptions::OFFICIAL,
        &mut Trace::off(),
    );
    // One difference map on the same features.
    let single = model.predict(
        cfg,
        &features,
        text.clone(),
        &ops,
        PredictOptions::INFERENCE,
        &mut Trace::off(),
    );
    assert!(
        max_abs_diff(&reference.map, &single.map) < 1e-6,
        "difference map: {}",
        max_abs_diff(&reference.map, &single.map)
    );
    // The folded model end to end.
    let folded = model.fold();
    assert!(folded.is_folded());
    let ff = folded.forward_vision(cfg, images, &mut Trace::off());
    for (a, b) in features.seg.iter().zip(&ff.seg) {
        assert!(
            max_abs_diff(a, b) < 1e-5,
            "seg tokens after folding: {}",
            max_abs_diff(a, b)
        );
    }
    let fast = folded.predict(
        cfg,
        &ff,
        text,
        &ops,
        PredictOptions::INFERENCE,
        &mut Trace::off(),
    );
    assert!(
        max_abs_diff(&reference.map, &fast.map) < 1e-5,
        "map: {}",
        max_abs_diff(&reference.map, &fast.map)
    );
    assert!(max_abs_diff(&reference.score, &fast.score) < 1e-5);
    assert_eq!(fast.map.dims(), [2, cfg.map_size, cfg.map_size]);
    // The map is a probability.
    let (lo, hi) = (
        fast.map.clone().min().into_scalar(),
        fast.map.max().into_scalar(),
    );
    assert!(lo >= 0.0 && hi <= 1.0, "map outside [0, 1]: {lo}..{hi}");
}

#[test]
fn folding_is_exact_for_the_paper_kernels() {
    check(&tiny(2, vec![3, 5], Domain::Industrial, 64));
}

#[test]
fn folding_is_exact_for_other_kernels_groups_and_the_medical_blur() {
    check(&tiny(3, vec![1, 3, 7], Domain::Medical, 72));
    check(&tiny(6, vec![5], Domain::Industrial, 40));
}

#[test]
fn groups_must_divide_both_depths() {
    let cfg = tiny(4, vec![3, 5], Domain::Industrial, 64);
    assert!(matches!(
        cfg.validate(),
        Err(ConfigError::GroupsDoNotDivide { n_groups: 4, .. })
    ));
    let mut even = tiny(2, vec![4], Domain::Industrial, 64);
    assert!(matches!(even.validate(), Err(ConfigError::BadKernels(_))));
    even.adapter.kernels = vec![3];
    even.validate().unwrap();
}
