"""Train several MLP runs at once: same widths, batch size, epochs and optimizer.

That is the studies' situation. The runs of a study that share a seed see the same batches in the
same order (paired seeds), so one forward pass serves them all: the first layer is one matmul of the
batch against every run's weights side by side, the later layers are one batched matmul. Runs with
different seeds (the batch-size study's, one run per seed and size) can share a stack too, each with
its own batches. Each run keeps its own weights, optimizer state, learning rate, dropout rate and
LayerNorm switch, and gets its own History with the numbers training.train gives it alone, to float
tolerance (tests/test_stacked.py compares them step by step).

Why: at batch 64 a 784-128-64-10 run spends more time on per-step overhead (autograd, module
calls, the optimizer) than on arithmetic; a stack pays that overhead once for all its runs and
multiplies bigger matrices, which the CPU does more efficiently.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from torch.nn import functional as F

from .config import TrainConfig
from .data import Split, make_loader
from .models import MLP, dropout_generator
from .training import DIVERGED_LOSS, History, finite_or_none

UPDATES = ("sgd", "momentum", "adam")


def stack_key(cfg: TrainConfig) -> tuple | None:
    """Runs with equal keys can train together; None: this run trains alone (training.train)."""
    alone = (cfg.model != "mlp" or cfg.batchnorm or cfg.shift or cfg.label_smoothing or cfg.weight_decay
             or cfg.schedule != "constant" or cfg.patience or cfg.optimizer not in UPDATES)
    return None if alone else (cfg.hidden, cfg.batch_size, cfg.epochs, cfg.optimizer, cfg.log_every)


class StackedMLP(nn.Module):
    """M MLPs of the same widths: input [B, 784] shared by all or [M, B, 784], logits [M, B, 10]."""

    def __init__(self, cfgs: list[TrainConfig]):
        super().__init__()
        models = []
        for cfg in cfgs:
            torch.manual_seed(cfg.seed)  # the initial weights training.train draws for this run
            models.append(MLP(cfg))
        # per layer, that layer of every run; weights transposed to [in, out] for x @ w
        layers = list(zip(*[[block[0] for block in m.hidden] + [m.out] for m in models]))
        # first layer as [784, M, out]: one matmul x @ w.view(784, M * out) serves every run
        self.w_first = nn.Parameter(torch.stack([lin.weight.detach().T for lin in layers[0]], 1).contiguous())
        self.weights = nn.ParameterList(  # later layers [M, in, out], for one batched matmul
            [nn.Parameter(torch.stack([lin.weight.detach().T for lin in layer]).contiguous()) for layer in layers[1:]])
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.stack([lin.bias.detach() for lin in layer]).unsqueeze(1)) for layer in layers])
        m, widths = len(cfgs), cfgs[0].hidden
        self.ln_weights = nn.ParameterList([nn.Parameter(torch.ones(m, 1, w)) for w in widths])
        self.ln_biases = nn.ParameterList([nn.Parameter(torch.zeros(m, 1, w)) for w in widths])
        self.register_buffer("layernorm", torch.tensor([c.layernorm for c in cfgs]).view(m, 1, 1))
        self.register_buffer("p", torch.tensor([c.dropout for c in cfgs]).view(m, 1, 1))
        self.any_layernorm = any(c.layernorm for c in cfgs)
        self.any_dropout = any(c.dropout > 0 for c in cfgs)
        # the streams the runs' own Dropout layers would draw from: one per seed
        self.seeds = sorted({c.seed for c in cfgs})
        self.generators = [dropout_generator(seed) for seed in self.seeds]
        self.register_buffer("seed_index", torch.tensor([self.seeds.index(c.seed) for c in cfgs]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_in, m, width = self.w_first.shape
        if x.dim() == 3:  # each run its own batch
            h = torch.baddbmm(self.biases[0], x, self.w_first.transpose(0, 1))
        else:
            h = (x @ self.w_first.view(n_in, m * width)).view(len(x), m, width).transpose(0, 1) + self.biases[0]
        for i, (w, b) in enumerate(zip(self.weights, self.biases[1:])):
            h = torch.baddbmm(b, self.activate(h, i), w)
        return h

    def activate(self, h: torch.Tensor, i: int) -> torch.Tensor:
        """Hidden layer i's norm -> ReLU -> dropout (models.hidden_block), each run with its own switches."""
        if self.any_layernorm:
            normed = F.layer_norm(h, h.shape[-1:]) * self.ln_weights[i] + self.ln_biases[i]
            h = torch.where(self.layernorm, normed, h)  # runs without LayerNorm: no gradient reaches it
        h = h.relu()
        if self.training and self.any_dropout:
            # the draws each run's own Dropout would make, one per seed; p = 0 keeps everything
            draws = [torch.rand(h.shape[1:], generator=g) for g in self.generators]
            uniform = draws[0] if len(draws) == 1 else torch.stack(draws)[self.seed_index]
            h = h * (uniform.to(h.device) >= self.p) / (1 - self.p)
        return h

    def ln_parameters(self) -> list[nn.Parameter]:
        return [*self.ln_weights, *self.ln_biases]

    def lr_shapes(self) -> list[tuple[nn.Parameter, tuple[int, ...]]]:
        """Each parameter with the shape a per-run value takes to broadcast against it."""
        m = self.w_first.shape[1]
        return [(self.w_first, (1, m, 1))] + [(p, (m, 1, 1)) for name, p in self.named_parameters()
                                              if name != "w_first"]

    def unstack(self, cfgs: list[TrainConfig]) -> list[MLP]:
        """The runs as ordinary MLPs (eval mode), for prediction or a comparison with a lone run."""
        out = []
        for i, cfg in enumerate(cfgs):
            mlp = MLP(cfg)
            linears = [block[0] for block in mlp.hidden] + [mlp.out]
            ws = [self.w_first[:, i]] + [w[i] for w in self.weights]
            with torch.no_grad():
                for j, (lin, w, b) in enumerate(zip(linears, ws, self.biases)):
                    lin.weight.copy_(w.T)
                    lin.bias.copy_(b[i, 0])
                    if cfg.layernorm and j < len(mlp.hidden):
                        mlp.hidden[j][1].weight.copy_(self.ln_weights[j][i, 0])
                        mlp.hidden[j][1].bias.copy_(self.ln_biases[j][i, 0])
            out.append(mlp.eval())
        return out


class StackedUpdate:
    """SGD, SGD + momentum 0.9 or Adam, computed as torch.optim does, with each run's learning rate.

    The _foreach ops update all parameter tensors in one call each, as torch.optim's foreach
    implementations do: a stack's step then costs a few calls, not a few per parameter.
    """

    def __init__(self, model: StackedMLP, optimizer: str, lrs: list[float]):
        lr = torch.tensor(lrs, device=model.w_first.device)
        shapes = model.lr_shapes()
        if not model.any_layernorm:  # their gradients would stay None
            shapes = [(p, shape) for p, shape in shapes if not any(p is q for q in model.ln_parameters())]
        self.params = [p for p, _ in shapes]
        self.lrs = [lr.view(shape) for _, shape in shapes]
        self.optimizer, self.state, self.t = optimizer, None, 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        params, grads = self.params, [p.grad for p in self.params]
        if self.optimizer == "sgd":
            torch._foreach_addcmul_(params, grads, self.lrs, value=-1)
        elif self.optimizer == "momentum":
            if self.state is None:
                self.state = torch._foreach_mul(grads, 1.0)  # first step: the buffer is the gradient
            else:
                torch._foreach_mul_(self.state, 0.9)
                torch._foreach_add_(self.state, grads)
            torch._foreach_addcmul_(params, self.state, self.lrs, value=-1)
        else:  # Adam, betas (0.9, 0.999), eps 1e-8, bias-corrected
            if self.state is None:
                self.state = ([torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params])
            m, v = self.state
            torch._foreach_lerp_(m, grads, 0.1)
            torch._foreach_mul_(v, 0.999)
            torch._foreach_addcmul_(v, grads, grads, value=0.001)
            denom = torch._foreach_sqrt(v)
            torch._foreach_div_(denom, math.sqrt(1 - 0.999 ** self.t))
            torch._foreach_add_(denom, 1e-8)
            steps = torch._foreach_div(m, denom)
            torch._foreach_mul_(steps, self.lrs)
            torch._foreach_add_(params, steps, alpha=-1 / (1 - 0.9 ** self.t))


def run_losses(logits: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of each run, [M]: its mean (training) or sum (evaluation) over the batch."""
    m, b, classes = logits.shape
    targets = y.reshape(m * b) if y.dim() == 2 else y.repeat(m)
    per_sample = F.cross_entropy(logits.reshape(m * b, classes), targets, reduction="none").view(m, b)
    return per_sample.mean(1) if reduction == "mean" else per_sample.sum(1)


@torch.no_grad()
def evaluate_stack(model: StackedMLP, x: torch.Tensor, y: torch.Tensor,
                   batch_size: int = 4096) -> tuple[list[float], list[float]]:
    model.eval()
    m = model.w_first.shape[1]
    loss, correct = torch.zeros(m, device=x.device), torch.zeros(m, device=x.device)
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        logits = model(xb)
        loss += run_losses(logits, yb, "sum")
        correct += (logits.argmax(2) == yb).sum(1)
    return (loss / len(y)).tolist(), (correct / len(y)).tolist()


def per_run(batches: list[tuple[torch.Tensor, torch.Tensor]], seed_index: torch.Tensor):
    """Each run's batch from its seed's batch: images [M, B, 784], labels [M, B]."""
    xs, ys = zip(*batches)
    return torch.stack(xs).index_select(0, seed_index), torch.stack(ys).index_select(0, seed_index)


def train_stack(cfgs: list[TrainConfig], split: Split) -> tuple[StackedMLP, list[History]]:
    """training.train for several runs at once; one History per config, in order."""
    if len({stack_key(c) for c in cfgs}) != 1 or stack_key(cfgs[0]) is None:
        raise ValueError("these configs cannot be trained as one stack (see stacked.stack_key)")
    cfg, device, n = cfgs[0], split.x_train.device, len(split.y_train)
    model = StackedMLP(cfgs).to(device)
    # each seed's data order, as training.train would shuffle it; runs that share a seed share batches
    loaders = [make_loader(split.x_train, split.y_train, cfg.batch_size, seed=s) for s in model.seeds]
    update = StackedUpdate(model, cfg.optimizer, [c.lr for c in cfgs])
    histories = [History(c.to_dict(), device=str(device), stacked=len(cfgs)) for c in cfgs]
    active = list(range(len(cfgs)))  # a diverged run stops recording, as it would stop alone
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        model.train()
        loss_sum, correct = torch.zeros(len(cfgs), device=device), torch.zeros(len(cfgs), device=device)
        for step, batches in enumerate(zip(*loaders), start=1):
            xb, yb = batches[0] if len(batches) == 1 else per_run(batches, model.seed_index)
            logits = model(xb)
            losses = run_losses(logits, yb)
            update.zero_grad()
            losses.sum().backward()  # each run's weights get the gradient of its own loss only
            update.step()
            loss_sum += losses.detach() * yb.shape[-1]
            correct += (logits.argmax(2) == yb).sum(1)  # yb: [B] shared or [M, B]
            iteration = (epoch - 1) * len(loaders[0]) + step
            if cfg.log_every and iteration % cfg.log_every == 0:
                for i, value in enumerate(losses.tolist()):
                    if i in active:
                        histories[i].iterations.append({"iteration": iteration,
                                                        "train_loss": finite_or_none(value)})
        train_loss, train_acc = (loss_sum / n).tolist(), (correct / n).tolist()
        val_loss, val_acc = evaluate_stack(model, split.x_val, split.y_val)
        seconds = (time.perf_counter() - start) / len(active)  # each run's share of the wall time
        for i in active:
            diverged = not train_loss[i] < DIVERGED_LOSS
            histories[i].diverged = diverged
            histories[i].epochs.append({
                "epoch": epoch, "train_loss": finite_or_none(train_loss[i]), "train_acc": train_acc[i],
                "val_loss": None if diverged else finite_or_none(val_loss[i]),
                "val_acc": None if diverged else finite_or_none(val_acc[i]), "seconds": seconds})
        active = [i for i in active if not histories[i].diverged]
        if not active:
            break
    for h in histories:
        losses = [(e["val_loss"], e["epoch"]) for e in h.epochs if e["val_loss"] is not None]
        h.best_epoch = min(losses, key=lambda le: le[0])[1] if losses else None  # first of equal minima
    return model, histories
