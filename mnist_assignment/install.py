"""The package sources pip is configured with, as options for uv, which `make venv` installs with.

    uv pip install --python .venv/bin/python $(python -m mnist_assignment.install) -r requirements.txt

uv reads no pip.conf and no PIP_* variable, so a machine whose pip takes its packages from a mirror,
a folder of wheels or a constraints file would send uv to PyPI alone. This prints those settings
(`pip config list`: pip.conf files and PIP_* variables) as uv's flags, one word each, plus pip's rule for
several indexes (the best version over all of them, where uv would stop at the first index that has
the package). Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import ast
import subprocess
import sys

OPTIONS = ("index-url", "extra-index-url", "find-links", "constraint")  # the same names in pip and uv
SECTIONS = ("global", "install", ":env:")  # where `pip install` reads them from (:env: is PIP_*)


def uv_options(pip_config: str) -> list[str]:
    """`pip config list` output -> ["--find-links", "/opt/wheels", ...], each option once per value."""
    options = ["--index-strategy", "unsafe-best-match"]
    seen = set()
    for line in pip_config.splitlines():
        key, sep, value = line.partition("=")
        section, _, name = key.rpartition(".")
        if not sep or section not in SECTIONS or name not in OPTIONS:
            continue
        try:
            value = ast.literal_eval(value)  # pip prints repr()
        except (ValueError, SyntaxError):
            pass  # printed some other way: the text as it stands
        for item in value.split():  # several values: space or newline between them
            if (name, item) not in seen:
                seen.add((name, item))
                options += [f"--{name}", item]
    return options


def main() -> int:
    found = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    print(" ".join(uv_options(found.stdout if found.returncode == 0 else "")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
