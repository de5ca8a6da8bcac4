//! The arithmetic of one detection, counted from the configuration: what the page divides by a
//! measured speed to say, before a large download, how long a detection will take on this device.
//!
//! Counted: every matrix product of the vision tower (patch stem, q/k/v and output projections,
//! attention scores and weighted values, MLP) and of the adapters and heads at each of the N
//! levels; a multiply-add is 2 FLOP. Not counted: LayerNorm, softmax, GELU, the blur and the
//! upsampling (a few per cent of the time, docs/benchmarks.md). The text tower runs once per
//! category when the model loads, not per image, so it is not part of a detection.

use burn::tensor::{backend::Backend, Distribution, Tensor};

use crate::config::{AcdClipConfig, VisionConfig};
use crate::error::Error;

/// FLOP of the vision tower's forward pass on one image (CLS token included).
pub fn vision_tower_flop(v: &VisionConfig) -> f64 {
    let patches = v.num_patches() as f64;
    let t = patches + 1.0;
    let d = v.width as f64;
    let mlp = v.mlp_hidden as f64;
    let stem = 2.0 * patches * (3 * v.patch_size * v.patch_size) as f64 * d;
    let projections = 2.0 * t * d * 4.0 * d; // q, k, v and the output projection
    let attention = 2.0 * 2.0 * t * t * d; // scores and the weighted sum, all heads together
    let ffn = 2.0 * 2.0 * t * d * mlp;
    stem + v.layers as f64 * (projections + attention + ffn)
}

/// FLOP of one detection: the vision tower plus, at each of the N levels, the Conv-LoRA adapter
/// (per kernel: LoRA down, k×k convolution in the rank, LoRA up; then the 1×1 fusion over the
/// kernels) and the seg/det heads with their similarity to the two text embeddings.
pub fn detection_flop(cfg: &AcdClipConfig) -> f64 {
    let v = &cfg.clip.vision;
    let a = &cfg.adapter;
    let t = (v.num_patches() + 1) as f64;
    let d = v.width as f64;
    let r = a.lora_rank as f64;
    let rc = a.conv_lora_rank as f64;
    let e = cfg.clip.embed_dim as f64;
    let kernels: f64 = a
        .kernels
        .iter()
        .map(|&k| 2.0 * t * (2.0 * d * r + rc * rc * (k * k) as f64))
        .sum();
    let fusion = 2.0 * t * a.kernels.len() as f64 * d * d;
    let heads =
        2.0 * 2.0 * t * (d * a.head_hidden as f64 + a.head_hidden as f64 * e) + 2.0 * 2.0 * t * e;
    vision_tower_flop(v) + a.n_groups as f64 * (kernels + fusion + heads)
}

/// The shape of the probe's product: one ViT-B MLP layer at 224 px (197 tokens, 768 → 3072),
/// 0.93 GFLOP: long enough to time, short enough not to delay a page (tens of ms on a CPU).
const PROBE_SHAPE: [usize; 3] = [197, 768, 3072];
const PROBE_RUNS: usize = 3;

/// This device's matrix-product speed on backend `B`, in FLOP per second: one untimed product
/// (kernel compilation, thread start, packing buffers), then the fastest of three. `now_ms` is
/// the caller's clock (the core has none: no I/O here). Reading the result back waits for a GPU.
pub async fn matmul_flop_per_second<B: Backend>(
    device: &B::Device,
    now_ms: impl Fn() -> f64,
) -> Result<f64, Error> {
    let [m, k, n] = PROBE_SHAPE;
    let a = Tensor::<B, 2>::random([m, k], Distribution::Default, device);
    let b = Tensor::<B, 2>::random([k, n], Distribution::Default, device);
    let mut best = f64::INFINITY;
    for run in 0..=PROBE_RUNS {
        let t = now_ms();
        // one value back, so the product is finished and the copy costs nothing
        a.clone()
            .matmul(b.clone())
            .slice([0..1, 0..1])
            .into_data_async()
            .await
            .map_err(|e| Error::Backend(format!("{e:?}")))?;
        if run > 0 {
            best = best.min(now_ms() - t);
        }
    }
    Ok(2.0 * (m * k * n) as f64 / (best.max(1e-3) / 1e3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{presets, Activation, AdapterConfig, Domain};
    use std::future::Future;

    /// The probe's FLOP count is the product's: with a clock that advances 1 ms per reading, every
    /// run takes 1 ms, so the speed is 2·m·k·n per millisecond.
    #[test]
    fn probe_speed_is_the_product_flop_over_the_fastest_run() {
        let clock = std::cell::Cell::new(0.0);
        let now = || {
            clock.set(clock.get() + 1.0);
            clock.get()
        };
        // burn-ndarray's read is ready at once: one poll finishes the future.
        let device = Default::default();
        let mut probe = std::pin::pin!(matmul_flop_per_second::<burn::backend::NdArray>(
            &device, now
        ));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(speed) = probe.as_mut().poll(&mut cx) else {
            panic!("the CPU backend's read should be ready at once");
        };
        let [m, k, n] = PROBE_SHAPE;
        assert_eq!(speed.unwrap(), 2.0 * (m * k * n) as f64 * 1e3);
    }

    /// ViT-B/16 at 224 px: 17.58 GMAC, the count published with the model (timm / fvcore's
    /// `ViT-B/16 ... 17.6 GFLOPs`, multiply-adds), i.e. 35.2 GFLOP.
    #[test]
    fn vit_b16_vision_tower_matches_the_published_count() {
        let flop = vision_tower_flop(&presets::vit_b_16(224, Activation::Gelu).vision);
        assert!(
            (flop / 2.0 / 1e9 - 17.58).abs() < 0.1,
            "{} GMAC",
            flop / 2e9
        );
    }

    /// ViT-L/14 at 224 px: 81.1 GMAC published (timm's vit_large_patch14_clip_224: 81.1 GMACs).
    #[test]
    fn vit_l14_vision_tower_matches_the_published_count() {
        let flop = vision_tower_flop(&presets::vit_l_14_336(224, Activation::Gelu).vision);
        assert!((flop / 2.0 / 1e9 - 81.1).abs() < 0.4, "{} GMAC", flop / 2e9);
    }

    /// The adapters are a small share of the paper's model, and the count grows with N.
    #[test]
    fn the_adapters_add_a_few_per_cent_per_level() {
        let cfg = |n_groups| AcdClipConfig {
            clip: presets::vit_l_14_336(518, Activation::Gelu),
            adapter: AdapterConfig {
                n_groups,
                ..AdapterConfig::default()
            },
            domain: Domain::Industrial,
            map_size: 518,
        };
        let tower = vision_tower_flop(&cfg(4).clip.vision);
        let (n4, n2) = (detection_flop(&cfg(4)), detection_flop(&cfg(2)));
        assert!(n4 > n2 && n2 > tower);
        // In units of T·D (D = 1024, T = 1370, E = 768): per level the 1×1 fusion over 2 kernels
        // 4·D = 4096, the two heads 4·(256·D + 256·E)/D + 4·E/D = 1795, the LoRA paths about 132;
        // the tower 24 blocks of 24·D + 4·T = 30056. So 6023 / 721344 = 0.835 % a level.
        let per_level = (n4 - n2) / 2.0;
        let share = per_level / tower;
        assert!((0.0081..0.0086).contains(&share), "{share}");
    }
}
