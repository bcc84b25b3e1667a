"""Split, normalise, feed: the stratified 80/20 split as tensors, and the DataLoader over them.

The notebook shows these definitions in section 1 and trains every run with its own copies of them.
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
    val_index: np.ndarray  # each validation digit's row in the loaded file

    @property
    def blank(self) -> float:
        """A blank (0) pixel after normalisation: what a shifted image is filled in with."""
        return -self.mean / self.std


def stratified_split(labels: np.ndarray, val_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's stratified split of the row numbers: (train rows, validation rows), the same on every run."""
    return train_test_split(np.arange(len(labels)), test_size=val_fraction, stratify=labels, random_state=seed)


def normalise(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    return (torch.from_numpy(images).float().div_(255.0) - mean) / std


def prepare(images: np.ndarray, labels: np.ndarray, device: torch.device | str = "cpu",
            val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Split, then normalise both parts once with statistics of the training part only."""
    train_rows, val_rows = stratified_split(labels, val_fraction, seed)
    scaled = images[train_rows].astype(np.float64) / 255.0
    mean, std = float(scaled.mean()), float(scaled.std())
    std = std if std > 1e-6 else 1.0  # constant images: centre them, nothing to scale
    return Split(normalise(images[train_rows], mean, std).to(device), torch.from_numpy(labels[train_rows]).to(device),
                 normalise(images[val_rows], mean, std).to(device), torch.from_numpy(labels[val_rows]).to(device),
                 mean, std, val_rows)


class TensorPairs(torch.utils.data.Dataset):
    """Two in-memory tensors; indexing with a tensor of indices returns a whole batch, through
    `transform` (augmentation) when one is given."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform=None):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: torch.Tensor):
        index = index.to(self.x.device)  # one batch of row numbers (ShuffledBatches), made on the CPU
        x = self.x.index_select(0, index)  # several times faster than x[index]
        return (x if self.transform is None else self.transform(x)), self.y.index_select(0, index)


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
                seed: int = 0, transform=None) -> DataLoader:
    """A real DataLoader, but each batch is one indexing op on tensors already in memory."""
    generator = torch.Generator().manual_seed(seed)
    sampler = ShuffledBatches(len(y), batch_size, shuffle, generator)
    # batch_size=None: the sampler already yields whole batches, so nothing is collated per sample
    return DataLoader(TensorPairs(x, y, transform), sampler=sampler, batch_size=None,
                      collate_fn=lambda batch: batch)


