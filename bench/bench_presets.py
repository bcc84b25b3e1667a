"""Each preset over seeds 0-2, trained as a user trains it: `python -m mnist_assignment train --preset P`.

usage: python bench/bench_presets.py [TRAIN_CSV] [--presets cnn best-mlp] [--seeds 3]
Prints each run's final validation accuracy and wall time (the whole command: start-up, loading,
training on all cores), then the preset's mean ± std. Goals: cnn >= 99.5% and best-mlp
>= 99.0% on every seed, each in <= 3 min on 2 cores.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_loop import FULL_DATA


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=FULL_DATA)
    parser.add_argument("--presets", nargs="+", default=["cnn", "best-mlp"])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    for preset in args.presets:
        accs = []
        for seed in range(args.seeds):
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "mnist_assignment", "train", "--data", args.path,
                                "--preset", preset, "--seed", str(seed), "--out", out],
                               check=True, stdout=subprocess.DEVNULL)
                seconds = time.perf_counter() - start
                history = json.loads((Path(out) / "history.json").read_text())
            plain = 100 * history["epochs"][-1]["val_acc"]
            # a preset with test-time shifts predicts with them (cli predict, the notebook): that is its accuracy
            tta = history.get("tta_val_acc")
            accs.append(plain if tta is None else 100 * tta)
            shown = f"{accs[-1]:.2f}%" + ("" if tta is None else f" with test-time shifts ({plain:.2f}% without)")
            print(f"{preset:9s} seed {seed}: val acc {shown}  {seconds:.0f} s", flush=True)
        spread = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{preset:9s} {statistics.mean(accs):.2f} ± {spread:.2f}% over seeds 0-{args.seeds - 1}; "
              f"lowest {min(accs):.2f}%", flush=True)


if __name__ == "__main__":
    main()
