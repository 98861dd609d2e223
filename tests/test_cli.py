"""The command line end to end, and its one-line errors for bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from .cli_helpers import one_line_error, run


def test_proxies_lists_every_proxy_with_direction():
    out = run("proxies").output
    for name in ("flatness", "val_acc", "val_loss", "params", "params_live", "flops"):
        assert name in out
    assert "lower is better" in out and "higher is better" in out


def test_arch_describes_a_cell(gt_csv):
    out = run("arch", "6111", "--ground-truth", gt_csv).output
    assert "1,073,466" in out and "153.27" in out and "cifar10 94.37" in out
    arch = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    out = run("arch", arch).output
    assert "pruned       |none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|" in out


def test_cells_table_and_its_correlation(tmp_path, gt_csv):
    out = tmp_path / "cells.csv"
    run("cells", "--out", out)
    table = pd.read_csv(out)
    assert len(table) == 15625 and table["pruned_arch"].nunique() == 9445
    row = table.set_index("arch_index").loc[6111]
    assert row["params"] == 1073466 and round(row["flops"], 2) == 153.27
    assert (table["params_live"] <= table["params"]).all()
    res = run("correlate", out, "--dataset", "cifar10", "--ground-truth", gt_csv,
              "--bootstrap", "20")
    corr = pd.read_csv(tmp_path / "cells.correlate.csv")
    tau = corr[(corr.proxy == "params") & (corr.metric == "kendall_tau")]["value"].item()
    assert 0.4 < tau < 0.8, res.output  # #params is a strong NB201 baseline
    assert set(corr.proxy) == {"params", "params_live", "flops", "flops_live"}


def test_train_score_correlate_end_to_end(tmp_path, gt_csv):
    runs = tmp_path / "r"
    res = run("train", "--preset", "tiny", "--epochs", "1", "--train-images", "256",
              "--out", runs)
    assert "mean valid accuracy" in res.output
    meta = json.loads((runs / "run.json").read_text())
    assert meta["status"] == "done" and meta["config"]["preset"]["epochs"] == 1
    scores = tmp_path / "s.csv"
    run("score", "--run", runs, "--proxy", "flatness:alpha=0.5;params", "--cells", "30",
        "--out", scores)
    table = pd.read_csv(scores)
    assert len(table) == 30 and table["flatness[alpha=0.5]"].notna().all()
    run("correlate", scores, "--ground-truth", gt_csv, "--bootstrap", "10")
    res = run("correlate", scores, "--between", "flatness[alpha=0.5]", "params",
              "--bootstrap", "10")
    assert "kendall_tau" in res.output
    # a second score into the same file without --resume is refused, nothing is lost
    one_line_error(run("score", "--run", runs, "--proxy", "params", "--cells", "30",
                       "--out", scores, ok=False), "already exists", "--resume")
    assert len(pd.read_csv(scores)) == 30


def test_bad_input_gives_one_clear_line(tmp_path, gt_csv):
    one_line_error(run("score", "--proxy", "flatnes", "--out", tmp_path / "x.csv", ok=False),
                   "unknown proxy", "flatness")
    one_line_error(run("score", "--proxy", "flatness", "--out", tmp_path / "x.csv", ok=False),
                   "--run")
    one_line_error(run("arch", "|nor_conv_3x3~0|+|bogus~0|", ok=False), "NB201 arch")
    one_line_error(run("arch", "|conv9~0|+|none~0|none~1|+|none~0|none~1|none~2|", ok=False),
                   "unknown op")
    one_line_error(run("train", "--data-dir", tmp_path / "nope", "--out", tmp_path / "r",
                       ok=False), "does not exist", "cifar-10-batches-py")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(run("train", "--data-dir", empty, "--out", tmp_path / "r", ok=False),
                   "cifar-10-batches-py")
    one_line_error(run("train", "--preset", "huge", "--out", tmp_path / "r", ok=False),
                   "--preset", "paper")
    one_line_error(run("train", "--preset", "tiny", "--epochs", "0", "--out", tmp_path / "r",
                       ok=False), "epochs")
    # a corrupt checkpoint
    bad_run = tmp_path / "bad"
    bad_run.mkdir()
    (bad_run / "run.json").write_text(json.dumps({"config": {}}))
    (bad_run / "final.pt").write_bytes(b"not a checkpoint")
    one_line_error(run("score", "--run", bad_run, "--proxy", "val_acc",
                       "--out", tmp_path / "y.csv", ok=False), "corrupt")
    # ground truth that does not cover the scored cells
    scores = tmp_path / "s.csv"
    pd.DataFrame({"arch_index": [0, 1, 2, 3], "arch": [None] * 4,
                  "params": [1.0, 2.0, 3.0, 4.0], "error": [None] * 4}).to_csv(scores,
                                                                               index=False)
    small_gt = tmp_path / "gt.csv"
    pd.read_csv(gt_csv).head(2).to_csv(small_gt, index=False)
    one_line_error(run("correlate", scores, "--ground-truth", small_gt, ok=False),
                   "have no cifar10 ground truth")
    one_line_error(run("correlate", tmp_path / "none.csv", ok=False), "not found")
    one_line_error(run("correlate", scores, "--column", "nope", "--ground-truth", gt_csv,
                       ok=False), "nope")


@pytest.mark.parametrize("cells", ["abc", "0", "99999"])
def test_out_of_range_cell_counts(tmp_path, cells):
    res = run("score", "--proxy", "params", "--cells", cells, "--out", tmp_path / "x.csv",
              ok=False)
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "cells" in res.output


def test_demo_runs_offline_without_data(tmp_path, gt_csv):
    res = run("demo", "--out", tmp_path / "demo", "--sample", "12", "--epochs", "1",
              "--ground-truth", gt_csv)
    assert "Kendall tau" in res.output and "synthetic" in res.output
    table = pd.read_csv(tmp_path / "demo" / "scores.csv")
    assert len(table) == 12 and table["flatness"].notna().all()
    corr = pd.read_csv(tmp_path / "demo" / "scores.correlate.csv")
    assert {"flatness", "val_acc", "params", "params_live"} == set(corr.proxy)
    # rerunning reuses what is there instead of failing (here with an explicit --threads)
    run("demo", "--out", tmp_path / "demo", "--sample", "12", "--epochs", "1",
        "--ground-truth", gt_csv, "--threads", "1")


def test_correlate_between_columns_of_two_tables(tmp_path):
    a = pd.DataFrame({"arch_index": range(10), "angle": range(10), "error": None})
    b = pd.DataFrame({"arch_index": range(2, 12), "flatness": [-x for x in range(2, 12)],
                      "error": None})
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", index=False)
    res = run("correlate", tmp_path / "a.csv", tmp_path / "b.csv", "--between", "angle",
              "flatness", "--bootstrap", "10")
    out = pd.read_csv(tmp_path / "a.between.csv")
    tau = out[out.metric == "kendall_tau"].iloc[0]
    assert tau["value"] == pytest.approx(-1.0) and tau["n"] == 8, res.output
    # the same column of two tables (e.g. two noise seeds): COL@N names table N
    b.rename(columns={"flatness": "angle"}).to_csv(tmp_path / "c.csv", index=False)
    run("correlate", tmp_path / "a.csv", tmp_path / "c.csv", "--between", "angle@1",
        "angle@2", "--bootstrap", "10", "--out", tmp_path / "ac")
    tau = pd.read_csv(tmp_path / "ac.csv").query("metric == 'kendall_tau'").iloc[0]
    assert tau["value"] == pytest.approx(-1.0) and tau["proxy"] == "angle@1 vs angle@2"
    one_line_error(run("correlate", tmp_path / "a.csv", "--between", "angle@1", "angle@3",
                       ok=False), "no table 3")


def test_cells_from_a_file_and_merging_disjoint_tables(tmp_path):
    """Two 'machines' score disjoint cell lists; merge gives the single-run table."""
    whole = tmp_path / "whole.csv"
    run("score", "--proxy", "params,flops", "--cells", "all", "--out", whole)
    (tmp_path / "a.txt").write_text("5\n17\n\n3\n")
    (tmp_path / "b.txt").write_text("\n".join(str(i) for i in range(100, 140)))
    run("score", "--proxy", "params,flops", "--cells", tmp_path / "a.txt", "--out",
        tmp_path / "a.csv")
    run("score", "--proxy", "params,flops", "--cells", tmp_path / "b.txt", "--out",
        tmp_path / "b.csv")
    run("merge", tmp_path / "b.csv", tmp_path / "a.csv", "--out", tmp_path / "m.csv")
    merged = pd.read_csv(tmp_path / "m.csv")
    assert merged["arch_index"].tolist() == [3, 5, 17, *range(100, 140)]
    expect = pd.read_csv(whole).set_index("arch_index").loc[merged["arch_index"]]
    assert (merged[["params", "flops"]].to_numpy() == expect[["params", "flops"]].to_numpy()).all()
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["cells"] == 43 and len(meta["merged_from"]) == 2
    one_line_error(run("merge", tmp_path / "a.csv", tmp_path / "m.csv", "--out",
                       tmp_path / "x.csv", ok=False), "overlap in 3 cells")
    (tmp_path / "bad.txt").write_text("12\nseven\n")
    one_line_error(run("score", "--proxy", "params", "--cells", tmp_path / "bad.txt", "--out",
                       tmp_path / "x.csv", ok=False), "bad.txt:2", "not a cell index")


def test_retry_errors_scores_failed_rows_again(tmp_path):
    out = tmp_path / "s.csv"
    run("score", "--proxy", "params", "--cells", "20", "--out", out)
    good = pd.read_csv(out)
    broken = good.astype({"error": object})
    broken.loc[3, "params"] = float("nan")
    broken.loc[3, "error"] = "params: RuntimeError: simulated failure"
    broken.to_csv(out, index=False)
    run("score", "--proxy", "params", "--cells", "20", "--out", out, "--resume")
    assert pd.read_csv(out).loc[3, "error"].startswith("params: RuntimeError")  # kept
    run("score", "--proxy", "params", "--cells", "20", "--out", out, "--resume",
        "--retry-errors")
    again = pd.read_csv(out)
    timing = ["params_seconds"]  # re-measured, so it differs
    pd.testing.assert_frame_equal(again.drop(columns=timing), good.drop(columns=timing))
    one_line_error(run("score", "--proxy", "params", "--cells", "20", "--out", out,
                       "--retry-errors", ok=False), "--resume")
