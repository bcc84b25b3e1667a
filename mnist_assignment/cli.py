"""python -m mnist_assignment {check-data,get-data}: the data files, checked from a terminal.

check-data validates a Kaggle CSV as the notebook does and summarises it; get-data says which train
file a run will use (`make data`). Every expected failure (a bad file or argument) is one line on
stderr, exit 2. NumPy and pandas load only inside the commands, so --help and argument errors are instant.
"""

from __future__ import annotations

import argparse
import sys

from .signals import Parser, one_line, run_command


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m mnist_assignment", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("check-data", help="validate a Kaggle CSV and summarise it")
    p.add_argument("path")
    p.add_argument("--kind", choices=["train", "test"], default=None)

    p = sub.add_parser("get-data", help="find data/train.csv, download it from Kaggle, or use the sample")
    p.add_argument("--data-dir", default="data")
    return parser


def main(argv: list[str] | None = None) -> int:
    def run() -> int:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)

    return run_command(run, (ValueError, OSError, MemoryError), describe)  # UsageError and DataError are ValueErrors


def describe(err: BaseException) -> str:
    if isinstance(err, MemoryError):
        return "not enough memory to read this file (close other programs)"
    return one_line(err)


def cmd_check_data(args) -> int:
    from .data import DataError, load_source, problems, summary

    images, labels, source = load_source(args.path, kind=args.kind)
    for problem in problems(images, labels):
        if problem.fatal:
            raise DataError(f"{args.path}: {problem}")
        print(f"warning: {args.path}: {problem}", file=sys.stderr)
    info = summary(images, labels)
    kind = "train" if labels is not None else "test"
    print(f"{args.path}: ok ({kind} file)")
    print(f"rows: {info['rows']:,}")
    if labels is not None:
        print("class counts (0..9): " + " ".join(str(c) for c in info["class_counts"]))
    print(f"pixel mean/std (/255): {info['pixel_mean']:.4f} / {info['pixel_std']:.4f}")
    print(f"sha256: {source.sha256}")
    return 0


def cmd_get_data(args) -> int:
    from .data import ensure_train_data

    path, message = ensure_train_data(args.data_dir)
    print(message)
    print(path)
    return 0


COMMANDS = {"check-data": cmd_check_data, "get-data": cmd_get_data}
