"""Rank agreement between proxy scores and true accuracy, with bootstrap confidence intervals.

Why these metrics: a NAS proxy is only useful for *ranking* architectures, so we report rank
correlations over all cells (Kendall tau-b, Spearman rho), how many of the truly best cells
the proxy puts in its own top-k (top-k precision) and how good the cells it ranks first are
(nDCG, as VKDNW reports it), each with a 95% percentile-bootstrap CI over cells so that
differences between proxies can be judged against resampling noise.

Conventions: higher score = predicted better and higher truth = better, unless
``higher_is_better=False`` is passed to :func:`correlate`. Cells without a truth value are
dropped. A cell whose score failed or is not finite (NaN, inf) is ranked **last** by default
(``missing="last"``, as NASLib's and AZ-NAS's code score such cells), so every proxy is
measured on the same cells; ``missing="drop"`` leaves it out (Abdelfattah et al.'s notebook).
Inputs are never modified; randomness comes only from the ``seed`` argument.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from ..errors import ScoreError

__all__ = [
    "aggregate",
    "combine_linear",
    "combine_rank_average",
    "correlate",
    "correlate_replicates",
    "kendall_tau",
    "ndcg",
    "spearman_rho",
    "top_k_precision",
]

MIN_CELLS = 3
MISSING = ("last", "drop")   # the failed-cell policies: rank last, or leave out
NDCG_K = 1000                # VKDNW's P: the top networks nDCG looks at


def fill_failed(values: ArrayLike, higher_is_better: bool = True) -> np.ndarray:
    """``values`` with each non-finite one set just past the worst finite one (below the
    minimum when higher is better, above the maximum when lower is): ranked last and tied,
    as :func:`place_failed` ranks them, for code that ranks whole columns itself
    (ensembles, predictor features, pool searches)."""
    v = np.array(values, dtype=float).ravel()
    bad = ~np.isfinite(v)
    if not bad.any():
        return v
    if bad.all():
        return np.zeros_like(v)
    worst = v[~bad].min() - 1.0 if higher_is_better else v[~bad].max() + 1.0
    return np.where(bad, worst, v)


def place_failed(scores: ArrayLike, truth: ArrayLike, missing: str = "last",
                 higher_is_better: bool = True) -> tuple[np.ndarray, np.ndarray, int]:
    """(oriented scores, truth, failed): the cells with a truth value, scores negated when
    lower is better, and each non-finite score either set below every finite one
    (``last``; the failed cells tie among themselves) or dropped (``drop``); ``failed``
    counts them. The one place a failed-cell policy is applied."""
    if missing not in MISSING:
        raise ScoreError(f"missing must be one of {', '.join(MISSING)}, got {missing!r}")
    s = np.array(scores, dtype=float).ravel()
    t = np.array(truth, dtype=float).ravel()
    if s.shape != t.shape:
        raise ValueError(f"scores and truth differ in length: {s.size} vs {t.size}")
    keep = ~np.isnan(t)
    s, t = s[keep], t[keep]
    if not higher_is_better:
        s = -s
    bad = ~np.isfinite(s)
    failed = int(bad.sum())
    if missing == "drop":
        return s[~bad], t[~bad], failed
    if failed:
        floor = s[~bad].min() - 1.0 if (~bad).any() else 0.0
        s = np.where(bad, floor, s)
    return s, t, failed


def _paired(x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Float copies of x and y with NaN pairs dropped, so every metric sees the same cells."""
    xa = np.array(x, dtype=float).ravel()
    ya = np.array(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"scores and truth differ in length: {xa.size} vs {ya.size}")
    keep = ~(np.isnan(xa) | np.isnan(ya))
    return xa[keep], ya[keep]


def kendall_tau(x: ArrayLike, y: ArrayLike) -> float:
    """Kendall tau-b (ties handled), the usual NAS ranking metric; NaN pairs are dropped."""
    xa, ya = _paired(x, y)
    return float(stats.kendalltau(xa, ya).statistic)


def within_group_tau(scores: ArrayLike, truth: ArrayLike, groups: ArrayLike, *,
                     missing: str = "last", higher_is_better: bool = True
                     ) -> tuple[float, dict]:
    """(pooled, {group: (tau, cells)}): Kendall tau among the cells of each group, and
    their mean weighted by each group's pairs. Why: a supernet that only tells groups
    apart (e.g. few-shot sub-supernets, one per op of an edge) ranks well overall with no
    skill inside a group; the pooled within-group tau measures that skill alone. Failed
    cells follow ``missing`` as everywhere (:func:`place_failed`); groups of fewer than
    two cells have no pairs and are left out."""
    g = np.asarray(groups).ravel()
    t_all = np.array(truth, dtype=float).ravel()
    if g.shape != t_all.shape:
        raise ValueError(f"groups and truth differ in length: {g.size} vs {t_all.size}")
    keep = ~np.isnan(t_all)
    s, t, _ = place_failed(scores, truth, missing, higher_is_better)
    g = g[keep]
    if missing == "drop":
        g = g[np.isfinite(np.array(scores, dtype=float).ravel()[keep]
                          * (1 if higher_is_better else -1))]
    per, weights = {}, {}
    for name in dict.fromkeys(g.tolist()):
        mine = g == name
        n = int(mine.sum())
        if n >= 2:
            per[name] = (kendall_tau(s[mine], t[mine]), n)
            weights[name] = n * (n - 1) / 2
    usable = {k: v for k, v in per.items() if np.isfinite(v[0])}
    if not usable:
        return float("nan"), per
    w = np.array([weights[k] for k in usable])
    return float(np.dot([v[0] for v in usable.values()], w) / w.sum()), per


def spearman_rho(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman rank correlation (average ranks for ties); NaN pairs are dropped."""
    xa, ya = _paired(x, y)
    return float(stats.spearmanr(xa, ya).statistic)


def _top_k(frac: float, n: int) -> int:
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"top-k fraction must be in (0, 1], got {frac}")
    return max(1, round(frac * n))


def _taken(counts: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Copies of each cell inside the top k, given cell multiplicities and a best-first order.

    Working on multiplicities lets a bootstrap resample reuse one precomputed order instead
    of sorting every resample; copies of one cell are taken together, best-first.
    """
    c = counts[order]
    before = np.cumsum(c) - c
    taken = np.empty_like(c)
    taken[order] = np.clip(k - before, 0, c)
    return taken


def _best_first(values: np.ndarray) -> np.ndarray:
    """Cell order by descending value; ties broken by position (earlier cell first)."""
    return np.argsort(-values, kind="stable")


def top_k_precision(scores: ArrayLike, truth: ArrayLike, frac: float) -> float:
    """Share of the proxy's top-k cells that are also in the true top-k, k = max(1, round(frac n)).

    Why: search only keeps the proxy's best candidates, so this measures what a search would
    actually pick. Higher is better for both inputs; ties at the cut-off are broken by position
    (earlier cell first), which is deterministic but arbitrary for heavily tied proxies.
    """
    s, t = _paired(scores, truth)
    if s.size == 0:
        raise ValueError("top_k_precision needs at least one cell with both values present")
    k = _top_k(frac, s.size)
    ones = np.ones(s.size, dtype=np.int64)
    both = np.minimum(_taken(ones, _best_first(s), k), _taken(ones, _best_first(t), k))
    return float(both.sum() / k)


def _check_ndcg_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ScoreError(f"the nDCG cut-off (--ndcg-k) must be a whole number >= 1, got {k!r}")
    return int(k)


class _NDCG:
    """nDCG of one (scores, truth) pair on any multiset of its cells (given as copies per
    cell), with the sorts done once so a bootstrap resample costs O(n).

    Gains are ``2**acc - 1`` divided by ``2**max(acc)``: nDCG is a ratio, so the common
    factor cancels, and it keeps ``2**acc`` finite for any accuracy scale. Cells the proxy
    ties share their mean gain over the positions they occupy (scikit-learn's
    ``ndcg_score`` does the same), so the value does not depend on the order of the rows;
    the copies of a resampled cell are such a tie."""

    def __init__(self, s: np.ndarray, t: np.ndarray, k: int) -> None:
        self.k = _check_ndcg_k(k)
        top = float(t.max()) if t.size else 0.0
        self.gain = np.exp2(t - top) - np.exp2(-top)
        self.group, self.n_groups = _dense(s)
        self.order_t = _best_first(t)
        # discount sums: disc[i] = sum over positions j = 1..i of 1 / log2(1 + j)
        self.disc = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, s.size + 2)))])

    def _spans(self, copies: np.ndarray, k: int) -> np.ndarray:
        """Sum of the discounts of the positions each block of ``copies`` takes, in order,
        within the first k positions."""
        end = np.cumsum(copies)
        return self.disc[np.minimum(end, k)] - self.disc[np.minimum(end - copies, k)]

    def __call__(self, counts: np.ndarray) -> float:
        k = min(self.k, int(counts.sum()))
        c = np.bincount(self.group, weights=counts, minlength=self.n_groups)[::-1]
        g = np.bincount(self.group, weights=counts * self.gain, minlength=self.n_groups)[::-1]
        c = np.rint(c).astype(np.int64)
        mean_gain = np.divide(g, c, out=np.zeros_like(g), where=c > 0)
        dcg = float((mean_gain * self._spans(c, k)).sum())
        ideal = float((self.gain[self.order_t] * self._spans(counts[self.order_t], k)).sum())
        return dcg / ideal if ideal > 0 else float("nan")


def ndcg(scores: ArrayLike, truth: ArrayLike, k: int = NDCG_K) -> float:
    """Normalised discounted cumulative gain of the proxy's order, as VKDNW defines it
    (Tybl & Neumann, CVPR 2025, Sec. III; arXiv 2502.04975):

        nDCG_P = (1/Z) * sum_{j=1..P} (2**acc(k_j) - 1) / log2(1 + j)

    where k_j is the cell the proxy ranks j-th, acc its true accuracy (in percent, as NB201
    and the paper give it: one point of accuracy doubles a gain), P = ``k`` (their 1,000;
    fewer when there are fewer cells) and Z the same sum over the true order, so a perfect
    order scores 1. Why: tau and rho weigh every pair alike, while a search keeps only the
    proxy's first cells; nDCG weighs the top and, unlike top-k precision, by how good the
    chosen cells are. The paper's repository has no code for it, so this follows the
    formula; tied scores share their mean gain (see :class:`_NDCG`). NaN pairs are dropped.
    """
    s, t = _paired(scores, truth)
    if s.size == 0:
        raise ValueError("ndcg needs at least one cell with both values present")
    return _NDCG(s, t, k)(np.ones(s.size, dtype=np.int64))


def _dense(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Group id of each value (ties share one id) and the number of groups, in sorted order."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return inverse, uniq.size


def _resample_ranks(group: np.ndarray, n_groups: int, idx: np.ndarray) -> np.ndarray:
    """Average ranks of values[idx] in O(n) from precomputed tie groups (no sort per resample)."""
    g = group[idx]
    counts = np.bincount(g, minlength=n_groups)
    below = np.cumsum(counts) - counts
    return (below + (counts + 1) / 2.0)[g]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation without BLAS: threaded ddot spins and was 2x slower on shared CPUs."""
    a = a - a.mean()
    b = b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else float("nan")


def _metric_name(frac: float) -> str:
    return f"top{frac * 100:g}%"


def correlate(
    scores: ArrayLike,
    truth: ArrayLike,
    *,
    fracs: Sequence[float] = (0.01, 0.05, 0.10),
    n_boot: int = 1000,
    seed: int = 0,
    higher_is_better: bool = True,
    missing: str = "last",
    ndcg_k: int = NDCG_K,
) -> pd.DataFrame:
    """All ranking metrics of ``scores`` against ``truth`` with 95% percentile-bootstrap CIs.

    Returns one row per metric (index ``metric``: kendall_tau, spearman_rho, then
    ``top{frac*100:g}%`` for each frac, then ``ndcg``, over the top ``ndcg_k`` cells: see
    :func:`ndcg`) and columns value, ci_low, ci_high, n, failed: n is
    the number of cells used, failed how many of them (``last``) or how many more (``drop``)
    had a non-finite score. If ``higher_is_better`` is False the scores are negated first
    (e.g. a loss- or sharpness-like proxy).

    The CIs resample cells with replacement ``n_boot`` times (``numpy.random.default_rng(seed)``),
    so they are reproducible for a given seed. Cost is linear in ``n_boot``: about 5 ms per
    resample for 15,625 cells on one core (~5 s for the default 1000), dominated by the
    O(n log n) Kendall tau-b; ``n_boot=0`` skips the bootstrap and leaves the CIs NaN.
    """
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    _check_ndcg_k(ndcg_k)
    s, t, failed = place_failed(scores, truth, missing, higher_is_better)
    n = s.size
    if n < MIN_CELLS:
        raise ValueError(
            f"correlate needs at least {MIN_CELLS} cells with both a score and a truth value, "
            f"got {n}"
        )
    names = _names(fracs)
    if len(set(names)) != len(names):
        raise ValueError(f"fracs give duplicate metric names: {names}")
    ks = [_top_k(f, n) for f in fracs]

    value = _point(s, t, fracs, ndcg_k)
    low = np.full(len(names), np.nan)
    high = np.full(len(names), np.nan)
    if n_boot > 0:
        boot = _bootstrap(s, t, ks, ndcg_k, n_boot, np.random.default_rng(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column -> NaN CI
            low, high = np.nanpercentile(boot, [2.5, 97.5], axis=0)

    out = pd.DataFrame(
        {"value": value, "ci_low": low, "ci_high": high, "n": np.full(len(names), n),
         "failed": np.full(len(names), failed)},
        index=pd.Index(names, name="metric"),
    )
    return out


def _names(fracs: Sequence[float]) -> list[str]:
    return ["kendall_tau", "spearman_rho", *(_metric_name(f) for f in fracs), "ndcg"]


def _point(s: np.ndarray, t: np.ndarray, fracs: Sequence[float], ndcg_k: int) -> np.ndarray:
    """Every metric of :func:`_names` on all cells, in that order."""
    return np.array([kendall_tau(s, t), spearman_rho(s, t),
                     *(top_k_precision(s, t, f) for f in fracs), ndcg(s, t, ndcg_k)])


class _Resampler:
    """Every metric of one (scores, truth) pair on a resample of cells, with the sorts done
    once: only Kendall tau sorts per resample (inside scipy, O(n log n)); Spearman ranks and
    top-k sets come in O(n) from tie groups and best-first orders computed on the full data.
    A resampled cell drawn m times counts m times; in top-k its copies are taken best-first
    together, matching ties broken by cell position as in the point estimate."""

    def __init__(self, s: np.ndarray, t: np.ndarray, ks: list[int], ndcg_k: int) -> None:
        self.s, self.t, self.ks = s, t, ks
        self.gs, self.ns = _dense(s)
        self.gt, self.nt = _dense(t)
        self.order_s, self.order_t = _best_first(s), _best_first(t)
        self.ndcg = _NDCG(s, t, ndcg_k)

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty(3 + len(self.ks))
        counts = np.bincount(idx, minlength=self.s.size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # constant resamples give NaN
            out[0] = stats.kendalltau(self.s[idx], self.t[idx]).statistic
        out[1] = _pearson(_resample_ranks(self.gs, self.ns, idx),
                          _resample_ranks(self.gt, self.nt, idx))
        for j, k in enumerate(self.ks):
            both = np.minimum(_taken(counts, self.order_s, k), _taken(counts, self.order_t, k))
            out[2 + j] = both.sum() / k
        out[-1] = self.ndcg(counts)
        return out


def _bootstrap(
    s: np.ndarray, t: np.ndarray, ks: list[int], ndcg_k: int, n_boot: int,
    rng: np.random.Generator
) -> np.ndarray:
    """Metric values on ``n_boot`` resamples of cells, shape (n_boot, 3 + len(ks))."""
    metrics = _Resampler(s, t, ks, ndcg_k)
    return np.array([metrics(rng.integers(0, s.size, size=s.size)) for _ in range(n_boot)])


def correlate_replicates(
    scores: Sequence[ArrayLike],
    truth: ArrayLike,
    *,
    fracs: Sequence[float] = (0.01, 0.05, 0.10),
    n_boot: int = 1000,
    seed: int = 0,
    higher_is_better: bool = True,
    missing: str = "last",
    ndcg_k: int = NDCG_K,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ranking metrics of one proxy scored on several replicates (e.g. supernets trained with
    different seeds) over the same cells: (summary, per_replicate).

    Why: a supernet proxy's tau varies far more between training seeds than between cell
    samples, so a cell-only bootstrap CI of one supernet hides most of the uncertainty.

    - per_replicate: one row per (replicate, metric) with the value and a cell-bootstrap CI.
    - summary (index ``metric``): ``mean`` and ``sd`` (ddof=1) over replicates, ``min``,
      ``max``; ``ci_low``/``ci_high`` of a hierarchical bootstrap that resamples replicates
      and then cells (the same cells for every replicate drawn, since they are paired) and
      averages the metric over the drawn replicates, so it covers both sources;
      ``cell_sd``: the mean over replicates of the cell-bootstrap sd, for comparison;
      ``ensemble`` with ``ensemble_ci_low/high``: the metric of the mean rank over
      replicates (a seed ensemble) with a cell-bootstrap CI; ``replicates`` and ``n``.

    Cells without a truth value are dropped; a replicate's failed (non-finite) scores are
    ranked last in it (``missing="last"``), or the cell is dropped from every replicate
    (``drop``), so all replicates use the same cells.
    """
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    _check_ndcg_k(ndcg_k)
    if len(scores) < 2:
        raise ValueError(f"correlate_replicates needs at least 2 replicates, got {len(scores)}")
    cols = [np.array(x, dtype=float).ravel() for x in scores]
    t = np.array(truth, dtype=float).ravel()
    if any(c.shape != t.shape for c in cols):
        raise ValueError("every replicate must have one value per truth value")
    keep = ~np.isnan(t)
    failed = [int((~np.isfinite(c[keep])).sum()) for c in cols]
    if missing == "drop":
        for c in cols:
            keep &= np.isfinite(c)
    placed = [place_failed(c[keep], t[keep], missing, higher_is_better) for c in cols]
    cols = [p[0] for p in placed]
    t = t[keep]
    n = int(keep.sum())
    if n < MIN_CELLS:
        raise ValueError(f"correlate_replicates needs at least {MIN_CELLS} cells scored in "
                         f"every replicate, got {n}")
    names = _names(fracs)
    ks = [_top_k(f, n) for f in fracs]
    point = np.array([_point(c, t, fracs, ndcg_k) for c in cols])
    k = len(cols)
    ensemble_scores = np.mean([stats.rankdata(c, method="average") for c in cols], axis=0)
    ensemble = correlate(ensemble_scores, t, fracs=fracs, n_boot=n_boot, seed=seed,
                         ndcg_k=ndcg_k)
    low = high = cell_low = cell_high = np.full((k, len(names)), np.nan)
    cell_sd = np.full((k, len(names)), np.nan)
    hier_low = hier_high = np.full(len(names), np.nan)
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        metrics = [_Resampler(c, t, ks, ndcg_k) for c in cols]
        per = np.empty((n_boot, k, len(names)))
        hier = np.empty((n_boot, len(names)))
        for b in range(n_boot):
            drawn = np.bincount(rng.integers(0, k, size=k), minlength=k)
            idx = rng.integers(0, n, size=n)
            per[b] = [m(idx) for m in metrics]
            hier[b] = (drawn[:, None] * per[b]).sum(0) / k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cell_low, cell_high = np.nanpercentile(per, [2.5, 97.5], axis=0)
            cell_sd = np.nanstd(per, axis=0, ddof=1)
            hier_low, hier_high = np.nanpercentile(hier, [2.5, 97.5], axis=0)
        low, high = cell_low, cell_high
    per_rows = [{"replicate": r, "metric": m, "value": point[r, j], "ci_low": low[r, j],
                 "ci_high": high[r, j], "n": n, "failed": failed[r]}
                for r in range(k) for j, m in enumerate(names)]
    summary = pd.DataFrame({
        "mean": point.mean(0), "sd": point.std(0, ddof=1), "min": point.min(0),
        "max": point.max(0), "ci_low": hier_low, "ci_high": hier_high,
        "cell_sd": cell_sd.mean(0),
        "ensemble": ensemble["value"].to_numpy(),
        "ensemble_ci_low": ensemble["ci_low"].to_numpy(),
        "ensemble_ci_high": ensemble["ci_high"].to_numpy(),
        "replicates": np.full(len(names), k), "n": np.full(len(names), n),
        "failed": np.full(len(names), max(failed))},
        index=pd.Index(names, name="metric"))
    return summary, pd.DataFrame(per_rows)


def combine_linear(s: ArrayLike, f: ArrayLike, *, gamma: float, beta: float) -> np.ndarray:
    """GeNAS Eq. (5): S + gamma * beta * F, combining a base score S with flatness F."""
    sa = np.array(s, dtype=float)
    fa = np.array(f, dtype=float)
    if sa.shape != fa.shape:
        raise ValueError(f"S and F differ in shape: {sa.shape} vs {fa.shape}")
    return sa + gamma * beta * fa


def combine_rank_average(
    columns: Sequence[ArrayLike], higher_is_better: Sequence[bool]
) -> np.ndarray:
    """Mean of per-column average-method ranks (higher = better), a scale-free ensemble.

    Why ranks: proxies live on unrelated scales, so averaging ranks weights them equally.
    Cells with NaN in any column get NaN; the others are ranked among the complete cells only,
    so every column is ranked over the same set (:func:`aggregate` with ``method="rank"``).
    """
    if len(columns) == 0:
        raise ValueError("combine_rank_average needs at least one column")
    if len(columns) != len(higher_is_better):
        raise ValueError(
            f"got {len(columns)} columns but {len(higher_is_better)} higher_is_better flags"
        )
    return aggregate(columns, higher_is_better, method="rank")


METHODS = ("rank", "logrank")


def oriented_ranks(values: ArrayLike, higher_is_better: bool) -> np.ndarray:
    """Average ranks 1..n over the finite values, n for the best cell; NaN stays NaN."""
    v = np.array(values, dtype=float).ravel()
    out = np.full(v.size, np.nan)
    keep = np.isfinite(v)
    if keep.any():
        out[keep] = stats.rankdata(v[keep] if higher_is_better else -v[keep], method="average")
    return out


def aggregate(columns: Sequence[ArrayLike], higher_is_better: Sequence[bool], *,
              method: str, missing: str = "drop") -> np.ndarray:
    """One label-free score per cell from several columns (higher = predicted better).

    ``rank``: mean of the oriented ranks; ``logrank``: sum of log(rank / N) (AZ-NAS).
    ``missing="drop"``: N is the number of cells complete in every column, and a cell with a
    NaN anywhere gets NaN; ``missing="last"``: a missing value ranks below every finite one
    in its column (AZ-NAS's reference scores a degenerate component -inf), N all cells."""
    if method not in METHODS:
        raise ScoreError(f"aggregation method must be one of {', '.join(METHODS)}, got "
                         f"{method!r}")
    if missing not in ("drop", "last"):
        raise ScoreError(f"missing must be drop or last, got {missing!r}")
    if len(columns) == 0 or len(columns) != len(higher_is_better):
        raise ValueError(f"got {len(columns)} columns and {len(higher_is_better)} directions")
    cols = [np.array(c, dtype=float).ravel() for c in columns]
    if len({c.size for c in cols}) != 1:
        raise ValueError(f"columns differ in length: {[c.size for c in cols]}")
    if missing == "last":   # the worst value of its direction: ranked last, ties averaged
        cols = [np.where(np.isnan(c), -np.inf if h else np.inf, c)
                for c, h in zip(cols, higher_is_better, strict=True)]
        complete = np.ones(cols[0].size, dtype=bool)
    else:
        complete = np.all(np.isfinite(np.vstack(cols)), axis=0)
    out = np.full(cols[0].size, np.nan)
    if not complete.any():
        return out
    ranks = np.vstack([_ranks(c[complete], h)
                       for c, h in zip(cols, higher_is_better, strict=True)])
    n = int(complete.sum())
    out[complete] = ranks.mean(0) if method == "rank" else np.log(ranks / n).sum(0)
    return out


def _ranks(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Average ranks 1..n, n for the best (infinite values included: they rank at an end)."""
    return stats.rankdata(values if higher_is_better else -values, method="average")


def flatness_beta(sigmas: Sequence[float]) -> float:
    """GeNAS Eq. (5)'s beta = 1 / sigma_1 (the smallest sigma): it puts the flatness F on
    the scale of the other term S."""
    return 1.0 / float(min(sigmas))
