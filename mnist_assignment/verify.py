"""A saved notebook's text against the run it records, without a kernel.

python -m mnist_assignment.verify NOTEBOOK.ipynb   (exit 0: the text agrees, 1: a line per problem, 2: unreadable)

Each check cell's record (claims.check) holds its phrases and this run's values. Every phrase, brackets
removed, must still be in the markdown cell above its check cell, with the value the run recorded; in the
analysis (section 4 on) every number and verdict word of a paragraph must sit in such a phrase.
`submission_problems` says why a run is not the one the text describes, for `make submission`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from . import records
from .claims import BRACKETED, DIFFERS, normalise, plain
from .signals import Parser, UsageError

HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$")  # '## 5.1 Learning rate' (closing #'s allowed)
ANALYSIS = re.compile(r"^#+\s*4\b", re.M)  # the analysis starts at section 4's heading
NUMBER = re.compile(r"(?<![\w.])[-−+]?\d(?:[\d,]*\d)?(?:\.\d+)?%?(?!\w)")  # '42,000', not the comma of '8,'
REFERENCE = re.compile(r"(?:Figures?|Tables?|[Ss]ections?)\s+(?:\d+(?:\.\d+)?\s*(?:,|and|or|to|–)\s*)*$")
WORD = re.compile(r"\b(?:better|worse|too close to call|ties?|settled|unsettled|borderline|falls?|falling|rises?|"
                  r"rising|flat|wins?|loses?|faster|slower|smaller|larger|higher|lower|more|less|fewer|overfits?|above|below|same|"
                  r"clearly|best|worst|weakest|strongest|helps?|hurts?|costs?|gains?|ahead|beats?)\b", re.I)
NOT_PROSE = re.compile(r"\]\([^)]*\)|<[^>]*>")  # link targets and HTML tags: no claims in them


class NotANotebook(Exception):
    """The file cannot be read as a Jupyter notebook."""


def load(path: Path):
    """The notebook at path, without validation noise; NotANotebook says why it is not one."""
    import nbformat

    try:
        raw = path.read_text(encoding="utf-8")
        data = json.loads(raw)
    except (OSError, UnicodeDecodeError) as err:
        raise NotANotebook(getattr(err, "strerror", None) or str(err)) from None
    except ValueError:
        raise NotANotebook("not a Jupyter notebook (not JSON)") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or "nbformat" not in data:
        raise NotANotebook("not a Jupyter notebook (no cells)")
    try:
        return nbformat.reads(raw, as_version=4, capture_validation_error={})
    except Exception as err:  # nbformat's errors for malformed cells are of many types; none is ours
        raise NotANotebook(f"not a readable Jupyter notebook ({type(err).__name__})") from None


def heading_of(nb, index: int) -> str | None:
    """The nearest #, ## or ### heading at or above cell `index`."""
    for cell in reversed(nb.cells[:index + 1]):
        if cell.cell_type == "markdown":
            found = [m.group(1) for m in map(HEADING.match, cell.source.splitlines()) if m]
            if found:
                return normalise(found[-1])
    return None


def where(nb, index: int) -> str:
    heading = heading_of(nb, index)
    return f"cell {index} ({heading})" if heading else f"cell {index}"


def is_record(rec) -> bool:
    return (isinstance(rec, dict) and isinstance(rec.get("claims"), list)
            and all(isinstance(c, dict) and all(isinstance(c.get(k), str) for k in ("phrase", "text", "got"))
                    for c in rec["claims"]))


def bindings(nb) -> list[tuple[int | None, int, dict]]:
    """(index of the markdown cell above, check cell index, record) for every record, in order."""
    return [(next((p for p in range(i - 1, -1, -1) if nb.cells[p].cell_type == "markdown"), None), i, rec)
            for i, cell in enumerate(nb.cells) for rec in records.in_cell(cell, records.CLAIMS)]


def phrase_pattern(phrase: str) -> re.Pattern:
    """The phrase, not as a part of a longer word or number ('at 1' in 'at 10')."""
    start = r"(?<!\w)" if re.match(r"\w", phrase) else ""
    end = r"(?!\w)" if re.search(r"\w$", phrase) else ""
    return re.compile(start + re.escape(phrase) + end)


def problems(nb, paragraph: int, rec: dict) -> list[str]:
    """One line per claim of a record that its paragraph no longer states as the run recorded it."""
    markdown = normalise(nb.cells[paragraph].source)
    out = []
    for c in rec["claims"]:
        text = normalise(plain(c["phrase"]))
        # the words and numbers outside the brackets say what the value is of
        if len(re.findall(r"\w+(?:[.,']\w+)*", BRACKETED.sub(" ", c["phrase"]))) < 2:
            out.append(f'{where(nb, paragraph)}: the phrase "{c["phrase"]}" does not say what its value is of '
                       "(it needs two words or more outside its brackets)")
        if not phrase_pattern(text).search(markdown):
            out.append(f'{where(nb, paragraph)}: the text no longer has the phrase "{text}"')
        elif c["text"] != c["got"]:
            got = c["got"] or "no value (not in this run)"
            out.append(f'{where(nb, paragraph)}: "{text}": the text says {c["text"]}, this run recorded {got}')
    return out


def statements(text: str) -> list[re.Match]:
    """The numbers (not a figure, table or section reference, nor an enumeration's '(1)') and the verdict,
    comparative and direction words of a paragraph."""
    numbers = [m for m in NUMBER.finditer(text) if not REFERENCE.search(text[max(0, m.start() - 40):m.start()])
               and not re.fullmatch(r"\(\d\)", text[max(0, m.start() - 1):m.end() + 1])]
    return sorted(numbers + list(WORD.finditer(text)), key=lambda m: m.start())


def around(text: str, m: re.Match, width: int = 30) -> str:
    """The words around a match, cut at spaces, '…' where the paragraph goes on."""
    before, after = text[max(0, m.start() - width):m.start()], text[m.end():m.end() + width]
    if m.start() > width:
        before = "…" + before.split(" ", 1)[-1]
    if m.end() + width < len(text):
        after = after.rsplit(" ", 1)[0] + "…"
    return before + m.group(0) + after


def unbound(nb, index: int, phrases: list[str]) -> list[str]:
    """One line per number or verdict word of markdown cell `index` outside every phrase bound under it."""
    lines = [line for line in nb.cells[index].source.splitlines() if not HEADING.match(line)]
    text = normalise(NOT_PROSE.sub(" ", "\n".join(lines)))
    found = statements(text)
    if found and not phrases:
        return [f"{where(nb, index)}: the paragraph states numbers or verdicts, and no check cell under it "
                "recorded any (deleted, or its outputs cleared)"]
    spans = [m.span() for p in phrases for m in phrase_pattern(normalise(plain(p))).finditer(text)]
    return [f'{where(nb, index)}: "{m.group(0)}" is in no phrase a check cell binds ("{around(text, m)}")'
            for m in found if not any(a <= m.start() and m.end() <= b for a, b in spans)]


def coverage(nb) -> list[str]:
    """The analysis paragraphs' numbers and verdict words that no check cell binds to the run."""
    cells = nb.cells
    start = next((i for i, c in enumerate(cells) if c.cell_type == "markdown" and ANALYSIS.search(c.source)), None)
    if start is None:
        return []
    out = []
    for i in range(start, len(cells)):
        if cells[i].cell_type != "markdown":
            continue
        below = []
        for cell in cells[i + 1:]:
            if cell.cell_type == "markdown":
                break
            below += [c["phrase"] for rec in records.in_cell(cell, records.CLAIMS) if is_record(rec)
                      for c in rec["claims"]]
        out.extend(unbound(nb, i, below))
    return out


def verify(nb, name: str = "the notebook") -> list[str]:
    """The lines saying where the notebook's text and the run it records disagree; none when they agree.
    A notebook with no records, or one from a QUICK smoke run, is one line: there is nothing to verify."""
    found = bindings(nb)
    if not found:
        return [f"{name} records no claims: its check cells have no output (run the notebook, then verify it)"]
    if any(rec.get("quick") for _, _, rec in found if isinstance(rec, dict)):
        return [f"{name} is a QUICK smoke run: the text describes the full run; run it with QUICK = False"]
    out = []
    for paragraph, index, rec in found:
        if not is_record(rec):
            out.append(f"{where(nb, index)}: a claims record this version cannot read")
        elif paragraph is None:
            out.append(f"{where(nb, index)}: a check cell with no markdown cell above it")
        else:
            out.extend(problems(nb, paragraph, rec))
    return out + coverage(nb)


def submission_problems(nb) -> list[str]:
    """Why a run is not the one the text describes, one line each: a setup that differs from the text's, or
    a claim the run contradicts. None for a run the text describes (or a notebook with no claims records)."""
    return [f'{where(nb, index)}: the text describes "{plain(c["phrase"])}", this run {c["got"]}'
            if c.get("kind") == "setup" else
            f'{where(nb, index)}: {DIFFERS} "{plain(c["phrase"])}": the text says {c["text"]}, this run {c["got"]}'
            for _, index, rec in bindings(nb) if is_record(rec) and not rec.get("quick")
            for c in rec["claims"] if c.get("status") == "differs"]


def summary(nb, name: str) -> str:
    """The line for a notebook whose text agrees with its run."""
    found = bindings(nb)
    n = sum(len(rec["claims"]) for _, _, rec in found)
    m = len({paragraph for paragraph, _, _ in found})
    return f"{name}: all {n} claim{'s' * (n != 1)} in {m} paragraph{'s' * (m != 1)} agree with the run it records"


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m mnist_assignment.verify",
                    description="Check an executed notebook's analysis against the run it records.")
    parser.add_argument("notebook", type=Path)
    try:
        path = parser.parse_args(argv).notebook
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        nb = load(path)
    except NotANotebook as err:
        print(f"error: {path}: {err}", file=sys.stderr)
        return 2
    found = verify(nb, str(path))
    print("\n".join(found) if found else summary(nb, str(path)))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
