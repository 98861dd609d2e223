"""The ``proxybench`` command line. Commands parse options, call the library
(:mod:`proxybench.api` and the modules it names) and print; shared options are defined once
in :mod:`proxybench.cli.options`.

Every known failure (bad names, malformed strings, missing or corrupt files) ends as one
``Error: ...`` line that says what to do, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pandas as pd

from .. import __version__
from ..run.distributed import default_threads, set_threads
from . import options as O


def friendly(fn):
    """Turn the package's own errors, and file-system errors on the user's paths (an
    unwritable --out, a file where a folder should be), into one clean line (exit code 2)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..errors import OptionError, ProxybenchError, one_line, path_error_line
        made = _new_folders(kwargs.get("out"))
        _no_empty_paths(kwargs)
        try:
            return fn(*args, **kwargs)
        except ProxybenchError as exc:
            _remove_empty(made)
            text = _cli_names(str(exc)) if isinstance(exc, OptionError) else str(exc)
            raise click.ClickException(one_line(text)) from None
        except OSError as exc:
            line = path_error_line(exc)
            if line is None:
                raise
            _remove_empty(made)
            raise click.ClickException(one_line(line)) from None
        except KeyboardInterrupt:
            click.echo("\nInterrupted: work written so far is kept; rerun with --resume.",
                       err=True)
            sys.exit(130)
    return wrapper


_API_NAMES = {"n_boot": "--bootstrap", "metric": "--truth-metric"}


def _cli_names(message: str) -> str:
    """A message of the API's shared option rules ('labels (each) must be ...') as the
    CLI's user typed it ('--labels (each) must be ...')."""
    word, _, rest = message.partition(" ")
    ctx = click.get_current_context(silent=True)
    if ctx is None or not rest or word.startswith("-"):
        return message
    names = {p.name: p.opts[0] for p in ctx.command.params
             if isinstance(p, click.Option) and p.name}
    flag = names.get(word) or (_API_NAMES.get(word) if _API_NAMES.get(word) in
                               names.values() else None)
    return f"{flag} {rest}" if flag else message


def _no_empty_paths(values: dict) -> None:
    """A path option given as '' (or a blank) names no file: refused by its option's name
    before the command runs (Path('') is the current folder, and '.csv' suffixes fail)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return
    for param in ctx.command.params:
        if not isinstance(param.type, click.Path):
            continue
        given = values.get(param.name)
        items = given if isinstance(given, (tuple, list)) else (given,)
        if any(isinstance(v, str) and not v.strip() for v in items):
            name = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
            raise click.BadParameter("an empty path names no file or folder",
                                     param_hint=name)


def _new_folders(out: object) -> list[Path]:
    """The folders a command writing to ``out`` (a file or a folder) would create: ``out``
    itself and its missing parents, nearest first."""
    if not isinstance(out, str) or not out:
        return []
    made, path = [], Path(out)
    while not path.exists() and path != path.parent:
        made.append(path)
        path = path.parent
    return made


def _remove_empty(made: list[Path]) -> None:
    """A refused command leaves no folder behind it created: each of ``made`` that is now
    an empty folder (or holds only empty folders) is removed; files are never touched."""
    import os
    for path in made:
        if not path.is_dir():
            continue
        for root, _dirs, _files in os.walk(path, topdown=False):
            try:
                Path(root).rmdir()          # only succeeds on an empty folder
            except OSError:
                pass


def _notes(quiet: bool) -> Callable[[str], None]:
    """Where progress notes go: the terminal, or nowhere with --quiet."""
    return (lambda _line: None) if quiet else click.echo


def _command() -> str:
    """The command as a user would type it again: the program's name (not this machine's
    path to it) and the arguments shell-quoted."""
    import shlex
    return shlex.join(["proxybench", *sys.argv[1:]])


def _given(param: str) -> bool:
    """Whether the user typed the option (not its default)."""
    source = click.get_current_context().get_parameter_source(param)
    return source is not None and source.name != "DEFAULT"


def _one_run(run_dirs: tuple[str, ...]) -> str | None:
    if len(run_dirs) > 1:
        raise click.UsageError("give one --run here (a run or a seed group); only `ablate "
                               "budget` takes several")
    return run_dirs[0] if run_dirs else None


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
    # every command's torch threads by default: the cores idle now (an explicit --threads or a
    # user's OMP_NUM_THREADS wins); set before torch is imported, so forks and torchrun's
    # ranks inherit it
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(default_threads())


# --------------------------------------------------------------------------- train
@main.command()
@O.SPACE
@O.DATASET
@O.DATA_DIR
@O.PRESET
@O.EPOCHS
@O.BATCH_SIZE
@O.CHANNELS
@O.LAYERS
@O.TRAIN_IMAGES
@click.option("--split-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="NB201 split file for the search train/valid split: cifar-split.txt (halves of "
                   "the training set) or cifar100-/imagenet-16-120-test-split.txt (its xvalid "
                   "half of the test set).")
@click.option("--validation", type=click.Choice(["train", "test"]), default=None,
              help="Where the validation images (val_loss, val_acc, flatness) come from: "
                   "train (half the training set; the other half trains the supernet) or "
                   "test (half the test set; the whole training set trains it). Default: "
                   "the split file's kind, else NB201's protocol (cifar10: train; cifar100, "
                   "imagenet16-120: test; DARTS space: train).")
@click.option("--save-every", type=O.checked("save_every"), default=0, show_default=True,
              help="Also keep a checkpoint every K epochs (for `ablate epochs`).")
@O.SEED
@click.option("--seeds", default=None,
              help="Train a seed group: e.g. 0-4 or 0,2,7 -> OUT/seed-K (runs already "
                   "finished with the same settings are kept).")
@click.option("--sampling", type=click.Choice(["uniform", "distinct", "unique", "fair"]),
              default="uniform", show_default=True,
              help="The path each step trains: uniform (SPOS: each edge an op uniformly), "
                   "distinct (uniform over NB201's 9,445 pruned forms), unique (uniform over "
                   "its 6,466 isomorphism classes, EEPE's de-isomorphic sampling), fair "
                   "(FairNAS: every op of every edge once per 5 steps). DARTS: uniform.")
@click.option("--few-shot-split", "few_shot", default=None, metavar="EDGE:EPOCHS",
              help="Also split each trained supernet on NB201 edge EDGE (0-5) into five "
                   "sub-supernets, one per op, each warm-started and trained EPOCHS epochs "
                   "on its share of the space (few-shot NAS, Zhao et al. 2021); `score "
                   "--few-shot` scores each cell on its own.")
@O.FORCE
@O.out_dir("The run directory (or seed group)")
@O.RESUME
@O.THREADS
@O.DEVICE
@O.QUIET
@friendly
def train(space, dataset, data_dir, preset, epochs, batch_size, channels, layers, train_images,
          split_file, validation, save_every, seed, seeds, sampling, few_shot, force, out,
          resume, threads, device, quiet) -> None:
    """Train a weight-sharing supernet (SPOS single path; --sampling picks the path).

    \b
    Example (the cpu preset, three seeds, de-isomorphic sampling):
      proxybench train --data-dir DATA --preset cpu --sampling unique --seeds 0-2 --out runs/unique

    Runs under torchrun as DDP (gloo on CPU, nccl on GPUs), e.g.
    `torchrun --nproc-per-node=4 -m proxybench train ... --out RUN`.
    """
    from ..api import train as run_train
    from ..run.rundir import parse_seeds
    set_threads(threads)
    run_train(out, dataset=dataset, data_dir=data_dir, preset=preset,
              seeds=parse_seeds(seeds) if seeds is not None else None, seed=seed,
              space=space,
              save_every=save_every, split_file=split_file, validation=validation,
              sampling=sampling, few_shot=few_shot, resume=resume, force=force, device=device,
              progress=not quiet, echo=click.echo, epochs=epochs, batch_size=batch_size,
              channels=channels, layers=layers, train_images=train_images)


# --------------------------------------------------------------------------- cells, arch
@main.command()
@O.SPACE
@O.DATASET
@O.PRESET
@O.CHANNELS
@O.LAYERS
@O.out_file("The table of all cells")
@O.FORCE
@friendly
def cells(space, dataset, preset, channels, layers, out, force) -> None:
    """Write the table of all cells: index, arch, pruned arch, params, FLOPs (of the
    preset's network: paper is NB201's C=16, N=5)."""
    from ..api import cells as cells_table
    from ..run.presets import get_preset
    p = get_preset(preset, space, channels=channels, layers=layers)
    table = cells_table(out, space=space, dataset=dataset, channels=p.channels,
                        layers=p.layers, force=force, command=_command())
    click.echo(f"{len(table)} cells ({table['pruned_arch'].nunique()} distinct after pruning) "
               f"-> {out}")


@main.command()
@click.argument("arch_text", metavar="ARCH")
@O.GROUND_TRUTH
@friendly
def arch(arch_text, ground_truth) -> None:
    """Describe one NB201 cell given as its string or index: index, pruned form, costs.

    \b
    proxybench arch '|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|'
    proxybench arch 6111
    """
    from ..api import arch as arch_info
    a = arch_info(arch_text, ground_truth)
    click.echo(f"arch_index   {a['arch_index']}")
    click.echo(f"arch         {a['arch']}")
    click.echo(f"pruned       {a['pruned']}"
               + ("  (no path from input to output)" if a["disconnected"] else ""))
    click.echo(f"params       {a['params']:,} (live {a['params_live']:,})  [C=16, N=5, "
               f"CIFAR-10]")
    click.echo(f"flops        {a['flops']:.2f} M (live {a['flops_live']:.2f} M)")
    if a["test_acc"]:
        click.echo("test acc (%) " + ", ".join(f"{d} {v:.2f}" for d, v in a["test_acc"].items()))


# --------------------------------------------------------------------------- proxies
def _show(v) -> str:
    return "/".join(f"{x:g}" for x in v) if isinstance(v, tuple) else str(v)


@main.command()
def proxies() -> None:
    """List every proxy: what it measures, what it needs, which direction is better."""
    from ..proxies import all_proxies
    for name, p in sorted(all_proxies().items()):
        direction = "higher" if p.higher_is_better else "lower"
        needs = ", ".join(sorted(p.needs)) or "nothing"
        opts = ", ".join(f"{k}={_show(v)}" for k, v in p.defaults.items())
        click.echo(f"{name:12s} {direction} is better; needs {needs}; spaces "
                   f"{', '.join(p.spaces)}" + ("; also by measure" if p.models else ""))
        click.echo(f"{'':12s} {p.description}")
        if opts:
            click.echo(f"{'':12s} options: {opts}")


# --------------------------------------------------------------------------- measure
@main.command()
@click.option("--network", "model_spec", required=True, metavar="FILE.py:FUNCTION",
              help="Your network: FUNCTION in FILE.py returns a torch.nn.Module (called with "
                   "num_classes=the dataset's classes when it takes that argument).")
@O.PROXY
@O.DATA_DIR
@O.DATASET
@O.BATCH_SIZE
@O.SEED
@O.DEVICE
@O.THREADS
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Also write the values and settings as JSON to this file (.json).")
@friendly
def measure(model_spec, proxy_text, data_dir, dataset, batch_size, seed, device, threads,
            out) -> None:
    """Each proxy's value on your own network (any torch.nn.Module) and a batch of images.

    \b
    Example (models.py defines `def resnet(num_classes): ... return net`):
      proxybench measure --network models.py:resnet --data-dir DATA --proxy 'synflow;meco'
    (--network, not --model: `predict --model` names a predictor.)
    """
    from ..api import measure_files
    set_threads(threads)
    rec = measure_files(model_spec, data_dir, proxy_text, dataset=dataset, images=batch_size,
                        seed=seed or 0, device=device, out=out, command=_command())
    click.echo(f"{model_spec} on {rec['images']} {dataset} images (seed {rec['seed']}, "
               f"{rec['device']}):")
    width = max(len(k) for k in rec["values"])
    for column, value in rec["values"].items():
        click.echo(f"  {column:{width}s}  {value:.10g}")
    if out is not None:
        click.echo(f"-> {out}")


# --------------------------------------------------------------------------- score
@main.command()
@O.SPACE
@O.PROXY
@O.RUN
@O.CHECKPOINT
@O.DATA_DIR
@O.DATASET
@O.PRESET
@O.CELLS
@O.SEED
@O.BN_IMAGES
@O.VAL_IMAGES
@click.option("--chunk", type=O.checked("chunk"), default=None,
              help="Override the preset: images per forward pass (speed; BN statistics are "
                   "averaged over chunks, so it is recorded).")
@click.option("--average", type=O.checked("average"), default=1, show_default=True,
              help="Checkpoint averaging: score the mean weights of the run's last K saved "
                   "checkpoints up to --checkpoint (train with --save-every); 1 = none.")
@click.option("--few-shot/--one-shot", "few_shot", default=None,
              help="Score each cell on its own sub-supernet of the run's few-shot split "
                   "(`train --few-shot-split EDGE:EPOCHS`), or on the one-shot weights. "
                   "Default: as the run was trained (few-shot for --preset cpu-fewshot and "
                   "for runs trained with a split in the same command).")
@click.option("--normalize", type=click.Choice(["dataset", "zero-cost-nas"]),
              default="dataset", show_default=True,
              help="Normalise the scored images with the dataset's statistics, or with "
                   "zero-cost-nas's (CIFAR std 0.2023/0.1994/0.2010).")
@click.option("--augment", is_flag=True,
              help="Crop and flip the scored images as a training loader does (zero-cost-nas "
                   "scores a batch of its augmented loader); seeded.")
@O.out_file("The score table (with --run GROUP: OUT.seed-K.csv per supernet)")
@O.RESUME
@O.RETRY
@O.WORKERS
@O.THREADS
@O.DEVICE
@O.QUIET
@friendly
def score(space, proxy_text, run_dirs, checkpoint, data_dir, dataset, preset, cells_opt,
          seed, bn_images, val_images, chunk, average, few_shot, normalize, augment, out,
          resume, retry_errors, workers, threads, device, quiet) -> None:
    """Score cells with proxies into a table (resumable). Supernet proxies need --run;
    zero-cost proxies use --data-dir and the preset's network (NB201's at `paper`).

    \b
    Examples:
      proxybench score --run runs/c10 --proxy "flatness;val_loss" --cells 1000 --out runs/c10/sn.csv
      proxybench score --run runs/c10 --proxy val_loss --average 3 --out runs/c10/avg3.csv
      proxybench score --run runs/c10 --proxy val_loss --few-shot --out runs/c10/fs.csv
      proxybench score --proxy "synflow;nwot" --data-dir DATA --cells 1000 --out runs/zc.csv
    """
    import time

    from ..api import score_files
    from ..table import count_errors
    set_threads(threads)
    run_dir = _one_run(run_dirs)
    if run_dir is not None and not _given("dataset"):
        dataset = None          # the run's own data set
    t0 = time.time()
    done = score_files(proxy_text, out, run=run_dir, space=space, cells=cells_opt, seed=seed,
                       checkpoint=checkpoint, average=average, few_shot=few_shot,
                       data_dir=data_dir,
                       dataset=dataset, preset=preset, overrides={"bn_images": bn_images,
                                                 "val_images": val_images, "chunk": chunk},
                       resume=resume, retry_errors=retry_errors, device=device,
                       progress=not quiet, workers=workers, threads=threads,
                       normalize=normalize, augment=augment, command=_command())
    for d in done:
        if d.table is None:
            continue
        n_err = count_errors(d.table)
        click.echo(f"scored {d.new_rows} cells in {time.time() - t0:.0f} s -> {d.path}"
                   + (f" ({len(d.table)} in the table)" if d.new_rows != len(d.table) else "")
                   + (f" ({n_err} cells failed: see the error column)" if n_err else ""))
    if len(done) > 1:
        click.echo(f"{len(done)} supernets of the seed group {run_dir}; correlate them "
                   f"together: proxybench correlate {' '.join(str(d.path) for d in done)}")


@main.command()
@click.argument("parts", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True))
@O.out_file("The merged table")
@O.FORCE
@friendly
def merge(parts, out, force) -> None:
    """Merge score tables of disjoint cell sets (shards run on several machines) into one.

    \b
    proxybench score ... --cells part1.txt --out a.csv     # machine 1
    proxybench score ... --cells part2.txt --out b.csv     # machine 2
    proxybench merge a.csv b.csv --out scores.csv
    """
    from ..api import merge as merge_parts
    table = merge_parts(parts, out, force=force, command=_command())
    click.echo(f"merged {len(parts)} tables: {len(table)} cells -> {out}")


# --------------------------------------------------------------------------- correlate
@main.command()
@click.argument("scores", nargs=-1, required=True, type=click.Path(dir_okay=False))
@O.DATASET
@O.GROUND_TRUTH
@O.TRUTH_METRIC
@O.COLUMNS
@click.option("--between", nargs=2, default=None,
              help="Correlate two score columns with each other instead of ground truth; "
                   "COL@N takes COL from the N-th table (the same proxy, two seeds).")
@O.BOOTSTRAP
@O.SEED
@click.option("--cell-set", "cell_set", type=click.Choice(["all", "distinct", "unique"]),
              default="all", show_default=True,
              help="Cell set: every scored cell, one per pruned form (distinct), or one per "
                   "isomorphism class (unique, as some papers report).")
@click.option("--top-k", "top_k", default="1,5,10", show_default=True,
              help="Top-k precision levels, in percent of the cells (comma-separated).")
@O.NDCG_K
@O.MISSING
@O.CELLS
@click.option("--within-edge", "within_edge", type=click.IntRange(0, 5), default=None,
              metavar="EDGE",
              help="NB201: also Kendall tau within each group of cells whose pruned form has "
                   "one op on EDGE (0-5), and their pairs-weighted mean: how well a proxy "
                   "ranks inside a few-shot sub-supernet's share, not only between shares.")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Result table (.csv, with .json beside it; default: the first table's "
                   "name + .correlate.csv).")
@friendly
def correlate(scores, dataset, ground_truth, truth_metric, columns, between, bootstrap, seed,
              cell_set, top_k, ndcg_k, missing, cells_opt, within_edge, out) -> None:
    """Kendall tau, Spearman rho, top-k precision and nDCG of proxies against NB201.

    The same proxy in several tables (one per supernet of a seed group, `score --run
    GROUP`) is treated as replicates: mean ± sd over them, a hierarchical bootstrap CI
    (replicates, then cells), the seed ensemble's tau, and each replicate's tau.

    \b
    proxybench correlate flatness.csv --dataset cifar10
    proxybench correlate flatness.seed-*.csv --dataset cifar10       # seed replicates
    proxybench correlate flatness.csv angle.csv --between angle flatness   # paper Table 1
    proxybench correlate fs.seed-*.csv --column val_loss --within-edge 0  # inside groups
    proxybench correlate fs.seed-*.csv --cells 200 --seed 0   # on a smaller table's sample
    """
    from ..api import correlate_files
    if within_edge is not None and between:
        raise click.BadParameter("--within-edge correlates proxies with ground truth; it does "
                                 "not go with --between", param_hint="--within-edge")
    if bootstrap > 0:
        click.echo(f"correlating {len(scores)} table(s), {bootstrap} bootstrap resamples per "
                   f"proxy and statistic ...", err=True)
    result, csv_path, text = correlate_files(
        scores, dataset=dataset, ground_truth=ground_truth, columns=columns, between=between,
        n_boot=bootstrap, seed=seed or 0, cell_set=cell_set, out=out,
        top_k=_percents(top_k), metric=truth_metric, missing=missing, ndcg_k=ndcg_k,
        within_edge=within_edge, cells=cells_opt)
    click.echo(_format_correlation(result))
    if not between:
        click.echo(f"Protocol: {text}.")
    click.echo(f"-> {csv_path}, {csv_path.with_suffix('.json')}")


def _percents(text: str) -> list[float]:
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"--top-k takes percents like 1,5,10, got {text!r}") from None
    if not levels or not all(0 < x <= 100 for x in levels):
        raise click.BadParameter(f"--top-k levels must be in (0, 100], got {text!r}")
    return levels


def _format_correlation(df: pd.DataFrame) -> str:
    """One line per proxy and metric; a proxy scored on several replicates (e.g. supernets
    of different training seeds) shows mean ± sd over them, the hierarchical CI (replicates
    and cells resampled) and the seed ensemble, then each replicate's tau."""
    width = max([13, *(len(m) for m in df["metric"])])
    lines = [f"{'proxy':28s} {'metric':{width}s} {'value':>8s}  95% CI              n"]
    summary = df[df["replicate"] == "all"] if "replicate" in df else df
    for r in summary.itertuples():
        ci = (f"[{r.ci_low:+.4f}, {r.ci_high:+.4f}]" if pd.notna(r.ci_low) else "")
        failed = getattr(r, "failed", 0)
        line = (f"{r.proxy:28s} {r.metric:{width}s} {r.value:+8.4f}  {ci:19s} {r.n}"
                + (f" ({int(failed)} failed)" if failed == failed and failed else ""))
        if getattr(r, "replicates", 1) > 1:
            line += f"  ± {r.sd:.4f} sd over {r.replicates} replicates"
            if pd.notna(getattr(r, "cell_sd", float("nan"))):   # not in within-group rows
                line += (f" (cell-bootstrap sd {r.cell_sd:.4f}); seed ensemble "
                         f"{r.ensemble:+.4f}")
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
@O.GAMMA
@click.option("--beta", type=O.checked("beta"), default=None,
              help="Eq. (5)'s beta (default 1/sigma_1 from the flatness run's settings).")
@O.MISSING
@click.option("--name", default=None,
              help="Name of the new column (default: its formula, e.g. logrank(a+b)).")
@O.out_file("The combined table")
@O.FORCE
@friendly
def combine(scores, terms, method, gamma, beta, missing, name, out, force) -> None:
    """Combine score columns into a new proxy: GeNAS Eq. (5) or a rank average.

    \b
    proxybench combine angle.csv flatness.csv --terms angle,flatness --gamma 16 --out c.csv
    """
    from ..api import combine as combine_columns
    table, meta = combine_columns(scores, [t.strip() for t in terms.split(",") if t.strip()],
                                  out, method=method, gamma=gamma, beta=beta,
                                  missing=missing, name=name, force=force,
                                  command=_command())
    share = (f"; flatness share {meta['flatness_share_percent']:.0f}%"
             if "flatness_share_percent" in meta else "")
    click.echo(f"{meta['column']} for {len(table)} cells{share} -> {out}")


# --------------------------------------------------------------------------- suite-zero
@main.command("import-suite-zero")
@click.argument("file", type=click.Path(dir_okay=False))
@O.DATASET
@O.out_file("The imported table")
@O.FORCE
@friendly
def import_suite_zero(file, dataset, out, force) -> None:
    """One dataset of NAS-Bench-Suite-Zero's precomputed zero-cost scores as a score table
    (its .json records the file's name and sha256): correlate, combine, ensemble, predict
    and search-pool then run on it.

    \b
    proxybench import-suite-zero zc_nasbench201.json --dataset cifar10 --out sz.csv
    proxybench correlate sz.csv --dataset cifar10
    """
    from ..api import import_suite_zero as import_file
    table, meta = import_file(file, out, dataset=dataset, force=force, command=_command())
    proxies = [p["column"] for p in meta["proxies"]]
    failed = f", {meta['errors']} with a non-finite score" if meta["errors"] else ""
    click.echo(f"{len(table):,} cells{failed}, {len(proxies)} proxies ({', '.join(proxies)}) "
               f"from {Path(file).name} (sha256 {meta['source']['sha256'][:12]}) -> {out}")


@main.command("export-suite-zero")
@click.argument("tables", nargs=-1, required=True, type=click.Path(dir_okay=False))
@O.DATASET
@O.GROUND_TRUTH
@O.TRUTH_METRIC
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="The Suite-Zero file to write (.json; NASLib reads it with "
                   "get_zc_benchmark_api).")
@O.FORCE
@friendly
def export_suite_zero(tables, dataset, ground_truth, truth_metric, out, force) -> None:
    """Write score tables in NAS-Bench-Suite-Zero's layout: per NASLib cell key, each
    proxy's score and seconds, and val_accuracy (Suite-Zero's own for an imported table,
    else the ground truth); lower-is-better columns are negated, as NASLib ranks every
    score higher-is-better.

    \b
    proxybench export-suite-zero zc.csv cells.csv --dataset cifar10 --out zc_nasbench201.json
    """
    from ..api import export_suite_zero as export_tables
    summary = export_tables(tables, out, dataset=dataset, ground_truth=ground_truth,
                            metric=truth_metric, force=force)
    negated = (f"; negated (lower is better): {', '.join(summary['negated'])}"
               if summary["negated"] else "")
    click.echo(f"{summary['cells']:,} cells x {len(summary['proxies'])} proxies "
               f"({', '.join(summary['proxies'])}) as {summary['dataset_key']!r}; "
               f"val_accuracy: {summary['val_accuracy']}{negated} -> {out}")


# --------------------------------------------------------------------------- search
@main.command()
@O.SPACE
@O.PROXY
@O.SCORES
@O.RUN
@click.option("--algorithm", type=click.Choice(["evolution", "random"]), default="evolution",
              show_default=True)
@O.POPULATION
@click.option("--iterations", type=O.checked("iterations"), default=20, show_default=True)
@click.option("--parents", type=O.checked("parents"), default=None,
              help="Top-k parents (default population/5).")
@O.MUTATION_PROB
@O.SEED
@O.REPEATS
@O.GROUND_TRUTH
@O.TRUTH_METRIC
@O.GAMMA
@O.THREADS
@O.DEVICE
@O.QUIET
@O.out_dir("Where the finds, history and summary go")
@friendly
def search(space, proxy_text, tables, run_dirs, algorithm, population, iterations, parents,
           mutation_prob, seed, repeats, ground_truth, truth_metric, gamma, threads, device,
           quiet, out) -> None:
    """Evolutionary (SPOS/RLNAS) or random search maximising a proxy.

    \b
    proxybench search --proxy flatness --scores runs/c10/flatness.csv --repeats 5 --out s/
    proxybench search --space darts --run runs/darts --proxy flatness:sigmas=1e-5/5e-5/1e-4 --population 50 --iterations 20 --out s-darts/
    """  # noqa: E501
    from ..analysis.groundtruth import resolve as resolve_gt
    from ..search.run import run_search
    set_threads(threads)
    gt = resolve_gt(ground_truth)
    run_search(proxy=proxy_text, space=space, tables=list(tables), run_dir=_one_run(run_dirs),
               algorithm=algorithm, population=population, iterations=iterations,
               parents=parents, mutation_prob=mutation_prob, seed=seed or 0, repeats=repeats,
               ground_truth=gt, metric=truth_metric, gamma=gamma, out=out, device=device,
               echo=click.echo)


# --------------------------------------------------------------------------- retrain
@main.command()
@click.option("--genotype", "genotype_spec", required=True,
              help="A known cell (DARTS_V2, GENAS_FLATNESS_CIFAR10, ...), a genotype JSON file "
                   "(e.g. a search's genotype.json) or Genotype(...) text.")
@O.DATASET
@O.DATA_DIR
@O.PRESET
@click.option("--init-channels", default=None,
              help="Override C, or 'auto': the C whose FLOPs are closest to --target-mflops.")
@O.TARGET_MFLOPS
@O.LAYERS
@O.EPOCHS
@O.BATCH_SIZE
@O.TRAIN_IMAGES
@click.option("--test-images", type=O.checked("test_images"), default=None, help="0 = all.")
@O.SEED
@O.out_dir("The retraining run")
@O.RESUME
@O.THREADS
@O.DEVICE
@O.QUIET
@friendly
def retrain(genotype_spec, dataset, data_dir, preset, init_channels, target_mflops, layers,
            epochs, batch_size, train_images, test_images, seed, out, resume, threads,
            device, quiet) -> None:
    """Train a DARTS genotype from scratch; report params, FLOPs and test accuracy.

    \b
    proxybench retrain --genotype DARTS_V2 --data-dir DIR --preset cpu --out runs/rt-dv2
    proxybench retrain --genotype s-darts/genotype.json --data-dir DIR --preset cpu --out rt
    """
    from ..api import retrain as run_retrain
    set_threads(threads)
    res = run_retrain(genotype_spec, out, dataset=dataset, data_dir=data_dir, preset=preset,
                      seed=seed or 0, init_channels=init_channels, target_mflops=target_mflops,
                      resume=resume, device=device, progress=not quiet, echo=_notes(quiet),
                      layers=layers, epochs=epochs, batch_size=batch_size,
                      train_images=train_images, test_images=test_images)
    click.echo(f"{res['label']}: {res['params_m']:.2f} M params, {res['mflops']:.1f} M FLOPs, "
               f"test accuracy {res['test_acc']:.2f}% on {res['test_images']} {dataset} test "
               f"images ({res['wall_seconds']:.0f} s) -> {Path(out) / 'result.json'}")


@main.command()
@click.argument("spec", metavar="GENOTYPE")
@O.TARGET_MFLOPS
@click.option("--draw", type=click.Path(dir_okay=False), default=None,
              help="Also draw the cell diagram to this PNG (and .svg).")
@O.THREADS
@friendly
def genotype(spec, target_mflops, draw, threads) -> None:
    """Describe a DARTS genotype (a known name, JSON file or text): canonical form, size on
    CIFAR (C=36, 20 cells) and the init channels for the ImageNet budget.

    \b
    proxybench genotype DARTS_V2
    proxybench genotype s-darts/genotype.json --draw cell.png
    """
    from ..run.retrain import genotype_summary
    set_threads(threads)
    if draw:
        from ..report.darts_plot import check_draw_path
        check_draw_path(draw)
    click.echo("counting parameters and FLOPs on CIFAR and ImageNet networks (seconds) ...",
               err=True)
    s = genotype_summary(spec, target_mflops or 600.0)
    click.echo(f"name        {s['name']}")
    click.echo(f"genotype    {s['text']}")
    click.echo(f"canonical   {s['canonical']}")
    click.echo(f"CIFAR-10    C=36, 20 cells: {s['cifar_params_m']:.2f} M params, "
               f"{s['cifar_mflops']:.0f} M FLOPs")
    click.echo(f"ImageNet    C={s['imagenet_channels']}, 14 cells: {s['imagenet_params_m']:.2f} "
               f"M params, {s['imagenet_mflops']:.0f} M FLOPs (closest to "
               f"{target_mflops or 600.0:g} M)")
    known = s["published"]
    if known:
        click.echo(f"published   ImageNet top-1 {known['top1']} / top-5 {known['top5']} with "
                   f"C={known['init_channels']} ({known['source']})")
    if draw:
        from ..report.darts_plot import draw_genotype
        paths = draw_genotype(s["genotype"], draw, title=s["name"])
        click.echo(f"-> {', '.join(str(p) for p in paths)}")


# --------------------------------------------------------------------------- ablate
@main.command()
@click.argument("name", type=click.Choice(["sigma", "alpha", "position", "direction", "gamma",
                                           "epochs", "variance", "budget", "levers"]))
@O.RUN
@click.option("--lever", "levers", multiple=True, type=click.Path(),
              help="levers: a seed group (its GROUP/supernet.seed-K.csv tables) or a group's "
                   "table GROUP/NAME.csv (GROUP/NAME.seed-K.csv); repeat, the baseline first.")
@click.option("--keep", type=click.Path(dir_okay=False, exists=True), default=None,
              help="levers: an earlier levers.csv whose rows of levers not given here are "
                   "kept (levers measured on another machine), once its baseline is checked "
                   "to be this one. levers: every lever is measured on the --cells given "
                   "(default: the cells all their tables share). epochs: an earlier "
                   "epochs.csv of the same setting whose seeds not trained here are kept.")
@O.CELLS
@O.SEED
@click.option("--levels", type=O.checked("levels"), default=4, show_default=True,
              help="variance: levels of the noise-seed and image-sample factors.")
@click.option("--at-epochs", default=None,
              help="epochs: the saved checkpoints to score, e.g. 10,25,50,100,250 (default: "
                   "every one saved). A run still training is scored at those saved so far; "
                   "run again to add the rest.")
@O.BN_IMAGES
@O.VAL_IMAGES
@O.DATASET
@O.GROUND_TRUTH
@O.TRUTH_METRIC
@O.BOOTSTRAP
@O.RETRY
@O.WORKERS
@O.THREADS
@O.DEVICE
@O.QUIET
@O.out_dir("Where OUT/<name>.csv and the scored tables go")
@friendly
def ablate(name, run_dirs, levers, keep, cells_opt, seed, levels, at_epochs, bn_images,
           val_images, dataset, ground_truth, truth_metric, bootstrap, retry_errors, workers,
           threads, device, quiet, out) -> None:
    """Run one of the paper's ablations (Tables 5-10, plus supernet epochs) as Kendall tau,
    or a trust study: where tau's variance comes from, and tau vs training budget.

    \b
    proxybench ablate sigma --run runs/c10 --cells 1000 --out runs/c10/ablate
    proxybench ablate variance --run runs/c10-seeds --cells 1000 --out runs/ablate
    proxybench ablate budget --run runs/e15 --run runs/e30 --run runs/e60 --out runs/ablate
    proxybench ablate levers --lever runs/uniform --lever runs/fair \\
        --lever runs/uniform/avg3.csv --out runs/ablate
    proxybench ablate levers --lever runs/uniform --lever runs/c8n5 \\
        --keep reports/cifar10-cpu/ablate/levers.csv --out runs/ablate
    proxybench ablate epochs --run runs/c10-paper --at-epochs 10,25,50,100,250 \\
        --bn-images 256 --val-images 1024 --cells 200 --out runs/c10-paper/ablate
    proxybench ablate sigma --run runs/c10 --cells 1000 --workers 1 --out runs/c10/ablate
    """
    from ..engine.ablate import run_ablation
    from ..spaces import get_space
    set_threads(threads)
    if name == "levers":
        if run_dirs:
            raise click.UsageError("ablate levers takes --lever (a seed group or its table), "
                                   "not --run")
        run_dirs = levers
    elif levers:
        raise click.UsageError(f"--lever is for ablate levers; ablate {name} takes --run")
    if not run_dirs:
        raise click.UsageError("ablate needs --run (a training run, or seed groups; levers: "
                               "--lever)")
    table = run_ablation(name, run_dir=list(run_dirs),
                         indices=get_space("nb201").select(cells_opt, seed or 0), out=out,
                         ground_truth=ground_truth, dataset=dataset, n_boot=bootstrap,
                         echo=_notes(quiet), retry_errors=retry_errors, levels=levels,
                         metric=truth_metric, device=device, seed=seed or 0, keep=keep,
                         epochs=O.ints(at_epochs, "--at-epochs", "at_epochs"),
                         overrides={"bn_images": bn_images, "val_images": val_images},
                         workers=workers)
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    click.echo(f"-> {Path(out) / (name + '.csv')}")


# --------------------------------------------------------------------------- report
@main.command()
@O.SCORES
@click.option("--seed-tables", "seed_tables", multiple=True, type=click.Path(dir_okay=False),
              help="Score tables of the supernets of one seed group, one per seed, on the "
                   "same cells (repeat): the leaderboard's cells, with each supernet "
                   "proxy's spread over seeds.")
@click.option("--readme", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Also write the leaderboard into this Markdown file, between the lines "
                   "<!-- leaderboard:begin --> and <!-- leaderboard:end --> (another dataset's "
                   "between <!-- leaderboard:DATASET:begin --> and "
                   "<!-- leaderboard:DATASET:end -->).")
@click.option("--search", "searches", multiple=True, type=click.Path(file_okay=False),
              help="Search output folders (repeat the option).")
@click.option("--ablation", "ablations", multiple=True, type=click.Path(dir_okay=False),
              help="Ablation tables written by `proxybench ablate` (repeat the option).")
@click.option("--retrain", "retrains", multiple=True, type=click.Path(file_okay=False),
              help="`proxybench retrain` output folders (DARTS transfer table).")
@click.option("--beyond", "beyond", multiple=True, type=click.Path(file_okay=False),
              help="Folders written by `proxybench beyond` (ensembles, few-label "
                   "predictors, their searches); repeat the option.")
@O.DATASET
@O.GROUND_TRUTH
@O.TRUTH_METRIC
@click.option("--title", default="proxybench report", show_default=True)
@O.BOOTSTRAP
@O.MISSING
@click.option("--note", "notes", multiple=True, help="A paragraph for the report's header.")
@click.option("--commands", type=click.Path(dir_okay=False, exists=True), default=None,
              help="The script of commands behind the results, shown at the end.")
@O.out_dir("The report (index.md, index.html, figures)")
@friendly
def report(tables, seed_tables, readme, searches, ablations, retrains, beyond, dataset,
           ground_truth, truth_metric, title, bootstrap, missing, notes, commands,
           out) -> None:
    """Markdown + self-contained HTML report with tables and plots from score tables.

    \b
    Examples:
      proxybench report --scores runs/zc.csv --scores runs/cells.csv --out runs/report
      proxybench report --seed-tables runs/c10/sn.seed-0.csv --seed-tables runs/c10/sn.seed-1.csv \\
          --scores runs/zc.csv --ablation runs/ablate/levers.csv --out runs/report
    """
    from ..analysis.groundtruth import resolve as resolve_gt
    from ..report.build import build_report, write_readme_block
    gt = resolve_gt(ground_truth)
    folder = build_report(out, scores=tables, seeds=seed_tables, searches=searches,
                          ablations=ablations, retrains=retrains, beyond=beyond,
                          ground_truth=gt,
                          dataset=dataset, title=title, notes=notes, commands=commands,
                          n_boot=bootstrap, missing=missing,
                          echo=lambda line: click.echo(line, err=True))
    click.echo(f"-> {folder / 'index.md'}, {folder / 'index.html'}")
    if readme:
        write_readme_block(readme, (folder / "leaderboard.md").read_text(), dataset)
        click.echo(f"-> the leaderboard in {readme}")


# --------------------------------------------------------------------------- cross-dataset
@main.command("cross-dataset")
@click.option("--board", "boards", multiple=True, required=True, metavar="NAME=FILE",
              help="A leaderboard.csv written by `proxybench report`, named by its dataset "
                   "(e.g. cifar10=reports/cifar10-cpu/leaderboard.csv); give two.")
@O.BOOTSTRAP
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="The comparison as Markdown (FILE.md; the table also as FILE.csv).")
@friendly
def cross_dataset(boards, bootstrap, out) -> None:
    """Each proxy's tau on two datasets side by side, and how stable the order of proxies
    is between them (Kendall tau between the two leaderboards, with a bootstrap CI).

    \b
    proxybench cross-dataset --board cifar10=reports/cifar10-cpu/leaderboard.csv \\
        --board cifar100=reports/cifar100-cpu/leaderboard.csv --out cross.md
    """
    from ..api import cross_dataset as compare
    named = {}
    for text in boards:
        name, eq, path = text.partition("=")
        if not eq or not name.strip() or not path.strip():
            raise click.UsageError(f"--board {text!r}: write NAME=FILE, e.g. "
                                   f"cifar10=reports/cifar10-cpu/leaderboard.csv")
        named[name.strip()] = path.strip()
    table, agreement = compare(named, out=out, n_boot=bootstrap)
    click.echo(f"{len(table)} proxies; Kendall tau between the leaderboards "
               f"{agreement['kendall_tau']:+.3f} [{agreement['tau_ci_low']:+.3f}, "
               f"{agreement['tau_ci_high']:+.3f}]")
    click.echo(f"-> {out}, {Path(out).with_suffix('.csv')}")


# --------------------------------------------------------------------------- describe
@main.command()
@click.argument("path", type=click.Path(exists=True))
@friendly
def describe(path) -> None:
    """Say what a run directory, seed group or score table holds: its settings, provenance
    and progress.

    \b
    proxybench describe runs/c10            # a training run or seed group
    proxybench describe runs/c10/flat.csv   # a score table
    """
    from ..describe import describe as describe_path
    click.echo(describe_path(path))


# --------------------------------------------------------------------------- demo
@main.command()
@O.DATA_DIR
@O.GROUND_TRUTH
@click.option("--out", default=None, type=click.Path(file_okay=False),
              help="Where the demo's run goes (a folder; default runs/demo).")
@click.option("--sample", "n_cells", type=click.IntRange(10, 15625), default=200,
              show_default=True, help="Number of cells the demo samples and scores.")
@O.EPOCHS
@O.THREADS
@friendly
def demo(data_dir, ground_truth, out, n_cells, epochs, threads) -> None:
    """The main job, small: train a tiny supernet, score cells, correlate (~20 s on 2 idle
    cores with synthetic images; ~45 s with --data-dir)."""
    from ..demo import run_demo
    set_threads(threads)
    run_demo(data_dir=data_dir, ground_truth=ground_truth, out=out or "runs/demo",
             n_cells=n_cells, epochs=epochs, echo=click.echo)


from . import predict as _predict  # noqa: E402,F401  (predict, ensemble, beyond, search-pool)

# `proxybench --help` lists each command with one line; click would cut the docstring's first
# sentence at the terminal's width, so every command's line is written here, whole, in one
# place (a test checks each command has one and that none is cut).
SUMMARIES = {
    "train": "Train a weight-sharing supernet (SPOS).",
    "score": "Score cells with proxies into a table.",
    "measure": "Proxies of any PyTorch network of yours.",
    "correlate": "Kendall tau, Spearman rho, top-k vs truth.",
    "merge": "Merge tables of disjoint cell sets.",
    "import-suite-zero": "Suite-Zero's zc_*.json -> a score table.",
    "export-suite-zero": "Score tables -> Suite-Zero's JSON layout.",
    "cells": "All cells with their params and FLOPs.",
    "combine": "New column: Eq. (5), mean or log-rank.",
    "report": "Markdown and HTML report of the tables.",
    "cross-dataset": "Each proxy's tau on two datasets.",
    "search": "Evolutionary or random search, any proxy.",
    "search-pool": "Search within a scored sample.",
    "ensemble": "Label-free ensembles of proxies.",
    "predict": "Few-label predictors vs labels used.",
    "beyond": "Ensembles, predictors and their searches.",
    "ablate": "The paper's ablations and trust studies.",
    "proxies": "List every proxy and what it needs.",
    "arch": "Describe one NB201 cell.",
    "describe": "What a run, table or output holds.",
    "demo": "The main job, small: train, score, correlate.",
    "genotype": "DARTS space: describe a genotype.",
    "retrain": "DARTS space: train a genotype from scratch.",
}
for _name, _line in SUMMARIES.items():
    main.commands[_name].short_help = _line

if __name__ == "__main__":
    main()
