"""Augmentation and test-time shifts: what a run's config asks for beyond the plain loop.

Each is a helper the caller hands to the loop or wraps around a model, so the loop itself has no
branches for them: `make_augment(cfg, blank)` becomes the DataLoader's transform; `ShiftedViews`
wraps a trained model to predict from shifted copies of every image.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


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


class ShiftedViews(nn.Module):
    """A model that predicts from every shift of up to `radius` pixels of each image (test-time
    augmentation: a digit moved by a pixel is the same digit): the log of the mean softmax over the
    views, which feeds cross-entropy and argmax like logits do."""

    def __init__(self, model: nn.Module, radius: int, blank: float):
        super().__init__()
        self.model, self.radius, self.blank = model, radius, blank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = sum(self.model(view).softmax(1) for view in shifted_views(x, self.radius, self.blank))
        return (probs / (2 * self.radius + 1) ** 2).log()


def as_it_predicts(model: nn.Module, cfg: TrainConfig, blank: float) -> nn.Module:
    """The model as its config says it predicts: with its test-time shifts (cfg.tta), if it has them."""
    return ShiftedViews(model, cfg.tta, blank) if cfg.tta else model


def make_augment(cfg: TrainConfig, blank: float):
    """Random shifts of up to cfg.shift pixels, then elastic distortion of strength cfg.elastic, from
    the run's own generator (seed + 1); None when both are off."""
    if not cfg.shift and not cfg.elastic:
        return None
    generator = torch.Generator().manual_seed(cfg.seed + 1)

    def augment(xb):
        if cfg.shift:
            xb = random_shift(xb, cfg.shift, blank, generator)
        if cfg.elastic:
            xb = elastic_distort(xb, cfg.elastic, blank, generator)
        return xb

    return augment
