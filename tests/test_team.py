"""TEAM: the team's ids joined by '_', judged by one rule for the notebook's check and both commands."""

import pytest

from mnist_assignment.team import PLACEHOLDER, TEAM_EXAMPLE, TeamError, check_team, is_team


@pytest.mark.parametrize("team", [TEAM_EXAMPLE, PLACEHOLDER, "a1", "A_b_3"])
def test_ids_joined_by_underscores_are_a_team(team):
    assert is_team(team) and check_team(team) == team


@pytest.mark.parametrize("team", ["", "_1", "1_", "1__2", "1 2", "1-2", "李_1", 123, None, "1_2\n"])
def test_anything_else_is_refused_in_one_line(team):
    assert not is_team(team)
    with pytest.raises(TeamError) as info:
        check_team(team)
    assert str(info.value) == (f"TEAM must be the team's ids joined by '_' (letters and digits only, e.g. "
                               f"{TEAM_EXAMPLE}), not {team!r}")
