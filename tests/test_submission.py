"""make submission zips a matching pair: a finished full run and the PDF printed from it."""

import shutil

import nbformat
import pytest
from pypdf import PdfReader, PdfWriter

from mnist_assignment import report, submission


def executed(nb):
    """The project's notebook as if every code cell had run (one line of output each)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"cell {i} ran\n")]
    return nb


@pytest.fixture
def root(tmp_path):
    """A project folder with an executed notebook and a PDF stamped from it (a blank page: no browser)."""
    nb = executed(nbformat.read(report.NOTEBOOK, as_version=4))
    nbformat.write(nb, tmp_path / "mnist_assignment.ipynb")
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.write(tmp_path / "report.pdf")
    report.stamp_pdf(tmp_path / "report.pdf", report.notebook_digest(nb))
    return tmp_path


def refusal(root) -> str:
    with pytest.raises(submission.SubmissionError) as info:
        submission.check_pair(root)
    assert "\n" not in str(info.value)
    return str(info.value)


def rewrite(root, change):
    nb = nbformat.read(root / "mnist_assignment.ipynb", as_version=4)
    change(nb)
    nbformat.write(nb, root / "mnist_assignment.ipynb")


def test_a_matching_finished_full_run_passes_even_resaved(root):
    submission.check_pair(root)
    text = (root / "mnist_assignment.ipynb").read_text()
    (root / "mnist_assignment.ipynb").write_text(text.replace('\n "', '\n  "'))  # saved by another editor
    rewrite(root, lambda nb: nb.metadata.update(widgets={}))  # metadata is not what the PDF shows
    submission.check_pair(root)


def test_a_quick_run_is_refused(root):
    rewrite(root, lambda nb: report.set_parameters(nb, {"QUICK": True}))
    assert refusal(root).startswith("mnist_assignment.ipynb is a QUICK run (QUICK = True): run `make report`")


def test_a_run_that_failed_halfway_is_refused(root):
    def fail(nb):
        cell = next(c for c in nb.cells if "STUDIES = [" in c.source)
        cell.outputs = [nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[])]

    rewrite(root, fail)
    assert refusal(root) == ("mnist_assignment.ipynb stopped with an error in section '5. Analysis': run "
                             "`make report` (the full run) before `make submission`")


def test_a_run_that_did_not_reach_the_end_or_never_ran_is_refused(root):
    rewrite(root, lambda nb: [c.update(outputs=[]) for c in nb.cells[-5:] if c.cell_type == "code"])
    assert "did not run to the end" in refusal(root)
    rewrite(root, lambda nb: [c.update(outputs=[]) for c in nb.cells if c.cell_type == "code"])
    assert "has not been run (no outputs)" in refusal(root)


def test_a_pdf_printed_from_another_run_is_refused(root):
    rewrite(root, lambda nb: nb.cells[2].outputs[0].update(text="another run\n"))
    message = refusal(root)
    assert message.startswith("report.pdf was not printed from this mnist_assignment.ipynb")
    assert "--pdf-only" in message
    (root / "report.pdf").write_bytes(b"%PDF-1.4 truncated")
    assert refusal(root) == message


def test_make_submission_refuses_in_one_line_and_writes_no_zip(tmp_path, capsys):
    """The committed notebook has its outputs cleared: not a run to hand in."""
    assert submission.main(["123_456", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has not been run" in err and "make report" in err
    assert list(tmp_path.iterdir()) == []


def test_pdf_only_prints_the_notebook_again_and_stamps_it(root):
    """The real print (headless Chromium) of an executed notebook, nothing rerun: the pair then matches."""
    if report.find_browser() is None:
        pytest.skip("no Chromium to print with")
    shutil.copy(root / "report.pdf", root / "old.pdf")
    rewrite(root, lambda nb: nb.cells[2].outputs[0].update(text="data: data/train.csv.gz\n"))
    assert report.main(["--pdf-only", "--out", str(root)]) == 0
    submission.check_pair(root)
    reader = PdfReader(root / "report.pdf")
    assert reader.metadata.title == report.TITLE and "data: data/train.csv.gz" in reader.pages[0].extract_text()
