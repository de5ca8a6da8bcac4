//! Exact threshold-free metrics for anomaly detection, equal to scikit-learn.
//!
//! Every metric here is exact: no binning, every distinct score value is a
//! threshold. Scores are `f32`, labels are `u8` (0 = normal, anything else =
//! anomalous). The scores are sorted once (an LSD radix sort on the order-
//! preserving `u32` key of the `f32` bits) and a single walk over the sorted
//! scores, from the highest to the lowest distinct value, yields the ROC curve,
//! the precision–recall curve and, for pixels, the PRO curve. So AUROC, AP,
//! F1-max and AUPRO of ~40 million pixels share one sort.
//!
//! # Conventions (same as scikit-learn 1.9)
//!
//! Tied scores are collapsed into one curve point, as
//! `sklearn.metrics._ranking._binary_clf_curve` does: for the distinct score
//! values `t_1 > t_2 > … > t_k`, `TP_i` / `FP_i` count the anomalous / normal
//! samples with `score >= t_i`. With `P` anomalous and `N` normal samples:
//!
//! * **AUROC** (`roc_auc_score`): trapezoid rule over the points
//!   `(FP_i/N, TP_i/P)`, preceded by `(0, 0)`. Computed exactly in integers:
//!   `Σ (FP_i − FP_{i−1})(TP_i + TP_{i−1}) / (2PN)`.
//! * **AP** (`average_precision_score`): `Σ_i (R_i − R_{i−1}) P_i` with
//!   `R_i = TP_i/P`, `P_i = TP_i/(TP_i+FP_i)`, `R_0 = 0` (no interpolation).
//! * **F1-max**: the maximum over the same points of `2·P_i·R_i/(P_i+R_i)`
//!   (points with `P_i + R_i = 0` are skipped, as the usual
//!   `np.isfinite` filter does), with its threshold `t_i`. Ties between equal
//!   F1 values go to the lowest threshold, as `np.argmax` over sklearn's
//!   increasing-threshold `precision_recall_curve` output does.
//!
//! `-0.0` and `+0.0` are the same score. NaN scores are not supported (sklearn
//! rejects them); they would sort above `+inf`.
//!
//! Undefined values are `None`: AUROC when only one class is present (sklearn
//! returns NaN with a warning), AP and F1-max when there is no anomalous
//! sample (sklearn returns 0 with a warning), every metric on empty input. The
//! paper's protocol reports 0 for such a class: [`or_zero`] applies it.

/// A value of `None` (metric undefined: a single class present) becomes 0, as
/// the paper's evaluation protocol reports it.
pub fn or_zero(v: Option<f64>) -> f64 {
    v.unwrap_or(0.0)
}

/// The paper's convention for AUROC: 0 when only one class is present.
pub fn auroc_paper(scores: &[f32], labels: &[u8]) -> f64 {
    or_zero(auroc(scores, labels))
}

/// Area under the ROC curve, equal to `sklearn.metrics.roc_auc_score`.
/// `None` when the input is empty or only one class is present.
pub fn auroc(scores: &[f32], labels: &[u8]) -> Option<f64> {
    BinaryMetrics::compute(scores, labels, 2).auroc
}

/// Average precision, equal to `sklearn.metrics.average_precision_score`.
/// `None` when there is no anomalous sample (sklearn: 0 with a warning).
pub fn average_precision(scores: &[f32], labels: &[u8]) -> Option<f64> {
    BinaryMetrics::compute(scores, labels, 2).ap
}

/// Maximum F1 over all distinct thresholds, with the threshold that reaches it
/// (a sample is predicted anomalous when `score >= threshold`). Precision and
/// recall as `sklearn.metrics.precision_recall_curve`. `None` when there is no
/// anomalous sample (sklearn: F1 = 0 everywhere).
pub fn f1_max(scores: &[f32], labels: &[u8]) -> Option<(f64, f32)> {
    let m = BinaryMetrics::compute(scores, labels, 2);
    m.f1_max.zip(m.f1_threshold)
}

/// AUPRO up to `fpr_limit` (the MVTec AD definition; see [`PixelMetrics`]).
/// `maps[i]` and `masks[i]` are row-major `height × width` images; a mask
/// pixel is anomalous when non-zero. `None` when there is no anomalous region
/// or no normal pixel.
///
/// # Panics
/// If a map or mask does not have `width * height` values, if `maps` and
/// `masks` differ in length, or if `fpr_limit` is not in `(0, 1]`.
pub fn aupro(
    maps: &[&[f32]],
    masks: &[&[u8]],
    width: usize,
    height: usize,
    fpr_limit: f64,
) -> Option<f64> {
    PixelMetrics::compute(maps, masks, width, height, fpr_limit, 2).aupro
}

/// A point of a curve for plotting: `(x, y)`.
pub type CurvePoint = (f32, f32);

/// AUROC, AP and F1-max of one set of scores, from one sort, with ROC and PR
/// curves downsampled for plotting.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryMetrics {
    pub auroc: Option<f64>,
    pub ap: Option<f64>,
    pub f1_max: Option<f64>,
    pub f1_threshold: Option<f32>,
    /// Anomalous (label ≠ 0) samples.
    pub n_positive: u64,
    /// Normal (label = 0) samples.
    pub n_negative: u64,
    /// ROC points `(FPR, TPR)` from `(0, 0)` to `(1, 1)`, at most the
    /// requested number (empty when a class is missing).
    pub roc: Vec<CurvePoint>,
    /// PR points `(recall, precision)` starting at `(0, 1)` like sklearn's,
    /// at most the requested number (empty when there is no anomalous sample).
    pub pr: Vec<CurvePoint>,
}

impl BinaryMetrics {
    /// All three metrics from one sort; curves downsampled to at most
    /// `max_curve_points` (≥ 2) points each.
    ///
    /// # Panics
    /// If `scores` and `labels` differ in length or there are 2³² or more.
    pub fn compute(scores: &[f32], labels: &[u8], max_curve_points: usize) -> Self {
        assert_eq!(
            scores.len(),
            labels.len(),
            "scores and labels differ in length"
        );
        assert!(scores.len() < (1usize << 32), "too many scores");
        let mut entries: Vec<u64> = scores
            .iter()
            .zip(labels)
            .map(|(&s, &l)| ((score_key(s) as u64) << 32) | u64::from(l != 0))
            .collect();
        let n_pos = entries.iter().filter(|&&e| e & 1 == 1).count() as u64;
        let n_neg = entries.len() as u64 - n_pos;
        radix_sort_high32(&mut entries);
        let mut acc = CurveAcc::new(n_pos, n_neg, max_curve_points);
        walk_groups(&entries, |key, group| {
            let tp = group.iter().filter(|&&e| e & 1 == 1).count() as u64;
            acc.push(key_score(key), tp, group.len() as u64 - tp);
        });
        acc.finish()
    }
}

/// Pixel-level metrics of one class from one sort: AUROC, AP, F1-max and
/// AUPRO, with ROC, PR and PRO curves for plotting.
///
/// # AUPRO (MVTec AD definition)
///
/// The *regions* are the connected components of the ground-truth masks, with
/// 8-connectivity (as `scipy.ndimage.label` with a full 3×3 structure), taken
/// over each image's mask separately; the regions of all images of the class
/// form one list of `R` regions. For a threshold `t`:
///
/// * `PRO(t) = (1/R) Σ_r |{p ∈ r : s_p ≥ t}| / |r|` — the mean over regions of
///   the fraction of the region's pixels whose score reaches `t`;
/// * `FPR(t) = |{p normal : s_p ≥ t}| / N` — over the `N` normal (mask 0)
///   pixels of all images.
///
/// Every distinct score value is a threshold, and the curve starts at
/// `(FPR, PRO) = (0, 0)` (a threshold above every score). AUPRO is the
/// trapezoid-rule integral of PRO over FPR from 0 to `fpr_limit`, with the
/// curve linearly interpolated at exactly `FPR = fpr_limit`, divided by
/// `fpr_limit` (so a perfect detector scores 1). Because PRO(t) is a sum of
/// per-pixel weights `1/(R·|r_p|)` over the anomalous pixels with `s_p ≥ t`,
/// the whole curve comes from the same descending walk as the ROC curve.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelMetrics {
    pub binary: BinaryMetrics,
    pub aupro: Option<f64>,
    /// Number of ground-truth regions (connected components).
    pub n_regions: usize,
    /// PRO points `(FPR, PRO)` up to and including `FPR = fpr_limit`, at most
    /// the requested number.
    pub pro: Vec<CurvePoint>,
}

impl PixelMetrics {
    /// See the type's documentation. `fpr_limit` is usually 0.3.
    ///
    /// # Panics
    /// As [`aupro`].
    pub fn compute(
        maps: &[&[f32]],
        masks: &[&[u8]],
        width: usize,
        height: usize,
        fpr_limit: f64,
        max_curve_points: usize,
    ) -> Self {
        assert_eq!(maps.len(), masks.len(), "maps and masks differ in number");
        assert!(
            fpr_limit > 0.0 && fpr_limit <= 1.0,
            "fpr_limit must be in (0, 1]"
        );
        let hw = width * height;
        let total = hw * maps.len();
        assert!(total < (1usize << 32), "too many pixels");
        // Region ids: 0 = normal pixel, 1..=R = region, global over images.
        let mut region_sizes: Vec<u64> = vec![0];
        let mut entries: Vec<u64> = Vec::with_capacity(total);
        let mut ids = vec![0u32; hw];
        for (map, mask) in maps.iter().zip(masks) {
            assert_eq!(map.len(), hw, "map size is not width*height");
            assert_eq!(mask.len(), hw, "mask size is not width*height");
            let first = region_sizes.len() as u32;
            let n = label_components(mask, width, height, first, &mut ids);
            region_sizes.resize(first as usize + n, 0);
            for &id in &ids {
                region_sizes[id as usize] += 1;
            }
            entries.extend(
                map.iter()
                    .zip(&ids)
                    .map(|(&s, &id)| ((score_key(s) as u64) << 32) | id as u64),
            );
        }
        let n_regions = region_sizes.len() - 1;
        let n_neg = region_sizes[0];
        let n_pos = total as u64 - n_neg;
        let inv_size: Vec<f64> = region_sizes.iter().map(|&s| 1.0 / s as f64).collect();
        radix_sort_high32(&mut entries);

        let mut acc = CurveAcc::new(n_pos, n_neg, max_curve_points);
        let mut pro = ProAcc::new(n_regions, n_neg, fpr_limit, max_curve_points);
        walk_groups(&entries, |key, group| {
            let mut tp = 0u64;
            let mut w = 0.0f64;
            for &e in group {
                let id = (e & 0xffff_ffff) as usize;
                if id != 0 {
                    tp += 1;
                    w += inv_size[id];
                }
            }
            let fp = group.len() as u64 - tp;
            acc.push(key_score(key), tp, fp);
            pro.push(fp, w);
        });
        let (aupro, pro_points) = pro.finish();
        PixelMetrics {
            binary: acc.finish(),
            aupro,
            n_regions,
            pro: pro_points,
        }
    }
}

/// Order-preserving `u32` key of an `f32` (`-0.0` is mapped to `+0.0`).
#[inline]
fn score_key(s: f32) -> u32 {
    let b = (s + 0.0).to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

#[inline]
fn key_score(k: u32) -> f32 {
    if k & 0x8000_0000 != 0 {
        f32::from_bits(k & 0x7fff_ffff)
    } else {
        f32::from_bits(!k)
    }
}

/// Stable LSD radix sort of `u64` values by their high 32 bits (4 passes of
/// 8 bits; a pass whose digit is the same for every value is skipped).
fn radix_sort_high32(v: &mut Vec<u64>) {
    let n = v.len();
    if n < 2 {
        return;
    }
    if n < 4096 {
        v.sort_unstable_by_key(|e| e >> 32);
        return;
    }
    let mut hist = [[0usize; 256]; 4];
    for &e in v.iter() {
        let k = (e >> 32) as u32;
        hist[0][(k & 0xff) as usize] += 1;
        hist[1][((k >> 8) & 0xff) as usize] += 1;
        hist[2][((k >> 16) & 0xff) as usize] += 1;
        hist[3][(k >> 24) as usize] += 1;
    }
    let mut buf: Vec<u64> = Vec::with_capacity(n);
    for (p, h) in hist.iter_mut().enumerate() {
        if h.contains(&n) {
            continue;
        }
        let mut sum = 0;
        for c in h.iter_mut() {
            let t = *c;
            *c = sum;
            sum += t;
        }
        if buf.len() != n {
            buf.resize(n, 0);
        }
        let shift = 32 + 8 * p as u32;
        for &e in v.iter() {
            let d = ((e >> shift) & 0xff) as usize;
            buf[h[d]] = e;
            h[d] += 1;
        }
        std::mem::swap(v, &mut buf);
    }
}

/// Calls `f(key, group)` for each run of equal high-32-bit keys, from the
/// highest key to the lowest. `sorted` is ascending by key.
fn walk_groups(sorted: &[u64], mut f: impl FnMut(u32, &[u64])) {
    let mut end = sorted.len();
    while end > 0 {
        let key = (sorted[end - 1] >> 32) as u32;
        let mut start = end - 1;
        while start > 0 && (sorted[start - 1] >> 32) as u32 == key {
            start -= 1;
        }
        f(key, &sorted[start..end]);
        end = start;
    }
}

/// Streaming ROC / PR accumulation over descending distinct thresholds.
struct CurveAcc {
    p: u64,
    n: u64,
    tp: u64,
    fp: u64,
    auc2: u128,
    ap: f64,
    best_f1: Option<(f64, f32)>,
    max_points: usize,
    step: f64,
    next_mark: f64,
    roc: Vec<CurvePoint>,
    pr: Vec<CurvePoint>,
    last: Option<(f32, f32, f32)>,
}

impl CurveAcc {
    fn new(p: u64, n: u64, max_points: usize) -> Self {
        let max_points = max_points.max(3);
        let mut acc = CurveAcc {
            p,
            n,
            tp: 0,
            fp: 0,
            auc2: 0,
            ap: 0.0,
            best_f1: None,
            max_points,
            // ROC path length in L1 is exactly 2; at most max_points-2 marks.
            step: 2.0 / (max_points - 2) as f64 * (1.0 + 1e-9),
            next_mark: 0.0,
            roc: Vec::new(),
            pr: Vec::new(),
            last: None,
        };
        if p > 0 && n > 0 {
            acc.roc.push((0.0, 0.0));
        }
        if p > 0 {
            acc.pr.push((0.0, 1.0));
        }
        acc.next_mark = acc.step;
        acc
    }

    fn push(&mut self, threshold: f32, tp: u64, fp: u64) {
        let tp0 = self.tp;
        self.tp += tp;
        self.fp += fp;
        self.auc2 += (fp as u128) * ((self.tp + tp0) as u128);
        let tps = self.tp as f64;
        let precision = tps / (self.tp + self.fp) as f64;
        // sklearn: recall = tps / tps[-1], all ones when there is no positive.
        let recall = if self.p > 0 { tps / self.p as f64 } else { 1.0 };
        if self.p > 0 {
            self.ap += (tp as f64 / self.p as f64) * precision;
        }
        let f1 = 2.0 * precision * recall / (precision + recall);
        if f1.is_finite() && self.best_f1.is_none_or(|(b, _)| f1 >= b) {
            self.best_f1 = Some((f1, threshold));
        }
        if self.p > 0 && self.n > 0 {
            let fpr = self.fp as f64 / self.n as f64;
            let pt = (fpr as f32, recall as f32, precision as f32);
            if fpr + recall >= self.next_mark && self.roc.len() + 1 < self.max_points {
                self.roc.push((pt.0, pt.1));
                self.pr.push((pt.1, pt.2));
                self.next_mark = (((fpr + recall) / self.step).floor() + 1.0) * self.step;
                self.last = None;
            } else {
                self.last = Some(pt);
            }
        } else if self.p > 0 {
            self.last = Some((0.0, recall as f32, precision as f32));
        }
    }

    fn finish(mut self) -> BinaryMetrics {
        let defined = self.p > 0 && self.n > 0;
        if let Some(pt) = self.last.take() {
            if defined {
                self.roc.push((pt.0, pt.1));
            }
            if self.pr.len() + 1 > self.max_points {
                self.pr.pop();
            }
            self.pr.push((pt.1, pt.2));
        }
        let auroc = defined.then(|| self.auc2 as f64 / (2.0 * self.p as f64 * self.n as f64));
        let has_pos = self.p > 0;
        BinaryMetrics {
            auroc,
            ap: has_pos.then_some(self.ap),
            f1_max: if has_pos {
                self.best_f1.map(|b| b.0)
            } else {
                None
            },
            f1_threshold: if has_pos {
                self.best_f1.map(|b| b.1)
            } else {
                None
            },
            n_positive: self.p,
            n_negative: self.n,
            roc: self.roc,
            pr: self.pr,
        }
    }
}

/// Streaming PRO curve and its normalised integral up to `limit`.
struct ProAcc {
    r: usize,
    n: u64,
    limit: f64,
    fp: u64,
    w: f64,
    prev: (f64, f64),
    area: f64,
    done: bool,
    points: Vec<CurvePoint>,
    pending: Option<CurvePoint>,
    max_points: usize,
    step: f64,
    next_mark: f64,
}

impl ProAcc {
    fn new(r: usize, n: u64, limit: f64, max_points: usize) -> Self {
        let max_points = max_points.max(3);
        // The curve's L1 path length is at most limit + 1.
        let step = (limit + 1.0) / (max_points - 2) as f64 * (1.0 + 1e-9);
        ProAcc {
            r,
            n,
            limit,
            fp: 0,
            w: 0.0,
            prev: (0.0, 0.0),
            area: 0.0,
            done: false,
            points: vec![(0.0, 0.0)],
            pending: None,
            max_points,
            step,
            next_mark: step,
        }
    }

    fn push(&mut self, fp: u64, w: f64) {
        self.fp += fp;
        self.w += w;
        if self.done || self.r == 0 || self.n == 0 {
            return;
        }
        let x = self.fp as f64 / self.n as f64;
        let y = self.w / self.r as f64;
        let (x0, y0) = self.prev;
        let (px, py) = if x <= self.limit {
            self.area += (x - x0) * (y + y0) / 2.0;
            self.prev = (x, y);
            if x == self.limit {
                self.done = true;
            }
            (x, y)
        } else {
            let yl = y0 + (self.limit - x0) * (y - y0) / (x - x0);
            self.area += (self.limit - x0) * (y0 + yl) / 2.0;
            self.done = true;
            (self.limit, yl)
        };
        if px + py >= self.next_mark && self.points.len() + 1 < self.max_points {
            self.points.push((px as f32, py as f32));
            self.next_mark = (((px + py) / self.step).floor() + 1.0) * self.step;
            self.pending = None;
        } else {
            self.pending = Some((px as f32, py as f32));
        }
    }

    fn finish(mut self) -> (Option<f64>, Vec<CurvePoint>) {
        if self.r == 0 || self.n == 0 {
            return (None, Vec::new());
        }
        if let Some(p) = self.pending.take() {
            self.points.push(p);
        }
        (Some(self.area / self.limit), self.points)
    }
}

/// Labels the 8-connected components of the non-zero pixels of `mask`
/// (row-major `height × width`), writing ids `first, first+1, …` into `ids`
/// (0 for zero pixels), numbered in raster order of their first pixel.
/// Returns the number of components.
pub fn label_components(
    mask: &[u8],
    width: usize,
    height: usize,
    first: u32,
    ids: &mut [u32],
) -> usize {
    // Two-pass union-find over provisional labels.
    let mut parent: Vec<u32> = vec![0];
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            let p = parent[x as usize];
            parent[x as usize] = parent[p as usize];
            x = p;
        }
        x
    }
    let mut prov = vec![0u32; width * height];
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if mask[i] == 0 {
                continue;
            }
            let mut label = 0u32;
            let mut neigh = [0u32; 4];
            let mut k = 0;
            if x > 0 {
                neigh[k] = prov[i - 1];
                k += 1;
            }
            if y > 0 {
                let up = i - width;
                if x > 0 {
                    neigh[k] = prov[up - 1];
                    k += 1;
                }
                neigh[k] = prov[up];
                k += 1;
                if x + 1 < width {
                    neigh[k] = prov[up + 1];
                    k += 1;
                }
            }
            for &l in &neigh[..k] {
                if l == 0 {
                    continue;
                }
                if label == 0 {
                    label = find(&mut parent, l);
                } else {
                    let (a, b) = (find(&mut parent, label), find(&mut parent, l));
                    if a != b {
                        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                        parent[hi as usize] = lo;
                        label = lo;
                    }
                }
            }
            if label == 0 {
                label = parent.len() as u32;
                parent.push(label);
            }
            prov[i] = label;
        }
    }
    // Final ids in raster order of first appearance.
    let mut final_id = vec![0u32; parent.len()];
    let mut count = 0usize;
    for (i, &p) in prov.iter().enumerate() {
        if p == 0 {
            ids[i] = 0;
            continue;
        }
        let root = find(&mut parent, p) as usize;
        if final_id[root] == 0 {
            count += 1;
            final_id[root] = first + count as u32 - 1;
        }
        ids[i] = final_id[root];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_matches_float_order() {
        let v = [
            -f32::INFINITY,
            -3.5,
            -1e-30,
            -0.0,
            0.0,
            1e-30,
            0.25,
            7.0,
            f32::INFINITY,
        ];
        for w in v.windows(2) {
            assert!(score_key(w[0]) <= score_key(w[1]));
            assert_eq!(key_score(score_key(w[1])), w[1]);
        }
        assert_eq!(score_key(-0.0), score_key(0.0));
    }

    #[test]
    fn radix_sort_sorts_by_high_bits_stably() {
        let mut s = 12345u64;
        let mut v: Vec<u64> = (0..20000u64)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) << 32) | i
            })
            .collect();
        let mut expect = v.clone();
        expect.sort_by_key(|e| e >> 32);
        radix_sort_high32(&mut v);
        assert_eq!(v, expect);
    }

    #[test]
    fn components_use_8_connectivity() {
        // Two diagonal-only touching pixels form one component; a far pixel another.
        #[rustfmt::skip]
        let mask = [
            1, 0, 0, 0,
            0, 1, 0, 1,
            0, 0, 0, 1,
        ];
        let mut ids = [0u32; 12];
        assert_eq!(label_components(&mask, 4, 3, 1, &mut ids), 2);
        assert_eq!(ids, [1, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 2]);
        // A U shape merges two provisional labels.
        #[rustfmt::skip]
        let u = [
            1, 0, 1,
            1, 0, 1,
            1, 1, 1,
        ];
        let mut ids = [0u32; 9];
        assert_eq!(label_components(&u, 3, 3, 5, &mut ids), 1);
        assert!(ids
            .iter()
            .zip(&u)
            .all(|(&i, &m)| (m == 0) == (i == 0) && (i == 0 || i == 5)));
    }

    #[test]
    fn curves_are_bounded() {
        let mut s = 99u32;
        let n = 100_000;
        let (mut scores, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..n {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            scores.push((s >> 8) as f32 / (1u32 << 24) as f32);
            labels.push((s >> 3).is_multiple_of(5) as u8);
        }
        let m = BinaryMetrics::compute(&scores, &labels, 500);
        assert!(m.roc.len() <= 500 && m.roc.len() > 400, "{}", m.roc.len());
        assert!(m.pr.len() <= 500 && m.pr.len() > 400, "{}", m.pr.len());
        assert_eq!(m.roc[0], (0.0, 0.0));
        assert_eq!(*m.roc.last().unwrap(), (1.0, 1.0));
        assert_eq!(m.pr[0], (0.0, 1.0));
        assert_eq!(m.pr.last().unwrap().0, 1.0);
        // PRO curve of the same scores as a 400×250 map with a block region.
        let mask: Vec<u8> = (0..n)
            .map(|i| u8::from(i % 400 < 100 && i / 400 < 50))
            .collect();
        let p = PixelMetrics::compute(&[&scores], &[&mask], 400, 250, 0.3, 500);
        assert!(p.pro.len() <= 500 && p.pro.len() > 100, "{}", p.pro.len());
        assert_eq!(p.pro[0], (0.0, 0.0));
        assert_eq!(p.pro.last().unwrap().0, 0.3);
    }
}
