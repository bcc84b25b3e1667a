"""MLP and CNN built from a TrainConfig: only the layers the config asks for, so print(model) shows what runs."""

from __future__ import annotations

import torch
from torch import nn

from .config import TrainConfig


def hidden_block(n_in: int, n_out: int, cfg: TrainConfig) -> nn.Sequential:
    """The one place the order is stated: Linear -> norm -> ReLU -> Dropout, each only if the config asks."""
    # BatchNorm subtracts the batch mean, so a bias before it would get only rounding noise as its
    # gradient (which Adam would scale up into steps); BatchNorm's own shift takes its place
    layers = [nn.Linear(n_in, n_out, bias=not cfg.batchnorm)]
    if cfg.batchnorm:
        layers.append(nn.BatchNorm1d(n_out))
    elif cfg.layernorm:
        layers.append(nn.LayerNorm(n_out))
    layers.append(nn.ReLU())
    if cfg.dropout > 0:
        layers.append(nn.Dropout(cfg.dropout))
    return nn.Sequential(*layers)


def he_init(module: nn.Module) -> None:
    """He (Kaiming) normal init for layers followed by ReLU: PyTorch's default starts with smaller
    weights, which plain SGD at lr 0.01 pays for within a fixed epoch budget (bench/README.md)."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def hidden_layers(n_in: int, cfg: TrainConfig) -> nn.Sequential:
    """The hidden blocks from n_in inputs through cfg.hidden."""
    widths = [n_in, *cfg.hidden]
    return nn.Sequential(*[hidden_block(a, b, cfg) for a, b in zip(widths, widths[1:])])


class MLP(nn.Module):
    """784 -> hidden... -> 10 logits (softmax lives in the loss)."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        self.hidden = hidden_layers(784, cfg)
        self.out = nn.Linear(cfg.hidden[-1], 10)
        self.apply(he_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        x = self.hidden(x)
        return self.out(x)


def conv_block(c_in: int, c_out: int, cfg: TrainConfig) -> nn.Sequential:
    """Conv3x3 -> MaxPool2x2 (halves the side) -> BatchNorm -> ReLU."""
    # pool first: BatchNorm and ReLU then run on a quarter of the values. Normalising the pooled
    # maps is a slightly different model from normalising before the pool (its statistics are
    # those of the maxima), as accurate and a quarter faster an epoch (bench/README.md)
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not cfg.batchnorm), nn.MaxPool2d(2)]
    if cfg.batchnorm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class CNN(nn.Module):
    """conv blocks (one pool each) -> flatten -> the same hidden blocks as the MLP -> 10."""

    def __init__(self, cfg: TrainConfig):
        super().__init__()
        chans = [1, *cfg.channels]
        self.features = nn.Sequential(*[conv_block(a, b, cfg) for a, b in zip(chans, chans[1:])])
        side = 28 // 2 ** len(cfg.channels)
        flat = chans[-1] * side * side  # derived, never a hand-computed literal
        self.hidden = hidden_layers(flat, cfg)
        self.out = nn.Linear(cfg.hidden[-1], 10)
        self.apply(he_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, 28, 28)
        x = self.features(x)
        x = self.hidden(x.flatten(1))
        return self.out(x)


def build_model(cfg: TrainConfig) -> nn.Module:
    """The model a run trains: a CNN or an MLP, as the config says."""
    if cfg.model == "cnn":
        # NHWC: the CPU's convolution kernels are faster on it (bench/README.md); the values are the same
        return CNN(cfg).to(memory_format=torch.channels_last)
    return MLP(cfg)


def parameter_table(model: nn.Module) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, shape, count) per parameter tensor, for the notebook's architecture section."""
    return [(name, tuple(p.shape), p.numel()) for name, p in model.named_parameters()]


def multiply_adds(cfg: TrainConfig) -> int:
    """Multiply-adds of one forward pass for one image in the Linear and Conv2d layers (the rest is
    small change), from the config alone. Training costs about three times this per image."""
    total, n_in = 0, 784
    if cfg.model == "cnn":
        side, c_in = 28, 1
        for c_out in cfg.channels:  # a 3x3 conv at full size, then a 2x2 pool halves the side
            total += side * side * c_in * c_out * 9
            side, c_in = side // 2, c_out
        n_in = c_in * side * side
    widths = [n_in, *cfg.hidden, 10]
    return total + sum(a * b for a, b in zip(widths, widths[1:]))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def pick_device() -> torch.device:
    """CUDA, else Apple MPS, else CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads; no GPU found)"
