"""VKDNW's Jacobian two ways: per image (vmap of a gradient per class) vs hooked (one batched
backward per class, each chosen weight's per-image gradient from its layer's input and
output gradient).

    OMP_NUM_THREADS=1 python benchmarks/bench_vkdnw.py [--cells 6] [--repeats 2]

Both routes run on the same seeded cells at the paper preset's network (C=16, N=5), batch
64, Gaussian images, Kaiming init, interleaved ``--repeats`` times so both see the same load.
The script checks that the two give the same score (to 1e-5; the Jacobians agree to float32
rounding) and prints seconds per cell of each and the ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from proxybench.proxies import ScoreContext
from proxybench.proxies import vkdnw as vk
from proxybench.proxies.training_free import kaiming_reinit
from proxybench.proxies.zero_cost import build_net
from proxybench.run.presets import get_preset
from proxybench.spaces import nb201


def one(net, x, route) -> tuple[float, float]:
    chosen = vk.chosen_weights(net, 128, 1)
    t0 = time.perf_counter()
    z, jac = route(net, x, chosen)
    score = vk.decile_entropy(torch.linalg.svdvals(vk.fisher_information(z, jac)).numpy())
    return time.perf_counter() - t0, score


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    ctx = ScoreContext(seed=0, preset=get_preset("paper"), num_classes=10)
    rng = np.random.default_rng(0)
    cells = [int(i) for i in rng.choice(15625, args.cells, replace=False)]
    times = {"vmap": 0.0, "hooked": 0.0}
    for _ in range(args.repeats):
        for index in cells:
            net, _ = build_net(ctx, nb201.cell_at(index))
            g = torch.Generator().manual_seed(index)
            kaiming_reinit(net, g)
            net = net.eval()
            x = torch.randn(64, 3, 32, 32, generator=g)
            t_slow, s_slow = one(net, x, vk.logit_jacobian)
            t_fast, s_fast = one(net, x, vk.hooked_jacobian)
            assert abs(s_slow - s_fast) < 1e-5, (index, s_slow, s_fast)
            times["vmap"] += t_slow
            times["hooked"] += t_fast
    n = args.cells * args.repeats
    print(f"{args.cells} cells x {args.repeats}, threads={torch.get_num_threads()}: vmap "
          f"{times['vmap'] / n:.2f} s/cell, hooked {times['hooked'] / n:.2f} s/cell, ratio "
          f"{times['vmap'] / times['hooked']:.2f}x (scores equal to 1e-5)")


if __name__ == "__main__":
    main()
