"""Few-label predictors: fit a model on k labelled cells' proxy scores, rank the rest.

Features are the columns' oriented percentile ranks over every scored cell (rank / n, 1 =
the column's favourite; label-free, so computing them on all cells leaks nothing); a cell
whose score failed ranks last in that column (or, with ``missing="drop"``, is left
out). The target is each labelled cell's percentile rank of true accuracy among the
labelled cells: Kendall tau only asks for the order, and a rank target keeps NB201's few
collapsed cells (10% accuracy) from dominating a least-squares fit of 10 points.

Models, both deterministic given the Generator:
- ``linear``: ridge least squares on the rank features, the penalty chosen from a fixed grid by
  leave-one-out error on the labelled cells only (sklearn ``RidgeCV``);
- ``gbt``: gradient-boosted trees (sklearn ``GradientBoostingRegressor``, 100 trees of depth
  3, learning rate 0.1, subsample 0.8, at least 2 cells per leaf; its seed drawn from the
  Generator).

τ and ρ are measured on the cells that were not labelled, never on the labelled ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..errors import ScoreError
from .metrics import kendall_tau, oriented_ranks, spearman_rho

MODELS = ("linear", "gbt")
RIDGE_ALPHAS = tuple(10.0 ** np.arange(-3, 4))
GBT_SETTINGS = {"n_estimators": 100, "max_depth": 3, "learning_rate": 0.1, "subsample": 0.8,
                "min_samples_leaf": 2}


def rank_features(frame: pd.DataFrame, higher: Mapping[str, bool]) -> np.ndarray:
    """(cells, columns) oriented percentile ranks in (0, 1]; a NaN that reaches here (the
    callers place failed cells first) -> 0.5."""
    n = len(frame)
    feats = np.column_stack([oriented_ranks(frame[c], higher[c]) / max(n, 1)
                             for c in frame.columns]) if len(frame.columns) else np.empty((n, 0))
    return np.where(np.isfinite(feats), feats, 0.5)


def _percentiles(y: np.ndarray) -> np.ndarray:
    return oriented_ranks(y, True) / y.size


def make_model(model: str, rng: np.random.Generator):
    """An unfitted sklearn regressor for ``model``."""
    if model == "linear":
        from sklearn.linear_model import RidgeCV
        return RidgeCV(alphas=RIDGE_ALPHAS)
    if model == "gbt":
        from sklearn.ensemble import GradientBoostingRegressor
        return GradientBoostingRegressor(**GBT_SETTINGS,
                                         random_state=int(rng.integers(2**31 - 1)))
    raise ScoreError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")


def fit_predict(model: str, x_train: np.ndarray, y_train: ArrayLike, x_test: np.ndarray, *,
                rng: np.random.Generator, target: str = "rank") -> np.ndarray:
    """Fit ``model`` on (x_train, y_train) and predict x_test (higher = predicted better)."""
    y = np.asarray(y_train, dtype=float)
    if target == "rank":
        y = _percentiles(y)
    elif target != "accuracy":
        raise ScoreError(f"target must be rank or accuracy, got {target!r}")
    reg = make_model(model, rng)
    reg.fit(x_train, y)
    return np.asarray(reg.predict(x_test), dtype=float)


def check_labels(labels: Sequence[int], cells: int) -> list[int]:
    ks = [int(k) for k in labels]
    if not ks:
        raise ScoreError("give at least one label count (--labels 10,20,50)")
    for k in ks:
        if k < 2:
            raise ScoreError(f"--labels {k}: a predictor needs at least 2 labelled cells")
        if k > cells - 3:
            raise ScoreError(f"--labels {k}: k must be below the number of cells ({cells}) "
                             f"minus 3, so that at least 3 unlabelled cells remain to "
                             f"evaluate on")
    return ks


def learning_curve(frame: pd.DataFrame, truth: ArrayLike, higher: Mapping[str, bool], *,
                   labels: Sequence[int], draws: int, model: str, rng: np.random.Generator,
                   target: str = "rank") -> tuple[pd.DataFrame, pd.DataFrame]:
    """τ and ρ on the unlabelled cells of a predictor fitted on k labelled cells, for each k,
    over ``draws`` random labelled sets. Returns (curve, per_draw).

    curve: one row per k with k, model, tau_mean, tau_sd, rho_mean, rho_sd, draws, features
    (the columns, '+'-joined), cells (all cells; each draw evaluates on cells - k)."""
    if model not in MODELS:
        raise ScoreError(f"--model must be one of {', '.join(MODELS)}, got {model!r}")
    if draws < 1:
        raise ScoreError(f"--draws must be >= 1, got {draws}")
    if len(frame.columns) == 0:
        raise ScoreError("no feature columns to fit on")
    t = np.array(truth, dtype=float).ravel()
    n = len(frame)
    if t.size != n:
        raise ValueError(f"{n} cells but {t.size} truth values")
    ks = check_labels(labels, n)
    x = rank_features(frame, higher)
    per = []
    for k in ks:
        for d in range(draws):
            perm = rng.permutation(n)
            train, test = perm[:k], perm[k:]
            pred = fit_predict(model, x[train], t[train], x[test], rng=rng, target=target)
            per.append({"k": k, "draw": d, "model": model, "tau": kendall_tau(pred, t[test]),
                        "rho": spearman_rho(pred, t[test]), "evaluated": test.size})
    per_draw = pd.DataFrame(per)
    g = per_draw.groupby("k", sort=False)
    curve = pd.DataFrame({
        "k": ks, "model": model,
        "tau_mean": g["tau"].mean().to_numpy(), "tau_sd": g["tau"].std().to_numpy(),
        "rho_mean": g["rho"].mean().to_numpy(), "rho_sd": g["rho"].std().to_numpy(),
        "draws": draws, "features": "+".join(frame.columns), "cells": n})
    return curve, per_draw


def predict_tables(tables: Sequence, *, columns: Sequence[str] = (), labels: Sequence[int],
                   draws: int, models: Sequence[str], dataset: str = "cifar10",
                   ground_truth=None, seed: int = 0,
                   higher_is_better: Mapping[str, bool] | None = None, missing: str = "last"
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`learning_curve` for each model on score tables joined on arch_index (paths or
    DataFrames); one Generator, ``default_rng(seed)``, per model, so models see the same
    labelled sets; failed scores ranked last (``missing="last"``) or their cells left out
    (``"drop"``). Returns (curve, per_draw) with every model's rows."""
    from .ensemble import check_datasets, load_columns, policy_cells, truth_for
    check_datasets(tables, dataset)
    cols = load_columns(tables, columns, higher_is_better=higher_is_better)
    frame, _ = policy_cells(cols, missing)
    truth = truth_for(frame.index, dataset, ground_truth)
    check_labels(labels, len(frame))
    curves, pers = [], []
    for model in models:
        c, p = learning_curve(frame, truth.to_numpy(), cols.higher, labels=labels,
                              draws=draws, model=model, rng=np.random.default_rng(seed))
        curves.append(c)
        pers.append(p)
    return pd.concat(curves, ignore_index=True), pd.concat(pers, ignore_index=True)
