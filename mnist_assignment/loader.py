"""Split, normalise, feed: the stratified 80/20 split as tensors, and the DataLoader over them.

Reached as data.prepare / data.make_loader / ... too (data.py forwards the names), so the notebook
reads data.* from loading to batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, Sampler


@dataclass
class Split:
    """The stratified 80/20 split as normalised float32 tensors on one device."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    mean: float
    std: float

    @property
    def blank(self) -> float:
        """A blank (0) pixel after normalisation: what a shifted image is filled in with."""
        return -self.mean / self.std

    def to(self, device: torch.device | str) -> Split:
        return Split(self.x_train.to(device), self.y_train.to(device), self.x_val.to(device),
                     self.y_val.to(device), self.mean, self.std)


def stratified_split(images: np.ndarray, labels: np.ndarray, val_fraction: float = 0.2,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's stratified split: x_train, x_val, y_train, y_val, the same on every run."""
    return train_test_split(images, labels, test_size=val_fraction, stratify=labels,
                            random_state=seed)


def normalise(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    return (torch.from_numpy(images).float().div_(255.0) - mean) / std


def prepare(images: np.ndarray, labels: np.ndarray, device: torch.device | str = "cpu",
            val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Split, then normalise both parts once with statistics of the training part only."""
    x_tr, x_va, y_tr, y_va = stratified_split(images, labels, val_fraction, seed)
    scaled = x_tr.astype(np.float64) / 255.0
    mean, std = float(scaled.mean()), float(scaled.std())
    std = std if std > 1e-6 else 1.0  # constant images: centre them, nothing to scale
    return Split(normalise(x_tr, mean, std), torch.from_numpy(y_tr), normalise(x_va, mean, std),
                 torch.from_numpy(y_va), mean, std).to(device)


class TensorPairs(torch.utils.data.Dataset):
    """Two in-memory tensors; indexing with a tensor of indices returns a whole batch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index):
        if isinstance(index, torch.Tensor):  # a whole batch: index_select is several times faster than x[index]
            index = index.to(self.x.device)  # the sampler's indices live on the CPU; the data may not
            return self.x.index_select(0, index), self.y.index_select(0, index)
        return self.x[index], self.y[index]


class ShuffledBatches(Sampler):
    """Yields index tensors of one batch each, from a fresh seeded permutation every epoch."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, generator: torch.Generator):
        self.n, self.batch_size, self.shuffle, self.generator = n, batch_size, shuffle, generator

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator) if self.shuffle else torch.arange(self.n)
        return iter(order.split(self.batch_size))


def make_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = True,
                seed: int = 0) -> DataLoader:
    """A real DataLoader, but each batch is one indexing op on tensors already in memory."""
    generator = torch.Generator().manual_seed(seed)
    sampler = ShuffledBatches(len(y), batch_size, shuffle, generator)
    # batch_size=None: the sampler already yields whole batches, so nothing is collated per sample
    return DataLoader(TensorPairs(x, y), sampler=sampler, batch_size=None,
                      collate_fn=lambda batch: batch)


