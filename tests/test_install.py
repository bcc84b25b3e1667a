"""`make venv` installs with uv from the package sources pip is configured with (mnist_assignment/install.py)."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from mnist_assignment import install, notebook_code

UV = Path(sys.executable).parent / "uv"  # make venv installs it beside the venv's python


def test_pip_settings_become_uv_options_once_per_value():
    listed = "\n".join([
        "global.cert='/etc/ssl/certs/ca.crt'",  # not a package source: uv has its own
        "global.extra-index-url='file:///mirror/a file:///mirror/b'",
        "global.find-links='/opt/wheels'",
        ":env:.find-links='/opt/wheels'",  # PIP_FIND_LINKS, the same folder again
        "install.index-url='https://mirror.example/simple'",
        "download.find-links='/elsewhere'",  # `pip download`'s, not `pip install`'s
        "global.constraint='/etc/pip/constraints.txt\\n/etc/pip/more.txt'",
        "install.find-links=/unquoted",  # not a repr(): taken as it stands
    ])
    assert install.uv_options(listed) == [
        "--index-strategy", "unsafe-best-match",
        "--extra-index-url", "file:///mirror/a", "--extra-index-url", "file:///mirror/b",
        "--find-links", "/opt/wheels",
        "--index-url", "https://mirror.example/simple",
        "--constraint", "/etc/pip/constraints.txt", "--constraint", "/etc/pip/more.txt",
        "--find-links", "/unquoted"]
    assert install.uv_options("") == ["--index-strategy", "unsafe-best-match"]


def probe_wheel(folder: Path) -> None:
    """A package that exists only in `folder`: a wheel of metadata and nothing else."""
    folder.mkdir()
    info = "mnist_assignment_probe-1.0.dist-info"
    with zipfile.ZipFile(folder / "mnist_assignment_probe-1.0-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: mnist-assignment-probe\nVersion: 1.0\n")
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")


def test_uv_finds_what_pip_is_configured_to_find(tmp_path):
    # the wheel folder reaches pip through PIP_FIND_LINKS only (no config file), and uv through install.py
    probe_wheel(tmp_path / "wheels")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_FIND_LINKS=str(tmp_path / "wheels"),
               UV_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(notebook_code.ROOT))
    printed = subprocess.run([sys.executable, "-m", "mnist_assignment.install"], env=env, capture_output=True,
                             text=True, check=True).stdout
    assert printed.split() == ["--index-strategy", "unsafe-best-match", "--find-links", str(tmp_path / "wheels")]
    assert UV.exists(), f"{UV}: no uv in this venv (make venv installs it)"

    def dry_run(*options):  # offline: only the folder, never PyPI, can have the package
        return subprocess.run([str(UV), "pip", "install", "--dry-run", "--offline", "--python", sys.executable,
                               *options, "mnist-assignment-probe==1.0"], env=env, capture_output=True, text=True)

    found = dry_run(*printed.split())
    assert found.returncode == 0 and "+ mnist-assignment-probe==1.0" in found.stderr, found.stderr
    assert dry_run().returncode != 0  # uv alone does not read pip's settings
