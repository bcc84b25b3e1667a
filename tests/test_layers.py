"""Who imports whom in the package: the notebook's checks and the two command lines stay layered, no cycle."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mnist_assignment"


def imports_of(module: str) -> set[str]:
    """The package's modules that `module` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:  # from .x import y
                found.add(node.module.split(".")[0])
            else:  # from . import x, y
                found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mnist_assignment."):
            found.add(node.module.split(".")[1])
    return found & {p.stem for p in PACKAGE.glob("*.py")}


def reachable(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for name in imports_of(todo.pop()) - seen:
            seen.add(name)
            todo.append(name)
    return seen


@pytest.mark.parametrize("module, never", [
    ("report", {"submission", "cli"}),
    ("checks", {"report", "submission", "cli"}),
    ("submission", {"cli", "report"}),
    ("notebook_file", {"report", "submission", "cli"}),
    ("pdf", {"report", "submission", "cli"}),
    ("team", {"report", "submission", "checks", "cli"}),
    ("fonts", {"report", "submission", "checks", "cli"}),
    ("records", {"report", "submission", "checks", "cli"}),
    ("files", {"report", "submission", "checks", "cli"}),
])
def test_lower_layers_never_reach_higher_ones(module, never):
    assert not reachable(module) & never, sorted(reachable(module) & never)


@pytest.mark.parametrize("module", ["checks", "report", "submission", "team", "fonts", "records", "signals",
                                    "files", "data"])
def test_no_import_cycle_runs_through_these(module):
    assert module not in reachable(module)


def test_each_helper_has_one_home():
    for name in ("def interrupt_on_sigterm", "TEAM_PATTERN = ", "def check_team", "def title_block",
                 "def markdown_text", "PLACEHOLDER = "):
        homes = [p.stem for p in PACKAGE.glob("*.py") if name in p.read_text()]
        assert homes == ["signals" if "sigterm" in name else "team"], (name, homes)
    files = (PACKAGE / "files.py").read_text()
    assert files.count("os.O_CREAT | os.O_EXCL") == 1  # one loop takes a lock
