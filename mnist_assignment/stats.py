"""What a study's runs say: one summary row per value (mean ± std over seeds), and the one rule by
which two values are called better, worse or too close to call (paired seeds, t-interval).

A study is the notebook's `{value: [history of seed 0, seed 1, ...]}`; a history is a list of
per-epoch dicts (epoch, train_loss, train_acc, val_loss, val_acc, seconds; the last epoch may add
train_acc_eval, the final model measured on the training part in eval() mode).

A value the run does not have raises `Missing` (row, curve, compare), so that a check cell about a
setting a student removed can say so instead of failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

DIVERGED_LOSS = 100.0  # the notebook's loop stops a run whose epoch loss is NaN or above this
COLLAPSED = 0.2  # a finished run below twice chance (10 classes) learned next to nothing
MARGIN = 0.0005  # better/worse only when the interval clears zero by more than 0.05 points
CONFIDENCE = 0.95


class Missing(KeyError):
    """A value that this run does not have (a study value a student removed, or a reference it lacks)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what

    def __str__(self) -> str:  # KeyError would quote it
        return self.what


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


def label(value) -> str:
    """A study value as the tables write it: 0.1 -> '0.1', 1.0 -> '1'."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def mean_curve(runs: list[Record], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-epoch mean and std over seeds, up to the shortest run (a diverged run stops early)."""
    length = min(len(r.epochs) for r in runs)
    values = np.array([[np.nan if e[metric] is None else e[metric] for e in r.epochs[:length]] for r in runs],
                      dtype=float)
    std = values.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros(length)
    return values.mean(axis=0), std


def curve(study: dict, value, metric: str) -> np.ndarray:
    """The mean curve of one value of a study, over its seeds that did not diverge (empty when none did);
    Missing when the study has no such value."""
    if value not in study:
        raise Missing(label(value))
    runs = [r for r in records({value: study[value]}) if not r.diverged]
    return mean_curve(runs, metric)[0] if runs else np.array([])


def gap(r) -> float:
    """Train minus validation accuracy at the end (a summary row)."""
    return r.final_train_acc - r.final_val_acc


def finite(x) -> bool:
    return x is not None and math.isfinite(x)


def mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if finite(v)]
    if not values:
        return math.nan, math.nan
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def train_acc(last: dict) -> float:
    """The training accuracy to set against the validation one: the final model in eval() mode when the loop
    measured it, like the validation accuracy (the epoch's running average has dropout on and lags a model
    that is still learning)."""
    return last.get("train_acc_eval", last["train_acc"])


def summarise(study: dict, name: str | None = None) -> pd.DataFrame:
    """One row per value: final validation accuracy (mean, std over the seeds that did not diverge) and more.
    name ('lr'): how a value the run lacks is named ('lr 0.3'), so that a check cell can say which."""
    rows = []
    for value, runs in by_value(records(study)).items():
        ok = [r for r in runs if not r.diverged]
        final_m, final_s = mean_std([r.epochs[-1]["val_acc"] for r in ok])
        to95 = [next((e["epoch"] for e in r.epochs if finite(e["val_acc"]) and e["val_acc"] >= 0.95), None)
                for r in runs]
        rows.append({
            "value": value,
            "final_val_acc": final_m, "final_val_acc_std": final_s,
            "final_train_acc": mean_std([train_acc(r.epochs[-1]) for r in ok])[0],
            "final_val_loss": mean_std([r.epochs[-1]["val_loss"] for r in ok])[0],
            "epochs_to_95": float(np.mean(to95)) if None not in to95 else math.nan,
            "seconds_per_run": float(np.mean([r.seconds for r in runs])),
            "seeds": len(runs),
            "diverged": len(runs) - len(ok),
            # per seed, for paired comparisons; NaN where the run diverged
            "per_seed": {r.seed: (math.nan if r.diverged else r.epochs[-1]["val_acc"]) for r in runs},
        })
    table = pd.DataFrame(rows)
    table.attrs["name"] = name
    return table


def row(summary: pd.DataFrame, value):
    """A summary table's row for one value; Missing when the run did not study it."""
    found = summary[summary.value == value] if len(summary) else summary
    if found.empty:
        name = summary.attrs.get("name")
        raise Missing(f"{name} {label(value)}" if name else label(value))
    return found.iloc[0]


def failed(per_seed: dict) -> str | None:
    """'diverged on 1 of 3 seeds' (or collapsed) when a value's runs cannot go into a t-interval, else None."""
    n = len(per_seed)
    blown = sum(not finite(v) for v in per_seed.values())
    collapsed = sum(finite(v) and v < COLLAPSED for v in per_seed.values())
    if blown and collapsed:
        return f"diverged or collapsed on {blown + collapsed} of {n} seeds"
    if blown:
        return f"diverged on {blown} of {n} seeds"
    if collapsed:
        return f"collapsed on {collapsed} of {n} seeds"
    return None


@dataclass(frozen=True)
class Comparison:
    """a minus b in final validation accuracy, paired by seed, with a t-interval (NaN where there is none)."""

    a: object
    b: object
    diff: float  # mean over seeds of acc(a, seed) - acc(b, seed); NaN when a seed failed
    low: float
    high: float
    seeds: int
    failed: str | None = None  # why there is no interval: 'diverged on 1 of 3 seeds' (of a, or of its reference)

    @property
    def judged(self) -> bool:
        """Whether the rule can say anything: two seeds at least, none of them failed."""
        return self.failed is None and self.seeds >= 2

    @property
    def word(self) -> str:
        """'better' or 'worse' when the whole interval clears zero by more than MARGIN, else 'too close to call';
        the failure when a seed failed; 'one seed' when there is nothing to pair."""
        if self.failed:
            return self.failed
        if self.seeds < 2:
            return "one seed"
        if self.low > MARGIN:
            return "better"
        if self.high < -MARGIN:
            return "worse"
        return "too close to call"


def paired(a_per_seed: dict, b_per_seed: dict, a=None, b=None, confidence: float = CONFIDENCE) -> Comparison:
    """The rule every 'better / worse / too close to call' in the notebook follows.

    Runs with the same seed share their data split, initial weights and batch order, so the per-seed
    difference removes most of the seed-to-seed spread. A winner is named only when the t-interval of
    the mean difference clears zero; with one seed nothing can be told apart, and a value with a
    diverged or collapsed seed gets no interval (its accuracy is not a measurement of the setting).
    """
    from scipy import stats

    seeds = sorted(set(a_per_seed) & set(b_per_seed))
    if not seeds:
        raise ValueError(f"no common seeds to compare {a!r} and {b!r}")
    pa, pb = ({s: side[s] for s in seeds} for side in (a_per_seed, b_per_seed))
    why = failed(pa) or (f"against a reference {reason}" if (reason := failed(pb)) else None)
    if why:
        return Comparison(a, b, math.nan, math.nan, math.nan, len(seeds), why)
    d = np.array([pa[s] - pb[s] for s in seeds], dtype=float)
    mean = float(d.mean())
    if len(d) < 2:
        return Comparison(a, b, mean, math.nan, math.nan, 1)
    half = float(stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return Comparison(a, b, mean, mean - half, mean + half, len(d))


def reference(summary: pd.DataFrame, ref) -> dict:
    """Per-seed accuracies of ref: a value of this table, or (name, per-seed accuracies) from another."""
    return ref[1] if isinstance(ref, tuple) else row(summary, ref).per_seed


def compare(summary: pd.DataFrame, a, b) -> Comparison:
    """paired() for value a of a summary table against b: another value of it, or (name, per-seed
    accuracies) from another table. Missing when the run has no a or no b."""
    return paired(row(summary, a).per_seed, reference(summary, b), a, b[0] if isinstance(b, tuple) else b)


def interval(c: Comparison) -> str:
    """'+0.12 [-0.05, +0.29]': a paired difference in points with its 95% interval; the difference alone
    with one seed; the failure when there is no difference to take."""
    if c.failed:
        return c.failed
    if c.seeds < 2:
        return f"{100 * c.diff:+.2f}"
    return f"{100 * c.diff:+.2f} [{100 * c.low:+.2f}, {100 * c.high:+.2f}]"


def direction(summary: pd.DataFrame, values, column: str = "final_val_acc") -> str:
    """'falls' or 'rises' when the mean moves the same way at every step along values, else 'is not monotone'."""
    means = [row(summary, v)[column] for v in values]
    steps = np.diff(np.nan_to_num(np.array(means, dtype=float), nan=-np.inf))
    if (steps < 0).all():
        return "falls"
    if (steps > 0).all():
        return "rises"
    return "is not monotone"


def best_value(summary: pd.DataFrame):
    """The value with the highest mean final accuracy among those that never diverged."""
    ok = summary[(summary.diverged == 0) & summary.final_val_acc.notna()]
    if ok.empty:
        ok = summary[summary.final_val_acc.notna()]
    if ok.empty:
        raise Missing("a value that did not diverge")
    return ok.loc[ok.final_val_acc.idxmax()].value


# ---------------------------------------------------------------- the tables as the report shows them


def accuracy(r) -> str:
    """A summary row's final validation accuracy as tables and text write it: '97.44 ± 0.05'; the mean
    alone for one seed (a spread of one run is no spread); the failure when a seed diverged."""
    if r.diverged:
        return "diverged" if r.diverged == r.seeds else f"diverged on {r.diverged} of {r.seeds} seeds"
    if r.seeds < 2:
        return f"{100 * r.final_val_acc:.2f}"
    return f"{100 * r.final_val_acc:.2f} ± {100 * r.final_val_acc_std:.2f}"


def display_table(summary: pd.DataFrame, factor: str, vs=None) -> pd.DataFrame:
    """The summary formatted for reading: mean ± std as text, percentages.

    vs: a value of this table, or (name, per-seed accuracies) from another one, or a list of them: adds
    for each the column "vs <name>": the paired difference in points, its 95% interval and the rule's
    word, so that every verdict in the text can be seen (with one seed, the difference alone; none for a
    reference value the run does not have).
    """
    table = {factor: summary["value"].map(label),
             "final val acc %": [accuracy(r) for r in summary.itertuples()]}
    for ref in (vs if isinstance(vs, list) else [] if vs is None else [vs]):
        name = ref[0] if isinstance(ref, tuple) else label(ref)
        try:
            per_ref = reference(summary, ref)
        except Missing:
            continue  # a reference value this run did not study: no column to compare against it
        cells = []
        for value, per_seed in zip(summary.value, summary.per_seed):
            if not isinstance(ref, tuple) and value == ref:
                cells.append("—")
                continue
            c = paired(per_seed, per_ref)
            cells.append(f"{interval(c)} {c.word}" if c.judged else interval(c))
        table[f"vs {name}: points [95% CI]"] = cells
    table.update({
        "train−val gap": [f"{100 * (t - v):.2f}" if math.isfinite(t) and math.isfinite(v) else "—"
                          for t, v in zip(summary.final_train_acc, summary.final_val_acc)],
        "val loss": summary.final_val_loss.map(lambda v: f"{v:.4f}" if math.isfinite(v) else "—"),
        "epochs to 95%": summary.epochs_to_95.map(lambda v: f"{v:.1f}" if math.isfinite(v) else "never"),
        "s / run": summary.seconds_per_run.map(lambda v: f"{v:.1f}"),
    })
    return pd.DataFrame(table).set_index(factor)


def captioned(table: pd.DataFrame, caption: str):
    """A table with its caption ("Table 5.1: ...") above it, for display(). Its numbers show as many
    decimals as the caller's .round(n) left them (a Styler would print six)."""
    floats = [table[c] for c, t in table.dtypes.items() if pd.api.types.is_float_dtype(t)]
    return table.style.set_caption(caption).set_table_styles(
        [{"selector": "caption", "props": "caption-side: top; font-weight: bold; text-align: left"}]
    ).format(precision=max((decimals(v) for v in floats), default=0))


def decimals(values: pd.Series, most: int = 6) -> int:
    """The fewest decimals that show every finite value exactly as it is (at most `most`)."""
    shown = values[np.isfinite(values)]
    return next((d for d in range(most) if np.allclose(shown, shown.round(d), rtol=0, atol=1e-12)), most)
