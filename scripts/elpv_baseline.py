#!/usr/bin/env python3
"""One-number baselines on an ELPV split (scripts/elpv.py): how far a trivial image statistic gets.

Electroluminescence shows a defective cell's inactive area dark, so a cell's mean darkness alone
separates many defective cells from normal ones. A model's image AUROC on ELPV means something only
next to this; docs/real-data.md reports both.

    python3 -m pip install pillow numpy scikit-learn
    scripts/elpv_baseline.py data/elpv/test.csv [--cutoff 0.5]

prints image AUROC and AP (scikit-learn) of: the mean darkness (minus the mean grey value), the
grey values' standard deviation, and the share of pixels darker than half the cell's mean.
"""

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.metrics import average_precision_score, roc_auc_score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("index", type=Path, help="an index written by scripts/elpv.py (image,probability,type)")
    ap.add_argument("--cutoff", type=float, default=0.5, help="anomalous at probability >= this")
    args = ap.parse_args()
    rows = list(csv.DictReader(args.index.open()))
    stats, labels = [], []
    for r in rows:
        grey = np.asarray(Image.open(args.index.parent / r["image"]).convert("L"), dtype=np.float64)
        mean = grey.mean()
        stats.append((-mean, grey.std(), (grey < 0.5 * mean).mean()))
        labels.append(float(r["probability"]) >= args.cutoff)
    stats, labels = np.array(stats), np.array(labels)
    print(f"{args.index}: {len(labels) - labels.sum()} normal + {labels.sum()} defective cells")
    print("| statistic | image AUROC | image AP |")
    print("|---|---:|---:|")
    for i, name in enumerate(["mean darkness", "grey-value std", "share of dark pixels"]):
        print(f"| {name} | {100 * roc_auc_score(labels, stats[:, i]):.2f} | "
              f"{100 * average_precision_score(labels, stats[:, i]):.2f} |")


if __name__ == "__main__":
    main()
