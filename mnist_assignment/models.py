"""MLP and CNN built from a TrainConfig; optional parts are nn.Identity so forward has no ifs."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import TrainConfig


class Dropout(nn.Module):
    """Inverted dropout (as nn.Dropout) whose masks come from the run's own generator.

    Why not the global RNG: runs that differ only in their dropout rate then drop units from the
    same random numbers (a paired comparison), and a run trained in a stack (stacked.py) gets
    exactly the masks it would get alone.
    """

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        uniform = torch.rand(x.shape, generator=self.generator).to(x.device)
        return x * (uniform >= self.p) / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def dropout_generator(seed: int) -> torch.Generator:
    # a stream of its own, so that the masks do not reuse the numbers that drew the initial weights
    return torch.Generator().manual_seed(1_000_003 * (seed + 1))


def hidden_block(n_in: int, n_out: int, cfg: TrainConfig, generator: torch.Generator) -> nn.Sequential:
    """The one place the order is stated: Linear -> norm -> ReLU -> Dropout."""
    if cfg.batchnorm:
        norm = nn.BatchNorm1d(n_out)
    elif cfg.layernorm:
        norm = nn.LayerNorm(n_out)
    else:
        norm = nn.Identity()
    return nn.Sequential(
        # BatchNorm subtracts the batch mean, so a bias before it would get only rounding noise as its
        # gradient (which Adam would scale up into steps); BatchNorm's own shift takes its place
        nn.Linear(n_in, n_out, bias=not cfg.batchnorm),
        norm,
        nn.ReLU(),
        Dropout(cfg.dropout, generator) if cfg.dropout > 0 else nn.Identity(),
    )


def he_init(module: nn.Module) -> None:
    """He (Kaiming) normal init for layers followed by ReLU: PyTorch's default starts with smaller
    weights, which plain SGD at lr 0.01 pays for within a fixed epoch budget (bench/README.md)."""
    if isinstance(module, (nn.Linear, nn.Conv2d)):
        nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


SMALL_BATCH = 32  # input_major pays up to here (bench/README.md)


def input_major(module: nn.Module) -> None:
    """Store each Linear weight input-major: same [out, in] shape and values, [in, out] in memory.

    F.linear computes x @ W.T, and MKL's small-batch matmul is faster when W.T is contiguous
    (bench/README.md); values, gradients and results are those of a plain nn.Linear.
    """
    if isinstance(module, nn.Linear):
        module.weight = nn.Parameter(module.weight.detach().T.contiguous().T)


def hidden_layers(n_in: int, cfg: TrainConfig) -> nn.Sequential:
    """The hidden blocks from n_in inputs through cfg.hidden; one dropout stream serves them all."""
    widths = [n_in, *cfg.hidden]
    generator = dropout_generator(cfg.seed)
    return nn.Sequential(*[hidden_block(a, b, cfg, generator) for a, b in zip(widths, widths[1:])])


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
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=not cfg.batchnorm),
        # pool first: BatchNorm and ReLU then run on a quarter of the values. Normalising the pooled
        # maps is a slightly different model from normalising before the pool (its statistics are
        # those of the maxima), as accurate and a quarter faster an epoch (bench/README.md)
        nn.MaxPool2d(2),
        nn.BatchNorm2d(c_out) if cfg.batchnorm else nn.Identity(),
        nn.ReLU(),
    )


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
    """The model a run trains: the class above, with the CPU memory layouts that make it faster.

    Layout only: the values, and so the maths, are those of the plain class.
    """
    model = CNN(cfg) if cfg.model == "cnn" else MLP(cfg)
    if cfg.batch_size <= SMALL_BATCH:  # larger batches gain nothing, and fused Adam copies such weights
        model.apply(input_major)
    if cfg.model == "cnn":  # NHWC: the CPU's convolution kernels are faster on it (bench/README.md)
        model.to(memory_format=torch.channels_last)
    return model


def parameter_table(model: nn.Module) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, shape, count) per parameter tensor, for the notebook's architecture section."""
    return [(name, tuple(p.shape), p.numel()) for name, p in model.named_parameters()]


def multiply_adds(model: nn.Module) -> int:
    """Multiply-adds of one forward pass for one image, in the Linear and Conv2d layers (the rest
    is small change). Training costs about three times this per image: forward, then two matmuls
    per layer backward."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        if isinstance(module, nn.Linear):
            total += module.in_features * module.out_features
        else:  # Conv2d: every output value is a dot product over in_channels x kernel
            total += output[0].numel() * module.in_channels // module.groups * math.prod(module.kernel_size)

    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    hooks = [m.register_forward_hook(count) for m in layers]
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 784, device=next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(training)
    return total


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
