"""Files written whole, and folders held by one process.

A file is written to a temp name beside it, then renamed: a reader (or a crash) sees the old file or
the new one, never half of one. The temp name carries the process id, so two processes writing the
same file do not trample each other's temp file, and the temp file is removed on every error path.
A folder's .lock names the live process that writes there (a notebook kernel), so that two runs
never write the same figures; a lock or temp file of a process that is gone is taken over.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether process pid still runs (a lock or temp file of a dead one may be taken over)."""
    if os.name == "nt":
        # never os.kill there: signal 0 is CTRL_C_EVENT on Windows, which would interrupt the other run
        import ctypes

        return windows_alive(pid, ctypes.WinDLL("kernel32", use_last_error=True), ctypes)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or a platform that cannot tell: assume alive
    return True


STILL_ACTIVE, ERROR_INVALID_PARAMETER, QUERY_LIMITED_INFORMATION = 259, 87, 0x1000


def windows_alive(pid: int, kernel32, ctypes) -> bool:
    """alive() on Windows, asked of the kernel32 it is given (a stand-in can be given off Windows)."""
    handle = kernel32.OpenProcess(QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ctypes.get_last_error() != ERROR_INVALID_PARAMETER  # no such process; else: not ours, alive
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True  # cannot tell: assume alive
        return code.value == STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def sweep_stale(path: Path) -> None:
    """Remove temp files of `path` left by processes that were killed before they could clean up."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:-4]
        if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temp path to write to; on success it replaces `path`, on any error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, content: str | bytes) -> None:
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")


class BusyError(OSError):
    """Another live process holds the folder."""


def busy(pid: int, where: str) -> str:
    """What to do about a folder (`where` names it) that another live process holds."""
    return (f"another process (pid {pid}) holds {where}: a Jupyter kernel that ran the notebook there and is still "
            "open (idle too), or a make report; shut that kernel down (Kernel → Shut Down Kernel) or let the other "
            "run finish, or run a copy in another folder")


def hold(folder: str | Path, where: str) -> Path:
    """Take folder/.lock for as long as this process lives (a notebook kernel: its Run Alls).

    Rerunning in the same process is fine; another live process holding it is refused with BusyError
    (busy(pid, where)). The lock goes when the process exits; a killed one's is taken over.
    """
    lock = Path(folder) / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pid = holder(lock)
            if pid == os.getpid():
                return lock
            if pid is not None:
                raise BusyError(busy(pid, where)) from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)
        atexit.register(release, lock, os.getpid())
        return lock
    raise BusyError(f"{lock.parent}: could not take its lock file {lock.name}")


def holder(lock: Path) -> int | None:
    """The id of the live process that holds lock (this one included); None when it is free or stale."""
    with contextlib.suppress(OSError):
        text = lock.read_text().strip()
        if text.isdigit() and alive(int(text)):
            return int(text)
    return None


def drop_stale_lock(lock: Path) -> None:
    """Remove a lock whose process is gone (a kernel that was killed, not shut down, keeps its file)."""
    if lock.exists() and holder(lock) is None:
        lock.unlink(missing_ok=True)


def release(lock: Path, pid: int) -> None:
    """Remove the lock if it is still pid's (never another process's)."""
    with contextlib.suppress(OSError):
        if lock.read_text().strip() == str(pid):
            lock.unlink()
