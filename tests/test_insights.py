import math

import pandas as pd

from mnist_assignment import insights


def table(rows):
    base = {"best_val_acc": 0.9, "best_val_acc_std": 0.0, "final_train_acc": 0.95, "final_val_loss": 0.1,
            "epochs_to_95": math.nan, "seconds_per_run": 1.0, "seeds": 3, "diverged": 0}
    return pd.DataFrame([{**base, "value": v, "final_val_acc": m, "final_val_acc_std": s} for v, m, s in rows])


def test_no_winner_is_called_inside_the_noise():
    text = insights.describe_best_and_ties(table([(16, 0.970, 0.002), (32, 0.969, 0.002), (64, 0.950, 0.001)]),
                                           "batch size")
    assert "97.00 ± 0.20%" in text and "batch size = 16" in text
    assert "32 is within one" in text and "64" not in text.split("within")[0].split("=")[-1][3:]


def test_a_clear_winner_is_said_to_be_clear():
    text = insights.describe_best_and_ties(table([(0.1, 0.98, 0.001), (0.01, 0.95, 0.001)]), "learning rate")
    assert "ahead of the runner-up by more than the seed-to-seed spread" in text


def test_values_print_without_float_noise():
    assert insights.fmt_value(16.0) == "16" and insights.fmt_value(0.001) == "0.001"
    assert insights.fmt_value("dropout 0.2") == "dropout 0.2"
    assert insights.epochs_text(math.nan).startswith("never")


def test_regularization_wording_follows_the_numbers():
    reg = table([("none", 0.9675, 0.001), ("dropout 0.2", 0.9668, 0.001), ("LayerNorm", 0.9673, 0.0016),
                 ("dropout 0.2 + LayerNorm", 0.9642, 0.0009)])
    drop = table([(0.1, 0.9686, 0.0005), (0.9, 0.466, 0.13)])
    reg["final_train_acc"] = 0.99
    text = insights.regularization_insight(reg, drop)
    assert "The highest mean of the four is **none**, but dropout 0.2, LayerNorm are within noise" in text
    assert "does not pay off" in text
    reg.loc[1, "final_val_acc"] = 0.975
    assert "and it does" in insights.regularization_insight(reg, drop)
