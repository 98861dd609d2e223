"""Flatness scoring speed: the GeNAS reference algorithm vs proxybench's engine, one run.

    python benchmarks/bench_score.py --run RUN [--cells 40] [--seed 0]
        [--checkpoint epoch-0.pt] [--val-images N] [--bn-images N]

Speed does not depend on how far the supernet was trained, so a `paper`-preset run that
holds only its ``epoch-0.pt`` times the paper's network (C=16, N=5) on a CPU; ``--val-images``
shrinks the paper preset's 10,000 validation images to what a CPU benchmark can afford
(the same setting for both sides).

Both compute the same Eq. (4) score for the same cells, data and noise stream:

- reference (a faithful re-implementation of GeNAS ``get_cand_wlm``): deep-copy the whole
  supernet, recalibrate its BN along the cell's path, deep-copy again, add Gaussian noise to
  *every* supernet weight at each sigma (cumulatively), evaluate the path;
- engine: copy only the cell's path into a standalone network, recalibrate, perturb only
  the weights the path uses, evaluate; cells sharing a pruned form are scored once.

Per-parameter noise generators (seeded by run seed, cell and parameter name) make the two
give identical losses, which the script checks (1e-4 relative). It prints cells/second of
each, the ratio, and the engine's achieved GFLOP/s next to a plain sgemm measured in the
same process.
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from proxybench.engine.score import context_from_run
from proxybench.nets.nb201 import cell_cost, recalibrate_bn
from proxybench.proxies import parse_specs
from proxybench.proxies.flatness import flatness_value, perturbed_losses
from proxybench.proxies.performance import cell_seed
from proxybench.spaces import nb201


class _Path(torch.nn.Module):
    """The supernet seen as the network of one cell (names unchanged, so noise matches)."""

    def __init__(self, supernet: torch.nn.Module, cell: nb201.Cell) -> None:
        super().__init__()
        self.supernet, self.cell = supernet, cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernet(x, self.cell)


def reference_flatness(ctx, cell, sigmas, alpha) -> float:
    """GeNAS's loop: NCHW tensors, the whole supernet copied and perturbed for every cell."""
    model = copy.deepcopy(ctx.supernet)
    recalibrate_bn(model, ctx.bn_batch[0].contiguous(), ctx.preset.chunk, cell)
    model_ = copy.deepcopy(model)
    path = _Path(model_, cell)
    named = [(n.removeprefix("supernet."), p) for n, p in path.named_parameters()]
    losses = perturbed_losses(path, named, sigmas, ctx.val_batch[0].contiguous(),
                              ctx.val_batch[1], ctx.preset.chunk, cell_seed(ctx.seed, cell),
                              "cumulative")
    return flatness_value(losses, sigmas, alpha)


def sgemm_gflops(n: int = 1024, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--cells", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", default=None, help="default: the run's final.pt")
    ap.add_argument("--val-images", type=int, default=None)
    ap.add_argument("--bn-images", type=int, default=None)
    args = ap.parse_args()

    spec = parse_specs("flatness")[0]
    ctx, _ = context_from_run(args.run, [spec], checkpoint=args.checkpoint,
                              preset_overrides={"val_images": args.val_images,
                                                "bn_images": args.bn_images})
    sigmas, alpha = spec.options["sigmas"], spec.options["alpha"]
    indices = nb201.sample_cells(args.cells, args.seed)
    cells = [nb201.cell_at(i) for i in indices]
    live = [c for c in cells if not nb201.is_disconnected(c)]

    t0 = time.perf_counter()
    ref = {c: reference_flatness(ctx, nb201.prune(c), sigmas, alpha) for c in live}
    t_ref = time.perf_counter() - t0

    t0 = time.perf_counter()
    done: dict = {}
    ours = {}
    for c in live:
        key = nb201.prune(c)
        if key not in done:
            done[key] = spec.proxy.fn(ctx, key, **spec.options)["score"]
        ours[c] = done[key]
    t_ours = time.perf_counter() - t0

    worst = max(abs(ours[c] - ref[c]) / abs(ref[c]) for c in live)
    p = ctx.preset
    images = p.bn_images + len(sigmas) * p.val_images
    mflops = sum(cell_cost(nb201.prune(c), p.channels, p.layers, ctx.num_classes,
                           ctx.input_size)[1] for c in done)
    gflops = 2 * mflops * 1e6 * images / t_ours / 1e9  # 2 FLOPs per multiply-add
    print(f"cells: {len(live)} ({len(done)} distinct pruned forms), preset C={p.channels} "
          f"N={p.layers}, BN {p.bn_images} + {len(sigmas)}x{p.val_images} valid images, "
          f"torch threads {torch.get_num_threads()}")
    print(f"reference: {len(live) / t_ref:8.2f} cells/s ({t_ref:.1f} s)")
    print(f"engine:    {len(live) / t_ours:8.2f} cells/s ({t_ours:.1f} s)")
    print(f"speed-up:  {t_ref / t_ours:8.2f}x   max relative score difference {worst:.2e}")
    print(f"engine forward throughput {gflops:.1f} GFLOP/s vs plain sgemm "
          f"{sgemm_gflops():.1f} GFLOP/s")
    if worst > 1e-4:
        raise SystemExit("scores differ by more than 1e-4 relative")


if __name__ == "__main__":
    main()
