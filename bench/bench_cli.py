"""The CLI's start-up against `import torch`, measured in the same run (medians of 5).

usage: python bench/bench_cli.py [TRAIN_CSV]   (default: $MNIST_FULL_DATA, else the bundled sample)
Goals: `--help` <= 0.5x and a `check-data` of the full train file <= 2x the time of `import torch`.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def seconds(args: list[str]) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    data = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MNIST_FULL_DATA") or str(
        ROOT / "data" / "sample" / "train.csv.gz")
    subprocess.run([sys.executable, "-m", "mnist_assignment", "check-data", data], check=True,
                   capture_output=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))  # file in the OS cache
    torch_s = seconds(["-c", "import torch"])
    help_s = seconds(["-m", "mnist_assignment", "--help"])
    check_s = seconds(["-m", "mnist_assignment", "check-data", data])
    print(f"import torch          {torch_s:6.2f} s")
    print(f"--help                {help_s:6.2f} s  {help_s / torch_s:.2f}x import torch (goal <= 0.5x)")
    print(f"check-data            {check_s:6.2f} s  {check_s / torch_s:.2f}x import torch (goal <= 2x)  "
          f"on {Path(data).name}")


if __name__ == "__main__":
    main()
