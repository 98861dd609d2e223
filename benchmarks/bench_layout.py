"""Memory layout and chunk size for scoring: NCHW vs channels_last, chunks of 32-512.

    python benchmarks/bench_layout.py --run runs/c10-cpu [--cells 20]

Times the three steps of one flatness evaluation per cell (copy the path, recalibrate BN
on the preset's BN images, evaluate the validation images three times) for each setting.
"""

from __future__ import annotations

import argparse
import time

import torch

from proxybench.engine.score import context_from_run
from proxybench.nets.nb201 import evaluate, extract_subnet, recalibrate_bn
from proxybench.proxies import parse_specs
from proxybench.spaces import nb201


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--cells", type=int, default=20)
    args = ap.parse_args()
    ctx, _ = context_from_run(args.run, parse_specs("flatness"))
    cells = [nb201.prune(nb201.cell_at(i)) for i in nb201.sample_cells(args.cells, 1)]
    print(f"{len(cells)} cells, torch threads {torch.get_num_threads()}")
    for channels_last in (False, True):
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        bn = ctx.bn_batch[0].contiguous(memory_format=fmt)
        vx, vy = ctx.val_batch[0].contiguous(memory_format=fmt), ctx.val_batch[1]
        for chunk in (32, 64, 128, 256, 512):
            t = {"copy": 0.0, "recalibrate": 0.0, "evaluate x3": 0.0}
            for c in cells:
                t0 = time.perf_counter()
                net = extract_subnet(ctx.supernet, c).to(memory_format=fmt)
                t1 = time.perf_counter()
                recalibrate_bn(net, bn, chunk)
                t2 = time.perf_counter()
                for _ in range(3):
                    evaluate(net, vx, vy, chunk)
                t3 = time.perf_counter()
                t["copy"] += t1 - t0
                t["recalibrate"] += t2 - t1
                t["evaluate x3"] += t3 - t2
            total = sum(t.values()) / len(cells)
            parts = "  ".join(f"{k} {v / len(cells):.3f}" for k, v in t.items())
            print(f"{'channels_last' if channels_last else 'NCHW':13s} chunk {chunk:3d}: "
                  f"{total:.3f} s/cell  ({parts})")


if __name__ == "__main__":
    main()
