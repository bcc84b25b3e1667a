"""The written analysis, bound to the run it describes.

The analysis is prose in the notebook's markdown cells. Under each such cell a hidden check cell
states every claim of the paragraph as a phrase copied from the markdown, with the text's value
marked in square brackets, next to this run's value (or a function that computes it):

    check(
        setup("over [3] seeds", SEEDS),
        fact("0.1 reaches [97.48 ± 0.05]%", lambda: pm(stats.row(lr_table, 0.1))),
        claim("lr 1 blows up on [3 of 3] seeds",
              lambda: f"{stats.row(lr_table, 1.0).diverged} of {stats.row(lr_table, 1.0).seeds}"),
        ranking("the mean accuracy [falls] at every step", lambda: stats.direction(bs_table, BATCH_SIZES)),
        verdict("Batch 16 is [better] than the baseline's 64 ([+0.72] points",
                lambda: stats.compare(bs_table, 16, 64)),
        quick=QUICK,
    )

Five kinds, judged differently:
- `setup`: a setting the text describes (seeds, epochs, data rows, a study's values). When this run's
  differs, the cell prints one line naming it, and the notebook is in "other setup" mode from then on.
- `fact`: a number. A moved fact gets one quiet `This run:` line; none in other-setup mode.
- `claim`: a conclusion tied to the text's configuration (a threshold at epoch 20, "3 of 3"). A failing
  claim prints a `Differs from the text:` line; in other-setup mode it is not judged.
- `ranking`: a direction or comparison of two things the run has both sides of; judged on any setup.
- `verdict`: the paired rule's word ("better", "worse", "too close to call") of a stats.Comparison,
  optionally with the effect in points as a second bracket. A rerun contradicts the text only when
  the sign reverses or the text's effect lies outside the rerun's interval; a rerun that is merely
  too close to call says so in a quiet line with its interval. With one seed nothing is judged, and
  the notebook says once why.

A function that raises `stats.Missing` (a study value the run does not have) makes its item "not in
this run": the cell says so in one line and goes on. When everything agrees the cell shows nothing.

`check` also leaves its claims in the cell's output as an invisible record (records.CLAIMS), each with
its kind and status, for the verifier (verify.py) and `make submission`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from . import records, stats
from .stats import accuracy as pm  # noqa: F401 (check cells format a summary row with it)

DIFFERS = "Differs from the text:"
THIS_RUN = "This run:"
NOT_IN_RUN = "Not in this run:"
HOLD = "the conclusions above hold"
ONE_SEED = ("One seed: a comparison needs at least two seeds (three for the text's rule), "
            "so no verdict is judged in this run.")

BRACKETED = re.compile(r"\[([^\[\]]+)\]")
SETTLED = {"better", "worse"}


def normalise(text: str) -> str:
    """Text as compared with the markdown: emphasis markers and backticks dropped, whitespace runs
    (line breaks included) collapsed to one space, so a rewrapped or bolded paragraph still matches."""
    return " ".join(re.sub(r"[*`]", "", text).split())


def plain(phrase: str) -> str:
    """A phrase as the markdown reads it: brackets removed."""
    return BRACKETED.sub(r"\1", phrase)


@dataclass(frozen=True)
class Claim:
    """One statement of a paragraph: `phrase` holds the text's value(s) in brackets, `got` is this run's
    (a value, a zero-argument function, or for a verdict a stats.Comparison or a list of them)."""

    kind: str
    phrase: str
    got: object
    data: bool = False  # a setup of the data (its rows), not of the experiment: see setup()

    @property
    def texts(self) -> list[str]:
        return BRACKETED.findall(self.phrase)

    @property
    def text(self) -> str:
        """The value the text states: the bracketed part(s), '; ' between two."""
        return "; ".join(self.texts)

    @property
    def plain(self) -> str:
        return plain(self.phrase)


def bound(kind: str, phrase: str, got, most: int = 1) -> Claim:
    """A claim; a phrase without one `[value]` (two at most for a verdict) is a mistake in the check cell."""
    phrase = normalise(phrase)
    n = len(BRACKETED.findall(phrase))
    if not 1 <= n <= most or phrase.count("[") != n or phrase.count("]") != n:
        need = "exactly one" if most == 1 else f"one to {most}"
        raise ValueError(f"a {kind}'s phrase needs {need} [bracketed] value: {phrase!r}")
    return Claim(kind, phrase, got)


def fact(phrase: str, got) -> Claim:
    """A number the text states, formatted as the text writes it."""
    return bound("fact", phrase, got)


def claim(phrase: str, got) -> Claim:
    """A conclusion tied to the text's configuration; judged only when this run's setup is the text's."""
    return bound("claim", phrase, got)


def ranking(phrase: str, got) -> Claim:
    """A direction, ordering or comparison of two things this run has both sides of; judged on any setup."""
    return bound("ranking", phrase, got)


def verdict(phrase: str, got) -> Claim:
    """The paired rule's word, [better] / [worse] / [too close to call] or a listing
    [better, too close to call] (one word per comparison), and optionally a second [signed effect] in
    points; got: a stats.Comparison or a list of them (or a function returning that)."""
    c = bound("verdict", phrase, got, most=2)
    if len(c.texts) == 2 and not re.fullmatch(r"[-−+]\d+(?:\.\d+)?", c.texts[1]):
        raise ValueError(f"a verdict's second bracket is a signed number of points: {c.phrase!r}")
    return c


def setup(phrase: str, got, data: bool = False) -> Claim:
    """A setting the text describes (seeds, epochs, a study's values). data=True: the data it ran on (its
    rows): named in the setup line when it differs, but the text's facts and claims are still judged, as on
    a grader's own copy of Kaggle's file: another copy of the digits moves numbers, and a conclusion that
    changes with the data must still be said."""
    return replace(bound("setup", phrase, got), data=data)


# ---------------------------------------------------------------- judging a claim against this run


@dataclass(frozen=True)
class Judged:
    """A claim with this run's value as the text writes it, and what it means for the text."""

    claim: Claim
    got: str  # '' when the run has no value
    status: str  # agrees / moved / differs / not judged / missing
    note: str = ""  # a verdict: this run's word and interval; missing: what the run does not have
    one_seed: bool = False

    def record(self) -> dict:
        c = self.claim
        return {"kind": c.kind, "phrase": c.phrase, "text": c.text, "got": self.got, "status": self.status}


# Notebook-wide state: a kernel runs the check cells in order, and one cell's setup line or one-seed line
# stands for the cells after it. Keyed by phrase, so a cell run again replaces what it said before.
_SETUPS: dict[str, bool] = {}  # setup phrase -> whether this run differs from it
_ONE_SEED: list[str] = []  # the first verdict phrase of the cell that said ONE_SEED


def reset() -> None:
    """Forget the setups and the one-seed line (tests: a fresh state between cases)."""
    _SETUPS.clear()
    _ONE_SEED.clear()


def other_setup() -> bool:
    """Whether a setup this run was checked against differs from the text's: facts and claims are then
    not judged, verdicts and rankings still are."""
    return any(_SETUPS.values())


def effect(text: str, diff: float) -> str:
    """A difference in points with as many decimals as the text's `text` ('+0.72' -> 2)."""
    return pts(diff, len(text.partition(".")[2]))


def outside(text: str, c: stats.Comparison) -> bool:
    """Whether the effect the text states lies outside this run's interval (as the tables round it)."""
    value = float(text.replace("−", "-"))  # verdict() made sure it is a signed number
    return c.judged and not round(100 * c.low, 2) <= value <= round(100 * c.high, 2)


def replicate(word: str, stated: str | None, c: stats.Comparison) -> str:
    """One comparison against the text's word (and effect): the status the replication rule gives it."""
    if c.seeds < 2:
        return "not judged"  # one seed has no spread to judge by, diverged or not
    if word == c.word:
        return "agrees" if stated is None or stated == effect(stated, c.diff) else "moved"
    if word in SETTLED and c.word in SETTLED:
        return "differs"  # the sign reversed
    if stated is not None and outside(stated, c):
        return "differs"  # the text's effect is not what this run measured
    return "moved"  # merely less (or more) certain: the evidence is not against the text


def judge_verdict(c: Claim, value) -> Judged:
    comparisons = [value] if isinstance(value, stats.Comparison) else list(value)
    if not comparisons or not all(isinstance(x, stats.Comparison) for x in comparisons):
        raise TypeError(f"the verdict {c.phrase!r} needs a stats.Comparison or a list of them, not {value!r}")
    words = [w.strip() for w in c.texts[0].split(",")]
    stated = c.texts[1] if len(c.texts) == 2 else None
    if len(words) == 1:
        words *= len(comparisons)
    if len(words) != len(comparisons) or (stated is not None and len(comparisons) != 1):
        raise ValueError(f"the verdict {c.phrase!r} states {len(words)} word(s) for {len(comparisons)} comparison(s)")
    said = [x.word for x in comparisons]
    got = said[0] if len(set(said)) == 1 else ", ".join(said)
    if stated is not None:
        got += f"; {effect(stated, comparisons[0].diff)}"
    statuses = [replicate(w, stated, x) for w, x in zip(words, comparisons)]
    status = next(s for s in ("not judged", "differs", "moved", "agrees") if s in statuses)
    note = "; ".join(x.word if not x.judged else f"{x.word}, {stats.interval(x)} points" for x in comparisons)
    return Judged(c, got, status, note, one_seed=status == "not judged")


def judge(c: Claim, other: bool) -> Judged:
    """c against this run; other: the run is in other-setup mode."""
    try:
        value = c.got() if callable(c.got) else c.got
    except stats.Missing as missing:
        return Judged(c, "", "missing", note=str(missing))
    except Exception:
        if other and c.kind in ("fact", "claim"):
            return Judged(c, "", "not judged")  # a number of the text's configuration this run cannot compute
        raise
    if c.kind == "verdict":
        return judge_verdict(c, value)
    got = normalise(str(value))
    if c.kind in ("fact", "claim") and other:
        return Judged(c, got, "not judged")
    if got == c.text:
        return Judged(c, got, "agrees")
    return Judged(c, got, "moved" if c.kind == "fact" else "differs")


def rendered(j: Judged) -> str:
    """The phrase as it would read with this run's value."""
    return BRACKETED.sub(lambda _: j.got, j.claim.phrase)


def lines(judged: list[Judged], one_seed_line: bool = False) -> list[str]:
    """What a check cell prints: the setup line, the one-seed line, what the run does not have, a Differs
    line per contradicted conclusion, a quiet line per verdict that moved, one line for the facts that
    moved; nothing when the run agrees with the text."""
    out = []
    setups = [j for j in judged if j.claim.kind == "setup" and j.status == "differs"]
    if setups:
        out.append(f"{THIS_RUN} {', '.join(map(rendered, setups))}; "
                   f"the text describes {', '.join(j.claim.plain for j in setups)}.")
    if one_seed_line:
        out.append(ONE_SEED)
    missing = list(dict.fromkeys(j.note for j in judged if j.status == "missing"))
    if missing:
        out.append(f"{NOT_IN_RUN} {', '.join(missing)}; the text's sentences about "
                   f"{'it' if len(missing) == 1 else 'them'} are not checked.")
    for j in judged:
        if j.status == "differs" and j.claim.kind != "setup":
            out.append(f"{DIFFERS} {j.claim.plain}: the text says {j.claim.text}, this run "
                       f"{j.note if j.claim.kind == 'verdict' else j.got}.")
    out += [f'{THIS_RUN} "{j.claim.plain}": {j.note}.' for j in judged
            if j.claim.kind == "verdict" and j.status == "moved"]
    moved = [j for j in judged if j.claim.kind != "verdict" and j.status == "moved"]
    if moved:
        values = "; ".join(map(rendered, moved))
        calm = len(out) == (len(setups) > 0) + one_seed_line  # nothing above but the setting: conclusions hold
        out.append(f"{THIS_RUN} {values} — {HOLD}." if calm else f"{THIS_RUN} {values}.")
    return out


def evaluate(items) -> list[Judged]:
    """Every item judged against this run, the setups first: they decide how the rest of this cell and the
    cells after it are judged."""
    judged = {}
    for i, c in enumerate(items):
        if c.kind == "setup":
            judged[i] = j = judge(c, False)
            _SETUPS[c.phrase] = j.status == "differs" and not c.data
    other = other_setup()
    for i, c in enumerate(items):
        if c.kind != "setup":
            judged[i] = judge(c, other)
    return [judged[i] for i in range(len(items))]


def record(results: list[Judged], quick: bool = False) -> dict:
    """What a check cell leaves in the notebook for the verifier and `make submission`."""
    return {"quick": bool(quick), "claims": [j.record() for j in results]}


def check(*items: Claim, quick: bool = False) -> None:
    """Print under the paragraph what this run says against the text (nothing in a QUICK smoke run, which
    the text does not describe), and record every claim with its status for the verifier."""
    results = evaluate(items)
    first = next((j.claim.phrase for j in results if j.one_seed), None)
    say_one_seed = not quick and first is not None and (not _ONE_SEED or _ONE_SEED[0] == first)
    if say_one_seed:
        _ONE_SEED[:] = [first]
    out = [] if quick else lines(results, say_one_seed)
    for line in out:
        print(line)
    records.show(records.CLAIMS, record(results, quick))


# ---------------------------------------------------------------- this run's values, as the text writes them


def pct(x: float | None, digits: int = 2) -> str:
    """0.97441 -> '97.44' (a percentage, without the sign); 'diverged' when not a number."""
    return f"{100 * x:.{digits}f}" if stats.finite(x) else "diverged"


def pts(x: float | None, digits: int = 2) -> str:
    """A difference in percentage points with its sign: 0.0012 -> '+0.12'."""
    return f"{100 * x:+.{digits}f}" if stats.finite(x) else "n/a"


def as_printed(x: float, digits: int = 2) -> float:
    """A fraction rounded as pct() prints it, 0.986037 -> 0.986: a difference the text states is then the
    difference of the means the tables print (98.60 - 96.52 = 2.08, where the unrounded means give 2.09)."""
    return round(float(pct(x, digits)) / 100, digits + 2)


def num(x: float | None, digits: int = 1) -> str:
    """'6.3', or 'never' for an epoch count that was never reached."""
    return f"{x:.{digits}f}" if stats.finite(x) else "never"


TREND_TOL = 0.005  # 'still falling': the last three epochs' mean more than 0.5% below the three before


def trend(values) -> str:
    """'still falling', 'rising' or 'flat': the mean of the last three values against the three before,
    with a relative dead band, so one noisy epoch cannot decide it."""
    v = [x for x in values if stats.finite(x)]
    if len(v) < 6:
        return "too short to tell"
    before, last = float(np.mean(v[-6:-3])), float(np.mean(v[-3:]))
    if last < before * (1 - TREND_TOL):
        return "still falling"
    if last > before * (1 + TREND_TOL):
        return "rising"
    return "flat"
