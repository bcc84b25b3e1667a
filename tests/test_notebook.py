"""The deliverable: the team's zip, unzipped and run in quick mode as a grader would, its notebook and PDF."""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from pypdf import PdfReader

from mnist_assignment import checks, claims, notebook_file, pdf, records, report, submission, verify

ROOT = notebook_file.ROOT
SECTIONS = ["1. Data preparation", "2. Architecture", "3. The training loop", "4. Baseline training",
            "5. Analysis", "6. Bonus", "7. Extensions", "8. Conclusions"]
FIGURES = ["samples", "baseline_curves", "baseline_iterations",
           "lr_curves", "batch_curves", "batch_curves_steps", "regularization_curves", "dropout_curves",
           "adam_curves", "cnn_curves", "confusion", "early_stopping",
           "optimizer_curves", "norm_curves"]
QUICK_OUT = Path("build") / "quick"  # a QUICK run's copy of the notebook and its PDF
QUICK_FIGURES = QUICK_OUT / "figures"  # and its figures, away from the committed figures/
ABSOLUTE = re.compile(r"(?<![\w.~])(/(home|root|tmp|work|Users|var|opt|mnt)/|[A-Z]:\\\\)")
# a format field left unfilled: "{acc:.2%}", "{name}", "{}" (not LaTeX's \frac{a}{b}, x^{2}, W_{ij})
FIELD = re.compile(r"(?<![\\\w^_}$])\{(?:[A-Za-z_]\w*(?:\.\w+|\[[^\]{}]*\])*(?:![rsa])?(?::[^{}]*)?)?\}")
CODE_BLOCK = re.compile(r"^```.*?^```", re.M | re.S)
TEAM = "123_456"


def snapshot(root: Path) -> dict:
    skip = {".venv", ".git", ".pytest_cache", ".ruff_cache", "__pycache__", "build"}
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = path.stat().st_mtime_ns
    return out


def user_env() -> dict:
    """The environment of a student's or grader's shell: no CI, no test runner, no PYTHONPATH."""
    return {k: v for k, v in os.environ.items()
            if k not in ("CI", "PYTHONPATH") and not k.startswith("PYTEST")}


@pytest.fixture(scope="session")
def grader(tmp_path_factory):
    """The one Run All of the test session, as a grader reruns the team's zip: built from this
    checkout, unzipped elsewhere, then `python -m mnist_assignment.report --quick` in the unzipped
    folder with its own package and sample. Every check of the executed notebook, its figures and
    its PDF reads this run."""
    tmp = tmp_path_factory.mktemp("grader")
    target = submission.build(TEAM, tmp)
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        archive.extractall(tmp / "unzipped")
    folder = tmp / "unzipped" / TEAM
    before = snapshot(ROOT)
    result = subprocess.run([sys.executable, "-m", "mnist_assignment.report", "--quick"], cwd=folder,
                            env=user_env(), capture_output=True, text=True, timeout=900)
    return SimpleNamespace(names=names, folder=folder, result=result, untouched=snapshot(ROOT) == before)


@pytest.fixture(scope="session")
def quick_run(grader):
    """The unzipped folder after its quick Run All (its notebook, report.pdf and figures in build/quick/)."""
    assert grader.result.returncode == 0, grader.result.stderr[-2000:]
    return grader.folder


def outputs(nb, kind):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]


def executed(folder: Path):
    """The notebook a quick run executed in folder."""
    return nbformat.read(folder / QUICK_OUT / "mnist_assignment.ipynb", as_version=4)


def test_the_zip_holds_what_reruns_the_report(grader):
    names = grader.names
    assert f"{TEAM}/mnist_assignment.ipynb" in names and f"{TEAM}/report.pdf" in names
    assert f"{TEAM}/data/sample/train.csv.gz" in names and f"{TEAM}/mnist_assignment/notebook_code.py" in names
    assert f"{TEAM}/README.md" in names  # the graders' README (tests/test_submission.py checks what it says)
    assert all(n.startswith(f"{TEAM}/") for n in names)
    assert not any(n.endswith((".csv", ".npz", ".pyc", ".log")) or "/.venv/" in n or "/results/" in n
                   for n in names)


def test_the_unzipped_folder_reruns_the_report_on_its_own(grader, quick_run):
    """Its own package and sample, no CI variables: no error, nothing written into this checkout."""
    assert f"wrote {QUICK_OUT / 'report.pdf'}" in grader.result.stdout, grader.result.stdout[-1000:]
    assert grader.untouched, "the run wrote into the original checkout"
    nb = executed(quick_run)
    stderr = [o.text for o in outputs(nb, "stream") if o.name == "stderr"]
    assert stderr == [], stderr[:3]


def test_notebook_runs_without_errors_and_writes_every_figure(grader, quick_run):
    nb = executed(quick_run)
    assert outputs(nb, "error") == []
    for name in FIGURES:
        path = quick_run / QUICK_FIGURES / f"{name}.png"
        assert path.exists() and path.stat().st_size > 5_000, name
    shipped = sorted(n.split("/")[-1] for n in grader.names if n.startswith(f"{TEAM}/figures/"))
    assert sorted(p.name for p in (quick_run / "figures").glob("*.png")) == shipped, \
        "the smoke run wrote into the full run's figures/"
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) == len(FIGURES)  # each figure shown once: the PNG it saved, not a second drawing
    text = "".join(o.get("text", "") for o in outputs(nb, "stream"))
    assert re.search(r"^epoch +2/2 ", text, re.M)  # the baseline's log
    assert re.search(r"^\[\d+/\d+\] 0\.1, seed 0 \(", text, re.M)  # the studies' progress lines
    assert (quick_run / "build/quick/submission.csv").read_text().startswith("ImageId,Label\n1,")
    assert not (quick_run / "submission.csv").exists()  # a full run's submission is never overwritten


def test_the_executed_notebook_names_no_folder_of_the_machine(quick_run):
    text = (quick_run / QUICK_OUT / "mnist_assignment.ipynb").read_text()
    assert str(quick_run) not in text and str(ROOT) not in text
    assert not ABSOLUTE.search(text), ABSOLUTE.search(text)
    nb = executed(quick_run)
    values = notebook_file.read_parameters(nb)
    assert values["QUICK"] is True and values["DATA"] == "data/sample/train.csv.gz"
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


def markdown_outputs(nb) -> list[str]:
    return [o["data"]["text/markdown"] for o in outputs(nb, "display_data") if "text/markdown" in o["data"]]


def test_the_title_block_says_what_the_run_used(quick_run):
    nb = executed(quick_run)
    values = notebook_file.read_parameters(nb)
    block = submission.title_output(nb).data["text/markdown"]  # the one output make submission rewrites
    assert block.startswith(f"**Team:** {values['TEAM']}") and f"**Course:** {values['COURSE']}" in block
    provenance = next(m for m in markdown_outputs(nb) if "**Data:**" in m)
    assert "sample" in provenance and "8,000" in provenance and "QUICK" in provenance
    assert "**Time:**" in provenance


def test_a_quick_run_says_so_once_at_the_top_and_lists_no_differences(quick_run):
    nb = executed(quick_run)
    first = "".join(o.get("text", "") for c in nb.cells[:4] if c.cell_type == "code" for o in c.outputs
                    if o.output_type == "stream")
    assert first.lstrip().startswith("QUICK"), first[:200]
    printed = "".join(o.get("text", "") for o in outputs(nb, "stream"))
    assert claims.DIFFERS not in printed and claims.THIS_RUN not in printed
    kept = [o for o in outputs(nb, "display_data") if records.CLAIMS in o.get("data", {})]
    assert len(kept) >= 10 and all(o["data"][records.CLAIMS]["quick"] for o in kept)
    assert verify.main([str(quick_run / QUICK_OUT / "mnist_assignment.ipynb")]) == 1  # the verifier: a smoke run


def test_the_committed_analysis_agrees_with_the_run_it_records(capsys):
    """`python -m mnist_assignment.verify mnist_assignment.ipynb`: every bound phrase in the text, as this run."""
    assert verify.main([str(ROOT / "mnist_assignment.ipynb")]) == 0, capsys.readouterr()
    nb = nbformat.read(ROOT / "mnist_assignment.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for o in outputs(nb, "stream"))
    assert claims.DIFFERS not in printed and claims.THIS_RUN not in printed


def test_the_text_has_no_unfilled_template_or_plural_placeholder(quick_run):
    nb = executed(quick_run)
    prose = markdown_outputs(nb) + [c.source for c in nb.cells if c.cell_type == "markdown"]
    for text in (CODE_BLOCK.sub("", m) for m in prose):  # the source code shown as markdown has f-strings
        assert not FIELD.search(text), FIELD.search(text)
        assert "(s)" not in text and not re.search(r"\b(\d+)[–-]\1\b", text), text[:200]  # no "seed(s)", no "1–1"


def test_the_template_check_catches_unfilled_fields_and_passes_latex():
    for unfilled in ["best {best:.2%}", "lr {table.iloc[0]}", "{value!r} wins", "{n:,} rows", "rows: {}"]:
        assert FIELD.search(unfilled), unfilled
    for latex in [r"$\frac{a}{b}$", r"$x^{2}$", r"$W_{ij}$", r"$\hat{y}$", r"$\{0,\dots,9\}$", "{1, 2}"]:
        assert not FIELD.search(latex), latex


def test_pdf_reads_as_a_report(quick_run):
    reader = PdfReader(quick_run / QUICK_OUT / "report.pdf")
    assert reader.metadata.title == pdf.TITLE
    code_fonts = set()  # the fonts of names only code shows

    def note_font(run, cm, tm, font, size):
        if run.strip() in ("loss_and_grads", "train_one_epoch", "split_data"):
            code_fonts.add((font or {}).get("/BaseFont"))

    pages = [(page.extract_text(visitor_text=note_font) or "", len(page.images)) for page in reader.pages]
    assert 10 <= len(pages) <= 26
    text = "\n".join(t for t, _ in pages)
    assert "bundled sample" in pages[0][0] and "Contents." in pages[0][0]
    assert re.search(r"page 1 of \d+", pages[0][0])
    # prose-formatting code is hidden; the graded code is shown, and the calls that train with it
    assert "Markdown(" not in text and "check(" not in text and "fact(" not in text
    for shown in ("pd.read_csv(", "def split_data(", "train_test_split(", "def make_loader(", "BatchSampler(",
                  "class MLP(", "def train_one_epoch(", "def evaluate(", "def train(", "def run_study(",
                  "LEARNING_RATES = [", "BATCH_SIZES = [", "DROPOUT_RATES = [", "def plot_history(", "def predict("):
        assert shown in text, shown
    assert "bench/" not in text and "make test" not in text
    assert "(s)" not in text
    # the extensions show their results, their code stays in the notebook; no package source is printed
    assert "class CNN(" not in text and "def train_early_stopping(" not in text and "fit_numpy(" not in text
    # shown code is set in the code font
    assert code_fonts and all("Mono" in str(font) for font in code_fonts), code_fonts
    starts = []
    for heading in SECTIONS:  # named first in the contents on page 1, then as the section's heading
        found = [i for i, (t, _) in enumerate(pages) for _ in range(t.count(heading))]
        assert len(found) >= 2, f"section {heading!r} not in the PDF"
        starts.append(found[1])
    assert starts == sorted(starts)
    for k, heading in enumerate(SECTIONS):
        if heading in ("2. Architecture", "3. The training loop"):  # code sections: print(model), the loop
            continue
        end = starts[k + 1] if k + 1 < len(starts) else len(pages) - 1
        assert sum(n for _, n in pages[starts[k]:end + 1]) >= 1, f"no figure in {heading!r}"


def test_parameters_are_set_where_the_student_edits_them():
    nb = nbformat.read(ROOT / "mnist_assignment.ipynb", as_version=4)
    before = notebook_file.parameters_cell(nb).source
    notebook_file.set_parameters(nb, {"QUICK": True, "DATA": "data/x.csv"})
    notebook_file.set_parameters(nb, {"QUICK": True, "SEEDS": 1})
    cell = notebook_file.parameters_cell(nb)
    assert notebook_file.read_parameters(nb)["QUICK"] is True and notebook_file.read_parameters(nb)["SEEDS"] == 1
    assert notebook_file.read_parameters(nb)["DATA"] == "data/x.csv"
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
    checks = [c for c in code if "check(" in c.source]
    assert len(checks) >= 10
    for c in checks:  # collapsed in Jupyter too: a grader opening the .ipynb reads the analysis first
        assert "remove-input" in c.metadata.get("tags", []) and c.metadata.get("jupyter", {}).get("source_hidden")
    exported = [c.source for c in code if "export" in c.metadata.get("tags", [])]
    assert any("def split_data(" in x for x in exported) and any("class MLP(" in x for x in exported)
    assert any("def train(" in x for x in exported)
    assert not any("mnist_assignment" in x for x in exported)  # the graded code is plain PyTorch
    for c in nb.cells:
        assert "execution" not in c.metadata  # timings are diff noise


def test_committed_deliverables_name_no_folder_of_the_machine():
    text = (ROOT / "mnist_assignment.ipynb").read_text()
    assert not ABSOLUTE.search(text), ABSOLUTE.search(text)
    reader = PdfReader(ROOT / "report.pdf")
    printed = "\n".join(page.extract_text() or "" for page in reader.pages)
    assert not ABSOLUTE.search(printed), ABSOLUTE.search(printed)
    assert reader.metadata.title == pdf.TITLE and len(reader.pages) <= 26
    assert "(s)" not in printed and "Contents." in printed and "Markdown(" not in printed


def test_a_team_name_that_is_not_ids_is_refused(tmp_path):
    for bad in ["", "my team", "a__b", "../x", "id1_id2_", "x.zip"]:
        with pytest.raises(ValueError, match="TEAM must be"):
            submission.build(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert submission.main(["not ids"]) == 2


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


def test_make_quick_runs_as_run_all_with_quick_does_but_on_a_copy(monkeypatch, capsys):
    """`make quick`: the kernel in the project folder, as Jupyter's, so that its figures land in build/quick/figures/
    as the README says; the executed copy and its PDF beside them, the committed notebook untouched."""
    calls = []

    def execute(source, target, parameters, **kwargs):
        calls.append((source, target, parameters, kwargs["cwd"]))
        return nbformat.v4.new_notebook()

    monkeypatch.setattr(report, "execute", execute)
    monkeypatch.setattr(report, "export_pdf", lambda nb, path: None)
    assert report.main(["--quick"]) == 0
    ((source, target, parameters, cwd),) = calls
    assert source == ROOT / "mnist_assignment.ipynb" and cwd == ROOT
    assert target == ROOT / QUICK_OUT / "mnist_assignment.ipynb"
    assert ROOT / checks.QUICK_FIGURES == target.parent / "figures"  # where the notebook saves them
    assert parameters["QUICK"] is True and parameters["DATA"] == "data/sample/train.csv.gz"
    assert f"wrote {os.path.relpath(ROOT / QUICK_OUT / 'report.pdf')}" in capsys.readouterr().out
    dry = subprocess.run(["make", "-n", "quick"], cwd=ROOT, capture_output=True, text=True).stdout
    assert "mnist_assignment.report --quick" in dry and "--out" not in dry


def a_checked_run(paragraph: str):
    """An executed notebook: a paragraph, and under it a check cell's record of the phrase it binds."""
    check = nbformat.v4.new_code_cell("check(...)")
    bound = {"kind": "fact", "phrase": "baseline reaches [97.31]%", "text": "97.31", "got": "97.31", "status": "agrees"}
    check.outputs = [nbformat.v4.new_output("display_data", data={records.CLAIMS: {"quick": False, "claims": [bound]},
                                                                    "text/plain": ""})]
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## 4. Baseline"),
                                           nbformat.v4.new_markdown_cell(paragraph), check])


@pytest.mark.parametrize("paragraph, agrees", [("The baseline reaches 97.31%.", True),
                                               ("The baseline reaches 98.31%.", False)])
def test_a_full_report_ends_with_the_verifiers_lines(monkeypatch, capsys, tmp_path, paragraph, agrees):
    nb = a_checked_run(paragraph)
    monkeypatch.setattr(report, "execute", lambda *args, **kwargs: nb)
    sample = ROOT / "data" / "sample" / "train.csv.gz"
    assert report.main(["--data", str(sample), "--out", str(tmp_path), "--no-pdf"]) == 0  # no PDF: the verifier's lines
    said = capsys.readouterr().out.splitlines()
    name = os.path.relpath(tmp_path / "mnist_assignment.ipynb")
    if agrees:
        assert said[-1] == verify.summary(nb, name)
    else:  # the verifier's line for the phrase, then what it means for the PDF and the zip
        assert any("baseline reaches 97.31%" in line for line in said[:-1]), said
        assert said[-1].startswith(name) and "make submission refuses the run" in said[-1] and "ANYWAY=1" in said[-1]
