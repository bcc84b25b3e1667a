"""The notebook's first check: every parameter and every file of the run, in seconds, before training.

    RUN = checks.check_run(DATA=DATA, QUICK=QUICK, SEEDS=SEEDS, ...)

A mistake stops the run with a few lines naming the parameter or file and what to do (CheckError:
IPython shows its message, not a traceback). Otherwise it prints which files the run uses and why,
and returns where they are. Nothing is replaced silently: the train file falls back to data/ or the
bundled sample only when DATA is left at its default. The files are only peeked at here (header,
rows, hash: data.peek); the notebook reads them once, with pandas, and data.check_values judges
every value of what it read.

A QUICK run says so in its first line and keeps its figures and submission.csv under build/quick/
(git-ignored), so it never overwrites the full run's. The cell's outputs also keep a record of the
run the kernel actually does (records.RUN: QUICK, seeds and epochs after QUICK, the data file, its
rows and sha256), invisible in Jupyter and the PDF, from which `make submission` judges the run.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import data, records
from .files import BusyError, hold
from .team import TeamError, check_team

DEFAULT_DATA = "data/train.csv.gz"  # the parameters cell's value; it means "find it" when not there
MAX_SEEDS, MAX_EPOCHS = 20, 500  # beyond these a run takes days: surely a typo
QUICK_SEEDS, QUICK_EPOCHS = 1, 2  # what QUICK = True runs, whatever SEEDS and EPOCHS say
FIGURES = Path("figures")  # the full run's figures, committed with the notebook
SUBMISSION = Path("submission.csv")  # section 7.8's Kaggle file
QUICK_FIGURES = Path("build/quick/figures")  # a smoke run's: git-ignored, away from the full run's files
QUICK_SUBMISSION = Path("build/quick/submission.csv")


class CheckError(Exception):
    """A parameter or file the run cannot use; one line per problem, nothing was trained or written."""

    def _render_traceback_(self):  # IPython shows these lines instead of a traceback
        return ["The run stopped before training: " + ("a problem" if len(self.problems) == 1 else "problems")
                + " in the parameters cell or the files it names:"] + [f"  • {p}" for p in self.problems] + [
                "Fix it, then Run All again."]

    @property
    def problems(self) -> list[str]:
        return str(self).splitlines()


@dataclass
class Run:
    """What the checks found: the files the run reads and where it writes."""

    train: Path
    source: data.Source  # the train file's rows and sha256, for the record and the provenance line
    test: Path | None  # None: section 7.8 skips the submission, saying why (test_problem)
    test_problem: str | None
    figures: Path  # every figure is saved here: QUICK_FIGURES for a QUICK run
    submission: Path  # section 7.8's Kaggle file: QUICK_SUBMISSION for a QUICK run
    quick: bool
    seeds: int  # the seeds and epochs the run uses: QUICK_SEEDS and QUICK_EPOCHS for a QUICK run
    epochs: int

    def record(self) -> dict:
        """What the run does, as the executed notebook keeps it (records.RUN)."""
        return {"quick": self.quick, "seeds": self.seeds, "epochs": self.epochs, "data": shown(self.train),
                "rows": self.source.rows, "sha256": self.source.sha256}


def whole(value, low: int, high: int | None = None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)


def parameter_problems(p: dict) -> list[str]:
    """One sentence per parameter that is out of range or of the wrong type."""
    found = []

    def bad(name, text):
        found.append(f"{name} = {p[name]!r}: {text}")

    if not isinstance(p["DATA"], (str, os.PathLike)) or not str(p["DATA"]).strip():
        bad("DATA", "must be the path of the training CSV, e.g. 'data/train.csv'")
    if not isinstance(p["QUICK"], bool):
        bad("QUICK", "must be True or False")
    if not whole(p["SEEDS"], 1, MAX_SEEDS):
        bad("SEEDS", f"must be a whole number from 1 to {MAX_SEEDS} (seeds per configuration; 3 for the report)")
    if not whole(p["EPOCHS"], 1, MAX_EPOCHS):
        bad("EPOCHS", f"must be a whole number from 1 to {MAX_EPOCHS} (the assignment's budget is 20)")
    if p["WORKERS"] is not None and not whole(p["WORKERS"], 1):
        bad("WORKERS", "must be None (one per core) or a whole number of at least 1")
    try:
        check_team(p["TEAM"])
    except TeamError as err:
        found.append(str(err))
    for name in ("NAMES", "COURSE"):
        if not isinstance(p[name], str):
            bad(name, "must be text in quotes")
    return found


def shown(path: Path) -> str:
    """Relative to the notebook's folder when inside it: outputs name no folder of the machine."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        relative = ".."
    if not relative.startswith(".."):
        return relative
    # the package's sample seen from a notebook elsewhere: its name only; a path the user gave: as given
    return f"the package's data/sample/{path.name}" if data.origin_of(path) == "sample" else str(path)


def train_file(value) -> tuple[Path, str]:
    """The file DATA names (~ expanded) and why it is used; CheckError when it is not there."""
    given = str(value)
    path = Path(os.path.expanduser(given))
    if Path(given) == Path(DEFAULT_DATA) and not path.exists():
        found = data.find_train_file("data")
        found = Path(shown(found)) if not shown(found).startswith("the package's") else found
        if data.origin_of(found) == "sample":
            return found, (f"DATA is left at its default '{DEFAULT_DATA}', which is not there, nor data/train.csv: "
                           "the bundled sample is used (put Kaggle's train.csv in data/ for the real report)")
        return found, f"DATA is left at its default '{DEFAULT_DATA}', which is not there: {shown(found)} is used"
    if not path.exists():
        raise CheckError(f"DATA = {given!r}: no such file{nearby(path)}")
    if path.is_dir():
        names = [n for n in ("train.csv", "train.csv.gz") if (path / n).is_file()]
        hint = f"; did you mean {shown(path / names[0])!r}?" if names else ""
        raise CheckError(f"DATA = {given!r}: is a folder; DATA names the training CSV itself{hint}")
    return path, "as DATA says"


def nearby(path: Path) -> str:
    """Where the missing file was looked for, and the closest names there."""
    folder = path.parent
    where = " (relative to this notebook's folder)" if not path.is_absolute() else ""
    if not folder.is_dir():
        return f"{where}: there is no folder {shown(folder)}"
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and ".csv" in p.name and not p.name.startswith("."))
    close = difflib.get_close_matches(path.name, names, n=3, cutoff=0.4)
    if close:
        return f"{where}; in {shown(folder) if str(folder) != '.' else 'this folder'}: {', '.join(close)}"
    return where


def test_file(train: Path) -> tuple[Path | None, str | None]:
    """Kaggle's test.csv beside the train file, peeked at now: a bad one skips the submission, not the report."""
    test = next((p for p in (train.with_name("test.csv"), train.with_name("test.csv.gz")) if p.is_file()), None)
    if test is None:
        return None, f"no test.csv next to {shown(train)}"
    try:
        data.peek(test, kind="test")
    except data.DataError as err:
        return None, str(err)
    return test, None


def folder_problems(figures: Path, submission: Path = SUBMISSION) -> list[str]:
    """The notebook writes its figures folder and submission.csv beside itself: all must be writable."""
    found = []
    # each folder on the way to the figures, from this notebook's own: a file in the way or one that
    # cannot be written is found now, not when the first figure is saved after minutes of training
    for path in [Path("."), *reversed(figures.parents[:-1]), figures]:
        label = "this notebook's folder" if path == Path(".") else f"{path.as_posix()}/"
        if path.exists() and not path.is_dir():
            found.append(f"{label}: a file is in the way of the folder the run writes; move it away")
            break
        if path.is_dir():
            try:
                tempfile.TemporaryFile(dir=path).close()
            except OSError as err:
                found.append(f"{label}: cannot be written ({err.strerror}); the run writes its figures and "
                             "submission.csv here: copy the project to a folder of yours")
                break
    if submission.is_dir():
        found.append(f"{submission.as_posix()}: a folder is in the way of the file section 7.8 writes; move it away")
    return found


def check_run(**parameters) -> Run:
    """Check every parameter and file, then take the folder; print what is used and keep a record of it in
    the cell's outputs (records.RUN; in a notebook kernel only)."""
    problems = parameter_problems(parameters)
    train = reason = None
    if not any(p.startswith("DATA =") for p in problems):
        try:
            train, reason = train_file(parameters["DATA"])
        except CheckError as err:
            problems += err.problems
    quick = parameters["QUICK"] is True
    figures, submission = (QUICK_FIGURES, QUICK_SUBMISSION) if quick else (FIGURES, SUBMISSION)
    problems += folder_problems(figures, submission)
    if problems:
        raise CheckError("\n".join(problems))
    try:
        source = data.peek(train)
    except data.DataError as err:
        raise CheckError(f"DATA: {err}") from None
    test, test_problem = test_file(train)
    try:
        hold(".", f"this folder (it would write the same {figures.as_posix()}/ and submission.csv)")
    except BusyError as err:
        raise CheckError(str(err)) from None
    seeds, epochs = (QUICK_SEEDS, QUICK_EPOCHS) if quick else (parameters["SEEDS"], parameters["EPOCHS"])
    run = Run(train, source, test, test_problem, figures, submission, quick, seeds, epochs)
    if quick:  # first, before the lines below: they and the notebook's text describe the full run
        print(f"QUICK smoke run ({QUICK_SEEDS} seed, {QUICK_EPOCHS} epochs a run): checks that everything runs; "
              "the numbers are not the report's, and the text below describes the full run (QUICK = False). "
              f"Figures go to {figures.as_posix()}/.")
    print(f"data: {shown(train)}, {source.rows:,} labelled rows ({reason})")
    if test is None:
        print(f"test: {test_problem}: section 7.8 will skip the Kaggle submission")
    else:
        print(f"test: {shown(test)} (section 7.8 writes {submission.as_posix()})")
    records.show(records.RUN, run.record())
    return run
