"""python -m mnist_assignment {check-data,get-data,train,predict,sweep}.

Every expected failure (bad file, bad argument, bad checkpoint) is one line on stderr, exit 2.
torch, NumPy and scikit-learn load only inside the commands, so --help and argument errors are instant.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
from dataclasses import replace
from pathlib import Path

from .config import PRESETS
from .files import atomic_path, exclusive, write_atomic


class UsageError(Exception):
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

    p = sub.add_parser("train", help="train one model; writes DIR/history.json and DIR/model.pt")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--preset", choices=sorted(PRESETS), default="baseline")
    p.add_argument("--model", choices=["mlp", "cnn", "numpy-mlp"],
                   help="numpy-mlp: the from-scratch NumPy network (SGD; writes model.npz)")
    p.add_argument("--hidden", type=int, nargs="+")
    p.add_argument("--dropout", type=float)
    p.add_argument("--layernorm", action="store_true", default=None)
    p.add_argument("--batchnorm", action="store_true", default=None)
    p.add_argument("--optimizer", choices=["sgd", "momentum", "adam", "adamw"])
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--patience", type=int, help="early stopping on validation loss (0 = off)")
    p.add_argument("--seed", type=int)

    p = sub.add_parser("sweep", help="run a study (several seeds) and print its summary table")
    p.add_argument("study", choices=["lr", "batch_size", "regularization", "dropout", "adam_combos", "optimizers",
                                     "batchnorm"])
    p.add_argument("--data", required=True)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, help="override the baseline's 20 epochs")
    p.add_argument("--out", default="results", help="where each run's JSON is stored")
    p.add_argument("--reuse", action="store_true", help="reuse stored runs with the same config, data and code")
    p.add_argument("--workers", type=int, help="worker processes (default: one per core)")

    p = sub.add_parser("predict", help="write a Kaggle submission (ImageId,Label)")
    # --model is the old spelling, kept so existing commands still work
    p.add_argument("--checkpoint", "--model", dest="checkpoint", required=True, help="a model.pt written by train")
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    interrupt_on_sigterm()
    command = None
    try:
        args = build_parser().parse_args(argv)
        command = args.command
        return COMMANDS[command](args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as err:  # DataError and CheckpointError are ValueErrors
        print(f"error: {one_line(err, command)}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as err:  # torch reports allocation and write failures this way
        print(f"error: {one_line(err, command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head`: the reader left, nothing more to say
        sys.stderr.close()
        return 0


MEMORY_ADVICE = {  # what the user can change depends on the command that ran out
    "predict": "not enough memory to load this checkpoint and predict (close other programs, or predict "
               "on a smaller test file)",
    "sweep": "not enough memory for these runs (try fewer --workers)",
}


def one_line(err: BaseException, command: str | None = None) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    if "can't allocate memory" in text or isinstance(err, MemoryError):
        return MEMORY_ADVICE.get(command, "not enough memory for this model or data "
                                          "(try smaller --hidden or --batch-size)")
    return text[:300]


def interrupt_on_sigterm() -> None:
    """SIGTERM ends a command the way Ctrl-C does: 'interrupted', exit 130, temp files removed."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def cmd_check_data(args) -> int:
    from .data import load_hashed, problems, summary

    images, labels, sha256 = load_hashed(args.path, kind=args.kind)
    for problem in problems(images, labels):
        print(f"warning: {args.path}: {problem}", file=sys.stderr)
    info = summary(images, labels)
    kind = "train" if labels is not None else "test"
    print(f"{args.path}: ok ({kind} file)")
    print(f"rows: {info['rows']:,}")
    if labels is not None:
        print("class counts (0..9): " + " ".join(str(c) for c in info["class_counts"]))
    print(f"pixel mean/std (/255): {info['pixel_mean']:.4f} / {info['pixel_std']:.4f}")
    print(f"sha256: {sha256}")
    return 0


def cmd_get_data(args) -> int:
    from .data import ensure_train_data

    path, message = ensure_train_data(args.data_dir)
    print(message)
    print(path)
    return 0


def config_from_args(args):
    cfg = PRESETS[args.preset]
    overrides = {
        "model": None if args.model == "numpy-mlp" else args.model, "hidden": args.hidden, "dropout": args.dropout,
        "layernorm": args.layernorm, "batchnorm": args.batchnorm, "optimizer": args.optimizer,
        "lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs,
        "patience": args.patience, "seed": args.seed,
    }
    return replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def cmd_train(args) -> int:
    from .checkpoints import save_checkpoint
    from .loader import prepare
    from .models import count_parameters, describe_device, pick_device
    from .training import run

    cfg = config_from_args(args)
    out = Path(args.out)
    check_out_dir(out)  # before the work, not after it
    refuse_overwriting(str(out / "history.json"), [args.data])
    refuse_overwriting(str(out / "model.pt"), [args.data])
    images, labels, source = checked_source(args.data)
    print(f"data: {source.describe()}")
    with exclusive(out):  # a second run into the same folder is refused, not mixed in
        if args.model == "numpy-mlp":
            return train_numpy(cfg, images, labels, out)
        device = pick_device()
        print(f"device: {describe_device(device)}")
        split = prepare(images, labels, device)
        model, history = run(cfg, split, log=print)
        # both files or neither: each is written to a temp name, and renamed only once both are whole
        with atomic_path(out / "history.json") as history_tmp, atomic_path(out / "model.pt") as model_tmp:
            history_tmp.write_text(history.to_json(), encoding="utf-8")
            save_checkpoint(model_tmp, model, cfg, split.mean, split.std, diverged=history.diverged)
    status = "DIVERGED" if history.diverged else "done"
    print(f"{status}: {len(history.epochs)} epochs, {count_parameters(model):,} parameters, "
          f"{final_text(history)} -> {out}/history.json, {out}/model.pt")
    return 0


def final_text(history) -> str:
    def num(v):
        return "nan" if v is None else f"{v:.4f}"

    final = history.final
    text = f"final val acc {num(final['val_acc'])}, val loss {num(final['val_loss'])}"
    if history.tta_val_acc is not None:
        text += f" (val acc {num(history.tta_val_acc)} with test-time shifts)"
    text += f", {history.seconds:.1f}s in total"
    if history.stopped_early:
        best = history.epochs[history.best_epoch - 1]
        text += (f"; stopped early, kept the weights of epoch {history.best_epoch} "
                 f"(val acc {num(best['val_acc'])}, val loss {num(best['val_loss'])})")
    return text


def train_numpy(cfg, images, labels, out: Path) -> int:
    import numpy as np

    from .loader import prepare
    from .numpy_mlp import fit_numpy

    if cfg.optimizer != "sgd" or cfg.layernorm or cfg.batchnorm:
        raise UsageError("--model numpy-mlp supports plain SGD with optional dropout only")
    split = prepare(images, labels)
    arrays = [t.numpy() for t in (split.x_train, split.y_train, split.x_val, split.y_val)]
    model, history = fit_numpy(*arrays, hidden=cfg.hidden, lr=cfg.lr, batch_size=cfg.batch_size,
                               epochs=cfg.epochs, dropout=cfg.dropout, seed=cfg.seed, verbose=True)
    with atomic_path(out / "history.json") as history_tmp, atomic_path(out / "model.npz") as model_tmp:
        history_tmp.write_text(history.to_json(), encoding="utf-8")
        with open(model_tmp, "wb") as f:
            np.savez(f, *model.weights, *model.biases)
    print(f"done: numpy-mlp, {final_text(history)} -> {out}/history.json, {out}/model.npz")
    return 0


def cmd_predict(args) -> int:
    import torch

    from .augment import as_it_predicts
    from .checkpoints import load_checkpoint
    from .data import load_digits
    from .loader import normalise
    from .models import pick_device
    from .training import predict

    refuse_overwriting(args.out, [args.checkpoint, args.data])
    device = pick_device()
    model, cfg, mean, std = load_checkpoint(args.checkpoint, device)
    images, _ = load_digits(args.data, kind="test")
    # as the model was validated: with its test-time shifts, if it has them
    labels = predict(as_it_predicts(model, cfg, blank=-mean / std), normalise(images, mean, std).to(device)).cpu()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["ImageId", "Label"])
    writer.writerows(zip(range(1, len(labels) + 1), labels.tolist()))
    write_atomic(Path(args.out), text.getvalue())
    counts = torch.bincount(labels, minlength=10).tolist()
    print(f"wrote {len(labels):,} predictions to {args.out}; predicted class counts: {counts}")
    return 0


def cmd_sweep(args) -> int:
    from .config import BASELINE
    from .runner import run_studies
    from .stats import display_table, summarise
    from .store import ResultStore
    from .studies import STUDIES

    if args.seeds < 1 or (args.workers is not None and args.workers < 1):
        raise UsageError("--seeds and --workers must be at least 1")
    images, labels, source = checked_source(args.data)
    print(f"data: {source.describe()}")
    base = BASELINE if args.epochs is None else replace(BASELINE, epochs=args.epochs)
    results = run_studies([args.study], images, labels, source.sha256, seeds=args.seeds, base=base,
                          store=ResultStore(args.out), reuse=args.reuse or None, workers=args.workers,
                          log=lambda line: print(line, flush=True))[args.study]  # progress shows in pipes and logs too
    factor = STUDIES[args.study][0]
    print(display_table(summarise(results), factor).to_string())
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
    "sweep": cmd_sweep,
}
