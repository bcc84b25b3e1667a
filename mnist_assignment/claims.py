"""The written analysis, bound to the run it describes.

The analysis is prose in the notebook's markdown cells. Under each such cell a hidden check cell
states every claim of the paragraph as a phrase copied from the markdown, with the text's value
marked in square brackets, next to this run's value formatted the same way:

    check(fact("lifts the accuracy from [96.58 ± 0.08]% to", pm(r[0.01])),
          claim("the paired rule calls 0.1 [better] than 0.01", verdict(lr_table, 0.1, 0.01)))

Two levels. A `fact` is a number: a rerun may move it in its last digits, so a moved fact gets one
quiet `This run:` line saying the conclusions above hold. A `claim` is a conclusion (a verdict, a
ranking, a threshold): when the run no longer supports it, a `Differs from the text:` line says so
under the paragraph. When everything agrees the check cell shows nothing.

`check` also attaches its claims to the cell's output as a record (`MIME`), so that
`python -m mnist_assignment.claims NOTEBOOK.ipynb` can check a saved notebook without a kernel:
every phrase, brackets removed, must still be in the markdown cell above its check cell, and its
bracketed value must be the value the run recorded. An edit of the text that swaps two numbers or
turns a verdict around removes a bound phrase from the paragraph, and the verifier names it.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DIFFERS = "Differs from the text:"
THIS_RUN = "This run:"
HOLD = "the conclusions above hold"
MIME = "application/vnd.mnist-claims+json"  # where the record travels in a cell's display_data output

BRACKETED = re.compile(r"\[([^\[\]]+)\]")
HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$")  # '## 5.1 Learning rate' (closing #'s allowed)


def normalise(text: str) -> str:
    """Text as compared with the markdown: emphasis markers and backticks dropped, whitespace runs
    (line breaks included) collapsed to one space, so a rewrapped or bolded paragraph still matches."""
    return " ".join(re.sub(r"[*`]", "", text).split())


@dataclass(frozen=True)
class Claim:
    """One statement of a paragraph: `phrase` holds the text's value in brackets, `got` is this run's."""

    kind: str
    phrase: str
    got: str

    @property
    def text(self) -> str:
        """The value the text states: the bracketed part."""
        return BRACKETED.search(self.phrase).group(1)

    @property
    def plain(self) -> str:
        """The phrase as the markdown reads it."""
        return BRACKETED.sub(r"\1", self.phrase)

    @property
    def rendered(self) -> str:
        """The phrase as it would read with this run's value."""
        return BRACKETED.sub(lambda _: self.got, self.phrase)

    @property
    def holds(self) -> bool:
        return self.text == self.got


def bound(kind: str, phrase: str, got) -> Claim:
    """A claim of either kind; a phrase without exactly one `[value]` is a mistake in the check cell."""
    phrase = normalise(phrase)
    if phrase.count("[") != 1 or phrase.count("]") != 1 or not BRACKETED.search(phrase):
        raise ValueError(f"a claim's phrase needs exactly one [bracketed] value: {phrase!r}")
    return Claim(kind, phrase, normalise(str(got)))


def fact(phrase: str, got) -> Claim:
    """A number the text states; `got` is this run's value, formatted as the text writes it."""
    return bound("fact", phrase, got)


def claim(phrase: str, got) -> Claim:
    """A conclusion the text draws (verdict, ranking, threshold); `got` is what this run says."""
    return bound("claim", phrase, got)


def record(items, quick: bool = False) -> dict:
    """What a check cell leaves in the notebook for the verifier."""
    return {"quick": bool(quick),
            "claims": [{"kind": c.kind, "phrase": c.phrase, "text": c.text, "got": c.got} for c in items]}


def bundle(rec: dict) -> dict:
    """The record as display data: the empty text/plain is what Jupyter and nbconvert show, i.e. nothing."""
    return {MIME: rec, "text/plain": ""}


def lines(items) -> list[str]:
    """What a check cell prints: a `Differs` line per conclusion that fails, then one line for the
    facts that moved; nothing when the run agrees with the text."""
    failed = [c for c in items if c.kind == "claim" and not c.holds]
    moved = [c for c in items if c.kind == "fact" and not c.holds]
    out = [f"{DIFFERS} {c.plain}: the text says {c.text}, this run {c.got}." for c in failed]
    if moved:
        values = "; ".join(c.rendered for c in moved)
        out.append(f"{THIS_RUN} {values}." if failed else f"{THIS_RUN} {values} — {HOLD}.")
    return out


def in_kernel() -> bool:
    """True inside a Jupyter kernel, where a cell's display data is saved with the notebook."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return getattr(get_ipython(), "kernel", None) is not None


def publish(rec: dict) -> None:
    """Attach the record to the running cell's output; outside a kernel there is no output to keep."""
    if in_kernel():
        from IPython.display import display

        display(bundle(rec), raw=True)


def check(*items: Claim, quick: bool = False) -> None:
    """Print under the paragraph what differs from the text (nothing in a QUICK smoke run, which the
    text does not describe), and record every claim for the verifier."""
    if not quick:
        for line in lines(items):
            print(line)
    publish(record(items, quick))


# ---------------------------------------------------------------- the verifier: a saved notebook against its text


class NotANotebook(Exception):
    """The file cannot be read as a Jupyter notebook."""


def load(path: Path):
    """The notebook at path, without validation noise; NotANotebook says why it is not one."""
    import nbformat

    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError) as err:
        raise NotANotebook(getattr(err, "strerror", None) or str(err)) from None
    except ValueError:
        raise NotANotebook("not a Jupyter notebook (not JSON)") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or "nbformat" not in data:
        raise NotANotebook("not a Jupyter notebook (no cells)")
    try:
        return nbformat.reads(raw, as_version=4, capture_validation_error={})
    except Exception as err:  # nbformat's errors for malformed cells are of many types; none is ours
        raise NotANotebook(f"not a readable Jupyter notebook ({type(err).__name__})") from None


def is_record(rec) -> bool:
    return (isinstance(rec, dict) and isinstance(rec.get("claims"), list)
            and all(isinstance(c, dict) and all(isinstance(c.get(k), str) for k in ("phrase", "text", "got"))
                    for c in rec["claims"]))


def records_of(cell) -> list:
    """The claims records in a code cell's outputs (one per `check` call)."""
    if cell.cell_type != "code":
        return []
    return [o.data[MIME] for o in cell.get("outputs", []) if MIME in o.get("data", {})]


def heading_of(nb, index: int) -> str | None:
    """The nearest #, ## or ### heading at or above markdown cell `index`."""
    for cell in reversed(nb.cells[:index + 1]):
        if cell.cell_type == "markdown":
            found = [m.group(1) for m in map(HEADING.match, cell.source.splitlines()) if m]
            if found:
                return normalise(found[-1])
    return None


def where(nb, index: int) -> str:
    heading = heading_of(nb, index)
    return f"cell {index} ({heading})" if heading else f"cell {index}"


def paragraph_above(nb, index: int) -> int | None:
    """The index of the markdown cell nearest above code cell `index`: the paragraph its check binds."""
    return next((i for i in range(index - 1, -1, -1) if nb.cells[i].cell_type == "markdown"), None)


def bindings(nb) -> list[tuple[int | None, int, dict]]:
    """(paragraph index, check cell index, record) for every record in the notebook, in order."""
    return [(paragraph_above(nb, i), i, rec) for i, cell in enumerate(nb.cells) for rec in records_of(cell)]


def contains(text: str, phrase: str) -> bool:
    """Whether normalised text has the phrase, not as a part of a longer word or number ('at 1' in 'at 10')."""
    start = r"(?<!\w)" if re.match(r"\w", phrase) else ""
    end = r"(?!\w)" if re.search(r"\w$", phrase) else ""
    return re.search(start + re.escape(phrase) + end, text) is not None


def problems(nb, paragraph: int, rec: dict) -> list[str]:
    """One line per claim of a record that its paragraph no longer states as the run recorded it."""
    markdown = normalise(nb.cells[paragraph].source)
    out = []
    for c in rec["claims"]:
        plain = normalise(BRACKETED.sub(r"\1", c["phrase"]))
        if not contains(markdown, plain):
            out.append(f'{where(nb, paragraph)}: the text no longer has the phrase "{plain}"')
        elif c["text"] != c["got"]:
            out.append(f'{where(nb, paragraph)}: "{plain}": the text says {c["text"]}, this run recorded {c["got"]}')
    return out


def verify(nb, name: str = "the notebook") -> list[str]:
    """The lines saying where the notebook's text and the run it records disagree; none when they agree.
    A notebook with no records, or one from a QUICK smoke run, is one line: there is nothing to verify."""
    found = bindings(nb)
    if not found:
        return [f"{name} records no claims: its check cells have no output (run the notebook, then verify it)"]
    if any(rec.get("quick") for _, _, rec in found if isinstance(rec, dict)):
        return [f"{name} is a QUICK smoke run: the text describes the full run; run it with QUICK = False"]
    out = []
    for paragraph, index, rec in found:
        if not is_record(rec):
            out.append(f"{where(nb, index)}: a claims record this version cannot read")
        elif paragraph is None:
            out.append(f"{where(nb, index)}: a check cell with no markdown cell above it")
        else:
            out.extend(problems(nb, paragraph, rec))
    return out


def summary(nb, name: str) -> str:
    """The line for a notebook whose text agrees with its run."""
    found = bindings(nb)
    n = sum(len(rec["claims"]) for _, _, rec in found)
    m = len({paragraph for paragraph, _, _ in found})
    return (f"{name}: all {n} claim{'s' * (n != 1)} in {m} paragraph{'s' * (m != 1)} "
            "agree with the run it records")


def main(argv: list[str] | None = None) -> int:
    """Check a saved notebook's text against the run it records: 0 agree, 1 disagree, 2 unreadable."""
    parser = argparse.ArgumentParser(prog="python -m mnist_assignment.claims",
                                     description="Check an executed notebook's analysis against the run it records.")
    parser.add_argument("notebook", type=Path)
    path = parser.parse_args(argv).notebook
    try:
        nb = load(path)
    except NotANotebook as err:
        print(f"error: {path}: {err}", file=sys.stderr)
        return 2
    found = verify(nb, str(path))
    for line in found:
        print(line)
    if not found:
        print(summary(nb, str(path)))
    return 1 if found else 0


# ---------------------------------------------------------------- this run's values, as the text writes them


def pct(x: float | None, digits: int = 2) -> str:
    """0.97441 -> '97.44' (a percentage, without the sign); 'diverged' when not a number."""
    return f"{100 * x:.{digits}f}" if x is not None and math.isfinite(x) else "diverged"


def pts(x: float | None, digits: int = 2) -> str:
    """A difference in percentage points with its sign: 0.0012 -> '+0.12'."""
    return f"{100 * x:+.{digits}f}" if x is not None and math.isfinite(x) else "n/a"


def as_printed(x: float, digits: int = 2) -> float:
    """A fraction rounded as pct() prints it, 0.986037 -> 0.986: a difference the text states is then the
    difference of the means the tables print (98.60 - 96.52 = 2.08, where the unrounded means give 2.09)."""
    return round(float(pct(x, digits)) / 100, digits + 2)


def num(x: float | None, digits: int = 1) -> str:
    """'6.3', or 'never' for an epoch count that was never reached."""
    return f"{x:.{digits}f}" if x is not None and math.isfinite(x) else "never"


def pm(r) -> str:
    """A summary row's final validation accuracy as the text writes it: '97.44 ± 0.05'."""
    if not math.isfinite(r.final_val_acc):
        return "diverged"
    return f"{100 * r.final_val_acc:.2f} ± {100 * r.final_val_acc_std:.2f}" if r.seeds > 1 else pct(r.final_val_acc)


TREND_TOL = 0.005  # 'still falling': the last three epochs' mean more than 0.5% below the three before


def trend(values, tol: float = TREND_TOL) -> str:
    """'still falling', 'rising' or 'flat': the mean of the last three values against the three before,
    with a relative dead band, so one noisy epoch cannot decide it."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if len(v) < 6:
        return "too short to tell"
    before, last = float(np.mean(v[-6:-3])), float(np.mean(v[-3:]))
    if last < before * (1 - tol):
        return "still falling"
    if last > before * (1 + tol):
        return "rising"
    return "flat"


if __name__ == "__main__":
    sys.exit(main())
