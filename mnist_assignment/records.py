"""Records the notebook keeps of its own run: JSON in a cell's outputs that no reader sees.

A cell displays a record under a mime type of this project (application/vnd.mnist-...+json) with an
empty text/plain beside it: Jupyter, VS Code and nbconvert know no renderer for the type and fall
back on the empty text, so nothing shows; pdf.py leaves these outputs out of the PDF altogether.
The executed notebook then says what its kernel actually did (the run's parameters after QUICK,
the data it read; each check cell's claims and how they fared), and `make submission` and the
claims verifier judge from that, not from cells that may have been edited since.
"""

from __future__ import annotations

import copy

PREFIX = "application/vnd.mnist-"
RUN = "application/vnd.mnist-run+json"  # checks.check_run: what the run used
CLAIMS = "application/vnd.mnist-claims+json"  # claims.check: the text's claims against this run's values


def show(mime: str, record: dict) -> bool:
    """Put record into the running notebook cell's outputs, invisibly; False outside a notebook kernel
    (a script, a test, a terminal IPython), where there is no output to keep it in."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    display({mime: record, "text/plain": ""}, raw=True)
    return True


def is_hidden(output) -> bool:
    """An output that only carries records (and the empty text that stands in for them)."""
    data = output.get("data", {})
    return (output.get("output_type") in ("display_data", "execute_result") and any(k.startswith(PREFIX) for k in data)
            and all(k.startswith(PREFIX) or (k == "text/plain" and not data[k]) for k in data))


def in_cell(cell, mime: str) -> list:
    """The records of this mime type in one cell's outputs, in order (none in a markdown cell)."""
    if cell.get("cell_type") != "code":
        return []
    return [output["data"][mime] for output in cell.get("outputs", []) if mime in output.get("data", {})]


def find(nb, mime: str) -> list:
    """Every record of this mime type in the notebook's outputs, in cell order."""
    return [record for cell in nb.cells for record in in_cell(cell, mime)]


def without_hidden(nb):
    """A copy of the notebook without the record outputs: what a reader is shown."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.get("outputs", []) if not is_hidden(o)]
    return nb
