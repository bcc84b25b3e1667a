"""The paired rule behind every 'better / worse / too close to call' of the notebook, and the summary it reads."""

import math

import pytest

from mnist_assignment import stats


def history(final_acc, epochs=3, train_loss=0.5, **last):
    """A run whose validation accuracy climbs to final_acc; `last` adds keys to its last epoch."""
    out = [{"epoch": e, "train_loss": train_loss, "train_acc": final_acc + 0.01, "val_loss": 1.0 / e,
            "val_acc": final_acc - 0.01 * (epochs - e), "seconds": 1.0} for e in range(1, epochs + 1)]
    out[-1].update(last)
    return out


def study(**finals):
    """{value: [history per seed]} from {value: [final accuracy per seed]}."""
    return {v: [history(a) for a in accs] for v, accs in finals.items()}


def test_the_interval_is_the_students_t_interval_of_the_per_seed_differences():
    # differences 0.010, 0.012, 0.014: mean 0.012, sd 0.002, t(0.975, 2) = 4.302653
    c = stats.paired({0: 0.96, 1: 0.962, 2: 0.964}, {0: 0.95, 1: 0.95, 2: 0.95})
    half = 4.302653 * 0.002 / math.sqrt(3)
    assert c.diff == pytest.approx(0.012)
    assert (c.low, c.high) == (pytest.approx(0.012 - half, abs=1e-7), pytest.approx(0.012 + half, abs=1e-7))
    assert c.word == "better" and stats.interval(c) == "+1.20 [+0.70, +1.70]"


def test_only_the_common_seeds_are_paired_and_one_seed_tells_nothing():
    c = stats.paired({0: 0.9, 5: 0.1}, {0: 0.8, 7: 0.99})
    assert c.seeds == 1 and not c.judged and c.word == "one seed" and stats.interval(c) == "+10.00"
    with pytest.raises(ValueError, match="no common seeds"):
        stats.paired({0: 0.9}, {1: 0.9})


@pytest.mark.parametrize("b, word", [
    ((0.95, 0.95, 0.95), "better"),  # clears zero by a point
    ((0.9597, 0.9598, 0.9598), "too close to call"),  # clears zero, but by less than 0.05 points
    ((0.955, 0.965, 0.975), "too close to call"),
    ((0.97, 0.97, 0.97), "worse"),
])
def test_the_rule_says_better_or_worse_only_when_the_interval_clears_zero_by_a_margin(b, word):
    c = stats.paired({0: 0.960, 1: 0.9601, 2: 0.9602}, dict(enumerate(b)))
    assert c.word == word
    shown = stats.display_table(stats.summarise(study(a=[0.960, 0.9601, 0.9602], b=list(b))), "setting", vs="b")
    assert shown.loc["a", "vs b: points [95% CI]"] == f"{stats.interval(c)} {word}"


def test_a_diverged_seed_is_never_put_into_an_interval():
    runs = {"ok": [history(0.95), history(0.96), history(0.955)],
            "blown": [history(0.95), history(0.5, train_loss=float("nan")), history(0.951)]}
    table = stats.summarise(runs)
    blown = stats.row(table, "blown")
    assert blown.diverged == 1 and math.isnan(blown.per_seed[1])
    c = stats.compare(table, "blown", "ok")
    assert c.failed == "diverged on 1 of 3 seeds" and not c.judged and c.word == c.failed
    assert math.isnan(c.low) and math.isnan(c.high) and math.isnan(c.diff)
    shown = stats.display_table(table, "setting", vs="ok")
    assert shown.loc["blown", "final val acc %"] == "diverged on 1 of 3 seeds"  # not the mean of the other two
    assert shown.loc["blown", "vs ok: points [95% CI]"] == "diverged on 1 of 3 seeds"
    assert "against a reference diverged on 1 of 3 seeds" == stats.compare(table, "ok", "blown").word


def test_a_collapsed_seed_is_not_averaged_into_an_interval_wider_than_possible():
    table = stats.summarise(study(none=[0.965, 0.964, 0.966], high=[0.11, 0.28, 0.18]))
    c = stats.compare(table, "high", "none")
    assert c.word == "collapsed on 2 of 3 seeds" and not c.judged
    assert stats.display_table(table, "dropout", vs="none").loc["high", "vs none: points [95% CI]"] == c.word


def test_one_seed_tables_show_no_spread_and_no_verdict():
    shown = stats.display_table(stats.summarise(study(a=[0.97], b=[0.96])), "setting", vs="b")
    assert shown.loc["a", "final val acc %"] == "97.00"
    assert shown.loc["a", "vs b: points [95% CI]"] == "+1.00"
    text = shown.to_string()
    assert "±" not in text and not any(w in text for w in ("better", "worse", "close", "tie"))


def test_the_tables_use_plain_words():
    table = stats.summarise(study(a=[0.95, 0.951, 0.949], b=[0.97, 0.972, 0.973], c=[0.9598, 0.9599, 0.96],
                                  d=[0.96, 0.9601, 0.9602]))
    text = stats.display_table(table, "setting", vs=["a", "d"]).to_string()
    assert "better" in text and "worse" in text and "too close to call" in text
    assert not any(w in text for w in ("tie", "settled", "borderline"))


def test_a_value_the_run_does_not_have_is_missing():
    table = stats.summarise(study(a=[0.95, 0.96], b=[0.97, 0.98]))
    runs = {**study(a=[0.95]), "blown": [history(0.5, train_loss=float("inf"))]}
    for call in (lambda: stats.row(table, 0.3), lambda: stats.compare(table, "a", 0.3),
                 lambda: stats.compare(table, 0.3, "a"), lambda: stats.curve(runs, 0.3, "val_loss"),
                 lambda: stats.direction(table, ["a", 0.3])):
        with pytest.raises(stats.Missing) as info:
            call()
        assert isinstance(info.value, KeyError)
    assert str(stats.Missing("0.3")) == "0.3"  # not KeyError's quoted repr
    assert stats.curve(runs, "blown", "val_loss").size == 0  # studied, and diverged: no curve to draw


def test_a_table_leaves_out_a_reference_the_run_does_not_have():
    shown = stats.display_table(stats.summarise(study(a=[0.96, 0.97], b=[0.95, 0.96])), "setting", vs=[0.3, "b"])
    assert [c for c in shown.columns if c.startswith("vs ")] == ["vs b: points [95% CI]"]


def test_a_comparison_with_another_tables_reference_is_named_by_it():
    table = stats.summarise(study(a=[0.96, 0.962, 0.964]))
    c = stats.compare(table, "a", ("no dropout", {0: 0.95, 1: 0.95, 2: 0.95}))
    assert (c.a, c.b, c.word) == ("a", "no dropout", "better")


def test_direction_needs_every_step_to_go_the_same_way():
    table = stats.summarise(study(**{"1": [0.97], "2": [0.96], "3": [0.95], "4": [0.955]}))
    assert stats.direction(table, ["1", "2", "3"]) == "falls"
    assert stats.direction(table, ["3", "2", "1"]) == "rises"
    assert stats.direction(table, ["1", "2", "3", "4"]) == "is not monotone"


def test_the_summary_row_holds_the_means_the_tables_show():
    table = stats.summarise(study(x=[0.955, 0.975, 0.965]))
    r = stats.row(table, "x")
    assert r.final_val_acc == pytest.approx(0.965) and r.final_val_acc_std == pytest.approx(0.01)
    assert r.epochs_to_95 == pytest.approx((3 + 1 + 2) / 3)  # the first epoch at or above 95%
    assert stats.gap(r) == pytest.approx(0.01) and r.seeds == 3 and r.seconds_per_run == 3.0
    shown = stats.display_table(table, "setting", vs=[("ref", {0: 0.94, 1: 0.96, 2: 0.95})])
    assert shown.loc["x", "final val acc %"] == "96.50 ± 1.00"
    assert shown.loc["x", "vs ref: points [95% CI]"] == "+1.50 [+1.50, +1.50] better"  # the same gain on every seed


def test_the_gap_uses_the_final_model_on_the_training_part_when_the_loop_measured_it():
    measured = stats.summarise({"x": [history(0.96, train_acc_eval=0.99), history(0.97, train_acc_eval=0.98)]})
    running = stats.summarise({"x": [history(0.96), history(0.97)]})  # no train_acc_eval: the running average
    assert stats.gap(stats.row(measured, "x")) == pytest.approx(0.985 - 0.965)
    assert stats.gap(stats.row(running, "x")) == pytest.approx(0.01)


def test_best_value_skips_diverged_values():
    runs = {**study(a=[0.95], b=[0.96]), "c": [history(0.99, train_loss=float("nan"))]}
    assert stats.best_value(stats.summarise(runs)) == "b"


def test_a_table_shows_the_decimals_it_was_rounded_to():
    import re

    import pandas as pd

    table = pd.DataFrame({"loss": [0.5677, 0.28], "share %": [10.12, 9.5], "run": ["a", "b"]}).round(4)
    cells = re.findall(r">([^<>]+)</td>", stats.captioned(table, "Table 1: x").to_html())
    assert cells == ["0.5677", "10.1200", "a", "0.2800", "9.5000", "b"]  # one precision for the table, not six
    assert stats.decimals(pd.Series([9.8, 11.03, float("nan")])) == 2
    assert stats.decimals(pd.Series([1 / 3])) == 6  # never rounded: as many as a Styler shows
