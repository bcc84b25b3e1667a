"""The full report's training, scheduled as the notebook runs it, against the same runs one by one.

usage: python bench/bench_schedule.py [TRAIN_CSV] [--epochs 2] [--seeds 3]
Every run of the notebook's section 5 cell (its seven studies, the CNN preset on every seed, the
best-MLP preset, the early-stopping run, BatchNorm + dropout) with every epoch count divided as
--epochs is to 20, so that the one-by-one reference finishes in minutes:
  schedule    runner.run_all as the notebook calls it: every run through training.run, longest
              first, one 1-thread worker process per core
  sequential  run_all(workers=1): the same runs one after another in this process, all threads
Prints both wall times and their ratio; the schedule's time x 20/--epochs approximates the report's.
"""

import argparse
import time
from dataclasses import replace

from bench_loop import FULL_DATA

from mnist_assignment.config import BASELINE, PRESETS
from mnist_assignment.data import load_source
from mnist_assignment.runner import default_workers, run_all
from mnist_assignment.studies import STUDIES, single_models


def models(base, scale: float, seeds: int) -> dict:
    """The notebook's single models for studies of base.epochs (the CNN on every seed); the presets'
    epochs scaled alike."""
    return {name: replace(cfg, epochs=max(1, round(cfg.epochs * scale))) if name.split(" seed ")[0] in PRESETS
            else cfg for name, cfg in single_models(base, cnn_seeds=seeds).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=FULL_DATA)
    parser.add_argument("--epochs", type=int, default=2, help="the studies' epochs (the notebook: 20)")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    images, labels, source = load_source(args.path)
    base = replace(BASELINE, epochs=args.epochs)
    singles = models(base, args.epochs / 20, args.seeds)
    print(f"{args.path}: the report's studies ({args.seeds} seeds, {args.epochs} epochs) and "
          f"{len(singles)} single models at {args.epochs}/20 of their epochs")
    timings = {}
    for name, kwargs in (("schedule", {}), ("sequential", {"workers": 1})):
        start = time.perf_counter()
        run_all(list(STUDIES), singles, images, labels, source.sha256, seeds=args.seeds, base=base,
                log=lambda line: None, **kwargs)
        timings[name] = time.perf_counter() - start
        print(f"{name:10s} {timings[name]:.1f} s", flush=True)
    print(f"{default_workers()} workers; sequential/schedule {timings['sequential'] / timings['schedule']:.2f}x")


if __name__ == "__main__":
    main()
