"""How the command lines end: an expected error in one line on stderr (exit 2), Ctrl-C or `kill PID`
(SIGTERM) as 'interrupted' (exit 130), after the `finally` blocks have removed their temp files and
locks. Python's default for SIGTERM is to die at once, leaving them behind.
"""

from __future__ import annotations

import argparse
import signal
import sys


class UsageError(ValueError):
    pass


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose argument errors are one line (UsageError) instead of usage + message."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def interrupt_on_sigterm() -> None:
    """SIGTERM ends a command the way Ctrl-C does: 'interrupted', exit 130, temp files removed."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def one_line(err: BaseException, most: int = 300) -> str:
    """An error's message on one line, at most `most` characters (its type's name when it has none)."""
    return " ".join(str(err).split())[:most] or type(err).__name__


def run_command(command, errors: tuple, describe=str) -> int:
    """command()'s exit status; one of `errors` is 'error: ' + describe(err) on stderr and exit 2."""
    interrupt_on_sigterm()
    try:
        return command()
    except errors as err:
        print(f"error: {describe(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
