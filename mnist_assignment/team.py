"""Who hands the work in: the team's ids (TEAM) and the notebook's title block with their names.

The notebook's first check (checks.check_run), `make report TEAM=...` and `make submission` all
judge TEAM by the one rule here (is_team), and the title block is written by the one function here, so
the notebook and the zip's rewritten notebook show it the same way.
"""

from __future__ import annotations

import re

TEAM_PATTERN = re.compile(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)*")
PLACEHOLDER = "id1_id2_id3"  # the parameters cell's TEAM as committed
TEAM_EXAMPLE = "123456789_987654321"
TEAM_RULE = f"the team's ids joined by '_' (letters and digits only, e.g. {TEAM_EXAMPLE})"


class TeamError(ValueError):
    """A TEAM that is not the team's ids joined by '_'; one line."""


def is_team(team) -> bool:
    return isinstance(team, str) and TEAM_PATTERN.fullmatch(team) is not None


def check_team(team: str) -> str:
    if not is_team(team):
        raise TeamError(f"TEAM must be {TEAM_RULE}, not {team!r}")
    return team


def markdown_text(text: str) -> str:
    """Free text (names, course) shown as itself in Markdown, not as emphasis or a link."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)


TEAM_LINE = "**Team:**"
DATE_LINE = re.compile(r"^\*\*Date:\*\* (.+?)\s*$", re.M)


def title_block(team: str, names: str, course: str, when: str) -> str:
    """The notebook's title block (Markdown): team ids and names, course, date of the run."""
    lines = [f"{TEAM_LINE} {team}" + (f" — {markdown_text(names)}" if names else ""),
             f"**Course:** {markdown_text(course)}", f"**Date:** {when}"]
    return "  \n".join(lines)
