"""The result store: every run is one JSON file under results/, written the moment it finishes, and
reused only when its config, data and code all match."""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .files import atomic_path, write_atomic

MODELS = "models"  # the study name of single runs whose trained weights are kept too
PACKAGE = Path(__file__).resolve().parent


def code_version(*definitions, package: Path = PACKAGE) -> str:
    """A hash of the code that can change a result: every module of the package that a run executes
    (result_modules), and the source of any of `definitions` (and what they use) defined outside the
    package, e.g. in the notebook. A stored result is reused only if it matches."""
    digest = hashlib.sha256()
    for path in result_modules(Path(package)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for text in outside_sources(definitions):
        digest.update(text.encode())
    return digest.hexdigest()[:16]


def result_modules(package: Path = PACKAGE) -> list[Path]:
    """The package's __init__ (it pins the CPU kernels), runner.py, and every package module they
    import, directly or through others: found by reading their import statements, so a new module
    a run uses is covered without being listed. Figures, tables and the report are not among them."""
    todo, seen = ["__init__", "runner"], set()
    while todo:
        name = todo.pop()
        path = package / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                todo += [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
    return sorted(package / f"{name}.py" for name in seen)


def outside_sources(definitions) -> list[str]:
    """The source of each function or class among definitions, and of those their code names, that
    is defined in __main__ (a notebook or script) rather than in an importable module."""
    seen, out, todo = set(), [], list(definitions)
    while todo:
        obj = todo.pop()
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        if isinstance(obj, property):
            todo += [f for f in (obj.fget, obj.fset, obj.fdel) if f is not None]
            continue
        if id(obj) in seen or getattr(obj, "__module__", None) != "__main__":
            continue
        seen.add(id(obj))
        if inspect.isclass(obj):
            # fields too: a dataclass's __init__ is generated from them and has no source of its own
            out.append(f"class {obj.__qualname__}{[b.__qualname__ for b in obj.__bases__]}: "
                       f"{obj.__dict__.get('__annotations__', {})}")
            todo += list(obj.__bases__) + list(vars(obj).values())
        elif inspect.isfunction(obj):
            try:
                out.append(inspect.getsource(obj))
            except (OSError, TypeError):  # generated code (a dataclass's __init__): covered by its class
                continue
            todo += [obj.__globals__[n] for n in names_used(obj.__code__) if n in obj.__globals__]
    return sorted(out)


def names_used(code) -> set[str]:
    """The global names a function's code uses, its comprehensions' and lambdas' included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= names_used(const)
    return names


@dataclass
class Result:
    study: str
    value: object
    seed: int
    config: dict
    history: dict
    seconds: float
    data_sha256: str
    code_version: str

    @property
    def epochs(self) -> list[dict]:
        return self.history["epochs"]

    @property
    def diverged(self) -> bool:
        return self.history["diverged"]


def run_key(cfg: TrainConfig, data_sha256: str, code: str) -> str:
    blob = json.dumps({"config": cfg.to_dict(), "data": data_sha256, "code": code}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class ResultStore:
    """results/<study>/<key>.json, written atomically; reuse only on an exact key match."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, study: str, key: str) -> Path:
        return self.root / study / f"{key}.json"

    def state_path(self, key: str) -> Path:
        return self.root / MODELS / f"{key}.npz"

    def load(self, study: str, key: str) -> Result | None:
        """The stored result, or None (train again) when missing, unreadable or not a whole result
        (for a single model: also when its weights are missing)."""
        try:
            result = Result(**json.loads(self.path(study, key).read_text()))
            epochs = result.history["epochs"]
            if not epochs or not all({"epoch", "val_acc", "val_loss", "train_acc"} <= set(e) for e in epochs):
                return None
            if study == MODELS and not self.state_path(key).is_file():
                return None
            return result
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def load_state(self, key: str) -> dict:
        """A single model's stored weights (NumPy arrays by name)."""
        with np.load(self.state_path(key), allow_pickle=False) as arrays:
            return dict(arrays)

    def save(self, result: Result, key: str, state: dict | None = None) -> None:
        """The weights first, the JSON last: a result whose JSON exists is whole."""
        if state is not None:
            with atomic_path(self.state_path(key)) as tmp, open(tmp, "wb") as f:
                np.savez(f, **state)
        write_atomic(self.path(result.study, key), json.dumps(result.__dict__, allow_nan=False))
