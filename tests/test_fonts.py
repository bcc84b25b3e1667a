"""Names the PDF's fonts cannot print: found with fontconfig, installed as root on Debian, else one line."""

import os
import re
import subprocess

import nbformat
import pytest

from mnist_assignment import fonts, pdf, report

CJK_LINE = ("NAMES = '李华': no installed font has 李, 华, so the PDF would print empty boxes: install one that does "
            "(Debian/Ubuntu: sudo apt-get install fonts-noto-cjk), then run again")


@pytest.fixture
def fc_list(tmp_path, monkeypatch):
    """A stand-in fc-list on PATH (alone there) that knows fonts for Latin letters only, and the calls it got."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    script = bin_dir / "fc-list"
    script.write_text(f"""#!/bin/sh
echo "$@" >> {calls}
case "$1" in :charset=e9|:charset=f6) echo "DejaVu Sans";; esac
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(fonts, "fontconfig_decides", lambda: True)
    return calls


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for fc-list")
def test_fontconfig_is_asked_once_per_character_that_can_lack_a_font(fc_list):
    assert fonts.uncovered("Ada Lovelace, Alan Turing") == [] and not fc_list.exists()  # ASCII: never asked
    assert fonts.uncovered("José Böll, 李华 李") == ["李", "华"]
    assert fc_list.read_text().splitlines() == [f":charset={c} family" for c in ("e9", "f6", "674e", "534e")]
    assert fonts.font_problem("NAMES = '李华'", "李华") == CJK_LINE
    assert fonts.font_problem("NAMES = 'José'", "José") is None
    assert fonts.font_packages(["é", "李"]) == ["fonts-noto-cjk", "fonts-noto-core"]


def test_without_fc_list_the_line_says_so_rather_than_guessing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no fc-list there
    monkeypatch.setattr(fonts, "fontconfig_decides", lambda: True)
    assert fonts.uncovered("李华") is None and fonts.uncovered("Ada") == []
    assert fonts.font_problem("NAMES = '李华'", "李华") == (
        "NAMES = '李华': cannot tell whether the PDF can print 李, 华: fontconfig's fc-list is not installed to ask "
        "(Debian/Ubuntu: sudo apt-get install fontconfig fonts-noto-cjk)")


def test_where_the_browser_does_not_use_fontconfig_nothing_is_asked(monkeypatch):
    monkeypatch.setattr(fonts, "fontconfig_decides", lambda: False)
    monkeypatch.setattr(fonts, "uncovered", lambda text: pytest.fail("fc-list asked on macOS or Windows"))
    assert fonts.font_problem("NAMES = '李华'", "李华") is None


def test_a_font_that_cannot_be_installed_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(fonts, "fontconfig_decides", lambda: True)
    monkeypatch.setattr(fonts, "uncovered", lambda text: ["李", "华"])
    monkeypatch.setattr(fonts, "can_apt", lambda: False)  # not root, or not Debian
    with pytest.raises(fonts.FontError, match=f"^{re.escape(CJK_LINE)}$"):
        fonts.ensure_fonts("NAMES = '李华'", "李华")
    assert capsys.readouterr().out == ""  # nothing announced: nothing is installed

    def apt_fails(command, **kwargs):  # root on Debian, but apt-get cannot reach its mirror
        raise subprocess.CalledProcessError(100, command)

    monkeypatch.setattr(fonts, "can_apt", lambda: True)
    monkeypatch.setattr(fonts.subprocess, "run", apt_fails)
    with pytest.raises(fonts.FontError, match=f"^{re.escape(CJK_LINE)}$"):
        fonts.ensure_fonts("NAMES = '李华'", "李华")
    assert capsys.readouterr().out.startswith("installing Debian's fonts-noto-cjk so that the PDF prints 李, 华")


@pytest.fixture
def cjk_missing(monkeypatch):
    monkeypatch.setattr(fonts, "fontconfig_decides", lambda: True)
    monkeypatch.setattr(fonts, "uncovered", lambda text: [c for c in dict.fromkeys(text) if c in "李华"])
    monkeypatch.setattr(fonts, "can_apt", lambda: False)
    monkeypatch.setattr(report, "execute", lambda *a, **k: pytest.fail("the notebook ran"))
    monkeypatch.setattr(pdf, "html_to_pdf", lambda *a, **k: pytest.fail("the PDF was printed"))


def test_make_report_refuses_such_names_before_running(cli, cjk_missing, tmp_path):
    result = cli("--quick", "--names", "李华", "--out", tmp_path / "out", entry=report.main)
    assert result.returncode == 2 and result.stderr == f"error: {CJK_LINE}\n"
    assert not (tmp_path / "out").exists()


def test_printing_again_refuses_names_in_the_notebook_it_would_print(cli, cjk_missing, tmp_path):
    cell = nbformat.v4.new_code_cell('TEAM = "1_2"\nNAMES = "李华"', metadata={"tags": ["parameters"]})
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / report.NOTEBOOK.name)
    result = cli("--pdf-only", "--out", tmp_path, entry=report.main)
    assert result.returncode == 2 and result.stderr == f"error: {CJK_LINE}\n"
    assert not (tmp_path / "report.pdf").exists()
