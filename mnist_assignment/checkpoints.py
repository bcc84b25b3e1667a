"""model.pt: what `train` writes and `predict` reads (config, weights, normalisation).

A checkpoint is a file someone hands over, so it is read defensively: its zip directory is checked
before anything is unpacked, and torch.load runs with weights_only=True, which never runs code.
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from .config import TrainConfig
from .files import atomic_path
from .models import build_model

# The largest preset (best-mlp) is 7.5 MB; 1 GiB is 268 million weights, far beyond any model of ours.
MAX_BYTES = 1 << 30
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; one line naming the file and the problem."""


def save_checkpoint(path: str | Path, model: nn.Module, cfg: TrainConfig, mean: float,
                    std: float, diverged: bool = False) -> None:
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"config": cfg.to_dict(), "state_dict": state, "mean": mean, "std": std,
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
    """-> (model in eval mode, config, mean, std); CheckpointError when it cannot be used."""
    name = str(path)
    if not Path(path).is_file():
        raise CheckpointError(f"{name}: no such checkpoint file")
    if name.endswith(".npz"):
        raise CheckpointError(f"{name}: a numpy-mlp model; predict takes a model.pt written by train "
                              "(--model mlp or cnn)")
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
    try:
        cfg = TrainConfig.from_dict(blob["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{name}: bad config in checkpoint ({err})") from None
    model = build_model(cfg).to(device)
    try:
        model.load_state_dict(blob["state_dict"])
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:160]
        raise CheckpointError(f"{name}: weights do not match the config ({detail})") from None
    model.eval()
    return model, cfg, float(blob["mean"]), float(blob["std"])
