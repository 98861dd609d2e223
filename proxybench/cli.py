"""The ``proxybench`` command line: train, cells, proxies, score, correlate, demo.

Every known failure (bad names, malformed strings, missing or corrupt files) ends as one
``Error: ...`` line that says what to do, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from pathlib import Path

import click
import pandas as pd

from . import __version__

DEFAULT_DATASET = "cifar10"


def _known_errors() -> tuple[type[Exception], ...]:
    from .errors import ProxybenchError
    return (ProxybenchError,)


def friendly(fn):
    """Turn the package's own errors, and file-system errors on the user's paths (an
    unwritable --out, a file where a folder should be), into one clean line (exit code 2)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .errors import path_error_line
        try:
            return fn(*args, **kwargs)
        except _known_errors() as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            line = path_error_line(exc)
            if line is None:
                raise
            raise click.ClickException(line) from None
        except KeyboardInterrupt:
            click.echo("\nInterrupted: rows written so far are kept; rerun with --resume.",
                       err=True)
            sys.exit(130)
    return wrapper


SPACE = click.option("--space", type=click.Choice(["nb201", "darts"]), default="nb201",
                     show_default=True, help="Search space.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="proxybench")
def main() -> None:
    """Which cheap proxy ranks NAS architectures like their true accuracy?

    \b
    Typical session (CIFAR-10 in DIR/cifar-10-batches-py):
      proxybench train --dataset cifar10 --data-dir DIR --preset cpu --out runs/c10
      proxybench score --run runs/c10 --proxy flatness --out runs/c10/flatness.csv
      proxybench correlate runs/c10/flatness.csv --dataset cifar10 --ground-truth GT.csv
    """


# --------------------------------------------------------------------------- train
@main.command()
@SPACE
@click.option("--dataset", type=click.Choice(["cifar10", "cifar100", "imagenet16-120"]),
              default=DEFAULT_DATASET, show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Folder with the dataset in its official python format. Omit only for a "
                   "synthetic smoke run.")
@click.option("--preset", default="cpu", show_default=True,
              help="paper (GPU, 250 epochs) | cpu (2-core CPU, ~10 min) | tiny (tests); "
                   "each space has its own.")
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option("--batch-size", type=int, default=None, help="Override the preset's batch size.")
@click.option("--channels", type=int, default=None, help="Override C.")
@click.option("--layers", type=int, default=None,
              help="Override N (NB201: cells per stage; DARTS: cells in all).")
@click.option("--train-images", type=int, default=None,
              help="Use only this many search-train images (0 = all).")
@click.option("--split-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="NB201 split file (JSON). Default: a seeded 50/50 split of the train set.")
@click.option("--save-every", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also keep the weights every K epochs (proxy quality vs. budget).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--seeds", default=None,
              help="Train one supernet per seed (e.g. 0-4 or 0,2,7) into --out/seed-K, a seed "
                   "group: score and correlate then report each proxy's spread over training "
                   "seeds. Runs already finished are kept.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Run directory (with --seeds: the group's folder).")
@click.option("--resume", is_flag=True, help="Continue the run in --out after a stop.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="torch CPU threads (default: torch's choice).")
@click.option("--device", default="auto", show_default=True,
              help="auto (the rank's GPU if any, else CPU), cpu, cuda, cuda:N.")
@friendly
def train(space, dataset, data_dir, preset, epochs, batch_size, channels, layers, train_images,
          split_file, save_every, seed, seeds, out, resume, threads, device) -> None:
    """Train a weight-sharing supernet (SPOS uniform single path).

    Runs under torchrun as DDP (gloo on CPU, nccl on GPUs), e.g.
    `torchrun --nproc-per-node=4 -m proxybench train ... --out RUN`.
    """
    from .presets import get_preset
    from .train import TrainConfig, train_supernet
    _threads(threads)
    p = get_preset(preset, space, epochs=epochs, batch_size=batch_size, channels=channels,
                   layers=layers, train_images=train_images)
    if data_dir is not None and not Path(data_dir).is_dir():
        raise click.ClickException(f"--data-dir {data_dir} does not exist; point it at the "
                                   f"folder that holds cifar-10-batches-py/ (or the "
                                   f"dataset's own folder)")
    from .rundir import FINAL, parse_seeds, seed_dir
    runs = [(s, seed_dir(out, s)) for s in parse_seeds(seeds)] if seeds else [(seed, Path(out))]
    for run_seed, run_out in runs:
        if seeds and (run_out / FINAL).is_file():
            click.echo(f"seed {run_seed}: {run_out} is trained already; kept")
            continue
        cfg = TrainConfig(space, dataset, data_dir and str(Path(data_dir).resolve()), preset,
                          p, run_seed, save_every,
                          split_file and str(Path(split_file).resolve()))
        t0 = time.time()
        with _process_group(device):
            summary = train_supernet(cfg, run_out, resume=resume, device=device)
        if int(os.environ.get("RANK", 0)) != 0:
            continue
        click.echo(f"trained {space} supernet on {dataset} ({preset}, seed {run_seed}) in "
                   f"{time.time() - t0:.0f} s -> {run_out}")
        click.echo(f"mean valid accuracy of {summary['paths_evaluated']} random paths after "
                   f"BN recalibration: {summary['path_valid_acc_mean']:.2f}% "
                   f"(min {summary['path_valid_acc_min']:.2f}, max "
                   f"{summary['path_valid_acc_max']:.2f}, chance {summary['chance_acc']:.1f})")


@contextlib.contextmanager
def _process_group(device: str):
    """Initialise torch.distributed when launched by torchrun (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        yield
        return
    import torch
    import torch.distributed as dist
    gpu = device != "cpu" and torch.cuda.is_available()
    if gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if gpu else "gloo")
    try:
        yield
    finally:
        dist.barrier()
        dist.destroy_process_group()


def _threads(threads: int | None) -> None:
    if threads:
        import torch
        torch.set_num_threads(threads)


# --------------------------------------------------------------------------- cells
@main.command()
@SPACE
@click.option("--dataset", type=click.Choice(["cifar10", "cifar100", "imagenet16-120"]),
              default=DEFAULT_DATASET, show_default=True,
              help="Sets the number of classes and the input size of the counts.")
@click.option("--channels", type=int, default=16, show_default=True)
@click.option("--layers", type=int, default=5, show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@friendly
def cells(space, dataset, channels, layers, out) -> None:
    """Write the table of all cells: index, arch, pruned arch, params, FLOPs."""
    if space != "nb201":
        raise click.ClickException("cells enumerates the NB201 space only; describe a DARTS "
                                   "cell with `proxybench genotype NAME|FILE`")
    from .nets import cell_cost
    from .spaces import nb201
    classes, size = {"cifar10": (10, 32), "cifar100": (100, 32),
                     "imagenet16-120": (120, 16)}[dataset]
    rows = []
    for i, cell in enumerate(nb201.all_cells()):
        pruned = nb201.prune(cell)
        p, f = cell_cost(cell, channels, layers, classes, size)
        pl, fl = cell_cost(pruned, channels, layers, classes, size)
        rows.append((i, nb201.format_arch(cell), nb201.format_arch(pruned), p, pl, f, fl))
    table = pd.DataFrame(rows, columns=["arch_index", "arch", "pruned_arch", "params",
                                        "params_live", "flops", "flops_live"])
    from .proxies import get_proxy
    from .runio import atomic_write_bytes, atomic_write_json, environment
    atomic_write_bytes(out, table.to_csv(index=False).encode())
    atomic_write_json(Path(out).with_suffix(".json"), {
        "command": " ".join(sys.argv), "space": space, "dataset": dataset,
        "preset": {"channels": channels, "layers": layers}, "environment": environment(),
        "proxies": [{"column": c, "proxy": c, "options": {},
                     "higher_is_better": get_proxy(c).higher_is_better}
                    for c in ("params", "params_live", "flops", "flops_live")]})
    click.echo(f"{len(table)} cells ({table['pruned_arch'].nunique()} distinct after pruning) "
               f"-> {out}")


# --------------------------------------------------------------------------- arch
@main.command()
@click.argument("arch_text", metavar="ARCH")
@click.option("--ground-truth", type=click.Path(dir_okay=False), default=None,
              help="NB201 table to show the cell's accuracies (default $PROXYBENCH_NB201).")
@friendly
def arch(arch_text, ground_truth) -> None:
    """Describe one NB201 cell given as its string or index: index, pruned form, costs.

    \b
    proxybench arch '|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|'
    proxybench arch 6111
    """
    import os

    from .groundtruth import ENV_VAR, load_ground_truth
    from .nets import cell_cost
    from .spaces import nb201
    text = arch_text.strip()
    cell = nb201.cell_at(int(text)) if text.isdigit() else nb201.parse_arch(text)
    pruned = nb201.prune(cell)
    params, flops = cell_cost(cell)
    params_live, flops_live = cell_cost(pruned)
    click.echo(f"arch_index   {nb201.arch_index(cell)}")
    click.echo(f"arch         {nb201.format_arch(cell)}")
    click.echo(f"pruned       {nb201.format_arch(pruned)}"
               + ("  (no path from input to output)" if nb201.is_disconnected(cell) else ""))
    click.echo(f"params       {params:,} (live {params_live:,})  [C=16, N=5, CIFAR-10]")
    click.echo(f"flops        {flops:.2f} M (live {flops_live:.2f} M)")
    gt = ground_truth or os.environ.get(ENV_VAR)
    if gt:
        row = load_ground_truth(gt).set_index("arch_index").loc[nb201.arch_index(cell)]
        accs = ", ".join(f"{d} {row[d]:.2f}" for d in ("cifar10", "cifar100", "imagenet16-120")
                         if d in row and pd.notna(row[d]))
        click.echo(f"test acc (%) {accs}")


# --------------------------------------------------------------------------- proxies
@main.command()
def proxies() -> None:
    """List every proxy: what it measures, what it needs, which direction is better."""
    from .proxies import all_proxies
    for name, p in sorted(all_proxies().items()):
        direction = "higher" if p.higher_is_better else "lower"
        needs = ", ".join(sorted(p.needs)) or "nothing"
        opts = ", ".join(f"{k}={_show(v)}" for k, v in p.defaults.items())
        click.echo(f"{name:12s} {direction} is better; needs {needs}; spaces "
                   f"{', '.join(p.spaces)}")
        click.echo(f"{'':12s} {p.description}")
        if opts:
            click.echo(f"{'':12s} options: {opts}")


def _show(v) -> str:
    return "/".join(f"{x:g}" for x in v) if isinstance(v, tuple) else str(v)


# --------------------------------------------------------------------------- score
@main.command()
@SPACE
@click.option("--proxy", "proxy_text", required=True,
              help="NAME, NAME,NAME, or NAME:key=value,... ; several with options joined by "
                   "';' (e.g. 'flatness:alpha=0;val_acc').")
@click.option("--run", "--run-dir", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Training run directory (needed by supernet proxies), or a seed group "
                   "(`train --seeds`): then one table per supernet, OUT.seed-K.csv. Under "
                   "torchrun use the --run-dir spelling (torchrun claims --run).")
@click.option("--checkpoint", default=None,
              help="Checkpoint inside --run to score (default final.pt; e.g. epoch-10.pt).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Dataset folder, if it moved since training; without --run, the images "
                   "for data-only proxies (zero-cost).")
@click.option("--dataset", type=click.Choice(["cifar10", "cifar100", "imagenet16-120"]),
              default=DEFAULT_DATASET, show_default=True,
              help="Dataset of --data-dir when there is no --run.")
@click.option("--preset", "preset_name", default="paper", show_default=True,
              help="Network macro (C, N) and image counts when there is no --run (paper: "
                   "NB201's C=16, N=5; cpu: C=8, N=1).")
@click.option("--cells", "cells_opt", default="all", show_default=True,
              help="'all', a number N (a seeded sample of N cells), or a file of NB201 "
                   "indices, one per line (e.g. the cells another machine has not done).")
@click.option("--seed", type=int, default=None,
              help="Seed for the cell sample and the proxies' noise (default: the run's).")
@click.option("--bn-images", type=click.IntRange(min=1), default=None,
              help="Override the preset: images for BN recalibration.")
@click.option("--val-images", type=click.IntRange(min=1), default=None,
              help="Override the preset: validation images.")
@click.option("--chunk", type=click.IntRange(min=1), default=None,
              help="Override the preset: images per forward pass (speed; BN statistics are "
                   "averaged over chunks, so it is recorded).")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Score table (CSV); its settings go to the same name with .json.")
@click.option("--resume", is_flag=True, help="Continue a stopped run into the same --out.")
@click.option("--retry-errors", is_flag=True,
              help="With --resume: score again the cells whose error column is set.")
@click.option("--threads", type=click.IntRange(min=1), default=None)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N.")
@friendly
def score(space, proxy_text, run_dir, checkpoint, data_dir, dataset, preset_name, cells_opt,
          seed, bn_images, val_images, chunk, out, resume, retry_errors, threads,
          device) -> None:
    """Score NB201 cells (or a sample of DARTS genotypes) with proxies into a table
    (resumable)."""
    from .proxies import parse_specs
    from .runio import environment
    from .score import context_from_run, count_errors, score_cells
    _threads(threads)
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and device.startswith("cuda"):
        import torch
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))  # one GPU per rank
    specs = parse_specs(proxy_text)
    indices = _cell_selection(cells_opt, seed if seed is not None else 0, space)
    from .rundir import group_runs, replicate_table
    group = group_runs(run_dir) if run_dir else []
    targets = [(r, replicate_table(out, r)) for r in group] if group else [(run_dir, out)]
    if retry_errors and not resume:
        raise click.BadParameter("--retry-errors continues a table: add --resume")
    for run, table_path in targets:
        ctx, info = context_from_run(run, specs, checkpoint=checkpoint, data_dir=data_dir,
                                     preset_overrides={"bn_images": bn_images,
                                                       "val_images": val_images,
                                                       "chunk": chunk},
                                     seed=seed, dataset=dataset, preset_name=preset_name,
                                     device=device, space=space)
        meta = {**info, "space": space, "cell_selection": cells_opt,
                "environment": environment(), "command": " ".join(sys.argv)}
        t0 = time.time()
        rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        if world > 1 and space != "nb201":
            raise click.ClickException("sharded scoring (torchrun) covers the NB201 space only")
        if world > 1:  # launched by torchrun: each rank scores its shard, rank 0 merges
            table = _score_distributed(specs, ctx, indices, table_path, resume, meta, rank,
                                       world)
            if table is None:
                continue
        else:
            before = _rows(table_path) if resume else 0
            table = score_cells(specs, ctx, indices, table_path, resume=resume, meta=meta,
                                space=space, retry_errors=retry_errors)
        n_err = count_errors(table)
        new = len(table) - (before if world == 1 else 0)
        click.echo(f"scored {new} cells with {', '.join(s.column for s in specs)} in "
                   f"{time.time() - t0:.0f} s -> {table_path}"
                   + (f" ({len(table)} in the table)" if new != len(table) else "")
                   + (f" ({n_err} cells failed: see the error column)" if n_err else ""))
    if group:
        click.echo(f"{len(group)} supernets of the seed group {run_dir}; correlate them "
                   f"together: proxybench correlate {' '.join(str(t) for _, t in targets)}")


def _rows(path: str | Path) -> int:
    """Complete rows already in a score table (0 when there is none)."""
    try:
        with open(path, "rb") as fh:
            return max(0, fh.read().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def _score_distributed(specs, ctx, indices, out, resume, meta, rank, world):
    """torch.distributed (gloo) scoring: shard files ``OUT.rankR-of-W.csv``, merged by rank 0
    into OUT once every rank is done. Returns the merged table on rank 0, None elsewhere."""
    import torch.distributed as dist

    from .score import merge_tables, score_cells, shard_indices
    dist.init_process_group("gloo")
    try:
        parts = [Path(f"{out}.rank{r}-of-{world}.csv") for r in range(world)]
        score_cells(specs, ctx, shard_indices(indices, rank, world), parts[rank],
                    resume=resume, progress=rank == 0,
                    meta={**meta, "rank": rank, "world_size": world})
        dist.barrier()
        if rank != 0:
            return None
        table = merge_tables(parts, out)
        from .runio import atomic_write_json
        atomic_write_json(Path(out).with_suffix(".json"),
                          {**json.loads(parts[0].with_suffix(".json").read_text()),
                           "rank": None, "world_size": world, "cells": len(indices),
                           "shards": [str(p) for p in parts]})
        return table
    finally:
        dist.barrier()
        dist.destroy_process_group()


def _cell_selection(text: str, seed: int, space: str = "nb201") -> list:
    from .spaces import nb201
    if space == "darts":
        return _darts_selection(text, seed)
    if text == "all":
        return list(range(nb201.NUM_CELLS))
    if Path(text).is_file():
        return _cells_from_file(Path(text))
    try:
        n = int(text)
    except ValueError:
        raise click.BadParameter(f"--cells must be 'all', a number or a file of cell "
                                 f"indices, got {text!r}") from None
    return nb201.sample_cells(n, seed)


def _cells_from_file(path: Path) -> list[int]:
    from .spaces import nb201
    cells = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            i = int(line)
        except ValueError:
            raise click.BadParameter(f"{path}:{n}: {line.strip()!r} is not a cell index; the "
                                     f"file holds one NB201 index (0-15624) per line") from None
        if not 0 <= i < nb201.NUM_CELLS:
            raise click.BadParameter(f"{path}:{n}: cell index {i} is outside 0-15624")
        cells.append(i)
    if not cells:
        raise click.BadParameter(f"{path} names no cell; put one NB201 index (0-15624) per "
                                 f"line, or pass --cells all or a number")
    if len(set(cells)) != len(cells):
        raise click.BadParameter(f"{path} names a cell twice")
    return cells


@main.command()
@click.argument("parts", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@friendly
def merge(parts, out) -> None:
    """Merge score tables of disjoint cell sets (shards run on several machines) into one.

    \b
    proxybench score ... --cells part1.txt --out a.csv     # machine 1
    proxybench score ... --cells part2.txt --out b.csv     # machine 2
    proxybench merge a.csv b.csv --out scores.csv
    """
    from .runio import atomic_write_json
    from .score import merge_tables, merged_meta
    table = merge_tables(parts, out)
    # provenance: the parts' common settings and fingerprint, and each part's own .json
    atomic_write_json(Path(out).with_suffix(".json"),
                      {**merged_meta(parts, table), "command": " ".join(sys.argv)})
    click.echo(f"merged {len(parts)} tables: {len(table)} cells -> {out}")


def _darts_selection(text: str, seed: int) -> list[str]:
    """N distinct seeded random genotypes (canonical text): the DARTS space has no 'all'."""
    import random

    from .spaces import darts
    if not text.isdigit() or int(text) < 1:
        raise click.BadParameter(f"--cells must be a number N >= 1 for the DARTS space (it "
                                 f"cannot be enumerated), got {text!r}")
    rng, keys = random.Random(seed), []
    while len(keys) < int(text):
        key = darts.genotype_key(darts.sample(rng))
        if key not in keys:
            keys.append(key)
    return keys


# --------------------------------------------------------------------------- correlate
@main.command()
@click.argument("scores", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--dataset", type=click.Choice(["cifar10", "cifar100", "imagenet16-120"]),
              default=DEFAULT_DATASET, show_default=True, help="Ground-truth column.")
@click.option("--ground-truth", type=click.Path(dir_okay=False), default=None,
              help="NB201 table (CSV) or official .pth; default $PROXYBENCH_NB201.")
@click.option("--proxy", "columns", multiple=True,
              help="Score column(s) to correlate (default: every proxy column).")
@click.option("--between", nargs=2, default=None,
              help="Correlate two score columns with each other instead of ground truth; "
                   "COL@N takes COL from the N-th table (the same proxy, two seeds).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples for the 95% CIs (0: none).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--cell-set", "cell_set", type=click.Choice(["all", "distinct", "unique"]),
              default="all", show_default=True,
              help="Cell set: every scored cell, one per pruned form (distinct), or one per "
                   "isomorphism class (unique, as some papers report).")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Output prefix (default: SCORES without .csv + '.correlate'); writes "
                   ".csv and .json.")
@friendly
def correlate(scores, dataset, ground_truth, columns, between, bootstrap, seed, cell_set,
              out) -> None:
    """Kendall tau, Spearman rho and top-k precision of proxies against NB201 ground truth.

    The same proxy in several tables (one per supernet of a seed group, `score --run
    GROUP`) is treated as replicates: mean ± sd over them, a hierarchical bootstrap CI
    (replicates, then cells), the seed ensemble's tau, and each replicate's tau.

    \b
    proxybench correlate flatness.csv --dataset cifar10
    proxybench correlate flatness.seed-*.csv --dataset cifar10       # seed replicates
    proxybench correlate flatness.csv angle.csv --between angle flatness   # paper Table 1
    """
    from .correlation import correlate_table, protocol
    from .runio import atomic_write_json
    result = correlate_table(scores, dataset=dataset, ground_truth=ground_truth,
                             columns=list(columns), between=between, n_boot=bootstrap,
                             seed=seed, cells=cell_set)
    prefix = str(out).removesuffix(".csv") if out else \
        str(Path(scores[0]).with_suffix("")) + (".between" if between else ".correlate")
    csv_path, json_path = Path(prefix + ".csv"), Path(prefix + ".json")
    if any(csv_path.resolve() == Path(s).resolve() for s in scores):
        raise click.ClickException(f"--out {out} would overwrite the score table; pick another")
    result.to_csv(csv_path, index=False)
    text = protocol(dataset, ground_truth, cell_set)
    atomic_write_json(json_path, {"scores": list(scores), "dataset": dataset,
                                  "between": between, "bootstrap": bootstrap, "seed": seed,
                                  "cells": cell_set, "protocol": text,
                                  "rows": result.to_dict("records")})
    click.echo(_format_correlation(result))
    if not between:
        click.echo(f"Protocol: {text}.")
    click.echo(f"-> {csv_path}, {json_path}")


def _format_correlation(df: pd.DataFrame) -> str:
    """One line per proxy and metric; a proxy scored on several replicates (e.g. supernets
    of different training seeds) shows mean ± sd over them, the hierarchical CI (replicates
    and cells resampled) and the seed ensemble, then each replicate's tau."""
    lines = [f"{'proxy':28s} {'metric':13s} {'value':>8s}  95% CI              n"]
    summary = df[df["replicate"] == "all"] if "replicate" in df else df
    for r in summary.itertuples():
        ci = (f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]" if pd.notna(r.ci_low) else "")
        line = f"{r.proxy:28s} {r.metric:13s} {r.value:+8.4f}  {ci:19s} {r.n}"
        if getattr(r, "replicates", 1) > 1:
            line += (f"  ± {r.sd:.4f} sd over {r.replicates} replicates (cell-bootstrap sd "
                     f"{r.cell_sd:.4f}); seed ensemble {r.ensemble:+.4f}")
        lines.append(line)
    if "replicate" in df:
        per = df[(df["replicate"] != "all") & (df["metric"] == "kendall_tau")]
        for r in per.itertuples():
            lines.append(f"  {r.proxy:26s} tau {r.value:+.4f} [{r.ci_low:+.4f}, "
                         f"{r.ci_high:+.4f}]  {r.replicate}")
    if (summary.get("replicates", pd.Series([1])) > 1).any():
        lines.append("Replicated proxies: value = mean over replicates; 95% CI from a "
                     "hierarchical bootstrap (replicates, then cells).")
    return "\n".join(lines)


# --------------------------------------------------------------------------- combine
@main.command()
@click.argument("scores", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--terms", required=True,
              help="Columns to combine, comma-separated: S,F for Eq. (5) (e.g. angle,flatness).")
@click.option("--method", type=click.Choice(["linear", "rank", "logrank"]), default="linear",
              show_default=True, help="linear: Eq. (5) S + gamma*beta*F; rank: mean rank; "
              "logrank: sum of log(rank/N) (AZ-NAS).")
@click.option("--gamma", type=float, default=1.0, show_default=True, help="Eq. (5)'s gamma.")
@click.option("--beta", type=float, default=None,
              help="Eq. (5)'s beta (default 1/sigma_1 from the flatness run's settings).")
@click.option("--out", required=True, type=click.Path(dir_okay=False))
@friendly
def combine(scores, terms, method, gamma, beta, out) -> None:
    """Combine score columns into a new proxy column: GeNAS Eq. (5) or a rank average.

    \b
    proxybench combine angle.csv flatness.csv --terms angle,flatness --gamma 16 --out c.csv
    """
    from .combine import check_out, combine_tables, write_combined
    check_out(scores, out)
    table, meta = combine_tables(scores, [t.strip() for t in terms.split(",") if t.strip()],
                                 method=method, gamma=gamma, beta=beta)
    from .runio import environment
    write_combined(table, {**meta, "command": " ".join(sys.argv),
                           "environment": environment()}, out)
    share = (f"; flatness share {meta['flatness_share_percent']:.0f}%"
             if "flatness_share_percent" in meta else "")
    click.echo(f"{meta['column']} for {len(table)} cells{share} -> {out}")


# --------------------------------------------------------------------------- search
@main.command()
@SPACE
@click.option("--proxy", required=True,
              help="Proxy (with options) or a column of a --scores table (e.g. a combination).")
@click.option("--scores", "tables", multiple=True, type=click.Path(dir_okay=False),
              help="Score table(s) to read the proxy from instead of recomputing.")
@click.option("--run", "--run-dir", "run_dir", type=click.Path(file_okay=False), default=None,
              help="Training run, to score proposed cells that no table holds.")
@click.option("--algorithm", type=click.Choice(["evolution", "random"]), default="evolution",
              show_default=True)
@click.option("--population", type=click.IntRange(min=2), default=100, show_default=True)
@click.option("--iterations", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--parents", type=click.IntRange(min=1), default=None,
              help="Top-k parents (default population/5).")
@click.option("--mutation-prob", type=click.FloatRange(0, 1, min_open=True), default=0.1,
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--repeats", type=click.IntRange(min=1), default=1, show_default=True,
              help="Seeds seed..seed+R-1; reports mean ± std of the found cells' accuracy.")
@click.option("--ground-truth", type=click.Path(dir_okay=False), default=None,
              help="NB201 table (default $PROXYBENCH_NB201): accuracy and rank of the finds.")
@click.option("--gamma", type=float, default=1.0, show_default=True,
              help="DARTS: gamma of GeNAS Eq. (5) when --proxy names two proxies "
                   "('angle;flatness:...').")
@click.option("--device", default="cpu", show_default=True,
              help="DARTS: device for scoring (cpu, cuda, cuda:N).")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@friendly
def search(space, proxy, tables, run_dir, algorithm, population, iterations, parents,
           mutation_prob, seed, repeats, ground_truth, gamma, device, out) -> None:
    """Evolutionary (SPOS/RLNAS) or random search maximising a proxy.

    \b
    proxybench search --proxy flatness --scores runs/c10/flatness.csv --repeats 5 --out s/
    proxybench search --space darts --run runs/darts --proxy flatness:sigmas=1e-5/5e-5/1e-4 \
        --population 50 --iterations 20 --out s-darts/
    """
    if space == "darts":
        from .search_darts import run_darts_search
        if tables or repeats != 1:
            raise click.ClickException("DARTS search scores through --run; --scores and "
                                       "--repeats are NB201 options")
        run_darts_search(proxy=proxy, run_dir=run_dir, algorithm=algorithm,
                         population=population, iterations=iterations, parents=parents,
                         mutation_prob=mutation_prob, seed=seed, gamma=gamma, out=out,
                         preset_overrides={}, device=device, echo=click.echo)
        return
    from .groundtruth import default_path
    from .search_cli import run_search
    gt = ground_truth or (str(default_path()) if default_path() else None)
    run_search(proxy=proxy, tables=list(tables), run_dir=run_dir, algorithm=algorithm,
               population=population, iterations=iterations, parents=parents,
               mutation_prob=mutation_prob, seed=seed, repeats=repeats, ground_truth=gt,
               out=out, preset_overrides={}, echo=click.echo)


# --------------------------------------------------------------------------- retrain
@main.command()
@click.option("--genotype", "genotype_spec", required=True,
              help="A known cell (DARTS_V2, GENAS_FLATNESS_CIFAR10, ...), a genotype JSON file "
                   "(e.g. a search's genotype.json) or Genotype(...) text.")
@click.option("--dataset", type=click.Choice(["cifar10", "cifar100"]), default=DEFAULT_DATASET,
              show_default=True)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Dataset folder. Omit only for a synthetic smoke run.")
@click.option("--preset", default="cpu", show_default=True,
              help="paper (DARTS/PC-DARTS CIFAR: C=36, 20 cells, 600 epochs, GPU) | cpu "
                   "(2-core CPU, ~10 min) | tiny (tests).")
@click.option("--init-channels", default=None,
              help="Override C, or 'auto': the C whose FLOPs are closest to --target-mflops.")
@click.option("--target-mflops", type=float, default=None,
              help="FLOPs target (M multiply-adds) of --init-channels auto (default: the "
                   "preset's).")
@click.option("--layers", type=int, default=None, help="Override the number of cells.")
@click.option("--epochs", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--train-images", type=int, default=None, help="0 = all.")
@click.option("--test-images", type=int, default=None, help="0 = all.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--resume", is_flag=True, help="Continue the run in --out after a stop.")
@click.option("--threads", type=click.IntRange(min=1), default=None)
@click.option("--device", default="auto", show_default=True)
@friendly
def retrain(genotype_spec, dataset, data_dir, preset, init_channels, target_mflops, layers,
            epochs, batch_size, train_images, test_images, seed, out, resume, threads,
            device) -> None:
    """Train a DARTS genotype from scratch; report params, FLOPs and test accuracy.

    \b
    proxybench retrain --genotype DARTS_V2 --data-dir DIR --preset cpu --out runs/rt-dv2
    proxybench retrain --genotype s-darts/genotype.json --data-dir DIR --preset cpu --out rt
    """
    from .retrain import (
        RetrainConfig,
        RetrainError,
        auto_channels,
        get_retrain_preset,
    )
    from .retrain import retrain as run_retrain
    from .spaces import darts
    _threads(threads)
    genotype, label = darts.resolve_genotype(genotype_spec)
    auto = init_channels is not None and str(init_channels).lower() == "auto"
    if init_channels is not None and not auto and not str(init_channels).isdigit():
        raise RetrainError(f"--init-channels must be a number or 'auto', got {init_channels!r}")
    p = get_retrain_preset(preset, init_channels=None if auto or init_channels is None
                           else int(init_channels), layers=layers, epochs=epochs,
                           batch_size=batch_size, train_images=train_images,
                           test_images=test_images, target_mflops=target_mflops)
    if auto:
        c, mflops = auto_channels(genotype, p.target_mflops, p.layers,
                                  100 if dataset == "cifar100" else 10, 32)
        click.echo(f"--init-channels auto: C={c} gives {mflops:.1f} M multiply-adds "
                   f"(target {p.target_mflops:g})")
        p = get_retrain_preset(preset, **{**p.to_dict(), "init_channels": c})
    if data_dir is not None and not Path(data_dir).is_dir():
        raise RetrainError(f"--data-dir {data_dir} does not exist")
    cfg = RetrainConfig(genotype, label, dataset, data_dir and str(Path(data_dir).resolve()),
                        preset, p, seed)
    res = run_retrain(cfg, out, resume=resume, device=device, echo=click.echo)
    click.echo(f"{label}: {res['params_m']:.2f} M params, {res['mflops']:.1f} M FLOPs, test "
               f"accuracy {res['test_acc']:.2f}% on {res['test_images']} {dataset} test images "
               f"({res['wall_seconds']:.0f} s) -> {Path(out) / 'result.json'}")


@main.command()
@click.argument("spec", metavar="GENOTYPE")
@click.option("--target-mflops", type=float, default=600.0, show_default=True,
              help="ImageNet FLOPs budget to size the cell for (GeNAS: ~600 M).")
@click.option("--draw", type=click.Path(dir_okay=False), default=None,
              help="Also draw the cell diagram to this PNG (and .svg).")
@friendly
def genotype(spec, target_mflops, draw) -> None:
    """Describe a DARTS genotype (a known name, JSON file or text): canonical form, size on
    CIFAR (C=36, 20 cells) and the init channels for the ImageNet budget.

    \b
    proxybench genotype DARTS_V2
    proxybench genotype s-darts/genotype.json --draw cell.png
    """
    from .darts_nets import DartsNet, count_params_darts
    from .nets import count_flops
    from .retrain import auto_channels
    from .spaces import darts
    g, label = darts.resolve_genotype(spec)
    click.echo(f"name        {label}")
    click.echo(f"genotype    {darts.format_genotype(g)}")
    click.echo(f"canonical   {darts.genotype_key(g)}")
    net = DartsNet(36, 20, 10, g)
    click.echo(f"CIFAR-10    C=36, 20 cells: {count_params_darts(net) / 1e6:.2f} M params, "
               f"{count_flops(net, 32):.0f} M FLOPs")
    c, mflops = auto_channels(g, target_mflops, 14, 1000, 224, "imagenet")
    params = count_params_darts(DartsNet(c, 14, 1000, g, stem="imagenet"))
    click.echo(f"ImageNet    C={c}, 14 cells: {params / 1e6:.2f} M params, {mflops:.0f} M FLOPs "
               f"(closest to {target_mflops:g} M)")
    known = darts.KNOWN_RESULTS.get(label)
    if known:
        click.echo(f"published   ImageNet top-1 {known['top1']} / top-5 {known['top5']} with "
                   f"C={known['init_channels']} ({known['source']})")
    if draw:
        from .darts_plot import draw_genotype
        paths = draw_genotype(g, draw, title=label)
        click.echo(f"-> {', '.join(str(p) for p in paths)}")


# --------------------------------------------------------------------------- ablate
@main.command()
@click.argument("name", type=click.Choice(["sigma", "alpha", "position", "direction", "gamma",
                                           "epochs", "variance", "budget"]))
@click.option("--run", "--run-dir", "run_dirs", required=True, multiple=True,
              type=click.Path(file_okay=False),
              help="Training run (epochs: trained with --save-every); variance: a seed group "
                   "(`train --seeds`); budget: one seed group per budget (repeat --run).")
@click.option("--cells", "cells_opt", default="1000", show_default=True,
              help="'all', N (a seeded sample of N cells, the same for every setting) or a "
                   "file of cell indices.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--levels", type=click.IntRange(min=2), default=4, show_default=True,
              help="variance: levels of the noise-seed and image-sample factors.")
@click.option("--dataset", type=click.Choice(["cifar10", "cifar100", "imagenet16-120"]),
              default=DEFAULT_DATASET, show_default=True)
@click.option("--ground-truth", type=click.Path(dir_okay=False), default=None)
@click.option("--bootstrap", type=click.IntRange(min=0), default=200, show_default=True)
@click.option("--retry-errors", is_flag=True,
              help="Score again the cells whose error column is set in the cached tables.")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@friendly
def ablate(name, run_dirs, cells_opt, seed, levels, dataset, ground_truth, bootstrap,
           retry_errors, out) -> None:
    """Run one of the paper's ablations (Tables 5-10, plus supernet epochs) as Kendall tau,
    or a trust study: where tau's variance comes from, and tau vs training budget.

    \b
    proxybench ablate sigma --run runs/c10 --cells 1000 --out runs/c10/ablate
    proxybench ablate variance --run runs/c10-seeds --cells 1000 --out runs/ablate
    proxybench ablate budget --run runs/e15 --run runs/e30 --run runs/e60 --out runs/ablate
    """
    from .ablate import run_ablation
    table = run_ablation(name, run_dir=list(run_dirs), indices=_cell_selection(cells_opt, seed),
                         out=out, ground_truth=ground_truth, dataset=dataset,
                         n_boot=bootstrap, echo=click.echo, retry_errors=retry_errors,
                         levels=levels)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    click.echo(f"-> {Path(out) / (name + '.csv')}")


# --------------------------------------------------------------------------- report
@main.command()
@click.option("--scores", multiple=True, type=click.Path(dir_okay=False),
              help="Score tables (repeat the option).")
@click.option("--seed-tables", "seed_tables", multiple=True, type=click.Path(dir_okay=False),
              help="Score tables of the supernets of one seed group, one per seed, on the "
                   "same cells (repeat): the leaderboard's cells, with each supernet "
                   "proxy's spread over seeds.")
@click.option("--readme", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Also write the leaderboard into this Markdown file, between the lines "
                   "<!-- leaderboard:begin --> and <!-- leaderboard:end -->.")
@click.option("--search", "searches", multiple=True, type=click.Path(file_okay=False),
              help="Search output folders (repeat the option).")
@click.option("--ablation", "ablations", multiple=True, type=click.Path(dir_okay=False),
              help="Ablation tables written by `proxybench ablate` (repeat the option).")
@click.option("--retrain", "retrains", multiple=True, type=click.Path(file_okay=False),
              help="`proxybench retrain` output folders (DARTS transfer table).")
@click.option("--dataset", type=click.Choice(["cifar10", "cifar100", "imagenet16-120"]),
              default=DEFAULT_DATASET, show_default=True)
@click.option("--ground-truth", type=click.Path(dir_okay=False), default=None,
              help="NB201 table (default $PROXYBENCH_NB201).")
@click.option("--title", default="proxybench report", show_default=True)
@click.option("--bootstrap", type=click.IntRange(min=0), default=200, show_default=True,
              help="Bootstrap resamples for the report's 95% CIs.")
@click.option("--note", "notes", multiple=True, help="A paragraph for the report's header.")
@click.option("--commands", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A text file of the commands behind the results, shown in the header.")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@friendly
def report(scores, seed_tables, readme, searches, ablations, retrains, dataset, ground_truth,
           title, bootstrap, notes, commands, out) -> None:
    """Markdown + self-contained HTML report with tables and plots from score tables."""
    from .groundtruth import default_path
    from .report import build_report
    gt = ground_truth or (str(default_path()) if default_path() else None)
    folder = build_report(out, scores=scores, seeds=seed_tables, searches=searches,
                          ablations=ablations, retrains=retrains, ground_truth=gt,
                          dataset=dataset, title=title, notes=notes, commands=commands,
                          n_boot=bootstrap)
    click.echo(f"-> {folder / 'index.md'}, {folder / 'index.html'}")
    if readme:
        from .report import write_readme_block
        write_readme_block(readme, (folder / "leaderboard.md").read_text())
        click.echo(f"-> the leaderboard in {readme}")


# --------------------------------------------------------------------------- demo
@main.command()
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="CIFAR-10 folder; without it the demo uses synthetic images.")
@click.option("--ground-truth", type=click.Path(dir_okay=False), default=None,
              help="NB201 table; default $PROXYBENCH_NB201, else ../shared/data's copy if "
                   "present.")
@click.option("--out", default="runs/demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--cells", "n_cells", type=click.IntRange(10, 15625), default=200,
              show_default=True, help="Cells to score.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Supernet epochs (default 3 with CIFAR-10, 5 synthetic).")
@friendly
def demo(data_dir, ground_truth, out, n_cells, epochs) -> None:
    """The main job, small: train a tiny supernet, score cells, correlate (~40 s on 2 cores;
    ~80 s with --data-dir)."""
    from .demo import run_demo
    run_demo(data_dir=data_dir, ground_truth=ground_truth, out=out, n_cells=n_cells,
             epochs=epochs, echo=click.echo)


from . import cli_predict  # noqa: E402,F401  (registers predict, ensemble, search-pool)

if __name__ == "__main__":
    main()
