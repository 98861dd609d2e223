"""docs/spaces.md's worked example runs as written: a space defined in the guide goes
through train -> score -> correlate -> search and measure."""

from __future__ import annotations

import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_the_space_guide_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "spaces.md").read_text(),
                        re.S)
    assert len(blocks) == 4
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(1)
    scope: dict = {"__name__": "spaces_guide"}
    for code in blocks:                      # the blocks are one script, run in order
        exec(compile(code, "docs/spaces.md", "exec"), scope)
    out = capsys.readouterr().out
    table, found = scope["table"], scope["found"]
    assert len(table) == 27 and list(table.columns[:2]) == ["arch", "val_acc"]
    assert table[["val_acc", "val_loss", "flatness", "angle"]].notna().all().all()
    assert (tmp_path / "runs" / "chain" / "final.pt").is_file()
    # the search's find is a cell of the table, scored with the table's value
    by_arch = table.set_index("arch")["val_acc"]
    assert (by_arch[found["arch"]].to_numpy() == found["score"].to_numpy()).all()
    assert "kendall_tau" in out and "synflow" in out and "meco" in out
    from proxybench.spaces import get_space
    assert get_space("chain") is scope["CHAIN"]
