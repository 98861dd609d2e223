"""`proxybench search --space darts`: evolution (or random search) over DARTS genotypes with
proxies computed by the scoring engine on a trained DARTS supernet.

The output folder holds::

    scores.csv / scores.json   every evaluated genotype with its proxy values (the engine's
                               table, keyed by canonical genotype text): a rerun with the
                               same settings reads it and recomputes nothing
    history.csv                one row per iteration (evaluated so far, best, mean)
    genotype.json              the found genotype (DARTS JSON + text), its score, settings
    genotype.png / .svg        its cell diagram (normal and reduction cell)
    summary.json               settings, run, wall time

Two proxies (``'angle;flatness:sigmas=...'``) are combined as GeNAS Eq. (5),
S + gamma * beta * F with beta = 1/sigma_1 of the flatness proxy (``--gamma``, default 1).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ..analysis.metrics import combine_linear
from ..run.files import atomic_write_bytes, atomic_write_json, environment
from ..spaces import darts
from .evolution import DARTS, SearchError, evolution, random_search


def make_darts_score_fn(proxy: str, *, run_dir: str | None, table: Path, gamma: float,
                        preset_overrides: dict, device: str = "cpu"
                        ) -> tuple[Callable[[Sequence[str]], dict[str, float]], dict]:
    """A score function over genotype keys, backed by the engine's resumable table."""
    from ..engine.score import context_from_run, score_cells
    from ..proxies import parse_specs
    if run_dir is None:
        raise SearchError("DARTS search scores genotypes on a trained supernet: pass --run RUN "
                          "(made by `proxybench train --space darts --out RUN`)")
    specs = parse_specs(proxy)
    if len(specs) > 2:
        raise SearchError("DARTS search maximises one proxy, or two combined as GeNAS Eq. (5) "
                          "('angle;flatness:...')")
    if len(specs) == 2:
        base, flat = specs
        if flat.proxy.name != "flatness" or not base.proxy.higher_is_better:
            raise SearchError("two proxies combine as S + gamma*beta*F: give a higher-is-better "
                              "S first and flatness second, e.g. 'angle;flatness:sigmas=...'")
    ctx, info = context_from_run(run_dir, specs, preset_overrides=preset_overrides,
                                 space="darts", device=device)
    signs = [1.0 if s.proxy.higher_is_better else -1.0 for s in specs]
    beta = 1.0 / min(specs[-1].options["sigmas"]) if len(specs) == 2 else 0.0

    def score(keys: Sequence[str]) -> dict[str, float]:
        if not keys:
            return {}
        got = score_cells(specs, ctx, list(keys), table, resume=True, progress=True,
                          meta=info, space="darts").set_index("arch")
        if len(specs) == 1:
            return {k: signs[0] * float(got.at[k, specs[0].column]) for k in keys}
        s = [float(got.at[k, specs[0].column]) for k in keys]
        f = [float(got.at[k, specs[1].column]) for k in keys]
        return dict(zip(keys, combine_linear(s, f, gamma=gamma, beta=beta).tolist(),
                        strict=True))

    meta = {**info, "proxies": [s.to_dict() for s in specs],
            "combination": ({"formula": "S + gamma*beta*F", "gamma": gamma, "beta": beta}
                            if len(specs) == 2 else None)}
    return score, meta


def run_darts_search(*, proxy: str, run_dir: str | None, algorithm: str, population: int,
                     iterations: int, parents: int | None, mutation_prob: float, seed: int,
                     gamma: float, out: str, preset_overrides: dict, device: str = "cpu",
                     echo: Callable[[str], None] = print) -> dict:
    """Search, then write the found genotype, its diagram, the history and the summary."""
    from ..report.darts_plot import draw_genotype
    t0 = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    score, meta = make_darts_score_fn(proxy, run_dir=run_dir, table=out_dir / "scores.csv",
                                      gamma=gamma, preset_overrides=preset_overrides,
                                      device=device)
    rng = random.Random(seed)
    if algorithm == "evolution":
        res = evolution(score, population=population, iterations=iterations, parents=parents,
                        mutation_prob=mutation_prob, rng=rng, space=DARTS)
    else:
        res = random_search(score, evaluations=population * iterations, rng=rng, space=DARTS)
    best = darts.parse_genotype(res.best_index)
    higher = all(p["higher_is_better"] for p in meta["proxies"]) or len(meta["proxies"]) == 2
    found_score = res.best_score if higher else -res.best_score
    settings = {"space": "darts", "proxy": proxy, "algorithm": algorithm,
                "population": population, "iterations": iterations, "parents": parents,
                "mutation_prob": mutation_prob, "seed": seed, "gamma": gamma}
    atomic_write_json(out_dir / "genotype.json", {
        "genotype": darts.to_json(best), "text": darts.format_genotype(best),
        "score": found_score, "evaluations": res.evaluations, **settings})
    atomic_write_bytes(out_dir / "history.csv",
                       pd.DataFrame(res.history).rename(columns={"best_index": "best_arch"})
                       .to_csv(index=False).encode())
    figures = draw_genotype(best, out_dir / "genotype.png", title=f"{proxy} (seed {seed})")
    summary = {**settings, **meta, "found": darts.format_genotype(best), "score": found_score,
               "evaluations": res.evaluations, "wall_seconds": time.time() - t0,
               "figures": [str(f) for f in figures], "environment": environment()}
    atomic_write_json(out_dir / "summary.json", summary)
    echo(f"found {darts.format_genotype(best)}")
    shown = f"{found_score:.6g}" if math.isfinite(found_score) else str(found_score)
    echo(f"score {shown} after {res.evaluations} evaluations ({time.time() - t0:.0f} s) -> "
         f"{out_dir / 'genotype.json'}, {figures[0]}")
    return summary
