"""``proxybench demo``: the whole pipeline, small enough for a laptop CPU in minutes.

train a small supernet -> score a seeded sample of cells with flatness, val_acc and
#params -> Kendall tau against NB201 ground truth (when a table is found). With CIFAR-10 it
uses the ``cpu`` macro (C=8, N=1) for 3 epochs on 10k images; without data it uses
synthetic images (``data.synthetic_dataset``), where tau is only a smoke check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .analysis.correlation import correlate_table
from .analysis.groundtruth import ENV_VAR
from .engine.score import context_from_run, score_cells
from .proxies import parse_specs
from .run.files import environment
from .run.presets import get_preset
from .run.train import TrainConfig, train_supernet
from .spaces import nb201


def find_ground_truth(explicit: str | None) -> str | None:
    """--ground-truth, else $PROXYBENCH_NB201, else the table shipped with proxybench."""
    from .analysis.groundtruth import resolve
    return resolve(explicit)


def run_demo(*, data_dir: str | None, ground_truth: str | None, out: str, n_cells: int,
             epochs: int | None, echo: Callable[[str], None] = print) -> dict:
    out_dir = Path(out)
    t0 = time.time()
    if data_dir:
        preset = get_preset("cpu", epochs=epochs or 3, train_images=10000, bn_images=128,
                            val_images=256)
        what = f"CIFAR-10 from {data_dir}"
    else:
        preset = get_preset("tiny", epochs=epochs or 5)
        what = "synthetic images (no --data-dir given)"
    echo(f"[1/3] training a supernet (C={preset.channels}, N={preset.layers}, "
         f"{preset.epochs} epochs) on {what}")
    cfg = TrainConfig("nb201", "cifar10", data_dir and str(Path(data_dir).resolve()), "demo",
                      preset, 0, 0, None)
    run_dir = out_dir / "supernet"
    summary = train_supernet(cfg, run_dir, resume=True)
    echo(f"      mean path accuracy {summary['path_valid_acc_mean']:.1f}% "
         f"(chance {summary['chance_acc']:.0f}%)")

    specs = parse_specs("flatness,val_acc,params,params_live")
    indices = nb201.sample_cells(n_cells, seed=0)
    echo(f"[2/3] scoring {n_cells} NB201 cells with {', '.join(s.column for s in specs)}")
    ctx, info = context_from_run(run_dir, specs)
    scores_path = out_dir / "scores.csv"
    score_cells(specs, ctx, indices, scores_path, resume=True,
                meta={**info, "space": "nb201", "environment": environment(),
                      "command": "proxybench demo"})

    gt = find_ground_truth(ground_truth)
    result = None
    if gt is None:
        echo(f"[3/3] no ground truth found: pass --ground-truth or set {ENV_VAR} to the NB201 "
             f"table to get Kendall tau")
    else:
        echo(f"[3/3] rank correlation with NB201 CIFAR-10 test accuracy ({gt})")
        result = correlate_table(scores_path, dataset="cifar10", ground_truth=gt,
                                 n_boot=200, seed=0)
        result.to_csv(out_dir / "scores.correlate.csv", index=False)
        taus = result[result.metric == "kendall_tau"]
        for r in taus.itertuples():
            echo(f"      {r.proxy:12s} Kendall tau {r.value:+.3f} "
                 f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]")
        if not data_dir:
            echo("      (synthetic images: supernet proxies' tau is a smoke check only)")
    echo(f"done in {time.time() - t0:.0f} s. Results in {out_dir}/: supernet/ (weights, "
         f"metrics.csv, run.json), scores.csv (+ .json)"
         + (", scores.correlate.csv" if result is not None else ""))
    return {"summary": summary, "correlation": result}
