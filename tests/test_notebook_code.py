"""notebook_code.load(): the notebook's export cells as a module, and its one-line errors."""

import ast
import builtins
import json
import os
import subprocess
import symtable
import sys

import cloudpickle
import pytest

from mnist_assignment import notebook_code
from mnist_assignment.notebook_code import MODULE_NAME, NOTEBOOK, SETUP_NAMES, NotebookError

GRADED = ["device", "normalise", "split_data", "make_loader", "MLP", "Config", "make_optimizer", "train_one_epoch",
          "evaluate", "train"]


def notebook_with(tmp_path, cells, name="nb.ipynb"):
    """A minimal notebook of (tags, source) code cells, with one markdown cell first."""
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# title"}]
                   + [{"cell_type": "code", "metadata": {"tags": tags}, "source": source, "outputs": [],
                       "execution_count": None} for tags, source in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    return path


def refused(path) -> str:
    with pytest.raises(NotebookError) as info:
        notebook_code.load(path)
    message = str(info.value)
    assert "\n" not in message and MODULE_NAME not in sys.modules
    return message


def test_the_notebook_defines_the_graded_code(nb):
    for name in GRADED:
        assert hasattr(nb, name), name
    assert notebook_code.load() is nb  # cached: the cells run once per process
    assert nb.train.__module__ == MODULE_NAME and MODULE_NAME not in sys.modules
    assert nb.Config().hidden == (128, 64) and nb.Config.__dataclass_params__.frozen


def test_an_edited_notebook_is_loaded_again(tmp_path):
    path = notebook_with(tmp_path, [(["export"], "X = 1"), ([], "X = 2  # not exported")])
    first = notebook_code.load(path)
    assert first.X == 1
    path.write_text(path.read_text().replace("X = 1", "X = 3"))
    os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))  # a later mtime, even on a coarse clock
    assert notebook_code.load(path).X == 3


def test_source_as_a_list_of_lines_and_cells_in_order(tmp_path):
    path = notebook_with(tmp_path, [(["export"], ["def f():\n", "    return g() + 1\n"]),
                                    (["remove-input", "export"], "def g():\n    return np.int64(41)")])
    assert notebook_code.load(path).f() == 42  # np is one of the setup names


def test_a_notebook_without_export_cells_is_one_line(tmp_path):
    path = notebook_with(tmp_path, [([], "import torch"), (["parameters"], "X = 1")])
    message = refused(path)
    assert str(path) in message and "no code cell is tagged 'export'" in message


def test_an_export_cell_that_fails_is_named(tmp_path):
    path = notebook_with(tmp_path, [(["export"], "A = 1"), (["export"], "\nB = undefined_name + 1\n"),
                                    (["export"], "C = 3")])
    message = refused(path)
    # cell 3 of the file: the markdown title is cell 1
    assert message.startswith("nb.ipynb: the export cell 3 ('B = undefined_name + 1') failed: NameError:"), message
    assert "undefined_name" in message


def test_unreadable_notebooks_are_one_line(tmp_path):
    assert "cannot read the notebook" in refused(tmp_path / "missing.ipynb")
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    assert "not a readable notebook (JSONDecodeError" in refused(broken)


def free_names(source: str) -> set:
    """Names the code reads but neither defines nor imports (nor are builtins)."""
    top = symtable.symtable(source, "<export cells>", "exec")
    bound = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}
    used = set()

    def walk(table):
        used.update(s.get_name() for s in table.get_symbols()
                    if s.is_referenced() and (table is top or s.is_global()))
        for child in table.get_children():
            walk(child)

    walk(top)
    return used - bound - set(dir(builtins))


def imported_names(source: str) -> dict:
    """name -> (module, attribute) for each import statement of the source."""
    names = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update({a.asname or a.name: (a.name, None) for a in node.names})
        elif isinstance(node, ast.ImportFrom):
            names.update({a.asname or a.name: (node.module, a.name) for a in node.names})
    return names


def test_the_setup_names_are_exactly_what_the_export_cells_take_from_the_setup_cell():
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    exported = "\n".join(source for _, source in notebook_code.export_cells(NOTEBOOK))
    assert free_names(exported) == set(SETUP_NAMES)
    first_export = next(i for i, c in enumerate(code) if "export" in c["metadata"].get("tags", []))
    setup = {}
    for c in code[:first_export]:  # what the cells before the first export cell import
        setup.update(imported_names("".join(c["source"])))
    for name, origin in SETUP_NAMES.items():
        assert setup.get(name) == origin, name


def test_importing_it_is_light_and_its_functions_travel_by_value():
    """No torch at import; and the notebook's code reaches a fresh process (a study's worker) by value."""
    code = "import sys\nimport mnist_assignment.notebook_code\nprint('torch' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(notebook_code.ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False"
    nb = notebook_code.load()
    blob = cloudpickle.dumps((nb.MLP, nb.Config(hidden=(8,))))
    code = ("import sys, cloudpickle\nMLP, cfg = cloudpickle.loads(sys.stdin.buffer.read())\n"
            "print(sum(p.numel() for p in MLP(cfg.hidden).parameters()))")
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True)
    assert out.stdout.decode().strip() == str((784 + 1) * 8 + (8 + 1) * 10)
