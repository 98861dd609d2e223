"""Few-label predictors and search on a scored sample: exactness on synthetic data, no
leakage of labelled cells into the evaluation, clear errors."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

from proxybench import api as pb
from proxybench.analysis import predict as P
from proxybench.analysis.pool_search import (
    PredictorScore,
    expected_best_of_random,
    pool_space,
    run_pool_searches,
)
from proxybench.errors import ScoreError
from proxybench.search.evolution import evolution
from proxybench.spaces import nb201
from tests.cli_helpers import one_line_error, run

N = 300


@pytest.fixture()
def world(tmp_path):
    """N cells with a synthetic ground truth, a score table whose 'oracle' column is the
    truth, a noisy column and a noise column."""
    rng = np.random.default_rng(0)
    idx = np.sort(rng.choice(nb201.NUM_CELLS, N, replace=False))
    truth = rng.uniform(10, 95, N)
    gt = tmp_path / "gt.csv"
    pd.DataFrame({"arch_index": idx,
                  "arch": [nb201.format_arch(nb201.cell_at(int(i))) for i in idx],
                  "cifar10": truth}).to_csv(gt, index=False)
    table = tmp_path / "s.csv"
    pd.DataFrame({"arch_index": idx, "oracle": truth,
                  "noisy": truth + rng.normal(scale=20, size=N),
                  "noise": rng.normal(size=N), "noise_seconds": 0.5}).to_csv(table, index=False)
    table.with_suffix(".json").write_text(json.dumps({"proxies": [
        {"column": c, "higher_is_better": True} for c in ("oracle", "noisy", "noise")]}))
    return {"gt": gt, "table": table, "idx": idx, "truth": truth}


def test_linear_reaches_tau_one_when_a_feature_is_the_truth(world):
    curve = pb.predict(world["table"], labels=[10, 50], draws=3, model="linear",
                       columns=["oracle"], ground_truth=str(world["gt"]))
    assert curve["tau_mean"].tolist() == pytest.approx([1.0, 1.0])
    assert curve["rho_mean"].tolist() == pytest.approx([1.0, 1.0])
    # beside noise columns, the oracle dominates once there are enough labels
    curve = pb.predict(world["table"], labels=[10, 100], draws=3, model="linear",
                       ground_truth=str(world["gt"]))
    assert curve["tau_mean"].iloc[1] > 0.98 > curve["tau_mean"].iloc[0] > 0.8
    assert set(curve.columns) >= {"k", "model", "tau_mean", "tau_sd", "rho_mean", "rho_sd",
                                  "draws", "features", "cells"}
    assert curve["cells"].iloc[0] == N and curve["features"].iloc[0] == "oracle+noisy+noise"
    gbt = pb.predict(world["table"], labels=[100], draws=2, model="gbt",
                     ground_truth=str(world["gt"]))
    assert gbt["tau_mean"].iloc[0] > 0.85
    # noise alone predicts nothing
    noise = pb.predict(world["table"], labels=[50], draws=5, columns=["noise"],
                       ground_truth=str(world["gt"]))
    assert abs(noise["tau_mean"].iloc[0]) < 0.1


def test_labelled_cells_never_enter_the_evaluation(monkeypatch):
    seen = {}
    real = P.fit_predict

    def spy(model, x_train, y_train, x_test, **kw):
        seen.setdefault("calls", []).append((x_train[:, 0].copy(), x_test[:, 0].copy()))
        return real(model, x_train, y_train, x_test, **kw)

    monkeypatch.setattr(P, "fit_predict", spy)
    n = 40
    frame = pd.DataFrame({"id": np.arange(n, dtype=float)})   # feature = cell identity
    truth = np.arange(n, dtype=float)
    _, per = P.learning_curve(frame, truth, {"id": True}, labels=[5, 30], draws=3,
                              model="linear", rng=np.random.default_rng(1))
    for train, test in seen["calls"]:
        assert not set(train) & set(test)
        assert len(train) + len(test) == n
    assert per["evaluated"].tolist() == [35] * 3 + [10] * 3


def test_seeded_and_model_choices(world):
    a = pb.predict(world["table"], labels=[20], draws=3, model=["linear", "gbt"],
                   columns=["noisy", "noise"], ground_truth=str(world["gt"]), seed=4)
    b = pb.predict(world["table"], labels=[20], draws=3, model=["linear", "gbt"],
                   columns=["noisy", "noise"], ground_truth=str(world["gt"]), seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert a["model"].tolist() == ["linear", "gbt"]


def test_predict_cli_and_its_errors(world, tmp_path, monkeypatch):
    out = tmp_path / "curve.csv"
    res = run("predict", "--scores", world["table"], "--labels", "10,20", "--draws", "2",
              "--model", "linear", "--ground-truth", world["gt"], "--out", out)
    assert "k=10" in res.output
    curve = pd.read_csv(out)
    assert curve["k"].tolist() == [10, 20] and (tmp_path / "curve.draws.csv").is_file()
    one_line_error(run("predict", "--scores", world["table"], "--column", "oracle",
                       "--column", "nope", "--ground-truth", world["gt"], "--out", out,
                       ok=False), "nope")
    one_line_error(run("predict", "--scores", world["table"], "--labels", str(N),
                       "--ground-truth", world["gt"], "--out", out, ok=False),
                   f"--labels {N}", "number of cells")
    monkeypatch.delenv("PROXYBENCH_NB201", raising=False)
    monkeypatch.setattr("proxybench.analysis.groundtruth.default_path", lambda: None)
    one_line_error(run("predict", "--scores", world["table"], "--out", out, ok=False),
                   "ground truth")


def test_pool_space_stays_in_the_sample():
    pool = nb201.sample_cells(200, 0)
    space = pool_space(pool)
    rng = random.Random(0)
    ids = set(pool)
    cells = [space.sample(rng) for _ in range(20)]
    for c in cells:
        assert nb201.arch_index(c) in ids
        assert nb201.arch_index(space.mutate(c, 0.5, rng)) in ids
        assert nb201.arch_index(space.crossover(c, cells[0], rng)) in ids
    res = evolution(lambda xs: {i: float(i) for i in xs}, population=10, iterations=4,
                    rng=random.Random(1), space=space)
    assert set(res.scores) <= ids


def test_predictor_search_spends_exactly_k_labels_and_returns_a_labelled_cell(world):
    idx, truth = world["idx"], world["truth"]
    acc = dict(zip(idx.tolist(), truth.tolist(), strict=True))
    feats = {i: np.array([a / 100, 0.5]) for i, a in acc.items()}
    fn = PredictorScore(feats, acc, k=12, generations=4, model="linear",
                        rng=np.random.default_rng(0))
    evolution(fn, population=10, iterations=4, rng=random.Random(0),
              space=pool_space(idx.tolist()))
    best = fn.finish()
    assert len(fn.labelled) == 12 and best in fn.labelled
    assert acc[best] == max(fn.labelled.values())
    runs = run_pool_searches({"oracle": acc}, acc, features=feats,
                             predictors=[("linear", 20)], label_baselines=[20], budget=60,
                             population=10, seeds=[0, 1],
                             algorithms=("evolution", "random", "exhaustive"))
    top = runs[runs["algorithm"] == "exhaustive"]
    assert (top["rank_in_sample"] == 1).all() and (top["evaluations"] == N).all()
    assert set(runs["method"]) == {"oracle", "predictor:linear:k=20", "random labels k=20"}
    oracle = runs[(runs["method"] == "oracle") & (runs["algorithm"] == "random")]
    assert (oracle["labels"] == 0).all() and (oracle["evaluations"] == 60).all()
    assert (runs.loc[runs["method"].str.startswith("predictor"), "labels"] == 20).all()
    with pytest.raises(ScoreError, match="at least 2"):
        PredictorScore(feats, acc, k=1, generations=2, model="linear",
                       rng=np.random.default_rng(0))


def test_search_pool_cli_and_the_markdown_section(world, tmp_path):
    out = tmp_path / "search"
    res = run("search-pool", "--scores", world["table"], "--column", "noisy",
              "--predictor", "linear:10", "--label-baseline", "10", "--budget", "40",
              "--population", "10", "--repeats", "2", "--mutation-prob", "0.3333333333333333",
              "--ground-truth", world["gt"],
              "--out", out)
    assert "predictor:linear:k=10" in res.output
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 5 and (summary["seeds"].iloc[:4] == 2).all()
    assert summary["algorithm"].iloc[4] == "expected (exact)"
    one_line_error(run("search-pool", "--scores", world["table"], "--predictor", "svm:5",
                       "--ground-truth", world["gt"], "--out", out, ok=False), "svm:5")
    run("ensemble", "--scores", world["table"], "--declare", "two=oracle,noise", "--splits",
        "2", "--bootstrap", "0", "--ground-truth", world["gt"], "--out", tmp_path / "ensemble")
    run("predict", "--scores", world["table"], "--labels", "10", "--draws", "2",
        "--ground-truth", world["gt"], "--out", tmp_path / "predict" / "curve.csv")
    from proxybench.analysis.beyond import render_beyond
    md = render_beyond(tmp_path, titles=["synthetic"])
    for needle in ("### synthetic", "**Leaderboard**", "greedy-selected", "declared two",
                   "**Search on the sample**", "predictor:linear:k=10", "AZ-NAS"):
        assert needle in md, needle
    (tmp_path / "title.txt").write_text("zc + cells\n")     # what `beyond` records
    assert "### zc + cells" in render_beyond(tmp_path)


def test_expected_best_of_random_by_hand():
    # 4 cells, k = 2: best is 40 in 3/6 pairs, 30 in 2/6, 20 in 1/6
    got = expected_best_of_random([10, 20, 30, 40], 2)
    assert got["test_acc_mean"] == pytest.approx((3 * 40 + 2 * 30 + 20) / 6)
    assert got["rank_in_sample_mean"] == pytest.approx((3 * 1 + 2 * 2 + 3) / 6)
    assert expected_best_of_random([10, 20, 30, 40], 4)["test_acc_mean"] == 40


def test_failed_cells_rank_last_in_ensembles_predictors_and_pool_searches(world, tmp_path):
    # the oracle fails (NaN, inf) on the 12 worst cells: ranked last it stays a perfect
    # ranking of all N cells; dropped, the cells leave every statistic
    t = pd.read_csv(world["table"])
    worst = np.argsort(world["truth"])[:12]
    t.loc[worst[:6], "oracle"] = np.nan
    t.loc[worst[6:], "oracle"] = np.inf     # higher is better: +inf is no score either
    failed = tmp_path / "f.csv"
    t.to_csv(failed, index=False)
    failed.with_suffix(".json").write_text(world["table"].with_suffix(".json").read_text())
    gt = world["gt"]
    for missing, cells in (("last", N), ("drop", N - 12)):
        out = tmp_path / f"ens-{missing}"
        run("ensemble", "--scores", failed, "--declare", "two=oracle,noisy", "--splits", "2",
            "--bootstrap", "0", "--ground-truth", gt, "--missing", missing, "--out", out)
        meta = json.loads((out / "ensemble.json").read_text())
        assert meta["cells"] == cells and meta["failed"]["oracle"] == 12
        assert meta["missing"] == missing
        single = pd.read_csv(out / "all_cells.csv").set_index("name").loc["oracle"]
        assert single["cells"] == cells and single["tau"] > 0.99   # ties among the failed
        curve = pb.predict(failed, labels=[20], draws=2, ground_truth=str(gt),
                           columns=["oracle", "noise"], missing=missing)
        assert (curve["cells"] == cells).all()
        res = pb.search_pool(failed, proxies=["oracle"], budget=30, seeds=[0],
                             ground_truth=str(gt), missing=missing,
                             out=tmp_path / f"sp-{missing}")
        assert json.loads((tmp_path / f"sp-{missing}" / "search.json").read_text())[
            "sample"] == cells
        assert (res["sample"] == cells).all()
    one_line_error(run("ensemble", "--scores", failed, "--missing", "skip", "--ground-truth",
                       gt, "--out", tmp_path / "x", ok=False), "--missing")


def test_beyond_runs_the_whole_section_from_the_cli(tmp_path):
    """`proxybench beyond` on a synthetic sample: ensembles, predictors, searches, beyond.md,
    and `report --beyond` shows it."""
    rng = np.random.default_rng(1)
    n = 80
    idx = np.sort(rng.choice(nb201.NUM_CELLS, n, replace=False))
    truth = rng.uniform(10, 95, n)
    arch = [nb201.format_arch(nb201.cell_at(int(i))) for i in idx]
    gt = tmp_path / "gt.csv"
    pd.DataFrame({"arch_index": idx, "arch": arch, "cifar10": truth}).to_csv(gt, index=False)

    def table(name, cols):
        path = tmp_path / f"{name}.csv"
        pd.DataFrame({"arch_index": idx, **cols}).to_csv(path, index=False)
        path.with_suffix(".json").write_text(json.dumps({"dataset": "cifar10", "proxies": [
            {"column": c, "higher_is_better": True} for c in cols]}))
        return path
    noisy = lambda s: truth + rng.normal(scale=s, size=n)  # noqa: E731
    zc = table("zc", {"synflow": noisy(10), "nwot": noisy(15), "snip": noisy(40),
                      "jacov": noisy(30)})
    cells = table("cells", {"params_live": noisy(20), "flops_live": noisy(25)})
    tf = table("tf", {"az_nas_expressivity": noisy(12), "az_nas_trainability": noisy(30),
                      "az_nas_complexity": noisy(20), "meco": noisy(8)})
    vk = table("vk", {"vkdnw_single": noisy(15)})
    res = run("beyond", "--zc", zc, "--counts", cells, "--extra", tf, "--extra", vk,
              "--ground-truth", gt, "--bootstrap", "20", "--out", tmp_path / "b")
    out = tmp_path / "b"
    for part in ("ensemble/summary.csv", "predict/curve.csv", "predict-zc/curve.csv",
                 "search/summary.csv", "beyond.md", "times.txt"):
        assert (out / part).is_file(), part
    declared = json.loads((out / "ensemble" / "ensemble.json").read_text())["declared"]
    assert set(declared) == {"zc-all", "nwot+synflow+params_live", "zc-all+free", "az-nas",
                             "extra-all", "vkdnw-agg", "everything"}
    assert declared["az-nas"] == ["az_nas_expressivity", "az_nas_trainability",
                                  "az_nas_complexity"]
    assert declared["vkdnw-agg"] == ["vkdnw_single", "jacov", "az_nas_expressivity",
                                     "az_nas_trainability", "az_nas_complexity"]
    curve = pd.read_csv(out / "predict" / "curve.csv")
    assert sorted(curve["k"].unique()) == [10, 20, 50] and (curve["cells"] == n).all()
    assert "search 0 s" not in res.output or "[beyond]" in res.output
    md = (out / "beyond.md").read_text()
    assert "Beyond single proxies" in md and "zc + cells + tf + vk" in md
    run("report", "--beyond", out, "--ground-truth", gt, "--out", tmp_path / "r")
    assert "Beyond single proxies" in (tmp_path / "r" / "index.md").read_text()
    one_line_error(run("beyond", "--zc", tf, "--counts", cells, "--ground-truth", gt,
                       "--out", tmp_path / "c", ok=False), "nwot", "no table has")
