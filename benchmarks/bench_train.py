"""Supernet training throughput vs a plain single-network training loop of the same size.

    python benchmarks/bench_train.py [--preset cpu] [--steps 60] [--batch 128]

Both sides run the same SGD step (channels_last, cross-entropy, grad clipping at 5, momentum
and weight decay of the preset) on the same random batches:

- supernet: the NB201 weight-sharing supernet, a uniformly sampled path per step (SPOS), as
  ``proxybench train`` does;
- plain: for each of the same sampled cells, the standalone NB201 network of that cell
  (built before the clock starts), i.e. what training that one network alone costs.

The steps see the same cells in the same order, so the work (FLOPs) is identical and the
ratio is the supernet's overhead: path dispatch, and an optimizer over a larger parameter
set. Reported: images/s of each and the ratio (target: supernet within 1.2x of plain).
"""

from __future__ import annotations

import argparse
import random
import time

import torch
from torch import nn

from proxybench.nets.nb201 import NB201Net
from proxybench.run.presets import get_preset
from proxybench.run.train import train_step
from proxybench.spaces import nb201


def _sgd(net: nn.Module, p) -> torch.optim.Optimizer:
    return torch.optim.SGD(net.parameters(), lr=p.lr, momentum=p.momentum,
                           weight_decay=p.weight_decay)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=None, help="default: the preset's")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    p = get_preset(args.preset)
    batch = args.batch or p.batch_size
    rng = random.Random(args.seed)
    cells = [nb201.prune(tuple(rng.randrange(len(nb201.OPS)) for _ in nb201.EDGES))
             for _ in range(args.steps)]
    gen = torch.Generator().manual_seed(args.seed)
    data = [(torch.randn(batch, 3, 32, 32, generator=gen)
             .contiguous(memory_format=torch.channels_last),
             torch.randint(0, 10, (batch,), generator=gen)) for _ in range(4)]

    torch.manual_seed(args.seed)
    supernet = NB201Net(p.channels, p.layers, 10).to(memory_format=torch.channels_last).train()
    plain = {c: NB201Net(p.channels, p.layers, 10, cell=c)
             .to(memory_format=torch.channels_last).train() for c in set(cells)}
    optims = {c: _sgd(n, p) for c, n in plain.items()}
    sup_optim = _sgd(supernet, p)

    # warm-up both, then time them interleaved in blocks so load changes hit both alike
    train_step(supernet, supernet.parameters(), sup_optim, *data[0], cells[0])
    train_step(plain[cells[0]], plain[cells[0]].parameters(), optims[cells[0]], *data[0], None)
    t_sup = t_plain = 0.0
    for i, cell in enumerate(cells):
        x, y = data[i % len(data)]
        t0 = time.perf_counter()
        train_step(supernet, supernet.parameters(), sup_optim, x, y, cell)
        t1 = time.perf_counter()
        train_step(plain[cell], plain[cell].parameters(), optims[cell], x, y, None)
        t2 = time.perf_counter()
        t_sup, t_plain = t_sup + t1 - t0, t_plain + t2 - t1
    n = len(cells) * batch
    print(f"preset {args.preset}: C={p.channels} N={p.layers}, batch {batch}, {len(cells)} "
          f"steps, torch threads {torch.get_num_threads()}")
    print(f"supernet (SPOS path per step): {n / t_sup:8.1f} images/s")
    print(f"plain standalone networks:     {n / t_plain:8.1f} images/s")
    print(f"supernet / plain time:         {t_sup / t_plain:8.2f}x  (target <= 1.2x)")


if __name__ == "__main__":
    main()
