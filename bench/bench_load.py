"""Loader speed: cold parse (no cache) and warm load (cache) of a train file.

usage: python bench/bench_load.py [PATH]   (default: $MNIST_FULL_DATA, else the bundled sample)
Goals on 2 cores for the full 42,000-row train file: cold <= 3 s, warm <= 0.3 s.
"""

import os
import sys
import time
from pathlib import Path

from mnist_assignment import data


def main() -> None:
    default = os.environ.get("MNIST_FULL_DATA") or data.SAMPLE_DIR / "train.csv.gz"
    path = Path(sys.argv[1] if len(sys.argv) > 1 else default)
    cold, warm = [], []
    for _ in range(3):
        data._cache_path(path).unlink(missing_ok=True)
        start = time.perf_counter()
        images, _ = data.load_digits(path)
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        data.load_digits(path)
        warm.append(time.perf_counter() - start)
    print(f"load {path} ({len(images):,} rows), best of 3:")
    print(f"  cold parse (no cache): {min(cold):6.3f} s   goal <= 3.0 s")
    print(f"  warm load  (cache):    {min(warm):6.3f} s   goal <= 0.3 s")
    print(f"  cold / warm: {min(cold) / min(warm):.1f}x")


if __name__ == "__main__":
    main()
