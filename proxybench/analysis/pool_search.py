"""Search on a scored sample: the sample is the space.

Zero-cost tables hold a seeded sample of cells (1,000 or 2,000 of NB201's 15,625), so a search
that proposed any cell would ask for scores nobody computed. Protocol used here:

* **The sample is the space.** Random search draws from the sample; evolution's mutation and
  crossover run on the full NB201 encoding and each child is replaced by the sampled cell
  nearest to it in edit distance (number of the six edges whose op differs; ties broken at
  random), skipping cells already seen (same pruned form = same network). Every method
  therefore sees only cells whose scores exist, and the best possible find is the sample's best.
* **Budget = evaluations**, the number of distinct cells a method scores (a proxy look-up, or
  for a predictor the proxies behind its features); the same for every method.
* **Labels are part of the budget.** A predictor search spends its k labels inside the search:
  the first ``ceil(k/2)`` cells of the random initial population are labelled and the predictor
  fitted on them; every later generation labels its top-predicted new children (the rest of
  the k spread evenly), refits, and scores the next children with the refitted predictor; any
  label left at the end goes to the top-predicted unlabelled cells seen. Its answer is the
  labelled cell with the best true accuracy (those networks were trained). The matching
  baseline is random search that labels k random sampled cells and keeps the best.
* For reference, ``exhaustive`` scores every sampled cell (a zero-cost proxy is cheap enough)
  and takes the top one: what the scorer finds with no search error.
* A label-free method's answer is the cell its score ranks first; every answer is reported
  with its true test accuracy and its rank in the sample (1 = the sample's best) and in NB201.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ScoreError
from ..search.evolution import evolution, random_search
from ..spaces import Space, get_space, nb201
from ..spaces.nb201 import crossover, mutate
from .predict import _percentiles, make_model

CELLS = np.array(nb201.all_cells(), dtype=np.int8)   # (15625, 6) op per edge


def pool_space(pool: Sequence[int]) -> Space:
    """NB201 restricted to the cells of ``pool`` (arch indices): sampling draws from it, and
    a child of mutation or crossover moves to the nearest pool cell (module docstring)."""
    ids = np.array(sorted({int(i) for i in pool}), dtype=np.int64)
    if ids.size < 2:
        raise ScoreError("a search needs a sample of at least 2 cells")
    ops = CELLS[ids]
    forms = len({nb201.prune(nb201.cell_at(int(i))) for i in ids})

    def nearest(cell, rng: random.Random):
        dist = (ops != np.array(cell, dtype=np.int8)).sum(1)
        best = np.flatnonzero(dist == dist.min())
        return nb201.cell_at(int(ids[best[rng.randrange(best.size)]]))

    def sample(rng: random.Random):
        return nb201.cell_at(int(ids[rng.randrange(ids.size)]))

    return replace(get_space("nb201"), name="nb201-pool", sample=sample,
                   mutate=lambda c, p, rng: nearest(mutate(c, p, rng), rng),
                   crossover=lambda a, b, rng: nearest(crossover(a, b, rng), rng),
                   valid=lambda c: True, size=lambda: float(forms))


def lookup(values: Mapping[int, float]) -> Callable[[Sequence[int]], dict[int, float]]:
    """Score function reading a column (higher = better) for cells of the sample."""
    return lambda ids: {i: float(values[i]) for i in ids}


class PredictorScore:
    """A score function for evolution that spends k labels inside the search (see module
    docstring). ``features``: arch_index -> feature row; ``truth``: arch_index -> accuracy."""

    def __init__(self, features: Mapping[int, np.ndarray], truth: Mapping[int, float], *,
                 k: int, generations: int, model: str, rng: np.random.Generator):
        if k < 2:
            raise ScoreError(f"a predictor search needs at least 2 labels, got {k}")
        self.features, self.truth, self.k, self.model, self.rng = (features, truth, k, model,
                                                                   rng)
        self.first = math.ceil(k / 2)
        self.per_gen = math.ceil((k - self.first) / max(1, generations - 1))
        self.labelled: dict[int, float] = {}
        self.seen: list[int] = []
        self.reg_pred: Callable[[list[int]], np.ndarray] | None = None

    def _label(self, ids: Sequence[int]) -> None:
        for i in ids:
            if len(self.labelled) < self.k and i not in self.labelled:
                self.labelled[i] = self.truth[i]

    def _fit(self) -> None:
        train = list(self.labelled)
        x = np.vstack([self.features[i] for i in train])
        reg = make_model(self.model, self.rng)
        reg.fit(x, _percentiles(np.array([self.labelled[i] for i in train])))
        self.reg_pred = lambda ids: np.asarray(
            reg.predict(np.vstack([self.features[i] for i in ids])), dtype=float)

    def predict(self, ids: list[int]) -> np.ndarray:
        return self.reg_pred(ids)

    def __call__(self, ids: Sequence[int]) -> dict[int, float]:
        ids = list(ids)
        if not ids:
            return {}
        self.seen += ids
        if self.reg_pred is None:                    # the random initial population
            self._label(ids[: self.first])
            self._fit()
            return dict(zip(ids, self.predict(ids), strict=True))
        pred = self.predict(ids)                     # scored by the current predictor
        top = [ids[j] for j in np.argsort(-pred, kind="stable")[: self.per_gen]]
        before = len(self.labelled)
        self._label(top)
        if len(self.labelled) > before:
            self._fit()
        return dict(zip(ids, pred, strict=True))

    def finish(self) -> int:
        """Spend any labels left on the top-predicted unlabelled cells; the best labelled."""
        left = [i for i in dict.fromkeys(self.seen) if i not in self.labelled]
        if len(self.labelled) < self.k and left:
            pred = self.predict(left)
            self._label([left[j] for j in np.argsort(-pred, kind="stable")])
        return max(self.labelled, key=self.labelled.get)


def run_pool_searches(scorers: Mapping[str, Mapping[int, float]], truth: Mapping[int, float],
                      *, features: Mapping[int, np.ndarray] | None = None,
                      predictors: Sequence[tuple[str, int]] = (), label_baselines:
                      Sequence[int] = (), budget: int, population: int, seeds: Sequence[int],
                      algorithms: Sequence[str] = ("evolution", "random"),
                      nb201_truth: Mapping[int, float] | None = None,
                      mutation_prob: float = 0.5) -> pd.DataFrame:
    """Every method on the sample ``truth`` covers, one row per (method, seed).

    ``scorers``: name -> {arch_index: score, higher = better} (single proxies, ensembles);
    ``predictors``: (model, k) pairs searched with :class:`PredictorScore` over ``features``;
    ``label_baselines``: k for random search that labels k random cells. Evolution runs
    ``budget // population`` generations of ``population`` cells; random search draws
    ``budget`` cells; ``exhaustive`` scores the whole sample (its budget is the sample) and
    takes the top cell (lowest arch_index among ties)."""
    pool = sorted(truth)
    space = pool_space(pool)
    if budget < population:
        raise ScoreError(f"--budget {budget} is below --population {population}")
    gens = budget // population
    pool_acc = np.array([truth[i] for i in pool])
    full = nb201_truth or {}
    full_acc = np.array(list(full.values())) if full else None
    rows = []

    def record(method, algorithm, seed, best, evaluations, labels):
        acc = truth[best]
        rows.append({"method": method, "algorithm": algorithm, "seed": seed,
                     "arch_index": best, "arch": nb201.format_arch(nb201.cell_at(best)),
                     "test_acc": acc, "rank_in_sample": int(1 + (pool_acc > acc).sum()),
                     "sample": len(pool),
                     "rank_in_nb201": int(1 + (full_acc > acc).sum()) if full else None,
                     "evaluations": evaluations, "labels": labels})

    for seed in seeds:
        for name, values in scorers.items():
            missing = [i for i in pool if i not in values]
            if missing:
                raise ScoreError(f"{name} has no score for {len(missing)} sampled cells "
                                 f"(e.g. {missing[0]})")
            for algo in algorithms:
                rng = random.Random(seed)
                if algo == "exhaustive":          # the whole sample: budget = its size
                    best = max(pool, key=lambda i: (values[i], -i))
                    record(name, algo, seed, best, len(pool), 0)
                    continue
                if algo == "evolution":
                    res = evolution(lookup(values), population=population, iterations=gens,
                                    mutation_prob=mutation_prob, rng=rng, space=space)
                else:
                    res = random_search(lookup(values), evaluations=budget, rng=rng,
                                        space=space)
                record(name, algo, seed, res.best_index, res.evaluations, 0)
        for model, k in predictors:
            if features is None:
                raise ScoreError("a predictor search needs feature columns")
            fn = PredictorScore(features, truth, k=k, generations=gens, model=model,
                                rng=np.random.default_rng(seed))
            res = evolution(fn, population=population, iterations=gens,
                            mutation_prob=mutation_prob, rng=random.Random(seed), space=space)
            record(f"predictor:{model}:k={k}", "evolution", seed, fn.finish(),
                   res.evaluations, len(fn.labelled))
        for k in label_baselines:
            res = random_search(lookup(truth), evaluations=k, rng=random.Random(seed),
                                space=space)
            record(f"random labels k={k}", "random", seed, res.best_index, res.evaluations, k)
    return pd.DataFrame(rows)


def expected_best_of_random(acc: Sequence[float], k: int) -> dict[str, float]:
    """Exact mean and sd of the best accuracy (and mean rank) among k cells drawn uniformly
    without replacement from ``acc``: P(best = j-th best) = C(n-j, k-1) / C(n, k)."""
    a = np.sort(np.asarray(acc, dtype=float))[::-1]
    n = a.size
    if not 1 <= k <= n:
        raise ScoreError(f"k = {k} must be in 1..{n}")
    j = np.arange(1, n + 1)
    # log C(n-j, k-1) - log C(n, k), zero where n - j < k - 1
    from scipy.special import gammaln
    ok = n - j >= k - 1
    logp = np.full(n, -np.inf)
    m = n - j[ok]
    logp[ok] = (gammaln(m + 1) - gammaln(k) - gammaln(m - k + 2)
                - (gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)))
    p = np.exp(logp)
    p /= p.sum()
    rank = np.array([1 + (a > v).sum() for v in a])      # ties share the better rank
    mean = float((p * a).sum())
    return {"test_acc_mean": mean, "test_acc_sd": float(np.sqrt((p * (a - mean) ** 2).sum())),
            "rank_in_sample_mean": float((p * rank).sum())}


def summarise_searches(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over seeds of each (method, algorithm)."""
    g = runs.groupby(["method", "algorithm"], sort=False)
    return g.agg(test_acc_mean=("test_acc", "mean"), test_acc_sd=("test_acc", "std"),
                 rank_in_sample_mean=("rank_in_sample", "mean"),
                 rank_in_sample_sd=("rank_in_sample", "std"),
                 rank_in_nb201_mean=("rank_in_nb201", "mean"),
                 evaluations=("evaluations", "max"), labels=("labels", "max"),
                 seeds=("seed", "nunique"), sample=("sample", "first")).reset_index()


def search_tables(tables: Sequence, *, proxies: Sequence[str] = (),
                  predictors: Sequence[str] = (), features: Sequence[str] = (),
                  label_baselines: Sequence[int] = (),
                  algorithms: Sequence[str] = ("evolution", "random"), budget: int = 200,
                  population: int = 20, mutation_prob: float = 1 / 3,
                  seeds: Sequence[int] = (0, 1, 2, 3, 4), dataset: str = "cifar10",
                  ground_truth=None, out=None, meta: dict | None = None,
                  started: float | None = None, missing: str = "last") -> pd.DataFrame:
    """:func:`run_pool_searches` on score tables joined on arch_index. The sample is the cells
    the tables share; a cell whose score failed ranks last for that column (``missing=
    "last"``: a search meets it and judges it worst) or, with ``"drop"``, is left out of the
    sample when a searched ``proxies`` column failed on it. ``predictors`` are
    ``MODEL:K`` strings. Returns the summary; with ``out`` writes runs.csv, summary.csv and
    search.json there."""
    import time

    from ..run.files import atomic_write_bytes
    from .ensemble import check_datasets, load_columns, policy_cells, truth_for, write_json
    from .groundtruth import load_ground_truth
    from .predict import MODELS, rank_features
    if not (proxies or predictors or label_baselines):
        raise ScoreError("nothing to search with: give --proxy, --predictor or "
                         "--label-baseline")
    preds = []
    for text in predictors:
        model, _, k = text.partition(":")
        if model not in MODELS or not k.isdigit():
            raise ScoreError(f"--predictor {text!r}: write MODEL:K with MODEL one of "
                             f"{', '.join(MODELS)}, e.g. gbt:50")
        preds.append((model, int(k)))
    check_datasets(tables, dataset)
    cols = load_columns(tables)
    unknown = [c for c in [*proxies, *features] if c not in cols.frame.columns]
    if unknown:
        raise ScoreError(f"unknown column(s) {', '.join(unknown)}; the tables have: "
                         f"{', '.join(cols.frame.columns)}")
    frame, failed = policy_cells(cols, "last")
    if missing == "drop" and proxies:
        frame = frame.loc[np.isfinite(cols.frame[list(proxies)].to_numpy(float)).all(axis=1)]
    if budget > len(frame):
        raise ScoreError(f"--budget {budget} is more than the {len(frame)} cells of the sample "
                         f"(a search would see them all); give at most {len(frame)}")
    elif missing not in ("last", "drop"):
        raise ScoreError(f"--missing must be one of last, drop, got {missing!r}")
    for model, k in preds:
        if k > budget:
            raise ScoreError(f"--predictor {model}:{k}: {k} labels exceed the budget of "
                             f"{budget} evaluations")
    truth = truth_for(frame.index, dataset, ground_truth)
    gt = load_ground_truth(ground_truth)
    full = gt[dataset].dropna()
    full.index = gt.loc[full.index, "arch_index"].astype(int)
    scorers = {p: {int(i): float(v) if cols.higher[p] else -float(v)
                   for i, v in frame[p].items()} for p in proxies}
    feat_cols = list(features) or [c for c in frame.columns]
    x = rank_features(frame[feat_cols], cols.higher)
    feats = {int(i): x[j] for j, i in enumerate(frame.index)}
    runs = run_pool_searches(scorers, {int(i): float(v) for i, v in truth.items()},
                             features=feats, predictors=preds, label_baselines=label_baselines,
                             budget=budget, population=population, seeds=seeds,
                             algorithms=algorithms, nb201_truth=full.to_dict(),
                             mutation_prob=mutation_prob)
    summary = summarise_searches(runs)
    exact = [{"method": f"random labels k={k}", "algorithm": "expected (exact)",
              **expected_best_of_random(truth.to_numpy(), k), "evaluations": k, "labels": k,
              "sample": len(frame)} for k in label_baselines]
    if exact:
        summary = pd.concat([summary, pd.DataFrame(exact)], ignore_index=True)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "runs.csv", runs.to_csv(index=False).encode())
        atomic_write_bytes(out / "summary.csv", summary.to_csv(index=False).encode())
        write_json(out / "search.json", {
            **(meta or {}), "proxies": list(proxies), "predictors": list(predictors),
            "features": feat_cols, "label_baselines": list(label_baselines),
            "budget": budget, "population": population, "mutation_prob": mutation_prob,
            "seeds": list(seeds), "sample": len(frame), "dataset": dataset,
            "missing": missing, "failed": failed,
            "sample_best_acc": float(truth.max()), "sample_mean_acc": float(truth.mean()),
            "wall_seconds": (time.time() - started) if started else None})
    return summary
