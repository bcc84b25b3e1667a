"""What a study's runs say: one summary row per value (mean ± std over seeds), and the one rule by
which two values are called better, worse or cannot be told apart (paired seeds, t-interval).

A study is the notebook's `{value: [history of seed 0, seed 1, ...]}`; a history is a list of
per-epoch dicts (epoch, train_loss, train_acc, val_loss, val_acc, seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DIVERGED_LOSS = 100.0  # the notebook's loop stops a run whose epoch loss is NaN or above this


@dataclass(frozen=True)
class Record:
    """One run of a study: its value, seed and per-epoch history."""

    value: object
    seed: int
    epochs: list

    @property
    def diverged(self) -> bool:
        return diverged(self.epochs)

    @property
    def seconds(self) -> float:
        return sum(e.get("seconds", 0.0) for e in self.epochs)


def diverged(history: list[dict]) -> bool:
    """The loss blew up (NaN, inf or huge): the run stopped there, and its last numbers mean nothing."""
    return bool(history) and not history[-1]["train_loss"] < DIVERGED_LOSS


def records(study: dict) -> list[Record]:
    """{value: [history per seed]} -> one Record per run (seed = position in the list)."""
    return [Record(value, seed, history) for value, histories in study.items()
            for seed, history in enumerate(histories)]


def by_value(results: list[Record]) -> dict:
    groups: dict = {}
    for r in results:
        groups.setdefault(r.value, []).append(r)
    return groups


def mean_curve(runs: list[Record], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-epoch mean and std over seeds, up to the shortest run (a diverged run stops early)."""
    length = min(len(r.epochs) for r in runs)
    values = np.array([[np.nan if e[metric] is None else e[metric] for e in r.epochs[:length]] for r in runs],
                      dtype=float)
    std = values.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros(length)
    return values.mean(axis=0), std


def curve(study: dict, value, metric: str) -> np.ndarray:
    """The mean curve of one value of a study, over its seeds that did not diverge."""
    runs = [r for r in records({value: study[value]}) if not r.diverged]
    return mean_curve(runs, metric)[0] if runs else np.array([])


def gap(r) -> float:
    """Train minus validation accuracy at the end (a summary row)."""
    return r.final_train_acc - r.final_val_acc


def finite(x) -> bool:
    return x is not None and math.isfinite(x)


def epochs_to(history_epochs: list[dict], threshold: float) -> int | None:
    for e in history_epochs:
        if finite(e["val_acc"]) and e["val_acc"] >= threshold:
            return e["epoch"]
    return None


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarise(study: dict) -> pd.DataFrame:
    """One row per value: final/best validation accuracy (mean, std over seeds) and more."""
    rows = []
    for value, runs in by_value(records(study)).items():
        finals = [None if r.diverged else r.epochs[-1]["val_acc"] for r in runs]
        train_finals = [None if r.diverged else r.epochs[-1]["train_acc"] for r in runs]
        bests = [max((e["val_acc"] for e in r.epochs if finite(e["val_acc"])), default=None) for r in runs]
        losses = [None if r.diverged else r.epochs[-1]["val_loss"] for r in runs]
        to95 = [epochs_to(r.epochs, 0.95) for r in runs]
        reached = [t for t in to95 if t is not None]
        final_m, final_s = mean_std(finals)
        best_m, best_s = mean_std(bests)
        rows.append({
            "value": value,
            "final_val_acc": final_m, "final_val_acc_std": final_s,
            "best_val_acc": best_m, "best_val_acc_std": best_s,
            "final_train_acc": mean_std(train_finals)[0],
            "final_val_loss": mean_std(losses)[0],
            "epochs_to_95": float(np.mean(reached)) if len(reached) == len(runs) else math.nan,
            "seconds_per_run": float(np.mean([r.seconds for r in runs])),
            "seeds": len(runs),
            "diverged": sum(r.diverged for r in runs),
            # per seed, for paired comparisons; a diverged run counts as chance level
            "per_seed": {r.seed: (CHANCE if r.diverged else r.epochs[-1]["val_acc"]) for r in runs},
        })
    return pd.DataFrame(rows)


def interval(c: Comparison) -> str:
    """'+0.12 [-0.05, +0.29]': a paired difference in points with its 95% interval."""
    if not math.isfinite(c.low):
        return f"{100 * c.diff:+.2f} (1 seed)"
    return f"{100 * c.diff:+.2f} [{100 * c.low:+.2f}, {100 * c.high:+.2f}]"


def display_table(summary: pd.DataFrame, factor: str, vs=None) -> pd.DataFrame:
    """The summary formatted for reading: mean ± std as text, percentages.

    vs: a value of this table, or (name, per-seed accuracies) from another one, or a list of them: adds
    for each the column "vs <name>": the paired difference in points, its 95% interval and the rule's
    verdict (stats.paired), so that every verdict in the text can be seen.
    """
    def pm(m, s):
        return "diverged" if not math.isfinite(m) else f"{100 * m:.2f} ± {100 * s:.2f}"

    def fmt(v):
        return f"{v:g}" if isinstance(v, float) else str(v)

    table = {
        factor: summary["value"].map(fmt),
        "final val acc %": [pm(m, s) for m, s in zip(summary.final_val_acc, summary.final_val_acc_std)],
    }
    for ref_value in (vs if isinstance(vs, list) else [] if vs is None else [vs]):
        name = ref_value[0] if isinstance(ref_value, tuple) else fmt(ref_value)
        ref = reference(summary, ref_value)
        cells = []
        for value, per_seed in zip(summary.value, summary.per_seed):
            if not isinstance(ref_value, tuple) and value == ref_value:
                cells.append("—")
                continue
            c = paired(per_seed, ref)
            cells.append(f"{interval(c)} {c.marked}")
        table[f"vs {name}: points [95% CI]"] = cells
    table.update({
        "train−val gap": [f"{100 * (t - v):.2f}" if math.isfinite(t) and math.isfinite(v) else "—"
                          for t, v in zip(summary.final_train_acc, summary.final_val_acc)],
        "val loss": summary.final_val_loss.map(lambda v: f"{v:.4f}" if math.isfinite(v) else "—"),
        "epochs to 95%": summary.epochs_to_95.map(lambda v: f"{v:.1f}" if math.isfinite(v) else "never"),
        "s / run": summary.seconds_per_run.map(lambda v: f"{v:.1f}"),
    })
    if summary.diverged.any():
        table["diverged"] = [f"{d}/{n}" for d, n in zip(summary.diverged, summary.seeds)]
    return pd.DataFrame(table).set_index(factor)


def row(summary: pd.DataFrame, value):
    """A summary table's row for one value."""
    return summary[summary.value == value].iloc[0]


def captioned(table: pd.DataFrame, caption: str):
    """A table with its caption ("Table 5.1: ...") above it, for display(). Its numbers show as many
    decimals as the caller's .round(n) left them (a Styler would print six)."""
    floats = [table[c] for c, t in table.dtypes.items() if pd.api.types.is_float_dtype(t)]
    return table.style.set_caption(caption).set_table_styles(
        [{"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left"}]
    ).format(precision=max((decimals(v) for v in floats), default=0))


def decimals(values: pd.Series, most: int = 6) -> int:
    """The fewest decimals that show every finite value exactly as it is (at most `most`)."""
    finite = values[np.isfinite(values)]
    return next((d for d in range(most) if np.allclose(finite, finite.round(d), rtol=0, atol=1e-12)), most)


BORDERLINE = 0.0005  # a verdict whose interval ends within 0.05 points of zero is borderline
CHANCE = 0.1  # a diverged run's accuracy in a paired comparison: it predicts nothing
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Comparison:
    """a minus b in final validation accuracy, paired by seed, with a t-interval."""

    a: object
    b: object
    diff: float  # mean over seeds of acc(a, seed) - acc(b, seed)
    low: float
    high: float
    seeds: int

    @property
    def verdict(self) -> str:
        """'better' or 'worse' only when the whole interval is on one side of zero, else 'tie'."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "tie"

    @property
    def settled(self) -> str:
        """The verdict when the interval clears zero by more than BORDERLINE; 'not settled' for a tie or a
        borderline verdict, which three more seeds could turn."""
        if self.low > BORDERLINE:
            return "better"
        if self.high < -BORDERLINE:
            return "worse"
        return "not settled"

    @property
    def marked(self) -> str:
        """The verdict as the tables show it: 'better (borderline)' when it does not clear BORDERLINE."""
        if self.verdict != "tie" and self.settled == "not settled":
            return f"{self.verdict} (borderline)"
        return self.verdict


def paired(a_per_seed: dict, b_per_seed: dict, a=None, b=None, confidence: float = CONFIDENCE) -> Comparison:
    """The rule every 'better / worse / cannot tell' in the notebook follows.

    Runs with the same seed share their initial weights and batch order, so the per-seed
    difference removes most of the seed-to-seed spread. A winner is named only when the
    t-interval of the mean difference excludes zero; with one seed nothing can be told apart.
    """
    from scipy import stats

    seeds = sorted(set(a_per_seed) & set(b_per_seed))
    d = np.array([a_per_seed[s] - b_per_seed[s] for s in seeds], dtype=float)
    if len(d) == 0:
        raise ValueError(f"no common seeds to compare {a!r} and {b!r}")
    mean = float(d.mean())
    if len(d) < 2:
        return Comparison(a, b, mean, -math.inf, math.inf, len(d))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return Comparison(a, b, mean, mean - half, mean + half, len(d))


def compare(summary: pd.DataFrame, a, b) -> Comparison:
    """paired() for two values of one summary table."""
    ra = summary[summary.value == a].iloc[0]
    rb = summary[summary.value == b].iloc[0]
    return paired(ra.per_seed, rb.per_seed, a, b)


def verdict(summary: pd.DataFrame, a, b) -> str:
    """The paired rule's word for a against b: 'better', 'worse' or 'tie'."""
    return compare(summary, a, b).verdict


def reference(summary: pd.DataFrame, ref) -> dict:
    """Per-seed accuracies of ref: a value of this table, or (name, per-seed accuracies) from another."""
    return ref[1] if isinstance(ref, tuple) else row(summary, ref).per_seed


def verdicts(summary: pd.DataFrame, values, ref, settled: bool = False) -> str:
    """The rule's word for each of values against ref, said once when they all agree ('worse'), else
    listed ('better, tie'); settled=True uses Comparison.settled instead of the plain verdict."""
    words = [getattr(paired(row(summary, v).per_seed, reference(summary, ref)), "settled" if settled else "verdict")
             for v in values]
    return words[0] if len(set(words)) == 1 else ", ".join(words)


def direction(summary: pd.DataFrame, values, column: str = "final_val_acc") -> str:
    """'falls' or 'rises' when the mean moves the same way at every step along values, else 'is not monotone'."""
    means = [row(summary, v)[column] for v in values]
    steps = np.diff(np.nan_to_num(np.array(means, dtype=float), nan=-np.inf))
    if (steps < 0).all():
        return "falls"
    if (steps > 0).all():
        return "rises"
    return "is not monotone"


def within_noise(summary: pd.DataFrame, a, b) -> bool:
    """True when the paired rule cannot tell a from b."""
    return compare(summary, a, b).verdict == "tie"


def best_value(summary: pd.DataFrame):
    """The value with the highest mean final accuracy among those that never diverged."""
    ok = summary[(summary.diverged == 0) & summary.final_val_acc.notna()]
    if ok.empty:
        ok = summary[summary.final_val_acc.notna()]
    return ok.loc[ok.final_val_acc.idxmax()].value


def ranking(summary: pd.DataFrame) -> tuple[object, list, list]:
    """(best, values the rule cannot tell from it, values it beats)."""
    best = best_value(summary)
    ties, beaten = [], []
    for v in summary.value:
        if v != best:
            (ties if within_noise(summary, best, v) else beaten).append(v)
    return best, ties, beaten
