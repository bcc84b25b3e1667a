"""checks.check_run in-process: what the first cell of the notebook decides, and the banner it prints."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_TEST, SAMPLE_TRAIN

from mnist_assignment import checks, records

GOOD = dict(DATA=checks.DEFAULT_DATA, QUICK=False, SEEDS=3, EPOCHS=20, WORKERS=None,
            TEAM="id1_id2_id3", NAMES="", COURSE="Deep learning")


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A notebook's folder with Kaggle-style files in data/ (the sample's)."""
    (tmp_path / "data").mkdir()
    for source, name in ((SAMPLE_TRAIN, "train.csv.gz"), (SAMPLE_TEST, "test.csv.gz")):
        shutil.copy2(source, tmp_path / "data" / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def problems(**changes) -> list[str]:
    with pytest.raises(checks.CheckError) as info:
        checks.check_run(**{**GOOD, **changes})
    return info.value.problems


def test_every_bad_parameter_is_named_at_once(folder):
    found = problems(SEEDS=0, EPOCHS=0, QUICK="yes", WORKERS=0, TEAM="my team", NAMES=None)
    assert [p.split()[0] for p in found] == ["QUICK", "SEEDS", "EPOCHS", "WORKERS", "TEAM", "NAMES"]
    assert found[4] == ("TEAM must be the team's ids joined by '_' (letters and digits only, e.g. "
                        "123456789_987654321), not 'my team'")  # team.py's check, the one the commands use
    assert problems(SEEDS=True) == [f"SEEDS = True: must be a whole number from 1 to {checks.MAX_SEEDS} "
                                    "(seeds per configuration; 3 for the report)"]
    assert problems(EPOCHS=2.5)[0].startswith("EPOCHS = 2.5: must be a whole number")
    assert not (folder / ".lock").exists()  # refused before the folder is taken


def test_a_path_the_user_gave_is_never_replaced(folder):
    found = problems(DATA="data/train_v2.csv")
    assert found == ["DATA = 'data/train_v2.csv': no such file (relative to this notebook's folder); "
                     "in data: train.csv.gz, test.csv.gz"]
    assert "there is no folder nowhere" in problems(DATA="nowhere/train.csv")[0]
    assert problems(DATA="data") == ["DATA = 'data': is a folder; DATA names the training CSV itself; "
                                     "did you mean 'data/train.csv.gz'?"]
    (folder / "empty.csv").write_text("")
    assert problems(DATA="empty.csv") == ["DATA: empty.csv: empty file"]
    assert "missing column label" in problems(DATA="data/test.csv.gz")[0]


def test_tilde_expands(folder, monkeypatch):
    monkeypatch.setenv("HOME", str(folder / "data"))
    path, reason = checks.train_file("~/train.csv.gz")
    assert path == folder / "data" / "train.csv.gz" and reason == "as DATA says"
    assert problems(DATA="~/nothing.csv")[0].startswith("DATA = '~/nothing.csv': no such file")


def test_the_default_finds_the_data_and_says_why(folder, capsys):
    run = checks.check_run(**GOOD)
    out = capsys.readouterr().out
    assert run.train.as_posix() == "data/train.csv.gz" and run.test.as_posix() == "data/test.csv.gz"
    assert run.figures == Path("figures") and (run.quick, run.seeds, run.epochs) == (False, 3, 20)
    assert out.startswith("data: data/train.csv.gz, 8,000 labelled rows (as DATA says)\n")
    assert "test: data/test.csv.gz (section 7.8 writes submission.csv)" in out
    os.rename("data/train.csv.gz", "data/train.csv")
    run = checks.check_run(**GOOD)
    assert run.train.as_posix() == "data/train.csv"
    assert "which is not there: data/train.csv is used" in capsys.readouterr().out


def test_no_data_at_all_falls_back_to_the_sample_only_at_the_default(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    run = checks.check_run(**GOOD)
    out = capsys.readouterr().out
    assert run.source.origin == "sample"
    assert "DATA is left at its default 'data/train.csv.gz', which is not there, nor data/train.csv" in out
    assert "the bundled sample is used" in out and "/work/" not in out and "/tmp/" not in out
    assert "no such file" in problems(DATA="data/train.csv")[0]  # not the default: no fallback


def test_a_bad_test_file_costs_only_the_submission(folder, capsys):
    (folder / "data" / "test.csv.gz").unlink()
    shutil.copy(SAMPLE_TRAIN, folder / "data" / "test.csv.gz")  # Kaggle's train file under the test name
    run = checks.check_run(**GOOD)
    assert run.test is None
    assert run.test_problem == "data/test.csv.gz: header: unexpected column label (this looks like a train file)"
    assert f"test: {run.test_problem}: section 7.8 will skip the Kaggle submission" in capsys.readouterr().out
    (folder / "data" / "test.csv.gz").unlink()
    assert checks.check_run(**GOOD).test_problem == "no test.csv next to data/train.csv.gz"


def test_a_quick_run_says_so_first_and_writes_apart_from_the_committed_figures(folder, capsys):
    run = checks.check_run(**{**GOOD, "QUICK": True})
    first, *rest = capsys.readouterr().out.splitlines()
    assert first == ("QUICK smoke run (1 seed, 2 epochs a run): checks that everything runs; the numbers are not "
                     "the report's, and the text below describes the full run (QUICK = False). Figures go to "
                     "build/quick/figures/.")
    assert rest[0].startswith("data: data/train.csv.gz, 8,000 labelled rows")
    assert run.figures == Path("build/quick/figures") and run.figures.parts[0] == "build"
    assert run.submission == Path("build/quick/submission.csv")  # never over the full run's submission.csv
    assert "test: data/test.csv.gz (section 7.8 writes build/quick/submission.csv)" in rest
    assert "build/" in (Path(__file__).parent.parent / ".gitignore").read_text().splitlines()  # never committed
    assert (run.quick, run.seeds, run.epochs) == (True, 1, 2)  # whatever SEEDS and EPOCHS say
    assert not Path("figures").exists() and not Path("build").exists()  # nothing written before the run saves


def test_the_record_is_what_the_kernel_runs_and_outside_a_notebook_nothing_is_displayed(folder, capsys):
    run = checks.check_run(**{**GOOD, "QUICK": True, "SEEDS": 5})
    assert run.record() == {"quick": True, "seeds": 1, "epochs": 2, "data": "data/train.csv.gz", "rows": 8000,
                            "sha256": run.source.sha256}
    assert len(run.source.sha256) == 64 and "mnist-run" not in capsys.readouterr().out
    assert records.show(records.RUN, run.record()) is False  # no kernel here: nothing to keep it in
    full = checks.check_run(**{**GOOD, "SEEDS": 5, "EPOCHS": 7}).record()
    assert (full["quick"], full["seeds"], full["epochs"]) == (False, 5, 7)


def test_folders_the_run_writes_must_be_writable(folder):
    (folder / "figures").write_text("not a folder")
    assert problems() == ["figures/: a file is in the way of the folder the run writes; move it away"]
    with pytest.raises(checks.CheckError):  # a QUICK run writes elsewhere: the full run's folder is not its concern
        checks.check_run(**{**GOOD, "QUICK": True, "DATA": "nowhere.csv"})
    assert checks.folder_problems(checks.QUICK_FIGURES) == []
    (folder / "build").write_text("not a folder")
    assert checks.folder_problems(checks.QUICK_FIGURES) == [
        "build/: a file is in the way of the folder the run writes; move it away"]
    (folder / "build").unlink()
    (folder / "build" / "quick").mkdir(parents=True)
    (folder / "build" / "quick" / "figures").write_text("")
    assert checks.folder_problems(checks.QUICK_FIGURES)[0].startswith("build/quick/figures/: a file is in the way")
    (folder / "build" / "quick" / "figures").unlink()
    (folder / "submission.csv").mkdir()
    assert checks.folder_problems(checks.FIGURES)[-1] == (
        "submission.csv: a folder is in the way of the file section 7.8 writes; move it away")
    assert checks.folder_problems(checks.QUICK_FIGURES, checks.QUICK_SUBMISSION) == []  # not the QUICK run's


def test_the_checks_parse_nothing_and_ask_the_system_nothing(folder, monkeypatch):
    """The notebook's pd.read_csv is the one read of the data; no system call (fc-list) at the kernel's start."""
    import pandas as pd

    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: pytest.fail("the checks parsed a CSV"))
    run = checks.check_run(**GOOD)
    assert run.source.rows == 8000 and not hasattr(run, "images")
    code = "import sys, mnist_assignment.checks; print(sorted(m for m in sys.modules if m.startswith('mnist_') ))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert "mnist_assignment.fonts" not in out.stdout and "mnist_assignment.checks" in out.stdout


def test_a_bad_value_is_left_for_the_read_and_a_bad_header_is_not(folder, sample_lines):
    """A wrong value deep in the file costs no parse here: check_values names it on the frame pandas read."""
    bad = list(sample_lines)
    bad[5] = bad[5].replace(",0,", ",0.5,", 1)
    (folder / "scaled.csv").write_text("\n".join(bad) + "\n")
    assert checks.check_run(**{**GOOD, "DATA": "scaled.csv"}).source.rows == 20
    (folder / "indexed.csv").write_text("\n".join(["," + sample_lines[0]] + [f"{i},{line}" for i, line in
                                                                          enumerate(sample_lines[1:])]) + "\n")
    assert problems(DATA="indexed.csv") == ["DATA: indexed.csv: header: the first column is an unnamed index: save "
                                            "the CSV with index=False"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_refused(folder):
    folder.chmod(0o555)
    try:
        assert problems()[0].startswith("this notebook's folder: cannot be written (Permission denied)")
    finally:
        folder.chmod(0o755)


def test_a_folder_in_use_by_another_live_run_is_refused(folder):
    other = os.getppid()  # a live process that is not this one
    (folder / ".lock").write_text(str(other))
    found = problems()
    assert found[0].startswith(f"another process (pid {other}) holds this folder") and "Shut Down Kernel" in found[0]
    assert f"(pid {other})" in found[0]
    (folder / ".lock").write_text("999999999")  # its process is gone: taken over
    checks.check_run(**GOOD)
    assert (folder / ".lock").read_text() == str(os.getpid())
    checks.check_run(**GOOD)  # the same kernel running all again


def test_a_dead_kernels_lock_is_dropped_and_a_live_ones_kept(tmp_path):
    from mnist_assignment.files import drop_stale_lock

    lock = tmp_path / ".lock"
    lock.write_text(str(os.getpid()))
    drop_stale_lock(lock)
    assert lock.exists()  # this process is alive: its lock stays
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(dead.stdout.strip())
    drop_stale_lock(lock)
    assert not lock.exists()
