//! Decision thresholds from data (`acd calibrate`): a score threshold at a target false-positive
//! rate on normal images, and the binomial interval a measured rate should fall in.
//!
//! # The threshold at a target FPR (split-conformal quantile)
//!
//! With `n` normal calibration scores sorted ascending `s₍₁₎ ≤ … ≤ s₍ₙ₎`, the threshold is just
//! above `s₍ₖ₎`, `k = ⌈(n + 1)(1 − α)⌉`, and an image is anomalous when its score is at or above
//! it (so when it is above `s₍ₖ₎`). For a new normal image exchangeable with the calibration
//! images its rank among the `n + 1` is uniform, so the false-positive rate is
//! `(n + 1 − k) / (n + 1) ≤ α`, and at least `α − 1/(n + 1)` (Vovk et al., *Algorithmic Learning
//! in a Random World*, 2005; Angelopoulos & Bates, *A Gentle Introduction to Conformal
//! Prediction*, 2021). It needs `k ≤ n`, i.e. `n ≥ ⌈(1 − α)/α⌉` images (99 for 1 %).

/// Normal images needed to calibrate at false-positive rate `fpr` (the `k ≤ n` condition above).
pub fn min_normals_for(fpr: f64) -> usize {
    // Smallest n with ⌈(n + 1)(1 − α)⌉ ≤ n; checked directly so that rounding cannot bite.
    let mut n = ((1.0 - fpr) / fpr).floor().max(1.0) as usize;
    while conformal_rank(n, fpr) > n {
        n += 1;
    }
    n
}

/// `k = ⌈(n + 1)(1 − α)⌉`, computed so that an exact product (e.g. 100 · 0.9) is not pushed up
/// by floating-point error.
fn conformal_rank(n: usize, fpr: f64) -> usize {
    let x = (n as f64 + 1.0) * (1.0 - fpr);
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        r as usize
    } else {
        x.ceil() as usize
    }
}

/// The threshold at false-positive rate `fpr` from normal images' scores (see the module
/// documentation): `Err` with the number of images needed when there are too few, or when a
/// score is not finite or `fpr` is not in (0, 1).
pub fn threshold_at_fpr(normal_scores: &[f32], fpr: f64) -> Result<f32, String> {
    if !(fpr > 0.0 && fpr < 1.0) {
        return Err(format!("target false-positive rate {fpr} is not in (0, 1)"));
    }
    if let Some(bad) = normal_scores.iter().find(|s| !s.is_finite()) {
        return Err(format!("a normal image has score {bad}"));
    }
    let n = normal_scores.len();
    let k = conformal_rank(n, fpr);
    if k > n || n == 0 {
        return Err(format!(
            "a false-positive rate of {fpr} needs at least {} normal images; there are {n}",
            min_normals_for(fpr)
        ));
    }
    let mut sorted = normal_scores.to_vec();
    sorted.sort_by(f32::total_cmp);
    Ok(sorted[k - 1].next_up())
}

/// The fraction of `scores` at or above `threshold`.
pub fn rate_at_or_above(scores: &[f32], threshold: f32) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.iter().filter(|&&s| s >= threshold).count() as f64 / scores.len() as f64
}

/// The central 95 % interval of a Binomial(n, p) count: the smallest `lo` with
/// `P(X ≤ lo) ≥ 0.025` and the smallest `hi` with `P(X ≤ hi) ≥ 0.975` (as
/// `scipy.stats.binom.ppf`). A measured false-positive count outside it is evidence that the
/// rate is not `p`.
pub fn binomial_interval_95(n: usize, p: f64) -> (usize, usize) {
    // The pmf by its recurrence from P(X = 0), in log space for large n.
    let (mut lo, mut hi) = (None, None);
    let mut cdf = 0.0;
    let log_q = (1.0 - p).ln();
    let mut log_pmf = n as f64 * log_q;
    for x in 0..=n {
        if x > 0 {
            log_pmf += ((n - x + 1) as f64 / x as f64).ln() + p.ln() - log_q;
        }
        cdf += log_pmf.exp();
        if lo.is_none() && cdf >= 0.025 {
            lo = Some(x);
        }
        if hi.is_none() && cdf >= 0.975 - 1e-12 {
            hi = Some(x);
            break;
        }
    }
    (lo.unwrap_or(n), hi.unwrap_or(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformal_threshold_on_ranks() {
        // Scores 1..=99, α = 0.1: k = ⌈100 · 0.9⌉ = 90, so 9 of the 99 are at or above it and a
        // new exchangeable score is above s₍₉₀₎ with probability 10/100.
        let scores: Vec<f32> = (1..=99).map(|i| i as f32).collect();
        let t = threshold_at_fpr(&scores, 0.1).unwrap();
        assert!(t > 90.0 && t < 90.001, "{t}");
        assert_eq!(rate_at_or_above(&scores, t), 9.0 / 99.0);
        // Order does not matter.
        let mut rev = scores.clone();
        rev.reverse();
        assert_eq!(threshold_at_fpr(&rev, 0.1).unwrap(), t);
    }

    #[test]
    fn too_few_images_and_bad_input_are_refused() {
        assert_eq!(min_normals_for(0.01), 99);
        assert_eq!(min_normals_for(0.1), 9);
        assert_eq!(min_normals_for(0.05), 19);
        let e = threshold_at_fpr(&[0.1; 98], 0.01).unwrap_err();
        assert!(e.contains("at least 99 normal images; there are 98"), "{e}");
        assert!(threshold_at_fpr(&[0.1; 99], 0.01).is_ok());
        assert!(threshold_at_fpr(&[0.1, f32::NAN], 0.4).is_err());
        assert!(threshold_at_fpr(&[0.1; 10], 0.0).is_err());
        assert!(threshold_at_fpr(&[], 0.5).is_err());
    }

    #[test]
    fn binomial_interval_matches_the_cdf() {
        // Reference values from the binomial CDF summed exactly (Python, math.comb).
        assert_eq!(binomial_interval_95(100, 0.1), (5, 16));
        assert_eq!(binomial_interval_95(200, 0.1), (12, 29));
        assert_eq!(binomial_interval_95(400, 0.01), (1, 8));
    }
}
