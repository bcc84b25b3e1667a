"""Execute the notebook with parameters, then export it to PDF (nbconvert HTML -> headless Chromium).

python -m mnist_assignment.report [--data PATH] [--quick] [--out DIR] [--seeds N] [--epochs N] [--team IDS]
                                  [--names "A, B, C"]
python -m mnist_assignment.report --pdf-only [--out DIR]   (print the executed notebook again, no rerun)

The notebook is the source: its `parameters` cell gets the values given here (the rest of the
cell, and every other cell, is left as the user edited it), and it runs with its own folder as the
working directory, so every path it shows or writes is relative to it. Full mode executes
mnist_assignment.ipynb in place and writes report.pdf beside it; --out DIR executes a copy in DIR
(what it writes goes there too), e.g. build/ for quick mode. Code cells tagged `remove-input` (prose
formatting, rendered source) show only their output in the PDF, and the records a cell keeps of the
run (records.py) not even that. Chromium prints the PDF because it needs neither LaTeX nor a network;
when none is installed, or no font has a character of the team's names, and we are root on
Debian/Ubuntu, it is installed with apt-get (announced; system.py). The PDF's metadata holds a hash
of the executed notebook it was printed from (NotebookSHA256), so `make submission` can tell that
the two belong together.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import html
import json
import logging
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

from . import records, system
from .files import atomic_path, drop_stale_lock, write_atomic
from .team import check_team

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "mnist_assignment.ipynb"
BROWSERS = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "msedge",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium"]


class ReportError(RuntimeError):
    pass


def parameters_cell(nb) -> nbformat.NotebookNode:
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise ReportError("the notebook has no cell tagged 'parameters'")
    return cell


def read_parameters(nb) -> dict:
    """The literal values assigned in the parameters cell (nothing is executed)."""
    values = {}
    for node in ast.parse(parameters_cell(nb).source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return values


def set_parameters(nb, parameters: dict) -> None:
    """Rewrite `NAME = value` lines of the parameters cell in place, keeping their comments.

    The values live where a student sees and edits them: no extra cell overrides them later.
    """
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    cell = parameters_cell(nb)
    lines = cell.source.splitlines()
    for name, value in parameters.items():
        pattern = re.compile(rf"^{name}\s*=\s*(.*?)(\s+#.*)?$")
        for i, line in enumerate(lines):
            match = pattern.match(line)
            if match:
                lines[i] = f"{name} = {value!r}" + (match.group(2) or "")
                break
        else:
            lines.append(f"{name} = {value!r}")
    cell.source = "\n".join(lines)


def section_of(nb, index: int) -> str:
    """The heading of the section a cell belongs to, for one-line errors."""
    for cell in reversed(nb.cells[:index + 1]):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return "the first cells"


def kernel_env(cwd: Path) -> dict:
    """The kernel imports this checkout's package, whatever folder the notebook runs in."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["MNIST_PLAIN_PROGRESS"] = "1"  # plain lines, no widgets, in the saved outputs
    return env


def kernel_config(sockets: Path):
    """The kernel talks to us over local socket files (private to this user) where the system has
    them, instead of TCP ports, which also made the kernel warn on the terminal about plain-text TCP."""
    from traitlets.config import Config

    config = Config()
    if os.name == "posix":  # no IPC transport on Windows: TCP on localhost there
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(sockets / "kernel")
    return config


def execute(source: Path, target: Path, parameters: dict, timeout: int = 3600,
            log: Path | None = None, about: dict | None = None) -> nbformat.NotebookNode:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(source, as_version=4)
    set_parameters(nb, parameters)
    target.parent.mkdir(parents=True, exist_ok=True)
    sockets = tempfile.TemporaryDirectory(prefix="mnist-kernel-")
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", config=kernel_config(Path(sockets.name)),
                            resources={"metadata": {"path": str(target.parent)}})
    try:
        client.execute(env=kernel_env(target.parent))  # passed on to the kernel's start
    except CellExecutionError as err:
        failed = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                       and any(o.output_type == "error" for o in c.get("outputs", []))), None)
        where = section_of(nb, failed) if failed is not None else "a cell"
        cause = next((f"{o.ename}: {o.evalue}" for c in nb.cells for o in c.get("outputs", [])
                      if o.output_type == "error"), str(err).strip().splitlines()[-1])
        if log is not None:
            write_atomic(log, re.sub(r"\x1b\[[0-9;]*m", "", str(err)))
        raise ReportError(f"the notebook failed in section '{where}': {cause.splitlines()[0][:200]}"
                          + (f" (full trace in {log.name})" if log is not None else "")) from None
    finally:
        sockets.cleanup()
        drop_stale_lock(target.parent / ".lock")  # the kernel is gone; its lock must not outlive it
    for cell in nb.cells:  # execution counts and timings are diff noise
        cell.metadata.pop("execution", None)
    if about:  # what the PDF's header says, kept for printing it again without a rerun
        nb.metadata["mnist_assignment"] = about
    write_atomic(target, nbformat.writes(nb))
    return nb


PRINT_CSS = """
<style>
@page { size: A4; margin: 12mm 12mm 14mm 12mm;
        @bottom-center { content: "page " counter(page) " of " counter(pages); font: 8pt sans-serif; } }
:root { --jp-content-font-size1: 12px; --jp-content-line-height: 1.33; --jp-ui-font-size1: 11px;
        --jp-code-font-size: 9.5px; --jp-code-line-height: 1.2; --jp-code-padding: 2px 4px;
        --jp-cell-padding: 0; --jp-notebook-padding: 0; --jp-content-heading-line-height: 1.15;
        --jp-content-heading-margin-top: 0.6em; --jp-content-heading-margin-bottom: 0.3em;
        --jp-content-font-size3: 1.25em; --jp-content-font-size4: 1.45em; --jp-content-font-size5: 1.75em; }
body { font-size: 9pt; }
.jp-Notebook { padding: 0 !important; }
.jp-Cell { margin: 0 0 4px 0 !important; }
.jp-InputPrompt, .jp-OutputPrompt { display: none !important; }
/* code: small monospace on a light ground, every line printed, long ones wrapped */
.jp-InputArea-editor { border: none !important; background: #f6f6f4 !important; }
.jp-InputArea pre, .jp-OutputArea-output pre, .jp-RenderedMarkdown pre {
  font-size: 6.9pt !important; line-height: 1.18 !important; margin: 0; padding: 2px 4px;
  white-space: pre-wrap !important; word-break: break-word; }
/* source a cell displays as Markdown (the NumPy network's) in the code font too: the lab CSS gives an output's
   pre the font of its container, the prose font for a Markdown output */
.jp-RenderedMarkdown pre { font-family: var(--jp-code-font-family) !important; }
.jp-OutputArea-output { padding: 0 !important; margin-top: 2px; }
.jp-RenderedText pre { color: #222; }
.jp-RenderedHTMLCommon p { margin-bottom: 0.45em; }
.jp-RenderedHTMLCommon ul, .jp-RenderedHTMLCommon ol { margin: 0 0 0.45em 0; padding-left: 1.6em !important; }
.jp-RenderedHTMLCommon li { margin-bottom: 0.15em; }
.jp-RenderedHTMLCommon li > p { margin-bottom: 0.15em; }
.jp-RenderedHTMLCommon :not(pre) > code { padding: 0 2px; font-size: 0.9em; }
h1, h2, h3, h4 { break-after: avoid; }
.jp-RenderedHTMLCommon h1 { margin-top: 0.2em; }
/* tables: 7.5pt, tight cells, one block on one page; a value ("96.48 ± 0.07", "+0.52 [-0.28, +1.31] tie")
   stays on one line, only the headers wrap */
.jp-RenderedHTMLCommon table, table.dataframe { font-size: 7.5pt !important; margin: 2px 0 4px 0 !important;
  table-layout: auto; break-inside: avoid; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { padding: 1px 5px !important; line-height: 1.2 !important; }
.jp-RenderedHTMLCommon td { white-space: nowrap; }
/* a table of nine or more columns (three comparisons, as Table 7.3) in smaller type, to stay within the page */
.jp-RenderedHTMLCommon table:has(tr > :nth-child(9)) { font-size: 6.4pt !important; }
.jp-RenderedHTMLCommon table:has(tr > :nth-child(9)) td, .jp-RenderedHTMLCommon table:has(tr > :nth-child(9)) th {
  padding: 1px 3px !important; }
.jp-RenderedHTMLCommon caption, table.dataframe caption { font-size: 9pt; font-weight: bold; text-align: left;
  padding: 2px 0; caption-side: top; }
/* outputs flow left to right: a figure drawn at half width sits beside another, a short table or text */
.jp-OutputArea { display: flex; flex-wrap: wrap; align-items: flex-start; column-gap: 10px; }
.jp-OutputArea-child { flex: 1 1 100%; min-width: 0; }
.jp-OutputArea-child:has(img), .jp-OutputArea-child:has(> .jp-RenderedText), .jp-OutputArea-child:has(table) {
  flex: 0 1 auto; display: block !important; width: auto !important; max-width: 100%; }
.jp-OutputArea-child:has(img) > .jp-OutputArea-output,
.jp-OutputArea-child > .jp-RenderedText { display: block !important; width: auto !important; }
.jp-OutputArea-output img { max-width: 100% !important; height: auto; break-inside: avoid; margin: 2px 0; }
.jp-InputArea { break-inside: auto; }  /* a long code cell goes on over the page break, no blank half page */
.jp-InputArea pre { orphans: 4; widows: 4; }
.report-header { font: 8.5pt sans-serif; color: #333; border-bottom: 1px solid #999; margin-bottom: 6px;
                 padding-bottom: 3px; }
</style>
"""

IMAGE = re.compile(r'<img([^>]*?) src="data:image/png;base64,([A-Za-z0-9+/=\s]+)"')


def printed_width(png_base64: str) -> float | None:
    """The CSS width (px, 96 per inch) at which a PNG prints at the size it was drawn: its pixel
    width over the dots per inch in its pHYs chunk (matplotlib writes it); None when it has none."""
    import base64
    import struct

    head = base64.b64decode(re.sub(r"\s", "", png_base64[:800])[:600])  # the header chunks
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width = struct.unpack(">I", head[16:20])[0]
    at = head.find(b"pHYs")
    if at < 0 or at + 13 > len(head):
        return None
    per_metre, _, unit = struct.unpack(">IIB", head[at + 4:at + 13])
    if unit != 1 or per_metre == 0:
        return None
    return width * 96 / (per_metre * 0.0254)


def sized_images(body: str) -> str:
    """Every figure printed at its drawn size (fonts as drawn), narrowed only to fit the page."""
    def one(match):
        width = printed_width(match.group(2))
        style = f' style="width: {width:.0f}px"' if width else ""
        return f'<img{match.group(1)}{style} src="data:image/png;base64,{match.group(2)}"'

    return IMAGE.sub(one, body)


TITLE = "Handwritten digit recognition on MNIST with PyTorch"


def to_html(nb, header: str, title: str = TITLE) -> str:
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="lab")
    # the ecosystem's tag convention: prose-formatting and source-rendering cells show their output only
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove-input"},
                                                         remove_all_outputs_tags={"remove-output"},
                                                         remove_cell_tags={"remove-cell"}, enabled=True), True)
    body, _ = exporter.from_notebook_node(records.without_hidden(nb))  # not even an empty box for a record
    banner = f'<div class="report-header">{html.escape(header)}</div>'
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", body, count=1, flags=re.S)
    body = sized_images(body).replace("</head>", PRINT_CSS + "</head>", 1)
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
    if system.apt_install(["chromium"], "to print the PDF"):
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
        with atomic_path(pdf) as tmp_pdf:
            shutil.move(out, tmp_pdf)


def notebook_digest(nb) -> str:
    """A hash of what the notebook shows (cell sources and outputs): unchanged by reformatting on save."""
    cells = [[c.cell_type, c.source, c.get("outputs", [])] for c in nb.cells]
    return hashlib.sha256(json.dumps(cells, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


DIGEST_KEY = "/NotebookSHA256"


@contextlib.contextmanager
def quiet_pypdf():
    """pypdf logs a warning for Chromium's PDFs (their trailer counts fewer objects than they hold),
    harmless and read correctly: not a line for the terminal of a run that worked."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def stamp_pdf(pdf: Path, digest: str) -> None:
    """Write the notebook's digest into the PDF's metadata (atomically; the rest is kept)."""
    from pypdf import PdfReader, PdfWriter

    with quiet_pypdf():
        writer = PdfWriter(clone_from=PdfReader(pdf))
        writer.add_metadata({DIGEST_KEY: digest})
        with atomic_path(pdf) as tmp, open(tmp, "wb") as f:
            writer.write(f)


def pdf_digest(pdf: Path) -> str | None:
    """The digest stamped in the PDF; None when it has none or is not a readable PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        with quiet_pypdf():
            return (PdfReader(pdf).metadata or {}).get(DIGEST_KEY)
    except (OSError, ValueError, PyPdfError):
        return None


def header_of(nb) -> str:
    about = nb.metadata.get("mnist_assignment", {})
    team = read_parameters(nb).get("TEAM", "")
    data = f" · data: {about['data']}" if about.get("data") else ""
    return f"{TITLE} · team {team} · {about.get('date', f'{date.today():%Y-%m-%d}')}{data}"


def export_pdf(nb, pdf: Path, header: str | None = None) -> None:
    html_to_pdf(to_html(nb, header or header_of(nb)), pdf)
    stamp_pdf(pdf, notebook_digest(nb))


def unfinished(nb) -> str | None:
    """Why an executed notebook is not a finished run (None: it is); one clause, for one-line errors."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    failed = next((i for i in code if any(o.output_type == "error" for o in nb.cells[i].get("outputs", []))), None)
    if failed is not None:
        return f"stopped with an error in section '{section_of(nb, failed)}'"
    if not any(nb.cells[i].get("outputs") for i in code):
        return "has not been run (no outputs)"
    if code and not nb.cells[code[-1]].get("outputs"):
        return "did not run to the end (its last cell has no output)"
    return None


def ensure_fonts(values: dict) -> None:
    """Fonts for every character of the title block's names and course (values: the parameters), installed
    when this system can; otherwise system.FontError, before anything runs or prints."""
    for name in ("NAMES", "COURSE"):
        if isinstance(values.get(name), str):
            system.ensure_fonts(f"{name} = {values[name]!r}", values[name])


def reprint(out: Path) -> None:
    """--pdf-only: print the executed notebook in out to out/report.pdf again, nothing rerun."""
    notebook = out / NOTEBOOK.name
    if not notebook.is_file():
        raise ReportError(f"{display_path(notebook)} does not exist: run make report first")
    nb = nbformat.read(notebook, as_version=4)
    why = unfinished(nb)
    if why:
        raise ReportError(f"{display_path(notebook)} {why}: run make report")
    ensure_fonts(read_parameters(nb))
    export_pdf(nb, out / "report.pdf")


TEAM_HELP = "the team's ids joined by '_' (written into the notebook's TEAM parameter)"


def main(argv=None) -> int:
    from .data import SAMPLE_DIR, DataError, ensure_train_data, load_source

    parser = argparse.ArgumentParser(prog="python -m mnist_assignment.report", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="labelled CSV (default: data/train.csv, Kaggle download, or the sample)")
    parser.add_argument("--quick", action="store_true", help="bundled sample, 1 seed, few epochs")
    parser.add_argument("--out", help="execute a copy of the notebook in this folder (what it writes goes there too)")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--team", help=TEAM_HELP)
    parser.add_argument("--names", help="the team members' names (written into the notebook's NAMES parameter)")
    parser.add_argument("--no-pdf", action="store_true")
    parser.add_argument("--pdf-only", action="store_true", help="print the executed notebook to PDF again, no rerun")
    args = parser.parse_args(argv)
    from .signals import interrupt_on_sigterm

    interrupt_on_sigterm()
    try:
        if args.pdf_only:
            reprint(Path(args.out) if args.out else ROOT)
            print(f"wrote {display_path((Path(args.out) if args.out else ROOT) / 'report.pdf')}", flush=True)
            return 0
        if (args.seeds is not None and args.seeds < 1) or (args.epochs is not None and args.epochs < 1):
            raise ReportError("--seeds and --epochs must be at least 1")
        if args.quick:
            data = args.data or str(SAMPLE_DIR / "train.csv.gz")
        elif args.data:
            data = os.path.expanduser(args.data)
        else:
            path, message = ensure_train_data(ROOT / "data")
            print(message, flush=True)
            data = str(path)
        _, _, source = load_source(data)  # fail early, in one line, on a bad file
        out = Path(args.out) if args.out else ROOT
        if (out / NOTEBOOK.name).exists() and (out / NOTEBOOK.name).is_dir() or out.is_file():
            raise ReportError(f"{out}: not a folder the notebook can be written to")
        # paths as the notebook sees them: relative to its own folder, never absolute
        # (abspath, not resolve: data/train.csv.gz stays itself when it is a link to the file elsewhere)
        parameters = {"DATA": Path(os.path.relpath(os.path.abspath(data), os.path.abspath(out))).as_posix(),
                      "QUICK": args.quick}
        if args.seeds:
            parameters["SEEDS"] = args.seeds
        if args.epochs:
            parameters["EPOCHS"] = args.epochs
        if args.team:
            parameters["TEAM"] = check_team(args.team)
        if args.names is not None:
            parameters["NAMES"] = " ".join(args.names.split())
        if not NOTEBOOK.exists():
            raise ReportError(f"{NOTEBOOK.name} does not exist: nothing to run")
        # the names the run will print, given here or in the notebook: a font for them, or one line, now
        ensure_fonts({**read_parameters(nbformat.read(NOTEBOOK, as_version=4)), **parameters})
        start = time.perf_counter()
        print(f"executing {NOTEBOOK.name} (data: {source.describe()}) ...", flush=True)
        # the page header names the data for a reader; its hash is in the closing note
        data_line = source.describe() if source.origin == "sample" else f"{source.name}: {source.rows:,} labelled rows"
        about = {"data": data_line, "date": f"{date.today():%Y-%m-%d}"}
        nb = execute(NOTEBOOK, out / NOTEBOOK.name, parameters, log=out / "report.log", about=about)
        print(f"executed in {time.perf_counter() - start:.0f} s -> {display_path(out / NOTEBOOK.name)}", flush=True)
        if not args.no_pdf:
            export_pdf(nb, out / "report.pdf")
            print(f"wrote {display_path(out / 'report.pdf')}", flush=True)
        return 0
    except (DataError, ReportError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def display_path(path: Path) -> str:
    """Relative to the current folder when possible: logs name no folder of the machine."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
