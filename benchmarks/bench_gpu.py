"""The `paper` preset's flatness scoring on one device (a GPU when there is one), timed, and
what all 15,625 cells cost from that measurement, one run.

    python benchmarks/bench_gpu.py --data-dir DIR [--run RUN] [--cells 20] [--device auto]
        [--chunks 512,2048,4096] [--bn-images N] [--val-images N] [--seed 0]

1. The supernet: ``--run``'s, or without it a paper-preset one (C=16, N=5) at epoch 0,
   trained for one step on 64 images into a scratch run (a cell's cost does not depend
   on the weights, only its score does, so the times hold for a trained supernet).
2. The conv ceiling on the device: GFLOP/s of a channels_last 3x3 float32 conv at the
   preset's three stage shapes (16x32x32, 32x16x16, 64x8x8), batch = each evaluation
   chunk, full IEEE float32 as the engine scores (no TF32), combined as in
   ``bench_roofline.py``.
3. The engine: ``score_cells`` with ``flatness`` on the seeded sample of ``--cells`` cells,
   one process, for each evaluation chunk of ``--chunks`` (images per evaluation pass; the
   BN recalibration keeps the preset's chunk, which its statistics depend on). A warm-up
   cell runs first (CUDA start-up, cuDNN's choice of kernels).
4. FLOPs executed, counted as ``bench_roofline.py`` does: per distinct pruned cell, BN
   recalibration over ``bn_images`` plus one pass per sigma over ``val_images``, each image
   ``cell_cost(prune(cell))`` multiply-adds, x2.
5. All cells: the FLOPs of every distinct pruned cell at these settings (9,445 of them), over
   the achieved GFLOP/s of the fastest chunk: the hours one device of this kind needs.

On a CPU it runs too (``--device cpu``, small ``--val-images``), which is how it is tested
where no GPU is lent; its numbers are then the CPU's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from bench_roofline import conv_ceiling, sync

from proxybench.engine.score import (
    context_from_run,
    default_workers,
    evaluation_chunk,
    score_cells,
)
from proxybench.nets.nb201 import cell_cost
from proxybench.proxies import parse_specs
from proxybench.run.presets import get_preset
from proxybench.run.train import TrainConfig, resolve_device, train_supernet
from proxybench.spaces import nb201


def scratch_run(out: Path, data_dir: str, device: torch.device) -> Path:
    """A paper-preset supernet after one step on 64 images: its epoch-0 weights are a real
    run's initialisation, and scoring reads them like any run's. Its own end-of-training
    check is cut to one path on 64 images (scoring sets its image counts itself)."""
    preset = get_preset("paper", epochs=1, train_images=64, path_sample=1, val_images=64,
                        bn_images=64)
    cfg = TrainConfig("nb201", "cifar10", data_dir, "paper", preset, 0, 0, None)
    train_supernet(cfg, out, progress=False, device=str(device))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--run", default=None, help="a trained paper-preset run (default: epoch 0)")
    ap.add_argument("--cells", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--chunks", default=None,
                    help="evaluation chunks to time, comma-separated (default: the engine's "
                         "choice for the device)")
    ap.add_argument("--bn-images", type=int, default=None, help="default: the preset's")
    ap.add_argument("--val-images", type=int, default=None, help="default: the preset's")
    ap.add_argument("--workers", type=int, default=None,
                    help="scoring processes (default: score's, one per CPU core on a CPU, "
                         "one on a GPU)")
    args = ap.parse_args()

    dev = resolve_device(args.device)
    spec = parse_specs("flatness")[0]
    sigmas = spec.options["sigmas"]
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run) if args.run else scratch_run(Path(tmp) / "run", args.data_dir, dev)
        paper = get_preset("paper")
        overrides = {"bn_images": args.bn_images or paper.bn_images,
                     "val_images": args.val_images or paper.val_images}
        ctx, info = context_from_run(run, [spec], data_dir=args.data_dir,
                                     checkpoint=None if args.run else "epoch-0.pt",
                                     preset_overrides=overrides, device=str(dev))
        p = ctx.preset
        name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
        print(f"device {dev} ({name}), torch {torch.__version__}, "
              f"{torch.get_num_threads()} CPU threads; supernet {run}"
              f"{'' if args.run else ' (epoch 0)'}: C={p.channels} N={p.layers}, BN "
              f"{p.bn_images} images in chunks of {p.chunk}, {len(sigmas)} sigmas x "
              f"{p.val_images} validation images")

        images = p.bn_images + len(sigmas) * p.val_images

        def flop(cells: list) -> float:
            return sum(2e6 * cell_cost(c, p.channels, p.layers, ctx.num_classes,
                                       ctx.input_size)[1] * images for c in cells)

        indices = nb201.sample_cells(args.cells, args.seed)
        distinct = list(dict.fromkeys(nb201.prune(nb201.cell_at(i)) for i in indices))
        work = flop(distinct)
        forms = list({nb201.prune(c) for c in nb201.all_cells()})
        every = flop(forms)
        full = every / images * (paper.bn_images + len(sigmas) * paper.val_images)
        print(f"{len(indices)} seeded cells (seed {args.seed}), {len(distinct)} distinct "
              f"pruned forms, {work / 1e12:.2f} TFLOP; all 15,625 cells: {len(forms)} forms, "
              f"{every / 1e15:.2f} PFLOP at these image counts, {full / 1e15:.2f} PFLOP at "
              f"the preset's ({paper.bn_images} BN + {len(sigmas)} x {paper.val_images})")

        chunks = ([int(c) for c in args.chunks.split(",")] if args.chunks
                  else [evaluation_chunk(p.chunk, dev)])
        # warm-up: CUDA context, cuDNN's kernel choice, the allocator
        score_cells([spec], replace(ctx, evaluation_chunk=chunks[0]), indices[:1],
                    Path(tmp) / "warm.csv", progress=False, workers=1)
        workers = args.workers or default_workers(ctx)
        best = None
        for chunk in chunks:
            ceiling, rates = conv_ceiling(chunk, p.channels, dev)
            ctx.memo.clear()
            sync(dev)
            t0 = time.perf_counter()
            table = score_cells([spec], replace(ctx, evaluation_chunk=chunk), indices,
                                Path(tmp) / f"scores-{chunk}.csv", progress=False,
                                workers=workers)
            sync(dev)
            seconds = time.perf_counter() - t0
            rate = work / seconds / 1e9
            hours = every / (rate * 1e9) / 3600
            paper_hours = full / (rate * 1e9) / 3600
            shapes = ", ".join(f"{s} {r:.0f}" for s, r in rates)
            print(f"chunk {chunk:5d}, {workers} worker(s): {seconds:7.1f} s, "
                  f"{seconds / len(distinct):6.3f} s per distinct cell, {rate:8.1f} GFLOP/s = "
                  f"{rate / ceiling:5.1%} of the conv ceiling {ceiling:.0f} GFLOP/s ({shapes}"
                  f"{f'; {torch.get_num_threads()} threads' if dev.type == 'cpu' else ''}); "
                  f"all cells: "
                  f"{hours:.1f} h at these image counts, {paper_hours:.1f} h at the preset's; "
                  f"{int(table['flatness'].notna().sum())}/{len(table)} scored")
            if best is None or seconds < best[1]:
                best = (chunk, seconds, rate, hours, paper_hours)
        chunk, seconds, rate, hours, paper_hours = best
        print(json.dumps({"device": name, "chunk": chunk, "workers": workers,
                          "seconds_per_distinct_cell": seconds / len(distinct),
                          "gflops": rate, "all_cells_hours": hours,
                          "all_cells_hours_at_preset_images": paper_hours,
                          "val_images": p.val_images, "bn_images": p.bn_images,
                          "checkpoint": info["checkpoint"]}))


if __name__ == "__main__":
    main()
