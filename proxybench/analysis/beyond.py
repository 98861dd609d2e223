"""Markdown section "Beyond single proxies": label-free ensembles, few-label predictors and
search on the scored sample, from the tables ``proxybench beyond`` (``api.beyond``) writes.

``render_beyond(root, ...)`` reads, under each root: ``ensemble/`` (``proxybench ensemble``),
``predict/curve.csv`` and optionally ``predict-zc/curve.csv`` (``proxybench predict``) and
``search/`` (``proxybench search-pool``). Missing parts are skipped with a note.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

# Published numbers beside ours, with the protocol each was measured under.
LITERATURE = (
    {"what": "AZ-NAS (its 4 proxies, log-rank sum)", "statistic": "Kendall tau",
     "value": 0.741, "labels": 0,
     "source": "Lee & Ham 2024 (AZ-NAS, CVPR): the authors' NB201 notebook",
     "protocol": "all 15,625 cells, NB201 CIFAR-10 test accuracy; AZ-NAS's own network, "
                 "batch and initialisation"},
    {"what": "AZ-NAS (its 4 proxies, log-rank sum)", "statistic": "Spearman rho",
     "value": 0.913, "labels": 0,
     "source": "as above (a results aggregator lists 0.91 for the paper)",
     "protocol": "all 15,625 cells, NB201 CIFAR-10"},
    {"what": "XGBoost on 13 ZC proxies (NAS-Bench-Suite-Zero)", "statistic": "Spearman rho",
     "value": 0.9, "labels": 100,
     "source": "Krishnakumar et al. 2022 (NAS-Bench-Suite-Zero, NeurIPS D&B); an "
               "approximate secondary quote, not checked against the paper's table (its "
               "abstract: ZC proxies as surrogate features improve prediction by up to 42%)",
     "protocol": "NASLib's NB201 network and ZC implementations; model fitted on labelled "
                 "cells' ZC scores, Spearman rho against validation accuracy on other cells"},
)


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _pm(mean: float, sd: float, digits: int = 3) -> str:
    if mean != mean:
        return "-"
    return f"{mean:+.{digits}f} ± {sd:.{digits}f}" if sd == sd else f"{mean:+.{digits}f}"


def _table(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def _short(members: str, limit: int = 70) -> str:
    return members if len(members) <= limit else members[: limit - 1] + "…"


def _cost(members: str, seconds: dict) -> str:
    known = [seconds[m] for m in members.split("+") if m in seconds]
    return f"{sum(known):.3f}" if known else "-"


def _names(root: Path) -> dict[str, str]:
    """Combined-column name -> 'declared name (method)' for the declared ensembles."""
    decl = _json(root / "ensemble" / "ensemble.json").get("declared", {})
    return {f"{m}({'+'.join(members)})": f"{name} ({m})" for name, members in decl.items()
            for m in ("rank", "logrank")}


def _leaderboard(root: Path, out: list[str]) -> None:
    """One table: proxies, ensembles and predictors, with the labels each used."""
    d = root / "ensemble"
    summary, cells = _read(d / "summary.csv"), _read(d / "all_cells.csv")
    meta = _json(d / "ensemble.json")
    secs = meta.get("seconds_per_cell", {})
    rows = []
    if cells is not None:
        single = cells[cells["kind"] == "single"].sort_values("tau", ascending=False)
        for r in single.head(3).itertuples():
            rows.append(("proxy " + r.name, "0", f"{r.tau:+.3f} [{r.tau_ci_low:+.3f}, "
                         f"{r.tau_ci_high:+.3f}]", "all cells, bootstrap CI (one of the 3 "
                         "best singles: picked by looking)", _cost(r.members, secs)))
        for r in cells[cells["kind"] == "declared"].itertuples():
            rows.append((f"declared {r.name} ({r.method})", "0",
                         f"{r.tau:+.3f} [{r.tau_ci_low:+.3f}, {r.tau_ci_high:+.3f}]",
                         "all cells, bootstrap CI", _cost(r.members, secs)))
    if summary is not None:
        for r in summary[summary["kind"] != "declared"].itertuples():
            half = int(r.cells_heldout) if r.cells_heldout == r.cells_heldout else 0
            what = ("greedy-selected ensemble" if r.kind == "selected"
                    else "best single on the selection half")
            rows.append((f"{what} ({r.method}): {_short(r.members, 40)}",
                         f"~{half} (to choose)", _pm(r.tau_mean, r.tau_sd),
                         f"held-out halves, mean ± sd over {r.splits} splits",
                         _cost(r.members, secs)))
    for sub, label in (("predict", "all columns"), ("predict-zc", "ZC only")):
        curve = _read(root / sub / "curve.csv")
        if curve is None:
            continue
        feats = str(curve["features"].iloc[0])
        for r in curve[curve["k"].isin([10, 50, 100, 400])].itertuples():
            rows.append((f"predictor {r.model}, {label}", f"{r.k}",
                         _pm(r.tau_mean, r.tau_sd),
                         f"unlabelled cells, mean ± sd over {r.draws} draws",
                         _cost(feats, secs) + f" + {r.k} trainings"))
    if not rows:
        return
    df = pd.DataFrame(rows, columns=["proxy / ensemble / predictor", "NB201 labels",
                                     "Kendall tau", "measured on", "s/cell (+ labels)"])
    key = df["Kendall tau"].str.extract(r"([+-]\d\.\d+)")[0].astype(float)
    out.append("**Leaderboard** (Kendall tau with its uncertainty; s/cell = scoring time per "
               "cell recorded in the tables, free counts and a supernet's training not "
               "counted):\n")
    out.append(_table(df.iloc[key.sort_values(ascending=False).index]) + "\n")


def _ensembles(root: Path, out: list[str]) -> None:
    d = root / "ensemble"
    summary, cells, members = (_read(d / f"{n}.csv") for n in ("summary", "all_cells",
                                                               "members"))
    meta = _json(d / "ensemble.json")
    if summary is None:
        out.append("_No ensemble tables (run `proxybench ensemble`)._\n")
        return
    secs = meta.get("seconds_per_cell", {})
    n = meta.get("cells", "?")
    if meta.get("missing", "drop") == "last":
        failed = sum((meta.get("failed") or {}).values())
        policy = (f"{len(meta.get('candidates', []))} candidate columns; each of the "
                  f"{failed} failed scores ranks last in its column")
    else:
        policy = (f"complete in all {len(meta.get('candidates', []))} candidate columns; "
                  f"{meta.get('dropped_incomplete', 0)} cells with a failed score dropped")
    out.append(f"**Label-free ensembles** on {n} cells ({policy}). "
               f"Held-out protocol: {meta.get('splits', '?')} random halves; on each, "
               f"greedy forward selection of members by Kendall tau on one half (at least "
               f"{meta.get('min_members', 2)} members), tau measured on the other half; "
               f"'best single' = the column with the best tau on the selection half. "
               f"Declared ensembles were fixed by `proxybench beyond`'s rule before any result "
               f"was seen and are measured on the same held-out halves.\n")
    rows = []
    for r in summary.itertuples():
        rows.append({"aggregation": r.method, "kind": r.kind, "ensemble": r.name,
                     "members (most often)": _short(r.members),
                     "held-out tau (mean ± sd)": _pm(r.tau_mean, r.tau_sd),
                     "held-out rho": _pm(r.rho_mean, r.rho_sd),
                     "s/cell": _cost(r.members, secs)})
    out.append(_table(pd.DataFrame(rows)) + "\n")
    if members is not None:
        chosen = members[members["chosen"] > 0]
        parts = [f"{m}: " + ", ".join(f"{r.column} {r.chosen}/{r.splits}"
                                      for r in g.itertuples())
                 for m, g in chosen.groupby("method", sort=False)]
        out.append("Members chosen (times out of splits): " + "; ".join(parts) + ".\n")
    if cells is not None:
        top = cells.sort_values("tau", ascending=False)
        rows = [{"kind": r.kind, "aggregation": r.method, "column / ensemble": _short(r.name),
                 "tau [95% CI]": f"{r.tau:+.3f} [{r.tau_ci_low:+.3f}, {r.tau_ci_high:+.3f}]",
                 "rho": f"{r.rho:+.3f}", "top-5%": f"{r.top5:.2f}",
                 "s/cell": f"{r.seconds_per_cell:.3f}" if r.seconds_recorded else "-"}
                for r in top.itertuples()]
        out.append(f"All {n} cells, single columns and declared ensembles (fixed members, "
                   f"so no selection bias; cell-bootstrap CI):\n")
        out.append(_table(pd.DataFrame(rows)) + "\n")


def _curves(root: Path, out: list[str]) -> None:
    for sub, what in (("predict", "all columns"), ("predict-zc", "zero-cost proxies only")):
        curve = _read(root / sub / "curve.csv")
        if curve is None:
            continue
        feats = str(curve["features"].iloc[0]).split("+")
        out.append(f"**Few-label predictors, features: {what}** ({len(feats)} columns: "
                   f"{_short('+'.join(feats), 120)}); {int(curve['cells'].iloc[0])} cells, "
                   f"tau and rho on the unlabelled cells, mean ± sd over "
                   f"{int(curve['draws'].iloc[0])} random labelled sets.\n")
        wide = []
        for k, g in curve.groupby("k", sort=True):
            row = {"labels k": int(k)}
            for r in g.itertuples():
                row[f"{r.model} tau"] = _pm(r.tau_mean, r.tau_sd)
                row[f"{r.model} rho"] = _pm(r.rho_mean, r.rho_sd)
            wide.append(row)
        out.append(_table(pd.DataFrame(wide)) + "\n")


def _search(root: Path, out: list[str]) -> None:
    summary = _read(root / "search" / "summary.csv")
    meta = _json(root / "search" / "search.json")
    if summary is None:
        out.append("_No search tables (run `proxybench search-pool`)._\n")
        return
    out.append(f"**Search on the sample** ({meta.get('sample', '?')} cells; best "
               f"{meta.get('sample_best_acc', float('nan')):.2f}%, mean "
               f"{meta.get('sample_mean_acc', float('nan')):.2f}%): budget "
               f"{meta.get('budget', '?')} evaluations (labels included), evolution "
               f"population {meta.get('population', '?')}, {len(meta.get('seeds', []))} "
               f"seeds. The sample is the space: children are moved to the nearest sampled "
               f"cell (edit distance); predictors spend their k labels inside the search and "
               f"return the best labelled cell; 'random labels k' trains k random cells; "
               f"'exhaustive' is the scorer's top cell in the whole sample (budget = sample); "
               f"'expected (exact)' is the exact mean and sd of the best of k random "
               f"sampled cells, against which 5 seeds can be judged. "
               f"Rank 1 = the sample's best cell.\n")
    names = _names(root)
    rows = [{"method": names.get(r.method, _short(r.method, 60)), "algorithm": r.algorithm,
             "labels": int(r.labels), "evaluations": int(r.evaluations),
             "test acc % (mean ± sd)": f"{r.test_acc_mean:.2f} ± {r.test_acc_sd:.2f}",
             "rank in sample": (f"{r.rank_in_sample_mean:.1f} ± {r.rank_in_sample_sd:.1f}"
                                if r.rank_in_sample_sd == r.rank_in_sample_sd
                                else f"{r.rank_in_sample_mean:.1f}"),
             "rank in NB201": (f"{r.rank_in_nb201_mean:.0f}"
                               if r.rank_in_nb201_mean == r.rank_in_nb201_mean else "-")}
            for r in summary.sort_values("test_acc_mean", ascending=False).itertuples()]
    out.append(_table(pd.DataFrame(rows)) + "\n")


def render_beyond(roots: str | Path | Sequence[str | Path], *, titles: Sequence[str] = (),
                  level: int = 2) -> str:
    """The Markdown section for one or several result folders (e.g. 1,000 and 2,000 cells)."""
    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]
    h = "#" * level
    out = [f"{h} Beyond single proxies: ensembles, few-label predictors, search\n",
           "Label-free claims use only members fixed in advance or chosen on a held-out half; "
           "predictors are measured only on cells they were not fitted on. Costs are seconds "
           "per cell of the members' scoring as recorded in the tables' `_seconds` columns "
           "(free counts: ~0); a label costs one NB201 training run (200 epochs).\n"]
    for i, root in enumerate(roots):
        named = root / "title.txt"     # written by `beyond`: which tables went in
        title = titles[i] if i < len(titles) else (
            named.read_text().strip() if named.is_file() else root.name)
        out.append(f"{h}# {title}\n")
        _leaderboard(root, out)
        _ensembles(root, out)
        _curves(root, out)
        _search(root, out)
    out.append(f"{h}# Published numbers beside these\n")
    out.append(_table(pd.DataFrame([{"method": x["what"], "labels": x["labels"],
                                     "statistic": x["statistic"], "value": x["value"],
                                     "source": x["source"], "protocol": x["protocol"]}
                                    for x in LITERATURE])) + "\n")
    return "\n".join(out)
