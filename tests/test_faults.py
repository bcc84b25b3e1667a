"""Faults and bad inputs a careless or unlucky user hits: one clear line, nothing lost or half-written."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from conftest import SAMPLE_TRAIN

from mnist_assignment import data, files
from mnist_assignment.config import BASELINE
from mnist_assignment.runner import run_configs
from mnist_assignment.store import ResultStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def csv_of(images, labels, path):
    header = "label," + ",".join(data.PIXELS)
    rows = [",".join(map(str, [lab, *img])) for img, lab in zip(images, labels)]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.mark.parametrize("args, message", [
    (["--lr", "inf"], "lr must be positive"),
    (["--lr", "1e300"], "lr must be positive"),
    (["--hidden", "100000000"], "at most 65,536"),
    (["--seed", "99999999999999999999"], "seed must be in"),
])
def test_out_of_range_arguments_are_one_line(tmp_path, cli, args, message):
    result = cli("train", "--data", SAMPLE_TRAIN, "--out", tmp_path / "o", "--epochs", "1", *args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "o" / "model.pt").exists()


def test_all_zero_images_warn_and_do_not_crash(tmp_path, cli, sample):
    images, labels = sample
    path = csv_of(np.zeros((200, 784), dtype=np.uint8), labels[:200], tmp_path / "zeros.csv")
    checked = cli("check-data", path)
    assert checked.returncode == 0 and "single flat colour" in checked.stderr
    trained = cli("train", "--data", path, "--out", tmp_path / "o", "--epochs", "1", "--hidden", "8")
    assert trained.returncode == 0, trained.stderr
    assert "single flat colour" in trained.stderr and "Traceback" not in trained.stderr


def test_duplicates_across_the_split_are_called_leakage(tmp_path, cli, sample):
    images, labels = sample
    copies = np.concatenate([images[:100]] * 20)
    problems = data.problems(copies, np.concatenate([labels[:100]] * 20))
    assert any("exact copies" in p.text and "leakage" in p.text and not p.fatal for p in problems), problems
    one_class = data.problems(images[:50], np.full(50, 3))
    assert any("only one class" in p.text and p.fatal for p in one_class)
    path = csv_of(images[:50], np.full(50, 3), tmp_path / "one.csv")
    refused = cli("train", "--data", path, "--out", tmp_path / "o", "--epochs", "1")
    assert refused.returncode == 2 and "one.csv" in refused.stderr and "only one class" in refused.stderr
    assert data.problems(images[:500], labels[:500]) == []


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, cli, small_train_csv):
    out = tmp_path / "same"
    with files.exclusive(out):
        result = cli("train", "--data", small_train_csv, "--out", out, "--epochs", "1", "--hidden", "8")
    assert result.returncode == 2 and "in use by another run" in result.stderr
    assert not (out / "model.pt").exists() and not (out / ".lock").exists()
    (out / ".lock").write_text("999999999")  # left by a killed process: taken over
    assert cli("train", "--data", small_train_csv, "--out", out, "--epochs", "1", "--hidden", "8").returncode == 0
    assert (out / "model.pt").exists() and (out / "history.json").exists() and not (out / ".lock").exists()


def test_a_failed_write_leaves_neither_file_nor_temp(tmp_path, monkeypatch, cli, small_train_csv):
    from mnist_assignment import checkpoints

    def full_disk(*args, **kwargs):
        raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(checkpoints, "save_checkpoint", full_disk)
    out = tmp_path / "o"
    result = cli("train", "--data", small_train_csv, "--out", out, "--epochs", "1", "--hidden", "8")
    assert result.returncode == 2 and "file write failed" in result.stderr and result.stderr.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == []  # no history without its model, no temp, no lock


def test_stale_temp_files_of_killed_processes_are_swept(tmp_path):
    target = tmp_path / "x.json"
    stale = tmp_path / ".x.json.999999999.tmp"
    stale.write_text("half")
    files.write_atomic(target, "whole")
    assert target.read_text() == "whole" and not stale.exists()


class FakeKernel32:
    """Windows' process calls, as the lock's liveness check uses them (no Windows machine here)."""

    def __init__(self, running: dict, error: int = 87):
        self.running, self.error, self.closed = running, error, []

    def OpenProcess(self, access, inherit, pid):  # noqa: N802 (the Windows API's names)
        return pid if pid in self.running else 0

    def GetExitCodeProcess(self, handle, code_ref):  # noqa: N802
        code_ref._obj.value = self.running[handle]
        return 1

    def CloseHandle(self, handle):  # noqa: N802
        self.closed.append(handle)


def test_on_windows_liveness_is_asked_without_sending_a_signal(monkeypatch):
    import ctypes

    monkeypatch.setattr(os, "kill", lambda *a: pytest.fail("os.kill(pid, 0) is Ctrl-C on Windows"))
    kernel32 = FakeKernel32({10: files.STILL_ACTIVE, 11: 0})
    monkeypatch.setattr(ctypes, "get_last_error", lambda: kernel32.error, raising=False)
    assert files.windows_alive(10, kernel32, ctypes)  # running
    assert not files.windows_alive(11, kernel32, ctypes)  # exited, handle still there
    assert not files.windows_alive(12, kernel32, ctypes)  # no such process: its lock is stale
    kernel32.error = 5  # access denied: another user's live process
    assert files.windows_alive(12, kernel32, ctypes)
    assert kernel32.closed == [10, 11]


def test_a_broken_stored_result_is_retrained_and_said(tmp_path, sample):
    images, labels = sample
    cfg = replace(BASELINE, hidden=(8,), epochs=1, batch_size=256)
    store = ResultStore(tmp_path)
    run_configs([("lr", 0.01, cfg)], images[:500], labels[:500], "sha", store, reuse=True, workers=1,
                log=lambda m: None)
    (stored,) = list(tmp_path.glob("lr/*.json"))
    for broken in ({"history": None}, {"history": {"epochs": []}}):
        blob = json.loads(stored.read_text())
        blob.update(broken)
        stored.write_text(json.dumps(blob))
        logs = []
        again = run_configs([("lr", 0.01, cfg)], images[:500], labels[:500], "sha", store, reuse=True,
                            workers=1, log=logs.append)
        assert any("training it again" in m for m in logs) and len(again[0].epochs) == 1


def sweep_process(tmp_path, data, **kw):
    return subprocess.Popen([sys.executable, "-m", "mnist_assignment", "sweep", "batch_size",
                             "--data", str(data), "--seeds", "3", "--out", str(tmp_path / "r"),
                             "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1"), start_new_session=True,
                            **kw)


def wait_until_training(proc):
    for line in proc.stdout:  # the workers are training once the first task is in (6 of 7 still to come)
        if line.startswith("[1/"):
            return
    pytest.fail(f"the sweep ended before its first task: {proc.stderr.read()[-500:]}")


def assert_interrupted_and_gone(proc):
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err[-500:]
    assert "Traceback" not in err
    with pytest.raises(ProcessLookupError):  # no worker left behind in the sweep's process group
        for _ in range(50):
            os.killpg(proc.pid, 0)
            time.sleep(0.1)


def test_sigterm_during_a_sweep_says_interrupted_and_stops_the_workers(tmp_path, small_train_csv):
    proc = sweep_process(tmp_path, small_train_csv)
    wait_until_training(proc)
    os.kill(proc.pid, signal.SIGTERM)  # `kill PID`: the command alone, not its workers
    assert_interrupted_and_gone(proc)


def test_ctrl_c_during_a_sweep_says_interrupted(tmp_path, small_train_csv):
    # as from a terminal: a job started in the background by a script (CI) inherits SIGINT ignored,
    # and Python then never turns Ctrl-C into KeyboardInterrupt
    proc = sweep_process(tmp_path, small_train_csv, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_until_training(proc)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole group, workers included
    assert_interrupted_and_gone(proc)


def test_a_failing_report_is_one_line(tmp_path, cli, sample):
    from mnist_assignment import report

    images, labels = sample
    path = csv_of(images[:5], labels[:5], tmp_path / "five.csv")
    result = cli("--data", path, "--out", tmp_path / "out", "--no-pdf", entry=report.main)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the notebook failed in section") and "report.log" in last
    assert "Traceback" not in result.stderr and "\x1b[" not in result.stderr
    epochs = cli("--quick", "--epochs", "-1", entry=report.main)
    assert epochs.returncode == 2 and "at least 1" in epochs.stderr
