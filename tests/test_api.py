"""The README's Python API example runs as written, and the API's results are the CLI's."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

import proxybench
from proxybench import api as pb

ROOT = Path(__file__).resolve().parents[1]


def _readme_api_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_readme_measure_example_runs_first(capsys):
    """The section opens with pb.measure, as zero-cost-nas's README opens with
    find_measures; it prints every proxy's finite value."""
    code = _readme_api_blocks()[0]
    assert "pb.measure(" in code
    exec(compile(code, "README.md", "exec"), {})
    values = eval(capsys.readouterr().out.strip(), {})     # the printed {proxy: value} dict
    assert set(values) == {"synflow", "snip", "nwot", "meco", "zico", "zico.cumulative"}
    assert all(math.isfinite(v) for v in values.values())


def test_readme_api_example_runs(tmp_path, monkeypatch, gt_csv, capsys):
    blocks = _readme_api_blocks()
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROXYBENCH_NB201", str(gt_csv))
    exec(compile(blocks[1], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "flatness[sigmas=0.002/0.01]" in out and "val_loss" in out
    assert (tmp_path / "runs" / "api" / "seed-1" / "final.pt").is_file()


def test_api_matches_the_engine_and_raises_package_errors(tiny_run, gt_csv):
    table = pb.score(tiny_run, ["val_loss", "angle"], cells=[3, 5, 8, 13, 21, 34])
    assert list(table["arch_index"]) == [3, 5, 8, 13, 21, 34]
    again = pb.score(tiny_run, ["val_loss"], cells=[3, 5, 8, 13, 21, 34])
    assert table["val_loss"].tolist() == again["val_loss"].tolist()
    res = pb.correlate(table, ground_truth=str(gt_csv), n_boot=0)
    assert set(res["proxy"]) == {"val_loss", "angle"}
    assert (res["replicates"] == 1).all()
    two = pb.correlate([table, table.assign(val_loss=table["val_loss"][::-1].to_numpy())],
                       ground_truth=str(gt_csv), n_boot=0, columns=["val_loss"])
    assert two.loc[two.metric == "kendall_tau", "replicates"].item() == 2
    with pytest.raises(proxybench.ProxybenchError, match="unknown proxy"):
        pb.score(tiny_run, ["nope"], cells=3)
    assert isinstance(pb.list_proxies(), pd.DataFrame)


def test_import_proxybench_and_report_load_no_torch():
    import subprocess
    import sys
    code = ("import sys, proxybench, proxybench.report.build, proxybench.analysis.leaderboard, "
            "proxybench.analysis.correlation, proxybench.table, proxybench.describe; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.strip()
    assert out == "False"


def test_the_api_is_exported_at_the_top_level():
    assert proxybench.train is pb.train and proxybench.score is pb.score
    assert proxybench.correlate is pb.correlate and proxybench.list_proxies is pb.list_proxies
    with pytest.raises(AttributeError):
        proxybench.no_such_function  # noqa: B018
