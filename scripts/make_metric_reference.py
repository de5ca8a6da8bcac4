#!/usr/bin/env python3
"""Reference values for crates/eval (acd_eval::metrics) from independent implementations.

Writes crates/eval/tests/data/metric_reference.json and crates/eval/tests/data/small.npy.

* AUROC: sklearn.metrics.roc_auc_score (NaN, written as null, when one class only).
* AP: sklearn.metrics.average_precision_score.
* F1-max: max over sklearn.metrics.precision_recall_curve points of 2PR/(P+R)
  (non-finite values dropped), threshold = thresholds[argmax] (lowest threshold on ties).
* AUPRO: a plain numpy implementation written from the MVTec AD definition (docs/metrics.md):
  regions = scipy.ndimage.label components (full 3x3 structure = 8-connectivity) of each mask,
  one loop per distinct threshold, trapezoid up to fpr_limit with interpolation, / fpr_limit.

Usage (needs numpy, scikit-learn, scipy; the Rust tests do not need Python):
    python3 -m venv /tmp/evalvenv && /tmp/evalvenv/bin/pip install numpy scikit-learn scipy
    /tmp/evalvenv/bin/python scripts/make_metric_reference.py
"""
import json
import math
import os
import warnings

import numpy as np
import scipy
import scipy.ndimage
import sklearn
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "crates", "eval", "tests", "data")


def nan_to_none(x):
    x = float(x)
    return None if math.isnan(x) else x


def sk_binary(scores, labels):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auroc = roc_auc_score(labels, scores) if len(scores) else float("nan")
        ap = average_precision_score(labels, scores)
        precision, recall, thresholds = precision_recall_curve(labels, scores)
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = 2 * precision * recall / (precision + recall)
    # The last point (P=1, R=0) has no threshold; its F1 is 0.
    f1 = f1[:-1]
    finite = np.where(np.isfinite(f1), f1, -np.inf)
    i = int(np.argmax(finite))
    has_pos = bool(labels.sum() > 0)
    return {
        "auroc": nan_to_none(auroc),
        "ap": float(ap),
        "f1_max": float(finite[i]),
        # Rust returns None for AP / F1 without positives; its threshold is not compared then.
        "f1_threshold": float(thresholds[i]) if has_pos else None,
    }


def aupro_reference(maps, masks, fpr_limit):
    """AUPRO straight from the definition: one pass per distinct threshold."""
    scores = np.concatenate([m.ravel() for m in maps]).astype(np.float64)
    normal = np.concatenate([(k == 0).ravel() for k in masks])
    regions = []
    offset = 0
    for k in masks:
        lab, n = scipy.ndimage.label(k != 0, structure=np.ones((3, 3), dtype=int))
        flat = lab.ravel()
        for r in range(1, n + 1):
            regions.append(np.nonzero(flat == r)[0] + offset)
        offset += k.size
    n_normal = int(normal.sum())
    if not regions or n_normal == 0:
        return None, len(regions)
    points = [(0.0, 0.0)]
    for t in np.unique(scores)[::-1]:
        above = scores >= t
        fpr = float((above & normal).sum()) / n_normal
        pro = float(np.mean([above[r].sum() / len(r) for r in regions]))
        points.append((fpr, pro))
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
        if x1 <= fpr_limit:
            area += (x1 - x0) * (y0 + y1) / 2
            if x1 == fpr_limit:
                break
        else:
            y_at = y0 + (fpr_limit - x0) * (y1 - y0) / (x1 - x0)
            area += (fpr_limit - x0) * (y0 + y_at) / 2
            break
    return area / fpr_limit, len(regions)


def f32list(a):
    return [float(x) for x in np.asarray(a, dtype=np.float32).ravel()]


def binary_cases():
    rng = np.random.default_rng(20240601)
    cases = []

    def add(name, scores, labels):
        scores = np.asarray(scores, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.uint8)
        case = {"name": name, "scores": f32list(scores), "labels": [int(x) for x in labels]}
        case.update(sk_binary(scores, labels))
        cases.append(case)

    labels = (rng.random(200) < 0.3).astype(np.uint8)
    add("random_continuous", rng.normal(size=200) + labels * 0.8, labels)
    labels = (rng.random(300) < 0.4).astype(np.uint8)
    add("quantised_5_values", np.round(rng.random(300) * 4 + labels * 1.5) / 4, labels)
    labels = (rng.random(500) < 0.2).astype(np.uint8)
    add("quantised_3_values", np.floor(rng.random(500) * 3 + labels * 0.7), labels)
    labels = (rng.random(50) < 0.5).astype(np.uint8)
    add("all_tied", np.full(50, 0.42), labels)
    labels = np.array([0] * 30 + [1] * 20, dtype=np.uint8)
    add("perfect", np.concatenate([rng.random(30), 1 + rng.random(20)]), labels)
    add("inverted", np.concatenate([1 + rng.random(30), rng.random(20)]), labels)
    add("perfect_with_ties", np.array([0.0] * 30 + [1.0] * 20), labels)
    add("only_normal", rng.random(40), np.zeros(40, dtype=np.uint8))
    add("only_anomalous", np.round(rng.random(40) * 5), np.ones(40, dtype=np.uint8))
    labels = np.zeros(100, dtype=np.uint8)
    labels[37] = 1
    add("single_positive", rng.random(100), labels)
    s = np.array([-1.5, -0.0, 0.0, 0.0, 2.0, -1.5, 3.25, -0.0, 1e-7, -2e-7], dtype=np.float32)
    add("signed_zero_and_negative", s, np.array([0, 1, 0, 1, 1, 0, 1, 0, 0, 1]))
    add("two_samples", [0.2, 0.7], [1, 0])
    # Scores that differ only in the last float32 bit.
    base = np.float32(0.5)
    s = np.array([np.nextafter(base, np.float32(1), dtype=np.float32) if i % 3 == 0 else base
                  for i in range(60)], dtype=np.float32)
    add("one_ulp_apart", s, (rng.random(60) < 0.5).astype(np.uint8))
    # Equal F1 at several thresholds (exercises the tie-break on the threshold).
    add("f1_tie", [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [1, 0, 0, 1, 0, 0])
    labels = (rng.random(2000) < 0.1).astype(np.uint8)
    add("larger_mixed_ties", np.round((rng.random(2000) + labels * 0.3) * 50) / 50, labels)
    return cases


def make_masks(rng, width, height, n):
    """Masks with several components, including diagonal-only touching blobs."""
    masks = []
    for i in range(n):
        m = np.zeros((height, width), dtype=np.uint8)
        if i % 4 == 3:
            masks.append(m)  # a normal image
            continue
        # a rectangle
        y, x = rng.integers(0, height - 3), rng.integers(0, width - 4)
        m[y:y + 2, x:x + 3] = 1
        # a diagonal chain: one component under 8-connectivity, several under 4
        y, x = rng.integers(0, height - 4), rng.integers(0, width - 4)
        for d in range(4):
            m[y + d, x + d] = 255
        # an isolated pixel
        m[rng.integers(0, height), rng.integers(0, width)] = 1
        # an anti-diagonal pair
        y, x = rng.integers(1, height), rng.integers(0, width - 1)
        m[y, x] = 1
        m[y - 1, x + 1] = 7
        masks.append(m)
    return masks


def pixel_cases():
    rng = np.random.default_rng(7)
    cases = []

    def add(name, maps, masks, fpr_limit):
        h, w = masks[0].shape
        aupro, n_regions = aupro_reference(maps, masks, fpr_limit)
        scores = np.concatenate([m.ravel() for m in maps]).astype(np.float32)
        labels = np.concatenate([(k != 0).ravel() for k in masks]).astype(np.uint8)
        case = {
            "name": name,
            "width": int(w),
            "height": int(h),
            "fpr_limit": fpr_limit,
            "maps": [f32list(m) for m in maps],
            "masks": [[int(v) for v in k.ravel()] for k in masks],
            "aupro": aupro,
            "n_regions": n_regions,
        }
        case.update(sk_binary(scores, labels))
        cases.append(case)

    w, h = 12, 10
    masks = make_masks(rng, w, h, 6)
    noisy = [(rng.normal(size=(h, w)) + (k != 0) * 1.2).astype(np.float32) for k in masks]
    add("continuous_fpr0.3", noisy, masks, 0.3)
    add("continuous_fpr1.0", noisy, masks, 1.0)
    add("continuous_fpr0.05", noisy, masks, 0.05)
    quant = [np.round(rng.random((h, w)) * 6 + (k != 0) * 2).astype(np.float32) / 6 for k in masks]
    add("quantised_fpr0.3", quant, masks, 0.3)
    add("quantised_fpr1.0", quant, masks, 1.0)
    few = [np.floor(rng.random((h, w)) * 2 + (k != 0) * 0.6).astype(np.float32) for k in masks]
    add("two_levels_fpr0.3", few, masks, 0.3)
    add("perfect", [(k != 0).astype(np.float32) for k in masks], masks, 0.3)
    add("inverted", [(k == 0).astype(np.float32) for k in masks], masks, 0.3)
    add("all_tied", [np.full((h, w), 0.5, dtype=np.float32) for _ in masks], masks, 0.3)
    normal = [np.zeros((h, w), dtype=np.uint8) for _ in range(3)]
    add("no_regions", [rng.random((h, w)).astype(np.float32) for _ in normal], normal, 0.3)
    full = [np.ones((h, w), dtype=np.uint8) for _ in range(2)]
    add("no_normal_pixel", [rng.random((h, w)).astype(np.float32) for _ in full], full, 0.3)
    # Region-size weighting: one huge and one tiny region; the tiny one scored high.
    m = np.zeros((8, 9), dtype=np.uint8)
    m[0:6, 0:5] = 1
    m[7, 8] = 1
    s = rng.random((8, 9)).astype(np.float32) * 0.5
    s[7, 8] = 0.99
    s[0:6, 0:5] += 0.3
    add("region_weighting", [s], [m], 0.3)
    # A larger wide map with big blobs (non-square, many distinct thresholds).
    w2, h2 = 33, 17
    masks2 = []
    for i in range(4):
        k = np.zeros((h2, w2), dtype=np.uint8)
        yy, xx = np.mgrid[0:h2, 0:w2]
        cy, cx, r = rng.integers(3, h2 - 3), rng.integers(4, w2 - 4), rng.integers(2, 5)
        k[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 1
        if i % 2 == 0:
            k[h2 - 1, 0] = 1
            k[h2 - 2, 1] = 1
        masks2.append(k)
    blobs = [(rng.random((h2, w2)) * 0.7 + (k != 0) * rng.random((h2, w2)) * 0.6).astype(np.float32)
             for k in masks2]
    add("blobs_33x17", blobs, masks2, 0.3)
    return cases


def write_npy():
    a = np.array([[0.0, -0.0, 1.5, -2.25, 3.0e-8],
                  [1.0e30, -1.0e-30, np.inf, -np.inf, 0.1],
                  [7.0, 8.0, 9.0, 10.0, 0.3333333]], dtype="<f4")
    np.save(os.path.join(OUT_DIR, "small.npy"), a)
    return {"shape": list(a.shape), "values": [float(x) if np.isfinite(x) else str(x) for x in a.ravel()]}


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    out = {
        "generator": "scripts/make_metric_reference.py",
        "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__, "scipy": scipy.__version__},
        "binary": binary_cases(),
        "pixel": pixel_cases(),
        "npy": write_npy(),
    }
    path = os.path.join(OUT_DIR, "metric_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
