"""Label-free ensembles of score columns: rank and log-rank aggregation, and member selection
on a held-out half of the cells.

Aggregation turns each column into ranks oriented by its ``higher_is_better`` (rank N = the
cell the column likes best, ties get average ranks) over the cells complete in every member,
then either averages the ranks (``rank``) or sums ``log(rank / N)`` (``logrank``, AZ-NAS's
aggregation: a cell must be good on every member, one bad rank costs more than in the mean).
No ground truth enters; the rank reference set is every scored cell.

A label-free *claim* may only use members fixed in advance (pre-declared ensembles) or chosen
on labelled cells that are then not used to measure it: :func:`select_heldout` picks members
by greedy forward selection on a random half of the cells (Kendall tau on that half) and
measures the choice on the other half, over several random splits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..errors import ScoreError
from ..table import direction, proxy_columns, read_scores
from .metrics import (  # noqa: F401  (aggregate, oriented_ranks: re-exported)
    METHODS,
    MISSING,
    aggregate,
    fill_failed,
    kendall_tau,
    oriented_ranks,
    spearman_rho,
)

Source = str | Path | pd.DataFrame


# ----------------------------------------------------------------------------- tables
@dataclass
class Columns:
    """Score columns of one or several tables joined on arch_index (inner join)."""

    frame: pd.DataFrame            # index arch_index, one column per proxy
    higher: dict[str, bool]        # column -> higher_is_better
    source: dict[str, str]         # column -> table it came from
    seconds: dict[str, float]      # column -> mean seconds per cell (where recorded)


def load_columns(sources: Sequence[Source], columns: Sequence[str] = (), *,
                 higher_is_better: Mapping[str, bool] | None = None) -> Columns:
    """Join score tables (paths, or DataFrames with an arch_index column) on arch_index.

    Every proxy column is taken unless ``columns`` names some; a column in two tables is an
    error (which one would be meant?). Directions come from each table's .json, else from the
    proxy registry, unless ``higher_is_better`` names them."""
    if isinstance(sources, (str, Path, pd.DataFrame)):
        sources = [sources]
    if not sources:
        raise ScoreError("give at least one score table (--scores T.csv)")
    frames, higher, source, seconds = [], {}, {}, {}
    available: list[str] = []
    for i, src in enumerate(sources):
        if isinstance(src, pd.DataFrame):
            if "arch_index" not in src.columns:
                raise ScoreError(f"table {i + 1} has no arch_index column")
            table, name = src, f"table {i + 1}"
        else:
            table, name = read_scores(src), str(src)
        available += proxy_columns(table)
        cols = [c for c in proxy_columns(table) if not columns or c in columns]
        numeric = table.set_index(table["arch_index"].astype(np.int64))[cols]
        numeric = numeric.apply(pd.to_numeric, errors="coerce")
        for c in list(cols):
            if c in source:
                if _same(frames, c, numeric[c]):   # e.g. a member copied by `combine`
                    cols.remove(c)
                    continue
                raise ScoreError(f"column {c} is in both {source[c]} and {name} with "
                                 f"different values: pass each column's table once (or "
                                 f"choose columns with --columns)")
            source[c] = name
            if higher_is_better and c in higher_is_better:
                higher[c] = bool(higher_is_better[c])
            elif isinstance(src, pd.DataFrame):
                higher[c] = _registry_direction(c)
            else:
                higher[c] = direction(src, c)
            if f"{c}_seconds" in table.columns:
                seconds[c] = float(pd.to_numeric(table[f"{c}_seconds"], errors="coerce").mean())
        frames.append(numeric[cols])
    everything = ", ".join(dict.fromkeys(available)) or "no score columns"
    missing = [c for c in columns if c not in source]
    if missing:
        raise ScoreError(f"unknown column(s) {', '.join(missing)}; the tables have: "
                         f"{everything}")
    if not source:
        raise ScoreError("the tables have no score columns")
    frame = pd.concat(frames, axis=1, join="inner")
    frame.index.name = "arch_index"
    if frame.empty:
        raise ScoreError("the score tables share no arch_index: score the same cells first")
    order = list(columns) if columns else list(source)
    return Columns(frame[order], {c: higher[c] for c in order},
                   {c: source[c] for c in order}, {c: seconds[c] for c in order
                                                   if c in seconds})


def _same(frames: list[pd.DataFrame], column: str, values: pd.Series) -> bool:
    """Whether ``column`` of an earlier frame equals ``values`` on the cells both hold."""
    first = next(f[column] for f in frames if column in f.columns)
    a, b = first.align(values, join="inner")
    return bool(len(a)) and np.allclose(a.to_numpy(float), b.to_numpy(float), equal_nan=True,
                                        rtol=1e-12, atol=0.0)


def _registry_direction(column: str) -> bool:
    from ..proxies import ProxyError, get_proxy
    try:
        return get_proxy(column.split("[")[0]).higher_is_better
    except ProxyError:
        return True


def check_datasets(sources: Sequence[Source], dataset: str) -> None:
    """Tables (paths) scored on another dataset than the truth asked for are refused."""
    from ..table import check_dataset
    for s in [sources] if isinstance(sources, (str, Path, pd.DataFrame)) else sources:
        if isinstance(s, (str, Path)):
            check_dataset(s, dataset)


def truth_for(index: pd.Index, dataset: str, ground_truth: str | Path | None) -> pd.Series:
    """NB201 test accuracy of the cells in ``index`` (every one must have one)."""
    from .groundtruth import GroundTruthError, load_ground_truth
    truth = load_ground_truth(ground_truth)
    if dataset not in truth.columns or truth[dataset].isna().all():
        raise GroundTruthError(f"the ground truth has no {dataset} accuracy")
    acc = truth.set_index(truth["arch_index"].astype(np.int64))[dataset].reindex(index)
    if acc.isna().any():
        raise GroundTruthError(f"{int(acc.isna().sum())} scored cell(s) have no {dataset} "
                               f"ground truth (e.g. index {int(acc.index[acc.isna()][0])})")
    return acc


def complete_cells(cols: Columns, members: Sequence[str] | None = None) -> pd.DataFrame:
    """The joined frame restricted to cells with a finite value in every (member) column."""
    frame = cols.frame if members is None else cols.frame[list(members)]
    return frame[np.isfinite(frame.to_numpy(dtype=float)).all(axis=1)]


def policy_cells(cols: Columns, missing: str,
                 members: Sequence[str] | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """The joined frame under a failed-cell policy, and each column's failed cells: ``last``
    keeps every cell, a non-finite value set past the column's worst (ranked last, as
    ``correlate`` ranks it); ``drop`` keeps the cells finite in every column."""
    if missing not in MISSING:
        raise ScoreError(f"--missing must be one of {', '.join(MISSING)}, got {missing!r}")
    frame = cols.frame if members is None else cols.frame[list(members)]
    failed = {c: int((~np.isfinite(frame[c].to_numpy(float))).sum()) for c in frame.columns}
    if missing == "drop":
        return complete_cells(cols, members), failed
    return frame.apply(lambda col: pd.Series(fill_failed(col, cols.higher[col.name]),
                                             index=col.index)), failed


# ----------------------------------------------------------------------------- selection
class _Terms:
    """Each column's per-cell term of the aggregate (its rank, or log(rank/N)), computed once
    over every cell so that any subset's aggregate is a sum of rows."""

    def __init__(self, frame: pd.DataFrame, higher: Mapping[str, bool], method: str):
        n = len(frame)
        self.names = list(frame.columns)
        ranks = np.vstack([oriented_ranks(frame[c], higher[c]) for c in self.names])
        self.terms = ranks if method == "rank" else np.log(ranks / n)

    def score(self, members: Sequence[str]) -> np.ndarray:
        return self.terms[[self.names.index(m) for m in members]].sum(0)


def greedy_forward(terms: _Terms, truth: np.ndarray, cells: np.ndarray, candidates:
                   Sequence[str], *, min_members: int = 2, max_members: int | None = None
                   ) -> tuple[list[str], float]:
    """Add, one at a time, the member that most raises Kendall tau on ``cells``; stop when no
    addition raises it (but not before ``min_members``). Returns (members, tau on cells)."""
    chosen: list[str] = []
    best = -np.inf
    limit = len(candidates) if max_members is None else min(max_members, len(candidates))
    t = truth[cells]
    while len(chosen) < limit:
        trials = [(kendall_tau(terms.score([*chosen, c])[cells], t), c)
                  for c in candidates if c not in chosen]
        tau, pick = max(trials, key=lambda x: np.nan_to_num(x[0], nan=-2.0))
        if tau <= best and len(chosen) >= min_members:
            break
        chosen.append(pick)
        best = tau
    return chosen, float(best)


def select_heldout(frame: pd.DataFrame, truth: ArrayLike, higher: Mapping[str, bool], *,
                   method: str, splits: int, rng: np.random.Generator,
                   declared: Mapping[str, Sequence[str]] | None = None,
                   min_members: int = 2, max_members: int | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Greedy forward selection of ensemble members on a random half of the cells (tau),
    measured on the other half; repeated over ``splits`` random halves.

    ``frame``: complete cells x candidate columns (no NaN); ``truth`` aligned with it. Per
    split the rows also hold, on the same held-out half, the best single column chosen on the
    selection half and every ``declared`` ensemble (fixed in advance). Returns (per_split,
    members): per split one row per entry (kind ``selected`` / ``best single`` / ``declared``)
    with tau and rho on the held-out half; members: how often each column was selected."""
    if method not in METHODS:
        raise ScoreError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if splits < 1:
        raise ScoreError(f"--splits must be >= 1, got {splits}")
    t = np.array(truth, dtype=float).ravel()
    n = len(frame)
    if n != t.size:
        raise ValueError(f"{n} cells but {t.size} truth values")
    if n < 8:
        raise ScoreError(f"held-out selection needs at least 8 complete cells, got {n}")
    candidates = list(frame.columns)
    if len(candidates) < 2:
        raise ScoreError("held-out selection needs at least two candidate columns")
    declared = dict(declared or {})
    for name, members in declared.items():
        unknown = [m for m in members if m not in candidates]
        if unknown:
            raise ScoreError(f"declared ensemble {name}: unknown column(s) "
                             f"{', '.join(unknown)}; candidates: {', '.join(candidates)}")
    terms = _Terms(frame, higher, method)
    rows = []
    counts = dict.fromkeys(candidates, 0)
    for s in range(splits):
        perm = rng.permutation(n)
        pick, held = np.sort(perm[: n // 2]), np.sort(perm[n // 2:])
        members, tau_pick = greedy_forward(terms, t, pick, candidates,
                                           min_members=min_members, max_members=max_members)
        for m in members:
            counts[m] += 1
        single = max(candidates,
                     key=lambda c: np.nan_to_num(kendall_tau(terms.score([c])[pick], t[pick]),
                                                 nan=-2.0))
        entries = [("selected", "greedy", members), ("best single", single, [single]),
                   *(("declared", name, list(m)) for name, m in declared.items())]
        for kind, name, mem in entries:
            score = terms.score(mem)
            rows.append({"split": s, "kind": kind, "name": name, "members": "+".join(mem),
                         "size": len(mem),
                         "tau_select": kendall_tau(score[pick], t[pick]),
                         "tau_heldout": kendall_tau(score[held], t[held]),
                         "rho_heldout": spearman_rho(score[held], t[held]),
                         "cells_select": pick.size, "cells_heldout": held.size})
    per_split = pd.DataFrame(rows)
    members = (pd.DataFrame({"column": list(counts), "chosen": list(counts.values())})
               .sort_values(["chosen", "column"], ascending=[False, True])
               .reset_index(drop=True))
    members["splits"] = splits
    return per_split, members


def summarise_splits(per_split: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over splits of the held-out tau and rho, per (kind, name)."""
    g = per_split.groupby(["kind", "name"], sort=False)
    out = g.agg(tau_mean=("tau_heldout", "mean"), tau_sd=("tau_heldout", "std"),
                rho_mean=("rho_heldout", "mean"), rho_sd=("rho_heldout", "std"),
                size_mean=("size", "mean"), splits=("split", "nunique"),
                cells_heldout=("cells_heldout", "first")).reset_index()
    out["members"] = g["members"].agg(lambda m: m.value_counts().index[0]).to_numpy()
    return out


def parse_declared(texts: Sequence[str], available: Sequence[str]) -> dict[str, list[str]]:
    """``NAME=a,b,c`` strings to {name: members}; ``*`` alone means every available column."""
    out: dict[str, list[str]] = {}
    for text in texts:
        name, eq, members = text.partition("=")
        if not eq or not name.strip():
            raise ScoreError(f"--declare {text!r}: write NAME=col1,col2[,...]")
        cols = [m.strip() for m in members.split(",") if m.strip()]
        if cols == ["*"]:
            cols = list(available)
        if len(cols) < 2:
            raise ScoreError(f"--declare {name}: an ensemble needs at least two columns")
        out[name.strip()] = cols
    return out


def write_json(path: Path, data: dict) -> None:
    from ..run.files import atomic_write_json
    atomic_write_json(path, json.loads(json.dumps(data, default=float)))


def ensemble_tables(tables: Sequence[Source], *, columns: Sequence[str] = (),
                    methods: Sequence[str] = ("logrank", "rank"),
                    declared: Sequence[str] | Mapping[str, Sequence[str]] = (),
                    splits: int = 10, min_members: int = 2, dataset: str = "cifar10",
                    ground_truth=None, n_boot: int = 1000, seed: int = 0,
                    out: str | Path | None = None, meta: dict | None = None,
                    started: float | None = None, missing: str = "last") -> pd.DataFrame:
    """Held-out selection and pre-declared ensembles on joined score tables.

    A cell whose score failed in a column is ranked last in that column (``missing="last"``)
    or, with ``"drop"``, left out with every column (their numbers are recorded). Every
    method uses the same splits (``default_rng(seed)``). Returns the summary (method, kind,
    name, tau/rho mean and sd on the held-out halves, members); with ``out`` also writes
    splits.csv, summary.csv, members.csv, all_cells.csv and ensemble.json there."""
    import time

    from ..run.files import atomic_write_bytes
    from .metrics import correlate
    check_datasets(tables, dataset)
    cols = load_columns(tables, columns)
    if min_members > len(cols.frame.columns):
        raise ScoreError(f"--min-members {min_members} is more than the "
                         f"{len(cols.frame.columns)} columns to choose from; give at most "
                         f"{len(cols.frame.columns)}, or more --column/tables")
    frame, failed = policy_cells(cols, missing)
    dropped = len(cols.frame) - len(frame)
    truth = truth_for(frame.index, dataset, ground_truth).to_numpy()
    decl = (dict(declared) if isinstance(declared, Mapping)
            else parse_declared(declared, list(frame.columns)))
    summaries, per_all, mem_all = [], [], []
    for method in methods:
        per, mem = select_heldout(frame, truth, cols.higher, method=method, splits=splits,
                                  rng=np.random.default_rng(seed), declared=decl,
                                  min_members=min_members)
        per.insert(0, "method", method)
        mem.insert(0, "method", method)
        s = summarise_splits(per)
        s.insert(0, "method", method)
        summaries.append(s)
        per_all.append(per)
        mem_all.append(mem)
    summary = pd.concat(summaries, ignore_index=True)
    rows = []
    entries = [("single", c, [c], "-") for c in frame.columns]
    entries += [("declared", n, m, meth) for meth in methods for n, m in decl.items()]
    for kind, name, members, meth in entries:
        score = (frame[name].to_numpy(float) * (1 if cols.higher[name] else -1)
                 if kind == "single" else
                 aggregate([frame[m] for m in members], [cols.higher[m] for m in members],
                           method=meth))
        res = correlate(score, truth, n_boot=n_boot, seed=seed)
        secs = [cols.seconds.get(m) for m in members]
        rows.append({"kind": kind, "method": meth, "name": name, "members": "+".join(members),
                     "size": len(members), "cells": len(frame),
                     "tau": res.at["kendall_tau", "value"],
                     "tau_ci_low": res.at["kendall_tau", "ci_low"],
                     "tau_ci_high": res.at["kendall_tau", "ci_high"],
                     "rho": res.at["spearman_rho", "value"],
                     "rho_ci_low": res.at["spearman_rho", "ci_low"],
                     "rho_ci_high": res.at["spearman_rho", "ci_high"],
                     "top5": res.at["top5%", "value"],
                     "seconds_per_cell": float(np.nansum([s for s in secs if s is not None])),
                     "seconds_recorded": sum(s is not None for s in secs)})
    all_cells = pd.DataFrame(rows)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        for name, df in (("splits", pd.concat(per_all)), ("summary", summary),
                         ("members", pd.concat(mem_all)), ("all_cells", all_cells)):
            atomic_write_bytes(out / f"{name}.csv", df.to_csv(index=False).encode())
        write_json(out / "ensemble.json", {
            **(meta or {}), "candidates": list(frame.columns), "cells": len(frame),
            "dropped_incomplete": dropped, "missing": missing, "failed": failed,
            "declared": decl, "methods": list(methods),
            "splits": splits, "min_members": min_members, "dataset": dataset, "seed": seed,
            "higher_is_better": cols.higher, "sources": cols.source,
            "seconds_per_cell": cols.seconds,
            "wall_seconds": (time.time() - started) if started else None})
    return summary
