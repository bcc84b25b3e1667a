"""Studies: one factor at a time from one baseline, every run from scratch, paired seeds.

A study is a list of configs made with `dataclasses.replace`; every (config, seed) run is stored
as one JSON file under results/ the moment it finishes, so an interrupted study keeps its runs.
Runs that can share batches train together as one stack (stacked.py); stacks and lone runs go to
worker processes, one thread each: a small-batch run is bound by per-step overhead, not
arithmetic, so two 1-thread workers side by side beat one 2-thread process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import multiprocessing as mp
import os
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .config import BASELINE, PRESETS, TrainConfig
from .data import prepare
from .files import write_atomic

# study name -> (label of the factor, [(value, overrides of the baseline)])
STUDIES: dict[str, tuple[str, list[tuple[object, dict]]]] = {
    "lr": ("learning rate", [(v, {"lr": v}) for v in (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)]),
    "batch_size": ("batch size", [(v, {"batch_size": v}) for v in (16, 32, 64, 128, 256, 512, 2048)]),
    "regularization": ("regularisation", [
        ("none", {}),
        ("dropout 0.2", {"dropout": 0.2}),
        ("LayerNorm", {"layernorm": True}),
        ("dropout 0.2 + LayerNorm", {"dropout": 0.2, "layernorm": True}),
    ]),
    "dropout": ("dropout rate", [(v, {"dropout": v}) for v in (0.1, 0.3, 0.5, 0.7, 0.9)]),
    # the reference projects' Adam combinations: (learning rate, dropout)
    "adam_combos": ("Adam (lr, dropout)", [
        (f"lr {lr:g}, dropout {p:g}", {"optimizer": "adam", "lr": lr, "dropout": p})
        for lr, p in ((0.001, 0.2), (0.0005, 0.4), (0.0001, 0.6))
    ]),
    # extensions: each optimizer at a few learning rates around its usual sweet spot
    "optimizers": ("optimizer", [
        (f"{name} lr {lr:g}", {"optimizer": opt, "lr": lr})
        for name, opt, lrs in (("SGD", "sgd", (0.1,)), ("momentum", "momentum", (0.01, 0.03)),
                               ("Adam", "adam", (0.0003, 0.001, 0.01)))
        for lr in lrs
    ]),
    # BatchNorm, alone and with dropout (the reference project's "BatchNorm hurts" setting);
    # compare with the regularization study's rows for none / LayerNorm
    "batchnorm": ("normalisation", [
        ("BatchNorm", {"batchnorm": True}),
        ("BatchNorm + dropout 0.2", {"batchnorm": True, "dropout": 0.2}),
    ]),
}
LOG_AXIS = {"lr", "batch_size"}
MODELS = "models"  # the study name of single runs whose trained model is wanted back (run_all)
CODE_FILES = ("config.py", "data.py", "models.py", "training.py", "stacked.py", "experiments.py")


def study_configs(study: str, base: TrainConfig = BASELINE) -> list[tuple[object, TrainConfig]]:
    """(value, config) for each value of a study: the baseline with exactly one factor changed."""
    if study not in STUDIES:
        raise ValueError(f"unknown study {study!r}; choose from {', '.join(STUDIES)}")
    return [(value, replace(base, **overrides)) for value, overrides in STUDIES[study][1]]


def code_version() -> str:
    """A hash of the code that produces a result: a stored result is reused only if it matches."""
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in CODE_FILES:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class Result:
    study: str
    value: object
    seed: int
    config: dict
    history: dict
    seconds: float
    data_sha256: str
    code_version: str

    @property
    def epochs(self) -> list[dict]:
        return self.history["epochs"]

    @property
    def diverged(self) -> bool:
        return self.history["diverged"]


def run_key(cfg: TrainConfig, data_sha256: str, code: str) -> str:
    blob = json.dumps({"config": cfg.to_dict(), "data": data_sha256, "code": code}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ResultStore:
    """results/<study>/<key>.json, written atomically; reuse only on an exact key match."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, study: str, key: str) -> Path:
        return self.root / study / f"{key}.json"

    def load(self, study: str, key: str) -> Result | None:
        """The stored result, or None (train again) when missing, unreadable or not a whole result."""
        try:
            result = Result(**json.loads(self.path(study, key).read_text()))
            epochs = result.history["epochs"]
            if not epochs or not all({"epoch", "val_acc", "val_loss", "train_acc"} <= set(e) for e in epochs):
                return None
            return result
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def save(self, result: Result, key: str) -> None:
        write_atomic(self.path(result.study, key), json.dumps(result.__dict__, allow_nan=False))


# ---------------------------------------------------------------- running

_SPLIT = None  # each worker's copy of the data split


def _init_worker(images: np.ndarray, labels: np.ndarray) -> None:
    global _SPLIT
    import signal

    # Ctrl-C reaches the whole process group: the parent says "interrupted" and stops the pool;
    # the workers stay quiet instead of printing a traceback each
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _SPLIT = prepare(images, labels)
    # warm-up, so that the first timed task of each worker does not pay for torch's first calls
    tiny = prepare(images[:200], labels[:200])
    warm = replace(BASELINE, hidden=(8, 8), epochs=1, batch_size=50)
    _train_task((0, [warm], [True]), tiny)
    _train_task((0, [warm, replace(warm, lr=0.1)], [False, True]), tiny)


def _train_task(task: tuple[int, list[TrainConfig], list[bool]], split=None):
    """One run alone, or several as one stack -> (task id, [(history dict, seconds)] per config,
    [the trained weights of each run asked to keep them, else None])."""
    from .stacked import train_stack
    from .training import cpu_threads, flush_denormals, train

    task_id, cfgs, keep = task
    # one thread always, so a result does not depend on how many workers ran it
    with cpu_threads(1), flush_denormals():
        start = time.perf_counter()
        if len(cfgs) == 1:
            model, history = train(cfgs[0], split or _SPLIT, verbose=False)
            histories, models = [history], [model]
        else:
            stack, histories = train_stack(cfgs, split or _SPLIT)
            models = stack.unstack() if any(keep) else [None] * len(cfgs)  # None: a run that diverged
        share = (time.perf_counter() - start) / len(cfgs)  # a stacked run's share of the wall time
    # as NumPy arrays: plain pickles between processes, no shared-memory tensors
    states = [{k: v.detach().cpu().numpy() for k, v in m.state_dict().items()} if wanted and m is not None else None
              for m, wanted in zip(models, keep)]
    return task_id, [(h.to_dict(), share) for h in histories], states


# a stack of two runs pays the per-step overhead of a whole step for two small matmuls: the momentum
# study's and BatchNorm study's pairs, one per seed, took 7.6 and 10.7 s for 2 epochs as 3 stacks
# against 5.6 and 8.0 s as one stack across the seeds (one thread; bench/README.md)
JOIN_BELOW = 3


def plan_tasks(cfgs: list[TrainConfig], stack: bool = True, workers: int = 1) -> list[list[int]]:
    """Group runs (indices into cfgs) into tasks, the most expensive first.

    stack=False: every run is its own task, trained by training.fit (the loop the notebook shows).

    Runs that share a seed and everything stacked.stack_key looks at share their batches: one
    stack. Fewer than JOIN_BELOW such runs (the batch-size study's one run per seed and size, the
    BatchNorm study's and the momentum runs' two) join the runs of other seeds with the same key
    instead, each with its own batches. Everything else trains alone. With several workers, stacks
    are then split until no worker is left idle at the end (balanced).
    """
    from .stacked import stack_key

    by_seed: dict = {}
    alone = []
    for i, cfg in enumerate(cfgs):
        key = stack_key(cfg) if stack else None
        if key is None:
            alone.append([i])
        else:
            by_seed.setdefault((key, cfg.seed), []).append(i)
    tasks, leftovers = [], {}
    for (key, _seed), members in by_seed.items():
        if len(members) >= JOIN_BELOW:
            tasks.append(members)
        else:
            leftovers.setdefault(key, []).extend(members)
    tasks += list(leftovers.values()) + alone

    def cost(task):  # per epoch: arithmetic per run and sample, plus an overhead per step the stack shares
        cfg = cfgs[task[0]]
        return cfg.epochs * (len(task) * arithmetic(cfg) / arithmetic(BASELINE) + 64 / cfg.batch_size)

    return sorted(balanced(tasks, cost, workers), key=cost, reverse=True)  # longest first: no idle core at the end


def finish_time(costs: list[float], workers: int) -> float:
    """When the last of these tasks ends if each, longest first, goes to the worker free first."""
    loads = [0.0] * workers
    for c in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += c
    return max(loads)


def balanced(tasks: list[list[int]], cost, workers: int) -> list[list[int]]:
    """Halve the costliest stacks while that brings the last finish closer to total work / workers.

    Why: the lr sweep alone is 3 stacks (one per seed) for 2 workers, so one worker would idle for
    a third of the time. A half-stack does the same arithmetic per run (tests/test_stacked.py: a
    run's numbers do not depend on the runs beside it), only its per-step overhead is paid twice.
    """
    def ends(plan):
        return finish_time([cost(t) for t in plan], workers)

    while workers > 1:
        now = ends(tasks)
        stacks = [t for t in tasks if len(t) >= 4]  # halves of two or more stay stacks
        if now <= 1.05 * sum(map(cost, tasks)) / workers or not stacks:
            break
        top = max(map(cost, stacks))
        biggest = [t for t in stacks if cost(t) == top]
        # halve the first of the costliest stacks, or all of them (for 4 workers and 3 equal stacks,
        # halving one alone gains nothing); keep the better if it ends sooner
        split = min([halve(tasks, biggest[:1]), halve(tasks, biggest)], key=ends)
        if ends(split) >= now:
            break
        tasks = split
    return tasks


def halve(tasks: list[list[int]], stacks: list[list[int]]) -> list[list[int]]:
    """tasks with each of these stacks cut into two halves."""
    out = [t for t in tasks if not any(t is s for s in stacks)]
    for t in stacks:
        out += [t[:(len(t) + 1) // 2], t[(len(t) + 1) // 2:]]
    return out


def arithmetic(cfg: TrainConfig) -> int:
    """Multiply-adds of one forward pass for one image, from the config alone (no model built)."""
    total, n_in = 0, 784
    if cfg.model == "cnn":
        side, c_in = 28, 1
        for c_out in cfg.channels:
            total += side * side * c_in * c_out * 9
            side, c_in = side // 2, c_out
        n_in = c_in * side * side
    widths = [n_in, *cfg.hidden, 10]
    return total + sum(a * b for a, b in zip(widths, widths[1:]))


def describe_task(finals: list[tuple[float | None, str]], seconds: float) -> str:
    """One progress line per task: its run, or its stack's size, best run and divergences."""
    if len(finals) == 1:
        acc, name = finals[0]
        return f"{name}: {'DIVERGED' if acc is None else f'val acc {acc:.4f}'} ({seconds:.1f} s)"
    ok = [(acc, name) for acc, name in finals if acc is not None]
    best = f"best {max(ok)[1]}: val acc {max(ok)[0]:.4f}" if ok else "all diverged"
    diverged = len(finals) - len(ok)
    return (f"stack of {len(finals)} runs in {seconds:.0f} s; {best}"
            + (f"; {diverged} diverged" if diverged else ""))


@contextlib.contextmanager
def quiet_children():
    """Start worker processes with Ctrl-C ignored (an ignored signal stays ignored in a child):
    the parent alone says "interrupted" and stops them, instead of each printing a traceback."""
    try:
        before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 run", "2 runs", "1,200 runs": for the progress lines here and the report's prose (insights)."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run_configs(jobs: list[tuple[str, object, TrainConfig]], images: np.ndarray, labels: np.ndarray,
                data_sha256: str, store: ResultStore | None = None, reuse: bool | None = None,
                workers: int | None = None, log=print, stack: bool = True,
                models_out: dict | None = None) -> list[Result]:
    """Train every (study, value, config) job, seed included in its config; stored as they finish.

    A config that appears in several studies (the baseline is in three) is trained once.
    reuse: take a stored result whose config, data and code all match (default: env MNIST_REUSE=1).
    Jobs of the study MODELS also hand back their trained weights: models_out[value] = state_dict.
    """
    from .models import pick_device

    device = pick_device()
    if device.type != "cpu":  # one process owns the GPU; runs are fast there anyway
        workers = 1
    if reuse is None:
        reuse = os.environ.get("MNIST_REUSE") == "1"
    workers = default_workers() if workers is None else workers
    code = code_version() + ("" if stack else "+alone")  # a stacked result never answers for a lone one
    results: dict[int, Result] = {}
    todo: dict[str, list[int]] = {}  # key -> the jobs it answers
    for i, (study, _value, cfg) in enumerate(jobs):
        key = run_key(cfg, data_sha256, code)
        stored = store.load(study, key) if (store and reuse and study != MODELS) else None
        if stored is not None:
            results[i] = stored
        else:
            if store and reuse and store.path(study, key).exists():
                log(f"{store.path(study, key)}: unreadable or incomplete stored result; training it again")
            todo.setdefault(key, []).append(i)
    if len(results):
        log(f"reusing {plural(len(results), 'stored result')} with matching config, data and code")
    keys = list(todo)
    cfgs = [jobs[todo[key][0]][2] for key in keys]
    tasks = [[(keys[i], cfgs[i]) for i in task] for task in plan_tasks(cfgs, stack, workers)]
    if tasks:
        stacked = sum(len(t) for t in tasks if len(t) > 1)
        log(f"training {plural(len(keys), 'run')} for {plural(len(jobs) - len(results), 'result')}: "
            f"{stacked} of them in {plural(sum(len(t) > 1 for t in tasks), 'stack')}, "
            f"on {plural(min(workers, len(tasks)), 'worker')}")

    def finish(task_id, outputs, states):
        finals = []
        for (key, cfg), (history, seconds), state in zip(tasks[task_id], outputs, states):
            for i in todo[key]:
                study, value, _ = jobs[i]
                result = Result(study, value, cfg.seed, cfg.to_dict(), history, seconds, data_sha256, code)
                if store is not None:
                    store.save(result, key)
                if study == MODELS and models_out is not None:
                    models_out[value] = state
                results[i] = result
            final = None if history["diverged"] else history["epochs"][-1]["val_acc"]
            finals.append((final, run_label(study, value, cfg.seed)))
        done.append(task_id)
        log(f"[{len(done)}/{len(tasks)}] {describe_task(finals, sum(s for _, s in outputs))}")

    done: list[int] = []
    keep = {key for key, members in todo.items() if any(jobs[i][0] == MODELS for i in members)}
    work = [(t, [cfg for _, cfg in task], [key in keep for key, _ in task]) for t, task in enumerate(tasks)]
    if workers <= 1 or len(tasks) <= 1:
        split = prepare(images, labels, device)
        for task in work:
            finish(*_train_task(task, split))
    else:
        # spawn: safe with torch's thread pools and works from a notebook kernel
        ctx = mp.get_context("spawn")
        with quiet_children():  # only while the workers start; the parent keeps its Ctrl-C
            pool = ctx.Pool(min(workers, len(tasks)), initializer=_init_worker, initargs=(images, labels))
        with pool:
            # stored in the order they finish, so an interruption loses only tasks in flight
            for task_id, outputs, states in pool.imap_unordered(_train_task, work):
                finish(task_id, outputs, states)
    return [results[i] for i in range(len(jobs))]


def study_jobs(studies: list[str], seeds: int, base: TrainConfig) -> list[tuple[str, object, TrainConfig]]:
    """Every value of every study with the same seeds 0..seeds-1 (paired init and data order)."""
    return [(study, value, replace(cfg, seed=seed))
            for study in studies for value, cfg in study_configs(study, base) for seed in range(seeds)]


def run_studies(studies: list[str], images: np.ndarray, labels: np.ndarray, data_sha256: str,
                seeds: int = 3, base: TrainConfig = BASELINE, store: ResultStore | None = None,
                reuse: bool | None = None, workers: int | None = None, log=print,
                stack: bool = True) -> dict[str, list[Result]]:
    """Several studies in one go, so that their runs can share stacks and workers -> {study: results}.

    stack=False trains every run alone with training.fit; the histories agree with the stacked
    ones to float rounding (tests/test_stacked.py), not bit for bit.
    """
    jobs = study_jobs(studies, seeds, base)
    results = run_configs(jobs, images, labels, data_sha256, store, reuse, workers, log, stack)
    return {study: [r for r in results if r.study == study] for study in studies}


def single_models(base: TrainConfig = BASELINE, quick: bool = False, cnn_seeds: int = 1) -> dict[str, TrainConfig]:
    """The notebook's single runs of section 7 (7.3-7.6), trained in the studies' schedule.

    The CNN trains on seeds 0..cnn_seeds-1 (named by seed_name), so that the report can give its
    spread like every study's; the other models once, on seed 0.
    """
    presets = {name: replace(PRESETS[name], epochs=1) if quick else PRESETS[name] for name in ("cnn", "best-mlp")}
    return {
        **presets,
        **{seed_name("cnn", s): replace(presets["cnn"], seed=s) for s in range(1, cnn_seeds)},
        # twice the studies' epochs, so that there is room to stop before the end
        "early stopping": replace(base, optimizer="adam", lr=0.001, dropout=0.2, epochs=max(base.epochs, 2) * 2,
                                  patience=3),
        "BatchNorm + dropout": replace(base, batchnorm=True, dropout=0.2),
    }


def seed_name(name: str, seed: int) -> str:
    """A single model's name in single_models for this seed: "cnn", "cnn seed 1", ..."""
    return name if seed == 0 else f"{name} seed {seed}"


def run_label(study: str, value, seed: int) -> str:
    """'lr 0.01 seed 1' for the progress lines; a name that already ends in its seed (seed_name) keeps
    it once: 'models cnn seed 1'."""
    label = f"{study} {value}"
    return label if label.endswith(f" seed {seed}") else f"{label} seed {seed}"


def run_all(studies: list[str], models: dict[str, TrainConfig], images: np.ndarray, labels: np.ndarray,
            data_sha256: str, seeds: int = 3, base: TrainConfig = BASELINE, store: ResultStore | None = None,
            reuse: bool | None = None, workers: int | None = None, log=print, stack: bool = True):
    """The studies and the single models the notebook needs, planned as one schedule (longest first
    over all workers, so no core idles while the other trains a CNN) -> ({study: results},
    {name: (model in eval mode, History)})."""
    from .models import build_model, pick_device
    from .training import History

    jobs = study_jobs(studies, seeds, base) + [(MODELS, name, cfg) for name, cfg in models.items()]
    states: dict = {}
    results = run_configs(jobs, images, labels, data_sha256, store, reuse, workers, log, stack, states)
    trained = {}
    for r in results:
        if r.study == MODELS:
            model = build_model(TrainConfig.from_dict(r.config))
            model.load_state_dict({k: torch.from_numpy(v) for k, v in states[r.value].items()})
            trained[r.value] = (model.to(pick_device()).eval(), History.from_dict(r.history))
    return {study: [r for r in results if r.study == study] for study in studies}, trained


def run_study(study: str, images: np.ndarray, labels: np.ndarray, data_sha256: str,
              seeds: int = 3, base: TrainConfig = BASELINE, store: ResultStore | None = None,
              reuse: bool | None = None, workers: int | None = None, log=print) -> list[Result]:
    return run_studies([study], images, labels, data_sha256, seeds, base, store, reuse, workers, log)[study]


# ---------------------------------------------------------------- summaries


def by_value(results: list[Result]) -> dict:
    groups: dict = {}
    for r in results:
        groups.setdefault(json.dumps(r.value), []).append(r)
    return {json.loads(k): v for k, v in groups.items()}


def epochs_to(history_epochs: list[dict], threshold: float) -> int | None:
    for e in history_epochs:
        if e["val_acc"] is not None and e["val_acc"] >= threshold:
            return e["epoch"]
    return None


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarise(results: list[Result]) -> pd.DataFrame:
    """One row per value: final/best validation accuracy (mean, std over seeds) and more."""
    rows = []
    for value, runs in by_value(results).items():
        finals = [None if r.diverged else r.epochs[-1]["val_acc"] for r in runs]
        train_finals = [None if r.diverged else r.epochs[-1]["train_acc"] for r in runs]
        bests = [max((e["val_acc"] for e in r.epochs if e["val_acc"] is not None), default=None)
                 for r in runs]
        losses = [None if r.diverged else r.epochs[-1]["val_loss"] for r in runs]
        to95 = [epochs_to(r.epochs, 0.95) for r in runs]
        reached = [t for t in to95 if t is not None]
        final_m, final_s = mean_std(finals)
        best_m, best_s = mean_std(bests)
        rows.append({
            "value": value,
            "final_val_acc": final_m, "final_val_acc_std": final_s,
            "best_val_acc": best_m, "best_val_acc_std": best_s,
            "final_train_acc": mean_std(train_finals)[0],
            "final_val_loss": mean_std(losses)[0],
            "epochs_to_95": float(np.mean(reached)) if len(reached) == len(runs) else math.nan,
            "seconds_per_run": float(np.mean([r.seconds for r in runs])),
            "seeds": len(runs),
            "diverged": sum(r.diverged for r in runs),
            # per seed, for paired comparisons; a diverged run counts as chance level
            "per_seed": {r.seed: (CHANCE if r.diverged else r.epochs[-1]["val_acc"]) for r in runs},
        })
    return pd.DataFrame(rows)


def display_table(summary: pd.DataFrame, factor: str) -> pd.DataFrame:
    """The summary formatted for reading: mean ± std as text, percentages."""
    def pm(m, s):
        return "diverged" if not math.isfinite(m) else f"{100 * m:.2f} ± {100 * s:.2f}"

    return pd.DataFrame({
        factor: summary["value"].map(lambda v: f"{v:g}" if isinstance(v, float) else str(v)),
        "final val acc %": [pm(m, s) for m, s in zip(summary.final_val_acc, summary.final_val_acc_std)],
        "best val acc %": [pm(m, s) for m, s in zip(summary.best_val_acc, summary.best_val_acc_std)],
        "final val loss": summary.final_val_loss.map(lambda v: f"{v:.4f}" if math.isfinite(v) else "—"),
        "epochs to 95%": summary.epochs_to_95.map(lambda v: f"{v:.1f}" if math.isfinite(v) else "never"),
        "s / run": summary.seconds_per_run.map(lambda v: f"{v:.1f}"),
        "diverged": [f"{d}/{n}" for d, n in zip(summary.diverged, summary.seeds)],
    }).set_index(factor)


CHANCE = 0.1  # a diverged run's accuracy in a paired comparison: it predicts nothing
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Comparison:
    """a minus b in final validation accuracy, paired by seed, with a t-interval."""

    a: object
    b: object
    diff: float  # mean over seeds of acc(a, seed) - acc(b, seed)
    low: float
    high: float
    seeds: int

    @property
    def verdict(self) -> str:
        """'better' or 'worse' only when the whole interval is on one side of zero, else 'tie'."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "tie"


def paired(a_per_seed: dict, b_per_seed: dict, a=None, b=None, confidence: float = CONFIDENCE) -> Comparison:
    """The rule every 'better / worse / cannot tell' in the notebook follows.

    Runs with the same seed share their initial weights and batch order, so the per-seed
    difference removes most of the seed-to-seed spread. A winner is named only when the
    t-interval of the mean difference excludes zero; with one seed nothing can be told apart.
    """
    from scipy import stats

    seeds = sorted(set(a_per_seed) & set(b_per_seed))
    d = np.array([a_per_seed[s] - b_per_seed[s] for s in seeds], dtype=float)
    if len(d) == 0:
        raise ValueError(f"no common seeds to compare {a!r} and {b!r}")
    mean = float(d.mean())
    if len(d) < 2:
        return Comparison(a, b, mean, -math.inf, math.inf, len(d))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return Comparison(a, b, mean, mean - half, mean + half, len(d))


def compare(summary: pd.DataFrame, a, b) -> Comparison:
    """paired() for two values of one summary table."""
    ra = summary[summary.value == a].iloc[0]
    rb = summary[summary.value == b].iloc[0]
    return paired(ra.per_seed, rb.per_seed, a, b)


def within_noise(summary: pd.DataFrame, a, b) -> bool:
    """True when the paired rule cannot tell a from b."""
    return compare(summary, a, b).verdict == "tie"


def best_value(summary: pd.DataFrame):
    """The value with the highest mean final accuracy among those that never diverged."""
    ok = summary[(summary.diverged == 0) & summary.final_val_acc.notna()]
    if ok.empty:
        ok = summary[summary.final_val_acc.notna()]
    return ok.loc[ok.final_val_acc.idxmax()].value


def ranking(summary: pd.DataFrame) -> tuple[object, list, list]:
    """(best, values the rule cannot tell from it, values it beats)."""
    best = best_value(summary)
    ties, beaten = [], []
    for v in summary.value:
        if v != best:
            (ties if within_noise(summary, best, v) else beaten).append(v)
    return best, ties, beaten
