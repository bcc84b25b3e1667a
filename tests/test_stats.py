"""The paired rule behind every 'better / worse / not settled' of the notebook, and the summary it reads."""

import math

import pytest

from mnist_assignment import stats


def history(final_acc, epochs=3, train_loss=0.5):
    """A run whose validation accuracy climbs to final_acc."""
    return [{"epoch": e, "train_loss": train_loss, "train_acc": final_acc + 0.01, "val_loss": 1.0 / e,
             "val_acc": final_acc - 0.01 * (epochs - e), "seconds": 1.0} for e in range(1, epochs + 1)]


def study(**finals):
    """{value: [history per seed]} from {value: [final accuracy per seed]}."""
    return {v: [history(a) for a in accs] for v, accs in finals.items()}


def test_the_interval_is_the_students_t_interval_of_the_per_seed_differences():
    # differences 0.010, 0.012, 0.014: mean 0.012, sd 0.002, t(0.975, 2) = 4.302653
    c = stats.paired({0: 0.96, 1: 0.962, 2: 0.964}, {0: 0.95, 1: 0.95, 2: 0.95})
    half = 4.302653 * 0.002 / math.sqrt(3)
    assert c.diff == pytest.approx(0.012)
    assert (c.low, c.high) == (pytest.approx(0.012 - half, abs=1e-7), pytest.approx(0.012 + half, abs=1e-7))
    assert c.verdict == "better" and stats.interval(c) == "+1.20 [+0.70, +1.70]"


def test_only_the_common_seeds_are_paired_and_one_seed_tells_nothing():
    c = stats.paired({0: 0.9, 5: 0.1}, {0: 0.8, 7: 0.99})
    assert c.seeds == 1 and c.verdict == "tie" and stats.interval(c) == "+10.00 (1 seed)"
    with pytest.raises(ValueError, match="no common seeds"):
        stats.paired({0: 0.9}, {1: 0.9})


@pytest.mark.parametrize("b, verdict, settled, marked", [
    ((0.95, 0.95, 0.95), "better", "better", "better"),  # clears zero by a point
    ((0.9597, 0.9598, 0.9598), "better", "not settled", "better (borderline)"),  # clears zero by < 0.05 points
    ((0.955, 0.965, 0.975), "tie", "not settled", "tie"),
    ((0.97, 0.97, 0.97), "worse", "worse", "worse"),
])
def test_a_borderline_verdict_is_not_settled_and_the_tables_say_so(b, verdict, settled, marked):
    c = stats.paired({0: 0.960, 1: 0.9601, 2: 0.9602}, dict(enumerate(b)))
    assert (c.verdict, c.settled, c.marked) == (verdict, settled, marked)
    shown = stats.display_table(stats.summarise(study(a=[0.960, 0.9601, 0.9602], b=list(b))), "setting", vs="b")
    assert shown.loc["a", "vs b: points [95% CI]"] == f"{stats.interval(c)} {marked}"


def test_verdicts_say_one_word_when_all_agree_and_list_them_otherwise():
    table = stats.summarise(study(a=[0.95, 0.951, 0.949], b=[0.97, 0.972, 0.973], c=[0.96, 0.962, 0.963],
                                  d=[0.95, 0.952, 0.951]))
    assert stats.verdicts(table, ["b", "c"], "a") == "better"
    assert stats.verdicts(table, ["b", "d"], "a") == "better, tie"
    assert stats.verdicts(table, ["a"], ("a by name", stats.row(table, "b").per_seed)) == "worse"
    assert stats.verdicts(table, ["d"], "a", settled=True) == "not settled"


def test_direction_needs_every_step_to_go_the_same_way():
    table = stats.summarise(study(**{"1": [0.97], "2": [0.96], "3": [0.95], "4": [0.955]}))
    assert stats.direction(table, ["1", "2", "3"]) == "falls"
    assert stats.direction(table, ["3", "2", "1"]) == "rises"
    assert stats.direction(table, ["1", "2", "3", "4"]) == "is not monotone"


def test_a_diverged_run_counts_as_chance_and_is_not_averaged():
    runs = {"ok": [history(0.95), history(0.96)], "blown": [history(0.95), history(0.5, train_loss=float("nan"))]}
    table = stats.summarise(runs)
    blown = stats.row(table, "blown")
    assert blown.diverged == 1 and blown.per_seed == {0: 0.95, 1: stats.CHANCE}
    assert blown.final_val_acc == pytest.approx(0.95) and blown.final_val_acc_std == 0.0
    assert stats.verdicts(table, ["blown"], "ok") == "tie"  # one seed of chance level: a wide interval


def test_the_summary_row_holds_the_means_the_tables_show():
    table = stats.summarise(study(x=[0.955, 0.975, 0.965]))
    r = stats.row(table, "x")
    assert r.final_val_acc == pytest.approx(0.965) and r.final_val_acc_std == pytest.approx(0.01)
    assert r.epochs_to_95 == pytest.approx((3 + 1 + 2) / 3)  # the first epoch at or above 95%
    assert stats.gap(r) == pytest.approx(0.01) and r.seeds == 3 and r.seconds_per_run == 3.0
    shown = stats.display_table(table, "setting", vs=[("ref", {0: 0.94, 1: 0.96, 2: 0.95})])
    assert shown.loc["x", "final val acc %"] == "96.50 ± 1.00"
    assert shown.loc["x", "vs ref: points [95% CI]"] == "+1.50 [+1.50, +1.50] better"  # the same gain on every seed


def test_a_table_shows_the_decimals_it_was_rounded_to():
    import re

    import pandas as pd

    table = pd.DataFrame({"loss": [0.5677, 0.28], "share %": [10.12, 9.5], "run": ["a", "b"]}).round(4)
    cells = re.findall(r">([^<>]+)</td>", stats.captioned(table, "Table 1: x").to_html())
    assert cells == ["0.5677", "10.1200", "a", "0.2800", "9.5000", "b"]  # one precision for the table, not six
    assert stats.decimals(pd.Series([9.8, 11.03, float("nan")])) == 2
    assert stats.decimals(pd.Series([1 / 3])) == 6  # never rounded: as many as a Styler shows
