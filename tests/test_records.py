"""The record of the run a notebook kernel keeps in the first cell's outputs: there, and seen by no one."""

import re
import shutil
import warnings

import nbformat
import pytest
from conftest import SAMPLE_TEST, SAMPLE_TRAIN

from mnist_assignment import data, pdf, records, report, submission

PARAMETERS = """DATA = 'data/train.csv.gz'
QUICK = True
SEEDS = 3
EPOCHS = 20
WORKERS = None
TEAM = "id1_id2_id3"
NAMES = ""
COURSE = "Deep learning\""""
CHECKS = """from mnist_assignment import checks

RUN = checks.check_run(DATA=DATA, QUICK=QUICK, SEEDS=SEEDS, EPOCHS=EPOCHS, WORKERS=WORKERS, TEAM=TEAM,
                       NAMES=NAMES, COURSE=COURSE)"""


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """A tiny notebook (parameters, the checks cell, one more cell) executed by a real kernel, QUICK = True."""
    folder = tmp_path_factory.mktemp("records")
    (folder / "data").mkdir()
    for source, name in ((SAMPLE_TRAIN, "train.csv.gz"), (SAMPLE_TEST, "test.csv.gz")):
        shutil.copy2(source, folder / "data" / name)
    cells = [nbformat.v4.new_markdown_cell("# A run"),
             nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell(CHECKS),
             nbformat.v4.new_code_cell("print(RUN.figures, RUN.seeds, RUN.epochs)")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "source.ipynb")
    report.execute(folder / "source.ipynb", folder / "run.ipynb", {})
    return nbformat.read(folder / "run.ipynb", as_version=4)  # as saved: the record survives the file


def test_the_executed_notebook_keeps_what_the_kernel_ran(quick_run):
    (record,) = records.find(quick_run, records.RUN)
    sha256 = data.load_source(SAMPLE_TRAIN)[2].sha256
    assert record == {"quick": True, "seeds": 1, "epochs": 2, "data": "data/train.csv.gz", "rows": 8000,
                      "sha256": sha256}
    banner = "".join(o.text for o in quick_run.cells[2].outputs if o.output_type == "stream")
    assert banner.startswith("QUICK smoke run (1 seed, 2 epochs a run)")
    assert quick_run.cells[3].outputs[0].text == "build/quick/figures 1 2\n"


def visible_text(html_text: str) -> str:
    """What a reader sees of an HTML page: its text without tags, styles and scripts."""
    body = html_text[html_text.index("<body"):]
    body = re.sub(r"<(script|style)\b.*?</\1>", "", body, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_the_record_renders_as_nothing(quick_run):
    """nbconvert as it is (what a notebook viewer shows) and the PDF's HTML: no text, no box for the record."""
    from nbconvert import HTMLExporter

    without = records.without_hidden(quick_run)
    assert sum(len(c.get("outputs", [])) for c in quick_run.cells) == sum(
        len(c.get("outputs", [])) for c in without.cells) + 1  # the record is one output, and only it goes
    plain = HTMLExporter(template_name="lab")
    with warnings.catch_warnings():
        # the empty text/plain beside the record spares nbconvert its 'not able to be represented' warning
        warnings.filterwarnings("error", message=".*not able to be represented")
        shown, _ = plain.from_notebook_node(quick_run)
    assert visible_text(shown) == visible_text(plain.from_notebook_node(without)[0])
    assert "mnist-run" not in shown and '"quick"' not in shown and record_sha(quick_run) not in shown
    printed = pdf.to_html(quick_run, "header")
    assert printed == pdf.to_html(without, "header")  # the PDF: not even an empty output box
    assert "<pre></pre>" not in printed


def record_sha(nb) -> str:
    return records.find(nb, records.RUN)[0]["sha256"]


def test_a_quick_run_is_refused_whatever_the_parameters_cell_says_now(quick_run):
    nb = nbformat.from_dict(quick_run)
    report.set_parameters(nb, {"QUICK": False})  # edited after the run: the record still says QUICK
    assert report.read_parameters(nb)["QUICK"] is False
    with pytest.raises(submission.SubmissionError) as info:
        submission.require_full_run(nb)
    assert str(info.value) == ("mnist_assignment.ipynb is a QUICK run (its record of the run: 1 seed, 2 epochs a "
                               "run), whatever its parameters cell says now: run `make report` for the full run "
                               "before `make submission`")
