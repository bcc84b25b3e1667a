"""The notebook itself, run as a student does (Run All through nbclient), with one mistake in its
parameters cell: it stops in the checks cell, in a few lines, before anything is trained or written."""

import os
import shutil

import nbformat
import pytest
from conftest import SAMPLE_TEST, SAMPLE_TRAIN
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from mnist_assignment import report


def run_all(folder, parameters, cells=None, env=None):
    """Run All of the project's notebook in folder (cells: only these indices; env: the kernel's, else one that
    imports this checkout's package); the executed notebook."""
    nb = nbformat.read(report.NOTEBOOK, as_version=4)
    for cell in nb.cells:  # the committed notebook holds the full run's outputs: start from none, as Run All shows
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    report.set_parameters(nb, parameters)
    if cells is not None:
        nb.cells = [nb.cells[i] for i in cells]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    try:
        client.execute(env=report.kernel_env() if env is None else env)
    except CellExecutionError:
        pass
    return nb


def error_of(nb):
    """(index of the cell that failed, its error output); every later cell never ran."""
    failed = [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert len(failed) == 1, failed
    index, error = failed[0]
    assert all(not c.get("outputs") for c in nb.cells[index + 1:]), "a cell after the error ran"
    return index, error


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE_TRAIN, tmp_path / "data" / "train.csv.gz")
    shutil.copy(SAMPLE_TEST, tmp_path / "data" / "test.csv.gz")
    return tmp_path


@pytest.mark.parametrize("parameters, expected", [
    ({"DATA": "data/train_v2.csv"}, "DATA = 'data/train_v2.csv': no such file (relative to this notebook's "
                                    "folder); in data: train.csv.gz, test.csv.gz"),
    ({"DATA": "~/train.csv"}, "DATA = '~/train.csv': no such file"),
    ({"DATA": "data"}, "DATA = 'data': is a folder"),
    ({"DATA": "empty.csv"}, "DATA: empty.csv: empty file"),
    ({"SEEDS": 0, "EPOCHS": 0}, "SEEDS = 0: must be a whole number from 1 to 20"),
])
def test_a_mistake_stops_the_run_in_the_checks_cell_in_a_few_lines(folder, parameters, expected):
    (folder / "empty.csv").write_text("")
    before = sorted(p.name for p in folder.iterdir())
    nb = run_all(folder, {**parameters, "QUICK": True})
    index, error = error_of(nb)
    assert "\nRUN = check_run(" in nb.cells[index].source and index == 3  # the cell after the parameters
    assert "remove-input" in nb.cells[2].metadata.tags  # between them only the hidden import of check_run
    lines = error.traceback
    assert 3 <= len(lines) <= 5, lines
    assert any(expected in line for line in lines), lines
    assert lines[-1] == "Fix it, then Run All again." and not any("File " in line or "\x1b" in line for line in lines)
    assert sorted(p.name for p in folder.iterdir()) == before  # no figures/, results/, lock or temp file


def test_both_bad_parameters_are_named_together(folder):
    _, error = error_of(run_all(folder, {"SEEDS": 0, "EPOCHS": 0}))
    assert [line.split(" =")[0] for line in error.traceback[1:-1]] == ["  • SEEDS", "  • EPOCHS"]


def test_a_second_run_in_a_folder_in_use_is_refused(folder):
    (folder / ".lock").write_text(str(os.getpid()))  # this test process: alive, and not the new kernel
    _, error = error_of(run_all(folder, {"QUICK": True}))
    assert "holds this folder" in error.evalue and "Shut Down Kernel" in error.evalue
    assert f"(pid {os.getpid()})" in error.evalue


def test_a_bad_test_file_skips_only_the_submission_in_one_line(folder):
    """The checks cell and the submission cell of section 7.8 (the cells between them need training)."""
    shutil.copy(SAMPLE_TRAIN, folder / "data" / "test.csv.gz")  # a label column: Kaggle's train file
    nb = nbformat.read(report.NOTEBOOK, as_version=4)
    submission = next(i for i, c in enumerate(nb.cells) if "RUN.test is None" in c.source)
    nb = run_all(folder, {"QUICK": True}, cells=[1, 2, 3, submission])
    assert not any(o.output_type == "error" for c in nb.cells for o in c.get("outputs", []))
    banner = "".join(o.text for o in nb.cells[2].outputs if o.output_type == "stream")
    problem = "data/test.csv.gz: header: unexpected column label (this looks like a train file)"
    assert f"test: {problem}: section 7.8 will skip the Kaggle submission" in banner
    said = "".join(o.text for o in nb.cells[3].outputs if o.output_type == "stream")
    assert said == f"skipping the submission: {problem}\n"
    assert not (folder / "submission.csv").exists()


def test_a_kernel_without_the_package_is_told_what_the_notebook_needs_in_one_line(folder):
    """Jupyter started in another folder, or the notebook uploaded alone (Colab): its kernel cannot import the
    package. One line, from the hidden cell before the checks, saying what the notebook needs and how."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the checkout is on no path: only the cwd
    nb = run_all(folder, {"QUICK": True}, env=env)
    index, error = error_of(nb)
    assert index == 2 and "remove-input" in nb.cells[index].metadata.tags and len(error.traceback) == 1
    line = error.traceback[0]  # no traceback, no IPython advice on how to exit
    assert line.startswith("This notebook needs the mnist_assignment/ folder from its zip beside it: ")
    assert "`jupyter lab`" in line and "Colab" in line and "`!unzip -o NAME.zip`" in line
    assert not any(o.output_type == "stream" for o in nb.cells[index].outputs)  # no warning on stderr


def test_a_bad_value_stops_the_read_cell_in_one_line_that_says_what_to_do(folder):
    """The checks cell only peeks at the file; the read cell's check_values judges every value pandas read."""
    import gzip

    with gzip.open(SAMPLE_TRAIN, "rt") as f:
        lines = [next(f).rstrip("\n") for _ in range(51)]
    label, *pixels = lines[3].split(",")
    lines[3] = ",".join([label, *(f"{int(v) / 255:.4f}" for v in pixels)])  # row 3 scaled to 0..1
    (folder / "scaled.csv").write_text("\n".join(lines) + "\n")
    nb = nbformat.read(report.NOTEBOOK, as_version=4)
    read = next(i for i, c in enumerate(nb.cells) if c.source.startswith("frame = pd.read_csv(RUN.train)"))
    nb = run_all(folder, {"QUICK": True, "DATA": "scaled.csv"}, cells=[1, 2, 3, 4, read])
    index, error = error_of(nb)
    assert index == 4 and len(error.traceback) == 1
    assert error.traceback[0].startswith("scaled.csv: row 3, column pixel")
    assert error.traceback[0].endswith("is not a whole number: pixels must be whole numbers 0..255, not scaled")
