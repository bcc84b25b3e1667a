"""The notebook's graded code as a module: its code cells tagged `export`, run in order.

The notebook (mnist_assignment.ipynb) is the source of the graded code: the data pipeline
(`split_data`, `make_loader`), the model (`MLP`) and the training loop (`Config`, `train`, ...).
The tests and the benchmarks run the notebook's own definitions, read from the .ipynb here
(plain JSON: no Jupyter needed), so there is no second copy that could drift from what is graded.

    graded = notebook_code.load()
    model, history = graded.train(graded.Config(epochs=2), train_set, val_loader)

The export cells hold definitions only and import what they use themselves, except the few names
the notebook's setup cell gives every cell (SETUP_NAMES); those are put in the module first.
"""

from __future__ import annotations

import importlib
import json
import linecache
import sys
import types
from pathlib import Path

from .signals import one_line

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "mnist_assignment.ipynb"
TAG = "export"
# what the export cells use without importing it: name -> (module, attribute), as the setup cell imports them
SETUP_NAMES = {
    "np": ("numpy", None),
    "torch": ("torch", None),
    "nn": ("torch", "nn"),
    "time": ("time", None),
}
# registered in sys.modules only while the cells run: @dataclass looks its class's module up there
MODULE_NAME = "_mnist_notebook"

_cache: dict[tuple[Path, int], types.ModuleType] = {}


class NotebookError(ValueError):
    """The notebook cannot be loaded, run, printed or zipped as it is; one line says why."""


def load(path: str | Path = NOTEBOOK) -> types.ModuleType:
    """The export cells of the notebook at `path`, executed in a fresh module (cached per path and mtime)."""
    path = Path(path).resolve()
    try:
        key = (path, path.stat().st_mtime_ns)
    except OSError as err:
        raise NotebookError(f"{path}: cannot read the notebook ({err.strerror or err})") from None
    if key not in _cache:
        module = _execute(path, export_cells(path))
        for old in [k for k in _cache if k[0] == path]:  # an edited notebook: its older version goes
            del _cache[old]
        _cache[key] = module
    return _cache[key]


def export_cells(path: Path) -> list[tuple[int, str]]:
    """(cell number, counted from 1 over all the notebook's cells; source) of each export code cell, in order."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        found = [(number, cell["source"]) for number, cell in enumerate(cells, 1)
                 if cell.get("cell_type") == "code" and TAG in cell.get("metadata", {}).get("tags", [])]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise NotebookError(f"{path}: not a readable notebook ({type(err).__name__}: {one_line(err)})") from None
    if not found:
        raise NotebookError(f"{path}: no code cell is tagged {TAG!r}; the graded definitions live in those cells")
    # nbformat stores a cell's source as one string or as a list of lines
    return [(number, source if isinstance(source, str) else "".join(source)) for number, source in found]


def _execute(path: Path, cells: list[tuple[int, str]]) -> types.ModuleType:
    module = types.ModuleType(MODULE_NAME, f"The cells tagged {TAG!r} of {path.name}.")
    module.__file__ = str(path)
    for name, (module_name, attribute) in SETUP_NAMES.items():
        imported = importlib.import_module(module_name)
        setattr(module, name, imported if attribute is None else getattr(imported, attribute))
    before = sys.modules.get(MODULE_NAME)
    sys.modules[MODULE_NAME] = module
    try:
        for number, source in cells:
            filename = f"<{path.name} cell {number}>"
            # tracebacks through the notebook's functions then show the cell's lines
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                # dont_inherit: the cells run as the notebook runs them, without this file's __future__ imports
                exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)
            except Exception as err:
                first = next((line for line in source.splitlines() if line.strip()), "").strip()
                raise NotebookError(f"{path.name}: the export cell {number} ({first[:60]!r}) failed: "
                                    f"{type(err).__name__}: {one_line(err)}") from None
    finally:
        # out again, so that worker processes get these functions by value (cloudpickle), not by a
        # module name they could not import
        if before is None:
            sys.modules.pop(MODULE_NAME, None)
        else:
            sys.modules[MODULE_NAME] = before
    return module
