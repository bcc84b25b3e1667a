"""Faults and bad inputs a careless or unlucky user hits: one clear line, nothing lost or half-written."""

import os
import signal
import subprocess
import sys
import time

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


def test_all_zero_images_warn_and_do_not_crash(tmp_path, cli, sample):
    images, labels = sample
    path = csv_of(np.zeros((200, 784), dtype=np.uint8), labels[:200], tmp_path / "zeros.csv")
    checked = cli("check-data", path)
    assert checked.returncode == 0 and "single flat colour" in checked.stderr and "Traceback" not in checked.stderr


def test_duplicates_across_the_split_are_called_leakage(tmp_path, cli, sample):
    images, labels = sample
    copies = np.concatenate([images[:100]] * 20)
    problems = data.problems(copies, np.concatenate([labels[:100]] * 20))
    assert any("exact copies" in p.text and "leakage" in p.text and not p.fatal for p in problems), problems
    one_class = data.problems(images[:50], np.full(50, 3))
    assert any("only one class" in p.text and p.fatal for p in one_class)
    path = csv_of(images[:50], np.full(50, 3), tmp_path / "one.csv")
    refused = cli("check-data", path)  # no stratified split can be made: an error, not a warning
    assert refused.returncode == 2 and "one.csv" in refused.stderr and "only one class" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert data.problems(images[:500], labels[:500]) == []


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "report.pdf"
    target.write_text("old")
    with pytest.raises(OSError, match="No space left"), files.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise OSError(28, "No space left on device")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf"]


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


SLEEPING = """from mnist_assignment.files import hold
hold('.', 'busy')  # as the notebook's first check does: the kernel holds its folder
open('started', 'w').close()
import time
time.sleep(300)"""
REPORT = ("import sys; from pathlib import Path; from mnist_assignment import report; "
          "report.NOTEBOOK = Path(sys.argv[1]); sys.exit(report.main(sys.argv[2:]))")


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_an_interrupted_report_says_so_and_leaves_nothing(tmp_path, how):
    """Ctrl-C in the terminal (SIGINT to the whole process group, the kernel included) or `kill PID` (SIGTERM)
    while a cell runs: one word, exit 130, the kernel gone, no notebook, log or lock left behind."""
    notebook = tmp_path / "mnist_assignment.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("DATA = 'data/train.csv.gz'\nQUICK = False", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(SLEEPING)]), notebook)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", REPORT, notebook, "--data", SAMPLE_TRAIN, "--out", out, "--no-pdf"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    for _ in range(1200):  # until the cell runs (a kernel starts in seconds)
        if (out / "started").exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert (out / "started").exists(), proc.communicate()[1][-500:]
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines() == ["interrupted"], err[-2000:]
    # the lock names the kernel's pid, and only a dead holder's lock is removed: the kernel is gone too
    assert sorted(p.name for p in out.iterdir()) == ["started"]
