"""Eq. (5) and rank-average combinations from score tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from proxybench.cli import main


def _table(path, column, values, meta_options=None, higher=True):
    pd.DataFrame({"arch_index": [1, 2, 3, 4], "arch": list("abcd"), column: values,
                  "error": [None] * 4}).to_csv(path, index=False)
    proxies = [{"column": column, "proxy": column.split("[")[0], "higher_is_better": higher,
                "options": meta_options or {}}]
    path.with_suffix(".json").write_text(json.dumps({"proxies": proxies}))


def test_eq5_with_beta_from_the_flatness_run(tmp_path):
    _table(tmp_path / "a.csv", "angle", [0.1, 0.2, 0.3, 0.4])
    _table(tmp_path / "f.csv", "flatness[sigmas=1e-3/1e-2]", [1e-4, 3e-4, 2e-4, 0.0],
           {"sigmas": [1e-3, 1e-2]})
    res = CliRunner().invoke(main, ["combine", str(tmp_path / "a.csv"), str(tmp_path / "f.csv"),
                                    "--terms", "angle,flatness[sigmas=1e-3/1e-2]",
                                    "--gamma", "2", "--out", str(tmp_path / "c.csv")])
    assert res.exit_code == 0, res.output
    out = pd.read_csv(tmp_path / "c.csv")
    col = "angle+flatness[sigmas=1e-3/1e-2][gamma=2]"
    expected = [0.1 + 2 * 1000 * 1e-4, 0.2 + 2 * 1000 * 3e-4, 0.3 + 2 * 1000 * 2e-4, 0.4]
    assert out[col].tolist() == pytest.approx(expected)
    meta = json.loads((tmp_path / "c.json").read_text())
    assert meta["beta"] == pytest.approx(1000.0)
    share = [2 * 1000 * f / e for f, e in zip([1e-4, 3e-4, 2e-4, 0.0], expected, strict=True)]
    assert meta["flatness_share_percent"] == pytest.approx(100 * sum(share) / 4)
    # the combined column is a proxy column for correlate
    from proxybench.table import proxy_columns
    assert col in proxy_columns(out)


def test_rank_average_respects_directions(tmp_path):
    _table(tmp_path / "a.csv", "val_acc", [1.0, 2.0, 3.0, 4.0])
    _table(tmp_path / "l.csv", "val_loss", [4.0, 3.0, 2.0, 1.0], higher=False)
    res = CliRunner().invoke(main, ["combine", str(tmp_path / "a.csv"), str(tmp_path / "l.csv"),
                                    "--terms", "val_acc,val_loss", "--method", "rank",
                                    "--out", str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "r.csv")["rank(val_acc+val_loss)"].tolist() == [1, 2, 3, 4]
    # Eq. (5) refuses a lower-is-better term
    res = CliRunner().invoke(main, ["combine", str(tmp_path / "a.csv"), str(tmp_path / "l.csv"),
                                    "--terms", "val_acc,val_loss", "--out",
                                    str(tmp_path / "x.csv")])
    assert res.exit_code != 0 and "lower-is-better" in res.output
    res = CliRunner().invoke(main, ["combine", str(tmp_path / "a.csv"), "--terms",
                                    "val_acc,nope", "--out", str(tmp_path / "x.csv")])
    assert res.exit_code != 0 and "nope" in res.output and "Traceback" not in res.output
