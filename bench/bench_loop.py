"""Per-epoch training time: our loop against the usual notebook loop and against pure compute.

usage: python bench/bench_loop.py [PATH] [--batches 16 64 256 512] [--rounds 4]
Same MLP (784-128-64-10), same 33,600-row training split, same machine, one process. Every
epoch is a training pass and a validation pass over the 8,400 held-out rows, as the notebook needs:
  usual   TensorDataset + DataLoader(shuffle=True) + .to(device) per batch + loss.item() per step;
          validation through a DataLoader of the same batch size, loss.item() per batch
  ours    mnist_assignment.training.train (in-memory batches, no per-step sync, one validation
          pass in batches of 256)
  bare    ours without its DataLoader and epoch sums: model, loss, zero_grad, backward, step on
          in-memory batches, same threads and validation. What any eager PyTorch loop pays; the
          most any loop over this model and optimizer can gain on usual is usual/bare
  compute the same matmuls alone (forward + backward + SGD update, then the validation forward
          matmuls), no autograd, no loader
Goals: ours >= 1.3x / 1.6x / 2x faster than usual at batch 16 / 64 / 512, and within 1.5x of
compute at batch >= 256. Each round runs two epochs of each of the three, one after another, so
that the machine's drift (large here) hits all three alike, and keeps the second (the first pays
for first-touch allocations); times are the median over --rounds rounds.
"""

import argparse
import os
import statistics
import time
from dataclasses import replace

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mnist_assignment.config import BASELINE
from mnist_assignment.data import SAMPLE_DIR, load_digits
from mnist_assignment.loader import prepare
from mnist_assignment.models import MLP, build_model
from mnist_assignment.training import evaluate, make_optimizer, train

# the full train file comes from the command line or MNIST_FULL_DATA; the bundled sample otherwise
FULL_DATA = os.environ.get("MNIST_FULL_DATA") or str(SAMPLE_DIR / "train.csv.gz")
CFG = replace(BASELINE, hidden=(128, 64))


def usual_epoch_times(split, batch_size, epochs, cfg=CFG):
    """The usual notebook loop; cfg picks the model (widths, dropout, LayerNorm) and the optimizer."""
    torch.manual_seed(cfg.seed)
    model = MLP(cfg)
    loader = DataLoader(TensorDataset(split.x_train, split.y_train), batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(split.x_val, split.y_val), batch_size=batch_size)
    optimizer = make_optimizer(cfg, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    device = torch.device("cpu")
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        running, correct = 0.0, 0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
        model.eval()
        val_loss, val_correct = 0.0, 0
        with torch.no_grad():
            for xb, yb in val_loader:
                xb, yb = xb.to(device), yb.to(device)
                logits = model(xb)
                val_loss += loss_fn(logits, yb).item() * len(yb)
                val_correct += (logits.argmax(1) == yb).sum().item()
        times.append(time.perf_counter() - start)
    return times


def ours_epoch_times(split, batch_size, epochs):
    _, history = train(replace(CFG, batch_size=batch_size, epochs=epochs), split)
    return [e["seconds"] for e in history.epochs]


def bare_epoch_times(split, batch_size, epochs):
    cfg = replace(CFG, batch_size=batch_size)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)  # the model training.train builds
    optimizer = make_optimizer(cfg, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(cfg.seed)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for idx in torch.randperm(len(split.y_train), generator=generator).split(batch_size):
            xb, yb = split.x_train.index_select(0, idx), split.y_train.index_select(0, idx)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        evaluate(model, split.x_val, split.y_val)
        times.append(time.perf_counter() - start)
    return times


def compute_epoch_times(split, batch_size, epochs):
    """Only the arithmetic: per step 3 forward and 5 backward matmuls, ReLU masks, the update; then
    the validation forward pass."""
    torch.manual_seed(0)
    w1, w2, w3 = (torch.randn(784, 128) * 0.03, torch.randn(128, 64) * 0.1, torch.randn(64, 10) * 0.1)
    batches = [(xb.contiguous(), torch.nn.functional.one_hot(yb, 10).float())
               for xb, yb in zip(split.x_train.split(batch_size), split.y_train.split(batch_size))]
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for xb, target in batches:
            h1 = (xb @ w1).relu_()
            h2 = (h1 @ w2).relu_()
            g3 = (h2 @ w3).softmax(1).sub_(target)
            g2 = (g3 @ w3.T).mul_(h2 > 0)
            g1 = (g2 @ w2.T).mul_(h1 > 0)
            w3.sub_(h2.T @ g3, alpha=1e-5)
            w2.sub_(h1.T @ g2, alpha=1e-5)
            w1.sub_(xb.T @ g1, alpha=1e-5)
        for xb in split.x_val.split(4096):
            ((xb @ w1).relu_() @ w2).relu_() @ w3
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default=FULL_DATA)
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256, 512])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    images, labels = load_digits(args.path, kind="train")
    split = prepare(images, labels)
    print(f"{args.path}: {len(split.y_train):,} training rows, MLP 784-128-64-10, "
          f"{torch.get_num_threads()} threads, median of {args.rounds} interleaved rounds")
    print(f"{'batch':>6} {'usual s':>8} {'ours s':>8} {'bare s':>8} {'compute s':>9} {'usual/ours':>10} "
          f"{'ours/compute':>12} {'usual/bare':>10}")
    for batch_size in args.batches:
        times = {usual_epoch_times: [], ours_epoch_times: [], bare_epoch_times: [], compute_epoch_times: []}
        for _ in range(args.rounds):
            for measure, seconds in times.items():
                seconds.append(measure(split, batch_size, 2)[-1])
        usual, ours, bare, compute = (statistics.median(seconds) for seconds in times.values())
        print(f"{batch_size:>6} {usual:8.3f} {ours:8.3f} {bare:8.3f} {compute:9.3f} {usual / ours:9.2f}x "
              f"{ours / compute:11.2f}x {usual / bare:9.2f}x", flush=True)


if __name__ == "__main__":
    main()
