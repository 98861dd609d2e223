"""Two cores: one process with 2 torch threads vs two processes with 1 thread each, one run.

    python benchmarks/bench_parallel.py --run RUN --data-dir DIR [--flat-cells 40]
        [--zc-cells 20] [--zc-proxy "grad_norm;snip;nwot;synflow"] [--repeats 2] [--out DIR]

Scores the same seeded cells four ways with the ``proxybench score`` CLI, each a fresh
command timed from start to exit (start-up and data loading included, as a user pays them):

- ``1 proc x 1 thread``: ``proxybench score ... --workers 1 --threads 1`` (the baseline);
- ``1 proc x 2 threads``: ``proxybench score ... --workers 1 --threads 2`` (the default
  before forked workers);
- ``torchrun 2 x 1 thread``: ``torchrun --standalone --nproc-per-node=2 -m proxybench
  score ... --threads 1`` (each rank scores its shard of distinct cells, rank 0 merges);
- ``plain score``: ``proxybench score ...`` with no option, which forks one one-thread
  worker per core (2 here) after loading the supernet and images once;

for two workloads: supernet flatness at the run's preset (``--run``) and zero-cost proxies
on NB201's network (``--preset paper --data-dir``). The scoring time inside the command
(the table's ``wall_seconds_this_session``; for torchrun the slower rank's) is printed
beside the wall time. Each way runs ``--repeats`` times, the order rotating each round, and
its fastest round is reported (every round's wall time is printed too). Then checks that
the tables of a workload are identical, every column but the ``*_seconds`` timings.
The 1-thread ways must agree bit for bit (the script fails otherwise); 2 torch threads
may sum in another order, so for that way the script prints each column's largest relative
difference and whether the ranking of the cells changed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
WAYS = ("1 proc x 1 thread", "1 proc x 2 threads", "torchrun 2 x 1 thread", "plain score")


def command(way: str, args: list[str]) -> list[str]:
    score = [sys.executable, "-m", "proxybench", "score", *args]
    if way == "torchrun 2 x 1 thread":
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node=2", *score[1:], "--threads", "1"]
    if way == "plain score":
        return score
    threads = "2" if way == "1 proc x 2 threads" else "1"
    return [*score, "--workers", "1", "--threads", threads]


def run_way(way: str, args: list[str], out: Path) -> tuple[float, float, pd.DataFrame]:
    """(command wall seconds, scoring seconds, table) of one way of scoring."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    t0 = time.perf_counter()
    done = subprocess.run(command(way, [*args, "--out", str(out), "-q"]), env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{way} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    metas = sorted(out.parent.glob(f"{out.stem}.rank*-of-*.json")) or [out.with_suffix(".json")]
    inner = max(json.loads(m.read_text())["wall_seconds_this_session"] for m in metas)
    return wall, inner, pd.read_csv(out)


def differences(a: pd.DataFrame, b: pd.DataFrame) -> str:
    """'' when the tables agree bit for bit on every column but the timings, else what
    differs: each column's largest relative difference, and whether the cells' ranking by
    it is still the same."""
    keep = [c for c in a.columns if not c.endswith("_seconds")]
    if list(a.columns) != list(b.columns):
        return f"columns differ: {list(a.columns)} vs {list(b.columns)}"
    if len(a) != len(b) or not (a["arch_index"].values == b["arch_index"].values).all():
        return "rows differ"
    a, b = a[keep], b[keep]
    if a.equals(b):
        return ""
    notes = []
    for c in keep:
        if not a[c].equals(b[c]):
            if pd.api.types.is_numeric_dtype(a[c]):
                rel = ((a[c] - b[c]).abs() / b[c].abs()).max()
                same = (a[c].rank(method="first") == b[c].rank(method="first")).all()
                notes.append(f"{c} max rel. diff {rel:.1e} "
                             f"({'same' if same else 'another'} ranking)")
            else:
                notes.append(f"{c} differs")
    return "; ".join(notes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="a trained supernet run (flatness)")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--flat-cells", type=int, default=40)
    ap.add_argument("--zc-cells", type=int, default=20)
    ap.add_argument("--zc-proxy", default="grad_norm;snip;nwot;synflow")
    ap.add_argument("--repeats", type=int, default=2,
                    help="rounds of the four ways (the order rotates each round); the "
                         "fastest round of each way is reported")
    ap.add_argument("--out", default=None, help="keep the tables here (default: a temp dir)")
    args = ap.parse_args()

    workloads = {
        "flatness": ["--run-dir", args.run, "--data-dir", args.data_dir, "--proxy", "flatness",
                     "--cells", str(args.flat_cells)],
        "zero-cost": ["--preset", "paper", "--data-dir", args.data_dir, "--proxy",
                      args.zc_proxy, "--cells", str(args.zc_cells)],
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        broken = []
        for name, wargs in workloads.items():
            cells = args.flat_cells if name == "flatness" else args.zc_cells
            print(f"\n== {name}: {cells} seeded cells, {' '.join(wargs)}", flush=True)
            results: dict[str, list] = {way: [] for way in WAYS}
            for r in range(args.repeats):
                for k in range(len(WAYS)):
                    way = WAYS[(k + r) % len(WAYS)]
                    results[way].append(run_way(way, wargs,
                                                out / f"{name}-{WAYS.index(way)}-{r}.csv"))
            base_table = results[WAYS[0]][0][2]
            base_wall = min(w for w, _, _ in results[WAYS[0]])
            base_inner = min(i for _, i, _ in results[WAYS[0]])
            print(f"{'way':20s} {'wall s':>8s} {'speed-up':>9s} {'cells/s':>8s} "
                  f"{'scoring s':>10s} {'speed-up':>9s}  walls of each round")
            for way, runs in results.items():
                wall = min(w for w, _, _ in runs)
                inner = min(i for _, i, _ in runs)
                each = ", ".join(f"{w:.1f}" for w, _, _ in runs)
                print(f"{way:20s} {wall:8.1f} {base_wall / wall:8.2f}x {cells / wall:8.2f} "
                      f"{inner:10.1f} {base_inner / inner:8.2f}x  {each}")
            print("tables against the first 1-thread table (all columns but *_seconds):")
            for way, runs in results.items():
                for r, (_, _, table) in enumerate(runs):
                    diff = differences(table, base_table)
                    if diff and way != "1 proc x 2 threads":
                        broken.append(f"{name}, {way}, round {r}: {diff}")
                    print(f"  {way:20s} round {r}: {diff or 'identical, bit for bit'}")
        if broken:
            raise SystemExit("tables that should be bit-identical differ: " + " | ".join(broken))


if __name__ == "__main__":
    main()
