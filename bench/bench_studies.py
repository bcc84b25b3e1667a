"""Wall time of the assignment's studies + the bonus: stacked runs on workers against one by one.

usage: python bench/bench_studies.py [PATH] [--epochs 2] [--seeds 3]
The five studies (lr, batch_size, regularization, dropout, adam_combos), every value with --seeds
seeds, --epochs epochs a run (20 in the notebook; fewer here so that the reference finishes):
  ours    experiments.run_studies: identical configs once, stacks (stacked.py), two workers
  usual   every run one after another in this process with the usual notebook loop (bench_loop.py:
          DataLoader(shuffle=True), loss.item() per step, a validation DataLoader)
Prints both wall times and their ratio. Goal (issue 4): the 20-epoch studies in <= 5 min.
"""

import argparse
import time
from dataclasses import replace

import torch
from bench_loop import FULL_DATA, usual_epoch_times

from mnist_assignment.config import BASELINE
from mnist_assignment.data import load_source, prepare
from mnist_assignment.experiments import run_studies, study_jobs

STUDIES = ["lr", "batch_size", "regularization", "dropout", "adam_combos"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=FULL_DATA)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    images, labels, source = load_source(args.path)
    base = replace(BASELINE, epochs=args.epochs)
    jobs = study_jobs(STUDIES, args.seeds, base)
    print(f"{args.path}: {len(jobs)} results of the studies {', '.join(STUDIES)}; {args.epochs} epochs a run")

    start = time.perf_counter()
    run_studies(STUDIES, images, labels, source.sha256, seeds=args.seeds, base=base, log=lambda line: None)
    ours = time.perf_counter() - start

    split = prepare(images, labels)
    start = time.perf_counter()
    for _study, _value, cfg in jobs:
        usual_epoch_times(split, cfg.batch_size, cfg.epochs, cfg)
    usual = time.perf_counter() - start
    print(f"ours {ours:.1f} s ({torch.get_num_threads()} cores, stacked, 2 workers)   usual one by one {usual:.1f} s"
          f"   usual/ours {usual / ours:.2f}x")


if __name__ == "__main__":
    main()
