"""The written analysis, checked against the run.

The analysis is prose in the notebook's markdown cells. Under each such cell a hidden code cell
calls `check` with every number and verdict the paragraph states: the text's value, written
exactly as in the paragraph, and this run's value, formatted the same way. When all agree it prints
nothing; otherwise one `Differs from the text:` line per claim, right under the paragraph.

Convention (tests/test_claims.py enforces it): every number in an analysis cell appears in a
string of the check cell that follows it (as a text value, or in a claim's name for the setting it
refers to), except figure/table/section references and the constants in `EXEMPT`.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .stats import paired

DIFFERS = "Differs from the text:"

# numbers the text may write without a check: the assignment's fixed design (and seed 0), not results
EXEMPT = {"0", "784", "128", "64", "10", "28", "0.01", "95", "80", "20", "1", "2", "3"}

# "Figure 5.1", "Table 7.2", "section 5", "sections 5-7", "Section 3": references, not claims
REFERENCE = re.compile(r"\b(?:Figures?|Tables?|[Ss]ections?)\s+\d+(?:\.\d+)?(?:\s*(?:[-–]|and|,)\s*\d+(?:\.\d+)?)*")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def differences(claims: dict[str, tuple[str, str]]) -> list[str]:
    """A `Differs from the text:` line for each claim whose run value is not the text's."""
    return [f"{DIFFERS} {name}: the text says {text}, this run gives {got}."
            for name, (text, got) in claims.items() if str(text) != str(got)]


def check(claims: dict[str, tuple[str, str]]) -> None:
    """Print the differences under the paragraph; nothing when the run agrees with the text."""
    for line in differences(claims):
        print(line)


def numbers(text: str) -> set[str]:
    """The numbers a text states (commas dropped, sign ignored); headings and references left out."""
    text = REFERENCE.sub(" ", "\n".join(line for line in text.splitlines() if not line.startswith("#")))
    return {n.replace(",", "").rstrip(".") for n in NUMBER.findall(text)}


# ---------------------------------------------------------------- this run's values, as the text writes them


def pct(x: float | None, digits: int = 2) -> str:
    """0.97441 -> '97.44' (a percentage, without the sign); 'diverged' when not a number."""
    return f"{100 * x:.{digits}f}" if x is not None and math.isfinite(x) else "diverged"


def pts(x: float | None, digits: int = 2) -> str:
    """A difference in percentage points with its sign: 0.0012 -> '+0.12'."""
    return f"{100 * x:+.{digits}f}" if x is not None and math.isfinite(x) else "n/a"


def num(x: float | None, digits: int = 1) -> str:
    """'6.3', or 'never' for an epoch count that was never reached."""
    return f"{x:.{digits}f}" if x is not None and math.isfinite(x) else "never"


def row(table, value):
    """A summary table's row for one value (stats.summarise)."""
    return table[table.value == value].iloc[0]


def pm(r) -> str:
    """A summary row's final validation accuracy as the text writes it: '97.44 ± 0.05'."""
    if not math.isfinite(r.final_val_acc):
        return "diverged"
    return f"{100 * r.final_val_acc:.2f} ± {100 * r.final_val_acc_std:.2f}" if r.seeds > 1 else pct(r.final_val_acc)


def versus(a: dict, b: dict) -> str:
    """The paired rule's verdict on two per-seed dicts ('better', 'worse', 'tie')."""
    return paired(a, b).verdict


def gap(r) -> float:
    """Train minus validation accuracy at the end of a run (a summary row)."""
    return r.final_train_acc - r.final_val_acc


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


def mean_curve(results: list, metric: str) -> np.ndarray:
    """Per-epoch mean over seeds of one value's runs (those that did not diverge)."""
    ok = [r for r in results if not r.diverged]
    n = min(len(r.epochs) for r in ok)
    return np.mean([[e[metric] for e in r.epochs[:n]] for r in ok], axis=0)


def of(results: list, value) -> list:
    """The runs of one value of a study."""
    return [r for r in results if r.value == value]
