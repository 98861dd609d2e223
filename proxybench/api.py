"""The Python API: the CLI's main steps as functions that take and return plain values.

    from proxybench import api as pb
    runs = pb.train("runs/c10", dataset="cifar10", data_dir="data", preset="cpu", seeds=[0, 1])
    tables = [pb.score(r, ["flatness", ("val_loss", {})], cells=200) for r in runs]
    summary = pb.correlate(tables, dataset="cifar10")      # mean ± sd over the two supernets

Proxies are given by name, or as ``(name, {option: value})``; ``pb.list_proxies()`` lists
them. Every function raises a subclass of ``proxybench.ProxybenchError`` with a message that
names the problem and the fix.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .checks import MAX_SEEDS, check, check_all
from .errors import OptionError, ProxybenchError

ProxyArg = str | tuple[str, dict[str, Any]]


def _conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the annotation ``hint`` (the few forms this module uses)."""
    import numbers
    import os
    import types
    import typing
    from collections import abc
    if hint is Any or hint is typing.Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if origin is abc.Callable or hint is abc.Callable:
        return callable(value)
    if origin in (abc.Sequence, list):
        if isinstance(value, (str, bytes)) or not isinstance(value, (abc.Sequence, range)):
            return False
        return not args or all(_conforms(v, args[0]) for v in value)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_conforms(v, args[0]) for v in value)
        return len(value) == len(args) and all(map(_conforms, value, args))
    if origin is dict:
        return isinstance(value, dict) and (not args or all(
            _conforms(k, args[0]) and _conforms(v, args[1]) for k, v in value.items()))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, os.PathLike)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def _takes_path(hint: Any) -> bool:
    """Whether an annotation admits a Path (alone, in a union, or as list items)."""
    import typing
    return hint is Path or any(_takes_path(a) for a in typing.get_args(hint))


def _kind(hint: Any) -> str:
    """An annotation in words: 'a str or a Path', 'a list of ...'."""
    import types
    import typing
    from collections import abc
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or isinstance(hint, types.UnionType):
        return " or ".join(dict.fromkeys(_kind(a) for a in args))
    if hint is type(None) or hint is None:
        return "None"
    if origin in (abc.Sequence, list):
        return f"a list of ({_kind(args[0])})" if args else "a list"
    if origin is tuple:
        return "a tuple (" + ", ".join(_kind(a) for a in args) + ")"
    if origin is dict:
        return "a dict" + (f" of {_kind(args[0])} to ({_kind(args[1])})" if args else "")
    if origin is abc.Callable:
        return "a function"
    if hint is Path:
        return "a path"
    name = getattr(hint, "__name__", str(hint))
    return f"{'an' if name[:1] in 'aeiouAEIOU' else 'a'} {name}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def entry(fn: Callable) -> Callable:
    """An API entry point: its arguments are checked before it does anything, each against
    its annotation (a wrong type is a ``ProxybenchError`` naming the argument, not a
    ``TypeError`` from deep inside) and, where ``proxybench.checks.RULES`` has one, against
    the range the CLI's option of the same name uses (keyword overrides too)."""
    import functools
    import inspect
    import typing
    sig = inspect.signature(fn)
    hints: dict | None = None

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal hints
        if hints is None:
            hints = typing.get_type_hints(fn)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise OptionError(f"proxybench.{fn.__name__}: {exc}; see "
                              f"help(proxybench.{fn.__name__})") from None
        for name, value in list(bound.arguments.items()):
            if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                bound.arguments[name] = {k: check(k, v) for k, v in value.items()}
                continue
            hint = hints.get(name)
            if hint is not None and not _conforms(value, hint):
                raise OptionError(f"proxybench.{fn.__name__}: {name} must be {_kind(hint)}, "
                                  f"got {_short(value)}")
            if hint is not None and _takes_path(hint) and any(
                    isinstance(v, str) and not v.strip() for v in (
                        value if isinstance(value, (list, tuple)) else [value])):
                raise OptionError(f"proxybench.{fn.__name__}: {name} is an empty path; name "
                                  f"a file or folder")
            bound.arguments[name] = check(name, value)
        return fn(*bound.args, **bound.kwargs)
    return wrapper


@entry
def list_proxies() -> pd.DataFrame:
    """Every registered proxy: name, direction, needs, spaces, whether ``measure`` takes it
    on any nn.Module (``models``), default options."""
    from .proxies import all_proxies
    return pd.DataFrame([{"proxy": n, "higher_is_better": p.higher_is_better,
                          "needs": sorted(p.needs), "spaces": list(p.spaces),
                          "models": p.models,
                          "options": dict(p.defaults), "description": p.description}
                         for n, p in sorted(all_proxies().items())])


def _spec_text(proxy: ProxyArg) -> str:
    if isinstance(proxy, str):
        return proxy
    name, options = proxy
    def value(v: Any) -> str:
        return "/".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    opts = ",".join(f"{k}={value(v)}" for k, v in options.items())
    return f"{name}:{opts}" if opts else name


@entry
def measure(model: Any, data: Any, proxies: str | Sequence[ProxyArg], *,
            num_classes: int | None = None, seed: int = 0,
            device: str = "auto") -> dict[str, float]:
    """Each proxy's value on any ``torch.nn.Module``: ``data`` is an (images, labels) pair
    of tensors or a DataLoader (the first images the proxies read are taken; a shuffling
    loader is seeded by ``seed``). The proxies are the engine's own functions, on a copy of
    the model (the model is not changed); random draws are seeded by ``seed``. Returns
    {column: value}; a proxy that needs what the model lacks (a supernet, a cell) raises
    ``proxybench.proxies.ModelError`` naming it. ``num_classes``: default the width of the
    model's output."""
    from .engine.measure import measure as measure_model
    from .proxies import parse_specs
    text = proxies if isinstance(proxies, str) else ";".join(_spec_text(p) for p in proxies)
    return measure_model(model, data, parse_specs(text), num_classes=num_classes, seed=seed,
                         device=device)


@entry
def measure_files(model: str, data_dir: str | None, proxies: str | Sequence[ProxyArg], *,
                  dataset: str = "cifar10", images: int | None = None, seed: int = 0,
                  device: str = "auto", out: str | Path | None = None,
                  command: str = "proxybench.api.measure_files(...)") -> dict[str, Any]:
    """``proxybench measure``: :func:`measure` on the network that FUNCTION in FILE.py
    returns (``model`` = "FILE.py:FUNCTION"; called with ``num_classes`` when it takes it)
    and ``images`` images of the dataset's search-train split (default: as many as the
    proxies read), the images ``score`` gives zero-cost proxies with the same seed. Returns
    the record {"values": {column: value}, settings...}; ``out`` (a .json) also writes it."""
    from .engine.measure import dataset_batch, dataset_classes, images_needed, load_model
    from .proxies import parse_specs
    from .run.files import atomic_write_json, code_version, environment
    from .run.train import resolve_device
    text = proxies if isinstance(proxies, str) else ";".join(_spec_text(p) for p in proxies)
    specs = parse_specs(text)
    if out is not None and Path(out).suffix != ".json":
        raise ProxybenchError(f"--out {out} must end in .json")
    if data_dir is None:
        raise ProxybenchError("measure needs images: pass --data-dir DIR (the folder that "
                              "holds the dataset, e.g. DIR/cifar-10-batches-py)")
    classes = dataset_classes(dataset)
    net = load_model(model, classes)
    x, y = dataset_batch(dataset, data_dir, images or images_needed(specs), seed)
    dev = resolve_device(device)
    values = measure(net, (x, y), text, num_classes=classes, seed=seed, device=str(dev))
    record = {"command": command, "model": model, "dataset": dataset,
              "data_dir": str(Path(data_dir).resolve()), "images": len(x), "seed": seed,
              "device": str(dev), "proxies": [s.to_dict() for s in specs], "values": values,
              "code_versions": [code_version()], "environment": environment()}
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out, record)
    return record


@entry
def train(out: str | Path, *, dataset: str = "cifar10", data_dir: str | None = None,
          preset: str = "paper", seeds: Sequence[int] | None = None, seed: int | None = None,
          space: str = "nb201", save_every: int = 0, split_file: str | None = None,
          sampling: str = "uniform", validation: str | None = None,
          few_shot: str | tuple[int, int] | None = None, resume: bool = True,
          force: bool = False, device: str = "auto", progress: bool = False,
          echo: Callable[[str], None] | None = None, **overrides: Any) -> list[Path]:
    """Train one supernet per seed: ``seeds=None`` trains ``seed`` into ``out``; a list
    trains the seed group ``out/seed-K`` (finished runs with the same settings are kept; a
    run with other settings is refused, or retrained with ``force``). ``sampling`` picks the
    path of each step (NB201: uniform, distinct, unique, fair). ``validation`` picks the
    validation images: "train" (half the training set) or "test" (half the test set, the
    whole training set training the supernet); None: the split file's kind, else the
    space's reference protocol (NB201: train for CIFAR-10, test for CIFAR-100 and
    ImageNet16-120). ``few_shot`` ("EDGE:EPOCHS" or (edge, epochs)) also splits each
    trained run on that NB201 edge into five sub-supernets of that many epochs (Zhao et al.
    2021; ``run/fewshot.py``), scored with ``score(..., few_shot=True)``. Under torchrun
    this is DDP.
    Returns the run directories (``seed`` and ``seeds`` do not go together)."""
    from .run.distributed import process_group, rank_world
    from .run.fewshot import FewShotError, parse_few_shot, read_split, train_few_shot
    from .run.presets import get_preset
    from .run.rundir import FINAL, seed_dir
    from .run.train import (
        TrainConfig,
        TrainError,
        clear_run,
        resolve_device,
        resolve_validation,
        run_difference,
        train_supernet,
    )
    from .spaces import get_space
    if seeds is not None and seed is not None:
        raise OptionError(f"give a seed or a seed group, not both (seed {seed}, seeds "
                          f"{', '.join(map(str, seeds))}): the group's runs have its seeds")
    if seeds is not None and len(seeds) > MAX_SEEDS:
        raise OptionError(f"a seed group of {len(seeds)} supernets is more than "
                          f"{MAX_SEEDS}; train a smaller group")
    seed = seed or 0
    split = parse_few_shot(few_shot) if isinstance(few_shot, str) else few_shot
    names = get_space(space).sampler_names()
    if sampling not in names:
        raise ProxybenchError(f"unknown sampling {sampling!r} for the {space} space; choose "
                              f"one of {', '.join(names)}")
    p = get_preset(preset, space, **overrides)
    if split is None and p.few_shot:   # the preset's split (e.g. cpu-fewshot's)
        split = parse_few_shot(p.few_shot)
    if split is not None:
        if space != "nb201" or sampling != "uniform":
            raise FewShotError("few-shot splits are for NB201 supernets trained with uniform "
                               "sampling")
        split = parse_few_shot(f"{split[0]}:{split[1]}")
        p = replace(p, few_shot=f"{split[0]}:{split[1]}")   # recorded: score's default
    if data_dir is not None and not Path(data_dir).is_dir():
        raise ProxybenchError(f"--data-dir {data_dir} does not exist; point it at the folder "
                              f"that holds cifar-10-batches-py/ (or the dataset's own folder)")
    group = seeds is not None
    runs = [(s, seed_dir(out, s)) for s in seeds] if group else [(seed, Path(out))]
    validation = resolve_validation(space, dataset, split_file, validation)
    cfgs = [TrainConfig(space, dataset, data_dir and str(Path(data_dir).resolve()), preset, p,
                        run_seed, save_every, split_file and str(Path(split_file).resolve()),
                        sampling, validation) for run_seed, _ in runs]
    _say(echo, f"training {len(runs)} {space} supernet(s) on {dataset}: preset {preset} "
               f"(C={p.channels}, N={p.layers}, {p.epochs} epochs, batch {p.batch_size}, "
               f"{p.train_images or 'all'} training images, validation on half the "
               f"{validation} set), {sampling} sampling, seed(s) "
               f"{', '.join(str(s) for s, _ in runs)} -> {out}")
    if preset == "paper" and resolve_device(device).type == "cpu":
        _say(echo, "warning: the paper preset is a GPU-scale job (NB201's C=16, N=5 network, "
                   "250 epochs: hours per supernet on a CPU); --preset cpu trains in minutes")
    # every run's settings are checked before any is trained or cleared
    from .run.files import lock_holder
    from .run.rundir import RUN_JSON
    differ = {}
    for cfg, (_, run) in zip(cfgs, runs, strict=True):
        holder = lock_holder(run / RUN_JSON)
        if holder:
            raise TrainError(f"{run} is being trained by {holder}; wait for it to finish (or "
                             f"stop it), or choose another --out")
        diff = run_difference(run, cfg)
        old_split = read_split(run) if split is not None else None
        if old_split and (old_split["edge"], old_split["epochs"]) != split and not force:
            raise FewShotError(f"{run} holds a few-shot split on edge {old_split['edge']} "
                               f"with {old_split['epochs']} epochs, not edge {split[0]} with "
                               f"{split[1]}; pass --force to retrain it")
        if diff and not force:
            raise TrainError(f"{run} holds a run trained with {diff}; use a new --out, the "
                             f"same options as before, or --force to retrain it")
        differ[run] = diff
    for cfg, (run_seed, run) in zip(cfgs, runs, strict=True):
        if differ[run]:
            clear_run(run)
            _say(echo, f"seed {run_seed}: {run} was trained with {differ[run]}; retraining "
                       f"(--force)")
        elif force and (run / FINAL).is_file():
            clear_run(run)
        kept = group and (run / FINAL).is_file() and not differ[run] and not force
        if kept:
            _say(echo, f"seed {run_seed}: {run} is trained already with these settings; kept")
        else:
            t0 = time.time()
            with process_group(device):
                summary = train_supernet(cfg, run, resume=resume or force, progress=progress,
                                         device=device, asked=[k for k, v in overrides.items()
                                                               if v is not None])
            if rank_world()[0] == 0:
                _say(echo, f"trained {space} supernet on {dataset} ({preset}, seed {run_seed}) "
                           f"in {time.time() - t0:.0f} s -> {run}")
                _say(echo, f"mean valid accuracy of {summary['paths_evaluated']} random paths "
                           f"after BN recalibration: {summary['path_valid_acc_mean']:.2f}% "
                           f"(min {summary['path_valid_acc_min']:.2f}, max "
                           f"{summary['path_valid_acc_max']:.2f}, chance "
                           f"{summary['chance_acc']:.1f})")
        if split is not None:
            t0 = time.time()
            with process_group(device):
                train_few_shot(run, *split, force=force, progress=progress, device=device)
            _say(echo, f"few-shot split of seed {run_seed} on edge {split[0]}: 5 sub-supernets "
                       f"of {split[1]} epochs in {time.time() - t0:.0f} s -> "
                       f"{run / 'few-shot'}")
    return [r for _, r in runs]


def _say(echo: Callable[[str], None] | None, line: str) -> None:
    if echo is not None:
        echo(line)


@dataclass(frozen=True)
class Scored:
    """One table written by :func:`score_files`: where, the table, the rows new this time."""

    path: Path
    table: pd.DataFrame | None      # None on torchrun ranks other than 0
    new_rows: int


@entry
def score_files(proxies: str | Sequence[ProxyArg], out: str | Path, *,
                run: str | Path | None = None, space: str = "nb201", cells: Any = "all",
                seed: int | None = None, checkpoint: str | None = None, average: int = 1,
                few_shot: bool | None = None,
                data_dir: str | None = None, dataset: str | None = None,
                preset: str = "paper", overrides: dict | None = None, resume: bool = False,
                retry_errors: bool = False, device: str = "auto", progress: bool = False,
                workers: int | None = None, threads: int | None = None,
                normalize: str = "dataset", augment: bool = False,
                command: str = "proxybench.api.score_files(...)") -> list[Scored]:
    """Score cells into the table ``out`` (resumable), or with ``run`` a seed group into one
    table per supernet (``OUT.seed-K.csv``). ``cells``: 'all', N (a seeded sample), a file
    of ids, or a list of ids. ``workers`` processes of ``threads`` torch threads score side
    by side (default: one one-thread process per CPU core; one on a GPU). Under torchrun
    each rank scores a shard and rank 0 merges. ``dataset``: the run's (a run of another
    dataset is refused); without a run, cifar10 by default. ``normalize`` ('dataset' or
    'zero-cost-nas') and ``augment`` prepare the images as a paper's code does
    (``run.data.ImageProtocol``)."""
    from tqdm import tqdm

    from .engine.score import context_from_run, score_cells, score_sharded
    from .proxies import parse_specs
    from .run.data import ImageProtocol
    from .run.distributed import rank_world
    from .run.files import environment
    from .run.rundir import group_runs, replicate_table
    from .spaces import get_space
    specs = parse_specs(proxies if isinstance(proxies, str)
                        else ";".join(_spec_text(p) for p in proxies))
    images = ImageProtocol(normalize, augment)
    sp = get_space(space)
    overrides = check_all(overrides or {})
    if isinstance(cells, (str, int)) and not isinstance(cells, bool):
        ids = sp.select(str(cells), seed if seed is not None else 0)
    elif isinstance(cells, (list, tuple, range)):
        ids = [sp.key(i) for i in cells]
    else:
        raise OptionError(f"cells must be 'all', a number, a file of ids or a list of ids, "
                          f"got {_short(cells)}")
    if retry_errors and not resume:
        raise ProxybenchError("--retry-errors continues a table: add --resume")
    group = group_runs(run) if run else []
    targets = [(r, replicate_table(out, r)) for r in group] if group else [(run, Path(out))]
    if retry_errors:
        from .table import require_failed
        require_failed([t for _, t in targets], str(out))
    if group:
        _one_setting(group)
        for r in group:        # every supernet of the group ready before any is scored
            ckpt = Path(checkpoint) if checkpoint and Path(checkpoint).is_absolute() else (
                r / (checkpoint or "final.pt"))
            if not ckpt.is_file():
                raise ProxybenchError(f"{r} has no {ckpt.name}: finish training it (`train "
                                      f"... --resume`) before scoring the group {run}")
        for _, table_path in targets:
            if table_path.exists() and not resume:
                raise ProxybenchError(f"{table_path} already exists; pass --resume to "
                                      f"continue it, or choose another --out")
    _, world = rank_world()
    done = []
    for k, (run_dir, table_path) in enumerate(targets, 1):
        if progress and len(targets) > 1:
            tqdm.write(f"supernet {k}/{len(targets)}: {run_dir} -> {table_path}")
        ctx, info = context_from_run(run_dir, specs, checkpoint=checkpoint, data_dir=data_dir,
                                     preset_overrides=overrides or {}, seed=seed,
                                     dataset=dataset, preset_name=preset, device=device,
                                     space=space, average=average, few_shot=few_shot,
                                     images=images)
        meta = {**info, "space": space, "cell_selection": str(cells) if isinstance(
            cells, (str, int)) else f"{len(ids)} ids", "environment": environment(),
            "command": command}
        if world > 1:
            table = score_sharded(specs, ctx, ids, table_path, resume=resume, meta=meta,
                                  space=space, progress=progress)
            done.append(Scored(table_path, table, 0 if table is None else len(table)))
            continue
        before = _rows(table_path) if resume else 0
        table = score_cells(specs, ctx, ids, table_path, resume=resume, meta=meta, space=space,
                            retry_errors=retry_errors, progress=progress, workers=workers,
                            threads=threads)
        done.append(Scored(table_path, table, len(table) - before))
    return done


def _one_setting(group: Sequence[Path]) -> None:
    """The runs of a seed group are one setting but for the seed: a member trained with
    another preset, sampling or data set is refused before any is scored."""
    from .engine.score import training_settings
    from .run.rundir import read_run_json
    from .table import first_difference
    first = None
    for run in group:
        setting = training_settings(read_run_json(run)["config"])
        if first is None:
            first = (run, setting)
            continue
        diff = first_difference(setting, first[1])
        if diff:
            raise ProxybenchError(f"{run} was trained with {diff} ({first[0]}'s): a seed "
                                  f"group's runs differ only in their seed; score them apart")


def _rows(path: str | Path) -> int:
    """Complete rows already in a score table (0 when there is none)."""
    try:
        with open(path, "rb") as fh:
            return max(0, fh.read().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


@entry
def score(run: str | Path | None, proxies: str | Sequence[ProxyArg], *,
          cells: int | Sequence[int] | str = "all", seed: int | None = None,
          out: str | Path | None = None, data_dir: str | None = None,
          dataset: str | None = None, preset: str = "paper", device: str = "auto",
          space: str = "nb201", progress: bool = False, workers: int | None = None,
          average: int = 1, few_shot: bool | None = None, normalize: str = "dataset",
          augment: bool = False) -> pd.DataFrame:
    """Score cells with proxies; returns the table (one row per cell).

    ``cells``: "all", a number N (a seeded sample) or a list of ids. ``run`` is a training
    run (None for zero-cost proxies and baselines, which then use ``data_dir``, ``dataset``
    and the ``preset``'s network). With ``out`` the table and its ``.json`` are written
    there (resumable); without, a temporary file is used and removed. ``workers``: scoring
    processes (default: one per CPU core, each one torch thread; one on a GPU).
    ``average``: score the mean weights of the run's last K saved checkpoints;
    ``few_shot``: score each cell on its sub-supernet of the run's few-shot split (True),
    on the one-shot weights (False), or as the run's preset says (None: few-shot for
    ``cpu-fewshot`` and runs trained with a split in the same call);
    ``normalize`` ('dataset', 'zero-cost-nas') and ``augment``: the images as a paper's
    code prepares them."""
    def to(path: str | Path, resume: bool) -> pd.DataFrame:
        return score_files(proxies, path, run=run, space=space, cells=cells, seed=seed,
                           average=average, few_shot=few_shot, normalize=normalize,
                           augment=augment,
                           data_dir=data_dir, dataset=dataset, preset=preset, resume=resume,
                           device=device, progress=progress, workers=workers,
                           command="proxybench.api.score(...)")[0].table

    if out is not None:
        return to(out, resume=True)
    with tempfile.TemporaryDirectory() as tmp:
        return to(Path(tmp) / "scores.csv", resume=False)


@entry
def cells(out: str | Path, *, space: str = "nb201", dataset: str = "cifar10",
          channels: int = 16, layers: int = 5, force: bool = False,
          command: str = "proxybench.api.cells(...)") -> pd.DataFrame:
    """The table of every cell of an enumerable space with its free costs (params, FLOPs),
    written to ``out`` as a score table (an existing ``out`` only with ``force``)."""
    from .proxies import get_proxy
    from .run.files import environment
    from .spaces import get_space
    from .table import check_out_suffix, refuse_overwrite, write_table
    check_out_suffix(Path(out))
    refuse_overwrite(out, force)
    for name, v in (("channels", channels), ("layers", layers)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ProxybenchError(f"{name} must be a whole number >= 1, got {v!r}")
    sp = get_space(space)
    if sp.cells_table is None:
        raise ProxybenchError(f"the {space} space cannot be enumerated; describe a DARTS cell "
                              f"with `proxybench genotype NAME|FILE`")
    table = sp.cells_table(dataset, channels, layers)
    counts = [c for c in table.columns if c.startswith(("params", "flops"))]
    write_table(table, {"command": command, "space": space, "dataset": dataset,
                        "preset": {"channels": channels, "layers": layers},
                        "environment": environment(),
                        "proxies": [{"column": c, "proxy": c, "options": {},
                                     "higher_is_better": get_proxy(c).higher_is_better}
                                    for c in counts]}, out)
    return table


@entry
def arch(text: str | int, ground_truth: str | None = None) -> dict:
    """One NB201 cell given as its string or index: index, arch, pruned form, whether it is
    disconnected, params and FLOPs at C=16, N=5 (CIFAR-10), whole and live, and its test
    accuracies when a ground-truth table is given or set in $PROXYBENCH_NB201."""
    from .analysis.groundtruth import default_path, load_ground_truth
    from .nets.nb201 import cell_cost
    from .spaces import nb201
    text = str(text).strip()
    # an index in ASCII digits (str.isdigit also takes other scripts' digits and '²')
    cell = (nb201.cell_at(int(text)) if text.isascii() and text.isdigit()
            else nb201.parse_arch(text))
    pruned = nb201.prune(cell)
    (params, flops), (params_live, flops_live) = cell_cost(cell), cell_cost(pruned)
    info = {"arch_index": nb201.arch_index(cell), "arch": nb201.format_arch(cell),
            "pruned": nb201.format_arch(pruned), "disconnected": nb201.is_disconnected(cell),
            "params": params, "params_live": params_live, "flops": flops,
            "flops_live": flops_live, "test_acc": {}}
    gt = ground_truth or default_path()
    if gt:
        table = load_ground_truth(gt).set_index("arch_index")
        if info["arch_index"] not in table.index:
            raise ProxybenchError(f"ground truth {gt} has no row for arch_index "
                                  f"{info['arch_index']} ({len(table)} of 15,625 cells): it "
                                  f"is truncated or a subset; re-create or re-download it")
        row = table.loc[info["arch_index"]]
        info["test_acc"] = {d: float(row[d]) for d in ("cifar10", "cifar100", "imagenet16-120")
                            if d in row and pd.notna(row[d])}
    return info


@entry
def merge(parts: Sequence[str | Path], out: str | Path, *, force: bool = False,
          command: str = "proxybench.api.merge(...)") -> pd.DataFrame:
    """One table from tables of disjoint cell sets scored with the same settings (shards
    run on several machines); refuses parts of other settings, unfinished or overlapping,
    and an existing ``out`` unless ``force``."""
    from .engine.score import merge_tables
    from .run.files import atomic_write_json
    from .table import merged_meta, meta_path, refuse_overwrite
    if isinstance(parts, (str, Path)) or not parts:
        raise ProxybenchError("merge takes a list of at least one score table (the parts)")
    if not any(Path(p).resolve() == Path(out).resolve() for p in parts):
        refuse_overwrite(out, force)     # (a part as --out has its own message)
    table = merge_tables(parts, out)
    # provenance: the parts' common settings and fingerprint, and each part's own .json
    atomic_write_json(meta_path(out), {**merged_meta(parts, table), "command": command})
    return table


@entry
def correlate_files(scores: Sequence[str | Path], *, dataset: str = "cifar10",
                    ground_truth: str | None = None, columns: Sequence[str] = (),
                    between: tuple[str, str] | None = None, n_boot: int = 1000,
                    seed: int = 0, cell_set: str = "all", out: str | Path | None = None,
                    top_k: Sequence[float] = (1, 5, 10), metric: str = "test-200",
                    missing: str = "last", ndcg_k: int = 1000,
                    within_edge: int | None = None, cells: str | int = "all"
                    ) -> tuple[pd.DataFrame, Path, str]:
    """:func:`correlate` on score table files, written to ``out`` (default: the first
    table's name + ``.correlate.csv``) with a ``.json`` holding the protocol. ``top_k``:
    the top-k precision levels, in percent of the cells; ``missing``: failed cells ranked
    ``last`` or ``drop``-ped; ``ndcg_k``: the top cells nDCG looks at (VKDNW's P = 1000);
    ``within_edge``: also tau within the cells sharing one op on that NB201 edge;
    ``cells``: only these cells of every table ('all', a number N: the seeded sample
    ``score --cells N --seed SEED`` scores, or a file of indices), e.g. a larger table on
    a smaller one's sample. Returns (result, the CSV's path, the protocol line)."""
    from .analysis.correlation import correlate_table, protocol
    from .run.files import atomic_write_bytes, atomic_write_json
    from .spaces.nb201 import select
    from .table import check_out_suffix, meta_path
    if out is not None:
        check_out_suffix(Path(out))
    subset = None if str(cells) == "all" else select(str(cells), seed)
    selected = None if subset is None else (
        f"the {len(subset):,} cells of {cells}" if Path(str(cells)).is_file()
        else f"the seeded sample of {len(subset):,} cells (seed {seed})")
    result = correlate_table(list(scores), dataset=dataset, ground_truth=ground_truth,
                             columns=list(columns), between=between, n_boot=n_boot,
                             seed=seed, cells=cell_set, fracs=[k / 100 for k in top_k],
                             metric=metric, missing=missing, ndcg_k=ndcg_k,
                             within_edge=within_edge, subset=subset)
    csv_path = Path(out) if out else Path(str(Path(scores[0]).with_suffix("")) + (
        ".between.csv" if between else ".correlate.csv"))
    check_out_suffix(csv_path)
    if csv_path.suffix != ".csv":
        csv_path = csv_path.with_name(csv_path.name + ".csv")
    inputs = {q.resolve() for s in scores for q in (Path(s), meta_path(s))}
    if {csv_path.resolve(), meta_path(csv_path).resolve()} & inputs:
        raise ProxybenchError(f"--out {csv_path} would overwrite an input score table or its "
                              f".json; pick another --out")
    text = protocol(dataset, ground_truth, cell_set, metric, missing, ndcg_k, selected)
    atomic_write_bytes(csv_path, result.to_csv(index=False).encode())
    atomic_write_json(meta_path(csv_path), {
        "scores": [str(s) for s in scores], "dataset": dataset, "between": between,
        "bootstrap": n_boot, "seed": seed, "cells": cell_set, "top_k_percent": list(top_k),
        "truth_metric": metric, "missing": missing, "ndcg_k": ndcg_k,
        "within_edge": within_edge, "selected_cells": str(cells), "protocol": text,
        "rows": result.to_dict("records")})
    return result, csv_path, text


@entry
def import_suite_zero(file: str | Path, out: str | Path, *, dataset: str = "cifar10",
                      force: bool = False,
                      command: str = "proxybench.api.import_suite_zero(...)"
                      ) -> tuple[pd.DataFrame, dict]:
    """One dataset of NAS-Bench-Suite-Zero's precomputed zero-cost file
    (``zc_nasbench201.json``) as a score table at ``out``: a column per proxy (higher is
    better, as NASLib ranks them), its seconds, and a ``.json`` naming the source file, its
    sha256 and the dataset, so correlate, combine, ensemble, predict and search-pool read it
    like any table (an existing ``out`` only with ``force``)."""
    from .analysis.suite_zero import read_suite_zero
    from .run.files import code_version
    from .table import check_out_suffix, refuse_overwrite, write_table
    check_out_suffix(Path(out))
    refuse_overwrite(out, force)
    table, meta = read_suite_zero(file, dataset)
    meta = {**meta, "command": command, "code_versions": [code_version()],
            "cell_selection": f"the {len(table):,} cells of {Path(file).name}"}
    write_table(table, meta, out)
    return table, meta


@entry
def export_suite_zero(tables: Sequence[str | Path], out: str | Path, *,
                      dataset: str = "cifar10", ground_truth: str | None = None,
                      metric: str = "test-200", force: bool = False) -> dict:
    """Score tables written in NAS-Bench-Suite-Zero's layout (``{dataset: {NASLib key:
    {proxy: {score, time}, val_accuracy}}}``), so NASLib's ``get_zc_benchmark_api`` loads
    them. val_accuracy is Suite-Zero's own for a table imported from it, else the ground
    truth (``ground_truth``/``metric``: NB201's test accuracy after 200 epochs by default);
    lower-is-better columns are negated. Returns a summary (cells, proxies, negated, where
    val_accuracy came from)."""
    from .analysis.groundtruth import load_ground_truth
    from .analysis.suite_zero import SuiteZeroError, suite_zero_layout
    from .run.files import atomic_write_bytes
    out = Path(out)
    if out.suffix != ".json":
        raise SuiteZeroError(f"--out {out} must end in .json (Suite-Zero's files are JSON)")
    if out.exists() and not force:
        raise SuiteZeroError(f"{out} already exists; pass --force to replace it, or choose "
                             f"another --out")
    if any(out.resolve() == Path(t).resolve().with_suffix(".json") for t in tables):
        raise SuiteZeroError(f"--out {out} is a table's own .json; choose another name")
    truth = load_ground_truth(ground_truth, metric).set_index("arch_index")[dataset]
    content, summary = suite_zero_layout(tables, dataset, truth=truth)
    atomic_write_bytes(out, json.dumps(content).encode())
    if summary["val_accuracy"] == "the ground truth given":
        from .analysis.groundtruth import resolve
        source = Path(resolve(ground_truth) or "?").name
        summary["val_accuracy"] = f"NB201 {dataset} accuracy ({metric}) from {source}"
    return summary


@entry
def combine(scores: Sequence[str | Path], terms: Sequence[str], out: str | Path, *,
            method: str = "linear", gamma: float = 1.0, beta: float | None = None,
            missing: str = "last", name: str | None = None, force: bool = False,
            command: str = "proxybench.api.combine(...)") -> tuple[pd.DataFrame, dict]:
    """A new proxy column from score columns (GeNAS Eq. (5) or a rank average), written as
    a score table that correlate, search and reports read like any other (an existing
    ``out`` only with ``force``)."""
    from .analysis.combine import check_out, combine_tables, write_combined
    from .run.files import environment
    from .table import refuse_overwrite
    check_out(scores, out)
    refuse_overwrite(out, force)
    table, meta = combine_tables(scores, list(terms), method=method, gamma=gamma, beta=beta,
                                 missing=missing, name=name)
    meta = {**meta, "command": command, "environment": environment()}
    write_combined(table, meta, out)
    return table, meta


@entry
def search(proxy: str, out: str | Path, **options: Any) -> pd.DataFrame:
    """Evolutionary or random search maximising a proxy or a score column (see
    :func:`proxybench.search.run.run_search` for the options); returns the finds."""
    from .search.run import run_search
    return run_search(proxy=proxy, out=out, **options)


@entry
def ablate(name: str, runs: str | Path | Sequence[str | Path], out: str | Path, *,
           cells: str | int = 1000, seed: int = 0, dataset: str = "cifar10",
           ground_truth: str | None = None, truth_metric: str = "test-200",
           bootstrap: int = 1000, levels: int = 4, keep: str | Path | None = None,
           at_epochs: Sequence[int] | None = None, bn_images: int | None = None,
           val_images: int | None = None, device: str = "cpu", workers: int | None = None,
           echo: Callable[[str], None] | None = None) -> pd.DataFrame:
    """One of the paper's ablations or a trust study (``proxybench ablate NAME``) on the
    seeded ``cells`` (a count, ``all`` or a file of indices): ``runs`` is one training run,
    or for ``variance`` a seed group, ``budget`` one group per budget, ``levers`` one group
    (or a group's table) per lever, the baseline first; ``keep`` an earlier levers table,
    or for ``epochs`` an earlier curve of the same setting whose other seeds are kept.
    ``at_epochs``: the checkpoints ``epochs`` scores (default every saved one; a run or
    seed group still training is scored at those saved so far); ``bn_images`` and
    ``val_images`` replace the runs' scoring images; ``workers`` scoring processes (default
    one per core). Writes ``out/NAME.csv`` and returns it."""
    from .engine.ablate import run_ablation
    from .spaces import get_space
    targets = [runs] if isinstance(runs, (str, Path)) else list(runs)
    return run_ablation(name, run_dir=[str(t) for t in targets],
                        indices=get_space("nb201").select(str(cells), seed), out=out,
                        ground_truth=ground_truth, dataset=dataset, n_boot=bootstrap,
                        echo=echo or (lambda _: None), levels=levels, metric=truth_metric,
                        device=device, seed=seed, keep=keep, epochs=at_epochs,
                        overrides={"bn_images": bn_images, "val_images": val_images},
                        workers=workers)


@entry
def cross_dataset(boards: dict[str, str | Path | pd.DataFrame], *,
                  out: str | Path | None = None, n_boot: int = 1000,
                  seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Two leaderboards (``{dataset: leaderboard.csv or its frame}``, as ``report``
    writes them) side by side: each proxy's tau on both, its place on each, and the
    agreement of the two orders (Kendall tau over proxies with a bootstrap CI). ``out``
    (FILE.md) also writes the Markdown and FILE.csv."""
    from .analysis.leaderboard import COLUMNS, cross_markdown
    from .analysis.leaderboard import cross_dataset as compare
    from .run.files import atomic_write_bytes, atomic_write_json
    frames = {}
    for name, board in boards.items():
        if isinstance(board, pd.DataFrame):
            frames[name] = board
            continue
        path = Path(board)
        if not path.is_file():
            raise ProxybenchError(f"leaderboard {path} does not exist; `proxybench report "
                                  f"... --out DIR` writes DIR/leaderboard.csv")
        try:
            frames[name] = pd.read_csv(path)
        except (ValueError, OSError) as exc:
            raise ProxybenchError(f"cannot read {path} as a leaderboard ({exc})") from exc
        lacking = [c for c in ("proxy", "kind", "replicates", "tau", "tau_sd", "tau_ci_low",
                               "tau_ci_high") if c not in frames[name].columns]
        if lacking:
            raise ProxybenchError(f"{path} is not a leaderboard.csv (no {', '.join(lacking)}"
                                  f"; expected the columns {', '.join(COLUMNS[:9])}, ...)")
    if len(frames) != 2:
        raise ProxybenchError(f"give two leaderboards to compare, got {len(frames)}")
    table, agreement = compare(frames, n_boot=n_boot, seed=seed)
    if out is not None:
        out = Path(out)
        if out.suffix != ".md":
            raise ProxybenchError(f"--out {out} must end in .md (the table goes beside it "
                                  f"as .csv)")
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, cross_markdown(table, agreement).encode())
        atomic_write_bytes(out.with_suffix(".csv"), table.to_csv(index=False).encode())
        atomic_write_json(out.with_suffix(".json"), {
            **agreement, "boards": {k: str(v) for k, v in boards.items()
                                    if not isinstance(v, pd.DataFrame)}})
    return table, agreement


@entry
def beyond(out: str | Path, zc: str | Path, cells: str | Path, *,
           supernet: str | Path | None = None, extra: Sequence[str | Path] = (),
           dataset: str = "cifar10", ground_truth: str | None = None,
           n_boot: int = 1000, echo: Callable[[str], None] | None = None,
           command: str = "proxybench.api.beyond(...)") -> Path:
    """Beyond single proxies, from finished score tables on one sample of cells (nothing is
    scored or trained): label-free ensembles, few-label predictors and search on the sample.
    ``zc``: zero-cost proxies (its cells are the sample); ``cells``: the free counts
    (``proxybench cells``); ``supernet``: one supernet's proxies; ``extra``: more proxy
    tables on the same cells. Writes OUT/ensemble, OUT/predict, OUT/predict-zc,
    OUT/combined, OUT/search, OUT/times.txt, OUT/title.txt and OUT/beyond.md (the section
    ``report --beyond OUT`` shows); returns OUT.

    Pre-declared ensembles, fixed before any result was seen (the rule is this code's):
    ``zc-all`` every column of ``zc``; ``nwot+synflow+params_live``; ``zc-all+free`` those
    of ``zc`` with params_live and flops_live; ``az-nas`` the ``extra`` columns whose names
    start with "az" (AZ-NAS's components); ``extra-all`` every ``extra`` column;
    ``vkdnw-agg`` VKDNW_agg's members as its authors aggregate them (vkdnw_single, jacov,
    AZ-NAS expressivity, trainability and complexity; where the tables hold all five);
    ``everything`` every column of every table (az-nas and extra-all only where they have
    >= 2 columns). Each is aggregated by log-rank (AZ-NAS) and by mean rank. Member selection on
    10 random halves. Predictors: linear and gbt, 10-400 labels, 10 draws; once on every
    column, once on ``zc`` alone. Searches: budget 200 evaluations, population 20, seeds
    0-4; evolution and random search with every single column and declared ensemble, the
    top cell of the whole sample by each (exhaustive), predictors linear/gbt spending 20, 50
    or 100 labels, and random search over 20, 50, 100 or 200 labels. On a sample too small
    for them, label counts and the budget stop 3 cells short of its size."""
    import time

    from .analysis.beyond import render_beyond
    from .analysis.groundtruth import resolve
    from .table import proxy_columns, read_scores
    gt = resolve(ground_truth)
    out = Path(out)
    tables = [Path(zc), Path(cells), *([Path(supernet)] if supernet else []),
              *map(Path, extra)]
    for t in tables:
        if not t.is_file():
            raise ProxybenchError(f"score table {t} does not exist; score it first")
    frames = {t: read_scores(t) for t in tables}
    cols = {t: proxy_columns(f) for t, f in frames.items()}
    zcc = cols[Path(zc)]
    exc = [c for t in map(Path, extra) for c in cols[t]]
    everything = [c for t in tables for c in cols[t]]
    declared = {"zc-all": zcc, "nwot+synflow+params_live": ["nwot", "synflow", "params_live"],
                "zc-all+free": [*zcc, "params_live", "flops_live"]}
    azc = [c for c in exc if c.lower().startswith("az")]
    if len(azc) >= 2:
        declared["az-nas"] = azc
    if len(exc) >= 2:
        declared["extra-all"] = exc
    from .proxies.vkdnw import VKDNW_AGG
    if all(m in everything for m in VKDNW_AGG):
        declared["vkdnw-agg"] = list(VKDNW_AGG)
    declared["everything"] = everything
    for name, members in declared.items():
        lacking = [m for m in members if m not in everything]
        if lacking:
            raise ProxybenchError(f"declared ensemble {name} needs {', '.join(lacking)}, which "
                                  f"no table has; pass the tables that hold them")
    out.mkdir(parents=True, exist_ok=True)
    times: list[str] = []

    def step(name: str, fn: Callable[[], Any]) -> None:
        t0 = time.time()
        fn()
        times.append(f"{name} {time.time() - t0:.0f} s")
        _say(echo, f"[beyond] {times[-1]}")

    meta = {"command": command}
    n = len(frames[Path(zc)])
    # the fixed settings, cut to what a small sample allows (at least 3 unlabelled cells)
    labels = tuple(k for k in (10, 20, 50, 100, 200, 400) if k < n - 3)
    budget = min(200, n - 3)
    step("ensemble", lambda: ensemble(tables, declared=declared, splits=10, dataset=dataset,
                                      ground_truth=gt, n_boot=n_boot, out=out / "ensemble"))
    step("predict", lambda: predict(tables, labels=labels, draws=10, model=["linear", "gbt"],
                                    dataset=dataset, ground_truth=gt,
                                    out=out / "predict" / "curve.csv", meta=meta))
    step("predict-zc", lambda: predict(Path(zc), labels=labels, draws=10,
                                       model=["linear", "gbt"], dataset=dataset,
                                       ground_truth=gt, out=out / "predict-zc" / "curve.csv",
                                       meta=meta))
    combined, searched = [], []
    for name, members in declared.items():
        for method in ("logrank", "rank"):
            path = out / "combined" / f"{name}.{method}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            combine(tables, members, path, method=method, force=True, command=command)
            combined.append(path)
            searched.append(f"{method}({'+'.join(members)})")
    singles = [*zcc, "params_live", "flops_live",
               *(cols[Path(supernet)] if supernet else []), *exc]
    step("search", lambda: search_pool(
        [*tables, *combined], proxies=[*searched, *singles],
        predictors=[f"{m}:{k}" for k in (20, 50, 100) if k < budget for m in ("linear", "gbt")],
        features=everything, label_baselines=[k for k in (20, 50, 100, 200) if k <= budget],
        algorithms=("evolution", "random", "exhaustive"), budget=budget, population=20,
        mutation_prob=1 / 3, seeds=range(5), dataset=dataset, ground_truth=gt,
        out=out / "search"))
    title = " + ".join(t.stem for t in tables)
    (out / "title.txt").write_text(title + "\n")
    (out / "times.txt").write_text("\n".join(times) + "\n")
    (out / "beyond.md").write_text(render_beyond(out, titles=[title]))
    return out


@entry
def retrain(genotype: str, out: str | Path, *, dataset: str = "cifar10",
            data_dir: str | None = None, preset: str = "paper", seed: int = 0,
            init_channels: int | str | None = None, target_mflops: float | None = None,
            resume: bool = False, device: str = "auto", progress: bool = False,
            echo: Callable[[str], None] | None = None, **overrides: Any) -> dict:
    """Train a DARTS genotype from scratch (one training loop with the supernet's);
    returns its result.json (params, FLOPs, test accuracy)."""
    from .run.retrain import retrain as run_retrain
    from .run.retrain import retrain_config
    cfg, note = retrain_config(genotype, dataset=dataset, data_dir=data_dir, preset=preset,
                               seed=seed, init_channels=init_channels,
                               target_mflops=target_mflops, **overrides)
    if note:
        _say(echo, note)
    return run_retrain(cfg, out, resume=resume, device=device, progress=progress,
                       echo=echo or (lambda _line: None))


@entry
def correlate(tables: pd.DataFrame | Sequence[pd.DataFrame], *, dataset: str = "cifar10",
              ground_truth: str | None = None, columns: Sequence[str] = (),
              n_boot: int = 1000, seed: int = 0,
              higher_is_better: dict[str, bool] | None = None,
              metric: str = "test-200", missing: str = "last",
              ndcg_k: int = 1000) -> pd.DataFrame:
    """Kendall tau, Spearman rho, top-k precision and nDCG (over the top ``ndcg_k`` cells,
    as VKDNW reports it) of each proxy column against NB201; a cell whose score failed (not
    finite) ranks ``last`` (default) or is left out (``missing="drop"``).

    One table: a cell-bootstrap CI per column. Several tables (one per supernet of a seed
    group, the same cells): per column the mean over tables (``value``), ``sd``, a
    hierarchical CI (tables, then cells), the seed ``ensemble``'s value, ``replicates``.
    Directions come from the proxy registry unless ``higher_is_better`` names them."""
    from .analysis.correlation import replicate_metrics
    from .analysis.groundtruth import load_ground_truth
    from .analysis.metrics import correlate as correlate_one
    from .proxies import ProxyError, get_proxy
    from .table import proxy_columns
    frames = [tables] if isinstance(tables, pd.DataFrame) else list(tables)
    if not frames or any("arch_index" not in t.columns for t in frames):
        raise ProxybenchError("correlate takes score tables with an arch_index column (one "
                              "DataFrame or a list of them); read files with "
                              "proxybench.table.read_scores, or use correlate_files")
    truth = load_ground_truth(ground_truth, metric).set_index("arch_index")[dataset]
    cols = list(columns) or list(dict.fromkeys(c for t in frames for c in proxy_columns(t)))
    absent = [c for c in cols if not any(c in t.columns for t in frames)]
    if absent or not cols:
        raise ProxybenchError(f"column(s) {absent} are in none of the tables; available: "
                              f"{', '.join(c for t in frames for c in proxy_columns(t))}")

    def higher(col: str) -> bool:
        if higher_is_better and col in higher_is_better:
            return higher_is_better[col]
        try:
            return get_proxy(col.split("[")[0]).higher_is_better
        except ProxyError:
            return True

    out = []
    for col in cols:
        holders = [t.set_index("arch_index")[col] for t in frames if col in t.columns]
        if len(holders) == 1:
            both = pd.concat([holders[0], truth], axis=1, join="inner")
            res = correlate_one(both.iloc[:, 0], both.iloc[:, 1], n_boot=n_boot, seed=seed,
                                higher_is_better=higher(col), missing=missing,
                                ndcg_k=ndcg_k).reset_index()
            res["replicates"] = 1
        else:
            res, _ = replicate_metrics(holders, truth, column=col,
                                       higher_is_better=higher(col), n_boot=n_boot, seed=seed,
                                       missing=missing, ndcg_k=ndcg_k)
            res = res.reset_index().rename(columns={"mean": "value"})
        res.insert(0, "proxy", col)
        out.append(res)
    return pd.concat(out, ignore_index=True)


@entry
def predict(tables: str | Path | pd.DataFrame | Sequence[str | Path | pd.DataFrame], *,
            labels: Sequence[int] = (10, 20, 50, 100, 200, 400), draws: int = 10,
            model: str | Sequence[str] = "linear", dataset: str = "cifar10",
            ground_truth: str | None = None, columns: Sequence[str] = (), seed: int = 0,
            higher_is_better: dict[str, bool] | None = None, missing: str = "last",
            per_draw: bool = False, out: str | Path | None = None,
            meta: dict | None = None) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Few-label predictors on score tables joined on arch_index (paths or DataFrames):
    for each k in ``labels``, fit ``model`` ("linear": ridge on rank features; "gbt":
    gradient-boosted trees) on k random labelled cells and measure Kendall tau and Spearman
    rho on the others, over ``draws`` draws (``numpy.random.default_rng(seed)``); a failed
    score ranks last in its column (``missing="drop"``: its cell is left out). Returns one
    row per (model, k): k, model, tau_mean, tau_sd, rho_mean, rho_sd, draws, features, cells;
    with ``per_draw`` also every draw's row. ``out`` (FILE.csv) also writes the curve there,
    every draw to FILE.draws.csv and the settings (with ``meta``) to FILE.json."""
    import time

    from .analysis.predict import predict_tables
    from .run.files import atomic_write_bytes, atomic_write_json, code_version, environment
    if out is not None and Path(out).suffix != ".csv":
        raise ProxybenchError(f"--out {out} must end in .csv (the draws and settings go "
                              f"beside it)")
    start = time.time()
    tables = [tables] if isinstance(tables, (str, Path, pd.DataFrame)) else list(tables)
    models = [model] if isinstance(model, str) else list(model)
    curve, per = predict_tables(tables, columns=columns, labels=labels, draws=draws,
                                models=models, dataset=dataset, ground_truth=ground_truth,
                                seed=seed, higher_is_better=higher_is_better, missing=missing)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, curve.to_csv(index=False).encode())
        atomic_write_bytes(out.with_suffix(".draws.csv"), per.to_csv(index=False).encode())
        atomic_write_json(out.with_suffix(".json"), {
            "command": "proxybench.api.predict(...)", **(meta or {}),
            "code_versions": [code_version()], "environment": environment(),
            "tables": [str(t) for t in tables if not isinstance(t, pd.DataFrame)],
            "seed": seed, "draws": draws, "dataset": dataset, "missing": missing,
            "wall_seconds": time.time() - start})
    return (curve, per) if per_draw else curve


@entry
def ensemble(tables: str | Path | Sequence[str | Path], *,
             declared: dict[str, Sequence[str]] | None = None,
             methods: Sequence[str] = ("logrank", "rank"), splits: int = 10,
             columns: Sequence[str] = (), dataset: str = "cifar10",
             ground_truth: str | None = None, n_boot: int = 1000, seed: int = 0,
             missing: str = "last", out: str | Path | None = None) -> pd.DataFrame:
    """Label-free ensembles: greedy member selection on random halves of the cells, tau on
    the other halves (mean, sd over ``splits``), beside the best single column chosen the
    same way and the ``declared`` ensembles ({name: members}, fixed in advance); a failed
    score ranks last in its column (``missing="drop"``: its cell is left out). Returns the
    summary; ``out`` (a folder) also gets the per-split, member and all-cell tables."""
    from .analysis.ensemble import ensemble_tables
    tables = [tables] if isinstance(tables, (str, Path)) else list(tables)
    return ensemble_tables(tables, columns=columns, methods=methods, declared=declared or {},
                           splits=splits, dataset=dataset, ground_truth=ground_truth,
                           n_boot=n_boot, seed=seed, out=out, missing=missing)


@entry
def search_pool(tables: str | Path | Sequence[str | Path], *, proxies: Sequence[str] = (),
                predictors: Sequence[str] = (), label_baselines: Sequence[int] = (),
                features: Sequence[str] = (),
                algorithms: Sequence[str] = ("evolution", "random"),
                budget: int = 200, population: int = 20, mutation_prob: float = 1 / 3,
                seeds: Sequence[int] = range(5),
                dataset: str = "cifar10", ground_truth: str | None = None,
                missing: str = "last", out: str | Path | None = None) -> pd.DataFrame:
    """Search restricted to the scored sample (see ``proxybench.analysis.pool_search``):
    evolution and random search with each column in ``proxies``, predictor searches
    ("gbt:50" = gbt spending 50 labels), random search over k labels; mean ± sd over seeds
    of the found cells' test accuracy and rank in the sample. A failed score ranks last
    (``missing="drop"``: cells a searched proxy failed on leave the sample)."""
    from .analysis.pool_search import search_tables
    tables = [tables] if isinstance(tables, (str, Path)) else list(tables)
    return search_tables(tables, proxies=proxies, predictors=predictors,
                         features=features, label_baselines=label_baselines,
                         algorithms=algorithms, budget=budget, population=population,
                         mutation_prob=mutation_prob, seeds=list(seeds), dataset=dataset,
                         ground_truth=ground_truth, out=out, missing=missing)
