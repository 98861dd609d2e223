"""Label-free ensembles: log-rank and rank aggregation by hand, combine --method logrank,
joining tables, and held-out member selection."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from proxybench.analysis.ensemble import (
    aggregate,
    load_columns,
    oriented_ranks,
    parse_declared,
    select_heldout,
)
from proxybench.analysis.metrics import kendall_tau
from proxybench.errors import ScoreError
from tests.cli_helpers import one_line_error, run


def _table(path, columns: dict, higher: dict | None = None, index=(1, 2, 3, 4)):
    pd.DataFrame({"arch_index": list(index), **columns}).to_csv(path, index=False)
    proxies = [{"column": c, "higher_is_better": (higher or {}).get(c, True)} for c in columns]
    path.with_suffix(".json").write_text(json.dumps({"proxies": proxies}))
    return path


def test_logrank_by_hand_on_four_cells():
    a = [10.0, 20.0, 30.0, 40.0]            # higher is better: ranks 1 2 3 4
    b = [0.3, 0.1, 0.4, 0.2]                # lower is better:  ranks 2 4 1 3
    got = aggregate([a, b], [True, False], method="logrank")
    want = [math.log(1 / 4) + math.log(2 / 4), math.log(2 / 4) + math.log(4 / 4),
            math.log(3 / 4) + math.log(1 / 4), math.log(4 / 4) + math.log(3 / 4)]
    assert got == pytest.approx(want)
    assert aggregate([a, b], [True, False], method="rank") == pytest.approx([1.5, 3, 2, 3.5])


def test_logrank_prefers_consistent_cells_where_the_mean_rank_ties():
    # ranks (1,4) (2,3) (3,2) (4,1): equal rank sums, products 4 6 6 4
    got = aggregate([[1, 2, 3, 4], [4, 3, 2, 1]], [True, True], method="logrank")
    assert got == pytest.approx(np.log(np.array([4, 6, 6, 4]) / 16))
    mean = aggregate([[1, 2, 3, 4], [4, 3, 2, 1]], [True, True], method="rank")
    assert np.ptp(mean) == 0


def test_ties_get_average_ranks_and_nan_cells_are_left_out():
    assert oriented_ranks([5, 5, 1, np.nan], True).tolist()[:3] == [2.5, 2.5, 1.0]
    got = aggregate([[5, 5, 1, np.nan], [1, 2, 3, 4]], [True, True], method="logrank")
    assert np.isnan(got[3])
    # N = 3 complete cells: ranks (2.5, 1) (2.5, 2) (1, 3)
    assert got[:3] == pytest.approx([math.log(2.5 / 3) + math.log(1 / 3),
                                     math.log(2.5 / 3) + math.log(2 / 3),
                                     math.log(1 / 3) + math.log(3 / 3)])


def test_combine_logrank_from_two_tables(tmp_path):
    _table(tmp_path / "a.csv", {"nwot": [10.0, 20.0, 30.0, 40.0]})
    _table(tmp_path / "b.csv", {"val_loss": [0.3, 0.1, 0.4, 0.2]}, {"val_loss": False})
    run("combine", tmp_path / "a.csv", tmp_path / "b.csv", "--terms", "nwot,val_loss",
        "--method", "logrank", "--out", tmp_path / "c.csv")
    col = "logrank(nwot+val_loss)"
    got = pd.read_csv(tmp_path / "c.csv")[col].tolist()
    assert got == pytest.approx([math.log(2 / 16), math.log(8 / 16), math.log(3 / 16),
                                 math.log(12 / 16)])
    meta = json.loads((tmp_path / "c.json").read_text())
    assert {"column": col, "higher_is_better": True}.items() <= meta["proxies"][-1].items()
    # the combined table reads like any proxy table
    cols = load_columns([tmp_path / "c.csv"], [col])
    assert cols.higher[col] is True


def test_load_columns_joins_and_refuses_conflicts(tmp_path):
    a = _table(tmp_path / "a.csv", {"nwot": [1.0, 2, 3, 4], "x_seconds": [1.0] * 4})
    b = _table(tmp_path / "b.csv", {"params": [4.0, 3, 2], "nwot": [1.0, 2, 3]},
               index=(2, 3, 4))
    with pytest.raises(ScoreError, match="different values"):
        load_columns([a, b])
    c = _table(tmp_path / "c.csv", {"params": [4.0, 3, 2], "nwot": [2.0, 3, 4]},
               index=(2, 3, 4))
    cols = load_columns([a, c])          # nwot equal on the shared cells: one column
    assert list(cols.frame.columns) == ["nwot", "params"]
    assert cols.frame.index.tolist() == [2, 3, 4]
    with pytest.raises(ScoreError, match="unknown column"):
        load_columns([a], ["nope"])


def test_parse_declared():
    assert parse_declared(["e=a, b"], ["a", "b", "c"]) == {"e": ["a", "b"]}
    assert parse_declared(["all=*"], ["a", "b", "c"]) == {"all": ["a", "b", "c"]}
    with pytest.raises(ScoreError):
        parse_declared(["e=a"], ["a", "b"])


def _synthetic(n=200, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n)
    frame = pd.DataFrame({"good1": truth + rng.normal(scale=0.7, size=n),
                          "good2": truth + rng.normal(scale=0.7, size=n),
                          "noise1": rng.normal(size=n), "noise2": rng.normal(size=n),
                          "neg": -truth + rng.normal(scale=0.7, size=n)},
                         index=pd.Index(np.arange(n), name="arch_index"))
    higher = {c: True for c in frame.columns} | {"neg": False}
    return frame, truth, higher


def test_heldout_selection_picks_the_informative_columns_and_measures_on_the_other_half():
    frame, truth, higher = _synthetic()
    per, members = select_heldout(frame, truth, higher, method="logrank", splits=4,
                                  rng=np.random.default_rng(3),
                                  declared={"pair": ["good1", "noise1"]})
    chosen = set(members.loc[members["chosen"] > 0, "column"])
    assert {"good1", "good2", "neg"} >= chosen and len(chosen) >= 2
    # the held-out tau is computed on exactly the complement of the selection half
    rng = np.random.default_rng(3)
    perm = rng.permutation(len(frame))
    held = np.sort(perm[len(frame) // 2:])
    pair = aggregate([frame["good1"], frame["noise1"]], [True, True], method="logrank")
    row = per[(per["split"] == 0) & (per["name"] == "pair")].iloc[0]
    assert row["tau_heldout"] == pytest.approx(kendall_tau(pair[held], truth[held]))
    assert row["cells_select"] + row["cells_heldout"] == len(frame)
    sel = per[per["kind"] == "selected"]
    assert (sel["tau_heldout"] > per[per["name"] == "pair"]["tau_heldout"].to_numpy()).all()


def test_ensemble_cli_writes_its_tables(tmp_path, monkeypatch):
    frame, truth, _ = _synthetic(60)
    gt = tmp_path / "gt.csv"
    from proxybench.spaces import nb201
    pd.DataFrame({"arch_index": frame.index, "arch": [nb201.format_arch(nb201.cell_at(int(i)))
                                                      for i in frame.index],
                  "cifar10": 50 + 5 * truth}).to_csv(gt, index=False)
    t = _table(tmp_path / "s.csv", {c: frame[c].tolist() for c in frame.columns},
               {"neg": False}, index=frame.index)
    out = tmp_path / "ens"
    res = run("ensemble", "--scores", t, "--declare", "two=good1,good2", "--splits", "3",
              "--bootstrap", "0", "--ground-truth", gt, "--out", out)
    assert "selected" in res.output
    for name in ("splits", "summary", "members", "all_cells"):
        assert (out / f"{name}.csv").is_file()
    res = run("ensemble", "--scores", t, "--declare", "two=good1,nope", "--ground-truth", gt,
              "--out", out, ok=False)
    one_line_error(res, "nope")


def test_combine_logrank_missing_last_and_a_named_column(tmp_path):
    # AZ-NAS: a degenerate component (NaN) ranks below every finite value; all 4 cells kept
    _table(tmp_path / "a.csv", {"x": [1.0, float("nan"), 3.0, 2.0], "y": [4.0, 3.0, 2.0, 1.0]})
    run("combine", tmp_path / "a.csv", "--terms", "x,y", "--method", "logrank", "--missing",
        "last", "--name", "az", "--out", tmp_path / "c.csv")
    got = pd.read_csv(tmp_path / "c.csv")["az"].tolist()
    # ranks x: 2, 1 (missing), 4, 3; y: 4, 3, 2, 1
    assert got == pytest.approx([math.log(2 / 4) + math.log(4 / 4),
                                 math.log(1 / 4) + math.log(3 / 4),
                                 math.log(4 / 4) + math.log(2 / 4),
                                 math.log(3 / 4) + math.log(1 / 4)])
    run("combine", tmp_path / "a.csv", "--terms", "x,y", "--method", "logrank", "--out",
        tmp_path / "l.csv")                               # last is the default policy
    assert pd.read_csv(tmp_path / "l.csv")["logrank(x+y)"].tolist() == pytest.approx(got)
    run("combine", tmp_path / "a.csv", "--terms", "x,y", "--method", "logrank", "--missing",
        "drop", "--out", tmp_path / "d.csv")
    assert pd.read_csv(tmp_path / "d.csv")["logrank(x+y)"].isna().tolist() == \
        [False, True, False, False]
    one_line_error(run("combine", tmp_path / "a.csv", "--terms", "x,y", "--method", "logrank",
                       "--name", "x", "--out", tmp_path / "e.csv", ok=False), "--name x")
