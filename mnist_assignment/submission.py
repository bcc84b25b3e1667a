"""The team's deliverable: ID1_ID2_ID3.zip with the executed notebook, its PDF and what reruns it.

python -m mnist_assignment.submission TEAM [--out DIR]

The zip holds one folder named after the team, so that unzipping it anywhere gives a runnable
project: notebook, report.pdf, README.md, requirements.txt, Makefile, pyproject.toml, the package,
data/README.md and the bundled sample. Never Kaggle's data, a venv, caches, results or runs.
Before zipping, the notebook must be a full run that finished, and report.pdf the one printed from
it (the hash report.py stamps in the PDF's metadata): otherwise one line says what to run.
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

from .files import atomic_path

ROOT = Path(__file__).resolve().parent.parent
TEAM_PATTERN = re.compile(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)*")
TOP_FILES = ["mnist_assignment.ipynb", "report.pdf", "README.md", "requirements.txt", "Makefile", "pyproject.toml"]


class SubmissionError(ValueError):
    pass


def check_team(team: str) -> str:
    if not team or not TEAM_PATTERN.fullmatch(team):
        raise SubmissionError(f"TEAM must be the team's ids joined by '_' (letters and digits only, e.g. "
                              f"123456789_987654321), not {team!r}")
    return team


def members(root: Path = ROOT) -> list[Path]:
    """The files the zip holds, relative to root."""
    files = [Path(name) for name in TOP_FILES]
    files += sorted(p.relative_to(root) for p in (root / "mnist_assignment").glob("*.py"))
    files += [Path("data/README.md")]
    files += sorted(p.relative_to(root) for p in (root / "data" / "sample").iterdir()
                    if p.is_file() and not p.name.startswith("."))
    missing = [str(f) for f in files if not (root / f).is_file()]
    if missing:
        raise SubmissionError(f"cannot build the submission: missing {', '.join(missing)} "
                              "(run `make report` first for the notebook and report.pdf)")
    return files


def check_pair(root: Path = ROOT) -> None:
    """The notebook is a finished full run and report.pdf was printed from it; else SubmissionError."""
    import nbformat

    from . import report

    notebook = root / "mnist_assignment.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    why = report.unfinished(nb)
    if why:
        raise SubmissionError(f"{notebook.name} {why}: run `make report` (the full run) before `make submission`")
    if report.read_parameters(nb).get("QUICK"):
        raise SubmissionError(f"{notebook.name} is a QUICK run (QUICK = True): run `make report` for the full "
                              "run before `make submission`")
    if report.pdf_digest(root / "report.pdf") != report.notebook_digest(nb):
        raise SubmissionError(f"report.pdf was not printed from this {notebook.name}: run `python -m "
                              "mnist_assignment.report --pdf-only` (seconds, no rerun) or `make report`")


def build(team: str, out: Path | None = None, root: Path = ROOT) -> Path:
    team = check_team(team)
    target = (out or root) / f"{team}.zip"
    files = members(root)
    with atomic_path(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in files:
                archive.write(root / name, f"{team}/{name.as_posix()}")
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_assignment.submission", description=__doc__.splitlines()[0])
    parser.add_argument("team", help="the team's ids joined by '_', e.g. 123456789_987654321")
    parser.add_argument("--out", help="folder for the zip (default: the project folder)")
    args = parser.parse_args(argv)
    try:
        check_team(args.team)
        members()
        check_pair()
        target = build(args.team, Path(args.out) if args.out else None)
    except (SubmissionError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    size = target.stat().st_size
    print(f"wrote {target.name} ({size / 1e6:.1f} MB): {len(members())} files in the folder {args.team}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
