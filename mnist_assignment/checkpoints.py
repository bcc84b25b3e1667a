"""model.pt: what `train` writes and `predict` reads (config, weights, normalisation).

The model is the notebook's MLP (notebook_code.load()): a checkpoint stores the Config it was trained
with (the normalisation layer by its name, e.g. "LayerNorm"), the weights, and the training part's pixel
mean and std; loading rebuilds the MLP from the notebook's code and puts the weights back.

A checkpoint is a file someone hands over, so it is read defensively: its zip directory is checked
before anything is unpacked, and torch.load runs with weights_only=True, which never runs code.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import re
import types
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from . import notebook_code
from .files import atomic_path

# The baseline MLP is 0.4 MB; 1 GiB is 268 million weights, far beyond any model of ours.
MAX_BYTES = 1 << 30
MAX_WIDTH = 65_536  # a wider hidden layer would not fit in memory on the machines this runs on
NORMS = ("LayerNorm", "BatchNorm1d")  # the normalisation layers the notebook builds its MLP with
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; one line naming the file and the problem."""


def config_to_dict(cfg) -> dict:
    """The notebook's Config as plain data: lists for tuples, the normalisation layer by its class name."""
    out = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    out["hidden"] = list(cfg.hidden)
    out["norm"] = None if cfg.norm is None else cfg.norm.__name__
    return out


def config_from_dict(data: dict, nb: types.ModuleType):
    """config_to_dict's inverse -> the notebook's Config; ValueError saying what is wrong."""
    known = {f.name for f in dataclasses.fields(nb.Config)}
    if not isinstance(data, dict):
        raise ValueError("not a mapping of config fields")
    unknown = sorted(map(str, set(data) - known))
    if unknown:
        raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
    hidden, dropout, norm = data.get("hidden", [128, 64]), data.get("dropout", 0.0), data.get("norm")
    if not isinstance(hidden, (list, tuple)) or not hidden or not all(
            isinstance(h, int) and not isinstance(h, bool) and 1 <= h <= MAX_WIDTH for h in hidden):
        raise ValueError(f"hidden must be a list of widths in 1..{MAX_WIDTH:,}, got {str(hidden)[:60]}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {str(dropout)[:30]}")
    if norm is not None and norm not in NORMS:  # a name, never looked up beyond these: nothing else is built
        raise ValueError(f"norm must be one of {', '.join(NORMS)} or null, got {str(norm)[:30]!r}")
    return nb.Config(**{**data, "hidden": tuple(hidden), "norm": None if norm is None else getattr(nn, norm)})


def save_checkpoint(path: str | Path, model: nn.Module, cfg, mean: float, std: float,
                    diverged: bool = False) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"config": config_to_dict(cfg), "state_dict": state, "mean": mean, "std": std,
                    "diverged": diverged}, tmp)


def mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def check_size(path: Path, name: str) -> None:
    """Refuse, before unpacking anything, a file whose contents would be far bigger than a model.

    torch.save writes its zip archive uncompressed, so a real checkpoint declares about its own
    size; a small file declaring gigabytes is a zip bomb."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise CheckpointError(f"{name}: {mb(size)}, far beyond any model train writes (at most {mb(MAX_BYTES)})")
    if not zipfile.is_zipfile(path):
        return  # the legacy format is not compressed: its size is what loading it costs
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(f"{name}: not a readable checkpoint (truncated or corrupt: {err})") from None
    if declared > MAX_BYTES or declared > 2 * size + (1 << 20):
        raise CheckpointError(f"{name}: refused before loading: it unpacks to {mb(declared)} from a {mb(size)} "
                              "file (torch.save never compresses; this is not a model.pt written by train)")


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu"):
    """-> (the notebook's MLP in eval mode, its Config, mean, std); CheckpointError when it cannot be used."""
    name = str(path)
    if not Path(path).is_file():
        raise CheckpointError(f"{name}: no such checkpoint file")
    check_size(Path(path), name)
    try:
        with warnings.catch_warnings():  # torch warns about odd pickle protocols on stderr: the error says it
            warnings.simplefilter("ignore")
            blob = torch.load(path, map_location=device, weights_only=True)
    except MemoryError:
        raise CheckpointError(f"{name}: not enough memory to load it ({mb(Path(path).stat().st_size)}); "
                              "close other programs and run predict again") from None
    except Exception as err:
        text = ESCAPES.sub("", str(err)).strip()
        if isinstance(err, pickle.UnpicklingError) and text.startswith("Weights only load failed"):
            # torch's message goes on to explain how to load it unsafely: advice we do not pass on
            raise CheckpointError(f"{name}: refused: it holds code or whole Python objects, not only weights "
                                  "(loading it could run that code); predict takes a model.pt written by train"
                                  ) from None
        first = text.splitlines()[0] if text else type(err).__name__
        raise CheckpointError(f"{name}: not a readable checkpoint (truncated or corrupt: {first[:120]})") from None
    if not isinstance(blob, dict) or not {"config", "state_dict", "mean", "std"} <= set(blob):
        raise CheckpointError(f"{name}: not a mnist_assignment checkpoint (missing keys)")
    if blob.get("diverged"):  # NaN weights would label every image 0 without a word
        raise CheckpointError(f"{name}: this model's training diverged; retrain it with a smaller learning rate")
    nb = notebook_code.load()
    try:
        cfg = config_from_dict(blob["config"], nb)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{name}: bad config in checkpoint ({err})") from None
    mean, std = blob["mean"], blob["std"]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (mean, std)) or not std > 0:
        raise CheckpointError(f"{name}: bad normalisation in checkpoint (mean and std must be numbers, std > 0)")
    state = blob["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name}: not a mnist_assignment checkpoint (state_dict is not a set of tensors)")
    # checked before the model is built: a config declaring huge layers beside small weights would
    # otherwise allocate them all first
    stored = sum(v.numel() for v in state.values())
    if parameter_count(cfg) > stored:
        raise CheckpointError(f"{name}: weights do not match the config ({stored:,} stored values for a model of "
                              f"{parameter_count(cfg):,} parameters)")
    model = nb.MLP(cfg.hidden, cfg.dropout, cfg.norm).to(device)
    try:
        model.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError, KeyError) as err:
        detail = " ".join(str(err).split())[:160]
        raise CheckpointError(f"{name}: weights do not match the config ({detail})") from None
    model.eval()
    return model, cfg, float(mean), float(std)


def parameter_count(cfg) -> int:
    """The trainable parameters of the notebook's MLP for cfg, without building it."""
    widths = [784, *cfg.hidden, 10]
    count = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    return count + (2 * sum(cfg.hidden) if cfg.norm is not None else 0)  # each norm layer: a scale and a shift
