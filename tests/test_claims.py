"""The analysis bound to the run: what a check cell prints under its paragraph, and the verifier that
reads a saved notebook and names every sentence its text no longer states as the run recorded it."""

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mnist_assignment import claims, records, stats, verify
from mnist_assignment.claims import check, claim, fact, ranking, setup, verdict

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_kernel():
    """Each test starts as a fresh kernel does: no setup seen, no one-seed line said."""
    claims.reset()
    yield
    claims.reset()


@pytest.fixture
def shown(monkeypatch):
    """The records check() would attach to its cell's output."""
    kept = []
    monkeypatch.setattr(records, "show", lambda mime, rec: kept.append((mime, rec)) or True)
    return kept


def printed(capsys, *items, quick=False) -> list[str]:
    check(*items, quick=quick)
    return capsys.readouterr().out.splitlines()


def history(final_acc, epochs=3, train_loss=0.5):
    return [{"epoch": e, "train_loss": train_loss, "train_acc": final_acc, "val_loss": 1.0 / e,
             "val_acc": final_acc - 0.01 * (epochs - e), "seconds": 1.0} for e in range(1, epochs + 1)]


def table(name=None, **finals):
    """A summary table from {value: [final accuracy per seed]}."""
    return stats.summarise({v: [history(a) for a in accs] for v, accs in finals.items()}, name)


def comparison(*diffs):
    """A paired comparison whose per-seed differences (in fractions) are diffs."""
    return stats.paired({s: 0.9 + d for s, d in enumerate(diffs)}, {s: 0.9 for s in range(len(diffs))})


# ---------------------------------------------------------------- binding a phrase


def test_a_phrase_binds_the_bracketed_value():
    c = fact("lifts the accuracy **from** [96.58 ± 0.08]%\n  to", "96.60 ± 0.08")
    assert c.phrase == "lifts the accuracy from [96.58 ± 0.08]% to"
    assert c.text == "96.58 ± 0.08" and c.plain == "lifts the accuracy from 96.58 ± 0.08% to"


@pytest.mark.parametrize("phrase", ["no value here", "from [96.58]% to [97.44]%", "an empty [] value", "a [stray"])
def test_a_phrase_needs_exactly_one_bracketed_value(phrase):
    for make in (fact, claim, ranking, setup):
        with pytest.raises(ValueError, match="exactly one"):
            make(phrase, "x")


def test_a_verdict_takes_a_word_and_optionally_its_effect():
    c = verdict("16 is [better] than 64 ([+0.72] points", comparison(0.007, 0.0072, 0.0074))
    assert c.texts == ["better", "+0.72"] and c.plain == "16 is better than 64 (+0.72 points"
    with pytest.raises(ValueError, match="one to 2"):
        verdict("[a] [b] [c]", None)
    with pytest.raises(ValueError, match="signed number of points"):
        verdict("16 is [better] than 64 ([0.72] points", None)
    with pytest.raises(TypeError, match="stats.Comparison"):
        check(verdict("16 is [better] than 64", "better"))  # a bare word, no Comparison: refused


# ---------------------------------------------------------------- what a check cell prints


def test_a_run_that_agrees_prints_nothing_and_records_every_claim(capsys, shown):
    assert printed(capsys, fact("reaches [97.44]% at 0.1", "97.44"), claim("blows up on [3 of 3] seeds", "3 of 3"),
                   verdict("0.1 is [better] than 0.01", comparison(0.01, 0.011, 0.012))) == []
    (mime, rec), = shown
    assert mime == records.CLAIMS and rec["quick"] is False and set(rec) == {"quick", "claims"}
    assert [(c["kind"], c["text"], c["got"], c["status"]) for c in rec["claims"]] == [
        ("fact", "97.44", "97.44", "agrees"), ("claim", "3 of 3", "3 of 3", "agrees"),
        ("verdict", "better", "better", "agrees")]


def test_moved_numbers_print_one_quiet_line(capsys):
    out = printed(capsys, fact("from [96.58 ± 0.08]% to", "96.61 ± 0.09"), fact("to [97.44]% at 0.1", "97.40"))
    assert out == ["This run: from 96.61 ± 0.09% to; to 97.40% at 0.1 — the conclusions above hold."]


def test_a_conclusion_that_fails_prints_the_differs_line(capsys, shown):
    out = printed(capsys, fact("to [97.44]% at 0.1", "97.40"), claim("every seed ends [above] 95%", "not above"))
    assert out == ["Differs from the text: every seed ends above 95%: the text says above, this run not above.",
                   "This run: to 97.40% at 0.1."]
    assert shown[0][1]["claims"][1]["status"] == "differs"


def test_a_quick_run_prints_nothing(capsys, shown):
    assert printed(capsys, claim("every seed ends [above] 95%", "not above"), quick=True) == []
    assert shown[0][1]["quick"] is True


def test_a_value_the_run_does_not_have_is_one_line_and_no_exception(capsys, shown):
    lr = table(name="lr", **{"0.01": [0.96, 0.961], "0.1": [0.97, 0.972]})  # a student took 0.3 out
    out = printed(capsys,
                  fact("0.3 reaches [97.00 ± 0.38]%", lambda: claims.pm(stats.row(lr, 0.3))),
                  claim("0.3 is [not diverged]", lambda: "diverged" if stats.row(lr, 0.3).diverged else "not diverged"),
                  verdict("0.3 against 0.1 is [too close to call]", lambda: stats.compare(lr, 0.3, "0.1")),
                  fact("0.1 reaches [97.10]%", lambda: claims.pct(stats.row(lr, "0.1").final_val_acc)))
    assert out == ["Not in this run: lr 0.3; the text's sentences about it are not checked."]
    assert [c["status"] for c in shown[0][1]["claims"]] == ["missing", "missing", "missing", "agrees"]


def test_a_failing_computation_is_not_hidden_when_the_setup_is_the_texts(capsys):
    with pytest.raises(IndexError):
        check(fact("after [20] epochs", lambda: [1, 2][5]))


# ---------------------------------------------------------------- the setup the text describes


def test_a_setup_that_differs_is_one_line_and_the_facts_fall_silent(capsys, shown):
    accuracy = table(a=[0.96, 0.962, 0.964], b=[0.95, 0.95, 0.95])
    out = printed(capsys, setup("over [3] seeds", "2"), setup("for [20] epochs", "3"),
                  setup("on [42,000] images", "42,000"),
                  fact("reaches [97.44]% after 20", "93.77"),
                  claim("every seed ends [above] 95%", lambda: [][0]),  # epoch 20 of a 3-epoch run: not judged
                  ranking("b ends [below] a", "above"),
                  verdict("a is [better] than b", lambda: stats.compare(accuracy, "a", "b")))
    assert out == ["This run: over 2 seeds, for 3 epochs; the text describes over 3 seeds, for 20 epochs.",
                   "Differs from the text: b ends below a: the text says below, this run above."]
    assert claims.other_setup()
    assert [c["status"] for c in shown[0][1]["claims"]] == ["differs", "differs", "agrees", "not judged",
                                                            "not judged", "differs", "agrees"]
    # the cells after it: facts and claims stay silent, the verdicts are judged
    assert printed(capsys, fact("reaches [97.44]% at 0.1", "91.00"), claim("it is [above] 95%", "not above"),
                   verdict("a is [worse] than b", lambda: stats.compare(accuracy, "a", "b"))) == [
        "Differs from the text: a is worse than b: the text says worse, this run better, +1.20 [+0.70, +1.70] points."]


def test_other_data_is_named_and_the_text_is_still_judged(capsys, shown):
    """The committed configuration on other data (the bundled sample, a grader's copy): the line names the rows,
    a moved number is a quiet line, and a conclusion that changed is said."""
    out = printed(capsys, setup("on [42,000] images", "8,000", data=True), fact("reaches [97.44]% after 20", "93.77"),
                  claim("every seed ends [above] 95%", "not above"))
    assert out == ["This run: on 8,000 images; the text describes on 42,000 images.",
                   "Differs from the text: every seed ends above 95%: the text says above, this run not above.",
                   "This run: reaches 93.77% after 20."]
    assert not claims.other_setup()
    assert [c["status"] for c in shown[0][1]["claims"]] == ["differs", "moved", "differs"]


def test_the_setup_line_goes_when_the_cell_runs_again_on_the_texts_setup(capsys):
    printed(capsys, setup("over [3] seeds", "2"))
    assert claims.other_setup()
    assert printed(capsys, setup("over [3] seeds", "3")) == [] and not claims.other_setup()
    assert printed(capsys, fact("reaches [97.44]% at 0.1", "97.40")) == [
        "This run: reaches 97.40% at 0.1 — the conclusions above hold."]


def test_submission_problems_name_a_setup_that_differs_and_a_contradicted_claim(shown, capsys):
    check(setup("over [3] seeds", "2"))
    check(ranking("b ends [below] a", "above"), fact("reaches [97.44]% at 0.1", "90.00"))
    capsys.readouterr()
    nb = notebook_of("## 4 Baseline", "Over 3 seeds.", shown[0][1], "B ends below a; it reaches 97.44% at 0.1.",
                     shown[1][1])
    assert verify.submission_problems(nb) == [
        'cell 2 (4 Baseline): the text describes "over 3 seeds", this run 2',
        'cell 4 (4 Baseline): Differs from the text: "b ends below a": the text says below, this run above']


def test_a_run_that_agrees_has_no_submission_problems(shown, capsys):
    check(setup("over [3] seeds", "3"), fact("reaches [97.44]% at 0.1", "97.40"))
    assert verify.submission_problems(notebook_of("## 4 Baseline", "Over 3 seeds.", shown[0][1])) == []


# ---------------------------------------------------------------- one seed


def test_one_seed_is_said_once_and_no_verdict_is_judged(capsys, shown):
    one = stats.summarise({"a": [history(0.97)], "b": [history(0.90)], "c": [history(0.5, train_loss=float("nan"))]})
    first = [verdict("a is [better] than b", lambda: stats.compare(one, "a", "b")),
             fact("a reaches [97.00]%", lambda: claims.pm(stats.row(one, "a")))]
    assert printed(capsys, *first) == [claims.ONE_SEED]
    assert printed(capsys, verdict("b is [worse] than a", lambda: stats.compare(one, "b", "a")),
                   verdict("c is [worse] than a", lambda: stats.compare(one, "c", "a"))) == []
    assert printed(capsys, *first) == [claims.ONE_SEED]  # the cell that said it, run again, says it again
    assert [c["status"] for c in shown[0][1]["claims"]] == ["not judged", "agrees"]
    assert "±" not in claims.pm(stats.row(one, "a"))


# ---------------------------------------------------------------- the replication rule for verdicts


NARROW_BETTER = (0.0070, 0.0072, 0.0074)  # +0.72 [+0.67, +0.77]
WIDE = (-0.002, 0.006, 0.0155)  # +0.65 [-1.53, +2.83]: too close to call
NARROW_WORSE = (-0.003, -0.0032, -0.0034)


@pytest.mark.parametrize("phrase, diffs, status, line", [
    ("16 is [better] than 64", NARROW_WORSE, "differs",
     "Differs from the text: 16 is better than 64: the text says better, this run worse, -0.32 [-0.37, -0.27] points."),
    ("16 is [better] than 64 by [+0.72] points", WIDE, "moved",
     'This run: "16 is better than 64 by +0.72 points": too close to call, +0.65 [-1.53, +2.83] points.'),
    ("16 is [better] than 64 by [+3.00] points", WIDE, "differs",
     "Differs from the text: 16 is better than 64 by +3.00 points: the text says better; +3.00, this run "
     "too close to call, +0.65 [-1.53, +2.83] points."),
    ("16 against 64 is [too close to call]", NARROW_BETTER, "moved",
     'This run: "16 against 64 is too close to call": better, +0.72 [+0.67, +0.77] points.'),
    ("16 against 64 is [too close to call] ([+0.10] points", NARROW_BETTER, "differs",
     "Differs from the text: 16 against 64 is too close to call (+0.10 points: the text says too close to call; "
     "+0.10, this run better, +0.72 [+0.67, +0.77] points."),
    ("16 is [better] than 64 by [+0.70] points", NARROW_BETTER, "moved",
     'This run: "16 is better than 64 by +0.70 points": better, +0.72 [+0.67, +0.77] points.'),
    ("16 is [better] than 64 by [+0.72] points", NARROW_BETTER, "agrees", None),
])
def test_a_rerun_contradicts_a_verdict_only_when_its_evidence_is_against_it(capsys, shown, phrase, diffs, status, line):
    out = printed(capsys, verdict(phrase, lambda: comparison(*diffs)))
    assert out == ([] if line is None else [line])
    assert shown[0][1]["claims"][0]["status"] == status


def test_a_listing_gives_one_word_per_comparison(capsys, shown):
    items = lambda: [comparison(*NARROW_BETTER), comparison(*WIDE)]  # noqa: E731
    assert printed(capsys, verdict("16 and 32 are [better, too close to call]", items)) == []
    assert printed(capsys, verdict("16 and 32 are [better]", items)) == [
        'This run: "16 and 32 are better": better, +0.72 [+0.67, +0.77] points; '
        "too close to call, +0.65 [-1.53, +2.83] points."]
    assert shown[1][1]["claims"][0]["got"] == "better, too close to call"


def test_a_verdict_with_a_diverged_seed_is_not_called_better(capsys):
    runs = {"a": [history(0.97), history(0.5, train_loss=float("nan")), history(0.971)],
            "b": [history(0.96), history(0.961), history(0.962)]}
    t = stats.summarise(runs)
    assert printed(capsys, verdict("a is [better] than b", lambda: stats.compare(t, "a", "b"))) == [
        'This run: "a is better than b": diverged on 1 of 3 seeds.']


def test_the_modules_example_runs_against_the_api(capsys, shown):
    import textwrap

    after = claims.__doc__.split("computes it):\n")[1].splitlines()
    block = next(i for i, line in enumerate(after) if line and not line.startswith("    "))
    example = textwrap.dedent("\n".join(after[:block]))

    def summary(finals):
        return stats.summarise({v: [history(a) for a in accs] for v, accs in finals.items()})

    lr_table = summary({0.1: [0.9744, 0.9748, 0.9752], 1.0: [0.97, 0.97, 0.97]})
    bs_table = summary({16: [0.9718, 0.9720, 0.9722], 64: [0.9646, 0.9648, 0.9650], 256: [0.95, 0.951, 0.952]})
    exec(example, {**vars(claims), "stats": stats, "SEEDS": 3, "QUICK": False, "lr_table": lr_table,
                   "bs_table": bs_table, "BATCH_SIZES": [16, 64, 256]})
    assert [c["kind"] for c in shown[0][1]["claims"]] == ["setup", "fact", "claim", "ranking", "verdict"]
    assert capsys.readouterr().out  # its claim of 3 of 3 diverged seeds does not hold here, and it says so


# ---------------------------------------------------------------- the verifier

LR_TEXT = """At 0.01 the final validation accuracy is **96.58 ± 0.08%**, at 0.1 it is **97.44 ± 0.07%**:
0.1 is better than 0.01 by +0.86 points (Table 5.1). At 0.3 every seed diverged."""

BATCH_TEXT = """### 5.2 Batch size

With `batch_size = 64` an epoch takes 4.2 s, and the accuracy is flat from 64 to 256."""


def lr_items(low="96.58 ± 0.08", high="97.44 ± 0.07", threshold="0.3"):
    """The learning-rate paragraph's claims, with this run's values (the text's by default)."""
    return [fact("At 0.01 the final validation accuracy is [96.58 ± 0.08]%", low),
            fact("at 0.1 it is [97.44 ± 0.07]%", high),
            verdict("0.1 is [better] than 0.01 by [+0.86] points", comparison(0.0084, 0.0086, 0.0088)),
            claim("At [0.3] every seed diverged", threshold)]


def batch_items():
    return [fact("With batch_size = 64 an epoch takes [4.2] s", "4.2"),
            ranking("the accuracy is [flat] from 64 to 256", "flat")]


def check_cell(rec):
    """A check cell as the kernel leaves it: its record in a display_data output."""
    out = new_output("display_data", data={records.CLAIMS: rec, "text/plain": ""})
    return new_code_cell("check(...)", metadata={"tags": ["remove-input"]}, outputs=[out])


def record_of(items, quick=False):
    return claims.record(claims.evaluate(items), quick)


def notebook_of(*cells):
    """Markdown cells (strings) and check cells (records), in order."""
    return new_notebook(cells=[new_markdown_cell(c) if isinstance(c, str) else check_cell(c) for c in cells])


def notebook(lr_text=LR_TEXT, items=None, quick=False):
    """Two analysis paragraphs with their check cells; the first takes its heading from an earlier cell."""
    return new_notebook(cells=[
        new_markdown_cell("# MNIST\n\nThe text describes the full run of 20 epochs, better than 90%."),
        new_markdown_cell("## 4. Analysis"),
        new_markdown_cell("### 5.1 Learning rate"),
        new_code_cell("plot(lr)"),
        new_markdown_cell(lr_text),
        check_cell(record_of(lr_items() if items is None else items, quick)),
        new_markdown_cell(BATCH_TEXT),
        check_cell(record_of(batch_items(), quick)),
    ])


def verify_file(tmp_path, nb, capsys):
    """(exit code, stdout lines, stderr) of the verifier on nb saved to a file."""
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    code = verify.main([str(path)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_a_notebook_whose_text_agrees_passes(tmp_path, capsys):
    code, out, _ = verify_file(tmp_path, notebook(), capsys)
    path = tmp_path / "run.ipynb"
    assert code == 0 and out == [f"{path}: all 6 claims in 2 paragraphs agree with the run it records"]
    assert verify.verify(notebook()) == []


SWAPPED = LR_TEXT.replace("96.58 ± 0.08", "X").replace("97.44 ± 0.07", "96.58 ± 0.08").replace("X", "97.44 ± 0.07")


@pytest.mark.parametrize("edited, phrases", [
    (SWAPPED, ["At 0.01 the final validation accuracy is 96.58 ± 0.08%", "at 0.1 it is 97.44 ± 0.07%"]),
    (LR_TEXT.replace("At 0.3", "At 0.03"), ["At 0.3 every seed diverged"]),
    (LR_TEXT.replace("At 0.3", "At 0.35"), ["At 0.3 every seed diverged"]),
])
def test_an_edit_of_a_bound_phrase_is_caught(edited, phrases):
    lines = verify.verify(notebook(lr_text=edited))
    missing = [f'cell 4 (5.1 Learning rate): the text no longer has the phrase "{p}"' for p in phrases]
    assert lines[:len(missing)] == missing and lines[len(missing):]  # and the edited numbers are now unbound


@pytest.mark.parametrize("edited, loose", [
    (LR_TEXT + " A run takes 9.6 s, 8, then 42,000 images.", ["9.6", "8", "42,000"]),  # numbers outside any phrase
    (LR_TEXT.replace("every seed diverged", "every seed diverged, so lower rates are safer"), ["lower"]),
    (LR_TEXT.replace("0.1 is better than 0.01 by", "0.1 is worse than 0.01 by"), ["0.1", "worse", "0.01", "+0.86"]),
    (LR_TEXT + " Batch size is too close to call.", ["too close to call"]),
])
def test_a_number_or_verdict_word_outside_every_bound_phrase_is_caught(edited, loose):
    lines = [line for line in verify.verify(notebook(lr_text=edited)) if "no longer has" not in line]
    assert [line.split('"')[1] for line in lines] == loose
    assert all(line.startswith("cell 4 (5.1 Learning rate): ") and "is in no phrase a check cell binds" in line
               for line in lines)


def test_references_and_headings_are_not_claims():
    nb = notebook(lr_text=LR_TEXT + " Figure 5.1 and Tables 5.1 and 5.2 show it; see section 4.")
    assert verify.verify(nb) == []


@pytest.mark.parametrize("how", ["cleared", "deleted"])
def test_a_paragraph_whose_check_cell_is_gone_is_caught(how):
    nb = notebook()
    if how == "cleared":
        nb.cells[5].outputs = []
    else:
        del nb.cells[5]
    assert verify.verify(nb) == ["cell 4 (5.1 Learning rate): the paragraph states numbers or verdicts, and no "
                                 "check cell under it recorded any (deleted, or its outputs cleared)"]


def test_a_phrase_without_its_subject_is_caught():
    items = [*lr_items()[:3], claim("At [0.3] every seed diverged", "0.3"), fact("[97.44 ± 0.07]%", "97.44 ± 0.07")]
    assert verify.verify(notebook(items=items)) == [
        'cell 4 (5.1 Learning rate): the phrase "[97.44 ± 0.07]%" does not say what its value is of '
        "(it needs two words or more outside its brackets)"]


def test_a_phrase_is_found_only_as_whole_words_and_numbers():
    def found(text, phrase):
        return verify.phrase_pattern(phrase).search(text) is not None

    assert found("so at 1, every seed", "at 1") and found("lifts it (to 97.44%)", "97.44%)")
    assert not found("at 10 every seed", "at 1") and not found("that 1 every seed", "at 1 every")


def test_a_text_that_does_not_describe_the_recorded_run_is_caught():
    assert verify.verify(notebook(items=lr_items(high="97.40 ± 0.06"))) == [
        'cell 4 (5.1 Learning rate): "at 0.1 it is 97.44 ± 0.07%": the text says 97.44 ± 0.07, '
        "this run recorded 97.40 ± 0.06"]


def test_the_heading_in_the_paragraphs_own_cell_names_it():
    nb = notebook()
    nb.cells[6].source = BATCH_TEXT.replace("flat", "rising")
    assert verify.verify(nb) == ['cell 6 (5.2 Batch size): the text no longer has the phrase '
                                 '"the accuracy is flat from 64 to 256"',
                                 'cell 6 (5.2 Batch size): "rising" is in no phrase a check cell binds '
                                 '("…4.2 s, and the accuracy is rising from 64 to 256.")',
                                 'cell 6 (5.2 Batch size): "64" is in no phrase a check cell binds '
                                 '("…the accuracy is rising from 64 to 256.")',
                                 'cell 6 (5.2 Batch size): "256" is in no phrase a check cell binds '
                                 '("…is rising from 64 to 256.")']


def test_a_quick_run_is_not_verified(tmp_path, capsys):
    code, out, _ = verify_file(tmp_path, notebook(quick=True), capsys)
    assert code == 1 and out == [f"{tmp_path / 'run.ipynb'} is a QUICK smoke run: the text describes the full run; "
                                 "run it with QUICK = False"]


def test_a_notebook_that_was_not_run_is_not_verified(tmp_path, capsys):
    nb = notebook()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    code, out, _ = verify_file(tmp_path, nb, capsys)
    assert code == 1 and len(out) == 1 and "records no claims" in out[0]


@pytest.mark.parametrize("content", [None, "print('not a notebook')\n", '{"cells": "none"}', "[1, 2]", b"\xff\xfe"])
def test_a_file_that_is_not_a_notebook_is_one_error_line(tmp_path, capsys, content):
    path = tmp_path / "run.ipynb"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    assert verify.main([str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: {path}: ") and len(err.splitlines()) == 1
    assert "Traceback" not in err


# ---------------------------------------------------------------- in a real kernel, and as HTML


def test_a_check_cell_in_a_kernel_records_its_claims_and_shows_only_what_differs(tmp_path):
    """Run in a Jupyter kernel, a check cell that agrees leaves only its record (which HTML shows as
    nothing); one with a moved number shows the quiet line; the verifier then names that number."""
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    source = ("from mnist_assignment.claims import check, fact, ranking\n"
              "check(fact('went from [1.5] to', lambda: '{}'), ranking('so it is [better]', 'better'))")
    nb = new_notebook(cells=[new_markdown_cell("## 1 Agrees\n\nIt went from 1.5 to 2, so it is better."),
                             new_code_cell(source.format("1.5"), metadata={"tags": ["remove-input"]}),
                             new_markdown_cell("## 2 Moves\n\nIt went from 1.5 to 2, so it is better."),
                             new_code_cell(source.format("1.6"), metadata={"tags": ["remove-input"]})])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(
        env=env)

    agrees, moves = nb.cells[1].outputs, nb.cells[3].outputs
    assert [o.output_type for o in agrees] == ["display_data"] and agrees[0].data["text/plain"] == ""
    assert agrees[0].data[records.CLAIMS]["claims"][0] == {"kind": "fact", "phrase": "went from [1.5] to",
                                                        "text": "1.5", "got": "1.5", "status": "agrees"}
    assert [o.output_type for o in moves] == ["stream", "display_data"]
    assert moves[0].text == "This run: went from 1.6 to — the conclusions above hold.\n"
    assert verify.verify(nb) == ['cell 2 (2 Moves): "went from 1.5 to": the text says 1.5, this run recorded 1.6']

    exporter = HTMLExporter()
    exporter.exclude_input = True
    html, _ = exporter.from_notebook_node(nbformat.reads(nbformat.writes(nb), as_version=4))
    assert "from [1.5]" not in html and '"got"' not in html and records.CLAIMS not in html  # the record is not shown
    assert html.count("This run:") == 1


STUDENT_RUN = """from mnist_assignment import stats
from mnist_assignment.claims import check, fact, setup, verdict
SEEDS = 1
run = lambda acc: [{"epoch": 1, "train_loss": 0.3, "train_acc": acc, "val_loss": 0.2, "val_acc": acc, "seconds": 1}]
lr_table = stats.summarise({0.01: [run(0.96)], 0.1: [run(0.97)]}, "lr")  # 0.3 taken out
"""


def test_a_students_one_seed_run_without_a_value_runs_through_saying_each_thing_once(tmp_path):
    """A kernel runs the check cells in order: the setup line where the setup is checked, the one-seed line
    once, the missing value in the cell that needs it; no cell raises, and `make submission` is told why."""
    from nbclient import NotebookClient

    cells = [new_code_cell(STUDENT_RUN),
             new_markdown_cell("## 4 Baseline\n\nEvery number below is over 3 seeds."),
             new_code_cell('check(setup("is over [3] seeds", SEEDS))'),
             new_markdown_cell("0.1 is better than 0.01; 0.3 reaches 97.00%."),
             new_code_cell('check(verdict("0.1 is [better] than 0.01", lambda: stats.compare(lr_table, 0.1, 0.01)),\n'
                           '      fact("0.3 reaches [97.00]%", lambda: stats.row(lr_table, 0.3)))'),
             new_markdown_cell("0.01 is worse than 0.1."),
             new_code_cell('check(verdict("0.01 is [worse] than 0.1", lambda: stats.compare(lr_table, 0.01, 0.1)))')]
    nb = new_notebook(cells=cells)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(
        env=env)

    def said(i):
        return [line for o in nb.cells[i].outputs if o.output_type == "stream" for line in o.text.splitlines()]

    assert said(2) == ["This run: is over 1 seeds; the text describes is over 3 seeds."]
    assert said(4) == [claims.ONE_SEED, "Not in this run: lr 0.3; the text's sentences about it are not checked."]
    assert said(6) == []
    assert verify.submission_problems(nb) == ['cell 2 (4 Baseline): the text describes "is over 3 seeds", this run 1']


def test_the_verifier_runs_as_a_module(tmp_path):
    import subprocess

    path = tmp_path / "run.ipynb"
    nbformat.write(notebook(), path)
    done = subprocess.run([sys.executable, "-m", "mnist_assignment.verify", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "all 6 claims in 2 paragraphs agree" in done.stdout and done.stderr == ""


# ---------------------------------------------------------------- this run's values, as the text writes them


def test_formats_match_the_text():
    assert claims.pct(0.97441) == "97.44" and claims.pct(None) == "diverged" and claims.pct(float("inf")) == "diverged"
    assert claims.pts(-0.0017) == "-0.17" and claims.pts(0.0012) == "+0.12"
    assert claims.num(float("nan")) == "never" and claims.num(None) == "never" and claims.num(6.33) == "6.3"
    assert claims.trend([1, 1, 1, 0.9, 0.9, 0.9]) == "still falling"
    assert claims.trend([1, 1, 1, 1, 1, 1.001]) == "flat" and claims.trend([1, 2]) == "too short to tell"
    three, one = table(a=[0.9744, 0.9737, 0.9751]), table(a=[0.9744])
    assert claims.pm(stats.row(three, "a")) == "97.44 ± 0.07" and claims.pm(stats.row(one, "a")) == "97.44"


def test_a_difference_of_printed_means_is_the_difference_the_tables_show():
    train, val = 0.986037, 0.965159  # print as 98.60 and 96.52
    assert claims.pts(train - val) == "+2.09"  # the unrounded means: not what a reader subtracts
    assert claims.pts(claims.as_printed(train) - claims.as_printed(val)) == "+2.08"
    assert claims.as_printed(0.97441) == 0.9744 and claims.as_printed(0.97441, digits=1) == 0.974
