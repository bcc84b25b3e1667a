"""Figures: curves with ±std bands, study summaries, confusion matrix, digit galleries.

Every function draws one figure, saves it as PNG (when given a path) and returns it. Lines
differ by style and marker as well as colour, so the figures read in grayscale too. Figures are
drawn at the size they print at (at most WIDTH inches, an A4 page's text width) with fonts of
7-9 pt, at DPI dots per inch; the report prints each image at its drawn size (pdf.to_html).
"""

from __future__ import annotations

import functools
import math
import os
import sys
from pathlib import Path

import matplotlib

if not os.environ.get("MPLBACKEND") and "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # scripts and tests have no screen
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .files import atomic_path
from .stats import by_value, mean_curve, records
from .stats import label as value_label

WIDTH = 7.2  # inches: an A4 page's text width between 12 mm margins is 7.3
DPI = 200
RC = {"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 7.5,
      "xtick.labelsize": 7, "ytick.labelsize": 7, "legend.fontsize": 7, "figure.titlesize": 9,
      "axes.titlepad": 4, "legend.handlelength": 2.6}

STYLES = ["-", "--", "-.", ":"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
METRICS = [("train_loss", "training loss"), ("val_loss", "validation loss"),
           ("train_acc", "training accuracy"), ("val_acc", "validation accuracy")]


# one colour per setting: the i-th value of a study always gets PALETTE[i] in every figure of that
# study, and the baseline setting is always black
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
BASELINE_COLOR = "black"
BASELINE_VALUES = {0.01, 64, "none", "SGD lr 0.01"}


def color(i: int, value=None) -> str:
    """The colour of a study's i-th value (black for the baseline setting)."""
    if value in BASELINE_VALUES:
        return BASELINE_COLOR
    return PALETTE[i % len(PALETTE)]


def style(i: int, value=None) -> dict:
    return {"linestyle": STYLES[i % len(STYLES)], "marker": MARKERS[i % len(MARKERS)], "color": color(i, value),
            "markersize": 3, "markevery": 0.1, "linewidth": 1.4 if value in BASELINE_VALUES else 1.1}


def axis_note(ax, percent: bool = False) -> str:
    """' (axis starts at 90%)' when an accuracy axis does not start at zero, for its title."""
    low = ax.get_ylim()[0]
    if low <= 0:
        return ""
    return f" (axis starts at {low:.0f}%)" if percent else f" (axis starts at {100 * low:.0f}%)"


def save(fig, path: str | Path | None):
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=DPI, bbox_inches="tight", format="png")
        if "inline" in matplotlib.get_backend():  # Jupyter: show the PNG just written, not a second drawing
            from IPython.display import Image, display

            display(Image(filename=str(path)))
            plt.close(fig)
    return fig


def sized(draw):
    """Draw with the print-size fonts and resolution (RC), then put back the caller's values of
    those settings only (plt.rc_context would also undo the notebook's switch to interactive mode
    made when the first figure opens, and no later figure would show)."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        saved = {key: matplotlib.rcParams[key] for key in RC}
        matplotlib.rcParams.update(RC)
        try:
            return draw(*args, **kwargs)
        finally:
            matplotlib.rcParams.update(saved)
    return wrapper


@sized
def study_curves(study: dict, factor: str, path=None, x: str = "epoch", steps_per_epoch=None, title: str | None = None,
                 metrics: tuple = ("train_loss", "val_loss", "train_acc", "val_acc"), bands: bool = True,
                 mark: tuple | None = None):
    """Loss and accuracy curves, one line per value, mean ± std over seeds: 2x2 (training and validation loss
    and accuracy), or one row when `metrics` names two of them.

    study: {value: [history per seed]}, as the notebook's run_study returns it.
    x: "epoch" or "steps" (optimizer steps; needs steps_per_epoch(value)).
    title: the figure's caption ("Figure 5.1: ..."). bands: False draws the means only (for many
    overlapping curves). mark: (x, label), a dotted vertical line on the accuracy panels.
    Accuracy is drawn on a logit axis: every curve stays in view, from chance level to the last
    tenths of a percent, where the differences between good settings are.
    """
    names = dict(METRICS)
    rows = 2 if len(metrics) > 2 else 1
    fig, axes = plt.subplots(rows, 2, figsize=(WIDTH, 2.85 if rows == 2 else 1.9), sharex=True, squeeze=False)
    panels = list(zip(axes.flat, metrics))
    groups = by_value(records(study))
    for i, (value, runs) in enumerate(groups.items()):
        diverged = sum(r.diverged for r in runs)
        label = value_label(value) + (f" (diverged {diverged}/{len(runs)})" if diverged else "")
        if diverged == len(runs):  # nothing was measured after the blow-up: a legend entry, no curve drawn
            panels[0][0].plot([], [], label=label, **style(i, value))
            continue
        for ax, metric in panels:
            mean, std = mean_curve(runs, metric)
            xs = np.arange(1, len(mean) + 1) * (steps_per_epoch(value) if x == "steps" else 1)
            kw = style(i, value)
            if np.isfinite(mean).sum() < 2:  # a run that diverged at once leaves no curve to mark
                kw["markevery"] = None
            line, = ax.plot(xs, mean, label=label if ax is panels[0][0] else None, **kw)
            if bands and len(runs) > 1:
                ax.fill_between(xs, mean - std, mean + std, color=line.get_color(), alpha=0.15, linewidth=0)
    xlabel = {"epoch": "epoch", "steps": "optimizer steps"}[x]
    for ax, metric in panels:  # (not `title`: the figure's caption)
        ax.set_title(names[metric])
        ax.grid(alpha=0.3)
        if x != "epoch":
            ax.set_xscale("log")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs, not 2.5
        if "loss" in metric:
            loss_axis(ax)
        else:
            accuracy_axis(ax)
            if mark is not None:
                ax.axvline(mark[0], color="gray", linestyle=":", linewidth=1)
                ax.annotate(mark[1], (mark[0], 0.04), xycoords=("data", "axes fraction"), xytext=(3, 0),
                            textcoords="offset points", fontsize=6.5, color="0.2", va="bottom", ha="left",
                            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1})
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    handles, labels = panels[0][0].get_legend_handles_labels()
    # the factor's name first, as a legend entry without a line: "learning rate:  0.001  0.003 ..."
    handles, labels = [plt.Line2D([], [], linestyle="none")] + handles, [f"{factor}:"] + labels
    ncol = legend_columns(labels)
    handles, labels = row_major(handles, ncol), row_major(labels, ncol, blank="")
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, bbox_to_anchor=(0.5, 0),
               borderaxespad=0.2, columnspacing=1.2, handletextpad=0.5)
    counts = {value_label(value): len(runs) for value, runs in groups.items()}
    n = max(counts.values())
    seeds = f"{n} seeds" if len(set(counts.values())) == 1 else \
        " and ".join(f"{k} seeds ({name})" for name, k in counts.items())  # "4 seeds (CNN) and 3 seeds (MLP)"
    spread = (f"mean ± std over {seeds}" if bands else f"mean over {seeds}") if n > 1 else "one seed"
    fig.suptitle(f"{title}, {spread}" if title else f"{factor}: {spread}")
    legend_rows = -(-len(labels) // ncol)
    fig.tight_layout(rect=(0, (0.06 + 0.15 * legend_rows) / fig.get_figheight(), 1, 1), h_pad=0.4)
    return save(fig, path)


def legend_columns(labels: list[str], width: int = 118) -> int:
    """The most columns whose entries fit the figure's width (about `width` characters of 7 pt text, an entry's
    line and gaps counted as 7), read row by row: one row when they fit, so a legend takes little height."""
    for ncol in range(len(labels), 0, -1):
        columns = [labels[c::ncol] for c in range(ncol)]
        if sum(max(map(len, c)) + 7 for c in columns) <= width:
            return ncol
    return 1


def row_major(items: list, ncol: int, blank=None) -> list:
    """items reordered so that matplotlib, which fills a legend column by column, shows them row by row
    (the last row padded with empty entries)."""
    rows = -(-len(items) // ncol)
    pad = blank if blank is not None else plt.Line2D([], [], linestyle="none")
    padded = list(items) + [pad] * (rows * ncol - len(items))
    return [padded[r * ncol + c] for c in range(ncol) for r in range(rows)]


def loss_axis(ax):
    """A log axis for a loss with four or five plain labels (0.15, 0.2, 0.3), far enough apart to read."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.set_yscale("log")
    bottom, top = ax.get_ylim()
    candidates = [k * 10.0 ** e for k in (1, 2, 5, 3, 1.5, 7, 4, 2.5, 1.2)  # the roundest first
                  for e in range(math.floor(math.log10(bottom)), math.ceil(math.log10(top)) + 1)]
    ticks = spaced(candidates, bottom, top, math.log)
    ax.yaxis.set_major_locator(FixedLocator(sorted(ticks)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylabel("cross-entropy")


def spaced(candidates, bottom: float, top: float, scale) -> list[float]:
    """Tick values from `candidates` (roundest first) inside [bottom, top], at least a 4.5th of the axis apart on
    its scale, so that labels on a panel about an inch high do not touch; two at least, closer if need be."""
    span = scale(top) - scale(bottom)
    for parts in (4.5, 9, 18):
        ticks = []
        for t in candidates:
            if bottom <= t <= top and all(abs(scale(t) - scale(u)) >= span / parts for u in ticks):
                ticks.append(t)
        if len(ticks) >= 2:
            break
    return ticks


def accuracy_axis(ax):
    """A logit accuracy axis from the lowest point drawn to the highest: no curve is cut off, and the gap
    between 97% and 98% gets as much room as the one between 50% and 75%."""
    ys = [v for line in ax.get_lines() for v in np.asarray(line.get_ydata(), dtype=float)
          if np.isfinite(v) and 0 < v < 1]
    if not ys:
        ax.set_ylabel("accuracy (fraction)")
        return
    low, high = min(ys), max(ys)
    ax.set_yscale("logit")
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    expit = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    margin = max(logit(high) - logit(low), 0.5) * 0.08
    bottom, top = max(0.005, expit(logit(low) - margin)), min(0.99995, expit(logit(high) + margin))
    ax.set_ylim(bottom, top)
    # the roundest values first (90%, 99%), then finer ones where they fit
    ticks = spaced((0.99, 0.9, 0.5, 0.1, 0.999, 0.9999, 0.98, 0.95, 0.8, 0.2, 0.97, 0.7, 0.3, 0.995, 0.96, 0.94,
                    0.85, 0.05, 0.985, 0.975, 0.93, 0.92, 0.01), bottom, top, logit)
    ax.yaxis.set_major_locator(FixedLocator(sorted(ticks)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:g}%"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_ylabel("accuracy")
    ax.set_title(ax.get_title() + " (scale stretched near 100%)")


@sized
def iteration_curve(history: list[dict], path=None, title: str | None = None):
    """The training loss of every batch (noisy) against the per-epoch averages."""
    fig, ax = plt.subplots(figsize=(WIDTH, 2.1))
    losses = [loss for e in history for loss in e["batch_losses"]]
    ax.plot(np.arange(1, len(losses) + 1), losses, linewidth=0.4, color="0.6", label="training loss of each batch")
    steps = len(history[0]["batch_losses"]) if history else 0
    ax.plot([e["epoch"] * steps for e in history], [e["train_loss"] for e in history],
            marker="o", markersize=3, color="black", label="training loss, epoch average")
    ax.set_xlabel("iteration (optimizer step)")
    ax.set_ylabel("cross-entropy loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save(fig, path)


@sized
def digit_grid(images: np.ndarray, titles: list[str], path=None, cols: int = 10, title: str | None = None):
    rows = math.ceil(len(images) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.48, rows * 0.62))
    for ax in np.atleast_1d(axes).flat:
        ax.axis("off")
    for ax, img, t in zip(np.atleast_1d(axes).flat, images, titles):
        ax.imshow(np.asarray(img).reshape(28, 28), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(t, fontsize=6.5, pad=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)


@sized
def confusion(y_true: np.ndarray, y_pred: np.ndarray, path=None, title: str | None = None):
    """Confusion matrix (counts) and per-class accuracy, side by side."""
    from sklearn.metrics import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=range(10))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(WIDTH, 2.3), gridspec_kw={"width_ratios": [1.2, 1]})
    shown = np.where(np.eye(10, dtype=bool), 0, matrix)  # errors stand out when the diagonal is blank
    ax1.imshow(shown, cmap="Greys")
    for (i, j), count in np.ndenumerate(matrix):
        if count and i != j:  # the diagonal's counts (hundreds) would run into the ticks: its share is on the right
            ax1.text(j, i, str(count), ha="center", va="center", fontsize=6,
                     color="white" if shown[i, j] > shown.max() / 2 else "black")
    ax1.set_xticks(range(10))
    ax1.set_yticks(range(10))
    ax1.set_xlabel("predicted digit")
    ax1.set_ylabel("true digit")
    ax1.set_title("mistakes: true digit against predicted")
    per_class = 100 * matrix.diagonal() / matrix.sum(1).clip(min=1)
    ax2.bar(range(10), per_class, color="0.6", edgecolor="black")
    ax2.set_ylim(max(0, per_class.min() - 3), 100)
    ax2.set_xticks(range(10))
    ax2.set_xlabel("true digit")
    ax2.set_ylabel("accuracy (%)")
    ax2.set_title("per-class validation accuracy" + axis_note(ax2, percent=True))
    ax2.grid(alpha=0.3, axis="y")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)
