"""The written analysis and its checks: the check prints only disagreements, and every number in an
analysis cell is checked by the cell under it (no run needed)."""

import ast
import json
from pathlib import Path

import pandas as pd

from mnist_assignment import claims, stats

NOTEBOOK = Path(__file__).resolve().parent.parent / "mnist_assignment.ipynb"


def cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def text(cell) -> str:
    return "".join(cell["source"])


def test_a_claim_that_holds_prints_nothing(capsys):
    assert claims.differences({"lr 0.1 final val acc %": ("97.44", claims.pct(0.97441))}) == []
    assert claims.check({"lr 0.1 final val acc %": ("97.44", claims.pct(0.97441))}) is None  # nothing to display
    assert capsys.readouterr().out == ""


def test_a_claim_that_fails_prints_the_differs_line(capsys):
    wrong = {"lr 0.1 final val acc %": ("97.44", claims.pct(0.9701)), "verdict": ("tie", "tie")}
    lines = claims.differences(wrong)
    claims.check(wrong)
    out = capsys.readouterr().out
    assert lines and out.startswith(claims.DIFFERS)
    assert "lr 0.1 final val acc %" in out and "97.44" in out and "97.01" in out and "verdict" not in out


def test_formats_match_the_text():
    assert claims.pct(0.9744) == "97.44" and claims.pct(float("nan")) == "diverged"
    assert claims.pts(-0.0017) == "-0.17" and claims.num(float("nan")) == "never" and claims.num(6.33) == "6.3"
    assert claims.trend([1, 1, 1, 0.9, 0.9, 0.9]) == "still falling"
    assert claims.trend([1, 1, 1, 1, 1, 1.001]) == "flat"
    r = pd.Series({"final_val_acc": 0.9744, "final_val_acc_std": 0.0005, "seeds": 3})
    assert claims.pm(r) == "97.44 ± 0.05"


def test_the_table_shows_the_interval_behind_each_verdict():
    table = pd.DataFrame([
        {"value": v, "final_val_acc": sum(a) / 3, "final_val_acc_std": 0.001, "final_train_acc": 0.99,
         "final_val_loss": 0.1, "epochs_to_95": float("nan"), "seconds_per_run": 1.0, "seeds": 3, "diverged": 0,
         "per_seed": dict(enumerate(a))}
        for v, a in ((0.1, (0.980, 0.981, 0.979)), (0.01, (0.970, 0.972, 0.969)))])
    shown = stats.display_table(table, "lr", vs=0.01)
    cell = shown.loc["0.1", "vs 0.01: points [95% CI]"]
    assert cell.startswith("+0.97 [") and cell.endswith("better")
    assert "diverged" not in shown.columns and "train−val gap" in shown.columns


def test_numbers_extraction_skips_references():
    assert claims.numbers("Figure 5.1 and Table 7.2 show 97.44 ± 0.05% (section 5.1); 42,000 steps") == {
        "97.44", "0.05", "42000"}


def analysis_cells():
    """(markdown text, the strings of the check cell under it) for every markdown cell from section 4 on."""
    cs = cells()
    start = next(i for i, c in enumerate(cs) if text(c).startswith("## 4."))
    out = []
    for i in range(start, len(cs)):
        if cs[i]["cell_type"] != "markdown":
            continue
        checker = next((c for c in cs[i + 1:] if c["cell_type"] == "code" and "check(" in text(c)), None)
        strings = set()
        if checker is not None:
            strings = {n.value for n in ast.walk(ast.parse(text(checker)))
                       if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        out.append((text(cs[i]), strings))
    return out


def test_every_number_in_the_analysis_is_checked():
    unchecked = []
    for md, strings in analysis_cells():
        known = set(claims.EXEMPT).union(*(claims.numbers(s) for s in strings))
        missing = claims.numbers(md) - known
        if missing:
            unchecked.append(f"{md.splitlines()[0][:60]!r}: {sorted(missing)}")
    assert not unchecked, "numbers in the text that no check covers:\n" + "\n".join(unchecked)


def test_the_analysis_is_long_enough_and_sourced():
    words = sum(len(md.split()) for md, _ in analysis_cells())
    assert words >= 1200
    assert not any("reference project" in text(c) for c in cells())


def test_the_committed_notebook_shows_no_disagreement():
    for c in cells():
        for out in c.get("outputs", []):
            shown = "".join(out.get("text", "")) + json.dumps(out.get("data", {}))
            assert claims.DIFFERS not in shown


def test_check_cells_hide_their_code():
    checkers = [c for c in cells() if c["cell_type"] == "code" and "check(" in text(c)]
    assert len(checkers) >= 12
    for c in checkers:
        assert "remove-input" in c["metadata"].get("tags", [])
