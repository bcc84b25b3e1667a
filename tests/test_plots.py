"""The study figures show every curve they draw, with legends and ticks a reader can use."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from mnist_assignment import plots  # noqa: E402


def history(start, final, epochs=20, diverge=False):
    out = []
    for e in range(1, epochs + 1):
        acc = start + (final - start) * (1 - np.exp(-e / 4))
        out.append({"epoch": e, "train_loss": float("nan") if diverge else 0.1 + 1 / e, "train_acc": acc,
                    "val_loss": 0.12 + 1 / e, "val_acc": acc, "seconds": 1.0})
        if diverge:
            break
    return out


def test_every_curve_lies_inside_its_accuracy_axis():
    # a slow rate far below the others, a collapsed dropout near chance: both must stay in view
    study = {0.001: [history(0.70, 0.928)] * 3, 0.1: [history(0.95, 0.975)] * 3, 0.9: [history(0.11, 0.19)] * 3,
             1.0: [history(0.1, 0.1, diverge=True)] * 3}
    fig = plots.study_curves(study, "learning rate")
    for ax in fig.axes:
        if ax.get_yscale() != "logit":
            continue
        low, high = ax.get_ylim()
        ys = np.concatenate([line.get_ydata() for line in ax.get_lines() if len(line.get_ydata())])
        assert low < ys.min() and ys.max() < high
        assert len(ax.get_yticks()) >= 2


def test_a_one_row_figure_without_bands_draws_two_panels_and_no_band():
    study = {v: [history(0.9, 0.97)] * 3 for v in ("SGD lr 0.1", "Adam lr 0.001")}
    fig = plots.study_curves(study, "optimizer", metrics=("val_loss", "val_acc"), bands=False)
    panels = [ax for ax in fig.axes if ax.get_lines()]
    assert len(panels) == 2 and not any(ax.collections for ax in panels)


def test_legends_use_one_row_when_the_labels_fit_and_read_row_by_row():
    short = ["learning rate:", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1 (diverged 3/3)"]
    assert plots.legend_columns(short) == len(short)
    long = ["optimizer:"] + [f"momentum lr 0.0{i} with a long name" for i in range(6)]
    ncol = plots.legend_columns(long)
    assert 1 <= ncol < len(long)
    items = list("abcde")
    # matplotlib fills columns first: with 3 columns the reordered list must read a b c / d e in rows
    assert plots.row_major(items, 3, blank="") == ["a", "d", "b", "e", "c", ""]


def test_the_confusion_matrix_prints_the_mistakes_only():
    truth = np.repeat(np.arange(10), 100)
    pred = truth.copy()
    pred[:3] = 7  # three 0s read as 7
    fig = plots.confusion(truth, pred)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["3"]


def test_the_title_counts_each_settings_seeds_when_they_differ():
    same = plots.study_curves({v: [history(0.9, 0.97)] * 3 for v in ("a", "b")}, "x", title="Figure 1: t")
    assert same._suptitle.get_text() == "Figure 1: t, mean ± std over 3 seeds"
    mixed = plots.study_curves({"CNN": [history(0.9, 0.99)] * 4, "MLP": [history(0.9, 0.97)] * 3}, "model",
                               title="Figure 2: t")
    assert mixed._suptitle.get_text() == "Figure 2: t, mean ± std over 4 seeds (CNN) and 3 seeds (MLP)"
