"""Run one function over many jobs, in worker processes (joblib's loky) or in this process.

    histories = parallel.map_runs(run, configs, workers=WORKERS, labels=[...])

The function, with everything it reads (the notebook's data, model class, constants), is pickled once
per call with cloudpickle into a temporary file that each worker reads once; a task carries only its job,
and the workers stay up for the next call, whatever its function (starting them costs seconds: torch is
imported in each). Every run gets one torch thread, in a worker or here, so its result does not depend on
how many ran side by side. A function that cannot be sent, or a worker killed by the system, stops the
call with one line naming the variable or the run, and the workers exit when the process that started
them dies (a notebook kernel killed or restarted).
"""

from __future__ import annotations

import contextlib
import dis
import hashlib
import io
import os
import signal
import tempfile
import threading
import time
import types
from concurrent.futures import FIRST_COMPLETED, wait

import cloudpickle
import torch
from joblib.externals.loky import get_reusable_executor
from joblib.externals.loky.process_executor import BrokenProcessPool

IDLE_S = 600  # idle workers exit after this; the next call starts new ones (seconds, and the data sent again)
_worker: dict = {}  # in a worker: the current call's function and its key (one at a time: it holds the data)


class RunFailed(RuntimeError):
    """A run could not be sent to, or finished by, a worker; one line says which and why."""

    def _render_traceback_(self):  # IPython shows the line instead of a traceback
        return [str(self)]


def map_runs(fn, jobs, workers: int | None = None, labels=None, log=print) -> list:
    """[fn(job) for job in jobs], in order, on `workers` processes (None: one per core, at most 8).

    workers <= 1 runs them here, one after another (the caller passes 1 when the runs use a GPU).
    After each run: log("[done/total] label (seconds)"); labels default to "run i".
    """
    jobs = list(jobs)
    labels = [f"run {i}" for i in range(len(jobs))] if labels is None else [str(label) for label in labels]
    if len(labels) != len(jobs):
        raise ValueError(f"{len(labels)} labels for {len(jobs)} jobs")
    # pickled here too, so that what cannot reach a worker fails in a one-worker run the same way
    blob = _pickled(fn)
    for label, job in zip(labels, jobs):
        try:
            cloudpickle.dumps(job)
        except Exception as err:
            raise RunFailed(f"cannot send the job of {label} to the worker processes: {err}") from None
    workers = max(1, min(os.cpu_count() or 1, 8)) if workers is None else workers
    if not jobs:
        return []

    def report(done: int, i: int, seconds: float) -> None:
        log(f"[{done}/{len(jobs)}] {labels[i]} ({seconds:.1f} s)")

    if workers <= 1:
        return _in_process(fn, jobs, labels, report)
    # still in a worker when there is one job (a QUICK run's single seed): the path of the full run
    return _in_workers(blob, jobs, min(workers, len(jobs)), labels, report)


def _in_process(fn, jobs: list, labels: list[str], report) -> list:
    results = []
    for i, job in enumerate(jobs):
        try:
            result, seconds = _timed(fn, job)
        except Exception as err:
            err.add_note(f"in {labels[i]}")
            raise
        results.append(result)
        report(i + 1, i, seconds)
    return results


def _in_workers(blob: bytes, jobs: list, workers: int, labels: list[str], report) -> list:
    # loky keeps one executor per process: the same workers for every call (resized to the call's count)
    executor = get_reusable_executor(max_workers=workers, timeout=IDLE_S, initializer=_init_worker,
                                     initargs=(os.getpid(),))
    # the function travels by file, read once by each worker (a task's arguments would carry it every time)
    fd, path = tempfile.mkstemp(prefix="mnist-runs-", suffix=".pkl")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
        return _collect(executor, (hashlib.sha256(blob).hexdigest(), path), jobs, workers, labels, report)
    finally:
        os.unlink(path)


def _collect(executor, fn: tuple[str, str], jobs: list, workers: int, labels: list[str], report) -> list:
    results, running, queue = [None] * len(jobs), {}, iter(range(len(jobs)))

    def submit_next() -> None:
        # no more tasks than workers: every task submitted is in flight, which a killed worker's message names
        i = next(queue, None)
        if i is not None:
            running[executor.submit(_task, fn, jobs[i])] = i

    try:
        for _ in range(workers):
            submit_next()
        done = 0
        while running:
            for future in wait(running, return_when=FIRST_COMPLETED)[0]:
                err = future.exception()
                if isinstance(err, BrokenProcessPool):
                    raise _killed([labels[i] for i in sorted(running.values())], done, len(jobs)) from err
                i = running.pop(future)
                if err is not None:
                    err.add_note(f"in {labels[i]}")
                    raise err
                results[i], seconds = future.result()
                done += 1
                report(done, i, seconds)
                submit_next()
    except BaseException:  # an error, a killed worker, Ctrl-C: the runs still going stop now
        if running:  # idle workers stay for the next call
            executor.shutdown(wait=False, kill_workers=True)
        raise
    return results


def _killed(running: list[str], done: int, total: int) -> RunFailed:
    return RunFailed(f"the worker process running {' or '.join(running)} was killed (out of memory?) after "
                     f"{done} of {total} runs had finished; nothing after it was trained "
                     "(fewer workers use less memory)")


def _init_worker(parent: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent stops the call, the workers stay quiet
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    torch.set_num_threads(1)


def _exit_with(parent: int) -> None:
    """Exit when the process that started this worker has died, even in the middle of a run."""
    # a loky worker is the direct child of the caller; a dead parent's children are handed to another
    # process at once, whereas the dead pid itself may linger as a zombie that os.kill(pid, 0) still finds
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _task(fn: tuple[str, str], job):
    key, path = fn
    if _worker.get("key") != key:  # the first task of a call in this worker: read the call's function
        _worker.clear()  # the previous function and the data it carries go first
        with open(path, "rb") as f:
            _worker["fn"] = cloudpickle.load(f)
        _worker["key"] = key
    return _timed(_worker["fn"], job)


def _timed(fn, job) -> tuple[object, float]:
    with _one_thread():
        start = time.perf_counter()
        result = fn(job)
        return result, time.perf_counter() - start


@contextlib.contextmanager
def _one_thread():
    """One torch thread and denormals flushed to zero for a run, then the caller's settings back."""
    # denormals (below 1e-38) make small-step SGD many times slower on x86 and change no reported digit
    threads, flushing = torch.get_num_threads(), torch.tensor(1e-40).mul(1.0).item() == 0.0  # torch has no getter
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(flushing)


def _pickled(fn) -> bytes:
    try:
        return cloudpickle.dumps(fn)
    except Exception as err:
        name = getattr(fn, "__name__", "the function")
        raise RunFailed(f"cannot send {name} to the worker processes: {_culprit(fn, set()) or err}") from None


def _culprit(obj, seen: set) -> str | None:
    """Why the first variable that obj reads (recursively through functions and classes) cannot be pickled."""
    seen.add(id(obj))
    for name, value in _reads(obj):
        inner = isinstance(value, type) or hasattr(value, "__code__")
        if inner and id(value) in seen:  # a function already being searched (a recursion): not the culprit itself
            continue
        try:
            cloudpickle.dumps(value)
        except Exception as err:
            return (inner and _culprit(value, seen)) or _why(name, value, err)
    return None


def _reads(obj) -> list[tuple[str, object]]:
    """The globals and closure variables a function reads; a class's attributes and methods."""
    if isinstance(obj, type):  # its methods (__init__ too) and its own attributes
        items = [(k, getattr(v, "__func__", v)) for k, v in vars(obj).items()]
        return [(f"the attribute '{obj.__name__}.{k}'", v) for k, v in items
                if hasattr(v, "__code__") or not k.startswith("__")]
    code = getattr(obj, "__code__", None)
    if code is None:  # a callable object: its pickling error says enough
        return []
    found = [(f"the global '{n}'", obj.__globals__[n]) for n in _names(code) if n in obj.__globals__]
    cells = zip(code.co_freevars, obj.__closure__ or ())
    return found + [(f"the variable '{n}' of the enclosing function", cell.cell_contents) for n, cell in cells]


GLOBAL_OPS = {"LOAD_GLOBAL", "STORE_GLOBAL", "DELETE_GLOBAL"}  # what cloudpickle sends of a function's globals


def _names(code) -> list[str]:
    """The globals a code object and the code nested in it (lambdas, comprehensions, inner functions) use;
    not co_names, which also holds attribute names: `model.train()` reads no global `train`."""
    nested = [name for const in code.co_consts if isinstance(const, types.CodeType) for name in _names(const)]
    own = [i.argval for i in dis.get_instructions(code) if i.opname in GLOBAL_OPS]
    return list(dict.fromkeys([*own, *nested]))


def _why(name: str, value, err: Exception) -> str:
    typename = type(value).__name__
    what = f"{'an' if typename[0] in 'AEIOUaeiou' else 'a'} {typename}"
    # an open file says it plainly; otherwise pickle's own words ("cannot pickle '_thread.lock' object")
    what, reason = (f"{what} (an open file)", "") if isinstance(value, io.IOBase) else (what, f" ({err})")
    return (f"{name} is {what}, which cannot be copied to another process{reason}; "
            "define it inside the function or leave it out")
