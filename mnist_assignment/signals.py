"""How the command lines end when they are told to stop.

`kill PID` (SIGTERM) then ends a command the way Ctrl-C does: KeyboardInterrupt, which every command
line turns into 'interrupted' and exit status 130, after the `finally` blocks have removed their
temp files and locks. Python's default for SIGTERM is to die at once, leaving them behind.
"""

from __future__ import annotations

import signal


def interrupt_on_sigterm() -> None:
    """SIGTERM ends a command the way Ctrl-C does: 'interrupted', exit 130, temp files removed."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
