#!/usr/bin/env python3
"""Fetches the ELPV solar-cell dataset and splits it reproducibly into index files for `acd`.

ELPV (Buerhop-Lutz et al. 2018; Deitsch et al. 2019): 2,624 electroluminescence images of
solar cells, 300 x 300 px, 8-bit greyscale, each with a defect probability (0, 1/3, 2/3 or 1)
from an expert and the cell type (mono / poly). Licence: CC BY-NC-SA 4.0 (non-commercial, share
alike, attribution): the images are not part of this repository; this script downloads them
from PyPI (package `elpv-dataset`) into the folder you name.

    scripts/elpv.py [--out data/elpv] [--seed 0]

writes under --out:
    images/cellNNNN.png     the images (from the package)
    LICENSE.md, NOTICE.md   the dataset's licence and where it comes from
    all.csv                 every image: image,probability,type
    train_normal.csv        normal cells for training and references (probability 0)
    calib.csv               calibration set: normal cells (probability 0) and defective cells
    test.csv                held-out test set: every cell not in the sets above

Splits: the probability-0 cells are shuffled with --seed and split 50 / 20 / 30 % into
train_normal / calib / test; cells with a probability above 0 go 30 / 70 % to calib / test.
A cell is anomalous at probability >= 0.5 (`acd ... --label-column probability
--label-cutoff 0.5`): 1/3 counts as normal, 2/3 as defective, as in the dataset paper's
two-class evaluation. The split needs only Python's standard library and pip.
"""

import argparse
import csv
import hashlib
import random
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "elpv-dataset==1.0.0.post1"
SOURCE = "https://github.com/zae-bayern/elpv-dataset (PyPI: elpv-dataset 1.0.0.post1)"


def download(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
         "-d", str(dest), PACKAGE],
        check=True,
    )
    wheels = sorted(dest.glob("elpv_dataset-*.whl"))
    if not wheels:
        sys.exit("pip did not download an elpv_dataset wheel")
    return wheels[-1]


def extract(wheel: Path, out: Path) -> list:
    """Images to out/images, the licence to out/LICENSE.md; returns the label rows."""
    rows = []
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        labels = next(n for n in names if n.endswith("data/labels.csv"))
        licence = next((n for n in names if n.endswith("LICENSE.md")), None)
        if licence:
            (out / "LICENSE.md").write_bytes(z.read(licence))
        (out / "images").mkdir(parents=True, exist_ok=True)
        for n in names:
            if "/data/images/" in n and n.endswith(".png"):
                target = out / "images" / Path(n).name
                if not target.exists():
                    target.write_bytes(z.read(n))
        # labels.csv: whitespace-separated "images/cellNNNN.png  probability  type"
        for line in z.read(labels).decode().splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue
            path, prob, kind = parts
            rows.append((path, float(prob), kind))
    missing = [p for p, _, _ in rows if not (out / p).is_file()]
    if missing:
        sys.exit(f"{len(missing)} images named in labels.csv are missing, e.g. {missing[0]}")
    return rows


def write(path: Path, rows: list) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "probability", "type"])
        for p, prob, kind in sorted(rows):
            w.writerow([p, repr(prob), kind])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/elpv", type=Path)
    ap.add_argument("--seed", default=0, type=int)
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download(Path(tmp))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        rows = extract(wheel, out)
    (out / "NOTICE.md").write_text(
        "ELPV dataset: S. Deitsch, V. Christlein, S. Berger, C. Buerhop-Lutz, A. Maier, F. Gallwitz,\n"
        "C. Riess, 'Automatic classification of defective photovoltaic module cells in\n"
        "electroluminescence images', Solar Energy 185 (2019) 455-468; C. Buerhop-Lutz et al.,\n"
        "'A Benchmark for Visual Identification of Defective Solar Cells in Electroluminescence\n"
        "Imagery', EU PVSEC 2018. Licence: CC BY-NC-SA 4.0 (LICENSE.md).\n"
        f"Source: {SOURCE}; wheel SHA-256 {digest}.\n"
    )
    rng = random.Random(args.seed)
    normal = sorted(r for r in rows if r[1] == 0.0)
    other = sorted(r for r in rows if r[1] > 0.0)
    rng.shuffle(normal)
    rng.shuffle(other)
    n_train, n_calib = len(normal) * 50 // 100, len(normal) * 20 // 100
    train = normal[:n_train]
    calib = normal[n_train:n_train + n_calib]
    test = normal[n_train + n_calib:]
    k = len(other) * 30 // 100
    calib += other[:k]
    test += other[k:]
    write(out / "all.csv", rows)
    write(out / "train_normal.csv", train)
    write(out / "calib.csv", calib)
    write(out / "test.csv", test)

    def count(rs):
        d = sum(1 for r in rs if r[1] >= 0.5)
        return f"{len(rs) - d} normal + {d} defective"

    print(f"wrote {out}: {len(rows)} cells; train_normal {count(train)}, calib {count(calib)}, "
          f"test {count(test)} (seed {args.seed}; anomalous at probability >= 0.5)")


if __name__ == "__main__":
    main()
