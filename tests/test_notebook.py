"""The deliverable: the notebook in quick mode, its PDF, and the team's zip run as a grader would."""

import os
import re
import zipfile
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from mnist_assignment import report, submission

ROOT = report.ROOT
SECTIONS = ["1. Data preparation", "2. Architecture", "3. The training loop", "4. Baseline training",
            "5. Analysis", "6. Bonus", "7. Extensions", "8. Conclusions"]
FIGURES = ["samples", "class_balance", "parameters", "cross_entropy", "baseline_curves", "baseline_iterations",
           "lr_curves", "lr_summary", "batch_curves", "batch_curves_steps", "batch_summary",
           "regularization_curves", "regularization_summary", "dropout_curves", "dropout_summary",
           "adam_curves", "cnn_curves", "confusion", "mistakes", "early_stopping", "test_predictions", "summary",
           "optimizer_curves", "norm_curves", "numpy_curves"]
ABSOLUTE = re.compile(r"(?<![\w.~])(/(home|root|tmp|work|Users|var|opt|mnt)/|[A-Z]:\\\\)")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    assert report.main(["--quick", "--out", str(out)]) == 0
    return out


def outputs(nb, kind):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]


def test_notebook_runs_without_errors_and_writes_every_figure(quick_run):
    nb = nbformat.read(quick_run / "mnist_assignment.ipynb", as_version=4)
    assert outputs(nb, "error") == []
    for name in FIGURES:
        path = quick_run / "figures" / f"{name}.png"
        assert path.exists() and path.stat().st_size > 5_000, name
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= len(FIGURES)
    text = "".join(o.get("text", "") for o in outputs(nb, "stream"))
    assert "HBox(" not in text and "\r" not in text  # plain progress lines, no widget reprs
    assert (quick_run / "submission.csv").read_text().startswith("ImageId,Label\n1,")


def test_the_executed_notebook_names_no_folder_of_the_machine(quick_run):
    text = (quick_run / "mnist_assignment.ipynb").read_text()
    assert str(quick_run) not in text  # a data path outside the folder is given relative to it
    assert not ABSOLUTE.search(text), ABSOLUTE.search(text)
    nb = nbformat.read(quick_run / "mnist_assignment.ipynb", as_version=4)
    values = report.read_parameters(nb)
    assert values["QUICK"] is True and not os.path.isabs(values["DATA"])
    assert (quick_run / values["DATA"]).resolve() == (ROOT / "data" / "sample" / "train.csv.gz").resolve()
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


def test_insights_are_rendered_from_the_run(quick_run):
    nb = nbformat.read(quick_run / "mnist_assignment.ipynb", as_version=4)
    markdown = [o["data"]["text/markdown"] for o in outputs(nb, "display_data") if "text/markdown" in o["data"]]
    provenance = next(m for m in markdown if "**Data:**" in m)
    assert "sample" in provenance and "8,000" in provenance and "QUICK" in provenance
    assert "CPU kernels" in provenance
    insights = [m for m in markdown if "validation accuracy" in m or "points" in m]
    assert len(insights) >= 5
    for m in insights:
        assert re.search(r"\d+\.\d\d%", m), m[:200]
    prose = "\n".join(markdown)
    assert "(s)" not in prose and not re.search(r"\b(\d+)[–-]\1\b", prose)  # no "seed(s)", no "1–1"
    assert not any("{" in m and "}" in m and "pct(" in m for m in markdown)  # no unrendered templates


def test_pdf_reads_as_a_report(quick_run):
    reader = PdfReader(quick_run / "report.pdf")
    assert reader.metadata.title == report.TITLE
    pages = [(page.extract_text() or "", len(page.images)) for page in reader.pages]
    assert 10 <= len(pages) <= 26
    text = "\n".join(t for t, _ in pages)
    assert "bundled sample" in pages[0][0] and "Contents." in pages[0][0]
    assert re.search(r"page 1 of \d+", pages[0][0])
    # prose-formatting code is hidden, the graded code is shown
    assert "Markdown(" not in text and "insights.lr_insight" not in text
    assert "training.train(" in text and "data.prepare(" in text and "run_all(" in text
    assert "(s)" not in text
    starts = []
    for heading in SECTIONS:
        found = [i for i, (t, _) in enumerate(pages) if heading in t]
        assert found, f"section {heading!r} not in the PDF"
        starts.append(found[0])
    assert starts == sorted(starts)
    for k, heading in enumerate(SECTIONS):
        end = starts[k + 1] if k + 1 < len(starts) else len(pages) - 1
        assert sum(n for _, n in pages[starts[k]:end + 1]) >= 1, f"no figure in {heading!r}"


def test_parameters_are_set_where_the_student_edits_them():
    nb = nbformat.read(ROOT / "mnist_assignment.ipynb", as_version=4)
    before = report.parameters_cell(nb).source
    report.set_parameters(nb, {"QUICK": True, "DATA": "data/x.csv"})
    report.set_parameters(nb, {"QUICK": True, "SEEDS": 1})
    cell = report.parameters_cell(nb)
    assert report.read_parameters(nb)["QUICK"] is True and report.read_parameters(nb)["SEEDS"] == 1
    assert report.read_parameters(nb)["DATA"] == "data/x.csv"
    assert len(cell.source.splitlines()) == len(before.splitlines())  # replaced in place, comments kept
    assert "# seeds per configuration" in cell.source
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_the_source_notebook_is_clean_and_tagged():
    """The .ipynb is the source students edit: structure checked here, code linted by ruff (make lint)."""
    nb = nbformat.read(ROOT / "mnist_assignment.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.metadata.get("tags") for c in code].count(["parameters"]) == 1
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines()
                if line.startswith("## ")]
    assert len(headings) == len(SECTIONS)
    assert all(h[3:].startswith(s) for h, s in zip(headings, SECTIONS))  # every section, in order
    for c in code:  # every cell that only renders prose is hidden in the PDF
        if "display(Markdown(" in c.source:
            assert "remove-input" in c.metadata.get("tags", []), c.source[:80]
    for c in nb.cells:
        assert "execution" not in c.metadata  # timings are diff noise


def test_committed_deliverables_name_no_folder_of_the_machine():
    text = (ROOT / "mnist_assignment.ipynb").read_text()
    assert not ABSOLUTE.search(text), ABSOLUTE.search(text)
    reader = PdfReader(ROOT / "report.pdf")
    pdf = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert not ABSOLUTE.search(pdf), ABSOLUTE.search(pdf)
    assert reader.metadata.title == report.TITLE and len(reader.pages) <= 26
    assert "(s)" not in pdf and "Contents." in pdf and "Markdown(" not in pdf


def test_a_team_name_that_is_not_ids_is_refused(tmp_path):
    for bad in ["", "my team", "a__b", "../x", "id1_id2_", "x.zip"]:
        with pytest.raises(submission.SubmissionError):
            submission.build(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert submission.main(["not ids"]) == 2


def test_the_zip_unzips_and_runs_all_as_a_grader_would(tmp_path):
    """Build the zip, unzip it elsewhere, switch QUICK on in the parameters cell and Run All with
    progress bars on (no CI variables): no warning, no error, nothing written outside that folder."""
    from nbclient import NotebookClient

    target = submission.build("123_456", tmp_path)
    names = zipfile.ZipFile(target).namelist()
    assert "123_456/mnist_assignment.ipynb" in names and "123_456/report.pdf" in names
    assert "123_456/data/sample/train.csv.gz" in names and "123_456/mnist_assignment/training.py" in names
    assert not any(n.endswith((".csv", ".npz", ".pyc", ".log")) or "/.venv/" in n or "/results/" in n
                   for n in names)
    zipfile.ZipFile(target).extractall(tmp_path / "unzipped")
    copy = tmp_path / "unzipped" / "123_456"
    notebook = copy / "mnist_assignment.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    report.set_parameters(nb, {"QUICK": True})  # what a student does in the parameters cell
    before = snapshot(ROOT)
    env = {k: v for k, v in os.environ.items()
           if k not in ("CI", "MNIST_PLAIN_PROGRESS", "PYTHONPATH") and not k.startswith("PYTEST")}
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(copy)}}).execute(env=env)
    assert outputs(nb, "error") == []
    stderr = [o.text for o in outputs(nb, "stream") if o.name == "stderr"]
    assert stderr == [], stderr[:3]
    widgets = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets, "no widget progress bars"
    assert (copy / "figures" / "lr_curves.png").exists() and (copy / "submission.csv").exists()
    assert snapshot(ROOT) == before, "the run wrote into the original checkout"


def snapshot(root: Path) -> dict:
    skip = {".venv", ".git", ".pytest_cache", ".ruff_cache", "__pycache__", "build"}
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = path.stat().st_mtime_ns
    return out


def test_the_kernel_talks_over_private_socket_files_and_says_nothing_on_the_terminal(tmp_path, capfd):
    source = tmp_path / "a.ipynb"
    cells = [nbformat.v4.new_code_cell("X = 1", metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell("X + 1")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), source)
    nb = report.execute(source, tmp_path / "b.ipynb", {"X": 41})
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "42"
    err = capfd.readouterr().err
    if os.name == "posix":  # over TCP the kernel warned about plain-text ports on every report
        assert "without encryption" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ipynb", "b.ipynb"]  # no socket files left
