"""Rank agreement of score columns with NB201 ground truth, or with each other."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ScoreError
from ..table import (
    check_dataset,
    direction,
    first_difference,
    proxy_columns,
    read_meta_or_empty,
    read_scores,
    recorded_fingerprint,
    require_fingerprint,
    require_ranking,
)
from .groundtruth import GroundTruthError, join_scores, load_ground_truth
from .metrics import NDCG_K, correlate, correlate_replicates, kendall_tau, spearman_rho


def correlate_table(scores: str | Path | Sequence[str | Path], *, dataset: str,
                    ground_truth: str | None, columns: Sequence[str] = (),
                    between: Sequence[str] | None = None, n_boot: int = 1000,
                    seed: int = 0, cells: str = "all",
                    fracs: Sequence[float] = (0.01, 0.05, 0.10),
                    metric: str = "test-200", missing: str = "last",
                    ndcg_k: int = NDCG_K, within_edge: int | None = None,
                    subset: Sequence[int] | None = None) -> pd.DataFrame:
    """Rows of (proxy, metric, value, ci_low, ci_high, n, failed) for each requested column;
    cells whose score failed are ranked last (``missing="last"``) or left out (``drop``);
    ``ndcg_k``: the number of top cells nDCG looks at (VKDNW's P). ``within_edge`` (NB201)
    adds tau within the groups of cells whose pruned form has one op on that edge
    (:func:`within_rows`). ``subset``: only these cells (NB201 indices), which every table
    must hold, so that tables of more cells compare on a common sample.

    Several tables may be given: each column is correlated on the cells of its own table,
    and ``between`` joins the two columns' tables on their key column. In ``between``, ``COL@N``
    names the column of the N-th table (1-based), so that the same proxy scored twice (e.g.
    with two noise seeds) can be compared with itself.
    """
    paths = [Path(scores)] if isinstance(scores, (str, Path)) else [Path(p) for p in scores]
    for p in paths:
        if between is None:        # two proxies compared with each other need no truth
            check_dataset(p, dataset)
    tables = {p: _restrict(_subset(read_scores(p), subset, p), cells) for p in paths}
    source = {}
    for p, t in tables.items():
        for c in t.columns:
            source.setdefault(c, p)
    everything = ", ".join(dict.fromkeys(c for t in tables.values() for c in proxy_columns(t)))
    wanted = list(between) if between else list(columns)
    for name in wanted:
        col, at, num = name.rpartition("@")
        if at and num.isascii() and num.isdigit() and col:
            if not 1 <= int(num) <= len(paths):
                raise ScoreError(f"{name}: there is no table {num} (tables 1-{len(paths)})")
            table = paths[int(num) - 1]
            if col not in tables[table].columns:
                raise ScoreError(f"column {col!r} not in {table}")
            source[name] = table
            tables[table] = tables[table].assign(**{name: tables[table][col]})
    absent = [c for c in wanted if c not in source]
    if absent:
        raise ScoreError(f"column(s) {absent} not in {', '.join(map(str, paths))}; "
                         f"available: {everything}")
    if between:
        a, b = between
        def plain(name: str) -> str:
            col, at, num = name.rpartition("@")
            return col if at and num.isascii() and num.isdigit() and col else name
        if (source[a], plain(a)) == (source[b], plain(b)):
            raise ScoreError(f"--between {a} {b} compares a column with itself; name two "
                             f"columns, or COL@1 COL@2 for one proxy in two tables")
        # joined on each table's key column (arch_index; arch for spaces without an index)
        both = pd.concat([tables[source[c]].set_index(tables[source[c]].columns[0])[c]
                          for c in (a, b)],
                         axis=1, join="inner").dropna()
        if len(both) < 3:
            raise ScoreError(f"fewer than 3 cells have both {a} and {b}")
        for c in (a, b):
            require_ranking(both[c], c, source[c])
        x, y = both[a].to_numpy(), both[b].to_numpy()
        rows = []
        for name, fn in (("kendall_tau", kendall_tau), ("spearman_rho", spearman_rho)):
            lo, hi = _boot(fn, x, y, n_boot, seed)
            rows.append({"proxy": f"{a} vs {b}", "metric": name, "value": fn(x, y),
                         "ci_low": lo, "ci_high": hi, "n": len(both)})
        return pd.DataFrame(rows)
    cols = wanted or [c for t in tables.values() for c in proxy_columns(t)]
    if not cols:
        raise ScoreError(f"{', '.join(map(str, paths))} has no score columns")
    truth = load_ground_truth(ground_truth, metric)
    joined = {p: join_scores(t, truth, dataset) for p, t in tables.items()}
    frames = []
    for c in dict.fromkeys(cols):
        holders = [p for p in paths if c in tables[p].columns] if "@" not in c else [source[c]]
        for p in holders:
            require_ranking(tables[p][c], c, p)
        if len(holders) > 1:
            frames.append(_replicate_rows(c, holders, tables, truth, dataset, n_boot, seed,
                                          fracs, missing, ndcg_k))
            continue
        usable = joined[source[c]][[c, "truth"]].dropna(subset=["truth"])
        finite = np.isfinite(pd.to_numeric(usable[c], errors="coerce").to_numpy(dtype=float))
        if finite.sum() < 3:
            raise GroundTruthError(f"column {c}: fewer than 3 scored cells with a finite value")
        res = correlate(usable[c].to_numpy(dtype=float), usable["truth"].to_numpy(),
                        fracs=fracs, n_boot=n_boot, seed=seed,
                        higher_is_better=direction(source[c], c), missing=missing,
                        ndcg_k=ndcg_k)
        res = res.reset_index()
        res.insert(0, "proxy", c)
        res["replicate"] = "all"
        res["replicates"] = 1
        frames.append(res)
    if within_edge is not None:
        for c in dict.fromkeys(cols):
            holders = [p for p in paths if c in tables[p].columns] if "@" not in c \
                else [source[c]]
            frames.append(within_rows(c, holders, {p: tables[p] for p in holders}, truth,
                                      dataset, within_edge, n_boot=n_boot, seed=seed,
                                      missing=missing))
    return pd.concat(frames, ignore_index=True)


def within_rows(column: str, holders: Sequence[Path], tables: dict, truth: pd.DataFrame,
                dataset: str, edge: int, *, n_boot: int, seed: int,
                missing: str = "last") -> pd.DataFrame:
    """Kendall tau within the groups of cells that share their pruned form's op on NB201
    ``edge`` (metrics.within_group_tau): the pooled value (``tau_within_edgeK``; a cell
    bootstrap CI for one table, mean ± sd over replicates for several) and each group's
    (``tau_edgeK=OP``). Why: it tells apart a supernet that ranks inside a group from one
    that only orders the groups (a few-shot split on that edge gives each group its own
    sub-supernet)."""
    from ..spaces.nb201 import EDGES, OPS, cell_at, prune
    from .metrics import within_group_tau
    if not 0 <= edge < len(EDGES):
        raise ScoreError(f"--within-edge {edge} is not an NB201 edge; choose 0-{len(EDGES) - 1}")
    truth_s = truth.set_index("arch_index")[dataset]
    higher = direction(holders[0], column)
    pooled, groups, ns = [], {}, {}
    for p in holders:
        t = tables[p]
        if "arch_index" not in t:
            raise ScoreError(f"{p} has no arch_index column: --within-edge groups NB201 cells")
        both = t.set_index("arch_index")[column].to_frame().join(truth_s.rename("truth"),
                                                                  how="inner")
        both = both.dropna(subset=["truth"])
        ops = np.array([OPS[prune(cell_at(int(i)))[edge]] for i in both.index])
        s, y = both[column].to_numpy(dtype=float), both["truth"].to_numpy()
        value, per = within_group_tau(s, y, ops, missing=missing, higher_is_better=higher)
        pooled.append(value)
        ns[p] = len(both)
        for name, (tau, n) in per.items():
            groups.setdefault(name, []).append((tau, n))
    many = len(holders) > 1
    lo = hi = float("nan")
    if not many and n_boot > 0:
        rng = np.random.default_rng(seed)
        boots = []
        for _ in range(n_boot):
            idx = rng.integers(0, len(s), len(s))
            boots.append(within_group_tau(s[idx], y[idx], ops[idx], missing=missing,
                                          higher_is_better=higher)[0])
        lo, hi = float(np.nanpercentile(boots, 2.5)), float(np.nanpercentile(boots, 97.5))
    name = f"tau_within_edge{edge}"
    rows = [{"proxy": column, "metric": name, "value": float(np.mean(pooled)),
             "ci_low": lo, "ci_high": hi, "n": ns[holders[0]], "replicate": "all",
             "replicates": len(holders),
             "sd": float(np.std(pooled, ddof=1)) if many else float("nan")}]
    for op, vals in groups.items():
        taus = [v for v, _ in vals]
        rows.append({"proxy": column, "metric": f"tau_edge{edge}={op}",
                     "value": float(np.mean(taus)), "ci_low": float("nan"),
                     "ci_high": float("nan"), "n": vals[0][1], "replicate": "all",
                     "replicates": len(vals),
                     "sd": float(np.std(taus, ddof=1)) if len(taus) > 1 else float("nan")})
    if many:
        rows += [{"proxy": column, "metric": name, "value": v, "ci_low": float("nan"),
                  "ci_high": float("nan"), "n": ns[p], "replicate": replicate_label(p),
                  "replicates": 1} for p, v in zip(holders, pooled, strict=True)]
    return pd.DataFrame(rows)


def _subset(table: pd.DataFrame, subset: Sequence[int] | None, path: Path) -> pd.DataFrame:
    """The rows of ``table`` for the cells of ``subset`` (None: all), every one of them."""
    if subset is None:
        return table
    wanted = set(int(i) for i in subset)
    held = set(int(i) for i in table["arch_index"])
    lacking = wanted - held
    if lacking:
        raise ScoreError(f"{path} lacks {len(lacking):,} of the {len(wanted):,} cells asked "
                         f"for (e.g. {min(lacking)}); pick cells it holds (--cells N --seed S "
                         f"picks the same sample `score` does), or score them")
    return table[table["arch_index"].isin(wanted)].reset_index(drop=True)


def _restrict(table: pd.DataFrame, cells: str) -> pd.DataFrame:
    """The rows of ``table`` in the cell set ``cells`` (all | distinct | unique)."""
    if cells == "all":
        return table
    from ..spaces.nb201 import cell_set
    keep = cell_set(cells, [int(i) for i in table["arch_index"]])
    return table[table["arch_index"].isin(keep)].reset_index(drop=True)


def protocol(dataset: str, ground_truth: str | None, cells: str,
             metric: str = "test-200", missing: str = "last", ndcg_k: int = NDCG_K,
             selected: str | None = None) -> str:
    """The protocol behind a tau, in words: ground truth, cell set, statistic, sign;
    ``selected`` names the cells the tables were restricted to, if they were."""
    from .groundtruth import resolve
    source = resolve(ground_truth) or "?"
    sets = {"all": "every scored cell", "distinct": "one cell per pruned form (weight-"
            "sharing-distinct; 9,445 in NB201)", "unique": "one cell per isomorphism class "
            "(NB201's unique cells; 6,466 in all)"}
    kind, epochs = metric.split("-")
    what = "test" if kind == "test" else "validation"
    return (f"ground truth: NB201 {dataset} {what} accuracy ({epochs} epochs, mean over the "
            f"benchmark's seeds) from {Path(source).name}; cells: {sets[cells]}"
            + (f" among {selected}" if selected else "")
            + "; Kendall tau-b (ties counted) and Spearman rho; nDCG over the proxy's "
            f"top {ndcg_k:,} cells (VKDNW's, gain 2^accuracy - 1); sign: higher = predicted better "
            f"(lower-is-better proxies are negated); failed cells (a non-finite score): "
            + ("ranked last (NASLib, AZ-NAS)" if missing == "last" else
               "left out (Abdelfattah et al.)"))


def replicate_label(path: Path) -> str:
    """How a replicate is named in output: its run directory (e.g. seed-3) and table."""
    run = read_meta_or_empty(path).get("run")
    return f"{Path(run).name}/{path.name}" if isinstance(run, str) and run else str(path)


def replicate_metrics(replicates: Sequence[pd.Series], truth: pd.Series, *, column: str,
                      higher_is_better: bool, n_boot: int, seed: int,
                      fracs: Sequence[float] = (0.01, 0.05, 0.10), missing: str = "last",
                      ndcg_k: int = NDCG_K) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``metrics.correlate_replicates`` on score series indexed by arch_index: the cells
    every replicate and the truth share, aligned (one place for every caller)."""
    wide = pd.concat([r.rename(str(i)) for i, r in enumerate(replicates)], axis=1,
                     join="inner")
    wide = wide.join(truth.rename("truth"), how="inner").dropna(subset=["truth"])
    if len(wide) < 3:
        raise ScoreError(f"column {column}: the {len(replicates)} tables share fewer than 3 "
                         f"cells with ground truth; replicates must score the same cells")
    return correlate_replicates([wide[str(i)].to_numpy() for i in range(len(replicates))],
                                wide["truth"].to_numpy(), fracs=fracs, n_boot=n_boot,
                                seed=seed, higher_is_better=higher_is_better, missing=missing,
                                ndcg_k=ndcg_k)


def replicate_setting(meta: dict) -> dict:
    """What must agree between seed replicates: how the supernet was trained (its seed
    aside) and how it was scored (the preset's image counts, checkpoint averaging); only
    the settings a table records are compared."""
    training = meta.get("training")
    if isinstance(training, dict) and "validation" not in training \
            and training.get("split_file") is None:
        # recorded before train --validation existed: half of the training set
        training = {**training, "validation": "train"}
    if isinstance(training, dict):
        # a preset's name is a label, and its few-shot split is recorded as the table's
        # own few_shot: `--preset cpu-fewshot` and `--preset cpu --few-shot-split 0:6`
        # train the same supernets
        preset = training.get("preset")
        training = {k: v for k, v in training.items() if k != "preset_name"}
        if isinstance(preset, dict):
            training["preset"] = {k: v for k, v in preset.items() if k != "few_shot"}
    setting = {"training": training, "scoring preset": meta.get("preset"),
               "averaged checkpoints": len(meta.get("averaged_checkpoints") or []) or None,
               "dataset": meta.get("dataset")}
    return {k: v for k, v in setting.items() if v is not None}


def supernet_weights(meta: dict) -> str | None:
    """The hash of the supernet weights a table's values come from: its own, or for a
    combined table its sources' (combining copies columns; it makes no new supernet)."""
    own = meta.get("weights_sha256") or recorded_fingerprint(meta).get("weights_sha256")
    if own:
        return str(own)
    sources = (meta.get("fingerprint") or {}).get("sources") if isinstance(
        meta.get("fingerprint"), dict) else None
    for src in sources or []:
        fp = src.get("fingerprint") if isinstance(src, dict) else None
        if isinstance(fp, dict) and fp.get("weights_sha256"):
            return str(fp["weights_sha256"])
    return meta.get("checkpoint_sha256")


def check_replicates(holders: Sequence[Path], column: str) -> None:
    """Tables of one proxy taken as seed replicates must come from different supernets
    (by the hash of their weights) trained and scored with the same settings; otherwise one
    line names the two files and what they share or differ in."""
    seen: dict[str, Path] = {}
    first = None
    for p in holders:
        m = require_fingerprint(p, "correlate takes as seed replicates")
        weights = supernet_weights(m)
        if weights is not None and weights in seen:
            raise ScoreError(f"{p} and {seen[weights]} score {column} on the weights of one "
                             f"supernet (sha256 {str(weights)[:12]}): they are one replicate, "
                             f"not two; correlate them apart, or merge them "
                             f"(`proxybench merge`) if they hold other cells")
        if weights is not None:
            seen[weights] = p
        setting = replicate_setting(m)
        if first is None:
            first = (p, setting)
            continue
        diff = first_difference(setting, first[1])
        if diff:
            raise ScoreError(f"{p} and {first[0]} are not seed replicates of one setting: "
                             f"{p.name} has {diff}; correlate each setting apart (`proxybench "
                             f"ablate levers` compares settings)")


def _replicate_rows(column: str, holders: list[Path], tables: dict, truth: pd.DataFrame,
                    dataset: str, n_boot: int, seed: int,
                    fracs: Sequence[float] = (0.01, 0.05, 0.10),
                    missing: str = "last", ndcg_k: int = NDCG_K) -> pd.DataFrame:
    """One proxy scored in several tables (e.g. one per training seed): the mean, sd and
    hierarchical CI over the replicates, the seed ensemble, and each replicate's own row.
    Tables computed from the same checkpoint with the same seed are the same replicate
    twice, and refused."""
    check_replicates(holders, column)
    summary, per = replicate_metrics(
        [tables[p].set_index("arch_index")[column] for p in holders],
        truth.set_index("arch_index")[dataset], column=column,
        higher_is_better=direction(holders[0], column), n_boot=n_boot, seed=seed, fracs=fracs,
        missing=missing, ndcg_k=ndcg_k)
    summary = summary.reset_index().rename(columns={"mean": "value"})
    summary.insert(0, "proxy", column)
    summary["replicate"] = "all"
    per["replicate"] = [replicate_label(holders[i]) for i in per["replicate"]]
    per.insert(0, "proxy", column)
    per["replicates"] = 1
    return pd.concat([summary, per], ignore_index=True)


def _boot(fn, x: np.ndarray, y: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    if n_boot <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = [fn(x[idx], y[idx]) for idx in (rng.integers(0, len(x), len(x))
                                           for _ in range(n_boot))]
    return float(np.nanpercentile(vals, 2.5)), float(np.nanpercentile(vals, 97.5))
