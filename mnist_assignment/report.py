"""Execute the notebook with parameters, then export it to PDF (nbconvert HTML -> headless Chromium).

python -m mnist_assignment.report [--data PATH] [--quick] [--out DIR] [--seeds N] [--epochs N]

Full mode writes the executed mnist_assignment.ipynb and report.pdf at the top of the repo;
--out DIR writes both (and figures/, results/) under DIR instead, e.g. build/ for quick mode.
Chromium prints the PDF because it needs neither LaTeX nor a network; when no Chrome/Chromium
is installed and we are root on Debian/Ubuntu, it is installed with apt-get.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import nbformat

from .cli import write_atomic

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "mnist_assignment.ipynb"
BROWSERS = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "msedge",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium"]


class ReportError(RuntimeError):
    pass


def inject_parameters(nb, parameters: dict) -> None:
    """Papermill's convention: a cell tagged `injected-parameters` right after `parameters`."""
    cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    at = next((i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])), None)
    if at is None:
        raise ReportError("the notebook has no cell tagged 'parameters'")
    source = "# Parameters injected by mnist_assignment.report\n" + "\n".join(
        f"{k} = {v!r}" for k, v in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cells.insert(at + 1, cell)
    nb.cells = cells


def execute(source: Path, target: Path, parameters: dict, timeout: int = 3600) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.read(source, as_version=4)
    inject_parameters(nb, parameters)
    env_before = os.environ.get("MNIST_PLAIN_PROGRESS")
    os.environ["MNIST_PLAIN_PROGRESS"] = "1"  # plain lines, no widgets, in the saved outputs
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("MNIST_PLAIN_PROGRESS", None)
        else:
            os.environ["MNIST_PLAIN_PROGRESS"] = env_before
    for cell in nb.cells:  # execution counts and timings are diff noise
        cell.metadata.pop("execution", None)
    write_atomic(target, nbformat.writes(nb))
    return nb


PRINT_CSS = """
<style>
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
        @bottom-center { content: "page " counter(page) " of " counter(pages); font: 9pt sans-serif; } }
body { font-size: 11pt; }
pre, .jp-OutputArea-output pre, .highlight pre { white-space: pre-wrap !important; word-break: break-word; }
.jp-OutputArea-output img, table.dataframe, .jp-InputArea { break-inside: avoid; }
h1, h2, h3 { break-after: avoid; }
.jp-OutputArea-output img { max-width: 100% !important; height: auto; }
.jp-InputPrompt, .jp-OutputPrompt { display: none !important; }
.jp-Notebook { padding: 0 !important; }
table.dataframe { font-size: 9pt; }
.report-header { font: 10pt sans-serif; color: #333; border-bottom: 1px solid #999; margin-bottom: 8px;
                 padding-bottom: 4px; }
</style>
"""


def to_html(nb, header: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
    banner = f'<div class="report-header">{html.escape(header)}</div>'
    body = body.replace("</head>", PRINT_CSS + "</head>", 1)
    return re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, body, count=1)


def find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    return None


def ensure_browser() -> str:
    browser = find_browser()
    if browser:
        return browser
    if sys.platform.startswith("linux") and shutil.which("apt-get") and os.geteuid() == 0:
        print("installing Debian's chromium to print the PDF (apt-get)...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        browser = find_browser()
        if browser:
            return browser
    raise ReportError("no Chrome/Chromium found to print the PDF: install Chromium or Google Chrome "
                      "(Debian/Ubuntu: sudo apt-get install chromium) and run make report again")


def html_to_pdf(html_text: str, pdf: Path) -> None:
    browser = ensure_browser()
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html_text, encoding="utf-8")
        out = Path(tmp) / "report.pdf"
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
               "--virtual-time-budget=10000", f"--print-to-pdf={out}", page.as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if not out.exists() or out.stat().st_size == 0:
            raise ReportError(f"{browser} did not write the PDF: {done.stderr.strip()[-300:]}")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(out, pdf.with_name(f".{pdf.name}.tmp"))
        os.replace(pdf.with_name(f".{pdf.name}.tmp"), pdf)


def export_pdf(nb, pdf: Path, header: str) -> None:
    html_to_pdf(to_html(nb, header), pdf)


def main(argv=None) -> int:
    from .data import SAMPLE_DIR, DataError, ensure_train_data, load_source

    parser = argparse.ArgumentParser(prog="python -m mnist_assignment.report", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="labelled CSV (default: data/train.csv, Kaggle download, or the sample)")
    parser.add_argument("--quick", action="store_true", help="bundled sample, 1 seed, few epochs")
    parser.add_argument("--out", help="write notebook, PDF, figures and results under this folder")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--no-pdf", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.quick:
            data = args.data or str(SAMPLE_DIR / "train.csv.gz")
        elif args.data:
            data = args.data
        else:
            path, message = ensure_train_data(ROOT / "data")
            print(message, flush=True)
            data = str(path)
        _, _, source = load_source(data)  # fail early, in one line, on a bad file
        if not NOTEBOOK.exists():
            raise ReportError(f"{NOTEBOOK.name} does not exist yet: data is ready, nothing to run")
        out = Path(args.out) if args.out else ROOT
        parameters = {"DATA": str(Path(data).resolve()), "QUICK": args.quick, "OUT_DIR": str(out.resolve())}
        if args.seeds:
            parameters["SEEDS"] = args.seeds
        if args.epochs:
            parameters["EPOCHS"] = args.epochs
        start = time.perf_counter()
        print(f"executing {NOTEBOOK.name} on {source.describe()} ...", flush=True)
        nb = execute(NOTEBOOK, out / NOTEBOOK.name, parameters)
        print(f"executed in {time.perf_counter() - start:.0f} s -> {out / NOTEBOOK.name}", flush=True)
        if not args.no_pdf:
            header = (f"MNIST digit recognition with PyTorch — mnist_assignment team — {date.today():%Y-%m-%d} — "
                      f"data: {source.describe()}")
            export_pdf(nb, out / "report.pdf", header)
            print(f"wrote {out / 'report.pdf'}", flush=True)
        return 0
    except (DataError, ReportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
