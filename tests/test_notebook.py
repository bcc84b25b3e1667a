"""The deliverable: execute the notebook in quick mode on the sample, export the PDF, check both."""

import re
from pathlib import Path

import nbformat
import pytest
from pypdf import PdfReader

from mnist_assignment import report

SECTIONS = ["1. Data preparation", "2. Architecture", "3. The training loop", "4. Baseline training",
            "5. Analysis", "6. Bonus", "7. Extensions", "8. Conclusions"]
FIGURES = ["samples", "class_balance", "parameters", "cross_entropy", "baseline_curves", "baseline_iterations",
           "lr_curves", "lr_summary", "batch_curves", "batch_curves_steps", "batch_summary",
           "regularization_curves", "regularization_summary", "dropout_curves", "dropout_summary",
           "adam_curves", "cnn_curves", "confusion", "mistakes", "early_stopping", "test_predictions", "summary",
           "optimizer_curves", "norm_curves", "numpy_curves"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quick")
    assert report.main(["--quick", "--out", str(out)]) == 0
    return out


def outputs(nb, kind):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == kind]


def test_notebook_runs_without_errors_and_writes_every_figure(quick_run):
    nb = nbformat.read(quick_run / "mnist_assignment.ipynb", as_version=4)
    assert outputs(nb, "error") == []
    for name in FIGURES:
        path = quick_run / "figures" / f"{name}.png"
        assert path.exists() and path.stat().st_size > 5_000, name
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(images) >= len(FIGURES)
    text = "".join(o.get("text", "") for o in outputs(nb, "stream"))
    assert "HBox(" not in text and "\r" not in text  # plain progress lines, no widget reprs
    assert (quick_run / "submission.csv").read_text().startswith("ImageId,Label\n1,")


def test_insights_are_rendered_from_the_run(quick_run):
    nb = nbformat.read(quick_run / "mnist_assignment.ipynb", as_version=4)
    markdown = [o["data"]["text/markdown"] for o in outputs(nb, "display_data") if "text/markdown" in o["data"]]
    provenance = markdown[0]
    assert "sample" in provenance and "8,000" in provenance and "QUICK" in provenance
    insights = [m for m in markdown if "validation accuracy" in m or "points" in m]
    assert len(insights) >= 5
    for m in insights:
        assert re.search(r"\d+\.\d\d%", m), m[:200]
    assert not any("{" in m and "}" in m and "pct(" in m for m in markdown)  # no unrendered templates


def test_pdf_has_every_section_with_a_figure(quick_run):
    reader = PdfReader(quick_run / "report.pdf")
    pages = [(page.extract_text() or "", len(page.images)) for page in reader.pages]
    assert 10 <= len(pages) <= 80
    assert "bundled sample" in pages[0][0]
    assert re.search(r"page 1 of \d+", pages[0][0])
    starts = []
    for heading in SECTIONS:
        found = [i for i, (text, _) in enumerate(pages) if heading in text]
        assert found, f"section {heading!r} not in the PDF"
        starts.append(found[0])
    assert starts == sorted(starts)
    for k, heading in enumerate(SECTIONS):
        end = starts[k + 1] if k + 1 < len(starts) else len(pages) - 1
        assert sum(n for _, n in pages[starts[k]:end + 1]) >= 1, f"no figure in {heading!r}"


def test_parameters_are_injected_after_the_tagged_cell():
    nb = nbformat.read(Path(report.NOTEBOOK), as_version=4)
    report.inject_parameters(nb, {"QUICK": True})
    report.inject_parameters(nb, {"QUICK": True, "SEEDS": 1})  # replaces, never stacks
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = tags.index(["parameters"])
    assert tags[at + 1] == ["injected-parameters"] and sum("injected-parameters" in t for t in tags) == 1
    assert "SEEDS = 1" in nb.cells[at + 1].source
