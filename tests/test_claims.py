"""The analysis bound to the run: what a check cell prints under its paragraph, and the verifier that
reads a saved notebook and names every phrase its text no longer states as the run recorded it."""

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mnist_assignment import claims
from mnist_assignment.claims import check, claim, fact

ROOT = Path(__file__).resolve().parent.parent

LR_TEXT = """Raising the rate from 0.01 to 0.1 lifts the final validation accuracy from **96.58 ± 0.08%**
to **97.44 ± 0.07%**, and the paired rule calls 0.1 better than 0.01 on every seed.
At 0.3 every seed diverged."""

BATCH_TEXT = """### 5.2 Batch size

With `batch_size = 64` an epoch takes 4.2 s, and the accuracy is flat from 64 to 256."""


def lr_items(low="96.58 ± 0.08", high="97.44 ± 0.07", verdict="better", threshold="0.3"):
    """The learning-rate paragraph's claims, with this run's values (the text's by default)."""
    return [fact("lifts the final validation accuracy from [96.58 ± 0.08]% to", low),
            fact("to [97.44 ± 0.07]%, and the paired rule", high),
            claim("the paired rule calls 0.1 [better] than 0.01", verdict),
            claim("At [0.3] every seed diverged", threshold)]


def batch_items():
    return [fact("With batch_size = 64 an epoch takes [4.2] s", "4.2"),
            claim("the accuracy is [flat] from 64 to 256", "flat")]


def check_cell(items, quick=False):
    """A check cell as the kernel leaves it: its record in a display_data output."""
    out = new_output("display_data", data=claims.bundle(claims.record(items, quick)))
    return new_code_cell("check(...)", metadata={"tags": ["remove-input"]}, outputs=[out])


def notebook(lr_text=LR_TEXT, items=None, quick=False):
    """Two analysis paragraphs with their check cells; the first takes its heading from an earlier cell."""
    return new_notebook(cells=[
        new_markdown_cell("# MNIST\n\nThe text describes the full run."),
        new_markdown_cell("## 5.1 Learning rate"),
        new_code_cell("plot(lr)"),
        new_markdown_cell(lr_text),
        check_cell(lr_items() if items is None else items, quick),
        new_markdown_cell(BATCH_TEXT),
        check_cell(batch_items(), quick),
    ])


def verify_file(tmp_path, nb, capsys):
    """(exit code, stdout lines, stderr) of the verifier on nb saved to a file."""
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    code = claims.main([str(path)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


# ---------------------------------------------------------------- binding a phrase


def test_a_phrase_binds_the_bracketed_value():
    c = fact("lifts the accuracy **from** [96.58 ± 0.08]%\n  to", "96.60 ± 0.08")
    assert c.phrase == "lifts the accuracy from [96.58 ± 0.08]% to"
    assert c.text == "96.58 ± 0.08" and c.plain == "lifts the accuracy from 96.58 ± 0.08% to"
    assert c.rendered == "lifts the accuracy from 96.60 ± 0.08% to" and not c.holds


@pytest.mark.parametrize("phrase", ["no value here", "from [96.58]% to [97.44]%", "an empty [] value", "a [stray"])
def test_a_phrase_needs_exactly_one_bracketed_value(phrase):
    for make in (fact, claim):
        with pytest.raises(ValueError, match="exactly one"):
            make(phrase, "x")


def test_the_record_holds_each_claim():
    rec = claims.record([fact("to [97.44]%", "97.50"), claim("calls 0.1 [better]", "better")], quick=False)
    assert rec == {"quick": False, "claims": [
        {"kind": "fact", "phrase": "to [97.44]%", "text": "97.44", "got": "97.50"},
        {"kind": "claim", "phrase": "calls 0.1 [better]", "text": "better", "got": "better"}]}


# ---------------------------------------------------------------- what a check cell prints


def test_a_run_that_agrees_prints_nothing(capsys):
    assert check(*lr_items()) is None  # nothing for Jupyter to display either
    assert capsys.readouterr().out == ""


def test_moved_numbers_print_one_quiet_line(capsys):
    check(*lr_items(low="96.61 ± 0.09", high="97.40 ± 0.06"))
    out = capsys.readouterr().out.splitlines()
    assert out == ["This run: lifts the final validation accuracy from 96.61 ± 0.09% to; "
                   "to 97.40 ± 0.06%, and the paired rule — the conclusions above hold."]


def test_a_conclusion_that_fails_prints_the_differs_line(capsys):
    check(*lr_items(high="97.40 ± 0.06", verdict="a tie"))
    out = capsys.readouterr().out.splitlines()
    assert out == ["Differs from the text: the paired rule calls 0.1 better than 0.01: the text says better, "
                   "this run a tie.",
                   "This run: to 97.40 ± 0.06%, and the paired rule."]


def test_a_quick_run_prints_nothing(capsys):
    check(*lr_items(high="91.00 ± 1.00", verdict="worse"), quick=True)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------- the verifier


def test_a_notebook_whose_text_agrees_passes(tmp_path, capsys):
    code, out, _ = verify_file(tmp_path, notebook(), capsys)
    path = tmp_path / "run.ipynb"
    assert code == 0 and out == [f"{path}: all 6 claims in 2 paragraphs agree with the run it records"]
    assert claims.verify(notebook()) == []


SWAPPED = LR_TEXT.replace("96.58 ± 0.08", "X").replace("97.44 ± 0.07", "96.58 ± 0.08").replace("X", "97.44 ± 0.07")


@pytest.mark.parametrize("edited, phrases", [
    (SWAPPED, ["lifts the final validation accuracy from 96.58 ± 0.08% to",
               "to 97.44 ± 0.07%, and the paired rule"]),
    (LR_TEXT.replace("better", "a tie"), ["the paired rule calls 0.1 better than 0.01"]),
    (LR_TEXT.replace("At 0.3", "At 0.03"), ["At 0.3 every seed diverged"]),
    (LR_TEXT.replace("At 0.3", "At 0.35"), ["At 0.3 every seed diverged"]),
])
def test_an_edit_of_the_text_is_caught(tmp_path, capsys, edited, phrases):
    code, out, _ = verify_file(tmp_path, notebook(lr_text=edited), capsys)
    assert code == 1
    assert out == [f'cell 3 (5.1 Learning rate): the text no longer has the phrase "{p}"' for p in phrases]


def test_a_phrase_is_found_only_as_whole_words_and_numbers():
    assert claims.contains("so at 1, every seed", "at 1") and claims.contains("lifts it (to 97.44%)", "97.44%)")
    assert not claims.contains("at 10 every seed", "at 1") and not claims.contains("that 1 every seed", "at 1 every")


def test_a_text_that_does_not_describe_the_recorded_run_is_caught(tmp_path, capsys):
    code, out, _ = verify_file(tmp_path, notebook(items=lr_items(high="97.40 ± 0.06", verdict="a tie")), capsys)
    assert code == 1
    assert out == ['cell 3 (5.1 Learning rate): "to 97.44 ± 0.07%, and the paired rule": '
                   "the text says 97.44 ± 0.07, this run recorded 97.40 ± 0.06",
                   'cell 3 (5.1 Learning rate): "the paired rule calls 0.1 better than 0.01": '
                   "the text says better, this run recorded a tie"]


def test_the_heading_in_the_paragraphs_own_cell_names_it():
    nb = notebook()
    nb.cells[5].source = BATCH_TEXT.replace("flat", "rising")
    assert claims.verify(nb) == ['cell 5 (5.2 Batch size): the text no longer has the phrase '
                                 '"the accuracy is flat from 64 to 256"']


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
    assert claims.main([str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"error: {path}: ") and len(err.splitlines()) == 1
    assert "Traceback" not in err


# ---------------------------------------------------------------- in a real kernel, and as HTML


def test_a_check_cell_in_a_kernel_records_its_claims_and_shows_only_what_differs(tmp_path):
    """Run in a Jupyter kernel, a check cell that agrees leaves only its record (which HTML shows as
    nothing); one with a moved number shows the quiet line; the verifier then names that number."""
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    source = ("from mnist_assignment.claims import check, claim, fact\n"
              "check(fact('from [1.5] to', '{}'), claim('so it is [better]', 'better'))")
    nb = new_notebook(cells=[new_markdown_cell("## 1 Agrees\n\nIt went from 1.5 to 2, so it is better."),
                             new_code_cell(source.format("1.5"), metadata={"tags": ["remove-input"]}),
                             new_markdown_cell("## 2 Moves\n\nIt went from 1.5 to 2, so it is better."),
                             new_code_cell(source.format("1.6"), metadata={"tags": ["remove-input"]})])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute(
        env=env)

    agrees, moves = nb.cells[1].outputs, nb.cells[3].outputs
    assert [o.output_type for o in agrees] == ["display_data"] and agrees[0].data["text/plain"] == ""
    assert agrees[0].data[claims.MIME]["claims"][0] == {"kind": "fact", "phrase": "from [1.5] to",
                                                        "text": "1.5", "got": "1.5"}
    assert [o.output_type for o in moves] == ["stream", "display_data"]
    assert moves[0].text == "This run: from 1.6 to — the conclusions above hold.\n"
    assert claims.verify(nb) == ['cell 2 (2 Moves): "from 1.5 to": the text says 1.5, this run recorded 1.6']

    exporter = HTMLExporter()
    exporter.exclude_input = True
    html, _ = exporter.from_notebook_node(nbformat.reads(nbformat.writes(nb), as_version=4))
    assert "from [1.5]" not in html and '"got"' not in html and claims.MIME not in html  # the record is not shown
    assert html.count("This run:") == 1


def test_the_verifier_runs_as_a_module(tmp_path):
    import subprocess

    path = tmp_path / "run.ipynb"
    nbformat.write(notebook(), path)
    done = subprocess.run([sys.executable, "-m", "mnist_assignment.claims", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "all 6 claims in 2 paragraphs agree" in done.stdout and done.stderr == ""


# ---------------------------------------------------------------- this run's values, as the text writes them


def row(acc, std, seeds):
    """A summary table's row, as much of it as `pm` reads."""
    return SimpleNamespace(final_val_acc=acc, final_val_acc_std=std, seeds=seeds)


def test_formats_match_the_text():
    assert claims.pct(0.97441) == "97.44" and claims.pct(None) == "diverged" and claims.pct(float("inf")) == "diverged"
    assert claims.pts(-0.0017) == "-0.17" and claims.pts(0.0012) == "+0.12"
    assert claims.num(float("nan")) == "never" and claims.num(None) == "never" and claims.num(6.33) == "6.3"
    assert claims.trend([1, 1, 1, 0.9, 0.9, 0.9]) == "still falling"
    assert claims.trend([1, 1, 1, 1, 1, 1.001]) == "flat" and claims.trend([1, 2]) == "too short to tell"
    assert claims.pm(row(0.9744, 0.0007, 3)) == "97.44 ± 0.07" and claims.pm(row(0.9744, float("nan"), 1)) == "97.44"
    assert claims.pm(row(float("nan"), 0.0, 3)) == "diverged"


def test_a_difference_of_printed_means_is_the_difference_the_tables_show():
    train, val = 0.986037, 0.965159  # print as 98.60 and 96.52
    assert claims.pts(train - val) == "+2.09"  # the unrounded means: not what a reader subtracts
    assert claims.pts(claims.as_printed(train) - claims.as_printed(val)) == "+2.08"
    assert claims.as_printed(0.97441) == 0.9744 and claims.as_printed(0.97441, digits=1) == 0.974
