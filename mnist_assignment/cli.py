"""python -m mnist_assignment {check-data,get-data,train,predict}.

train runs the notebook's own code (Config, split_data, make_loader, MLP, train), read from
mnist_assignment.ipynb by notebook_code.load(): what it trains is what the notebook grades. predict
rebuilds the model from the checkpoint's layers and normalises the images with the notebook's normalise.
Every expected failure (bad file, bad argument, bad checkpoint) is one line on stderr, exit 2.
torch, NumPy and scikit-learn load only inside the commands, so --help and argument errors are instant.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
from pathlib import Path

from .files import atomic_path, exclusive, write_atomic
from .signals import run_command

# the notebook's Config defaults (tests/test_cli.py checks they agree), stated here so that --help
# shows them without loading torch
DEFAULTS = {"lr": 0.01, "batch_size": 64, "epochs": 20, "hidden": [128, 64], "dropout": 0.0, "optimizer": "sgd",
            "momentum": 0.0, "seed": 0}
MAX_LR = 1e30  # far beyond any useful rate, and still a float32 (a larger one overflows inside torch)
MAX_WIDTH = 65_536  # a wider layer would not fit in memory on the machines this runs on
VAL_BATCH = 1000  # validation and prediction batches: the size the notebook evaluates with


class UsageError(ValueError):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m mnist_assignment", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("check-data", help="validate a Kaggle CSV and summarise it")
    p.add_argument("path")
    p.add_argument("--kind", choices=["train", "test"], default=None)

    p = sub.add_parser("get-data", help="find data/train.csv, download it from Kaggle, or use the sample")
    p.add_argument("--data-dir", default="data")

    p = sub.add_parser("train", help="train the notebook's MLP; writes DIR/history.json and DIR/model.pt",
                       description="One run of the notebook's train(Config(...)) on the stratified 80/20 split "
                                   "of --data; the defaults are the notebook's baseline.")
    p.add_argument("--data", required=True, help="a labelled CSV in Kaggle's format (train.csv)")
    p.add_argument("--out", required=True, help="the folder for history.json and model.pt")
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="default: %(default)s")
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="learning rate (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"], help="default: %(default)s")
    p.add_argument("--hidden", type=int, nargs="+", default=DEFAULTS["hidden"],
                   help="hidden layer widths (default: %(default)s)")
    p.add_argument("--dropout", type=float, default=DEFAULTS["dropout"],
                   help="after every hidden ReLU (default: %(default)s)")
    p.add_argument("--layernorm", action="store_true", help="LayerNorm after every hidden Linear")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default=DEFAULTS["optimizer"], help="default: %(default)s")
    p.add_argument("--momentum", type=float, default=DEFAULTS["momentum"], help="SGD only (default: %(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                   help="the initial weights, the batch order and the dropout masks (default: %(default)s)")

    p = sub.add_parser("predict", help="write a Kaggle submission (ImageId,Label)")
    p.add_argument("--checkpoint", required=True, help="a model.pt written by train")
    p.add_argument("--data", required=True, help="Kaggle's test.csv")
    p.add_argument("--out", required=True, help="the submission to write, e.g. submission.csv")
    return parser


def main(argv: list[str] | None = None) -> int:
    command = []  # once parsed: the memory message depends on it

    def run() -> int:
        args = build_parser().parse_args(argv)
        command.append(args.command)
        return COMMANDS[args.command](args)

    # UsageError, DataError, CheckpointError and NotebookError are ValueErrors; torch reports allocation and
    # write failures as RuntimeErrors
    return run_command(run, (ValueError, OSError, MemoryError, RuntimeError), lambda err: one_line(err, *command))


def one_line(err: BaseException, command: str | None = None) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if "can't allocate memory" in text or isinstance(err, MemoryError):
        # what the user can change depends on the command that ran out
        if command == "predict":
            return "not enough memory to load this checkpoint and predict (close other programs, or predict " \
                   "on a smaller test file)"
        return "not enough memory for this model or data (try smaller --hidden or --batch-size)"
    return text[:300]


def cmd_check_data(args) -> int:
    from .data import load_source, problems, summary

    images, labels, source = load_source(args.path, kind=args.kind)
    for problem in problems(images, labels):
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


def check_train_args(args) -> None:
    """Every out-of-range argument, in one line, before any data is read."""
    problems = []
    if not 0 < args.lr <= MAX_LR:  # also refuses NaN and inf
        problems.append(f"--lr must be positive and at most {MAX_LR:g}, got {args.lr}")
    if not all(1 <= h <= MAX_WIDTH for h in args.hidden):
        problems.append(f"--hidden widths must be in 1..{MAX_WIDTH:,}, got {' '.join(map(str, args.hidden))}")
    if not 0 <= args.dropout < 1:
        problems.append(f"--dropout must be in [0, 1), got {args.dropout}")
    if not 0 <= args.momentum < 1:
        problems.append(f"--momentum must be in [0, 1), got {args.momentum}")
    elif args.momentum and args.optimizer != "sgd":
        problems.append("--momentum applies to --optimizer sgd only")
    if args.batch_size < 1 or args.epochs < 1:
        problems.append("--batch-size and --epochs must be at least 1")
    if not 0 <= args.seed < 2**63:
        problems.append(f"--seed must be in 0..2**63-1, got {args.seed}")
    if problems:
        raise UsageError("; ".join(problems))


def config_from_args(args, graded):
    """The notebook's Config (graded: its code, from notebook_code.load()) for these arguments."""
    from torch import nn

    return graded.Config(lr=args.lr, batch_size=args.batch_size, epochs=args.epochs, hidden=tuple(args.hidden),
                         dropout=args.dropout, norm=nn.LayerNorm if args.layernorm else None,
                         optimizer=args.optimizer, momentum=args.momentum, seed=args.seed)


def cmd_train(args) -> int:
    from . import checkpoints, notebook_code, stats

    check_train_args(args)
    out = Path(args.out)
    check_out_dir(out)  # before the work, not after it
    refuse_overwriting(str(out / "history.json"), [args.data])
    refuse_overwriting(str(out / "model.pt"), [args.data])
    images, labels, source = checked_source(args.data)
    print(f"data: {source.describe()}")
    graded = notebook_code.load()
    cfg = config_from_args(args, graded)
    with exclusive(out):  # a second run into the same folder is refused, not mixed in
        print(f"device: {describe_device(graded.device)}")
        train_set, val_set, (mean, std), _ = graded.split_data(images, labels)
        val_loader = graded.make_loader(val_set, VAL_BATCH)
        model, history = graded.train(cfg, train_set, val_loader, log=lambda line: print(line, flush=True))
        diverged = stats.diverged(history)
        # both files or neither: each is written to a temp name, and renamed only once both are whole
        with atomic_path(out / "history.json") as history_tmp, atomic_path(out / "model.pt") as model_tmp:
            history_tmp.write_text(history_json(cfg, history, source, diverged), encoding="utf-8")
            checkpoints.save_checkpoint(model_tmp, model, cfg, mean, std, diverged=diverged)
    final = history[-1]
    seconds = sum(e["seconds"] for e in history)
    status = f"DIVERGED (train loss not below {stats.DIVERGED_LOSS:g}; predict refuses this model)" if diverged \
        else "done"
    print(f"{status}: {len(history)} epochs, {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"final val acc {final['val_acc']:.4f}, val loss {final['val_loss']:.4f}, {seconds:.1f}s in total "
          f"-> {out}/history.json, {out}/model.pt")
    return 0


def history_json(cfg, history: list[dict], source, diverged: bool) -> str:
    """The run as plain JSON: its config, its data file, one dict per epoch (without the per-batch losses)."""
    from .checkpoints import config_to_dict

    def finite(value):  # JSON has no NaN or inf: null marks a value the blown-up weights made meaningless
        return value if not isinstance(value, float) or math.isfinite(value) else None

    epochs = [{k: finite(v) for k, v in e.items() if k != "batch_losses"} for e in history]
    blob = {"config": config_to_dict(cfg), "data": {"file": source.name, "rows": source.rows,
                                                     "sha256": source.sha256},
            "diverged": diverged, "epochs": epochs}
    return json.dumps(blob, indent=1, allow_nan=False) + "\n"


def describe_device(device) -> str:
    if device.type == "cuda":
        import torch

        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def cmd_predict(args) -> int:
    import torch

    from . import notebook_code
    from .checkpoints import load_checkpoint
    from .data import load_digits

    refuse_overwriting(args.out, [args.checkpoint, args.data])
    graded = notebook_code.load()
    model, _, mean, std = load_checkpoint(args.checkpoint, graded.device)
    images, _ = load_digits(args.data, kind="test")
    x = graded.normalise(images, mean, std).to(graded.device)
    with torch.no_grad():
        labels = torch.cat([model(batch).argmax(1) for batch in x.split(VAL_BATCH)]).cpu()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["ImageId", "Label"])
    writer.writerows(zip(range(1, len(labels) + 1), labels.tolist()))
    write_atomic(Path(args.out), text.getvalue())
    counts = torch.bincount(labels, minlength=10).tolist()
    print(f"wrote {len(labels):,} predictions to {args.out}; predicted class counts: {counts}")
    return 0


def checked_source(path: str):
    """load_source, then one warning line per problem; a split that cannot be made is an error."""
    from .data import DataError, load_source, problems

    images, labels, source = load_source(path)
    for problem in problems(images, labels):
        if problem.fatal:
            raise DataError(f"{path}: {problem}")
        print(f"warning: {path}: {problem}", file=sys.stderr)
    return images, labels, source


def check_out_dir(out: Path) -> None:
    """--out must be a folder we can write to: found out before training, not after."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(f"--out {out}: cannot write there ({err.strerror or err})") from None


def refuse_overwriting(out: str, inputs: list[str]) -> None:
    """An output that is one of the inputs (however spelled) would destroy it: refuse before any work."""
    target = Path(out)
    for name in inputs:
        if Path(name).exists() and target.exists() and os.path.samefile(target, name) or \
                target.resolve() == Path(name).resolve():
            raise UsageError(f"--out {out} is the input {name}: refusing to overwrite it")
    if target.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name such as submission.csv")


COMMANDS = {
    "check-data": cmd_check_data,
    "get-data": cmd_get_data,
    "train": cmd_train,
    "predict": cmd_predict,
}
