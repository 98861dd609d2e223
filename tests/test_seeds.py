"""Training-seed uncertainty: seed groups, replicate-aware correlation, the variance study."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from proxybench.analysis.metrics import correlate, correlate_replicates, kendall_tau
from proxybench.run.rundir import SeedsError, group_runs, parse_seeds, replicate_table
from tests.cli_helpers import one_line_error, run


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3") == [3]
    assert parse_seeds("0-2, 9") == [0, 1, 2, 9]
    for bad in ("", "a", "4-2", "1,1", "-1", "0-"):
        with pytest.raises(SeedsError):
            parse_seeds(bad)


def test_replicate_table_names(tmp_path):
    assert replicate_table(tmp_path / "f.csv", tmp_path / "seed-3").name == "f.seed-3.csv"


def _replicates(rng, noise=(0.3, 1.0, 2.0, 4.0), n=400):
    t = rng.normal(size=n)
    return [t + rng.normal(scale=s, size=n) for s in noise], t


def test_replicates_summary_matches_per_replicate_values():
    cols, t = _replicates(np.random.default_rng(0))
    summary, per = correlate_replicates(cols, t, n_boot=100, seed=1)
    taus = [kendall_tau(c, t) for c in cols]
    row = summary.loc["kendall_tau"]
    assert row["mean"] == pytest.approx(np.mean(taus))
    assert row["sd"] == pytest.approx(np.std(taus, ddof=1))
    assert (row["min"], row["max"]) == (pytest.approx(min(taus)), pytest.approx(max(taus)))
    assert row["replicates"] == 4 and row["n"] == 400
    got = per[per["metric"] == "kendall_tau"]["value"].to_numpy()
    assert got == pytest.approx(taus)
    # the seed ensemble is the tau of the mean rank over replicates
    from scipy.stats import rankdata
    ens = np.mean([rankdata(c) for c in cols], axis=0)
    assert row["ensemble"] == pytest.approx(kendall_tau(ens, t))


def test_hierarchical_ci_covers_replicate_spread_that_a_cell_ci_misses():
    cols, t = _replicates(np.random.default_rng(2))
    summary, per = correlate_replicates(cols, t, n_boot=300, seed=0)
    row = summary.loc["kendall_tau"]
    width = row["ci_high"] - row["ci_low"]
    cell_widths = (per["ci_high"] - per["ci_low"])[per["metric"] == "kendall_tau"]
    assert width > 2 * cell_widths.mean()          # replicates differ far more than cells
    assert row["sd"] > 3 * row["cell_sd"]
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    # identical replicates: no seed spread, and the hierarchical CI is the cell CI
    same, _ = correlate_replicates([cols[0], cols[0]], t, n_boot=300, seed=0)
    single = correlate(cols[0], t, n_boot=300, seed=5)
    assert same.loc["kendall_tau", "sd"] == 0
    w_same = same.loc["kendall_tau", "ci_high"] - same.loc["kendall_tau", "ci_low"]
    w_single = single.loc["kendall_tau", "ci_high"] - single.loc["kendall_tau", "ci_low"]
    assert w_same == pytest.approx(w_single, rel=0.3)


def test_replicates_direction_and_missing_cells():
    cols, t = _replicates(np.random.default_rng(3), noise=(0.5, 0.5))
    neg, _ = correlate_replicates([-c for c in cols], t, n_boot=0, higher_is_better=False)
    pos, _ = correlate_replicates(cols, t, n_boot=0)
    assert neg.loc["kendall_tau", "mean"] == pytest.approx(pos.loc["kendall_tau", "mean"])
    cols[1][:10] = np.nan                 # cells failed in one replicate: ranked last there
    s, per = correlate_replicates(cols, t, n_boot=0)
    assert s.loc["kendall_tau", "n"] == 400 and s.loc["kendall_tau", "failed"] == 10
    floor = np.where(np.isnan(cols[1]), np.nanmin(cols[1]) - 1, cols[1])
    assert per[(per["replicate"] == 1) & (per["metric"] == "kendall_tau")]["value"].iloc[
        0] == pytest.approx(kendall_tau(floor, t))
    s, _ = correlate_replicates(cols, t, n_boot=0, missing="drop")   # or left out of all
    assert s.loc["kendall_tau", "n"] == 390
    with pytest.raises(ValueError, match="at least 2"):
        correlate_replicates(cols[:1], t)


def _table(path, values, run, sha, seed=0, column="flatness"):
    pd.DataFrame({"arch_index": np.arange(len(values)), column: values, "error": ""}).to_csv(
        path, index=False)
    path.with_suffix(".json").write_text(json.dumps({
        "run": str(run), "checkpoint_sha256": sha, "seed": seed,
        "proxies": [{"column": column, "higher_is_better": True}]}))


def test_correlate_cli_reports_replicates_and_refuses_one_replicate_twice(tmp_path, gt_csv):
    truth = pd.read_csv(gt_csv).iloc[:300]
    rng = np.random.default_rng(0)
    acc = truth["cifar10"].to_numpy()
    paths = []
    for i, s in enumerate((1.0, 3.0, 6.0)):
        p = tmp_path / f"f.seed-{i}.csv"
        _table(p, acc + rng.normal(scale=s, size=len(acc)), tmp_path / f"seed-{i}", f"h{i}", i)
        paths.append(p)
    res = run("correlate", *paths, "--ground-truth", gt_csv, "--bootstrap", "50")
    assert "sd over 3 replicates" in res.output and "seed ensemble" in res.output
    assert res.output.count("seed-1/f.seed-1.csv") == 1
    out = pd.read_csv(tmp_path / "f.seed-0.correlate.csv")
    summary = out[(out["replicate"] == "all") & (out["metric"] == "kendall_tau")].iloc[0]
    assert summary["replicates"] == 3 and summary["n"] == 300
    per = out[(out["replicate"] != "all") & (out["metric"] == "kendall_tau")]["value"]
    assert summary["value"] == pytest.approx(per.mean())
    dup = tmp_path / "copy.csv"
    _table(dup, acc, tmp_path / "seed-0", "h0", 0)
    one_line_error(run("correlate", paths[0], dup, "--ground-truth", gt_csv, ok=False),
                   "one supernet", "one replicate")


def test_train_seeds_score_group_and_variance(tmp_path, gt_csv):
    group = tmp_path / "g"
    res = run("train", "--preset", "tiny", "--seeds", "0-1", "--threads", "1", "--out", group)
    assert "seed 1" in res.output
    assert [p.name for p in group_runs(group)] == ["seed-0", "seed-1"]
    again = run("train", "--preset", "tiny", "--seeds", "0-1", "--out", group)
    assert again.output.count("trained already") == 2          # finished runs are kept
    one_line_error(run("train", "--preset", "tiny", "--seeds", "2-1", "--out", group,
                       ok=False), "bad seed list")
    res = run("score", "--run", group, "--proxy", "val_loss;angle", "--cells", "30",
              "--out", tmp_path / "s.csv")
    a, b = (pd.read_csv(tmp_path / f"s.seed-{i}.csv") for i in (0, 1))
    assert list(a["arch_index"]) == list(b["arch_index"]) and len(a) == 30
    assert not np.allclose(a["val_loss"], b["val_loss"])         # two different supernets
    metas = [json.loads((tmp_path / f"s.seed-{i}.json").read_text()) for i in (0, 1)]
    assert metas[0]["checkpoint_sha256"] != metas[1]["checkpoint_sha256"]
    run("train", "--preset", "tiny", "--seeds", "2", "--threads", "1", "--out", group)
    run("score", "--run", group, "--proxy", "flatness;val_acc;val_loss;angle", "--cells", "24",
        "--out", group / "supernet.csv")
    res = run("ablate", "variance", "--run", group, "--cells", "24", "--levels", "2",
              "--bootstrap", "20", "--ground-truth", gt_csv, "--out", tmp_path / "ab")
    assert res.output.count("reusing") == 3        # the group's own tables, not scored again
    table = pd.read_csv(tmp_path / "ab" / "variance.csv")
    flat = table[table["proxy"] == "flatness"].set_index("factor")
    assert set(flat.index) == {"training seed", "noise seed", "BN/validation images",
                               "cell sample"}
    assert flat.loc["training seed", "levels"] == 3 and flat.loc["noise seed", "levels"] == 2
    assert table.groupby("proxy")["variance_share_percent"].sum().to_numpy() == pytest.approx(
        100.0)
    assert "noise seed" not in set(table[table["proxy"] == "val_loss"]["factor"])
    # the training-seed taus are the taus of each supernet's own table
    t0 = pd.read_csv(group / "supernet.seed-0.csv")
    gt = pd.read_csv(gt_csv).set_index("index").loc[t0["arch_index"], "cifar10"].to_numpy()
    want = kendall_tau(t0["flatness"], gt)
    assert float(flat.loc["training seed", "taus"].split()[0]) == pytest.approx(want, abs=1e-4)
    one_line_error(run("ablate", "variance", "--run", group / "seed-0", "--cells", "10",
                       "--ground-truth", gt_csv, "--out", tmp_path / "ab2", ok=False),
                   "not a seed group")


def test_cell_sets_follow_the_published_counts():
    from proxybench.spaces import nb201
    unique, distinct = nb201.cell_set("unique"), nb201.cell_set("distinct")
    assert (len(unique), len(distinct)) == (6466, 9445)         # NB201 paper: 6,466 unique
    assert nb201.cell_set("all", [5, 3]) == [3, 5]
    # each class is represented by its lowest index, and classes are what the key says
    keys = {}
    for i in range(nb201.NUM_CELLS):
        keys.setdefault(nb201.isomorphism_key(nb201.cell_at(i)), i)
    assert sorted(keys.values()) == unique
    # swapping the two inputs of a sum, or a skip for its input, keeps the class
    a = nb201.parse_arch("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|"
                         "none~2|")
    b = nb201.parse_arch("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|"
                         "none~2|")
    c = nb201.parse_arch("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|"
                         "none~2|")
    assert nb201.isomorphism_key(a) != nb201.isomorphism_key(b)
    assert nb201.isomorphism_key(c) == "#+#+(0)@nor_conv_3x3"
    with pytest.raises(nb201.ArchError, match="unknown cell set"):
        nb201.cell_set("some")


@pytest.mark.slow   # 70 s on a 2-core AVX2 CPU: the longest test of the suite
def test_report_with_seeds_studies_and_readme(tmp_path, gt_csv):
    group = tmp_path / "g"
    run("train", "--preset", "tiny", "--seeds", "0-2", "--threads", "1", "--out", group)
    run("score", "--run", group, "--proxy", "flatness;val_acc;val_loss;angle", "--cells", "30",
        "--out", group / "supernet.csv")
    run("cells", "--out", tmp_path / "cells.csv")
    common = ["--cells", "30", "--levels", "2", "--bootstrap", "20", "--ground-truth", gt_csv,
              "--out", tmp_path / "ab"]
    run("ablate", "variance", "--run", group, *common)
    res = run("ablate", "budget", "--run", group, *common)
    assert "reusing" in res.output and "scoring" not in res.output
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- leaderboard:begin -->\nold\n<!-- leaderboard:end -->\ntail\n")
    seeds = [a for i in range(3) for a in ("--seed-tables", group / f"supernet.seed-{i}.csv")]
    res = run("report", *seeds, "--scores", tmp_path / "cells.csv", "--ablation",
              tmp_path / "ab" / "variance.csv", "--ablation", tmp_path / "ab" / "budget.csv",
              "--ground-truth", gt_csv, "--bootstrap", "20", "--readme", readme,
              "--out", tmp_path / "rep")
    # each part says when it starts (a full report takes minutes)
    for part in ("the leaderboard (20 bootstrap", "every column of 1 score table",
                 "provenance"):
        assert f"report: {part}" in res.output, part
    board = pd.read_csv(tmp_path / "rep" / "leaderboard.csv").set_index("proxy")
    assert board.loc["flatness", "replicates"] == 3 and board.loc["params", "replicates"] == 1
    assert (board["cells"] == 30).all()                # every row on the seed tables' cells
    taus = [kendall_tau(pd.read_csv(group / f"supernet.seed-{i}.csv")["flatness"],
                        pd.read_csv(gt_csv).set_index("index").loc[
                            pd.read_csv(group / f"supernet.seed-{i}.csv")["arch_index"],
                            "cifar10"].to_numpy()) for i in range(3)]
    assert board.loc["flatness", "tau"] == pytest.approx(np.mean(taus))
    # nDCG (VKDNW's, top 1,000 cells: here all 30) is a column too, mean ± sd over seeds
    from proxybench.analysis.metrics import ndcg
    gt = pd.read_csv(gt_csv).set_index("index")["cifar10"]
    ndcgs = [ndcg(t["flatness"], gt.loc[t["arch_index"]].to_numpy()) for t in
             (pd.read_csv(group / f"supernet.seed-{i}.csv") for i in range(3))]
    assert board.loc["flatness", "ndcg"] == pytest.approx(np.mean(ndcgs))
    assert board.loc["flatness", "ndcg_sd"] == pytest.approx(np.std(ndcgs, ddof=1))
    assert board.loc["params", "ndcg_ci_low"] <= board.loc["params", "ndcg"] <= board.loc[
        "params", "ndcg_ci_high"]
    assert "| top-5% | nDCG | cells (failed) |" in (tmp_path / "rep" / "leaderboard.md"
                                                    ).read_text()
    assert f"{np.mean(ndcgs):.3f} ± {np.std(ndcgs, ddof=1):.3f}" in (
        tmp_path / "rep" / "leaderboard.md").read_text()
    md = (tmp_path / "rep" / "index.md").read_text()
    for heading in ("## Leaderboard", "## Training-seed uncertainty",
                    "## Where the uncertainty of tau comes from",
                    "## Kendall tau vs training budget"):
        assert heading in md
    text = readme.read_text()
    assert "old" not in text and text.startswith("# x\n") and text.endswith("tail\n")
    assert (tmp_path / "rep" / "leaderboard.md").read_text() in text
    one_line_error(run("report", "--scores", tmp_path / "cells.csv", "--ground-truth", gt_csv,
                       "--readme", tmp_path / "cells.csv", "--out", tmp_path / "r2", ok=False),
                   "leaderboard:begin")


def test_correlate_cli_failed_cells_rank_last_or_drop(tmp_path, gt_csv):
    truth = pd.read_csv(gt_csv).iloc[:200]
    values = truth["cifar10"].to_numpy() + np.random.default_rng(1).normal(size=200)
    values[:5] = np.nan                               # five cells whose proxy failed
    path = tmp_path / "f.csv"
    _table(path, values, tmp_path / "seed-0", "h0")
    res = run("correlate", path, "--ground-truth", gt_csv, "--bootstrap", "0")
    assert "(5 failed)" in res.output and "ranked last" in res.output
    last = pd.read_csv(tmp_path / "f.correlate.csv").set_index("metric")
    assert last.loc["kendall_tau", "n"] == 200 and last.loc["kendall_tau", "failed"] == 5
    res = run("correlate", path, "--ground-truth", gt_csv, "--bootstrap", "0", "--missing",
              "drop", "--out", tmp_path / "d.csv")
    assert "left out" in res.output
    drop = pd.read_csv(tmp_path / "d.csv").set_index("metric")
    assert drop.loc["kendall_tau", "n"] == 195
    assert json.loads((tmp_path / "d.json").read_text())["missing"] == "drop"
