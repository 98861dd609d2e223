"""Flatness scoring against the machine's conv ceiling: how much of it the engine uses, one run.

    python benchmarks/bench_roofline.py --run RUN [--cells 40] [--seed 0] [--threads 1,2]
        [--data-dir DIR] [--no-reference] [--profile]

For each torch thread count in ``--threads`` (the ceiling and the scorers run at the same
count, one right after the other):

1. the conv ceiling: GFLOP/s of one 3x3 convolution (``F.conv2d``, float32, no grad,
   channels_last input and weight, stride 1, padding 1, C -> C channels) at the three shapes
   the run's preset scores (C, 2C, 4C channels at 32, 16, 8 px; batch = the preset's chunk),
   the best of 5 timed blocks of about 0.3 s each. The three shapes cost the same
   multiply-adds per image (C^2 x HW is constant), so the network's conv ceiling is their
   combined rate, total FLOPs / total time (the harmonic mean), printed with each shape's.
   It is measured again after the scorers: a drop flags load from other processes;
2. the engine: ``score_cells`` with ``flatness`` (the preset's defaults) on the seeded sample
   of ``--cells`` cells, in one process at that thread count (``workers=1``), into a
   scratch table; above one thread also ``score``'s default, one forked one-thread worker
   per core, whose scores must equal the one-thread scores bit for bit;
3. the GeNAS reference loop of ``bench_score.py`` (``reference_flatness``) on the same cells.

FLOPs executed are counted, not estimated from cells/s: flatness (cumulative noise) runs, per
evaluated cell, one BN recalibration pass over ``bn_images`` (train mode) and one
validation pass per sigma over ``val_images`` (the first sigma is the first loss; there is no
separate clean pass), each image costing ``cell_cost(prune(cell), C, N, classes, size)``
MFLOPs, which are *multiply-adds* (NB201's count: convs and the classifier; pooling, BN
and ReLU free). The engine evaluates each distinct pruned form once; the reference evaluates
every cell. GFLOP/s = 2 x multiply-adds / seconds (2 FLOPs per multiply-add), the same
convention as the ceiling (2 x N x C x C x 9 x H x W per conv). Before the clock starts,
``torch.utils.flop_counter.FlopCounterMode`` checks the count on a few cells against what
the engine's flatness call really executes (it also counts the 3x3 average pooling the
network runs as a depthwise conv, which NB201's count leaves out).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from bench_score import reference_flatness, sgemm_gflops
from torch.utils.flop_counter import FlopCounterMode

from proxybench.engine.score import context_from_run, default_workers, score_cells
from proxybench.nets.nb201 import cell_cost
from proxybench.proxies import parse_specs
from proxybench.spaces import nb201

CPU = torch.device("cpu")


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a GPU runs asynchronously; a CPU does not)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def conv_gflops(batch: int, channels: int, size: int, blocks: int = 5,
                seconds: float = 0.3, device: torch.device = CPU) -> float:
    """Best-of-``blocks`` GFLOP/s of a channels_last 3x3 conv, C -> C, at batch x C x size^2
    (float32; on a GPU in full IEEE precision, as the engine scores, not TF32)."""
    fmt = torch.channels_last
    x = torch.randn(batch, channels, size, size, device=device).contiguous(memory_format=fmt)
    w = torch.randn(channels, channels, 3, 3, device=device).contiguous(memory_format=fmt)
    flops = 2 * batch * channels * channels * 9 * size * size
    conv = torch.backends.cudnn.conv
    old, conv.fp32_precision = conv.fp32_precision, "ieee"
    try:
        with torch.no_grad():
            for _ in range(3):
                F.conv2d(x, w, padding=1)
            sync(device)
            t0 = time.perf_counter()
            F.conv2d(x, w, padding=1)
            sync(device)
            reps = max(1, int(seconds / max(time.perf_counter() - t0, 1e-6)))
            best = 0.0
            for _ in range(blocks):
                t0 = time.perf_counter()
                for _ in range(reps):
                    F.conv2d(x, w, padding=1)
                sync(device)
                best = max(best, flops * reps / (time.perf_counter() - t0) / 1e9)
    finally:
        conv.fp32_precision = old
    return best


def conv_ceiling(batch: int, channels: int, device: torch.device = CPU
                 ) -> tuple[float, list[tuple[str, float]]]:
    """(combined GFLOP/s over the three stage shapes, [(shape, GFLOP/s)])."""
    shapes = [(channels * 2 ** s, 32 // 2 ** s) for s in range(3)]
    rates = [(f"{c}x{h}x{h}", conv_gflops(batch, c, h, device=device)) for c, h in shapes]
    # equal FLOPs per shape: combined rate = 1 / mean(1 / rate)
    combined = len(rates) / sum(1 / r for _, r in rates)
    return combined, rates


def profile_evaluation(ctx, cells: list, top: int = 8) -> None:
    """Where a validation pass spends its time, one thread: torch.profiler's self CPU time
    per aten op over one evaluation of each cell's recalibrated path (after a warm-up)."""
    from torch.profiler import ProfilerActivity, profile

    from proxybench.nets.nb201 import evaluate
    from proxybench.proxies.performance import prepared_subnet
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    nets = [prepared_subnet(ctx, c) for c in cells if not nb201.is_disconnected(c)][:12]
    x, y = ctx.val_batch
    for net in nets:
        evaluate(net, x, y, ctx.eval_chunk)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for net in nets:
            evaluate(net, x, y, ctx.eval_chunk)
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    shares = ", ".join(f"{e.key} {e.self_cpu_time_total / total:.1%} ({e.count} calls)"
                       for e in events[:top])
    print(f"profile of one validation pass of {len(nets)} paths, 1 thread, self CPU time: "
          f"{shares}")
    torch.set_num_threads(threads)


def engine_seconds(spec, ctx, indices: list, workers: int | None) -> tuple[float, dict]:
    """(seconds, {arch_index: flatness}) of ``score_cells`` on ``indices`` into a scratch
    table: one process at this process's torch threads (``workers=1``), or ``score``'s
    default (``None``)."""
    ctx.memo.clear()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table = score_cells([spec], ctx, indices, Path(tmp) / "scores.csv", progress=False,
                            workers=workers)
        seconds = time.perf_counter() - t0
    return seconds, dict(zip(table["arch_index"], table["flatness"], strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--cells", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", default=str(torch.get_num_threads()),
                    help="torch thread counts to measure at, comma-separated (default: "
                         "torch's default)")
    ap.add_argument("--data-dir", default=None, help="default: the run's")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--profile", action="store_true",
                    help="also print where a validation pass spends its time (op shares)")
    args = ap.parse_args()

    spec = parse_specs("flatness")[0]
    ctx, _ = context_from_run(args.run, [spec], data_dir=args.data_dir)
    sigmas, alpha = spec.options["sigmas"], spec.options["alpha"]
    p = ctx.preset
    indices = nb201.sample_cells(args.cells, args.seed)
    cells = [nb201.cell_at(i) for i in indices]
    pruned = [nb201.prune(c) for c in cells]
    distinct = list(dict.fromkeys(pruned))
    images = p.bn_images + len(sigmas) * p.val_images  # forward images per evaluated cell

    def macs(c) -> float:  # multiply-adds of one cell's evaluation (all its passes)
        return cell_cost(c, p.channels, p.layers, ctx.num_classes, ctx.input_size)[1] * 1e6 \
            * images

    engine_macs = sum(macs(c) for c in distinct)
    ref_macs = sum(macs(c) for c in pruned)
    print(f"run {args.run}: preset C={p.channels} N={p.layers}, chunk {p.chunk}, BN "
          f"{p.bn_images} + {len(sigmas)} sigmas x {p.val_images} validation images = "
          f"{images} forward images per evaluated cell")
    print(f"cells: {len(cells)} seeded (seed {args.seed}), {len(distinct)} distinct pruned "
          f"forms; multiply-adds executed: engine {engine_macs / 1e9:.1f} G, reference "
          f"{ref_macs / 1e9:.1f} G (x2 for FLOPs)")

    # the count checked against what flatness really executes (untimed)
    check = [c for c in distinct if not nb201.is_disconnected(c)][:3]
    with FlopCounterMode(display=False) as counter:
        for c in check:
            ctx.memo.clear()
            spec.proxy.fn(ctx, c, **spec.options)
    counted = counter.get_total_flops()
    print(f"FlopCounterMode on {len(check)} cells' flatness calls: {counted / 1e9:.2f} GFLOP "
          f"executed vs 2 x analytic multiply-adds {2 * sum(macs(c) for c in check) / 1e9:.2f} "
          f"GFLOP (ratio {counted / (2 * sum(macs(c) for c in check)):.3f}; the excess is "
          f"avg pooling run as a depthwise conv)")

    if args.profile:
        profile_evaluation(ctx, distinct)

    one_thread = None     # the 1-thread scores, which the default workers must reproduce
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        print(f"\n== torch threads {torch.get_num_threads()}")
        ceiling, rates = conv_ceiling(p.chunk, p.channels)
        shapes = ", ".join(f"{s} {r:.1f}" for s, r in rates)
        best = max(r for _, r in rates)
        print(f"conv ceiling (3x3, channels_last, batch {p.chunk}): {ceiling:.1f} GFLOP/s "
              f"combined ({shapes}); sgemm 1024^2 {sgemm_gflops():.1f} GFLOP/s")

        t_eng, ours = engine_seconds(spec, ctx, indices, workers=1)
        if threads == 1:
            one_thread = ours
        eng = 2 * engine_macs / t_eng / 1e9
        print(f"engine:    {len(cells) / t_eng:6.2f} cells/s ({t_eng:.1f} s), {eng:5.1f} "
              f"GFLOP/s = {eng / ceiling:5.1%} of the conv ceiling ({eng / best:.1%} of the "
              f"best shape); one process")
        if threads > 1:
            t_def, plain = engine_seconds(spec, ctx, indices, workers=None)
            if one_thread is not None and any(
                    a != b and not (math.isnan(a) and math.isnan(b))
                    for a, b in zip(plain.values(), one_thread.values(), strict=True)):
                raise SystemExit("the default workers' scores differ from one thread's")
            dgf = 2 * engine_macs / t_def / 1e9
            print(f"plain:     {len(cells) / t_def:6.2f} cells/s ({t_def:.1f} s), {dgf:5.1f} "
                  f"GFLOP/s = {dgf / ceiling:5.1%} of the conv ceiling; `score`'s default, "
                  f"{default_workers(ctx)} forked one-thread workers")
        if not args.no_reference:
            ctx.memo.clear()
            t0 = time.perf_counter()
            ref = [reference_flatness(ctx, c, sigmas, alpha) for c in pruned]
            t_ref = time.perf_counter() - t0
            rgf = 2 * ref_macs / t_ref / 1e9
            worst = max(abs(ours[i] - r) / abs(r) for i, r in zip(indices, ref, strict=True))
            print(f"reference: {len(cells) / t_ref:6.2f} cells/s ({t_ref:.1f} s), {rgf:5.1f} "
                  f"GFLOP/s = {rgf / ceiling:5.1%} of the conv ceiling; engine/reference "
                  f"{t_ref / t_eng:.2f}x per cell; max relative score difference {worst:.1e}")
            if worst > 1e-4:
                raise SystemExit("engine and reference scores differ by more than 1e-4 "
                                 "relative")
        again, _ = conv_ceiling(p.chunk, p.channels)
        print(f"conv ceiling again after the scorers: {again:.1f} GFLOP/s ({again / ceiling:.0%} "
              f"of the first; much less means other load arrived during the measurement)")


if __name__ == "__main__":
    main()
