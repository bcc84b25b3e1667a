"""model.pt: what `train` writes and `predict` reads (the model's layers, their weights, the normalisation).

A checkpoint lists its model's layers as plain data (["Linear", 784, 128], ["ReLU"], ...), read off
the trained model, and load_checkpoint rebuilds them with torch alone: loading a model.pt runs no code
of the notebook, and a model trained before the notebook's MLP changed still loads as it was trained.
Beside the layers: the run's Config as plain data, and the training part's pixel mean and std.

A checkpoint is a file someone hands over, so it is read defensively: its zip directory is checked
before anything is unpacked, torch.load runs with weights_only=True, which never runs code, and
only the layer kinds of LAYERS are built.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import re
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from .files import atomic_path

# The baseline MLP is 0.4 MB; 1 GiB is 268 million weights, far beyond any model of ours.
MAX_BYTES = 1 << 30
# the layers a checkpoint may hold -> the arguments that rebuild one, read off the trained layer
LAYERS = {
    "Flatten": lambda m: [],
    "Linear": lambda m: [m.in_features, m.out_features],
    "LayerNorm": lambda m: list(m.normalized_shape),
    "BatchNorm1d": lambda m: [m.num_features],
    "ReLU": lambda m: [],
    "Dropout": lambda m: [m.p],
}
ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; one line naming the file and the problem."""


def config_to_dict(cfg) -> dict:
    """The notebook's Config as plain data: lists for tuples, the normalisation layer by its class name."""
    out = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    out["hidden"] = list(cfg.hidden)
    out["norm"] = None if cfg.norm is None else cfg.norm.__name__
    return out


def innermost(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


def layers_of(model: nn.Module) -> list[list]:
    """The model's innermost layers in order, each as [kind, *arguments]; ValueError for a kind outside LAYERS."""
    leaves = innermost(model)
    unknown = sorted({type(m).__name__ for m in leaves} - set(LAYERS))
    if unknown:
        raise ValueError(f"a checkpoint holds only {', '.join(LAYERS)} layers, not {', '.join(unknown)}")
    return [[type(m).__name__, *LAYERS[type(m).__name__](m)] for m in leaves]


def check_layers(layers) -> None:
    """ValueError naming the first layer that is not a kind of LAYERS with numbers for arguments (the layer's
    own constructor judges their values)."""
    if not isinstance(layers, list) or not layers:
        raise ValueError("no list of layers")
    for layer in layers:
        kind, *args = layer if isinstance(layer, list) and layer else [None]
        if not isinstance(kind, str) or kind not in LAYERS:  # nothing outside LAYERS is ever looked up
            raise ValueError(f"a layer must be one of {', '.join(LAYERS)}, got {str(kind)[:30]!r}")
        if not all(type(a) in (int, float) for a in args):
            raise ValueError(f"{kind} takes numbers, got {str(args)[:60]}")


def build(layers: list[list]) -> nn.Sequential:
    return nn.Sequential(*(getattr(nn, kind)(*args) for kind, *args in layers))


def rebuilt(model: nn.Module) -> tuple[list[list], nn.Sequential]:
    """(the model's layers, the stack predict builds from them, holding the model's weights); ValueError for a
    model that stack does not reproduce (a skip connection, say), which predict would get wrong without a word."""
    layers = layers_of(model)
    stack = build(layers).eval()
    leaves = innermost(model)
    for copy, layer in zip(stack, leaves):
        copy.load_state_dict(layer.state_dict())
    first = next(m for m in leaves if isinstance(m, nn.Linear))
    probe = torch.randn(8, first.in_features, generator=torch.Generator().manual_seed(0))
    training = model.training
    model.eval()
    with torch.no_grad():
        same = torch.allclose(stack(probe), model(probe.to(first.weight.device)).cpu(), rtol=1e-4, atol=1e-5,
                              equal_nan=True)  # a diverged model is saved too: predict refuses it
    model.train(training)
    if not same:
        raise ValueError("the model computes something other than its layers in order: predict could not "
                         "rebuild it from a checkpoint")
    return layers, stack


def save_checkpoint(path: str | Path, model: nn.Module, cfg, mean: float, std: float,
                    diverged: bool = False) -> None:
    layers, stack = rebuilt(model)
    with atomic_path(path) as tmp:
        torch.save({"layers": layers, "state_dict": stack.state_dict(), "config": config_to_dict(cfg),
                    "mean": mean, "std": std, "diverged": diverged}, tmp)


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
    """-> (the model in eval mode, its run's config as plain data, mean, std); CheckpointError when it cannot
    be used."""
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
    if not isinstance(blob, dict) or not {"layers", "state_dict", "config", "mean", "std"} <= set(blob):
        raise CheckpointError(f"{name}: not a mnist_assignment checkpoint (missing keys)")
    if blob.get("diverged"):  # NaN weights would label every image 0 without a word
        raise CheckpointError(f"{name}: this model's training diverged; retrain it with a smaller learning rate")
    layers, config = blob["layers"], blob["config"]
    try:
        check_layers(layers)
    except ValueError as err:
        raise CheckpointError(f"{name}: bad layers in checkpoint ({err})") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{name}: bad config in checkpoint (not a mapping of config fields)")
    mean, std = blob["mean"], blob["std"]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (mean, std)) or not std > 0:
        raise CheckpointError(f"{name}: bad normalisation in checkpoint (mean and std must be numbers, std > 0)")
    state = blob["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{name}: not a mnist_assignment checkpoint (state_dict is not a set of tensors)")
    try:
        with torch.device("meta"):  # nothing allocated, however wide the layers: the weights are the file's tensors
            model = build(layers)
    except (RuntimeError, ValueError, TypeError) as err:  # e.g. a negative width, a dropout rate of 2
        raise CheckpointError(f"{name}: bad layers in checkpoint ({' '.join(str(err).split())[:160]})") from None
    try:
        model.load_state_dict(state, assign=True)
    except (RuntimeError, ValueError, TypeError, KeyError) as err:
        detail = " ".join(str(err).split())[:160]
        raise CheckpointError(f"{name}: weights do not match the layers ({detail})") from None
    return model.to(device).eval(), config, float(mean), float(std)
