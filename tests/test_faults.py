"""Faults and bad inputs a careless or unlucky user hits: one clear line, nothing lost or half-written."""

import os
import signal
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from conftest import SAMPLE_TRAIN

from mnist_assignment import data, files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def csv_of(images, labels, path):
    header = "label," + ",".join(data.PIXELS)
    rows = [",".join(map(str, [lab, *img])) for img, lab in zip(images, labels)]
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.mark.parametrize("args, message", [
    (["--lr", "inf"], "lr must be positive"),
    (["--lr", "1e300"], "lr must be positive"),
    (["--hidden", "100000000"], "must be in 1..65,536"),
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


def train_process(tmp_path, data):
    return subprocess.Popen([sys.executable, "-m", "mnist_assignment", "train", "--data", str(data),
                             "--out", str(tmp_path / "o"), "--epochs", "500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1"), start_new_session=True)


def wait_until_training(proc):
    for line in proc.stdout:  # training once the first epoch is in (499 still to come)
        if line.startswith("epoch  1/"):
            return
    pytest.fail(f"the command ended before its first epoch: {proc.stderr.read()[-500:]}")


def assert_interrupted_and_clean(proc, out):
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted", err[-500:]
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == []  # no model, history, temp file or lock left behind


def test_kill_midway_says_interrupted_and_leaves_nothing(tmp_path, small_train_csv):
    """`kill PID` from another process, as Ctrl-C: one word, exit 130, the folder as it was."""
    proc = train_process(tmp_path, small_train_csv)
    wait_until_training(proc)
    os.kill(proc.pid, signal.SIGTERM)
    assert_interrupted_and_clean(proc, tmp_path / "o")


def test_ctrl_c_midway_says_interrupted_and_leaves_nothing(tmp_path, small_train_csv, cli, monkeypatch):
    """Ctrl-C during the first epoch (sent from inside the command's own progress line, so that it lands
    while the command runs): the same word, exit status and empty folder."""
    import builtins

    from mnist_assignment import cli as commands

    def print_then_ctrl_c(*args, **kwargs):
        builtins.print(*args, **kwargs)
        if args and str(args[0]).startswith("epoch  1/"):
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(commands, "print", print_then_ctrl_c, raising=False)
    # Python turns SIGINT into KeyboardInterrupt unless started with it ignored (a background job of a script)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = cli("train", "--data", small_train_csv, "--out", tmp_path / "o", "--epochs", "500")
    finally:
        signal.signal(signal.SIGINT, before)
    assert result.returncode == 130 and result.stderr.strip().splitlines()[-1] == "interrupted", result.stderr
    assert "epoch  1/500" in result.stdout and "epoch  3/500" not in result.stdout
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == []


FAILING = """import numpy as np

digits = np.zeros((5, 784))
digits[5]  # an IndexError, as a cell that fails halfway through a run"""


def a_report(tmp_path, monkeypatch, *cells):
    """The notebook `make report` runs: a title, the parameters cell, then cells."""
    from mnist_assignment import report

    cells = [nbformat.v4.new_markdown_cell("# A report"),
             nbformat.v4.new_code_cell("DATA = 'data/train.csv.gz'\nQUICK = False", metadata={"tags": ["parameters"]}),
             *cells]
    notebook = tmp_path / "mnist_assignment.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), notebook)
    monkeypatch.setattr(report, "NOTEBOOK", notebook)


def test_a_failing_report_is_one_line(tmp_path, cli, monkeypatch):
    """A notebook that fails in a section: one line naming it, the trace in report.log (no ANSI colours)."""
    from mnist_assignment import report

    a_report(tmp_path, monkeypatch, nbformat.v4.new_markdown_cell("## 2. Training"), nbformat.v4.new_code_cell(FAILING))
    result = cli("--data", SAMPLE_TRAIN, "--out", tmp_path / "out", "--no-pdf", entry=report.main)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last == ("error: the notebook failed in section '2. Training': IndexError: index 5 is out of bounds for "
                    "axis 0 with size 5 (full trace in report.log)")
    assert "Traceback" not in result.stderr and "\x1b[" not in result.stderr
    log = (tmp_path / "out" / "report.log").read_text()
    assert "IndexError" in log and "\x1b[" not in log
    assert not (tmp_path / "out" / "mnist_assignment.ipynb").exists()  # no half-run notebook written
    epochs = cli("--quick", "--epochs", "-1", entry=report.main)
    assert epochs.returncode == 2 and "at least 1" in epochs.stderr


def test_a_failure_above_the_first_section_names_no_section(tmp_path, cli, monkeypatch):
    """The first cells sit under the notebook's title, which is not a place to look for the error."""
    from mnist_assignment import report

    a_report(tmp_path, monkeypatch, nbformat.v4.new_code_cell(FAILING), nbformat.v4.new_markdown_cell("## 2. Training"))
    result = cli("--data", SAMPLE_TRAIN, "--out", tmp_path / "out", "--no-pdf", entry=report.main)
    assert result.returncode == 2 and result.stderr.startswith("error: the notebook failed in its first cells: "
                                                               "IndexError: index 5 is out of bounds"), result.stderr


def test_a_kernel_left_open_on_the_folder_is_named_with_how_to_free_it(tmp_path, cli, monkeypatch):
    """Run All in Jupyter holds the folder for as long as its kernel lives, idle too: `make report` says so,
    before starting a kernel, and names no section of the notebook."""
    from mnist_assignment import report

    a_report(tmp_path, monkeypatch, nbformat.v4.new_code_cell("print('ran')"))
    (tmp_path / "out").mkdir()
    kernel = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "out" / ".lock").write_text(str(kernel.pid))
        result = cli("--data", SAMPLE_TRAIN, "--out", tmp_path / "out", "--no-pdf", entry=report.main)
    finally:
        kernel.kill()
        kernel.wait()
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"another process (pid {kernel.pid}) holds" in result.stderr and "Jupyter kernel" in result.stderr
    assert "Kernel → Shut Down Kernel" in result.stderr and "section" not in result.stderr
    assert not (tmp_path / "out" / "mnist_assignment.ipynb").exists()
    # its kernel shut down, the same command runs
    assert cli("--data", SAMPLE_TRAIN, "--out", tmp_path / "out", "--no-pdf", entry=report.main).returncode == 0
    assert not (tmp_path / "out" / ".lock").exists()
