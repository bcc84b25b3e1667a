"""The notebook as a file, for the commands that run, print and zip it (report.py, submission.py).

Its parameters cell read and rewritten (values only, comments kept), a digest of what it shows, and
whether an executed copy is a finished run. Nothing here executes a cell.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re

import nbformat

from .notebook_code import NOTEBOOK, ROOT, NotebookError  # noqa: F401 (one home for each)
from .verify import heading_of


def parameters_cell(nb) -> nbformat.NotebookNode:
    cell = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
    if cell is None:
        raise NotebookError("the notebook has no cell tagged 'parameters'")
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


def place_of(nb, index: int) -> str:
    """Where cell `index` sits, for one-line errors: its section, or the first cells above any section
    (whose nearest heading is the notebook's title, which names no place)."""
    heading = heading_of(nb, index)
    title = next((h for i in range(len(nb.cells)) if (h := heading_of(nb, i))), None)
    return f"section '{heading}'" if heading and heading != title else "its first cells"


def failed_cell(nb) -> int | None:
    """The index of the first code cell whose outputs hold an error."""
    return next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                 and any(o.output_type == "error" for o in c.get("outputs", []))), None)


def unfinished(nb) -> str | None:
    """Why an executed notebook is not a finished run (None: it is); one clause, for one-line errors."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    failed = failed_cell(nb)
    if failed is not None:
        return f"stopped with an error in {place_of(nb, failed)}"
    if not any(nb.cells[i].get("outputs") for i in code):
        return "has not been run (no outputs)"
    if code and not nb.cells[code[-1]].get("outputs"):
        return "did not run to the end (its last cell has no output)"
    return None


def notebook_digest(nb) -> str:
    """A hash of what the notebook shows (cell sources and outputs): unchanged by reformatting on save."""
    cells = [[c.cell_type, c.source, c.get("outputs", [])] for c in nb.cells]
    return hashlib.sha256(json.dumps(cells, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
