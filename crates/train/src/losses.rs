//! The official training losses (docs/model.md §5.1): cross-entropy on the image logits, focal
//! loss and two dice terms on the 2-channel probability map. The map is given by its abnormal
//! channel `p` (`[B, H, W]`); the normal channel of a 2-way softmax is exactly `1 − p`.

use burn::tensor::{backend::Backend, Tensor};

/// Smoothing constant of the official `FocalLoss` (target clamp and `pt` offset).
const FOCAL_SMOOTH: f64 = 1e-5;

/// `mean(−(1 − pt)² · log pt)` over every pixel of the batch, `pt = Σ_c onehot_c·P_c + 1e-5`
/// with the one-hot target clamped to `[1e-5, 1 − 1e-5]` (gamma 2, alpha 1).
pub fn focal_loss<B: Backend>(p_abnormal: Tensor<B, 3>, mask: Tensor<B, 3>) -> Tensor<B, 1> {
    let t1 = mask.clone().clamp(FOCAL_SMOOTH, 1.0 - FOCAL_SMOOTH);
    let t0 = (mask.neg() + 1.0).clamp(FOCAL_SMOOTH, 1.0 - FOCAL_SMOOTH);
    let p0 = p_abnormal.clone().neg() + 1.0;
    let pt = t1 * p_abnormal + t0 * p0 + FOCAL_SMOOTH;
    let weight = (pt.clone().neg() + 1.0).powi_scalar(2);
    (weight * pt.log()).neg().mean()
}

/// Official `BinaryDiceLoss`: `1 − mean_b (2Σ p·m + 1) / (Σ p + Σ m + 1)`.
pub fn dice_loss<B: Backend>(p: Tensor<B, 3>, target: Tensor<B, 3>) -> Tensor<B, 1> {
    let [b, h, w] = p.dims();
    let p = p.reshape([b, h * w]);
    let t = target.reshape([b, h * w]);
    let inter = (p.clone() * t.clone()).sum_dim(1) * 2.0 + 1.0;
    let denom = p.sum_dim(1) + t.sum_dim(1) + 1.0;
    (inter / denom).mean().neg() + 1.0
}

/// Cross-entropy of the 2-way image logits given `p_cls = softmax(c)[abnormal]`:
/// `mean_b −log softmax(c)[label_b]`.
pub fn image_cross_entropy<B: Backend>(p_cls: Tensor<B, 1>, labels: Tensor<B, 1>) -> Tensor<B, 1> {
    let p0 = p_cls.clone().neg() + 1.0;
    let nll = labels.clone() * p_cls.log() + (labels.neg() + 1.0) * p0.log();
    nll.neg().mean()
}

/// The four terms (each a scalar tensor) and their sum, all with weight 1.
pub struct Losses<B: Backend> {
    pub total: Tensor<B, 1>,
    pub cross_entropy: Tensor<B, 1>,
    pub focal: Tensor<B, 1>,
    pub dice_normal: Tensor<B, 1>,
    pub dice_abnormal: Tensor<B, 1>,
}

/// `CE(c, label) + Focal(P, mask) + Dice(P[:,0], 1 − mask) + Dice(P[:,1], mask)`.
pub fn acd_clip_loss<B: Backend>(
    p_map: Tensor<B, 3>,
    mask: Tensor<B, 3>,
    p_cls: Tensor<B, 1>,
    labels: Tensor<B, 1>,
) -> Losses<B> {
    let cross_entropy = image_cross_entropy(p_cls, labels);
    let focal = focal_loss(p_map.clone(), mask.clone());
    let dice_normal = dice_loss(p_map.clone().neg() + 1.0, mask.clone().neg() + 1.0);
    let dice_abnormal = dice_loss(p_map, mask);
    Losses {
        total: cross_entropy.clone() + focal.clone() + dice_normal.clone() + dice_abnormal.clone(),
        cross_entropy,
        focal,
        dice_normal,
        dice_abnormal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::TensorData;

    type B = NdArray<f32>;

    fn t3(v: &[f32], shape: [usize; 3]) -> Tensor<B, 3> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), &Default::default())
    }
    fn scalar(t: Tensor<B, 1>) -> f64 {
        t.into_scalar() as f64
    }

    // Written from the formulas of docs/model.md §5.1 in plain f64, independent of the tensor code.
    fn focal_ref(p: &[f32], m: &[f32]) -> f64 {
        let e = 1e-5f64;
        let s: f64 = p
            .iter()
            .zip(m)
            .map(|(&p, &m)| {
                let (p, m) = (p as f64, m as f64);
                let pt = m.clamp(e, 1.0 - e) * p + (1.0 - m).clamp(e, 1.0 - e) * (1.0 - p) + e;
                -(1.0 - pt).powi(2) * pt.ln()
            })
            .sum();
        s / p.len() as f64
    }
    fn dice_ref(p: &[f32], m: &[f32], per: usize) -> f64 {
        let n = p.len() / per;
        let mut acc = 0.0;
        for b in 0..n {
            let (pp, mm) = (&p[b * per..(b + 1) * per], &m[b * per..(b + 1) * per]);
            let inter: f64 = pp.iter().zip(mm).map(|(&a, &c)| a as f64 * c as f64).sum();
            let sp: f64 = pp.iter().map(|&a| a as f64).sum();
            let sm: f64 = mm.iter().map(|&a| a as f64).sum();
            acc += (2.0 * inter + 1.0) / (sp + sm + 1.0);
        }
        1.0 - acc / n as f64
    }

    #[test]
    fn losses_equal_the_spec_formulas() {
        let p = [0.1, 0.9, 0.5, 0.3, 0.99, 0.01, 0.7, 0.2];
        let m = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let focal = scalar(focal_loss(t3(&p, [2, 2, 2]), t3(&m, [2, 2, 2])));
        assert!((focal - focal_ref(&p, &m)).abs() < 1e-6, "{focal}");
        let dice = scalar(dice_loss(t3(&p, [2, 2, 2]), t3(&m, [2, 2, 2])));
        assert!((dice - dice_ref(&p, &m, 4)).abs() < 1e-6, "{dice}");
        let pc = Tensor::<B, 1>::from_floats([0.2, 0.7], &Default::default());
        let y = Tensor::<B, 1>::from_floats([0.0, 1.0], &Default::default());
        let ce = scalar(image_cross_entropy(pc, y));
        let expected = -((0.8f64).ln() + (0.7f64).ln()) / 2.0;
        assert!((ce - expected).abs() < 1e-6, "{ce} vs {expected}");
    }

    #[test]
    fn a_perfect_map_has_near_zero_map_losses() {
        let m = [0.0, 1.0, 1.0, 0.0];
        let l = acd_clip_loss(
            t3(&m, [1, 2, 2]),
            t3(&m, [1, 2, 2]),
            Tensor::from_floats([0.5], &Default::default()),
            Tensor::from_floats([1.0], &Default::default()),
        );
        assert!(scalar(l.focal) < 1e-6);
        assert!(scalar(l.dice_abnormal) < 1e-6);
        assert!(scalar(l.dice_normal) < 1e-6);
        assert!((scalar(l.cross_entropy) - std::f64::consts::LN_2).abs() < 1e-6);
    }
}
