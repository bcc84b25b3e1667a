"""Execute the notebook with parameters, then print it to report.pdf (pdf.py).

python -m mnist_assignment.report [--data PATH] [--quick] [--out DIR] [--seeds N] [--epochs N] [--no-pdf] [--team IDS]
                                  [--names "A, B, C"]
python -m mnist_assignment.report --pdf-only [--out DIR]   (print the executed notebook again, no rerun)

The notebook is the source: only the values of its `parameters` cell are rewritten. It runs in place,
in its own folder; --out DIR runs a copy in DIR, its working folder (what it writes goes there too);
--quick alone runs as Run All with QUICK = True in Jupyter does, in the project folder (figures in
build/quick/figures/), but on a copy, build/quick/mnist_assignment.ipynb, beside its report.pdf.
Paths the notebook shows are relative to its working folder. A full run ends with the verifier's
lines (verify.py): where the text and this run disagree.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import nbformat

from . import verify
from .files import busy, drop_stale_lock, holder, write_atomic
from .notebook_file import (
    NOTEBOOK,
    ROOT,
    NotebookError,
    failed_cell,
    place_of,
    read_parameters,
    set_parameters,
    unfinished,
)
from .pdf import ensure_title_fonts, export_pdf
from .signals import Parser, run_command
from .team import check_team

QUICK_OUT = Path("build") / "quick"  # a QUICK run's copy, PDF and figures, beside each other (git-ignored)


def kernel_env() -> dict:
    """The kernel imports this checkout's package, whatever folder the notebook runs in."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def kernel_config(sockets: Path):
    """The kernel talks to us over local socket files (private to this user) where the system has
    them, instead of TCP ports, over which the kernel warns on the terminal about plain-text TCP."""
    from traitlets.config import Config

    config = Config()
    if os.name == "posix":  # no IPC transport on Windows: TCP on localhost there
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(sockets / "kernel")
    return config


def execute(source: Path, target: Path, parameters: dict, timeout: int = 3600, log: Path | None = None,
            about: dict | None = None, cwd: Path | None = None) -> nbformat.NotebookNode:
    """Run the notebook at source with parameters, in cwd (default: target's folder), and write it to target."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    cwd = target.parent if cwd is None else cwd
    refuse_if_held(cwd)
    nb = nbformat.read(source, as_version=4)
    set_parameters(nb, parameters)
    target.parent.mkdir(parents=True, exist_ok=True)
    sockets = tempfile.TemporaryDirectory(prefix="mnist-kernel-")
    # shut down at once, not by message: a kernel told to stop in the middle of a cell prints a traceback
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", config=kernel_config(Path(sockets.name)),
                            shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=kernel_env())  # passed on to the kernel's start
    except CellExecutionError as err:
        failed = failed_cell(nb)
        where, errors = ("a cell", []) if failed is None else (
            place_of(nb, failed), [o for o in nb.cells[failed].outputs if o.output_type == "error"])
        cause = f"{errors[0].ename}: {errors[0].evalue}" if errors else str(err).strip().splitlines()[-1]
        if log is not None:
            write_atomic(log, re.sub(r"\x1b\[[0-9;]*m", "", str(err)))
        raise NotebookError(f"the notebook failed in {where}: {cause.splitlines()[0][:200]}"
                            + (f" (full trace in {log.name})" if log is not None else "")) from None
    except (Exception, KeyboardInterrupt):
        # Ctrl-C or SIGTERM: nbclient's own handler shuts the kernel down, and the run then fails in whatever
        # step it was in; the user asked for it to stop, and that is what they are told
        if getattr(client, "_async_cleanup_kernel_future", None) is not None:
            raise KeyboardInterrupt from None
        raise
    finally:
        sockets.cleanup()
        drop_stale_lock(cwd / ".lock")  # the kernel is gone; its lock must not outlive it
    for cell in nb.cells:  # execution counts and timings are diff noise
        cell.metadata.pop("execution", None)
    if about:  # what the PDF's header says, kept for printing it again without a rerun
        nb.metadata["mnist_assignment"] = about
    write_atomic(target, nbformat.writes(nb))
    return nb


def refuse_if_held(folder: Path) -> None:
    """The notebook's first check (check_run) holds its folder for as long as its kernel lives, so that two
    runs never write the same figures: a kernel left open after a Run All keeps holding it while idle. Said
    here, before a kernel starts, with how to free it."""
    pid = holder(folder / ".lock")
    if pid is not None:
        where = "the project folder" if folder.resolve() == ROOT else display_path(folder)
        raise NotebookError(busy(pid, where))


def reprint(out: Path) -> None:
    """--pdf-only: print the executed notebook in out to out/report.pdf again, nothing rerun."""
    notebook = out / NOTEBOOK.name
    if not notebook.is_file():
        raise NotebookError(f"{display_path(notebook)} does not exist: run make report first")
    nb = nbformat.read(notebook, as_version=4)
    why = unfinished(nb)
    if why:
        raise NotebookError(f"{display_path(notebook)} {why}: run make report")
    ensure_title_fonts(read_parameters(nb))
    export_pdf(nb, out / "report.pdf")


def print_verdict(nb, name: str) -> None:
    """The verifier's lines: where the text and this run disagree, or one line that they agree."""
    lines = verify.verify(nb, name)
    for line in lines:
        print(line, flush=True)
    if lines:
        print(f"{name}: its text and this run disagree (the line{'s' * (len(lines) != 1)} above); the PDF prints "
              "the text as it is, and make submission refuses the run until the text is rewritten (or ANYWAY=1)",
              flush=True)
    else:
        print(verify.summary(nb, name), flush=True)


def main(argv=None) -> int:
    parser = Parser(prog="python -m mnist_assignment.report", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="labelled CSV (default: data/train.csv, Kaggle download, or the sample)")
    parser.add_argument("--quick", action="store_true", help="bundled sample, 1 seed, few epochs")
    parser.add_argument("--out", help="execute a copy of the notebook in this folder, its working folder "
                                      f"(default: in place; with --quick, a copy in {QUICK_OUT.as_posix()}/)")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--team", help="the team's ids joined by '_' (written into the notebook's TEAM parameter)")
    parser.add_argument("--names", help="the team members' names (written into the notebook's NAMES parameter)")
    parser.add_argument("--no-pdf", action="store_true", help="execute only; do not print report.pdf")
    parser.add_argument("--pdf-only", action="store_true", help="print the executed notebook to PDF again, no rerun")
    # NotebookError, DataError, FontError and UsageError are ValueErrors
    return run_command(lambda: run(parser.parse_args(argv)), (ValueError, OSError))


def run(args) -> int:
    from .data import SAMPLE_DIR, ensure_train_data, load_source

    out = Path(args.out) if args.out else ROOT / QUICK_OUT if args.quick else ROOT
    cwd = ROOT if args.quick and not args.out else out
    if args.pdf_only:
        reprint(out)
        print(f"wrote {display_path(out / 'report.pdf')}", flush=True)
        return 0
    if (args.seeds is not None and args.seeds < 1) or (args.epochs is not None and args.epochs < 1):
        raise NotebookError("--seeds and --epochs must be at least 1")
    if args.quick:
        data = args.data or str(SAMPLE_DIR / "train.csv.gz")
    elif args.data:
        data = os.path.expanduser(args.data)
    else:
        path, message = ensure_train_data(ROOT / "data")
        print(message, flush=True)
        data = str(path)
    _, _, source = load_source(data)  # fail early, in one line, on a bad file
    if (out / NOTEBOOK.name).exists() and (out / NOTEBOOK.name).is_dir() or out.is_file():
        raise NotebookError(f"{out}: not a folder the notebook can be written to")
    # paths as the notebook sees them: relative to its working folder, never absolute
    # (abspath, not resolve: data/train.csv.gz stays itself when it is a link to the file elsewhere)
    parameters = {"DATA": Path(os.path.relpath(os.path.abspath(data), os.path.abspath(cwd))).as_posix(),
                  "QUICK": args.quick}
    if args.seeds:
        parameters["SEEDS"] = args.seeds
    if args.epochs:
        parameters["EPOCHS"] = args.epochs
    if args.team:
        parameters["TEAM"] = check_team(args.team)
    if args.names is not None:
        parameters["NAMES"] = " ".join(args.names.split())
    if not NOTEBOOK.exists():
        raise NotebookError(f"{NOTEBOOK.name} does not exist: nothing to run")
    # the names the run will print, given here or in the notebook: a font for them, or one line, now
    ensure_title_fonts({**read_parameters(nbformat.read(NOTEBOOK, as_version=4)), **parameters})
    start = time.perf_counter()
    print(f"executing {NOTEBOOK.name} (data: {source.describe()}) ...", flush=True)
    # the page header names the data for a reader; its hash is in the closing note
    data_line = source.describe() if source.origin == "sample" else f"{source.name}: {source.rows:,} labelled rows"
    about = {"data": data_line, "date": f"{date.today():%Y-%m-%d}"}
    target = out / NOTEBOOK.name
    nb = execute(NOTEBOOK, target, parameters, log=out / "report.log", about=about, cwd=cwd)
    print(f"executed in {time.perf_counter() - start:.0f} s -> {display_path(target)}", flush=True)
    if not args.no_pdf:
        export_pdf(nb, out / "report.pdf")
        print(f"wrote {display_path(out / 'report.pdf')}", flush=True)
    if not args.quick:  # a QUICK run's first line says that the text describes the full run
        print_verdict(nb, display_path(target))
    return 0


def display_path(path: Path) -> str:
    """Relative to the current folder when possible: logs name no folder of the machine."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
