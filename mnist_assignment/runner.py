"""Train many runs at once: worker processes, one thread each, the longest runs first.

Every run trains through `training.run` with the loop it is given (the notebook hands over its own
definitions of the split, the model and the loop; they travel to the workers by value, with
cloudpickle, so an edited cell takes effect in every run). A small-batch run is bound by per-step
overhead, not arithmetic, so two 1-thread workers side by side beat one 2-thread process.
Each result is stored under results/ the moment it finishes (store.py).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from dataclasses import replace

import cloudpickle
import numpy as np
import torch

from .config import BASELINE, TrainConfig
from .loader import prepare as package_prepare
from .models import build_model, multiply_adds, pick_device
from .store import MODELS, Result, ResultStore, code_version, run_key
from .studies import study_jobs
from .training import History, cpu_threads, flush_denormals, run
from .training import train as package_train

_WORKER: dict = {}  # each worker's split and loop


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 run", "2 runs", "1,200 runs"."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def cost(cfg: TrainConfig) -> float:
    """A run's rough cost, to start the longest first (no core idles at the end on a CNN): its
    arithmetic per image, plus a per-step overhead that small batches pay many times an epoch."""
    return cfg.epochs * (multiply_adds(cfg) / multiply_adds(BASELINE) + 64 / cfg.batch_size)


def run_label(study: str, value, seed: int) -> str:
    """'lr 0.01 seed 1' for the progress lines; a name that already ends in its seed keeps it once."""
    label = f"{study} {value}"
    return label if label.endswith(f" seed {seed}") else f"{label} seed {seed}"


def _watch_parent() -> None:
    """Exit when the parent process (a notebook kernel, a CLI) has died, even in the middle of a run."""
    parent = mp.parent_process()
    while parent is not None and parent.is_alive():
        time.sleep(1.0)
    os._exit(1)


def _init_worker(blob: bytes) -> None:
    # Ctrl-C reaches the whole process group: the parent says "interrupted" and stops the pool;
    # the workers stay quiet instead of printing a traceback each
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, daemon=True).start()
    torch.set_num_threads(1)  # one thread always, so a result does not depend on how many workers ran it
    prepare, train, images, labels = cloudpickle.loads(blob)
    _WORKER.update(split=prepare(images, labels), train=train)
    # warm-up, so that the first timed run of each worker does not pay for torch's first calls
    tiny = prepare(images[:200], labels[:200])
    run(replace(BASELINE, hidden=(8, 8), epochs=1, batch_size=50), tiny, train)


def _train_one(task: tuple[int, TrainConfig, bool], split=None, train=None):
    """One run -> (task id, history dict, seconds, its weights as NumPy arrays if asked for)."""
    task_id, cfg, keep = task
    with cpu_threads(1), flush_denormals():
        start = time.perf_counter()
        model, history = run(cfg, split or _WORKER["split"], train or _WORKER["train"])
        seconds = time.perf_counter() - start
    # as NumPy arrays: plain pickles between processes, no shared-memory tensors
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()} if keep else None
    return task_id, history.to_dict(), seconds, state


def run_configs(jobs: list[tuple[str, object, TrainConfig]], images: np.ndarray, labels: np.ndarray,
                data_sha256: str, store: ResultStore | None = None, reuse: bool | None = None,
                workers: int | None = None, log=print, prepare=package_prepare, train=package_train,
                models_out: dict | None = None) -> list[Result]:
    """Train every (study, value, config) job, seed included in its config; stored as they finish.

    A config that appears in several studies (the baseline is in three) is trained once.
    reuse: take a stored result whose config, data and code all match (default: env MNIST_REUSE=1).
    prepare, train: the split and the loop to use (the notebook passes its own).
    Jobs of the study MODELS also hand back their trained weights: models_out[value] = state_dict.
    """
    device = pick_device()
    if device.type != "cpu":  # one process owns the GPU; runs are fast there anyway
        workers = 1
    if reuse is None:
        reuse = os.environ.get("MNIST_REUSE") == "1"
    workers = default_workers() if workers is None else workers
    code = code_version(prepare, train)
    results: dict[int, Result] = {}
    todo: dict[str, list[int]] = {}  # key -> the jobs it answers
    for i, (study, value, cfg) in enumerate(jobs):
        key = run_key(cfg, data_sha256, code)
        stored = store.load(study, key) if (store and reuse) else None
        if stored is not None:
            results[i] = stored
            if study == MODELS and models_out is not None:
                models_out[value] = store.load_state(key)
        else:
            if store and reuse and store.path(study, key).exists():
                log(f"{store.path(study, key)}: unreadable or incomplete stored result; training it again")
            todo.setdefault(key, []).append(i)
    if results:
        log(f"reusing {plural(len(results), 'stored result')} with matching config, data and code")
    keys = sorted(todo, key=lambda k: cost(jobs[todo[k][0]][2]), reverse=True)  # longest first
    wanted = {key for key, members in todo.items() if any(jobs[i][0] == MODELS for i in members)}
    tasks = [(t, jobs[todo[key][0]][2], key in wanted) for t, key in enumerate(keys)]
    workers = min(workers, len(tasks))
    if tasks:
        log(f"training {plural(len(tasks), 'run')} for {plural(len(jobs) - len(results), 'result')} "
            f"on {plural(workers, 'worker')}")
    done: list[int] = []

    def finish(task_id, history, seconds, state):
        key = keys[task_id]
        for i in todo[key]:
            study, value, cfg = jobs[i]
            result = Result(study, value, cfg.seed, cfg.to_dict(), history, seconds, data_sha256, code)
            if store is not None:
                store.save(result, key, state if study == MODELS else None)
            if study == MODELS and models_out is not None:
                models_out[value] = state
            results[i] = result
        done.append(task_id)
        study, value, cfg = jobs[todo[key][0]]
        acc = None if history["diverged"] else history["epochs"][-1]["val_acc"]
        log(f"[{len(done)}/{len(tasks)}] {run_label(study, value, cfg.seed)}: "
            f"{'DIVERGED' if acc is None else f'val acc {acc:.4f}'} ({seconds:.1f} s)")

    if workers <= 1:
        split = prepare(images, labels, device)
        for task in tasks:
            finish(*_train_one(task, split, train))
    else:
        blob = cloudpickle.dumps((prepare, train, images, labels))
        # spawn: safe with torch's thread pools, and the same on Linux, macOS and Windows
        with mp.get_context("spawn").Pool(workers, initializer=_init_worker, initargs=(blob,)) as pool:
            # stored in the order they finish, so an interruption loses only the runs in flight
            for output in pool.imap_unordered(_train_one, tasks):
                finish(*output)
    return [results[i] for i in range(len(jobs))]


def run_studies(studies: list[str], images: np.ndarray, labels: np.ndarray, data_sha256: str,
                seeds: int = 3, base: TrainConfig = BASELINE, **kwargs) -> dict[str, list[Result]]:
    """Several studies in one schedule -> {study: results}; kwargs as run_configs."""
    results = run_configs(study_jobs(studies, seeds, base), images, labels, data_sha256, **kwargs)
    return {study: [r for r in results if r.study == study] for study in studies}


def run_all(studies: list[str], models: dict[str, TrainConfig], images: np.ndarray, labels: np.ndarray,
            data_sha256: str, seeds: int = 3, base: TrainConfig = BASELINE, build=build_model, **kwargs):
    """The studies and the single models the notebook needs, in one schedule (longest first over
    all workers, so no core idles while the other trains a CNN) -> ({study: results},
    {name: (model in eval mode, History)}); the models are made by `build` (the notebook passes its
    own build_model) and get their trained weights; kwargs as run_configs."""
    jobs = study_jobs(studies, seeds, base) + [(MODELS, name, cfg) for name, cfg in models.items()]
    states: dict = {}
    results = run_configs(jobs, images, labels, data_sha256, models_out=states, **kwargs)
    trained = {}
    for r in results:
        if r.study == MODELS:
            model = build(TrainConfig.from_dict(r.config))
            model.load_state_dict({k: torch.as_tensor(v) for k, v in states[r.value].items()})
            trained[r.value] = (model.to(pick_device()).eval(), History.from_dict(r.history))
    return {study: [r for r in results if r.study == study] for study in studies}, trained
