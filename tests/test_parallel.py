"""map_runs: the same results in workers as here, the function sent once a call, one line for what fails,
and no worker left running after an error, a Ctrl-C or the death of the process that started it."""

import os
import re
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from mnist_assignment.parallel import RunFailed, map_runs

ROOT = Path(__file__).resolve().parent.parent

# A notebook cell's definitions: its module is not importable, so cloudpickle sends them by value,
# globals included, as it does for a notebook's __main__.
NOTEBOOK = '''
import os, signal, time
import torch

STEPS = 6  # read in the worker: it travels with the function

def wait_for(folder, n):
    while len(os.listdir(folder)) < n:
        time.sleep(0.05)

def flushing_denormals():
    return torch.tensor(1e-40).mul(1.0).item() == 0.0

def train(job):
    kind, value = job
    if kind == "raise":
        raise ValueError(f"bad value {value}")
    if kind == "die":  # as the OOM killer would
        os.kill(os.getpid(), signal.SIGKILL)
    if kind in ("sleep", "meet"):  # value: a folder; a file named by the pid says the run has started
        open(os.path.join(value, str(os.getpid())), "w").close()
    if kind == "sleep":
        time.sleep(60)
    if kind == "meet":  # returns once two runs are in flight: one in each worker
        wait_for(value, 2)
    if kind == "after":  # returns once another run has started
        wait_for(value, 1)
    if kind in ("pid", "meet", "after"):
        return os.getpid(), torch.get_num_threads(), flushing_denormals()
    torch.manual_seed(value)
    model = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    x, y = torch.randn(256, 20), torch.randint(0, 4, (256,))
    losses = []
    for _ in range(STEPS):  # plain SGD: torch.optim's first use imports its compiler, seconds in each worker
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    return {"losses": losses, "weights": [p.detach().flatten().tolist() for p in model.parameters()]}
'''


def notebook(source: str = NOTEBOOK, **names) -> types.ModuleType:
    module = types.ModuleType("notebook_cell")
    module.__dict__.update(names)
    exec(source, module.__dict__)
    return module


@pytest.fixture(scope="module")
def cell():
    return notebook()


def alive(pid: int) -> bool:
    """Running: a zombie (dead, not yet collected by its parent) still answers os.kill, so Linux's /proc decides."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(") ", 1)[-1][0] != "Z"
    except FileNotFoundError:
        return not Path("/proc/self").exists()


def gone_within(pids, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(alive(p) for p in pids)


def wait_for_files(folder: Path, n: int, seconds: float = 60) -> list[int]:
    deadline = time.monotonic() + seconds
    while len(list(folder.iterdir())) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return [int(p.name) for p in folder.iterdir()]


def test_workers_give_bitwise_the_results_of_one_process(cell):
    jobs = [("train", seed) for seed in (0, 1, 2)]
    threads = torch.get_num_threads()
    here = map_runs(cell.train, jobs, workers=1, log=lambda line: None)
    assert torch.get_num_threads() == threads  # restored after the runs
    lines = []
    there = map_runs(cell.train, jobs, workers=2, labels=["a", "b", "c"], log=lines.append)
    assert there == here
    assert len(here[0]["losses"]) == cell.STEPS
    assert here[0] != here[1]
    assert [line[:5] for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert all(re.fullmatch(r"\[\d/3\] [abc] \(\d+\.\d s\)", line) for line in lines)


def test_the_second_call_reuses_the_workers_with_one_thread_each(cell, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    runs = [map_runs(cell.train, [("meet", str(folder))] * 2, workers=2, log=lambda line: None)
            for folder in (first, second)]
    pids = [{pid for pid, _, _ in call} for call in runs]
    assert len(pids[0]) == 2
    assert pids[1] == pids[0]
    assert {(threads, flushing) for _, threads, flushing in runs[0] + runs[1]} == {(1, True)}


def test_another_function_or_a_changed_global_reaches_the_same_workers(cell, tmp_path):
    """A new function (a study's run, then the CNN's) starts no new workers; each call runs what it was given."""
    before = map_runs(cell.train, [("train", 0)] * 2, workers=2, log=lambda line: None)
    longer = notebook(NOTEBOOK.replace("STEPS = 6", "STEPS = 9"))  # the cell edited, then run again
    after = map_runs(longer.train, [("train", 0)] * 2, workers=2, log=lambda line: None)
    assert [len(h["losses"]) for h in before + after] == [6, 6, 9, 9]
    assert after[0]["losses"][:6] == before[0]["losses"]
    other = notebook("import os\ndef run(job):\n    return os.getpid(), job * 2\n")
    pids = {pid for pid, _, _ in map_runs(cell.train, [("meet", str(tmp_path))] * 2, workers=2, log=lambda line: None)}
    assert len(pids) == 2
    doubled = map_runs(other.run, [1, 2, 3, 4], workers=2, log=lambda line: None)
    assert [x for _, x in doubled] == [2, 4, 6, 8]
    assert {pid for pid, _ in doubled} <= pids


def test_a_single_job_still_runs_in_a_worker(cell):
    """A QUICK run's one seed takes the full run's path: sent to a worker process, not run here."""
    [there] = map_runs(cell.train, [("pid", 0)], workers=2, log=lambda line: None)
    assert there[0] != os.getpid() and there[1:] == (1, True)


def test_in_process_runs_use_one_thread_and_log_their_label(cell):
    lines, threads = [], torch.get_num_threads()
    [inside] = map_runs(cell.train, [("pid", 0)], workers=1, log=lines.append)
    assert inside == (os.getpid(), 1, True)
    assert (torch.get_num_threads(), cell.flushing_denormals()) == (threads, False)  # the caller's settings back
    assert re.fullmatch(r"\[1/1\] run 0 \(\d+\.\d s\)", lines[0])


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_a_run_keeps_its_type_and_names_the_run(cell, workers):
    with pytest.raises(ValueError, match="bad value 7") as caught:
        map_runs(cell.train, [("raise", 7)], workers=workers, labels=["lr 7"], log=lambda line: None)
    assert "in lr 7" in caught.value.__notes__
    assert "bad value 7" in str(caught.value.__cause__ if workers > 1 else caught.value)  # the worker's traceback


def test_a_killed_worker_stops_the_call_naming_the_run(cell):
    start = time.monotonic()
    with pytest.raises(RunFailed, match=r"the worker process running (.* or )?run 1( or .*)? was killed") as caught:
        map_runs(cell.train, [("pid", 0), ("die", 0), ("pid", 1), ("pid", 2)], workers=2, log=lambda line: None)
    assert time.monotonic() - start < 30
    assert caught.value._render_traceback_() == [str(caught.value)]


def test_ctrl_c_stops_the_workers_which_ignore_it_themselves(cell, tmp_path):
    started = tmp_path / "started"
    started.mkdir()
    sleepers = []

    def interrupt(line):
        sleepers.extend(wait_for_files(started, 1))
        os.kill(sleepers[0], signal.SIGINT)  # a Ctrl-C in a terminal reaches every process of the group
        time.sleep(0.3)
        assert alive(sleepers[0])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        map_runs(cell.train, [("sleep", str(started)), ("after", str(started))], workers=2, log=interrupt)
    assert gone_within(sleepers, 5)


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    started = tmp_path / "started"
    started.mkdir()
    script = (f"import types\nfrom mnist_assignment import parallel\nm = types.ModuleType('cell')\n"
              f"exec({NOTEBOOK!r}, m.__dict__)\n"
              f"parallel.map_runs(m.train, [('sleep', {str(started)!r})] * 2, workers=2)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        pids = wait_for_files(started, 2)
        assert len(pids) == 2
        parent.kill()
        # checked before the dead parent is collected: the workers must not wait for that
        assert gone_within(pids, 5)
    finally:
        parent.kill()
        parent.wait()


def test_what_cannot_be_pickled_fails_before_any_run_naming_the_variable(tmp_path):
    with open(tmp_path / "x.txt", "a") as log:
        cell = notebook("calls = []\ndef run(job):\n    calls.append(job)\n    log.write('x')\n", log=log)
        for workers in (1, 2):
            with pytest.raises(RunFailed) as caught:
                map_runs(cell.run, [1, 2], workers=workers)
            assert str(caught.value) == (
                "cannot send run to the worker processes: the global 'log' is a TextIOWrapper (an open file), "
                "which cannot be copied to another process; define it inside the function or leave it out")
            assert cell.calls == []


def test_the_culprit_is_found_through_helpers_and_closures():
    cell = notebook("import threading\nlock = threading.Lock()\n"
                    "def helper():\n    with lock:\n        pass\n"
                    "def make():\n    held = threading.RLock()\n"
                    "    def run(job):\n        helper()\n        return job\n"
                    "    def closure(job):\n        return held\n"
                    "    return run, closure\n")
    run, closure = cell.make()
    with pytest.raises(RunFailed, match=r"the global 'lock' is a lock, which cannot be copied .*'_thread.lock'"):
        map_runs(run, [1], workers=1)
    with pytest.raises(RunFailed, match=r"the variable 'held' of the enclosing function is an? RLock"):
        map_runs(closure, [1], workers=1)
    with pytest.raises(RunFailed, match=r"cannot send the job of b to the worker processes"):
        map_runs(len, [[1], [cell.lock]], workers=1, labels=["a", "b"])


def test_an_attribute_is_never_taken_for_a_global_of_that_name(tmp_path):
    """A graded cell that logs to an open file: `model.train()` reads the attribute, not the global train."""
    with open(tmp_path / "train_log.txt", "w") as log:
        cell = notebook("import torch\n"
                        "def train_one_epoch(model):\n    model.train()\n    LOG.write('epoch')\n"
                        "def train(cfg):\n    model = torch.nn.Linear(2, 2)\n    train_one_epoch(model)\n"
                        "    return train(cfg - 1) if cfg else model\n"
                        "def run(cfg):\n    return train(cfg)\n", LOG=log)
        with pytest.raises(RunFailed) as caught:
            map_runs(cell.run, [1], workers=1)
    assert str(caught.value) == (
        "cannot send run to the worker processes: the global 'LOG' is a TextIOWrapper (an open file), which cannot "
        "be copied to another process; define it inside the function or leave it out")


@pytest.mark.parametrize("cores, here", [(None, True), (1, True), (2, False)])
def test_without_a_worker_count_one_core_runs_here_and_more_start_workers(cell, monkeypatch, cores, here):
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    [(pid, *_)] = map_runs(cell.train, [("pid", 0)], log=lambda line: None)
    assert (pid == os.getpid()) == here
