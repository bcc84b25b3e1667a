"""Train several MLP runs at once: same widths, batch size, epochs and optimizer.

That is the studies' situation. The runs of a study that share a seed see the same batches in the
same order (paired seeds), so one forward pass serves them all: every layer is one batched matmul
over the runs, the batch read by each. Runs with different seeds (the batch-size study's, one run
per seed and size) can share a stack too, each with its own batches. Each run keeps its own
weights, optimizer state, learning rate, dropout rate and LayerNorm switch, and gets its own
History with the numbers training.train gives it alone, to float tolerance (tests/test_stacked.py
compares them step by step).

Why: at batch 64 a 784-128-64-10 run spends more time on per-step overhead (autograd, module
calls, the optimizer) than on arithmetic; a stack pays that overhead once for all its runs and
multiplies bigger matrices, which the CPU does more efficiently.
"""

from __future__ import annotations

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
    # BatchNorm makes the gradient of a weight whose input is constant over a batch (a blank pixel)
    # pure rounding noise, which Adam scales up into full steps: such a run is defined by its rounding
    # and a stack cannot reproduce it; SGD's steps of that noise are negligible
    alone = (cfg.model != "mlp" or cfg.shift or cfg.elastic or cfg.tta or cfg.label_smoothing or cfg.weight_decay
             or cfg.schedule != "constant" or cfg.patience or cfg.optimizer not in UPDATES
             or (cfg.batchnorm and cfg.optimizer == "adam"))
    return None if alone else (cfg.hidden, cfg.batch_size, cfg.epochs, cfg.optimizer, cfg.log_every, cfg.batchnorm)


def rows(t: torch.Tensor, picks: list[int]) -> torch.Tensor:
    """These entries of t's first dimension (the runs), as a new tensor."""
    return t.index_select(0, torch.tensor(picks, dtype=torch.long, device=t.device))


def switch_group(cfg: TrainConfig) -> int:
    """A run's place in a stack: dropout only, dropout + LayerNorm, LayerNorm only, neither.

    In that order the dropout runs are one contiguous range and the LayerNorm runs another, so
    each is applied to its own runs only, not computed for all and then discarded.
    """
    return (0 if not cfg.layernorm else 1) if cfg.dropout > 0 else (2 if cfg.layernorm else 3)


class StackedMLP(nn.Module):
    """M MLPs of the same widths: input [B, 784] shared by all or [M, B, 784], logits [M, B, 10].

    The runs sit in switch_group order: self.cfgs[k] is run k, self.order[k] its index in the
    list it was made from.
    """

    def __init__(self, cfgs: list[TrainConfig]):
        super().__init__()
        self.order = sorted(range(len(cfgs)), key=lambda i: switch_group(cfgs[i]))  # stable
        self.n_given = len(cfgs)
        self.cfgs = cfgs = [cfgs[i] for i in self.order]
        models = []
        for cfg in cfgs:
            torch.manual_seed(cfg.seed)  # the initial weights training.train draws for this run
            models.append(MLP(cfg))
        # per layer, that layer of every run; weights transposed to [in, out] for x @ w
        layers = list(zip(*[[block[0] for block in m.hidden] + [m.out] for m in models]))
        # each layer [M, in, out], one batched matmul; run-major, so that one run's slice is contiguous
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.stack([lin.weight.detach().T for lin in layer]).contiguous()) for layer in layers])
        # a layer without bias (before BatchNorm) gets a zero one that never trains: one forward for all
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.stack([lin.bias.detach() for lin in layer]).unsqueeze(1)) if layer[0].bias is not None
             else nn.Parameter(torch.zeros(len(cfgs), 1, layer[0].out_features), requires_grad=False)
             for layer in layers])
        groups = [switch_group(c) for c in cfgs]
        self.n_dropout = groups.count(0) + groups.count(1)  # runs [0, n_dropout)
        self.ln_runs = slice(self.n_dropout - groups.count(1), len(cfgs) - groups.count(3))
        n_ln = self.ln_runs.stop - self.ln_runs.start
        self.ln_weights = nn.ParameterList([nn.Parameter(torch.ones(n_ln, 1, w)) for w in cfgs[0].hidden])
        self.ln_biases = nn.ParameterList([nn.Parameter(torch.zeros(n_ln, 1, w)) for w in cfgs[0].hidden])
        # BatchNorm (a stack is all BatchNorm or none, stack_key): each run's own scale, shift and running
        # statistics, [M, 1, width] per hidden layer
        self.batchnorm, self.bn_steps = cfgs[0].batchnorm, 0
        norms = list(zip(*[[block[1] for block in m.hidden] for m in models])) if self.batchnorm else []
        self.bn_weights = nn.ParameterList([nn.Parameter(torch.stack([bn.weight.detach() for bn in layer]).unsqueeze(1))
                                            for layer in norms])
        self.bn_biases = nn.ParameterList([nn.Parameter(torch.stack([bn.bias.detach() for bn in layer]).unsqueeze(1))
                                           for layer in norms])
        for i, layer in enumerate(norms):
            self.register_buffer(f"bn_mean{i}", torch.stack([bn.running_mean for bn in layer]).unsqueeze(1))
            self.register_buffer(f"bn_var{i}", torch.stack([bn.running_var for bn in layer]).unsqueeze(1))
        self.register_buffer("p", torch.tensor([c.dropout for c in cfgs[:self.n_dropout]]).view(-1, 1, 1))
        # the streams the runs' own Dropout layers would draw from: one per seed
        self.seeds = sorted({c.seed for c in cfgs})
        self.generators = [dropout_generator(seed) for seed in self.seeds]
        self.register_buffer("seed_index", torch.tensor([self.seeds.index(c.seed) for c in cfgs]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # one batch for every run (a view: batched matmul reads it M times, copies nothing)
            x = x.expand(len(self.cfgs), *x.shape)
        h = torch.baddbmm(self.biases[0], x, self.weights[0])
        for i, (w, b) in enumerate(zip(self.weights[1:], self.biases[1:])):
            h = torch.baddbmm(b, self.activate(h, i), w)
        return h

    def activate(self, h: torch.Tensor, i: int) -> torch.Tensor:
        """Hidden layer i's norm -> ReLU -> dropout (models.hidden_block), each on its own runs."""
        a, b = self.ln_runs.start, self.ln_runs.stop
        if self.batchnorm:
            h = self.batch_norm(h, i)
        elif b > a:  # split, not slices: a slice's backward fills a whole zero tensor for its part
            before, runs, after = h.split([a, b - a, len(h) - b])
            normed = torch.addcmul(self.ln_biases[i], F.layer_norm(runs, h.shape[-1:]), self.ln_weights[i])
            h = torch.cat([before, normed, after])
        h = h.relu()
        d = self.n_dropout
        if self.training and d:
            # the draws each run's own Dropout would make, one per seed
            draws = [torch.rand(h.shape[1:], generator=g) for g in self.generators]
            uniform = draws[0] if len(draws) == 1 else torch.stack(draws)[self.seed_index[:d]]
            mask = (uniform.to(h.device) >= self.p) / (1 - self.p)
            runs, after = h.split([d, len(h) - d])
            h = torch.cat([runs * mask, after])
        return h

    def batch_norm(self, h: torch.Tensor, i: int) -> torch.Tensor:
        """nn.BatchNorm1d of each run over its own batch: the runs' units side by side as the channels
        of one batch_norm call ([B, runs x width]), each channel with its own statistics."""
        m, b, w = h.shape
        out = F.batch_norm(h.transpose(0, 1).reshape(b, m * w), getattr(self, f"bn_mean{i}").view(-1),
                           getattr(self, f"bn_var{i}").view(-1), self.bn_weights[i].view(-1),
                           self.bn_biases[i].view(-1), self.training, 0.1, 1e-5)
        if self.training and i == 0:
            self.bn_steps += 1
        return out.view(b, m, w).transpose(0, 1)

    def run_ranges(self) -> list[tuple[nn.Parameter, range]]:
        """Each parameter with the runs (stack indices) it holds, one per slice of its first dimension."""
        ln = range(len(self.cfgs))[self.ln_runs]
        trained = [*self.weights, *[b for b in self.biases if b.requires_grad], *self.bn_weights, *self.bn_biases]
        return ([(p, range(len(self.cfgs))) for p in trained]
                + [(p, ln) for p in [*self.ln_weights, *self.ln_biases] if len(ln)])

    def keep(self, runs: list[int]) -> None:
        """Train on with these runs only (stack indices, ascending): a diverged run stops costing work."""
        a, b = self.ln_runs.start, self.ln_runs.stop
        for i in range(len(self.bn_weights)):
            for name in (f"bn_mean{i}", f"bn_var{i}"):
                setattr(self, name, rows(getattr(self, name), runs))
        for params, picks in ((self.weights, runs), (self.biases, runs),
                              (self.bn_weights, runs), (self.bn_biases, runs),
                              (self.ln_weights, [r - a for r in runs if a <= r < b]),
                              (self.ln_biases, [r - a for r in runs if a <= r < b])):
            for k, p in enumerate(params):
                params[k] = nn.Parameter(rows(p.detach(), picks), requires_grad=p.requires_grad)
        self.p = self.p[[r for r in runs if r < self.n_dropout]]
        self.seed_index = self.seed_index[runs]
        self.ln_runs = slice(sum(r < a for r in runs), sum(r < b for r in runs))
        self.n_dropout = sum(r < self.n_dropout for r in runs)
        self.cfgs, self.order = [self.cfgs[r] for r in runs], [self.order[r] for r in runs]

    def unstack(self) -> list[MLP | None]:
        """The runs as ordinary MLPs (eval mode), in the order the stack was made from; None for a
        run that left it (diverged)."""
        out = [None] * self.n_given
        for i, cfg in enumerate(self.cfgs):
            mlp = MLP(cfg)
            linears = [block[0] for block in mlp.hidden] + [mlp.out]
            with torch.no_grad():
                for j, (lin, w, b) in enumerate(zip(linears, self.weights, self.biases)):
                    lin.weight.copy_(w[i].T)
                    if lin.bias is not None:
                        lin.bias.copy_(b[i, 0])
                    if cfg.layernorm and j < len(mlp.hidden):
                        mlp.hidden[j][1].weight.copy_(self.ln_weights[j][i - self.ln_runs.start, 0])
                        mlp.hidden[j][1].bias.copy_(self.ln_biases[j][i - self.ln_runs.start, 0])
                    if cfg.batchnorm and j < len(mlp.hidden):
                        norm = mlp.hidden[j][1]
                        norm.weight.copy_(self.bn_weights[j][i, 0])
                        norm.bias.copy_(self.bn_biases[j][i, 0])
                        norm.running_mean.copy_(getattr(self, f"bn_mean{j}")[i, 0])
                        norm.running_var.copy_(getattr(self, f"bn_var{j}")[i, 0])
                        norm.num_batches_tracked.fill_(self.bn_steps)
            out[self.order[i]] = mlp.eval()
        return out


class StackedUpdate:
    """SGD, SGD + momentum 0.9 or Adam, computed as torch.optim does, with each run's learning rate.

    SGD and momentum: public in-place ops per parameter tensor, each run's learning rate broadcast
    over its slice. Adam: torch.optim's fused kernel (one pass over a tensor instead of ~10), called
    once per run on that run's contiguous slices, since it takes a single learning rate;
    training.make_optimizer gives a lone Adam run the same kernel. fused_adam_ is the one private
    torch call of the project; tests/test_stacked.py checks it against torch.optim.Adam(fused=True).
    """

    def __init__(self, model: StackedMLP):
        self.model, self.optimizer, self.state = model, model.cfgs[0].optimizer, None
        self.take_parameters()

    def take_parameters(self) -> None:
        """The model's parameters and its runs' learning rates, read again after keep()."""
        ranges = self.model.run_ranges()
        self.run_lrs = [c.lr for c in self.model.cfgs]
        lr = torch.tensor(self.run_lrs, device=self.model.weights[0].device)
        self.params = [p for p, _ in ranges]
        self.lrs = [lr[runs.start:runs.stop].view(-1, *[1] * (p.dim() - 1)) for p, runs in ranges]
        # run r's slices: (parameter index, its position in that parameter)
        self.slices = [[(k, r - runs.start) for k, (_, runs) in enumerate(ranges) if r in runs]
                       for r in range(len(self.run_lrs))]

    def keep(self, runs: list[int]) -> None:
        """The model keeps only these runs (StackedMLP.keep), the optimizer state likewise."""
        picks = [[r - rr.start for r in runs if r in rr] for _, rr in self.model.run_ranges()]
        self.model.keep(runs)
        self.take_parameters()

        def cut(tensors):  # a parameter whose runs all left is gone from the model's list too
            return [rows(t, i) for t, i in zip(tensors, picks) if i]

        if self.state is not None:
            self.state = cut(self.state) if self.optimizer == "momentum" else (
                cut(self.state[0]), cut(self.state[1]), self.state[2])

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        params, grads = self.params, [p.grad for p in self.params]
        if self.optimizer == "sgd":
            for p, g, lr in zip(params, grads, self.lrs):
                p.addcmul_(g, lr, value=-1)
        elif self.optimizer == "momentum":
            if self.state is None:
                self.state = [g.clone() for g in grads]  # first step: the buffer is the gradient
            else:
                for buf, g in zip(self.state, grads):
                    buf.mul_(0.9).add_(g)
            for p, buf, lr in zip(params, self.state, self.lrs):
                p.addcmul_(buf, lr, value=-1)
        else:  # Adam, betas (0.9, 0.999), eps 1e-8, bias-corrected
            if self.state is None:
                self.state = ([torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params],
                              torch.zeros((), device=params[0].device))
            m, v, step = self.state
            step += 1
            for lr, slices in zip(self.run_lrs, self.slices):
                part = [[tensors[k][i] for k, i in slices] for tensors in (params, grads, m, v)]
                fused_adam_(*part, [step] * len(slices), lr=lr)


def fused_adam_(params, grads, exp_avgs, exp_avg_sqs, steps, lr: float) -> None:
    """One Adam step (betas 0.9/0.999, eps 1e-8, no weight decay) in torch.optim's fused kernel.

    A private torch op: the only one in the project, here alone so that a torch upgrade that changes
    it fails one test (test_stacked.py) rather than silently changing results.
    """
    torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=0.9, beta2=0.999,
                       weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)


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
    m = len(model.cfgs)
    loss, correct = torch.zeros(m, device=x.device), torch.zeros(m, device=x.device)
    for xb, yb in zip(x.split(batch_size), y.split(batch_size)):
        logits = model(xb)
        loss += run_losses(logits, yb, "sum")
        correct += (logits.argmax(2) == yb).sum(1)
    return (loss / len(y)).tolist(), [c / len(y) for c in correct.tolist()]  # exact, as training.evaluate


def per_run(indices: tuple[torch.Tensor, ...], seed_index: torch.Tensor, x: torch.Tensor, y: torch.Tensor):
    """Each run's batch from its seed's sample indices: images [M, B, 784], labels [M, B]."""
    idx = torch.stack(indices).to(x.device).index_select(0, seed_index).view(-1)
    m = len(seed_index)
    return x.index_select(0, idx).view(m, -1, x.shape[1]), y.index_select(0, idx).view(m, -1)


def train_stack(cfgs: list[TrainConfig], split: Split) -> tuple[StackedMLP, list[History]]:
    """training.train for several runs at once; one History per config, in the order given."""
    if len({stack_key(c) for c in cfgs}) != 1 or stack_key(cfgs[0]) is None:
        raise ValueError("these configs cannot be trained as one stack (see stacked.stack_key)")
    model = StackedMLP(cfgs).to(split.x_train.device)
    cfgs = model.cfgs  # the stack's order from here on
    cfg, device, n = cfgs[0], split.x_train.device, len(split.y_train)
    # each seed's data order, as training.train would shuffle it; runs that share a seed share batches
    loaders = [make_loader(split.x_train, split.y_train, cfg.batch_size, seed=s) for s in model.seeds]
    update = StackedUpdate(model)
    histories = [History(c.to_dict(), device=str(device), stacked=len(cfgs)) for c in cfgs]
    given_order = model.order
    active = list(range(len(cfgs)))  # the runs still in the stack; a diverged run leaves it
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        model.train()
        loss_sum, correct = torch.zeros(len(active), device=device), torch.zeros(len(active), device=device)
        # several seeds: their samplers' indices (the order each loader would give), one gather for all
        batches = loaders[0] if len(loaders) == 1 else (
            per_run(indices, model.seed_index, split.x_train, split.y_train)
            for indices in zip(*[loader.sampler for loader in loaders]))
        for step, (xb, yb) in enumerate(batches, start=1):
            logits = model(xb)
            losses = run_losses(logits, yb)
            update.zero_grad()
            losses.sum().backward()  # each run's weights get the gradient of its own loss only
            update.step()
            loss_sum += losses.detach() * yb.shape[-1]
            correct += (logits.argmax(2) == yb).sum(1)  # yb: [B] shared or [M, B]
            iteration = (epoch - 1) * len(loaders[0]) + step
            if cfg.log_every and iteration % cfg.log_every == 0:
                for i, value in zip(active, losses.tolist()):
                    histories[i].iterations.append({"iteration": iteration, "train_loss": finite_or_none(value)})
        train_loss, train_acc = (loss_sum / n).tolist(), [c / n for c in correct.tolist()]
        val_loss, val_acc = evaluate_stack(model, split.x_val, split.y_val)
        seconds = (time.perf_counter() - start) / len(active)  # each run's share of the wall time
        for j, i in enumerate(active):
            diverged = not train_loss[j] < DIVERGED_LOSS
            histories[i].diverged = diverged
            histories[i].epochs.append({
                "epoch": epoch, "train_loss": finite_or_none(train_loss[j]), "train_acc": train_acc[j],
                "val_loss": None if diverged else finite_or_none(val_loss[j]),
                "val_acc": None if diverged else finite_or_none(val_acc[j]), "seconds": seconds})
        going = [j for j, i in enumerate(active) if not histories[i].diverged]
        if not going:
            break
        if len(going) < len(active):
            update.keep(going)
            active = [active[j] for j in going]
    for h in histories:
        losses = [(e["val_loss"], e["epoch"]) for e in h.epochs if e["val_loss"] is not None]
        h.best_epoch = min(losses, key=lambda le: le[0])[1] if losses else None  # first of equal minima
    in_given_order = [None] * len(histories)
    for k, h in zip(given_order, histories):
        in_given_order[k] = h
    return model, in_given_order
