"""The notebook's graded code cells (sections 1-3) are the package's code, word for word, and the
models print only the layers a config asks for."""

import ast
import inspect
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mnist_assignment.config import BASELINE
from mnist_assignment.models import MLP

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "mnist_assignment.ipynb"
sys.path.insert(0, str(ROOT / "scripts"))
from graded_cells import CELLS, cell  # noqa: E402


def code_cells(notebook: dict) -> list[str]:
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


def definitions(code: str) -> dict[str, str]:
    """Each top-level function or class a cell defines -> its source, decorators included."""
    out = {}
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = code.splitlines()[first - 1:node.end_lineno]
            out[node.name] = "\n".join(lines)
    return out


def packaged() -> dict[str, str]:
    """The package's source of every name the graded cells show."""
    return {name: inspect.getsource(getattr(module, name)).rstrip()
            for module, names in CELLS.values() for name in names}


def differences(cells: list[str]) -> list[str]:
    """What keeps the notebook's cells from being the package's code: one line per name."""
    defined: dict[str, list[str]] = {}
    for code in cells:
        for name, source in definitions(code).items():
            defined.setdefault(name, []).append(source)
    problems = []
    for name, source in packaged().items():
        if name not in defined:
            problems.append(f"{name}: not defined in the notebook")
        elif len(defined[name]) > 1:
            problems.append(f"{name}: defined {len(defined[name])} times in the notebook")
        elif defined[name][0].rstrip() != source:
            problems.append(f"{name}: differs from the package's source")
    return problems


@pytest.fixture(scope="module")
def cells() -> list[str]:
    return code_cells(json.loads(NOTEBOOK.read_text(encoding="utf-8")))


def test_every_graded_name_is_in_the_notebook_as_the_package_has_it(cells):
    assert differences(cells) == []
    names = {name for _, listed in CELLS.values() for name in listed}
    shown = {name for code in cells for name in definitions(code)}
    assert names <= shown and len(names) == sum(len(listed) for _, listed in CELLS.values())


def test_the_script_prints_cells_the_notebook_holds(cells):
    """Each cell graded_cells.py prints is a code cell of the notebook, word for word."""
    for name in CELLS:
        assert cell(name).rstrip() in [code.rstrip() for code in cells], name


def test_an_edited_copy_is_reported(cells):
    target = next(i for i, code in enumerate(cells) if "def train_one_epoch(" in code)
    edited = list(cells)
    edited[target] = edited[target].replace("loss.backward()", "loss.backward()  # edited", 1)
    assert edited[target] != cells[target]
    assert differences(edited) == ["train_one_epoch: differs from the package's source"]
    decorated = list(cells)  # a decorator is part of a definition
    decorated[target] = decorated[target].replace("@torch.no_grad()\ndef evaluate(", "def evaluate(", 1)
    assert decorated[target] != cells[target]
    assert differences(decorated) == ["evaluate: differs from the package's source"]
    dropped = [code.replace("def make_loader(", "def make_batches(") for code in cells]
    assert differences(dropped) == ["make_loader: not defined in the notebook"]
    twice = cells + [next(code for code in cells if "class MLP(" in code)]
    assert "MLP: defined 2 times in the notebook" in differences(twice)


def layer_names(cfg) -> set[str]:
    text = str(MLP(cfg))
    return {name for name in ("Identity", "Dropout", "LayerNorm", "BatchNorm1d") if f"{name}(" in text}


def test_the_printed_model_shows_only_the_layers_its_config_asks_for():
    assert layer_names(BASELINE) == set()
    assert "Linear(in_features=784, out_features=128" in str(MLP(BASELINE))
    assert layer_names(replace(BASELINE, dropout=0.2)) == {"Dropout"}
    assert layer_names(replace(BASELINE, layernorm=True)) == {"LayerNorm"}
    assert layer_names(replace(BASELINE, batchnorm=True)) == {"BatchNorm1d"}
    assert layer_names(replace(BASELINE, layernorm=True, dropout=0.2)) == {"LayerNorm", "Dropout"}
    assert str(MLP(replace(BASELINE, dropout=0.2))).count("Dropout(") == len(BASELINE.hidden)
