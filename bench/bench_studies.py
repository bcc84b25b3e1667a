"""Wall time of study runs: ours on worker processes against the same runs one by one.

usage: python bench/bench_studies.py [PATH] [--epochs 2] [--seeds 3] [--sweep STUDY]
  ours    runner.run_studies over the five studies (lr, batch_size, regularization, dropout,
          adam_combos): identical configs once, every run through training.run, one worker per core;
          with --sweep STUDY: the command `python -m mnist_assignment sweep STUDY` as a user runs it,
          timed as a whole (start-up, loading the data, starting the workers, the summary)
  usual   the same runs one after another in this process with the usual notebook loop (bench_loop.py:
          TensorDataset + DataLoader(shuffle=True), loss.item() per step, a validation DataLoader),
          all threads, the same widths
Prints both wall times and their ratio (bench/README.md; goal: sweep lr at 20 epochs >= 3x).
"""

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

import torch
from bench_loop import FULL_DATA, usual_epoch_times

from mnist_assignment.config import BASELINE
from mnist_assignment.data import load_source
from mnist_assignment.loader import prepare
from mnist_assignment.runner import default_workers, run_studies
from mnist_assignment.studies import study_jobs

STUDIES = ["lr", "batch_size", "regularization", "dropout", "adam_combos"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=FULL_DATA)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sweep", help="time this study's `sweep` command instead of the five studies")
    args = parser.parse_args()
    images, labels, source = load_source(args.path)
    base = replace(BASELINE, epochs=args.epochs)
    studies = [args.sweep] if args.sweep else STUDIES
    jobs = study_jobs(studies, args.seeds, base)
    print(f"{args.path}: {len(jobs)} results of {', '.join(studies)}; {args.epochs} epochs a run, "
          f"{args.seeds} seeds")

    start = time.perf_counter()
    if args.sweep:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, "-m", "mnist_assignment", "sweep", args.sweep, "--data", args.path,
                            "--seeds", str(args.seeds), "--epochs", str(args.epochs), "--out", out],
                           check=True, stdout=subprocess.DEVNULL)
    else:
        run_studies(studies, images, labels, source.sha256, seeds=args.seeds, base=base, log=lambda line: None)
    ours = time.perf_counter() - start

    split = prepare(images, labels)
    start = time.perf_counter()
    for cfg in dict.fromkeys(cfg for _, _, cfg in jobs):  # a config shared by two studies runs once, as ours
        usual_epoch_times(split, cfg.batch_size, cfg.epochs, cfg)
    usual = time.perf_counter() - start
    what = f"sweep {args.sweep} command" if args.sweep else "run_studies"
    print(f"ours ({what}, {default_workers()} workers) {ours:.1f} s   usual one by one "
          f"({torch.get_num_threads()} threads) {usual:.1f} s   usual/ours {usual / ours:.2f}x")


if __name__ == "__main__":
    main()
