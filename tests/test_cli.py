import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SAMPLE_TRAIN, write

from mnist_assignment.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def run(*args):
    """The real command in a process of its own, as a user types it."""
    return subprocess.run([sys.executable, "-m", "mnist_assignment", *map(str, args)],
                          capture_output=True, text=True)


def test_check_data_accepts_a_good_file(cli):
    result = cli("check-data", SAMPLE_TRAIN, "--kind", "train")
    assert result.returncode == 0, result.stderr
    assert "rows: 8,000" in result.stdout and "class counts" in result.stdout
    # the sha256 of the file it read
    assert f"sha256: {hashlib.sha256(Path(SAMPLE_TRAIN).read_bytes()).hexdigest()}" in result.stdout


def test_check_data_rejects_a_bad_file_in_one_line(tmp_path, sample_lines):
    """A real process: exit status 2 and one line on stderr, no traceback."""
    lines = list(sample_lines)
    parts = lines[8].split(",")
    parts[401] = "256"
    lines[8] = ",".join(parts)
    path = write(tmp_path / "train.csv", lines)
    result = run("check-data", path, "--kind", "train")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == f"error: {path}: row 8, column pixel400: value 256 is outside 0..255"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("argv", [
    ["check-data"],
    ["check-data", "x.csv", "--kind", "both"],
    ["frobnicate"],
])
def test_bad_arguments_exit_2_in_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_get_data_names_the_file_a_run_uses(tmp_path, cli, monkeypatch):
    from mnist_assignment import data

    monkeypatch.setattr(data, "kaggle_credentials", lambda: False)  # never a download from a test
    empty = cli("get-data", "--data-dir", tmp_path)
    assert empty.returncode == 0 and "bundled sample" in empty.stdout
    assert empty.stdout.strip().splitlines()[-1].endswith("sample/train.csv.gz")
    (tmp_path / "train.csv").write_text("label\n")
    found = cli("get-data", "--data-dir", tmp_path)
    assert found.returncode == 0 and found.stdout.strip().splitlines()[-1] == str(tmp_path / "train.csv")


def test_help_and_argument_errors_do_not_load_torch():
    code = ("import sys\nfrom mnist_assignment.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\nmain(['check-data'])\n"
            "print(sorted(m for m in ('torch', 'sklearn', 'numpy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert "error:" in out.stderr


@pytest.mark.parametrize("module", ["report", "submission", "verify"])
def test_every_command_says_an_argument_error_in_one_line(module, capsys):
    import importlib

    assert importlib.import_module(f"mnist_assignment.{module}").main(["--bogus"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: python -m mnist_assignment.{module}: ") and err.count("\n") == 1, err
