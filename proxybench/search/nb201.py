"""`proxybench search`: run evolution or random search with any proxy or score column,
repeat over seeds, and report what was found against NB201 ground truth."""

from __future__ import annotations

import random
import statistics
from pathlib import Path

import pandas as pd

from ..analysis.correlation import direction, read_scores, require_ranking
from ..analysis.groundtruth import GT_DATASETS, GroundTruthError, load_ground_truth
from ..run.files import atomic_write_bytes, atomic_write_json
from ..spaces import nb201
from .evolution import SearchError, evolution, random_search, rank_of, table_lookup


def make_score_fn(proxy: str, *, tables: list[str], run_dir: str | None, cache: Path,
                  preset_overrides: dict, echo):
    """From a score table column if one has it (no recomputation), else through the engine
    with a resumable cache table in the output folder."""
    for t in tables:
        table = read_scores(t)
        if proxy in table.columns:
            require_ranking(table[proxy], proxy, t)
            values = dict(zip(table["arch_index"].astype(int), table[proxy], strict=True))
            echo(f"using {proxy} from {t} ({len(values)} cells)")
            return table_lookup(values, direction(t, proxy), f"{t}"), direction(t, proxy)
    from ..engine.score import context_from_run, score_cells
    from ..proxies import parse_specs
    specs = parse_specs(proxy)
    if len(specs) != 1:
        raise SearchError("search maximises one proxy; combine several with `proxybench "
                          "combine` first and pass the combined table with --scores")
    ctx, info = context_from_run(run_dir, specs, preset_overrides=preset_overrides)
    spec = specs[0]
    sign = 1.0 if spec.proxy.higher_is_better else -1.0

    def score(indices):
        if not indices:
            return {}
        table = score_cells(specs, ctx, list(indices), cache, resume=True, progress=True,
                            meta=info)
        got = dict(zip(table["arch_index"].astype(int), table[spec.column], strict=True))
        return {i: sign * got[i] for i in indices}

    return score, spec.proxy.higher_is_better


def run_search(*, proxy: str, tables: list[str], run_dir: str | None, algorithm: str,
               population: int, iterations: int, parents: int | None, mutation_prob: float,
               seed: int, repeats: int, ground_truth: str | None, out: str,
               preset_overrides: dict, echo=print) -> pd.DataFrame:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = out_dir / ("cache-" + "".join(c if c.isalnum() else "_" for c in proxy) + ".csv")
    score, higher = make_score_fn(proxy, tables=tables, run_dir=run_dir, cache=cache,
                                  preset_overrides=preset_overrides, echo=echo)
    truth = None
    if ground_truth is not None:
        gt = load_ground_truth(ground_truth).set_index("arch_index")
        # only the datasets the table has: a cifar10-only table must not fail on cifar100
        truth = {d: gt[d].dropna().to_dict() for d in GT_DATASETS
                 if d in gt.columns and gt[d].notna().any()}
    rows, history = [], []
    for r in range(repeats):
        rng = random.Random(seed + r)
        if algorithm == "evolution":
            res = evolution(score, population=population, iterations=iterations,
                            parents=parents, mutation_prob=mutation_prob, rng=rng)
        else:
            res = random_search(score, evaluations=population * iterations, rng=rng)
        row = {"algorithm": algorithm, "proxy": proxy, "seed": seed + r,
               "arch_index": res.best_index,
               "arch": nb201.format_arch(nb201.cell_at(res.best_index)),
               "score": res.best_score if higher else -res.best_score,
               "evaluations": res.evaluations}
        for d, accs in (truth or {}).items():
            if res.best_index not in accs:
                raise GroundTruthError(f"ground truth has no {d} accuracy for cell "
                                       f"{res.best_index}")
            row[f"{d}_acc"] = accs[res.best_index]
            row[f"{d}_rank"] = rank_of(accs, res.best_index)
        rows.append(row)
        history += [{"seed": seed + r, **h} for h in res.history]
        acc = f", CIFAR-10 test acc {row['cifar10_acc']:.2f}% (rank {row['cifar10_rank']})" \
            if "cifar10_acc" in row else ""
        echo(f"[{r + 1}/{repeats}] seed {seed + r}: {row['arch']} score {row['score']:.6g}"
             f" after {res.evaluations} evaluations{acc}")
    table = pd.DataFrame(rows)
    atomic_write_bytes(out_dir / "search.csv", table.to_csv(index=False).encode())
    atomic_write_bytes(out_dir / "history.csv",
                       pd.DataFrame(history).to_csv(index=False).encode())
    summary = {"proxy": proxy, "algorithm": algorithm, "repeats": repeats,
               "population": population, "iterations": iterations, "parents": parents,
               "mutation_prob": mutation_prob, "seed": seed}
    for col in [c for c in table.columns if c.endswith("_acc") or c.endswith("_rank")]:
        vals = table[col].astype(float).tolist()
        summary[col] = {"mean": statistics.fmean(vals),
                        "std": statistics.stdev(vals) if len(vals) > 1 else 0.0}
    atomic_write_json(out_dir / "summary.json", summary)
    for d in GT_DATASETS:
        if f"{d}_acc" in summary:
            m, s = summary[f"{d}_acc"]["mean"], summary[f"{d}_acc"]["std"]
            echo(f"{d:15s} test accuracy of the found cells: {m:.2f} ± {s:.2f} %  (mean rank "
                 f"{summary[f'{d}_rank']['mean']:.0f} of {nb201.NUM_CELLS})")
    return table
