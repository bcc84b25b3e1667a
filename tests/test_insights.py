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
