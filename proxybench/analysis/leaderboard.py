"""The leaderboard: every proxy's rank agreement with NB201 on one cell set, with the
uncertainty that applies to it, beside the published value.

A supernet proxy scored on several supernets of a seed group (one table each) gets its mean
over training seeds, their sd and a hierarchical bootstrap CI (seeds, then cells); any other
column gets a cell-bootstrap CI. All rows use the same cells: those every seed table scored
(a seeded sample), so rows are comparable. Reads tables only (no torch).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..table import check_dataset, direction, proxy_columns, read_scores
from .correlation import replicate_metrics
from .literature import published
from .metrics import NDCG_K, correlate

COLUMNS = ("proxy", "kind", "replicates", "cells", "failed", "tau", "tau_sd", "tau_ci_low",
           "tau_ci_high", "tau_cell_sd", "tau_ensemble", "rho", "rho_sd", "rho_ci_low",
           "rho_ci_high", "top5", "ndcg", "ndcg_sd", "ndcg_ci_low", "ndcg_ci_high",
           "seconds_per_cell", "published_rho", "published_tau", "published_sources")


def _kind(column: str) -> str:
    from ..proxies import ProxyError, get_proxy
    try:
        proxy = get_proxy(column.split("[")[0])
    except ProxyError:
        return "combination"
    needs = proxy.needs
    if proxy.fn.__module__.endswith("baselines"):
        return "free"
    if "supernet" in needs:
        return "supernet"
    return "zero-cost" if needs else "free"


def _published(column: str, dataset: str) -> dict:
    rho = published(column, "spearman_rho", dataset)
    tau = published(column, "kendall_tau", dataset)
    return {"published_rho": " / ".join(f"{p.value:+.2f}" for p in rho) or "",
            "published_tau": " / ".join(f"{p.value:+.3f}" for p in tau) or "",
            "published_sources": "; ".join(dict.fromkeys(p.source for p in rho + tau))}


def _seconds(tables: list[pd.DataFrame], column: str) -> float:
    vals = [t[f"{column}_seconds"].mean() for t in tables if f"{column}_seconds" in t]
    return float(np.mean(vals)) if vals else float("nan")


def leaderboard(seed_tables: Sequence[str | Path], score_tables: Sequence[str | Path],
                truth: pd.DataFrame, dataset: str, *, n_boot: int = 1000,
                seed: int = 0, missing: str = "last", ndcg_k: int = NDCG_K) -> pd.DataFrame:
    """One row per proxy column, sorted by tau, on the cells all ``seed_tables`` share (or,
    without seed tables, the cells every table shares, e.g. a sample's cells where the free
    counts cover all 15,625; each table's own when they share fewer than 3). Cells whose
    score failed are ranked last (``missing="last"``: every row on the same cells) or left
    out (``drop``); ``failed`` counts them per row. ``ndcg`` is VKDNW's nDCG over the top
    ``ndcg_k`` cells (``metrics.ndcg``), with the same kind of sd and CI as tau."""
    for p in [*seed_tables, *score_tables]:
        check_dataset(p, dataset)
    seeds = [(Path(p), read_scores(p)) for p in seed_tables]
    singles = [(Path(p), read_scores(p)) for p in score_tables]
    cells = None
    if seeds:
        cells = set(seeds[0][1]["arch_index"])
        for _, t in seeds[1:]:
            cells &= set(t["arch_index"])
    elif singles:
        common = set.intersection(*(set(t["arch_index"]) for _, t in singles))
        cells = common if len(common) >= 3 else None
    gt = truth.set_index("arch_index")[dataset]
    rows: list[dict] = []
    replicated = list(dict.fromkeys(c for _, t in seeds for c in proxy_columns(t)))
    for col in replicated:
        holders = [(p, t) for p, t in seeds if col in t.columns]
        if len(holders) == 1:
            singles.insert(0, holders[0])
            continue
        s, _ = replicate_metrics([t.set_index("arch_index")[col] for _, t in holders], gt,
                                 column=col, higher_is_better=direction(holders[0][0], col),
                                 n_boot=n_boot, seed=seed, missing=missing, ndcg_k=ndcg_k)
        tau, rho, nd = s.loc["kendall_tau"], s.loc["spearman_rho"], s.loc["ndcg"]
        rows.append({"proxy": col, "kind": _kind(col), "replicates": len(holders),
                     "cells": int(tau["n"]), "failed": int(tau["failed"]),
                     "tau": tau["mean"], "tau_sd": tau["sd"],
                     "tau_ci_low": tau["ci_low"], "tau_ci_high": tau["ci_high"],
                     "tau_cell_sd": tau["cell_sd"], "tau_ensemble": tau["ensemble"],
                     "rho": rho["mean"], "rho_sd": rho["sd"], "rho_ci_low": rho["ci_low"],
                     "rho_ci_high": rho["ci_high"], "top5": s.loc["top5%", "mean"],
                     "ndcg": nd["mean"], "ndcg_sd": nd["sd"], "ndcg_ci_low": nd["ci_low"],
                     "ndcg_ci_high": nd["ci_high"],
                     "seconds_per_cell": _seconds([t for _, t in holders], col),
                     **_published(col, dataset)})
    done = set(replicated)
    for path, t in singles:
        use = t if cells is None else t[t["arch_index"].isin(cells)]
        use = use.set_index("arch_index").join(gt.rename("truth"), how="inner")
        for col in proxy_columns(t):
            if col in done:
                continue
            pair = use[[col, "truth"]].dropna(subset=["truth"])
            values = pd.to_numeric(pair[col], errors="coerce").to_numpy(dtype=float)
            if np.isfinite(values).sum() < 3:
                continue
            done.add(col)
            r = correlate(values, pair["truth"].to_numpy(), n_boot=n_boot, seed=seed,
                          higher_is_better=direction(path, col), missing=missing,
                          ndcg_k=ndcg_k)
            tau, rho, nd = r.loc["kendall_tau"], r.loc["spearman_rho"], r.loc["ndcg"]
            width = tau["ci_high"] - tau["ci_low"]
            rows.append({"proxy": col, "kind": _kind(col), "replicates": 1,
                         "cells": int(tau["n"]), "failed": int(tau["failed"]),
                         "tau": tau["value"], "tau_sd": np.nan,
                         "tau_ci_low": tau["ci_low"], "tau_ci_high": tau["ci_high"],
                         "tau_cell_sd": width / (2 * 1.96), "tau_ensemble": np.nan,
                         "rho": rho["value"], "rho_sd": np.nan, "rho_ci_low": rho["ci_low"],
                         "rho_ci_high": rho["ci_high"], "top5": r.loc["top5%", "value"],
                         "ndcg": nd["value"], "ndcg_sd": np.nan, "ndcg_ci_low": nd["ci_low"],
                         "ndcg_ci_high": nd["ci_high"],
                         "seconds_per_cell": _seconds([t], col), **_published(col, dataset)})
    board = pd.DataFrame(rows, columns=list(COLUMNS))
    return board.sort_values("tau", ascending=False).reset_index(drop=True)


def ndcg_text(r: Any) -> str:
    """A row's nDCG as shown (± its sd over seeds); "-" for a leaderboard.csv written before
    the column existed."""
    value = getattr(r, "ndcg", np.nan)
    if value != value:
        return "-"
    sd = getattr(r, "ndcg_sd", np.nan)
    return f"{value:.3f}" + (f" ± {sd:.3f}" if r.replicates > 1 and sd == sd else "")


def markdown(board: pd.DataFrame) -> str:
    """The leaderboard as the Markdown table the README and the report both show."""
    lines = ["| proxy | kind | Kendall τ | 95% CI | Spearman ρ | published ρ | top-5% | nDCG | "
             "cells (failed) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in board.itertuples():
        if r.replicates > 1:
            tau = f"{r.tau:+.3f} ± {r.tau_sd:.3f} ({r.replicates} seeds)"
            rho = f"{r.rho:+.3f} ± {r.rho_sd:.3f}"
        else:
            tau, rho = f"{r.tau:+.3f}", f"{r.rho:+.3f}"
        ci = f"[{r.tau_ci_low:+.3f}, {r.tau_ci_high:+.3f}]" if r.tau_ci_low == r.tau_ci_low \
            else ""
        published = r.published_rho if isinstance(r.published_rho, str) else ""  # NaN: read
        lines.append(f"| {r.proxy} | {r.kind} | {tau} | {ci} | {rho} | "
                     f"{published or '-'} | {r.top5:.3f} | {ndcg_text(r)} | {r.cells:,}"
                     + (f" ({r.failed})" if r.failed else "") + " |")
    return "\n".join(lines) + "\n"


def cross_dataset(boards: dict[str, pd.DataFrame], *, n_boot: int = 1000,
                  seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Each proxy's tau on two datasets side by side, and how stable the order of proxies
    is between them: Kendall tau and Spearman rho between the two leaderboards' taus over
    the proxies both have, with a 95% bootstrap CI over proxies.

    ``boards``: {dataset: leaderboard.csv frame}, two of them. Returns (table, agreement):
    the table has proxy, kind, and per dataset tau, its sd over seeds (supernet proxies) or
    CI, and the proxy's place on that leaderboard; agreement holds the statistics."""
    from .metrics import kendall_tau, spearman_rho
    if len(boards) != 2:
        raise ValueError(f"cross_dataset compares two leaderboards, got {len(boards)}")
    (a, ba), (b, bb) = boards.items()
    common = [p for p in ba["proxy"] if p in set(bb["proxy"])]
    if len(common) < 3:
        from ..errors import ScoreError
        raise ScoreError(f"the {a} and {b} leaderboards share {len(common)} proxies; "
                         f"at least 3 are needed to compare their order")
    ia, ib = ba.set_index("proxy"), bb.set_index("proxy")
    rows = []
    for p in common:
        row = {"proxy": p, "kind": ia.at[p, "kind"]}
        for d, board in ((a, ia), (b, ib)):
            r = board.loc[p]
            row[f"tau_{d}"] = float(r["tau"])
            row[f"tau_sd_{d}"] = float(r["tau_sd"]) if int(r["replicates"]) > 1 else np.nan
            row[f"tau_ci_low_{d}"], row[f"tau_ci_high_{d}"] = (float(r["tau_ci_low"]),
                                                               float(r["tau_ci_high"]))
            row[f"replicates_{d}"] = int(r["replicates"])
        rows.append(row)
    table = pd.DataFrame(rows)
    for d in (a, b):
        table[f"place_{d}"] = table[f"tau_{d}"].rank(ascending=False, method="min").astype(int)
    x, y = table[f"tau_{a}"].to_numpy(), table[f"tau_{b}"].to_numpy()
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(x), len(x))
        boot.append(kendall_tau(x[pick], y[pick]))
    boot = np.array([v for v in boot if v == v])
    agreement = {"datasets": [a, b], "proxies": len(common),
                 "kendall_tau": kendall_tau(x, y), "spearman_rho": spearman_rho(x, y),
                 "tau_ci_low": float(np.percentile(boot, 2.5)) if len(boot) else np.nan,
                 "tau_ci_high": float(np.percentile(boot, 97.5)) if len(boot) else np.nan,
                 "n_boot": n_boot, "mean_shift": float(np.mean(y - x)),
                 "largest_move": table.loc[(table[f"place_{a}"] - table[f"place_{b}"]).abs()
                                           .idxmax(), "proxy"]}
    return table.sort_values(f"tau_{a}", ascending=False).reset_index(drop=True), agreement


def cross_markdown(table: pd.DataFrame, agreement: dict) -> str:
    """The side-by-side table and the agreement of the two leaderboards, as Markdown."""
    a, b = agreement["datasets"]

    def cell(r, d: str) -> str:
        if r[f"replicates_{d}"] > 1:
            return f"{r[f'tau_{d}']:+.3f} ± {r[f'tau_sd_{d}']:.3f} ({r[f'replicates_{d}']} seeds)"
        return (f"{r[f'tau_{d}']:+.3f} [{r[f'tau_ci_low_{d}']:+.3f}, "
                f"{r[f'tau_ci_high_{d}']:+.3f}]")

    lines = [f"The order of the {agreement['proxies']} proxies both leaderboards hold agrees "
             f"between {a} and {b} at Kendall τ {agreement['kendall_tau']:+.3f} "
             f"[{agreement['tau_ci_low']:+.3f}, {agreement['tau_ci_high']:+.3f}] (95% "
             f"bootstrap over proxies), Spearman ρ {agreement['spearman_rho']:+.3f}; a "
             f"proxy's τ moves by {agreement['mean_shift']:+.3f} on average from {a} to {b}, "
             f"and {agreement['largest_move']} changes place the most.", "",
             f"| proxy | kind | Kendall τ, {a} | Kendall τ, {b} | place {a} | place {b} |",
             "|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(f"| {r['proxy']} | {r['kind']} | {cell(r, a)} | {cell(r, b)} | "
                     f"{r[f'place_{a}']} | {r[f'place_{b}']} |")
    return "\n".join(lines) + "\n"
