"""make submission zips a matching pair: a finished full run, as its record says, and the PDF printed from it."""

import os
import re
import shutil
import subprocess
import sys
import zipfile

import nbformat
import pytest
from pypdf import PdfReader, PdfWriter

from mnist_assignment import fonts, notebook_file, pdf, records, report, submission, team

PARAMETERS = """DATA = 'data/train.csv.gz'  # Kaggle's train.csv
QUICK = False  # True: a smoke run
SEEDS = 3
EPOCHS = 20
WORKERS = None
TEAM = "id1_id2_id3"  # the team's ids joined by "_"
NAMES = ""  # the team members' names
COURSE = "Deep learning\""""
CHECKS = """from mnist_assignment import checks

RUN = checks.check_run(DATA=DATA, QUICK=QUICK, SEEDS=SEEDS, EPOCHS=EPOCHS, WORKERS=WORKERS, TEAM=TEAM,
                       NAMES=NAMES, COURSE=COURSE)"""
TITLE = """from datetime import date

from IPython.display import Markdown, display

from mnist_assignment.team import title_block

display(Markdown(title_block(TEAM, NAMES, COURSE, f"{date.today():%d %B %Y}")))"""
FULL = {"quick": False, "seeds": 3, "epochs": 20, "data": "data/train.csv.gz", "rows": 42000, "sha256": "0" * 64}
FINDING = "The baseline reaches 97.31% on the validation part."
CHECK = 'from mnist_assignment.claims import check, fact\n\ncheck(fact("baseline reaches [97.31]%", "97.31"))'
AGREES = {"kind": "fact", "phrase": "baseline reaches [97.31]%", "text": "97.31", "got": "97.31", "status": "agrees"}


def cells():
    """A notebook shaped like the project's: title, parameters, the checks cell, the title block, sections."""
    return [nbformat.v4.new_markdown_cell("# Handwritten digits"),
            nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(CHECKS),
            nbformat.v4.new_code_cell(TITLE, metadata={"tags": ["remove-input"]}),
            nbformat.v4.new_markdown_cell("## 1. Data preparation\n\nThe digits, loaded and checked."),
            nbformat.v4.new_code_cell('print(f"validation accuracy {0.9731:.2%}")'),
            nbformat.v4.new_markdown_cell("## 5. Analysis"),
            nbformat.v4.new_code_cell("STUDIES = ['lr', 'batch_size']\nprint(STUDIES)"),
            nbformat.v4.new_markdown_cell(FINDING),
            nbformat.v4.new_code_cell(CHECK, metadata={"tags": ["remove-input"]}),
            nbformat.v4.new_markdown_cell("## 8. Conclusions"),
            nbformat.v4.new_code_cell("QUICK, SEEDS")]


def executed(record=FULL):
    """That notebook as if every code cell had run: a line of output each, the checks cell's record of the run,
    the title block, the check cell's record of the text's claims (all agree)."""
    nb = nbformat.v4.new_notebook(cells=cells())
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"cell {i} ran\n")]
    checks_cell = next(c for c in nb.cells if "check_run(" in c.source)
    checks_cell.outputs.append(nbformat.v4.new_output("display_data", data={records.RUN: record, "text/plain": ""}))
    check_cell = next(c for c in nb.cells if c.source == CHECK)  # the record check() keeps of the text's claims
    checked = {records.CLAIMS: {"quick": False, "claims": [AGREES]}, "text/plain": ""}
    check_cell.outputs = [nbformat.v4.new_output("display_data", data=checked)]
    title = next(c for c in nb.cells if "title_block(" in c.source)
    title.outputs = [nbformat.v4.new_output("display_data", data={
        "text/markdown": team.title_block(team.PLACEHOLDER, "", "Deep learning", "01 January 2000"),
        "text/plain": "<IPython.core.display.Markdown object>"})]
    return nb


def blank_pdf(path):
    """A PDF of one blank page: a stand-in for Chromium's print where what is printed is not the test."""
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.write(path)


@pytest.fixture
def root(tmp_path):
    """A project folder with an executed notebook and a PDF stamped from it (a blank page: no browser)."""
    nb = executed()
    nbformat.write(nb, tmp_path / "mnist_assignment.ipynb")
    blank_pdf(tmp_path / "report.pdf")
    pdf.stamp_pdf(tmp_path / "report.pdf", notebook_file.notebook_digest(nb))
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


def record_says(**changes):
    """A change to the notebook: the checks cell's record of the run says changes."""
    def change(nb):
        output = next(o for c in nb.cells for o in c.get("outputs", []) if records.RUN in o.get("data", {}))
        output.data[records.RUN] = {**output.data[records.RUN], **changes}

    return change


def test_a_quick_run_is_judged_by_its_record_not_by_the_parameters_cell(root):
    rewrite(root, record_says(quick=True, seeds=1, epochs=2))
    assert notebook_file.read_parameters(nbformat.read(root / "mnist_assignment.ipynb", as_version=4))["QUICK"] is False
    assert refusal(root) == ("mnist_assignment.ipynb is a QUICK run (its record of the run: 1 seed, 2 epochs a "
                             "run), whatever its parameters cell says now: run `make report` for the full run "
                             "before `make submission`")
    rewrite(root, record_says(quick=False, seeds=3, epochs=20))
    rewrite(root, lambda nb: notebook_file.set_parameters(nb, {"QUICK": True}))  # edited after the full run
    assert "QUICK" not in refusal(root)  # what is refused now is only the PDF, printed before the edit


def test_a_notebook_without_the_record_of_its_run_is_refused(root):
    rewrite(root, record_says(quick="no"))
    assert refusal(root).startswith("mnist_assignment.ipynb: the record of its run is not one this project writes")
    rewrite(root, lambda nb: [c.update(outputs=[o for o in c.get("outputs", []) if not records.is_hidden(o)])
                              for c in nb.cells])
    assert refusal(root) == ("mnist_assignment.ipynb was not executed by this project's checks (its check_run cell "
                             "keeps no record of the run): run `make report` before `make submission`")


def test_a_run_that_failed_halfway_is_refused(root):
    def fail(nb):
        cell = next(c for c in nb.cells if "STUDIES = [" in c.source)
        cell.outputs = [nbformat.v4.new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[])]

    rewrite(root, fail)
    assert refusal(root) == ("mnist_assignment.ipynb stopped with an error in section '5. Analysis': run "
                             "`make report` (the full run) before `make submission`")


def test_a_run_that_did_not_reach_the_end_or_never_ran_is_refused(root):
    rewrite(root, lambda nb: [c.update(outputs=[]) for c in nb.cells[-3:] if c.cell_type == "code"])
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


def test_make_submission_refuses_in_one_line_and_writes_no_zip(project, capsys):
    """A notebook with its outputs cleared is not a run to hand in."""
    def clear(nb):
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None

    rewrite(project, clear)
    before, out = files_of(project), project.parent / "out"
    assert submission.main(["123_456", "--out", str(out)], root=project) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has not been run" in err and "make report" in err
    assert files_of(project) == before and list(out.iterdir()) == []


def test_pdf_only_prints_the_notebook_again_and_stamps_it(root):
    """The real print (headless Chromium) of an executed notebook, nothing rerun: the pair then matches."""
    if pdf.find_browser() is None:
        pytest.skip("no Chromium to print with")
    shutil.copy(root / "report.pdf", root / "old.pdf")
    rewrite(root, lambda nb: nb.cells[2].outputs[0].update(text="data: data/train.csv.gz\n"))
    assert report.main(["--pdf-only", "--out", str(root)]) == 0
    submission.check_pair(root)
    reader = PdfReader(root / "report.pdf")
    assert reader.metadata.title == pdf.TITLE and "data: data/train.csv.gz" in reader.pages[0].extract_text()


# make submission TEAM=... NAMES=...: the team in the executed notebook's title block and its PDF

NB = submission.NOTEBOOK
TEAM, NAMES = "1234_5678_9012", "A, B, C"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A project folder with the small notebook really executed (its checks cell keeps the record of a real
    full run on the bundled sample) and its PDF: printed by Chromium when there is one, else a blank page
    stamped from it."""
    folder = tmp_path_factory.mktemp("small") / "project"
    for name in submission.members(notebook_file.ROOT):
        if name.as_posix() not in (NB, "report.pdf"):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(notebook_file.ROOT / name, folder / name)
    nbformat.write(nbformat.v4.new_notebook(cells=cells()), folder / "source.ipynb")
    nb = report.execute(folder / "source.ipynb", folder / NB, {"QUICK": False},
                        about={"data": "a test", "date": "2000-01-01"})
    (folder / "source.ipynb").unlink()
    assert notebook_file.unfinished(nb) is None and records.find(nb, records.RUN)[0]["quick"] is False
    if pdf.find_browser():
        pdf.export_pdf(nb, folder / "report.pdf")
    else:
        blank_pdf(folder / "report.pdf")
        pdf.stamp_pdf(folder / "report.pdf", notebook_file.notebook_digest(nb))
    return folder


@pytest.fixture
def project(small_run, tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(small_run, folder)
    (tmp_path / "out").mkdir()
    return folder


def files_of(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def pdf_text(path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)


def test_the_placeholder_is_the_parameters_cells_default():
    committed = nbformat.read(notebook_file.NOTEBOOK, as_version=4)
    assert notebook_file.read_parameters(committed)["TEAM"] == team.PLACEHOLDER


def test_make_submission_writes_the_team_into_the_title_block_and_the_pdf_and_nothing_else(project, capsys):
    if pdf.find_browser() is None:
        pytest.skip("no Chromium to print with")
    before = nbformat.read(project / NB, as_version=4)
    assert submission.title_output(before).data["text/markdown"].startswith(f"**Team:** {team.PLACEHOLDER}")
    out = project.parent / "out"
    assert submission.main([TEAM, "--names", NAMES, "--out", str(out)], root=project) == 0
    assert "wrote team 1234_5678_9012 (A, B, C) into" in capsys.readouterr().out
    after = nbformat.read(project / NB, as_version=4)

    values = notebook_file.read_parameters(after)
    assert (values["TEAM"], values["NAMES"]) == (TEAM, NAMES)
    block = submission.title_output(after).data["text/markdown"]
    when = team.DATE_LINE.search(submission.title_output(before).data["text/markdown"]).group(1)
    assert block == f"**Team:** {TEAM} — {NAMES}  \n**Course:** {values['COURSE']}  \n**Date:** {when}"
    # nothing else: every other cell, line, output and the metadata as they were
    assert after.metadata == before.metadata and len(after.cells) == len(before.cells)
    for old, new in zip(before.cells, after.cells):
        if "parameters" in old.metadata.get("tags", []):
            kept = [(a, b) for a, b in zip(old.source.splitlines(), new.source.splitlines())
                    if not a.startswith(("TEAM =", "NAMES ="))]
            assert len(kept) == len(old.source.splitlines()) - 2 and all(a == b for a, b in kept)
            assert len(new.source.splitlines()) == len(old.source.splitlines())
            assert {k: v for k, v in new.items() if k != "source"} == {k: v for k, v in old.items() if k != "source"}
        elif "title_block(" in old.source:
            old.outputs[0].data["text/markdown"] = block
            assert new == old
        else:
            assert new == old

    text = pdf_text(project / "report.pdf")
    assert f"Team: {TEAM} — {NAMES}" in text and team.PLACEHOLDER not in text
    submission.check_pair(project)  # the stamp matches the rewritten notebook
    with zipfile.ZipFile(out / f"{TEAM}.zip") as archive:
        assert archive.read(f"{TEAM}/{NB}") == (project / NB).read_bytes()
        assert archive.read(f"{TEAM}/report.pdf") == (project / "report.pdf").read_bytes()

    printed = (project / "report.pdf").read_bytes()  # the same team again: nothing to rewrite or print
    assert submission.main([TEAM, "--out", str(out)], root=project) == 0
    assert (project / "report.pdf").read_bytes() == printed and "wrote team" not in capsys.readouterr().out


def test_the_placeholder_or_no_team_is_refused_saying_what_to_pass(project, capsys):
    before = files_of(project)
    out = project.parent / "out"
    for argv in [[], [team.PLACEHOLDER], ["--names", NAMES]]:
        assert submission.main(argv + ["--out", str(out)], root=project) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"TEAM is still the placeholder {team.PLACEHOLDER}" in err, err
        assert 'make submission TEAM=123456789_987654321 NAMES="' in err
    assert files_of(project) == before and list(out.iterdir()) == []


def test_a_quick_or_unfinished_run_is_refused_before_the_title_is_written(project, capsys):
    """A QUICK run whose parameters cell was set back to QUICK = False afterwards is still a QUICK run."""
    rewrite(project, record_says(quick=True, seeds=1, epochs=2))
    assert notebook_file.read_parameters(nbformat.read(project / NB, as_version=4))["QUICK"] is False
    before = files_of(project)
    out = project.parent / "out"
    assert submission.main([TEAM, "--out", str(out)], root=project) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {NB} is a QUICK run (its record of the run: 1 seed")
    assert files_of(project) == before
    rewrite(project, record_says(quick=False))
    rewrite(project, lambda nb: nb.cells[-1].update(outputs=[]))
    before = files_of(project)
    assert submission.main([TEAM, "--out", str(out)], root=project) == 2
    assert "did not run to the end" in capsys.readouterr().err
    assert files_of(project) == before and list(out.iterdir()) == []


def test_a_pdf_that_does_not_match_is_refused_after_the_title(project, capsys):
    """The team is already in the title: nothing is printed again, so a stale PDF is still refused."""
    rewrite(project, lambda nb: submission.retitle(nb, TEAM, NAMES))
    out = project.parent / "out"
    assert submission.main([TEAM, "--out", str(out)], root=project) == 2
    assert capsys.readouterr().err.startswith("error: report.pdf was not printed from this mnist_assignment.ipynb")
    assert list(out.iterdir()) == []


def test_a_failed_print_leaves_the_notebook_and_pdf_as_they_were(project, monkeypatch, capsys):
    def no_browser(html_text, path):
        raise notebook_file.NotebookError("no Chrome/Chromium found to print the PDF: install Chromium")

    monkeypatch.setattr(pdf, "html_to_pdf", no_browser)
    before = files_of(project)
    out = project.parent / "out"
    assert submission.main([TEAM, "--names", NAMES, "--out", str(out)], root=project) == 2
    assert capsys.readouterr().err == "error: no Chrome/Chromium found to print the PDF: install Chromium\n"
    assert files_of(project) == before and list(out.iterdir()) == []


def test_names_the_pdf_cannot_print_are_refused_before_anything_is_written(project, monkeypatch, capsys):
    monkeypatch.setattr(fonts, "fontconfig_decides", lambda: True)
    monkeypatch.setattr(fonts, "uncovered", lambda text: [c for c in dict.fromkeys(text) if c in "李华"])
    monkeypatch.setattr(fonts, "can_apt", lambda: False)
    before, out = files_of(project), project.parent / "out"
    assert submission.main([TEAM, "--names", "李华, Ada", "--out", str(out)], root=project) == 2
    assert capsys.readouterr().err == (
        "error: NAMES = '李华, Ada': no installed font has 李, 华, so the PDF would print empty boxes: install one "
        "that does (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk), then run again\n")
    assert files_of(project) == before and list(out.iterdir()) == []


def test_as_root_on_debian_the_font_is_installed_announced(project, monkeypatch, capsys):
    installed, commands = [], []

    def apt_get(command, **kwargs):
        commands.append(command)
        installed.extend(command[4:] if command[1] == "install" else [])

    monkeypatch.setattr(fonts, "fontconfig_decides", lambda: True)
    monkeypatch.setattr(fonts, "uncovered", lambda text: [] if installed else [c for c in "李华" if c in text])
    monkeypatch.setattr(fonts, "can_apt", lambda: True)
    monkeypatch.setattr(fonts.subprocess, "run", apt_get)
    monkeypatch.setattr(pdf, "html_to_pdf", lambda html_text, path: blank_pdf(path))
    assert submission.main([TEAM, "--names", "李华", "--out", str(project.parent / "out")], root=project) == 0
    said = capsys.readouterr().out
    assert said.startswith("installing Debian's fonts-noto-cjk so that the PDF prints 李, 华 (apt-get)...\n")
    assert commands == [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "fonts-noto-cjk"]]
    block = submission.title_output(nbformat.read(project / NB, as_version=4)).data["text/markdown"]
    assert block.startswith(f"**Team:** {TEAM} — 李华")


def record_of_claims(*claimed):
    """A change to the notebook: its check cell's record holds these claims."""
    def change(nb):
        output = next(o for c in nb.cells for o in c.get("outputs", []) if records.CLAIMS in o.get("data", {}))
        output.data[records.CLAIMS] = {**output.data[records.CLAIMS], "claims": list(claimed)}

    return change


def restamp(folder):
    """report.pdf stamped from the notebook as it is now (what is refused is then only the text)."""
    pdf.stamp_pdf(folder / "report.pdf", notebook_file.notebook_digest(nbformat.read(folder / NB, as_version=4)))


def test_a_run_the_text_does_not_describe_is_refused_naming_each_difference(project, capsys):
    seeds = {"kind": "setup", "phrase": "the text describes [3] seeds", "text": "3", "got": "2", "status": "differs"}
    rewrite(project, record_of_claims(AGREES, seeds))
    restamp(project)
    before, out = files_of(project), project.parent / "out"
    assert submission.main([TEAM, "--out", str(out)], root=project) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: {NB} is not the run its text describes:"
    assert len(err) >= 3 and all(line.startswith("  ") for line in err[1:-1]), err
    assert any("seeds" in line for line in err[1:-1]) and "ANYWAY=1" in err[-1]
    assert files_of(project) == before and list(out.iterdir()) == []


def test_a_text_edited_away_from_its_run_is_refused_with_the_verifiers_line(project, capsys):
    rewrite(project, lambda nb: next(c for c in nb.cells if c.source == FINDING).update(
        source=FINDING.replace("97.31", "98.31")))
    restamp(project)
    out = project.parent / "out"
    assert submission.main([TEAM, "--out", str(out)], root=project) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {NB} is not the run its text describes:\n  ")
    assert "baseline reaches 97.31%" in err and list(out.iterdir()) == []


def test_anyway_zips_a_run_the_text_does_not_describe_saying_what_differs(project, capsys, monkeypatch):
    monkeypatch.setattr(pdf, "html_to_pdf", lambda html_text, path: blank_pdf(path))  # the title is rewritten
    seeds = {"kind": "setup", "phrase": "the text describes [3] seeds", "text": "3", "got": "2", "status": "differs"}
    rewrite(project, record_of_claims(AGREES, seeds))
    restamp(project)
    out = project.parent / "out"
    assert submission.main([TEAM, "--anyway", "--out", str(out)], root=project) == 0
    said = capsys.readouterr().out
    assert f"{NB} is not the run its text describes (submitted anyway" in said and "seeds" in said
    assert (out / f"{TEAM}.zip").exists()
    dry = subprocess.run(["make", "-n", "submission", "TEAM=1_2", "ANYWAY=1"], cwd=notebook_file.ROOT,
                         capture_output=True, text=True)
    assert "--anyway" in dry.stdout, dry.stderr
    assert "--anyway" not in subprocess.run(["make", "-n", "submission", "TEAM=1_2"], cwd=notebook_file.ROOT,
                                            capture_output=True, text=True).stdout


def test_every_member_of_the_zip_is_readable_by_all(project, tmp_path):
    (project / "Makefile").chmod(0o600)  # a private file here is still readable by the grader's other accounts
    (project / NB).chmod(0o600)
    with zipfile.ZipFile(submission.build(TEAM, tmp_path, project)) as archive:
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    folders = {name for name in modes if name.endswith("/")}
    assert f"{TEAM}/" in folders and f"{TEAM}/mnist_assignment/" in folders and f"{TEAM}/data/sample/" in folders
    assert all(modes[name] == 0o40755 for name in folders), modes
    assert all(mode == 0o100644 for name, mode in modes.items() if name not in folders), modes


# the zip's README promises only what works in the unzipped folder

MADE_BY_MAKE = {".venv": "VENV := .venv", "build": "report --quick"}  # path -> where the zipped Makefile makes it
KAGGLE = {"data/train.csv", "data/test.csv"}  # the README says to put them there: never in the zip


def test_the_zips_readme_names_only_targets_and_files_that_are_there(tmp_path):
    if shutil.which("make") is None:
        pytest.skip("no make")
    team = "123_456"
    with zipfile.ZipFile(submission.build(team, tmp_path)) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / team
    readme = (folder / "README.md").read_text()
    makefile = (folder / "Makefile").read_text()
    assert readme != (notebook_file.ROOT / "README.md").read_text()  # the graders' version, not the project's
    # the Makefile without the repository's checks: no target there runs what the folder does not hold
    assert makefile == submission.zip_makefile((notebook_file.ROOT / "Makefile").read_text())
    pyproject = (folder / "pyproject.toml").read_text()
    assert pyproject == submission.zip_pyproject((notebook_file.ROOT / "pyproject.toml").read_text())
    assert "line-length = 120" in pyproject  # the lint settings stay with the code they describe
    for word in ("tests", "bench", "scripts", "pytest", "ruff", "make test"):
        assert word not in makefile and word not in readme, word
    assert not re.search(r"\b(tests|bench|scripts)\b", pyproject), pyproject
    assert "make test" in (notebook_file.ROOT / "Makefile").read_text()  # the repository's keeps them
    default = subprocess.run(["make", "-n"], cwd=folder, capture_output=True, text=True)
    assert default.returncode == 0 and "pip install" in default.stdout  # plain `make` creates the venv
    # what its recipe runs to tell uv where pip's packages come from is there too
    sources = subprocess.run([sys.executable, "-m", "mnist_assignment.install"], cwd=folder, capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": str(folder)})
    assert "mnist_assignment.install" in default.stdout and sources.stdout.startswith("--index-strategy"), sources
    missing = subprocess.run(["make", "-n", "test"], cwd=folder, capture_output=True, text=True)
    assert missing.returncode != 0 and "No rule to make target 'test'" in missing.stderr
    # one figure for the full run's time, the same as the project's README
    assert submission.FULL_RUN in readme and submission.FULL_RUN in (notebook_file.ROOT / "README.md").read_text()

    targets = set(re.findall(r"\bmake ([a-z][\w-]*)", readme))
    assert {"lab", "quick"} <= targets
    for target in sorted(targets):
        done = subprocess.run(["make", "-n", target], cwd=folder, capture_output=True, text=True,
                              env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})
        assert done.returncode == 0, (target, done.stderr)
        assert "pytest" not in done.stdout and "ruff" not in done.stdout and "bench/" not in done.stdout, target
    if not any(n.startswith(f"{team}/tests/") for n in names):
        assert not targets & {"test", "lint", "bench", "all"} and "pytest" not in readme

    code = re.findall(r"^```\w*\n(.*?)^```", readme, re.M | re.S)
    named = {s for s in re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", readme, flags=re.M | re.S))
             if not re.search(r"\s", s)}
    named |= {w for block in code for line in block.splitlines() if not line.startswith("#")
              for w in line.split() if re.fullmatch(r"\.?[\w-]+(\.\w+|/[\w./\\-]*)", w)}
    assert {"mnist_assignment.ipynb", "report.pdf", "requirements.txt", "Makefile", "data/README.md"} <= named
    for path in sorted(named):
        top = path.replace("\\", "/").rstrip("/").split("/")[0]
        if top in MADE_BY_MAKE:
            assert MADE_BY_MAKE[top] in makefile, path
        elif path in KAGGLE:
            assert not (folder / path).exists()
        else:
            assert (folder / path).exists(), f"the README names {path}, which the zip does not hold"


def test_a_makefile_without_the_cut_line_is_not_zipped_whole():
    cut = re.escape(f"no line starting `{submission.MAKEFILE_CUT}`")
    with pytest.raises(submission.SubmissionError, match=cut):
        submission.zip_makefile("test:\n\tpytest tests\n")
