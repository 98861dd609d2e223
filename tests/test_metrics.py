"""Ranking metrics pinned on hand-computable cases, and the fast bootstrap against brute force."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from proxybench.analysis import metrics
from proxybench.analysis.metrics import (
    combine_linear,
    combine_rank_average,
    correlate,
    kendall_tau,
    ndcg,
    spearman_rho,
    top_k_precision,
)
from proxybench.errors import ScoreError

METRIC_NAMES = ["kendall_tau", "spearman_rho", "top1%", "top5%", "top10%", "ndcg"]


def _noisy(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=n)
    return truth + noise * rng.normal(size=n), truth


def test_perfect_and_inverse_order() -> None:
    x = np.arange(10.0)
    assert kendall_tau(x, x) == pytest.approx(1.0)
    assert spearman_rho(x, x) == pytest.approx(1.0)
    assert kendall_tau(x, -x) == pytest.approx(-1.0)
    assert spearman_rho(x, -x) == pytest.approx(-1.0)


def test_small_example_against_hand_count() -> None:
    # y = 3 1 2 5 4 against x = 1..5: discordant pairs (3,1) (3,2) (5,4) -> 3 of 10, so 7 - 3.
    x = [1, 2, 3, 4, 5]
    y = [3, 1, 2, 5, 4]
    assert kendall_tau(x, y) == pytest.approx((7 - 3) / 10)
    # rank differences -2 1 1 -1 1: sum d^2 = 8, rho = 1 - 6 * 8 / (5 * 24)
    assert spearman_rho(x, y) == pytest.approx(1 - 6 * 8 / 120)


def test_tau_b_with_ties() -> None:
    # 6 pairs: 5 concordant, 0 discordant, 1 tied in x only -> 5 / sqrt((6 - 1) * (6 - 0)).
    assert kendall_tau([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(5 / math.sqrt(30))


def test_top_k_precision_constructed() -> None:
    scores = np.arange(10.0, 0.0, -1.0)  # proxy order: cells 0, 1, 2, ...
    truth = np.array([9.0, 1, 8, 2, 3, 7, 4, 5, 6, 0])  # true top 3: cells 0, 2, 5
    assert top_k_precision(scores, truth, 0.3) == pytest.approx(2 / 3)  # {0,1,2} & {0,2,5}
    assert top_k_precision(scores, truth, 0.01) == 1.0  # k = max(1, round(0.1)) = 1: cell 0
    assert top_k_precision(scores, truth, 1.0) == 1.0
    assert top_k_precision(-scores, truth, 0.3) == 0.0  # proxy top 3 = cells 7, 8, 9
    with pytest.raises(ValueError, match="fraction"):
        top_k_precision(scores, truth, 0.0)


def test_correlate_layout_and_values() -> None:
    x = [1, 2, 3, 4, 5]
    y = [3, 1, 2, 5, 4]
    table = correlate(x, y, n_boot=50)
    assert list(table.index) == METRIC_NAMES
    assert list(table.columns) == ["value", "ci_low", "ci_high", "n", "failed"]
    assert table.loc["kendall_tau", "value"] == pytest.approx(0.4)
    assert table.loc["spearman_rho", "value"] == pytest.approx(0.6)
    assert (table["n"] == 5).all()
    names = correlate(x, y, fracs=(0.2, 0.5), n_boot=0).index
    assert list(names) == ["kendall_tau", "spearman_rho", "top20%", "top50%", "ndcg"]


def test_higher_is_better_false_flips_sign() -> None:
    s, t = _noisy(300, 1.0, seed=1)
    up = correlate(s, t, n_boot=0)
    down = correlate(s, t, n_boot=0, higher_is_better=False)
    assert down.loc["kendall_tau", "value"] == pytest.approx(-up.loc["kendall_tau", "value"])
    assert down.loc["spearman_rho", "value"] == pytest.approx(-up.loc["spearman_rho", "value"])
    assert down.loc["top10%", "value"] == pytest.approx(top_k_precision(-s, t, 0.10))


def test_failed_cells_rank_last_by_default_or_are_dropped() -> None:
    s, t = _noisy(50, 0.5, seed=2)
    # a cell without truth is always dropped; a failed score (nan, inf) ranks last or drops
    s_bad = np.concatenate([s, [np.nan, np.inf, 1.0]])
    t_bad = np.concatenate([t, [2.0, -1.0, np.nan]])
    clean = correlate(s, t, n_boot=20, seed=3)
    dropped = correlate(s_bad, t_bad, n_boot=20, seed=3, missing="drop")
    pd.testing.assert_frame_equal(clean.drop(columns="failed"), dropped.drop(columns="failed"))
    assert (dropped["n"] == 50).all() and (dropped["failed"] == 2).all()
    last = correlate(s_bad, t_bad, n_boot=0, missing="last")
    assert (last["n"] == 52).all() and (last["failed"] == 2).all()
    floor = s.min() - 1.0           # both failed cells tie below every finite score
    want = kendall_tau(np.concatenate([s, [floor, floor]]), np.concatenate([t, [2.0, -1.0]]))
    assert last.loc["kendall_tau", "value"] == pytest.approx(want)
    # lower-is-better proxies: failed cells still rank last, not first
    low = correlate(-s_bad, t_bad, n_boot=0, higher_is_better=False)
    assert low.loc["kendall_tau", "value"] == pytest.approx(want)
    # failed cells that are truly bad raise tau when ranked last (NASLib's convention)
    bad_t = np.concatenate([t, [t.min() - 5, t.min() - 6]])
    assert correlate(np.concatenate([s, [np.nan, np.nan]]), bad_t, n_boot=0).loc[
        "kendall_tau", "value"] > clean.loc["kendall_tau", "value"]
    with pytest.raises(ScoreError, match="missing must be one of last, drop"):
        correlate(s, t, n_boot=0, missing="first")


def test_too_few_cells() -> None:
    with pytest.raises(ValueError, match="at least 3 cells"):
        correlate([1.0, 2.0, 3.0], [1.0, 2.0, np.nan])
    with pytest.raises(ValueError, match="at least 3 cells"):
        correlate([1.0, 2.0, np.nan], [1.0, 2.0, 3.0], missing="drop")
    with pytest.raises(ValueError, match="differ in length"):
        correlate([1.0, 2.0, 3.0], [1.0, 2.0])


def test_cis_contain_estimate_and_shrink_with_n() -> None:
    widths = {}
    for n in (200, 2000):
        s, t = _noisy(n, 1.0, seed=4)
        table = correlate(s, t, n_boot=200, seed=0)
        assert (table["ci_low"] <= table["value"]).all()
        assert (table["value"] <= table["ci_high"]).all()
        widths[n] = table["ci_high"] - table["ci_low"]
    for name in ("kendall_tau", "spearman_rho", "top10%", "ndcg"):
        assert widths[2000][name] < widths[200][name]


def test_bootstrap_is_deterministic_under_seed() -> None:
    s, t = _noisy(100, 1.0, seed=5)
    a = correlate(s, t, n_boot=100, seed=7)
    b = correlate(s, t, n_boot=100, seed=7)
    c = correlate(s, t, n_boot=100, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["ci_low"].equals(c["ci_low"])
    assert correlate(s, t, n_boot=0)[["ci_low", "ci_high"]].isna().all().all()


def test_fast_bootstrap_matches_brute_force() -> None:
    # Heavy ties on purpose: the O(n) ranks and top-k counts must match sorting each resample.
    rng = np.random.default_rng(6)
    n = 40
    s = rng.integers(0, 6, n).astype(float)
    t = rng.integers(0, 8, n).astype(float)
    fracs = (0.05, 0.1, 0.25)
    ks = [max(1, round(f * n)) for f in fracs]
    fast = metrics._bootstrap(s, t, ks, 10, 30, np.random.default_rng(0))
    draws = np.random.default_rng(0)
    for row in fast:
        idx = np.sort(draws.integers(0, n, size=n))
        want = [
            kendall_tau(s[idx], t[idx]),
            spearman_rho(s[idx], t[idx]),
            *(top_k_precision(s[idx], t[idx], f) for f in fracs),
            ndcg(s[idx], t[idx], 10),     # a resampled cell's copies tie: mean gain
        ]
        np.testing.assert_allclose(row, want, atol=1e-12)


def test_ndcg_hand_computed() -> None:
    # VKDNW's nDCG_P = (1/Z) sum_{j<=P} (2^acc(k_j) - 1) / log2(1 + j).
    # accuracies 3, 1, 2, 0 -> gains 7, 1, 3, 0; the proxy's order is cells 1, 2, 3, 0
    truth = [3.0, 1.0, 2.0, 0.0]
    scores = [0.1, 0.4, 0.3, 0.2]
    dcg = 1 / math.log2(2) + 3 / math.log2(3) + 0 / math.log2(4) + 7 / math.log2(5)
    ideal = 7 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4) + 0 / math.log2(5)
    assert ndcg(scores, truth, k=4) == pytest.approx(dcg / ideal)
    assert ndcg(scores, truth, k=4) == pytest.approx(0.628943, abs=1e-6)
    # P = 2 looks at the first two places only: (1 + 3/log2 3) / (7 + 3/log2 3)
    assert ndcg(scores, truth, k=2) == pytest.approx(0.325296, abs=1e-6)
    assert ndcg(scores, truth, k=1) == pytest.approx(1 / 7)
    assert ndcg(scores, truth, k=1000) == ndcg(scores, truth, k=4)   # P clipped to n
    # a tie at the top shares its mean gain over the places it takes: cells 0 and 1 tie
    # for places 1-2 with gains 3 and 0, so with P = 1 the DCG is 1.5 of the ideal 3
    assert ndcg([1.0, 1.0, 0.0], [2.0, 0.0, 1.0], k=1) == pytest.approx(0.5)
    assert ndcg([1.0, 1.0, 0.0], [2.0, 0.0, 1.0], k=1) == ndcg([1.0, 1.0, 0.0],
                                                                [0.0, 2.0, 1.0], k=1)


def test_ndcg_properties() -> None:
    s, t = _noisy(500, 1.0, seed=9)
    acc = 90 + 2 * t                                   # accuracies in percent, as NB201's
    assert ndcg(acc, acc) == pytest.approx(1.0)
    assert ndcg(np.arange(5.0), np.arange(5.0) * 10) == pytest.approx(1.0)
    assert ndcg(-acc, acc) < ndcg(s, acc) < 1.0       # reversed < noisy < perfect
    assert ndcg(s, acc, k=10) != pytest.approx(ndcg(s, acc, k=500))
    # one point of accuracy doubles a gain: a proxy that puts the best cell second loses
    # about half of the first place's weight, however good the rest of its order
    best_second = np.argsort(np.argsort(-acc)).astype(float)
    best_second[[np.argmax(acc), np.argsort(-acc)[1]]] = best_second[
        [np.argsort(-acc)[1], np.argmax(acc)]]
    assert ndcg(-best_second, acc, k=1) == pytest.approx(
        2 ** (np.sort(acc)[-2] - acc.max()), rel=1e-9)
    # the scale of the gains cancels: large accuracies do not overflow
    assert np.isfinite(ndcg(s, acc + 5000))
    # sklearn's ndcg_score is this metric when its relevance is the gain 2^acc - 1
    from sklearn.metrics import ndcg_score
    tied = np.round(s)
    assert ndcg(tied, acc, k=50) == pytest.approx(
        ndcg_score([np.exp2(acc - acc.max())], [tied], k=50), rel=1e-6)
    with pytest.raises(ScoreError, match="--ndcg-k"):
        ndcg(s, acc, k=0)
    with pytest.raises(ScoreError, match="--ndcg-k"):
        correlate(s, acc, n_boot=0, ndcg_k=2.5)


def test_ndcg_over_seed_replicates() -> None:
    """nDCG across replicates as tau: mean and sd of the replicates' values, a hierarchical
    CI around the mean, and the seed ensemble's (mean rank) nDCG."""
    from scipy import stats
    _, t = _noisy(300, 1.0, seed=10)
    acc = 90 + 2 * t
    rng = np.random.default_rng(11)
    reps = [acc + rng.normal(0, s, acc.size) for s in (1.0, 2.0, 4.0)]
    summary, per = metrics.correlate_replicates(reps, acc, n_boot=100, seed=0, ndcg_k=50)
    values = [ndcg(r, acc, 50) for r in reps]
    row = summary.loc["ndcg"]
    assert row["mean"] == pytest.approx(np.mean(values))
    assert row["sd"] == pytest.approx(np.std(values, ddof=1))
    assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    ranks = np.mean([stats.rankdata(r) for r in reps], axis=0)
    assert row["ensemble"] == pytest.approx(ndcg(ranks, acc, 50))
    np.testing.assert_allclose(per[per.metric == "ndcg"]["value"], values)


def test_ndcg_reproduces_vkdnw_table1_for_flops(gt_csv, tmp_path) -> None:
    """VKDNW's Table 1 gives FLOPs nDCG 0.745 / 0.576 / 0.403 on CIFAR-10 / CIFAR-100 /
    ImageNet16-120 over the 9,445 cells they call unique (our distinct ones), P = 1000:
    the formula above, with accuracy in percent, reproduces them."""
    from proxybench.analysis.groundtruth import load_ground_truth
    from proxybench.api import cells
    from proxybench.spaces.nb201 import cell_set
    table = cells(tmp_path / "cells.csv")[["arch_index", "flops"]]
    both = table.merge(load_ground_truth(str(gt_csv)), on="arch_index")
    both = both[both["arch_index"].isin(cell_set("distinct", list(both["arch_index"])))]
    assert len(both) == 9445
    for dataset, published in (("cifar10", 0.745), ("cifar100", 0.576),
                               ("imagenet16-120", 0.403)):
        assert ndcg(both["flops"], both[dataset], k=1000) == pytest.approx(published, abs=0.003)


def test_inputs_not_mutated() -> None:
    s = np.array([3.0, 1.0, np.nan, 2.0, 5.0])
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    s0, t0 = s.copy(), t.copy()
    correlate(s, t, n_boot=5, higher_is_better=False)
    combine_linear(s, t, gamma=1.0, beta=1.0)
    combine_rank_average([s, t], [True, False])
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(t, t0)


def test_combine_linear() -> None:
    out = combine_linear([1.0, 2.0], [10.0, 20.0], gamma=0.5, beta=2.0)
    np.testing.assert_allclose(out, [11.0, 22.0])
    with pytest.raises(ValueError, match="shape"):
        combine_linear([1.0], [1.0, 2.0], gamma=1.0, beta=1.0)


def test_combine_rank_average() -> None:
    out = combine_rank_average([[1.0, 2.0, 3.0], [30.0, 20.0, 10.0]], [True, False])
    np.testing.assert_allclose(out, [1.0, 2.0, 3.0])  # both say cell 2 is best
    out = combine_rank_average([[1.0, 1.0, 2.0], [3.0, 2.0, 1.0]], [True, True])
    np.testing.assert_allclose(out, [(1.5 + 3) / 2, (1.5 + 2) / 2, (3 + 1) / 2])
    # NaN cell is left out and the rest are ranked among themselves.
    out = combine_rank_average([[1.0, np.nan, 5.0, 3.0]], [True])
    np.testing.assert_allclose(out, [1.0, np.nan, 3.0, 2.0])
    with pytest.raises(ValueError, match="flags"):
        combine_rank_average([[1.0, 2.0]], [True, False])
