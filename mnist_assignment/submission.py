"""The team's deliverable: ID1_ID2_ID3.zip with the executed notebook, its PDF and what reruns it.

python -m mnist_assignment.submission [TEAM] [--names "A, B, C"] [--out DIR] [--anyway]

TEAM and the names go into the executed notebook's parameters and the title block it displays,
nothing else; report.pdf is then printed again from it (seconds, nothing rerun). The zip holds one
folder named after the team that reruns anywhere: notebook, report.pdf, a README.md for graders,
requirements.txt, the Makefile and pyproject.toml less what needs the repository's tests, the package,
data/README.md and the bundled sample; never Kaggle's data, a venv, caches or the tests. Refused, in a
line each: a notebook that is not a finished full run as the record its check_run cell keeps says
(records.RUN; the parameters cell may have been edited since), a report.pdf not printed from it (the
digest pdf.py stamps), and a run its text does not describe (verify.submission_problems: seeds, epochs,
a study's values, the sample instead of Kaggle's file, a "Differs from the text:" line; verify.verify:
a sentence out of step with the run). --anyway zips the last kind all the same, for a team that
changed the experiment on purpose and rewrites the text to match.
"""

from __future__ import annotations

import re
import sys
import time
import zipfile
from datetime import date
from pathlib import Path

import nbformat

from . import notebook_file, records, verify
from .files import atomic_path, write_atomic
from .notebook_file import ROOT, notebook_digest, read_parameters, set_parameters, unfinished
from .pdf import ensure_title_fonts, export_pdf, pdf_digest
from .signals import Parser, run_command
from .team import DATE_LINE, PLACEHOLDER, TEAM_EXAMPLE, TEAM_LINE, check_team, title_block

NOTEBOOK = notebook_file.NOTEBOOK.name
TOP_FILES = [NOTEBOOK, "report.pdf", "requirements.txt", "pyproject.toml"]
HOW = f'make submission TEAM={TEAM_EXAMPLE} NAMES="Ada Lovelace, Alan Turing"'


class SubmissionError(ValueError):
    pass


def title_output(nb):
    """The one output of the executed notebook that shows title_block(...)."""
    found = [o for c in nb.cells if c.cell_type == "code" and "title_block(" in c.source
             for o in c.get("outputs", []) if o.output_type == "display_data"
             and str(o.get("data", {}).get("text/markdown", "")).startswith(TEAM_LINE)]
    if len(found) != 1:
        raise SubmissionError(f"{NOTEBOOK} shows {'no' if not found else len(found)} title block"
                              f"{'s' if found else ''} (the output of title_block(...)): run `make report` again")
    return found[0]


def retitle(nb, team: str, names: str) -> bool:
    """Write team and names into the parameters cell and the title block; False when both say so already.

    The date stays the run's; the course comes from the parameters. Nothing else changes."""
    output = title_output(nb)
    values = read_parameters(nb)
    when = DATE_LINE.search(output.data["text/markdown"])
    block = title_block(team, names, str(values.get("COURSE", "")),
                        when.group(1) if when else f"{date.today():%d %B %Y}")
    changed = {k: v for k, v in (("TEAM", team), ("NAMES", names)) if values.get(k) != v}
    if not changed and output.data["text/markdown"] == block:
        return False
    if changed:
        set_parameters(nb, changed)
    output.data["text/markdown"] = block
    return True


def resolve_team(team: str | None, values: dict) -> str:
    team = values.get("TEAM") if team is None else team
    if team == PLACEHOLDER or not team:
        raise SubmissionError(f"TEAM is {'still the placeholder ' + PLACEHOLDER if team else 'not set'}: "
                              f"pass the team's ids joined by '_' and your names, e.g. {HOW}")
    return check_team(team)


README = """# {team}: handwritten digit recognition on MNIST with PyTorch

The team's submission. `report.pdf` is printed from the executed notebook `mnist_assignment.ipynb`
beside it; the rest reruns it: the package `mnist_assignment/` the notebook calls, `requirements.txt`,
the `Makefile`, `pyproject.toml`, and a sample of 8,000 real MNIST digits in `data/sample/` (its
source and licence: `data/README.md`). Kaggle's own files are not included (they may not be
redistributed): put Kaggle's `data/train.csv` and `data/test.csv` here to rerun on the full data.

## Install, open, Run All

You need Python 3.11 or newer and access to PyPI once.

```bash
# Linux / macOS, with make: creates .venv from requirements.txt, then opens Jupyter Lab
make lab

# any system, without make (Windows: .venv\\Scripts\\activate instead of source)
python -m venv .venv
source .venv/bin/activate
pip install -r requirements.txt
jupyter lab mnist_assignment.ipynb
```

In Jupyter: **Run → Run All Cells**. The first code cell holds the parameters: `QUICK = True` gives a
smoke run of a minute or two (its figures go to `build/quick/figures/`); `QUICK = False`, as handed in,
the full report ({full_run}). Without Kaggle's file in `data/`, everything runs on the bundled
sample and says so.

## Commands (Linux / macOS)

| command | what it does |
|---|---|
| `make lab` | create `.venv` from `requirements.txt`, open the notebook in Jupyter Lab |
| `make quick` | a smoke run on the bundled sample, on a copy: its notebook, PDF, figures in `build/quick/` |
| `make report` | the full run: executes the notebook here, in place, and prints `report.pdf` again |

The PDF is printed by headless Chrome or Chromium (no LaTeX): install one of them first.
"""
FULL_RUN = "15 to 30 minutes on 2 CPU cores, depending on the CPU"  # the project's README says the same


def readme(team: str) -> str:
    """The README.md inside the zip: what works in the unzipped folder, and nothing else."""
    return README.format(team=team, full_run=FULL_RUN)


# the Makefile's targets below this line run the repository's tests/, bench/ and scripts/, which the zip
# does not hold: the zip's Makefile ends above it, so that every target it has works there
MAKEFILE_CUT = "# ---- the repository's own checks"


def zip_makefile(text: str) -> str:
    """The Makefile as the zip holds it: down to MAKEFILE_CUT."""
    head, cut, _ = text.partition(MAKEFILE_CUT)
    if not cut:
        raise SubmissionError(f"Makefile: no line starting `{MAKEFILE_CUT}`, which marks where the targets that "
                              "need the repository's tests begin: cannot build the zip's Makefile")
    return head.rstrip("\n") + "\n"


REPO_ONLY = re.compile(r"""["'](tests|bench|scripts)(/[^"']*)?["']""")  # a path the zip does not hold


def zip_pyproject(text: str) -> str:
    """pyproject.toml as the zip holds it: without the tables that name the repository's tests/, bench/ or
    scripts/ (pytest's test paths), which the zip does not hold."""
    tables = re.split(r"(?m)^(?=\[)", text)
    return "\n\n".join(t.rstrip("\n") for t in tables if t.strip() and not REPO_ONLY.search(t)) + "\n"


def members(root: Path = ROOT) -> list[Path]:
    """The files the zip holds from root, relative to it (README.md is written for the zip)."""
    files = [Path(name) for name in TOP_FILES] + [Path("Makefile")]
    files += sorted(p.relative_to(root) for p in (root / "mnist_assignment").glob("*.py"))
    files += [Path("data/README.md")]
    sample = root / "data" / "sample"
    files += sorted(p.relative_to(root) for p in (sample.iterdir() if sample.is_dir() else [])
                    if p.is_file() and not p.name.startswith("."))
    missing = [str(f) for f in files if not (root / f).is_file()]
    if missing:
        raise SubmissionError(f"cannot build the submission: missing {', '.join(missing)} "
                              "(run `make report` first for the notebook and report.pdf)")
    return files


def require_full_run(nb) -> None:
    """The notebook is a finished full run, as the record of its run says; else SubmissionError.

    The parameters cell is not asked: it says what the next run will do, and may have been edited
    since; the record is what the kernel did (checks.check_run writes it)."""
    why = unfinished(nb)
    if why:
        raise SubmissionError(f"{NOTEBOOK} {why}: run `make report` (the full run) before `make submission`")
    found = records.find(nb, records.RUN)
    if not found:
        raise SubmissionError(f"{NOTEBOOK} was not executed by this project's checks (its check_run cell keeps "
                              "no record of the run): run `make report` before `make submission`")
    run = found[-1]  # a cell run twice in one kernel keeps its last outputs only; the last is the run's
    if not isinstance(run, dict) or not isinstance(run.get("quick"), bool):
        raise SubmissionError(f"{NOTEBOOK}: the record of its run is not one this project writes: run `make report` "
                              "before `make submission`")
    if run["quick"]:
        raise SubmissionError(f"{NOTEBOOK} is a QUICK run (its record of the run: {run.get('seeds', '?')} seed, "
                              f"{run.get('epochs', '?')} epochs a run), whatever its parameters cell says now: "
                              "run `make report` for the full run before `make submission`")


def refuse_other_run(nb, anyway: bool) -> None:
    """SubmissionError naming each difference between the run and its text, unless anyway; then they
    are printed and the zip is made."""
    found = list(dict.fromkeys(verify.submission_problems(nb) + verify.verify(nb, NOTEBOOK)))  # each said once
    if not found:
        return
    lines = "\n".join(f"  {line}" for line in found)
    if not anyway:
        raise SubmissionError(f"{NOTEBOOK} is not the run its text describes:\n{lines}\nRun `make report` with the "
                              "committed parameters, or, if you changed the experiment on purpose, submit it with "
                              "`make submission ... ANYWAY=1` and rewrite the text to match")
    print(f"{NOTEBOOK} is not the run its text describes (submitted anyway: rewrite the text to match; "
          f"`python -m mnist_assignment.verify {NOTEBOOK}` lists what no longer holds):\n{lines}", flush=True)


def check_pair(root: Path = ROOT) -> None:
    """The notebook is a finished full run and report.pdf was printed from it; else SubmissionError."""
    nb = nbformat.read(root / NOTEBOOK, as_version=4)
    require_full_run(nb)
    if pdf_digest(root / "report.pdf") != notebook_digest(nb):
        raise SubmissionError(f"report.pdf was not printed from this {NOTEBOOK}: run `python -m "
                              "mnist_assignment.report --pdf-only` (seconds, no rerun) or `make report`")


def save_pair(nb, root: Path) -> None:
    """Print nb to report.pdf and write nb, each atomically; the PDF replaces the old one last."""
    with atomic_path(root / "report.pdf") as pdf:
        export_pdf(nb, pdf)
        write_atomic(root / NOTEBOOK, nbformat.writes(nb))


def build(team: str, out: Path | None = None, root: Path = ROOT) -> Path:
    team = check_team(team)
    target = (out or root) / f"{team}.zip"
    files = members(root)
    cut = {Path("Makefile"): zip_makefile, Path("pyproject.toml"): zip_pyproject}  # the repository's parts left out
    texts = {name: edit((root / name).read_text(encoding="utf-8")) for name, edit in cut.items()}
    folders = sorted({parent for name in files for parent in name.parents if parent != Path(".")})
    with atomic_path(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            # modes written out: a file of mode 0600 here, or writestr's default 0600, would unzip readable by its
            # unzipper alone, not by the grader's other accounts or a shared folder
            for folder in [f"{team}/", *(f"{team}/{f.as_posix()}/" for f in folders)]:
                archive.writestr(entry(folder, 0o40755), b"")
            archive.writestr(entry(f"{team}/README.md", 0o100644), readme(team))
            for name in files:
                content = texts[name] if name in texts else (root / name).read_bytes()
                archive.writestr(entry(f"{team}/{name.as_posix()}", 0o100644), content)
    return target


def entry(name: str, mode: int) -> zipfile.ZipInfo:
    """A zip member named name with Unix mode (type bits included), dated now."""
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = mode << 16 | (0x10 if name.endswith("/") else 0)  # 0x10: MS-DOS's directory flag
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def main(argv=None, root: Path = ROOT) -> int:
    parser = Parser(prog="python -m mnist_assignment.submission", description=__doc__.splitlines()[0])
    parser.add_argument("team", nargs="?", help=f"the team's ids joined by '_', e.g. {TEAM_EXAMPLE} "
                                                "(default: the notebook's TEAM)")
    parser.add_argument("--names", help="the team members' names for the title block (default: the notebook's NAMES)")
    parser.add_argument("--out", help="folder for the zip (default: the project folder)")
    parser.add_argument("--anyway", action="store_true", help="zip a run that differs from the one the text "
                                                              "describes (the text is then yours to rewrite)")
    # SubmissionError, NotebookError and UsageError are ValueErrors
    return run_command(lambda: run(parser.parse_args(argv), root), (ValueError, OSError))


def run(args, root: Path) -> int:
    if args.team is not None:
        check_team(args.team)
    members(root)
    nb = nbformat.read(root / NOTEBOOK, as_version=4)
    require_full_run(nb)  # before anything is written
    refuse_other_run(nb, args.anyway)
    values = read_parameters(nb)
    team = resolve_team(args.team, values)
    names = " ".join(args.names.split()) if args.names is not None else str(values.get("NAMES", ""))
    ensure_title_fonts({**values, "NAMES": names})  # before printing: a font for them, or one line
    if retitle(nb, team, names):
        save_pair(nb, root)
        print(f"wrote team {team}{' (' + names + ')' if names else ''} into {NOTEBOOK} and printed "
              "report.pdf again", flush=True)
    check_pair(root)  # the pair as it is now
    target = build(team, Path(args.out) if args.out else None, root)
    with zipfile.ZipFile(target) as archive:
        count = sum(not name.endswith("/") for name in archive.namelist())
    print(f"wrote {target.name} ({target.stat().st_size / 1e6:.1f} MB): {count} files in the folder {team}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
