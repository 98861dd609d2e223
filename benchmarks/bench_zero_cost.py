"""Zero-cost proxies on NB201's network: one by one vs scored together (shared passes).

    OMP_NUM_THREADS=1 python benchmarks/bench_zero_cost.py --data-dir DATA [--cells 20]
        [--preset paper] [--repeats 2] [--proxies 'snip;fisher;...']

Scoring ``grad_norm``, ``plain``, ``snip``, ``fisher``, ``jacov``, ``epe_nas`` and ``nwot``
together lets them share one network, one forward and at most two backward passes per cell
(``zero_cost.init_pass``); grasp, synflow, zen and l2_norm build their own networks. The
script scores the same seeded cells with every proxy of ``zero_cost.ZERO_COST`` one by one
(a fresh context per proxy, as separate ``score`` runs would) and together (one context, as
one ``score --proxy 'a;b;...'`` run), interleaved ``--repeats`` times so both see the same
load, checks that the scores are identical, and prints seconds per cell of each and the
ratio. Then it scores them as a plain ``proxybench score --proxy 'a;b;...'`` does now:
together, in ``score``'s default workers (one forked one-thread process per core), whose
table must hold the same scores; the ratio of one by one (one thread) to that is what a
user gains from both levers.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from proxybench.engine.score import context_from_run, score_cells
from proxybench.proxies import parse_specs
from proxybench.proxies.zero_cost import ZERO_COST
from proxybench.spaces import nb201


def score_all(ctx, specs, cells, together: bool) -> tuple[float, dict]:
    """Seconds and scores for every (proxy, cell)."""
    shared = replace(ctx, memo={}, together=tuple(
        (s.proxy.name, tuple(sorted(s.options.items()))) for s in specs))
    scores = {}
    t0 = time.perf_counter()
    for cell in cells:
        for s in specs:
            use = shared if together else replace(ctx, memo={})
            try:
                scores[(s.column, cell)] = s.proxy.fn(use, cell, **s.options)
            except ValueError as exc:     # e.g. jacov on a cell whose output ignores the input
                scores[(s.column, cell)] = str(exc)
    return time.perf_counter() - t0, scores


def score_default(ctx, specs, indices: list) -> tuple[float, dict]:
    """Seconds and scores of ``score_cells`` with its default workers, all proxies together."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table = score_cells(specs, replace(ctx, memo={}), indices, Path(tmp) / "zc.csv",
                            progress=False)
        seconds = time.perf_counter() - t0
    scores = {}
    for row in table.to_dict("records"):
        cell = nb201.cell_at(int(row["arch_index"]))
        for s in specs:
            v = row[s.column]
            scores[(s.column, cell)] = None if isinstance(v, float) and math.isnan(v) else v
    return seconds, scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--proxies", default=";".join(ZERO_COST),
                    help="';'-joined proxies (default: every zero-cost proxy)")
    args = ap.parse_args()
    specs = parse_specs(args.proxies)
    ctx, _ = context_from_run(None, specs, data_dir=args.data_dir, preset_name=args.preset,
                              seed=args.seed)
    indices = nb201.sample_cells(args.cells, args.seed)
    cells = [nb201.cell_at(i) for i in indices]
    print(f"torch threads={torch.get_num_threads()} preset={args.preset} "
          f"C={ctx.preset.channels} N={ctx.preset.layers} cells={len(cells)} "
          f"proxies={len(specs)}")
    alone_t = together_t = 0.0
    for _ in range(args.repeats):
        ta, alone = score_all(ctx, specs, cells, together=False)
        tt, shared = score_all(ctx, specs, cells, together=True)
        alone_t += ta
        together_t += tt
        if alone != shared:
            raise SystemExit("scores differ between one-by-one and shared scoring")
    n = args.repeats * len(cells)
    print(f"one by one: {alone_t / n:.3f} s/cell   together: {together_t / n:.3f} s/cell   "
          f"ratio {alone_t / together_t:.2f}x   (scores identical)")
    default_t, table = score_default(ctx, specs, indices)
    expected = {k: (None if isinstance(v, str) or not math.isfinite(v) else float(v))
                for k, v in shared.items()}
    if table != expected:
        raise SystemExit("score's default workers gave other scores than one process")
    print(f"score's default workers, together: {default_t / len(cells):.3f} s/cell   one by "
          f"one / default {alone_t / args.repeats / default_t:.2f}x   (scores identical)")


if __name__ == "__main__":
    main()
