"""One training epoch: the notebook's loop against the usual seed-notebook loop, on one thread.

usage: PYTHONPATH=. python bench/bench_loop.py [TRAIN_CSV] [--batches 16 64 512] [--rounds 5]
(default data: $MNIST_FULL_DATA, else the bundled sample)

Both train the notebook's MLP (784-128-64-10, He init, seed 0) with SGD lr 0.01 on the training part
of the notebook's split_data, one torch thread (as the notebook's studies run):
  notebook  make_loader(train_set, b, shuffle=True) + train_one_epoch, from notebook_code.load(): a
            BatchSampler hands the in-memory dataset whole batches; loss and accuracy summed as tensors,
            read once an epoch
  usual     DataLoader(TensorDataset(x, y), batch_size=b, shuffle=True): one row at a time, collated
            into batches; .to(device), zero_grad, forward, loss, backward, step, and loss.item() and the
            batch's correct count read every step
Printed: seconds an epoch and usual / notebook (above 1: the notebook's loop is faster). Each round runs
two epochs of each loop, one loop after the other, and keeps the second (the first pays for first-touch
allocations); the figures are medians over the rounds, interleaved so that the machine's drift hits
both loops alike.
"""

# isort: off
import mnist_assignment  # noqa: F401 (first: it pins the CPU kernels before torch loads)
# isort: on
import argparse
import os
import statistics
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mnist_assignment import notebook_code
from mnist_assignment.data import SAMPLE_DIR, load_digits

FULL_DATA = os.environ.get("MNIST_FULL_DATA") or str(SAMPLE_DIR / "train.csv.gz")


def fresh(nb):
    """The notebook's baseline model and optimizer, from the same seed for both loops."""
    cfg = nb.Config()
    torch.manual_seed(cfg.seed)
    model = nb.MLP(cfg.hidden, cfg.dropout, cfg.norm).to(nb.device)
    return model, nb.make_optimizer(cfg, model.parameters())


def notebook_epochs(nb, train_set, batch_size: int, epochs: int) -> list[float]:
    model, optimizer = fresh(nb)
    loader = nb.make_loader(train_set, batch_size, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        nb.train_one_epoch(model, loader, optimizer, loss_fn)
        times.append(time.perf_counter() - start)
    return times


def usual_epochs(nb, train_set, batch_size: int, epochs: int) -> list[float]:
    model, optimizer = fresh(nb)
    x, y = train_set.tensors
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        running, correct = 0.0, 0
        for xb, yb in loader:
            xb, yb = xb.to(nb.device), yb.to(nb.device)
            optimizer.zero_grad()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=FULL_DATA)
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64, 512])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    nb = notebook_code.load()
    images, labels = load_digits(args.path, kind="train")
    train_set, _, _ = nb.split_data(images, labels)
    print(f"{args.path}: {len(train_set):,} training rows, MLP 784-128-64-10, SGD lr 0.01, "
          f"{torch.get_num_threads()} thread, {nb.device}; median of {args.rounds} interleaved rounds")
    print(f"{'batch':>6} {'usual s':>9} {'notebook s':>11} {'usual/notebook':>15}")
    for batch_size in args.batches:
        usual, ours = [], []
        for _ in range(args.rounds):
            usual.append(usual_epochs(nb, train_set, batch_size, 2)[-1])
            ours.append(notebook_epochs(nb, train_set, batch_size, 2)[-1])
        u, o = statistics.median(usual), statistics.median(ours)
        print(f"{batch_size:>6} {u:9.3f} {o:11.3f} {u / o:14.2f}x", flush=True)


if __name__ == "__main__":
    main()
