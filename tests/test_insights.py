import math
from dataclasses import replace

import pandas as pd
import pytest

from mnist_assignment import insights
from mnist_assignment.config import PRESETS
from mnist_assignment.experiments import paired, ranking


def table(rows):
    """rows: (value, per-seed final accuracies); mean and std follow from them."""
    base = {"best_val_acc": 0.9, "best_val_acc_std": 0.0, "final_train_acc": 0.95, "final_val_loss": 0.1,
            "epochs_to_95": math.nan, "seconds_per_run": 1.0, "diverged": 0}
    out = []
    for value, accs in rows:
        s = pd.Series(accs)
        out.append({**base, "value": value, "final_val_acc": s.mean(), "final_val_acc_std": s.std(ddof=1),
                    "seeds": len(accs), "per_seed": dict(enumerate(accs))})
    return pd.DataFrame(out)


def test_the_rule_names_a_clear_win():
    c = paired({0: 0.980, 1: 0.981, 2: 0.979}, {0: 0.970, 1: 0.972, 2: 0.969})
    assert c.verdict == "better" and c.low > 0 and c.seeds == 3
    assert paired({0: 0.970, 1: 0.972, 2: 0.969}, {0: 0.980, 1: 0.981, 2: 0.979}).verdict == "worse"


def test_the_rule_calls_a_tie_a_tie():
    c = paired({0: 0.970, 1: 0.968, 2: 0.971}, {0: 0.969, 1: 0.970, 2: 0.970})
    assert c.verdict == "tie" and c.low < 0 < c.high


def test_a_one_seed_fluke_is_not_a_win():
    # higher mean only because one seed did much better; the other two are worse
    fluke, steady = {0: 0.990, 1: 0.969, 2: 0.968}, {0: 0.970, 1: 0.970, 2: 0.970}
    assert sum(fluke.values()) > sum(steady.values())
    assert paired(fluke, steady).verdict == "tie"


def test_paired_beats_unpaired_when_seeds_move_together():
    # the seed-to-seed spread (1 point) dwarfs the difference, but every seed shows the same +0.2
    a, b = {0: 0.960, 1: 0.970, 2: 0.980}, {0: 0.958, 1: 0.968, 2: 0.978}
    assert paired(a, b).verdict == "better"


def test_one_seed_can_never_tell_values_apart():
    assert paired({0: 0.99}, {0: 0.5}).verdict == "tie"
    with pytest.raises(ValueError):
        paired({0: 0.9}, {1: 0.9})


def test_wording_follows_the_rule():
    tied = table([(16, [0.970, 0.968, 0.972]), (32, [0.969, 0.970, 0.968]), (64, [0.950, 0.951, 0.949])])
    text = insights.describe_best_and_ties(tied, "batch size")
    assert "at batch size 16" in text and "32 cannot be told apart from it with 3 seeds" in text
    assert "64" not in text.split("apart")[0].split("size 16")[1]
    clear = table([(0.1, [0.980, 0.981, 0.979]), (0.01, [0.950, 0.951, 0.952])])
    assert "better than every other value" in insights.describe_best_and_ties(clear, "learning rate")
    assert ranking(clear) == (0.1, [], [0.01])


def test_grammar_has_no_placeholders():
    assert insights.plural(1, "seed") == "1 seed" and insights.plural(3, "seed") == "3 seeds"
    assert insights.span(1, 1) == "epoch 1" and insights.span(2, 5) == "epochs 2 to 5"
    assert insights.join_words(["a", "b", "c"]) == "a, b and c"
    assert insights.points(0.01) == "1.00 point" and insights.points(0.02) == "2.00 points"


def test_trend_is_not_decided_by_one_epoch():
    assert insights.trend([1.0, 0.9, 0.8, 0.7, 0.6, 0.5]) == "falling"
    assert insights.trend([0.5, 0.5, 0.5, 0.5, 0.49, 0.51]) == "flat"  # last epoch up, but within the band
    assert insights.trend([0.5, 0.5, 0.5, 0.55, 0.56, 0.57]) == "rising"
    assert insights.trend([0.5, 0.4]) == "too short to tell"


def test_values_print_without_float_noise():
    assert insights.fmt_value(16.0) == "16" and insights.fmt_value(0.001) == "0.001"
    assert insights.fmt_value("dropout 0.2") == "dropout 0.2"
    assert insights.epochs_text(math.nan).startswith("never")


def test_regularization_wording_follows_the_numbers():
    reg = table([("none", [0.9675, 0.9665, 0.9685]), ("dropout 0.2", [0.9668, 0.9670, 0.9660]),
                 ("LayerNorm", [0.9673, 0.9690, 0.9660]), ("dropout 0.2 + LayerNorm", [0.9500, 0.9510, 0.9490])])
    drop = table([(0.1, [0.9686, 0.9680, 0.9690]), (0.9, [0.466, 0.40, 0.50])])
    reg["final_train_acc"] = 0.99
    text = insights.regularization_insight(reg, drop)
    assert "The highest mean of the four is **none**, but dropout 0.2 and LayerNorm cannot be told apart" in text
    assert "does not pay off" in text
    better = table([("none", [0.9675, 0.9665, 0.9685]), ("dropout 0.2", [0.9775, 0.9766, 0.9786]),
                    ("LayerNorm", [0.9673, 0.9690, 0.9660]), ("dropout 0.2 + LayerNorm", [0.9500, 0.9510, 0.9490])])
    better["final_train_acc"] = 0.99
    assert "and it does" in insights.regularization_insight(better, drop)


def test_equal_budget_reads_the_mlp_at_the_cnns_epochs_and_seconds():
    def history(accs, seconds):
        return {"epochs": [{"epoch": i + 1, "val_acc": a, "seconds": seconds} for i, a in enumerate(accs)]}

    cnn = history([0.98, 0.99], 30.0)  # 2 epochs, 60 s
    mlp = history([0.95, 0.96, 0.97, 0.975, 0.98], 12.0)  # 12 s an epoch: 5 epochs by 60 s
    text = insights.equal_budget(cnn, mlp, 4_200_000, 1_800_000)
    assert "4.20 M multiply-adds" in text and "1.80 M" in text
    assert "At equal epochs (2), the MLP was at 96.00% against the CNN's 99.00%" in text
    assert "at equal wall time (60 s), the MLP had reached 98.00% (epoch 5)" in text
    slow = history([0.9], 100.0)
    assert "had not finished one epoch" in insights.equal_budget(cnn, slow, 1, 1)


def test_the_runtime_line_counts_results_and_the_runs_behind_them():
    from types import SimpleNamespace as NS

    def result(lr, seconds):
        return NS(config={"lr": lr}, seconds=seconds, history={"stacked": 2})

    shared = result(0.01, 10.0)  # the baseline appears in both studies: one run, two results
    runs = {"lr": [shared, result(0.1, 10.0)], "dropout": [shared, result(0.01 + 1e-9, 10.0)]}
    # a single model whose config is also a study's run trains once; the other is a run of its own
    trained = {"same": (None, NS(config={"lr": 0.1}, seconds=10.0)), "cnn": (None, NS(config={"cnn": 1}, seconds=50.0))}
    line = insights.study_runtime(runs, 40.0, True, trained)
    assert line.startswith("6 results (the studies' 4 and section 7's 2 single models) from 4 distinct runs, 3 of them")
    assert "add up to 80 s of single-core time" in line and "cnn (50 s on one core)" in line
    assert insights.study_runtime(runs, 40.0, True).startswith("4 results from 3 distinct runs")


def test_the_presets_description_follows_their_configs():
    cnn, mlp = PRESETS["cnn"], PRESETS["best-mlp"]
    text = insights.cnn_recipe(cnn, mlp, 3)
    assert "three 3×3 convolution blocks of 16, 32 and 64 channels" in text and "batch 64, 16 epochs" in text
    assert "9 copies" in text
    assert ("two hidden layers of 1,024 units and LayerNorm, by the same training recipe plus elastic distortions "
            "of strength 15 (" in text)
    assert "at batch 128 for 20 epochs; it too predicts from 9 shifted copies." in text
    assert "3 seeds" in text
    other = insights.cnn_recipe(replace(cnn, channels=(8, 16), batchnorm=False, tta=0, epochs=1),
                                replace(mlp, optimizer="sgd", schedule="constant", layernorm=False, dropout=0.3,
                                        elastic=0.0, tta=0), 1)
    assert "two 3×3 convolution blocks of 8 and 16 channels (each: convolution, 2×2 max-pool, ReLU)" in other
    assert "1 epoch." in other and "copies" not in other and "seeds" not in other
    assert ("two hidden layers of 1,024 units and dropout 0.3, with SGD, label smoothing 0.1 and random shifts of "
            "up to 2 pixels as augmentation, at batch 128 for 20 epochs." in other)
    assert "elastic" not in other and "predicts" not in other.split("`best-mlp`")[1]


def test_the_training_recipe_names_each_augmentation():
    base = PRESETS["best-mlp"]
    assert insights.training_recipe(replace(base, elastic=0.0, shift=0)).endswith("label smoothing 0.1")
    both = insights.training_recipe(base)
    assert both.endswith("random shifts of up to 2 pixels plus elastic distortions of strength 15 (every training "
                         "digit bent along its own random smooth displacement field) as augmentation")
    only = insights.training_recipe(replace(base, shift=0, elastic=7.5))
    assert "label smoothing 0.1 and elastic distortions of strength 7.5 (" in only and "shifts" not in only


def test_a_figure_over_seeds_says_how_many_and_the_lowest():
    assert insights.over_seeds([0.9957, 0.9960, 0.9957]) == "99.58 ± 0.02% over 3 seeds (lowest 99.57%)"
    assert insights.over_seeds([0.9957]) == "99.57% (1 seed)"
