"""Fonts for every character the PDF prints, and apt-get to install them (and the browser that prints it).

Headless Chromium prints the PDF. On Linux it takes its fonts through fontconfig, and a character
that no installed font has prints as an empty box, without a word: team names in Chinese on a
machine without a CJK font, say. `font_problem` finds such characters before anything runs or
prints (fontconfig's `fc-list` answers which fonts have a character); `ensure_fonts` installs the
font when it can. On Debian/Ubuntu as root, a missing browser or font is installed with apt-get,
announced on the terminal; elsewhere one line says what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import unicodedata

CJK_FONTS = "fonts-noto-cjk"  # Chinese, Japanese, Korean
OTHER_FONTS = "fonts-noto-core"  # most other scripts


class FontError(ValueError):
    """A text the PDF cannot print, and no font could be installed for it; one line."""


def can_apt() -> bool:
    return sys.platform.startswith("linux") and shutil.which("apt-get") is not None and os.geteuid() == 0


def apt_install(packages: list[str], why: str) -> bool:
    """Install Debian packages, announced first; False when this system cannot (not root, no apt-get) or
    apt-get failed (its own lines say why)."""
    if not can_apt():
        return False
    print(f"installing Debian's {' and '.join(packages)} {why} (apt-get)...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    except (subprocess.CalledProcessError, OSError):
        return False
    return True


def fontconfig_decides() -> bool:
    """Whether the printing browser picks its fonts through fontconfig: on Linux. Chrome on macOS and
    Windows falls back on the system's own fonts, which cover Chinese, Japanese and Korean as installed."""
    return sys.platform.startswith("linux")


def to_check(text: str) -> list[str]:
    """The characters of text worth asking about, in order of appearance: not ASCII (every font has it),
    not spaces or control characters (nothing is printed for them)."""
    seen = []
    for ch in text:
        if ord(ch) > 127 and unicodedata.category(ch)[0] not in "ZC" and ch not in seen:
            seen.append(ch)
    return seen


def uncovered(text: str) -> list[str] | None:
    """The characters of text that no installed font has; None when fontconfig's fc-list is not here to ask."""
    chars = to_check(text)
    if not chars:
        return []
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    missing = []
    for ch in chars:
        try:
            done = subprocess.run([fc_list, f":charset={ord(ch):x}", "family"], capture_output=True, text=True,
                                  timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        if not done.stdout.strip():
            missing.append(ch)
    return missing


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (0x1100 <= code <= 0x11FF or 0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF
            or 0xF900 <= code <= 0xFAFF or 0xFE30 <= code <= 0xFE4F or 0xFF00 <= code <= 0xFFEF
            or 0x20000 <= code <= 0x3FFFF)


def font_packages(chars: list[str]) -> list[str]:
    """The Debian font packages that have these characters."""
    return ([CJK_FONTS] if any(is_cjk(c) for c in chars) else []) + (
        [OTHER_FONTS] if any(not is_cjk(c) for c in chars) else [])


def font_problem(label: str, text: str) -> str | None:
    """One line when the PDF would print some characters of text as empty boxes, or when that cannot be
    told; None when every one prints. label names the text, e.g. "NAMES = '李华'"."""
    chars = to_check(text)
    if not chars or not fontconfig_decides():
        return None
    missing = uncovered(text)
    if missing is None:
        return (f"{label}: cannot tell whether the PDF can print {', '.join(chars)}: fontconfig's fc-list is not "
                f"installed to ask (Debian/Ubuntu: sudo apt-get install fontconfig {' '.join(font_packages(chars))})")
    if missing:
        packages = " ".join(font_packages(missing))
        return (f"{label}: no installed font has {', '.join(missing)}, so the PDF would print empty boxes: install "
                f"one that does (Debian/Ubuntu: sudo apt-get install {packages}), then run again")
    return None


def ensure_fonts(label: str, text: str) -> None:
    """Install the fonts text needs when this system can (announced); otherwise FontError with the line."""
    problem = font_problem(label, text)
    if problem is None:
        return
    missing = uncovered(text)
    packages = (["fontconfig"] if missing is None else []) + font_packages(missing or to_check(text))
    if apt_install(packages, f"so that the PDF prints {', '.join(missing or to_check(text))}"):
        problem = font_problem(label, text)
    if problem is not None:
        raise FontError(problem)
