"""The hand-written training loop: fit(config, split) -> History (plain data, JSON round trip)."""

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

from .config import TrainConfig
from .data import Split, make_loader
from .models import CNN, build_model


@dataclass
class History:
    config: dict
    epochs: list[dict] = field(default_factory=list)  # epoch, train_loss/acc, val_loss/acc, seconds
    iterations: list[dict] = field(default_factory=list)  # iteration, train_loss (if log_every)
    diverged: bool = False  # a NaN/inf/huge loss stopped the run: a result, not a crash
    best_epoch: int | None = None  # the epoch whose weights were kept (early stopping)
    stopped_early: bool = False
    device: str = "cpu"
    stacked: int = 1  # runs trained together (stacked.py); "seconds" are this run's share
    tta_val_acc: float | None = None  # the final model's accuracy with test-time shifts (config tta)

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


# chance level is ln(10) = 2.3; an epoch-mean loss 40x that means the weights have blown up,
# even if the floats have not overflowed to inf/NaN yet
DIVERGED_LOSS = 100.0


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


def make_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    # SGD keeps torch's default implementation: the fastest for these few small tensors (bench/README.md)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    # fused: Adam's passes over each tensor in one kernel (the stacked engine uses the same one)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)


def random_shift(x: torch.Tensor, max_shift: int, blank: float, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to max_shift pixels in x and y (augmentation); uncovered pixels
    get the value blank (an empty pixel after normalisation: Split.blank)."""
    n = len(x)
    padded = nn.functional.pad(x.view(n, 28, 28), [max_shift] * 4, value=blank)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, n, 1), generator=generator).to(x.device)
    rows = (dy + torch.arange(28, device=x.device)).unsqueeze(2)
    cols = (dx + torch.arange(28, device=x.device)).unsqueeze(1)
    return padded[torch.arange(n, device=x.device).view(n, 1, 1), rows, cols].view(n, 784)


ELASTIC_SIGMA = 4.0  # pixels: how smooth the displacement field is (Simard et al. 2003 used 4)


def elastic_distort(x: torch.Tensor, alpha: float, blank: float, generator: torch.Generator) -> torch.Tensor:
    """Bend each image along its own random smooth displacement field (elastic distortion, Simard et
    al. 2003): uniform noise in [-1, 1] per pixel and direction, blurred by a Gaussian of ELASTIC_SIGMA
    pixels, times alpha; sampled bilinearly, the area moved in from outside gets the value blank."""
    n = len(x)
    field = torch.rand(n, 2, 28, 28, generator=generator).to(x.device) * 2 - 1
    # the blur as two 28x28 matmuls (zero beyond the border): 20x faster than conv2d here (bench/README.md)
    pos = torch.arange(28.0, device=x.device)
    blur = torch.exp(-((pos[:, None] - pos) ** 2) / (2 * ELASTIC_SIGMA**2)) / (math.sqrt(2 * math.pi) * ELASTIC_SIGMA)
    field = blur @ field @ blur.T * alpha
    rows, cols = torch.meshgrid(pos, pos, indexing="ij")
    # grid_sample wants (x, y) in [-1, 1]; with align_corners, -1 and 1 are the centres of pixels 0 and 27
    grid = torch.stack([cols + field[:, 0], rows + field[:, 1]], -1) * (2 / 27) - 1
    moved = nn.functional.grid_sample(x.view(n, 1, 28, 28) - blank, grid, mode="bilinear",
                                      padding_mode="zeros", align_corners=True)
    return (moved + blank).view(n, 784)


def shifted_views(x: torch.Tensor, radius: int, blank: float):
    """Each image moved by every (dy, dx) of up to radius pixels: (2 radius + 1)^2 views of x."""
    n = len(x)
    padded = nn.functional.pad(x.view(n, 28, 28), [radius] * 4, value=blank)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            yield padded[:, dy:dy + 28, dx:dx + 28].reshape(n, 784)


def scores(model: nn.Module, x: torch.Tensor, tta: int = 0, blank: float = 0.0) -> torch.Tensor:
    """The model's logits; with tta, the log of its mean softmax over the shifted views instead
    (test-time augmentation: a digit moved by a pixel is the same digit). Both feed cross-entropy
    and argmax alike."""
    if not tta:
        return model(x)
    probs = sum(model(view).softmax(1) for view in shifted_views(x, tta, blank))
    return (probs / (2 * tta + 1) ** 2).log()


def eval_batch(model: nn.Module) -> int:
    """Images per forward pass when evaluating. A CNN's maps for 4096 images (~200 MB a layer) fall out
    of the CPU's caches: 256 at a time is twice as fast (bench/README.md); an MLP's matmuls like them big."""
    return 256 if isinstance(model, CNN) else 4096


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int | None = None,
             tta: int = 0, blank: float = 0.0) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode (dropout off, BatchNorm running stats)."""
    model.eval()
    batch_size = batch_size or eval_batch(model)
    loss, correct = torch.zeros((), device=x.device), torch.zeros((), device=x.device)
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        logits = scores(model, xb, tta, blank)
        loss += nn.functional.cross_entropy(logits, yb, reduction="sum")
        correct += (logits.argmax(1) == yb).sum()
    return loss.item() / len(y), correct.item() / len(y)


@contextlib.contextmanager
def cpu_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def step_threads(device: torch.device, batch_size: int) -> int:
    """Threads for the training steps: at batch 16 the matmuls are too small to split and one thread
    is faster; from batch 32 on, all threads are at least as fast (bench/README.md)."""
    return 1 if device.type == "cpu" and batch_size <= 16 else torch.get_num_threads()


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


def train_one_epoch(model: nn.Module, batches, optimizer: torch.optim.Optimizer, loss_fn: nn.Module,
                    scheduler=None, augment=None, on_step=None) -> tuple[float, float]:
    """One pass over the training batches -> (mean loss, accuracy)."""
    model.train()
    device = next(model.parameters()).device
    # sums stay on the device: no host sync per step, one read per epoch
    loss_sum, correct, seen = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for xb, yb in batches:
        if augment is not None:
            xb = augment(xb)
        logits = model(xb)
        loss = loss_fn(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.detach() * len(yb)
        correct += (logits.argmax(1) == yb).sum()
        seen += len(yb)
        if on_step is not None:
            on_step(loss)
    return loss_sum.item() / seen, correct.item() / seen


def train(cfg: TrainConfig, split: Split, verbose: bool = True) -> tuple[nn.Module, History]:
    """A fresh model from cfg, trained epoch by epoch -> (model, History of per-epoch metrics)."""
    torch.manual_seed(cfg.seed)  # initial weights
    device = split.x_train.device
    model = build_model(cfg).to(device)
    loader = make_loader(split.x_train, split.y_train, cfg.batch_size, seed=cfg.seed)
    optimizer = make_optimizer(cfg, model.parameters())
    scheduler = make_scheduler(cfg, optimizer, steps=cfg.epochs * len(loader))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    augment = make_augment(cfg, split)
    history = History(cfg.to_dict(), device=str(device))
    on_step = IterationLog(history, cfg.log_every) if cfg.log_every else None
    stopper = EarlyStopping(cfg.patience)
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        batches = progress(loader, epoch, cfg.epochs) if verbose else loader
        with cpu_threads(step_threads(device, cfg.batch_size)):
            train_loss, train_acc = train_one_epoch(model, batches, optimizer, loss_fn, scheduler, augment, on_step)
        diverged = not train_loss < DIVERGED_LOSS  # also catches NaN
        val_loss, val_acc = (math.nan, math.nan) if diverged else evaluate(model, split.x_val, split.y_val)
        row = {"epoch": epoch, "train_loss": finite_or_none(train_loss), "train_acc": train_acc,
               "val_loss": finite_or_none(val_loss), "val_acc": finite_or_none(val_acc),
               "seconds": time.perf_counter() - start}
        history.epochs.append(row)
        if verbose:
            print(format_epoch(row, cfg.epochs), flush=True)
        if diverged:
            history.diverged = True
            break
        if stopper.stop(epoch, val_loss, model):
            history.stopped_early = True
            break
    history.best_epoch = stopper.best_epoch
    stopper.restore_best(model, last_epoch=len(history.epochs))
    if cfg.tta and not history.diverged:  # once, at the end: every epoch would cost (2 tta + 1)^2 evaluations
        history.tta_val_acc = evaluate(model, split.x_val, split.y_val, tta=cfg.tta, blank=split.blank)[1]
        if verbose:
            print(f"predicting from {(2 * cfg.tta + 1) ** 2} shifted views: val acc {history.tta_val_acc:.4f}")
    return model, history


def fit(cfg: TrainConfig, split: Split, verbose: bool = True) -> History:
    """train() when only the History is needed (studies, benchmarks)."""
    return train(cfg, split, verbose)[1]


# ---------------------------------------------------------------- the loop's helpers


def make_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer, steps: int):
    """One-cycle: warm up, then anneal, stepped every batch; None for a constant learning rate."""
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=steps)
    return None


def make_augment(cfg: TrainConfig, split: Split):
    """Random shifts of up to cfg.shift pixels, then elastic distortion of strength cfg.elastic, from
    the run's own generator; None when both are off."""
    if not cfg.shift and not cfg.elastic:
        return None
    generator = torch.Generator().manual_seed(cfg.seed + 1)

    def augment(xb):
        if cfg.shift:
            xb = random_shift(xb, cfg.shift, split.blank, generator)
        if cfg.elastic:
            xb = elastic_distort(xb, cfg.elastic, split.blank, generator)
        return xb

    return augment


class IterationLog:
    """Record the training loss every k steps (a host sync only then) into history.iterations."""

    def __init__(self, history: History, every: int):
        self.history, self.every, self.step = history, every, 0

    def __call__(self, loss: torch.Tensor) -> None:
        self.step += 1
        if self.step % self.every == 0:
            self.history.iterations.append({"iteration": self.step, "train_loss": finite_or_none(loss.item())})


class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` epochs; keep the best weights.

    patience 0 never stops, but still tells which epoch had the lowest validation loss.
    """

    def __init__(self, patience: int):
        self.patience, self.best_loss, self.best_epoch, self.best_state = patience, math.inf, None, None

    def stop(self, epoch: int, val_loss: float, model: nn.Module) -> bool:
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch = val_loss, epoch
            if self.patience:
                self.best_state = copy.deepcopy(model.state_dict())
            return False
        return bool(self.patience) and epoch - self.best_epoch >= self.patience

    def restore_best(self, model: nn.Module, last_epoch: int) -> None:
        if self.best_state is not None and self.best_epoch != last_epoch:
            model.load_state_dict(self.best_state)


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
def predict(model: nn.Module, x: torch.Tensor, batch_size: int | None = None, tta: int = 0,
            blank: float = 0.0) -> torch.Tensor:
    """Predicted labels; tta and blank as in evaluate (a model's own: its config's tta, its split's blank)."""
    model.eval()
    return torch.cat([scores(model, xb, tta, blank).argmax(1) for xb in x.split(batch_size or eval_batch(model))])
