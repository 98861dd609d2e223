"""The Python API: the CLI's main steps as functions that take and return plain values.

    from proxybench import api as pb
    runs = pb.train("runs/c10", dataset="cifar10", data_dir="data", preset="cpu", seeds=[0, 1])
    tables = [pb.score(r, ["flatness", ("val_loss", {})], cells=200) for r in runs]
    summary = pb.correlate(tables, dataset="cifar10")      # mean ± sd over the two supernets

Proxies are given by name, or as ``(name, {option: value})``; ``pb.list_proxies()`` lists
them. Every function raises a subclass of ``proxybench.ProxybenchError`` with a message that
names the problem and the fix.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

ProxyArg = str | tuple[str, dict[str, Any]]


def list_proxies() -> pd.DataFrame:
    """Every registered proxy: name, direction, needs, spaces, default options."""
    from .proxies import all_proxies
    return pd.DataFrame([{"proxy": n, "higher_is_better": p.higher_is_better,
                          "needs": sorted(p.needs), "spaces": list(p.spaces),
                          "options": dict(p.defaults), "description": p.description}
                         for n, p in sorted(all_proxies().items())])


def _spec_text(proxy: ProxyArg) -> str:
    if isinstance(proxy, str):
        return proxy
    name, options = proxy
    def value(v: Any) -> str:
        return "/".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    opts = ",".join(f"{k}={value(v)}" for k, v in options.items())
    return f"{name}:{opts}" if opts else name


def train(out: str | Path, *, dataset: str = "cifar10", data_dir: str | None = None,
          preset: str = "cpu", seeds: Sequence[int] = (0,), space: str = "nb201",
          save_every: int = 0, device: str = "cpu", progress: bool = False,
          **overrides: Any) -> list[Path]:
    """Train one supernet per seed; one seed -> ``out``, several -> the seed group
    ``out/seed-K``. Finished runs are kept; returns the run directories."""
    from .presets import get_preset
    from .rundir import FINAL, seed_dir
    from .train import TrainConfig, train_supernet
    p = get_preset(preset, space, **overrides)
    runs = []
    for s in seeds:
        run = Path(out) if len(seeds) == 1 else seed_dir(out, s)
        if not (run / FINAL).is_file():
            cfg = TrainConfig(space, dataset, data_dir and str(Path(data_dir).resolve()),
                              preset, p, s, save_every, None)
            train_supernet(cfg, run, resume=True, progress=progress, device=device)
        runs.append(run)
    return runs


def score(run: str | Path | None, proxies: Sequence[ProxyArg], *,
          cells: int | Sequence[int] | str = "all", seed: int | None = None,
          out: str | Path | None = None, data_dir: str | None = None,
          dataset: str = "cifar10", preset: str = "paper", device: str = "cpu",
          progress: bool = False) -> pd.DataFrame:
    """Score NB201 cells with proxies; returns the table (one row per cell).

    ``cells``: "all", a number N (a seeded sample) or a list of indices. ``run`` is a
    training run (None for zero-cost proxies and baselines, which then use ``data_dir``,
    ``dataset`` and the ``preset``'s network). With ``out`` the table and its ``.json`` are
    written there (resumable); without, a temporary file is used and removed."""
    from .proxies import parse_specs
    from .runio import environment
    from .score import context_from_run, score_cells
    from .spaces import nb201
    specs = parse_specs(";".join(_spec_text(p) for p in proxies))
    if cells == "all":
        indices = list(range(nb201.NUM_CELLS))
    elif isinstance(cells, int):
        indices = nb201.sample_cells(cells, seed if seed is not None else 0)
    else:
        indices = [int(i) for i in cells]
    ctx, info = context_from_run(run, specs, data_dir=data_dir, seed=seed, dataset=dataset,
                                 preset_name=preset, device=device)
    meta = {**info, "space": "nb201", "cell_selection": str(cells),
            "environment": environment(), "command": "proxybench.score(...)"}
    if out is not None:
        return score_cells(specs, ctx, indices, out, resume=True, meta=meta,
                           progress=progress)
    with tempfile.TemporaryDirectory() as tmp:
        return score_cells(specs, ctx, indices, Path(tmp) / "scores.csv", meta=meta,
                           progress=progress)


def correlate(tables: pd.DataFrame | Sequence[pd.DataFrame], *, dataset: str = "cifar10",
              ground_truth: str | None = None, columns: Sequence[str] = (),
              n_boot: int = 1000, seed: int = 0,
              higher_is_better: dict[str, bool] | None = None) -> pd.DataFrame:
    """Kendall tau, Spearman rho and top-k precision of each proxy column against NB201.

    One table: a cell-bootstrap CI per column. Several tables (one per supernet of a seed
    group, the same cells): per column the mean over tables (``value``), ``sd``, a
    hierarchical CI (tables, then cells), the seed ``ensemble``'s value, ``replicates``.
    Directions come from the proxy registry unless ``higher_is_better`` names them."""
    from .correlation import proxy_columns, replicate_metrics
    from .groundtruth import load_ground_truth
    from .metrics import correlate as correlate_one
    from .proxies import ProxyError, get_proxy
    frames = [tables] if isinstance(tables, pd.DataFrame) else list(tables)
    truth = load_ground_truth(ground_truth).set_index("arch_index")[dataset]
    cols = list(columns) or list(dict.fromkeys(c for t in frames for c in proxy_columns(t)))

    def higher(col: str) -> bool:
        if higher_is_better and col in higher_is_better:
            return higher_is_better[col]
        try:
            return get_proxy(col.split("[")[0]).higher_is_better
        except ProxyError:
            return True

    out = []
    for col in cols:
        holders = [t.set_index("arch_index")[col] for t in frames if col in t.columns]
        if len(holders) == 1:
            both = pd.concat([holders[0], truth], axis=1, join="inner").dropna()
            res = correlate_one(both.iloc[:, 0], both.iloc[:, 1], n_boot=n_boot, seed=seed,
                                higher_is_better=higher(col)).reset_index()
            res["replicates"] = 1
        else:
            res, _ = replicate_metrics(holders, truth, column=col,
                                       higher_is_better=higher(col), n_boot=n_boot, seed=seed)
            res = res.reset_index().rename(columns={"mean": "value"})
        res.insert(0, "proxy", col)
        out.append(res)
    return pd.concat(out, ignore_index=True)


def predict(tables: str | Path | pd.DataFrame | Sequence[str | Path | pd.DataFrame], *,
            labels: Sequence[int] = (10, 20, 50, 100, 200, 400), draws: int = 10,
            model: str | Sequence[str] = "linear", dataset: str = "cifar10",
            ground_truth: str | None = None, columns: Sequence[str] = (), seed: int = 0,
            higher_is_better: dict[str, bool] | None = None,
            per_draw: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Few-label predictors on score tables joined on arch_index (paths or DataFrames):
    for each k in ``labels``, fit ``model`` ("linear": ridge on rank features; "gbt":
    gradient-boosted trees) on k random labelled cells and measure Kendall tau and Spearman
    rho on the others, over ``draws`` draws (``numpy.random.default_rng(seed)``). Returns one
    row per (model, k): k, model, tau_mean, tau_sd, rho_mean, rho_sd, draws, features, cells;
    with ``per_draw`` also every draw's row."""
    from .analysis.predict import predict_tables
    tables = [tables] if isinstance(tables, (str, Path, pd.DataFrame)) else list(tables)
    models = [model] if isinstance(model, str) else list(model)
    curve, per = predict_tables(tables, columns=columns, labels=labels, draws=draws,
                                models=models, dataset=dataset, ground_truth=ground_truth,
                                seed=seed, higher_is_better=higher_is_better)
    return (curve, per) if per_draw else curve


def ensemble(tables: str | Path | Sequence[str | Path], *,
             declared: dict[str, Sequence[str]] | None = None,
             methods: Sequence[str] = ("logrank", "rank"), splits: int = 10,
             columns: Sequence[str] = (), dataset: str = "cifar10",
             ground_truth: str | None = None, n_boot: int = 1000, seed: int = 0,
             out: str | Path | None = None) -> pd.DataFrame:
    """Label-free ensembles: greedy member selection on random halves of the cells, tau on
    the other halves (mean, sd over ``splits``), beside the best single column chosen the
    same way and the ``declared`` ensembles ({name: members}, fixed in advance). Returns the
    summary; ``out`` (a folder) also gets the per-split, member and all-cell tables."""
    from .analysis.ensemble import ensemble_tables
    tables = [tables] if isinstance(tables, (str, Path)) else list(tables)
    return ensemble_tables(tables, columns=columns, methods=methods, declared=declared or {},
                           splits=splits, dataset=dataset, ground_truth=ground_truth,
                           n_boot=n_boot, seed=seed, out=out)


def search_pool(tables: str | Path | Sequence[str | Path], *, proxies: Sequence[str] = (),
                predictors: Sequence[str] = (), label_baselines: Sequence[int] = (),
                budget: int = 200, population: int = 20, seeds: Sequence[int] = range(5),
                dataset: str = "cifar10", ground_truth: str | None = None,
                out: str | Path | None = None) -> pd.DataFrame:
    """Search restricted to the scored sample (see ``proxybench.analysis.pool_search``):
    evolution and random search with each column in ``proxies``, predictor searches
    ("gbt:50" = gbt spending 50 labels), random search over k labels; mean ± sd over seeds
    of the found cells' test accuracy and rank in the sample."""
    from .analysis.pool_search import search_tables
    tables = [tables] if isinstance(tables, (str, Path)) else list(tables)
    return search_tables(tables, proxies=proxies, predictors=predictors,
                         label_baselines=label_baselines, budget=budget,
                         population=population, seeds=list(seeds), dataset=dataset,
                         ground_truth=ground_truth, out=out)
