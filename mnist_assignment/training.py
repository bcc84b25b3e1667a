"""The hand-written training loop: train(config, split) -> (model, History of plain data).

`train_one_epoch`, `evaluate` and `train` are the graded loop; the notebook shows them in section 3
and trains every run with its own copies (runner.py ships them to the worker processes). `run`
trains one run as its config asks, handing the loop the helpers the config names.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .augment import as_it_predicts, make_augment
from .config import TrainConfig
from .loader import Split, make_loader
from .models import build_model

# chance level is ln(10) = 2.3; an epoch-mean loss 40x that means the weights have blown up,
# even if the floats have not overflowed to inf/NaN yet
DIVERGED_LOSS = 100.0


@dataclass
class History:
    config: dict
    epochs: list[dict] = field(default_factory=list)  # epoch, train_loss/acc, val_loss/acc, seconds
    iterations: list[dict] = field(default_factory=list)  # iteration, train_loss (if log_every)
    diverged: bool = False  # a NaN/inf/huge loss stopped the run: a result, not a crash
    best_epoch: int | None = None  # the epoch whose weights were kept (early stopping)
    stopped_early: bool = False
    device: str = "cpu"
    tta_val_acc: float | None = None  # the final model's accuracy with test-time shifts (config tta)

    def add(self, epoch: int, train_loss: float, train_acc: float, val_loss: float, val_acc: float,
            seconds: float) -> None:
        """One epoch's metrics; a training loss past DIVERGED_LOSS (or NaN) marks the run diverged."""
        self.diverged = not train_loss < DIVERGED_LOSS
        if self.diverged:  # the validation numbers of blown-up weights mean nothing
            val_loss = val_acc = math.nan
        self.epochs.append({"epoch": epoch, "train_loss": finite_or_none(train_loss), "train_acc": train_acc,
                            "val_loss": finite_or_none(val_loss), "val_acc": finite_or_none(val_acc),
                            "seconds": seconds})

    @property
    def final(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    @property
    def accuracy(self) -> float | None:
        """The final validation accuracy as the model predicts: with its test-time shifts, if it has them."""
        return self.tta_val_acc if self.tta_val_acc is not None else self.final.get("val_acc")

    @property
    def seconds(self) -> float:
        return sum(e["seconds"] for e in self.epochs)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(finite_only(self.to_dict()), indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> History:
        return cls.from_dict(json.loads(text))


def finite_only(value):
    """JSON has no NaN or inf: they become null (a diverged value) wherever they sit."""
    if isinstance(value, float):
        return finite_or_none(value)
    if isinstance(value, dict):
        return {k: finite_only(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_only(v) for v in value]
    return value


def finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None  # JSON has no NaN; null marks a diverged value


# ---------------------------------------------------------------- the graded loop


def train_one_epoch(model: nn.Module, batches, optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                    scheduler=None, on_step=None) -> tuple[float, float]:
    """One pass over the training batches -> (mean loss, accuracy)."""
    model.train()
    device = next(model.parameters()).device
    # sums stay on the device: no host sync per step, one read per epoch
    loss_sum, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for xb, yb in batches:
        logits = model(xb)
        loss = loss_fn(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:  # a one-cycle schedule steps every batch
            scheduler.step()
        loss_sum += loss.detach() * len(yb)
        correct += (logits.argmax(1) == yb).sum()
        seen += len(yb)
        if on_step is not None:
            on_step(loss)
    return loss_sum.item() / seen, correct.item() / seen


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode (dropout off, BatchNorm running stats)."""
    model.eval()
    loss, correct = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        logits = model(xb)
        loss += nn.functional.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(1) == yb).sum()
    return loss.item() / len(y), correct.item() / len(y)


def train(cfg: TrainConfig, split: Split, augment=None, stopper=None, on_step=None, log=None):
    """A fresh model from cfg, trained for cfg.epochs -> (model, History of per-epoch metrics).

    augment (a batch transform), stopper (EarlyStopping) and on_step (IterationLog) are the helpers
    a config may ask for (`run` makes them); log (e.g. print) gets one line per epoch.
    """
    torch.manual_seed(cfg.seed)  # the initial weights and the dropout masks
    model = build_model(cfg).to(split.x_train.device)
    loader = make_loader(split.x_train, split.y_train, cfg.batch_size, seed=cfg.seed, transform=augment)
    optimizer = make_optimizer(cfg, model.parameters())
    scheduler = make_scheduler(cfg, optimizer, steps=cfg.epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    history = History(cfg.to_dict(), device=str(split.x_train.device))
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        batches = progress(loader, epoch, cfg.epochs) if log else loader
        train_loss, train_acc = train_one_epoch(model, batches, optimizer, loss_fn, scheduler, on_step)
        val_loss, val_acc = evaluate(model, split.x_val, split.y_val)
        history.add(epoch, train_loss, train_acc, val_loss, val_acc, time.perf_counter() - start)
        if log:
            log(format_epoch(history.final, cfg.epochs))
        if history.diverged or (stopper is not None and stopper.stop(epoch, val_loss, model)):
            break
    if stopper is not None:
        stopper.restore_best(model, history)
    return model, history


# ---------------------------------------------------------------- one run, as its config asks


def run(cfg: TrainConfig, split: Split, train=train, log=None) -> tuple[nn.Module, History]:
    """Train one run as cfg asks -> (model, History): the loop (`train`, or a copy of it such as the
    notebook's) with the config's augmentation, iteration log and early stopping handed in; then,
    if the config predicts from shifted views, the final model's accuracy that way."""
    steps = IterationLog(cfg.log_every) if cfg.log_every else None
    stopper = EarlyStopping(cfg.patience) if cfg.patience else None
    model, history = train(cfg, split, make_augment(cfg, split.blank), stopper, steps, log)
    if steps is not None:
        history.iterations = steps.rows
    # once, at the end: every epoch would cost (2 tta + 1)^2 evaluations
    if cfg.tta and not history.diverged:
        history.tta_val_acc = evaluate(as_it_predicts(model, cfg, split.blank), split.x_val, split.y_val)[1]
        if log:
            log(f"predicting from {(2 * cfg.tta + 1) ** 2} shifted views: val acc {history.tta_val_acc:.4f}")
    return model, history


def make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    # SGD keeps torch's default implementation: the fastest for these few small tensors (bench/README.md)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    # fused: Adam's passes over each tensor in one kernel
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer, steps: int):
    """One-cycle: warm up, then anneal, stepped every batch; None for a constant learning rate."""
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=steps)
    return None


class IterationLog:
    """Record the training loss every k steps (a host sync only then): rows of iteration, train_loss."""

    def __init__(self, every: int):
        self.every, self.step, self.rows = every, 0, []

    def __call__(self, loss: torch.Tensor) -> None:
        self.step += 1
        if self.step % self.every == 0:
            self.rows.append({"iteration": self.step, "train_loss": finite_or_none(loss.item())})


class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` epochs; keep the best weights."""

    def __init__(self, patience: int):
        self.patience, self.best_loss, self.best_epoch, self.best_state = patience, math.inf, None, None
        self.stopped = False

    def stop(self, epoch: int, val_loss: float, model: nn.Module) -> bool:
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch = val_loss, epoch
            self.best_state = copy.deepcopy(model.state_dict())
            return False
        self.stopped = self.best_epoch is not None and epoch - self.best_epoch >= self.patience
        return self.stopped

    def restore_best(self, model: nn.Module, history: History) -> None:
        """Put the best epoch's weights back into model and say so in history."""
        history.best_epoch, history.stopped_early = self.best_epoch, self.stopped
        if self.best_state is not None and self.best_epoch != len(history.epochs):
            model.load_state_dict(self.best_state)


@contextlib.contextmanager
def cpu_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def flush_denormals():
    """Treat floats below 1e-38 as zero on this thread (one-thread study workers), then restore.

    Why: Adam's moment estimates of units that stop receiving gradient decay into that range, where
    the CPU computes many times more slowly; values that small change no reported result.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def show_bars() -> bool:
    """Bars for a person watching; one line per epoch for CI, logs and executed reports."""
    if os.environ.get("CI") or os.environ.get("MNIST_PLAIN_PROGRESS"):
        return False
    return sys.stdout.isatty() or "ipykernel" in sys.modules


def progress(loader, epoch: int, epochs: int):
    """A progress bar over the batches for a person watching (widgets in Jupyter); the loader itself
    for CI, logs and executed reports, which get one line per epoch instead."""
    return tqdm_batches(loader, epoch, epochs) if show_bars() else loader


def tqdm_batches(loader, epoch: int, epochs: int):
    """The loader's batches with a bar that is only told how far they got.

    Why not tqdm(loader): tqdm.auto's class calls iter() on what it wraps as soon as it is made, and
    each iter() of the loader draws a fresh permutation, so with bars every epoch used its second
    one: a run's numbers then depended on whether a person was watching.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(loader), desc=f"epoch {epoch}/{epochs}", leave=False, unit="batch")
    try:
        for batch in loader:
            yield batch
            bar.update()
    finally:
        bar.close()


def format_epoch(row: dict, epochs: int) -> str:
    def num(v, fmt):
        return "nan" if v is None or v != v else format(v, fmt)

    return (f"epoch {row['epoch']:3d}/{epochs}  train loss {num(row['train_loss'], '.4f')} "
            f"acc {num(row['train_acc'], '.4f')}  val loss {num(row['val_loss'], '.4f')} "
            f"acc {num(row['val_acc'], '.4f')}  {row['seconds']:.2f}s")


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Predicted labels, in eval mode (wrap the model with augment.as_it_predicts for its test-time shifts)."""
    model.eval()
    return torch.cat([model(xb).argmax(1) for xb in x.split(batch_size)])
