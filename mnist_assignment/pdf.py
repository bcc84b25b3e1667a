"""The executed notebook printed to report.pdf: nbconvert's HTML, then headless Chromium.

Chromium prints it because it needs neither LaTeX nor a network; when none is installed, or no font
has a character of the team's names, and we are root on Debian/Ubuntu, it is installed with apt-get
(announced; fonts.py). Code cells tagged `remove-input` show only their output, and the records a
cell keeps of the run (records.py) not even that. The PDF's metadata holds a digest of the notebook
it was printed from (NotebookSHA256), so that `make submission` can tell that the two belong together.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

from . import fonts, records
from .files import atomic_path
from .notebook_file import NotebookError, notebook_digest, read_parameters

BROWSERS = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "msedge",
            "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
            "/Applications/Chromium.app/Contents/MacOS/Chromium"]

PRINT_CSS = """
<style>
@page { size: A4; margin: 10mm 11mm 12mm 11mm;
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
  font-size: 6.7pt !important; line-height: 1.16 !important; margin: 0; padding: 2px 4px;
  white-space: pre-wrap !important; word-break: break-word; }
/* code a cell displays as Markdown in the code font too: the lab CSS gives an output's pre the font of its
   container, the prose font for a Markdown output */
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
/* tables: 7.5pt, tight cells, one block on one page; a value ("96.48 ± 0.07", "+0.52 [-0.28, +1.31] too close to call")
   stays on one line, only the headers wrap */
.jp-RenderedHTMLCommon table, table.dataframe { font-size: 7.5pt !important; margin: 2px 0 4px 0 !important;
  table-layout: auto; break-inside: avoid; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { padding: 1px 5px !important; line-height: 1.2 !important; }
.jp-RenderedHTMLCommon td { white-space: nowrap; }
/* a table of eight or more columns (two comparisons, as Table 5.1) in smaller type, nine or more smaller still,
   to stay within the page: a comparison cell ("+0.63 [+0.00, +1.26] too close to call") does not wrap */
.jp-RenderedHTMLCommon table:has(tr > :nth-child(8)) { font-size: 6.8pt !important; }
.jp-RenderedHTMLCommon table:has(tr > :nth-child(9)) { font-size: 6.4pt !important; }
.jp-RenderedHTMLCommon table:has(tr > :nth-child(8)) td, .jp-RenderedHTMLCommon table:has(tr > :nth-child(8)) th {
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


def to_html(nb, header: str) -> str:
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(template_name="lab")
    # the ecosystem's tag convention: prose-formatting and source-rendering cells show their output only
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove-input"},
                                                         remove_all_outputs_tags={"remove-output"},
                                                         enabled=True), True)
    body, _ = exporter.from_notebook_node(records.without_hidden(nb))  # not even an empty box for a record
    banner = f'<div class="report-header">{html.escape(header)}</div>'
    body = re.sub(r"<title>.*?</title>", f"<title>{html.escape(TITLE)}</title>", body, count=1, flags=re.S)
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
    if fonts.apt_install(["chromium"], "to print the PDF"):
        browser = find_browser()
        if browser:
            return browser
    raise NotebookError("no Chrome/Chromium found to print the PDF: install Chromium or Google Chrome "
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
            raise NotebookError(f"{browser} did not write the PDF: {done.stderr.strip()[-300:]}")
        with atomic_path(pdf) as tmp_pdf:
            shutil.move(out, tmp_pdf)


DIGEST_KEY = "/NotebookSHA256"
# pypdf logs a warning for Chromium's PDFs (their trailer counts fewer objects than they hold), harmless and
# read correctly: not a line for the terminal of a run that worked
logging.getLogger("pypdf").setLevel(logging.ERROR)


def stamp_pdf(pdf: Path, digest: str) -> None:
    """Write the notebook's digest into the PDF's metadata (atomically; the rest is kept)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(pdf))
    writer.add_metadata({DIGEST_KEY: digest})
    with atomic_path(pdf) as tmp, open(tmp, "wb") as f:
        writer.write(f)


def pdf_digest(pdf: Path) -> str | None:
    """The digest stamped in the PDF; None when it has none or is not a readable PDF."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        return (PdfReader(pdf).metadata or {}).get(DIGEST_KEY)
    except (OSError, ValueError, PyPdfError):
        return None


def header_of(nb) -> str:
    about = nb.metadata.get("mnist_assignment", {})
    team = read_parameters(nb).get("TEAM", "")
    data = f" · data: {about['data']}" if about.get("data") else ""
    return f"{TITLE} · team {team} · {about.get('date', f'{date.today():%Y-%m-%d}')}{data}"


def export_pdf(nb, pdf: Path) -> None:
    html_to_pdf(to_html(nb, header_of(nb)), pdf)
    stamp_pdf(pdf, notebook_digest(nb))


def ensure_title_fonts(values: dict) -> None:
    """Fonts for every character of the title block's names and course (values: the parameters), installed
    when this system can; otherwise fonts.FontError, before anything runs or prints."""
    for name in ("NAMES", "COURSE"):
        if isinstance(values.get(name), str):
            fonts.ensure_fonts(f"{name} = {values[name]!r}", values[name])
