"""`proxybench search` for any space: evolution or random search with a proxy, a score
column, or two proxies combined as GeNAS Eq. (5); repeated over seeds; the finds checked
against ground truth where the space has it.

The output folder holds::

    search.csv      one row per seed: the found cell (the space's id columns), its score,
                    evaluations, and with ground truth its accuracy and rank per dataset
    history.csv     one row per seed and iteration (evaluated so far, best, mean)
    scores.csv      the engine's resumable table of every cell scored (when the proxy is
                    computed, not read from a --scores table): a rerun recomputes nothing
    summary.json    settings, the best find, mean ± sd of accuracy and rank, wall time
    ...             what the space writes about a find (DARTS: genotype.json and diagram)
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ..analysis.groundtruth import GT_DATASETS, GroundTruthError, load_ground_truth
from ..analysis.metrics import combine_linear, flatness_beta
from ..run.files import atomic_write_bytes, atomic_write_json, environment
from ..spaces import Space, get_space
from ..table import direction, read_scores, require_fingerprint, require_ranking
from .evolution import SearchError, evolution, random_search, rank_of, table_lookup

ScoreFn = Callable[[Sequence], dict]


def _from_table(space: Space, proxy: str, tables: Sequence[str], echo) -> tuple | None:
    for t in tables:
        table = read_scores(t)
        if proxy in table.columns:
            require_ranking(table[proxy], proxy, t)
            require_fingerprint(t, "search --scores takes")
            keys = [space.key(k) for k in table[space.key_column]]
            values = dict(zip(keys, table[proxy], strict=True))
            echo(f"using {proxy} from {t} ({len(values)} cells)")
            higher = direction(t, proxy)
            return table_lookup(values, higher, str(t)), higher, {"table": str(t)}
    return None


def make_score_fn(space: Space, proxy: str, *, tables: Sequence[str] = (),
                  run_dir: str | None = None, cache: Path, gamma: float = 1.0,
                  preset_overrides: dict | None = None, device: str = "cpu",
                  echo: Callable[[str], None] = print) -> tuple[ScoreFn, bool, dict]:
    """(score function maximised by search, higher_is_better of the proxy, settings): from
    a --scores table column when one has it (nothing recomputed), else through the engine
    with a resumable table ``cache``. Two proxies ``'S;flatness:...'`` combine as GeNAS
    Eq. (5), S + gamma * beta * F with beta = 1/sigma_1."""
    found = _from_table(space, proxy, tables, echo)
    if found:
        return found
    from ..engine.score import context_from_run, score_cells
    from ..proxies import parse_specs
    specs = parse_specs(proxy)
    if len(specs) > 2:
        raise SearchError("search maximises one proxy, or two combined as GeNAS Eq. (5) "
                          "('angle;flatness:...'); combine more with `proxybench combine` "
                          "and pass the combined table with --scores")
    if len(specs) == 2:
        base, flat = specs
        if flat.proxy.name != "flatness" or not base.proxy.higher_is_better:
            raise SearchError("two proxies combine as S + gamma*beta*F: give a higher-is-better "
                              "S first and flatness second, e.g. 'angle;flatness:sigmas=...'")
    if run_dir is None and any({"supernet", "init_supernet"} & s.proxy.needs for s in specs):
        where = f" or a --scores table with a {proxy} column" if tables else ""
        raise SearchError(f"{proxy} is computed on a trained supernet: pass --run RUN (made by "
                          f"`proxybench train --space {space.name} --out RUN`){where}")
    ctx, info = context_from_run(run_dir, specs, preset_overrides=preset_overrides or {},
                                 space=space.name, device=device)
    signs = [1.0 if s.proxy.higher_is_better else -1.0 for s in specs]
    beta = flatness_beta(specs[-1].options["sigmas"]) if len(specs) == 2 else 0.0

    def score(ids: Sequence) -> dict:
        if not ids:
            return {}
        got = score_cells(specs, ctx, list(ids), cache, resume=True, progress=True,
                          meta=info, space=space.name).set_index(space.key_column)
        if len(specs) == 1:
            return {i: signs[0] * float(got.at[i, specs[0].column]) for i in ids}
        s = [float(got.at[i, specs[0].column]) for i in ids]
        f = [float(got.at[i, specs[1].column]) for i in ids]
        return dict(zip(ids, combine_linear(s, f, gamma=gamma, beta=beta).tolist(),
                        strict=True))

    settings = {**info, "proxies": [s.to_dict() for s in specs],
                "combination": ({"formula": "S + gamma*beta*F", "gamma": gamma, "beta": beta}
                                if len(specs) == 2 else None)}
    return score, len(specs) == 2 or signs[0] > 0, settings


def _truth(space: Space, ground_truth: str | None, metric: str = "test-200") -> dict:
    """{dataset: {id: accuracy}} of the datasets the ground-truth table has."""
    if ground_truth is None or not space.ground_truth:
        return {}
    gt = load_ground_truth(ground_truth, metric).set_index("arch_index")
    # only the datasets the table has: a cifar10-only table must not fail on cifar100
    return {d: gt[d].dropna().to_dict() for d in GT_DATASETS
            if d in gt.columns and gt[d].notna().any()}


def run_search(*, proxy: str, space: str = "nb201", tables: Sequence[str] = (),
               run_dir: str | None = None, algorithm: str = "evolution",
               population: int = 100, iterations: int = 20, parents: int | None = None,
               mutation_prob: float = 0.1, seed: int = 0, repeats: int = 1,
               ground_truth: str | None = None, metric: str = "test-200",
               gamma: float = 1.0, out: str | Path,
               preset_overrides: dict | None = None, device: str = "cpu",
               echo: Callable[[str], None] = print) -> pd.DataFrame:
    """Search ``repeats`` times (seeds seed..seed+repeats-1); write the folder above and
    return the table of finds."""
    if algorithm not in ("evolution", "random"):
        raise SearchError(f"--algorithm must be evolution or random, got {algorithm!r}")
    sp = get_space(space)
    t0 = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    score, higher, settings = make_score_fn(
        sp, proxy, tables=tables, run_dir=run_dir, cache=out_dir / "scores.csv", gamma=gamma,
        preset_overrides=preset_overrides, device=device, echo=echo)
    truth = _truth(sp, ground_truth, metric)
    rows, history = [], []
    for r in range(repeats):
        rng = random.Random(seed + r)
        if algorithm == "evolution":
            res = evolution(score, population=population, iterations=iterations,
                            parents=parents, mutation_prob=mutation_prob, rng=rng, space=sp)
        else:
            res = random_search(score, evaluations=population * iterations, rng=rng, space=sp)
        row = {"algorithm": algorithm, "proxy": proxy, "seed": seed + r,
               **sp.ids_of(res.best_index),
               "score": res.best_score if higher else -res.best_score,
               "evaluations": res.evaluations}
        for d, accs in truth.items():
            if res.best_index not in accs:
                raise GroundTruthError(f"ground truth has no {d} accuracy for cell "
                                       f"{res.best_index}")
            row[f"{d}_acc"] = accs[res.best_index]
            row[f"{d}_rank"] = rank_of(accs, res.best_index)
        rows.append(row)
        history += [{"seed": seed + r, **h} for h in res.history]
        acc = f", CIFAR-10 test acc {row['cifar10_acc']:.2f}% (rank {row['cifar10_rank']})" \
            if "cifar10_acc" in row else ""
        shown = f"{row['score']:.6g}" if math.isfinite(row["score"]) else str(row["score"])
        echo(f"[{r + 1}/{repeats}] seed {seed + r}: {sp.text(sp.cell_of(res.best_index))} "
             f"score {shown} after {res.evaluations} evaluations{acc}")
    table = pd.DataFrame(rows)
    atomic_write_bytes(out_dir / "search.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(out_dir / "history.csv",
                       pd.DataFrame(history).to_csv(index=False).encode())
    best = table.loc[table["score"].idxmax() if higher else table["score"].idxmin()]
    best_id = sp.key(best[sp.key_column])
    files = (sp.write_found(best_id, out_dir, f"{proxy} (seed {int(best['seed'])})")
             if sp.write_found else [])
    summary = {"space": sp.name, "proxy": proxy, "algorithm": algorithm, "repeats": repeats,
               "population": population, "iterations": iterations, "parents": parents,
               "mutation_prob": mutation_prob, "seed": seed, "gamma": gamma,
               "truth_metric": metric, **settings,
               "found": sp.text(sp.cell_of(best_id)), "score": float(best["score"]),
               "evaluations": int(best["evaluations"]), "wall_seconds": time.time() - t0,
               "figures": [str(f) for f in files if str(f).endswith((".png", ".svg"))],
               "environment": environment()}
    for col in [c for c in table.columns if c.endswith("_acc") or c.endswith("_rank")]:
        vals = table[col].astype(float).tolist()
        summary[col] = {"mean": statistics.fmean(vals),
                        "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    atomic_write_json(out_dir / "summary.json", summary)
    for d in GT_DATASETS:
        if f"{d}_acc" in summary:
            m, s = summary[f"{d}_acc"]["mean"], summary[f"{d}_acc"]["std"]
            echo(f"{d:15s} test accuracy of the found cells: {m:.2f} ± {s:.2f} %  (mean rank "
                 f"{summary[f'{d}_rank']['mean']:.0f} of {len(truth[d])})")
    if files:
        echo(f"found {summary['found']} -> {', '.join(str(f) for f in files)}")
    return table
