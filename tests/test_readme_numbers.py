"""The README's numbers are the report's: its leaderboard block is the one the report wrote."""

from __future__ import annotations

from pathlib import Path

from proxybench.report import README_BEGIN, README_END

ROOT = Path(__file__).resolve().parents[1]


def test_readme_leaderboard_is_the_reports():
    readme = (ROOT / "README.md").read_text()
    block = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    board = (ROOT / "reports" / "cifar10-cpu" / "leaderboard.md").read_text()
    assert block.strip() == board.strip()
    assert board.count("\n") > 10                       # a real table, not an empty block
