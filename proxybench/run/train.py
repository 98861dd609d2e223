"""One-shot supernet training with SPOS uniform single-path sampling.

Each step samples one cell uniformly (NB201: every edge picks one of the 5 ops; DARTS: a
genotype, see ``spaces/darts.sample``) and trains only that path. The space is part of the
config, checkpoints and run.json; loading a checkpoint checks it. A run directory holds::

    epoch-0.pt        the initial weights (the angle proxy compares against them)
    epoch-K.pt        every --save-every K epochs (proxy quality vs training budget)
    final.pt          the trained supernet
    checkpoint.pt     latest state for --resume (weights, optimizer, epoch)
    metrics.csv       per-epoch train/valid loss and accuracy of sampled paths
    run.json          resolved config, seed, versions, git commit, summary, final weights hash

Randomness: the model init uses ``torch.manual_seed(seed)``; epoch e draws its data order,
augmentation and paths from generators seeded by (seed, e), so a resumed run is identical
to an uninterrupted one.
"""

from __future__ import annotations

import csv
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from ..checks import at_most
from ..errors import OptionError, ProxybenchError
from ..nets.nb201 import evaluate, extract_subnet, recalibrate_bn
from ..spaces import canonical_cell, get_space
from . import data as D
from .files import (
    CheckpointError,
    atomic_write_json,
    environment,
    exclusive,
    load_checkpoint,
    save_checkpoint,
    weights_sha256,
)
from .loop import fit
from .presets import Preset, preset_from_dict
from .rundir import CHECKPOINT, FINAL, METRICS, RUN_JSON


class TrainError(ProxybenchError):
    """A training run cannot start or continue; the message says why and what to do."""


@dataclass(frozen=True)
class TrainConfig:
    space: str
    dataset: str
    data_dir: str | None     # None: synthetic data (demo only)
    preset_name: str
    preset: Preset
    seed: int
    save_every: int
    split_file: str | None
    sampling: str = "uniform"   # the space's path sampler per step (``train --sampling``)
    validation: str = "train"   # validation images from half the train or test set
    # a few-shot sub-supernet (run/fewshot.py): every path has op ``shot[1]`` on edge
    # ``shot[0]``, and training starts from the one-shot run ``warm_start``'s final weights
    shot: tuple[int, int] | None = None
    warm_start: str | None = None

    def to_dict(self) -> dict:
        return {"space": self.space, "dataset": self.dataset, "data_dir": self.data_dir,
                "preset_name": self.preset_name, "preset": self.preset.to_dict(),
                "seed": self.seed, "save_every": self.save_every, "split_file": self.split_file,
                "sampling": self.sampling, "validation": self.validation,
                "shot": list(self.shot) if self.shot else None,
                "warm_start": self.warm_start}


# settings added to TrainConfig after runs were made with it: a run.json or checkpoint
# without one was trained with the value given here
CONFIG_DEFAULTS = {"sampling": "uniform", "shot": None, "warm_start": None}


def full_config(config: dict) -> dict:
    """A recorded training config with the settings it predates filled in, so old runs
    compare equal to the same settings given today. ``validation`` predates its option:
    such runs validated as their split file says, else on half of the training set."""
    if not isinstance(config, dict):
        return config
    full = {**CONFIG_DEFAULTS, **config}
    if "validation" not in full:
        full["validation"] = _old_validation(full.get("split_file"))
    return full


def _old_validation(split_file: str | None) -> str | None:
    if split_file is None:
        return "train"
    try:
        return D.split_kind(split_file)
    except D.DataError:
        return None     # unreadable now: unknown, so it matches no new setting


def resolve_validation(space: str, dataset: str, split_file: str | None,
                       validation: str | None) -> str:
    """The validation protocol a run uses: the one asked for, else the split file's kind,
    else the space's reference protocol for the dataset (NB201: CIFAR-10 half the training
    set, CIFAR-100 and ImageNet16-120 half the test set)."""
    if validation is not None:
        if validation not in D.VALIDATION:
            raise TrainError(f"unknown validation {validation!r}: choose one of "
                             f"{', '.join(D.VALIDATION)}")
        return validation
    if split_file is not None:
        return D.split_kind(split_file)
    return get_space(space).default_validation(dataset)


def config_difference(old: dict, new: dict) -> str | None:
    """'sampling=uniform, not fair': the first training setting a recorded config (run.json,
    a checkpoint) has other than ``new``; None when they agree. Preset sizes are named one
    by one."""
    old = full_config(old) if isinstance(old, dict) else {}
    for key in new:
        a, b = old.get(key), new[key]
        if key == "preset" and isinstance(a, dict) and isinstance(b, dict):
            for k in b:
                # the few-shot split is checked on its own (few_shot.json): the one-shot
                # stage does not depend on it
                if k != "few_shot" and a.get(k) != b[k]:
                    return f"{k}={a.get(k)}, not {k}={b[k]}"
        elif a != b:
            return f"{key}={a}, not {key}={b}"
    return None


def recorded_config(run: str | Path) -> dict | None:
    """The training config a run directory holds (run.json, else its resumable checkpoint),
    None when it holds no run; a damaged run.json is an error naming the fix."""
    import json
    run = Path(run)
    if (run / RUN_JSON).is_file():
        try:
            meta = json.loads((run / RUN_JSON).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TrainError(f"{run / RUN_JSON} is damaged ({exc}); retrain with --force or "
                             f"choose a new --out") from exc
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            raise TrainError(f"{run / RUN_JSON} holds no training config; retrain with "
                             f"--force or choose a new --out")
        return meta["config"]
    if (run / CHECKPOINT).is_file():
        return load_checkpoint(run / CHECKPOINT).get("config")
    return None


def run_difference(run: str | Path, cfg: TrainConfig) -> str | None:
    """The first setting the run in ``run`` was trained with other than ``cfg``'s (the data
    folder aside: it may move); None when it holds no run or the same settings."""
    old = recorded_config(run)
    if old is None:
        return None
    new = cfg.to_dict()
    old = full_config(old)
    for movable in ("data_dir", "warm_start"):
        if isinstance(old.get(movable), str) and isinstance(new[movable], str):
            old = {**old, movable: new[movable]}
    return config_difference(old, new)


def clear_run(run: str | Path) -> None:
    """Remove a run's files (``--force``): its checkpoints, metrics, run.json and few-shot
    split; other files in the folder (score tables) are kept."""
    import shutil
    run = Path(run)
    for path in [*run.glob("epoch-*.pt"), run / FINAL, run / CHECKPOINT, run / METRICS,
                 run / RUN_JSON]:
        path.unlink(missing_ok=True)
    shutil.rmtree(run / "few-shot", ignore_errors=True)   # split from the weights just gone


def load_search_data(dataset: str, data_dir: str | None, split_file: str | None,
                     seed: int, validation: str | None = None
                     ) -> tuple[D.ImageSet, D.ImageSet]:
    """(search_train, search_valid) for a dataset, or the synthetic set when data_dir is None;
    ``validation`` as in :func:`proxybench.run.data.search_split`."""
    if data_dir is None:
        train, test = D.synthetic_dataset(num_train=4096, num_test=1024, num_classes=10,
                                          seed=seed)
    else:
        train, test = D.load_dataset(dataset, data_dir)
    return D.search_split(train, test, split_file=split_file, seed=seed,
                          validation=validation)


def build_supernet(preset: Preset, num_classes: int, space: str = "nb201") -> nn.Module:
    """The supernet of a space (all ops on every edge, cell BNs without affine); what
    ``preset.layers`` counts is the space's (NB201: cells per stage; DARTS: all cells)."""
    return get_space(space).build_supernet(preset, num_classes)


def supernet_from_checkpoint(path: str | Path, space: str = "nb201") -> tuple[nn.Module, dict]:
    """Rebuild a supernet from a checkpoint file; errors name the file and the fix."""
    ckpt = load_checkpoint(path, space=space)
    try:
        preset = preset_from_dict(ckpt["preset"])
        net = build_supernet(preset, int(ckpt["num_classes"]), space)
        net.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path} does not match the {space} supernet it "
                              f"describes ({type(exc).__name__}: {str(exc)[:200]})") from exc
    return net, ckpt


def sample_cell(rng: random.Random, space: str = "nb201"):
    """SPOS uniform single path of the space (NB201: each edge picks one op uniformly)."""
    return get_space(space).path_sample(rng)


def path_quality(supernet: nn.Module, cells: list, bn: tuple, val: tuple,
                 chunk: int) -> list[float]:
    """Validation accuracy of each path after BN recalibration: how good the supernet is."""
    accs = []
    for cell in cells:
        sub = extract_subnet(supernet, canonical_cell(cell))
        recalibrate_bn(sub, bn[0], chunk)
        accs.append(evaluate(sub, val[0], val[1], chunk)[1])
    return accs


def train_step(model: nn.Module, params, optim: torch.optim.Optimizer, x: torch.Tensor,
               y: torch.Tensor, cell) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on one sampled path (``cell``; None for a standalone network): the step
    ``train_supernet`` repeats, shared with benchmarks/bench_train.py. Returns the loss and
    the logits."""
    optim.zero_grad(set_to_none=True)
    logits = model(x, cell) if cell is not None else model(x)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    nn.utils.clip_grad_norm_(params, 5.0)
    optim.step()
    return loss, logits


def _new_metrics(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / METRICS, "w", newline="") as fh:
        csv.writer(fh).writerow(["epoch", "lr", "train_loss", "train_acc", "valid_loss",
                                 "valid_acc", "seconds"])


def _state(net: nn.Module, cfg: TrainConfig, num_classes: int, epoch: int) -> dict:
    return {"space": cfg.space, "dataset": cfg.dataset, "preset": cfg.preset.to_dict(),
            "num_classes": num_classes, "epoch": epoch, "seed": cfg.seed,
            "state_dict": net.state_dict()}


def _dist() -> tuple[int, int]:
    """(rank, world size) when launched by torchrun with a process group, else (0, 1)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def resolve_device(name: str) -> torch.device:
    """``auto`` -> the GPU of this rank if there is one, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise TrainError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda asked for, but torch sees no GPU here; use --device cpu")
    return device


def train_supernet(cfg: TrainConfig, out_dir: str | Path, *, resume: bool = True,
                   progress: bool = True, device: str = "cpu",
                   asked: Sequence[str] = ()) -> dict:
    """Train (or resume) a supernet into ``out_dir``; returns the run summary.

    Under torchrun (a process group initialised by the caller) it trains with DDP: every
    rank draws the same data order and the same path per step, takes its slice of each
    batch, and DDP averages the gradients, so the update is that of one full batch; rank 0
    alone writes files. Rank 0 holds ``run.json.lock`` while it trains: a second trainer of
    the same directory is refused, not run beside it. ``asked``: the preset settings the
    user gave (image counts asked for beyond the data are refused, not clipped). A run
    refused before its first file leaves no folder behind.
    """
    import contextlib
    out = Path(out_dir)
    created = not out.exists()
    if _dist()[0] == 0:
        out.mkdir(parents=True, exist_ok=True)
    try:
        # a second trainer is refused: "run.json is being written by process N"
        lock = exclusive(out / RUN_JSON) if _dist()[0] == 0 else contextlib.nullcontext()
        with lock:
            return _train(cfg, out, resume=resume, progress=progress, device=device,
                          asked=asked)
    except ProxybenchError:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()         # checks before effects: a refused run leaves nothing
        raise


def _train(cfg: TrainConfig, out: Path, *, resume: bool, progress: bool,
           device: str, asked: Sequence[str] = ()) -> dict:
    space = get_space(cfg.space)   # an unknown name fails here, with the list of spaces
    if cfg.sampling not in space.sampler_names():
        raise TrainError(f"unknown --sampling {cfg.sampling!r} for the {cfg.space} space; "
                         f"choose one of {', '.join(space.sampler_names())}")
    rank, world = _dist()
    dev = resolve_device(device)
    preset = cfg.preset
    if preset.batch_size % world:
        raise TrainError(f"batch size {preset.batch_size} does not split over {world} ranks")
    train_set, valid_set = load_search_data(cfg.dataset, cfg.data_dir, cfg.split_file, cfg.seed,
                                            cfg.validation)
    if preset.train_images:
        if "train_images" in asked:
            at_most("train_images", preset.train_images, len(train_set),
                    f"images of {cfg.dataset}'s search-train split", "0 for all of them")
        n = min(preset.train_images, len(train_set))
        train_set = train_set.subset(torch.randperm(len(train_set),
                                    generator=torch.Generator().manual_seed(cfg.seed))[:n])
    if len(train_set) < preset.batch_size:
        # fit drops the last partial batch: no step would be taken, final.pt = epoch-0.pt
        raise OptionError(f"batch size {preset.batch_size} is more than the "
                          f"{len(train_set)} training images: no training step would be "
                          f"taken; lower --batch-size or raise --train-images")
    if "val_images" in asked:
        at_most("val_images", preset.val_images, len(valid_set), "validation images",
                "lower --val-images")
    num_classes = train_set.num_classes
    val_x, val_y = D.fixed_batch(valid_set, min(preset.val_images, len(valid_set)), cfg.seed)
    bn_x, bn_y = D.fixed_batch(train_set, min(preset.bn_images, len(train_set)), cfg.seed + 1)

    torch.manual_seed(cfg.seed)
    net = build_supernet(preset, num_classes, cfg.space)
    start_epoch = 0
    ckpt_path = out / "checkpoint.pt"
    run_json = out / "run.json"
    optim_state = None
    if ckpt_path.exists() and resume:
        ckpt = load_checkpoint(ckpt_path, space=cfg.space)
        diff = config_difference(ckpt.get("config"), cfg.to_dict())
        if diff:
            raise TrainError(f"{out} holds a run trained with {diff}; use a new --out, the "
                             f"same options as before to resume it, or --force to retrain it")
        net.load_state_dict(ckpt["state_dict"])
        optim_state = ckpt["optimizer"]
        start_epoch = int(ckpt["epoch"])
    elif (out / "final.pt").exists() or ckpt_path.exists():
        raise TrainError(f"{out} already holds a run; pass --resume to continue it or choose "
                         f"a new --out")
    elif cfg.warm_start is not None:
        # a few-shot sub-supernet: the one-shot run's initialisation is this run's epoch 0
        # (angle measures from it), its final weights the start of training
        parent = Path(cfg.warm_start)
        init = load_checkpoint(parent / "epoch-0.pt", space=cfg.space)
        net.load_state_dict(load_checkpoint(parent / FINAL, space=cfg.space)["state_dict"])
        if rank == 0:
            save_checkpoint(out / "epoch-0.pt", {**_state(net, cfg, num_classes, 0),
                                                 "state_dict": init["state_dict"]})
            _new_metrics(out)
    elif rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        save_checkpoint(out / "epoch-0.pt", _state(net, cfg, num_classes, 0))
        _new_metrics(out)
    # channels_last: the small NB201 convs run ~1.7x faster on CPU (design notes)
    net = net.to(dev, memory_format=torch.channels_last)
    model: nn.Module = net
    if world > 1:
        model = nn.parallel.DistributedDataParallel(
            net, device_ids=[dev.index] if dev.type == "cuda" else None,
            find_unused_parameters=True)
    optim = torch.optim.SGD(net.parameters(), lr=preset.lr, momentum=preset.momentum,
                            weight_decay=preset.weight_decay)
    if optim_state is not None:
        optim.load_state_dict(optim_state)
    meta = {"config": cfg.to_dict(), "environment": environment(), "num_classes": num_classes,
            "train_images": len(train_set), "valid_images": len(valid_set),
            "device": str(dev), "world_size": world}
    if rank == 0:
        atomic_write_json(run_json, {**meta, "status": "training", "epoch": start_epoch})

    per_rank = preset.batch_size // world
    paths: dict[int, object] = {}   # the epoch's path sampler, made from its generator

    def shot(cell):
        """The path with a sub-supernet's op on its edge (the path itself otherwise)."""
        if cfg.shot is None:
            return cell
        edge, op = cfg.shot
        return tuple(op if i == edge else o for i, o in enumerate(cell))

    def step(x, y, epoch, gen, path_rng):
        if epoch not in paths:
            paths.clear()
            paths[epoch] = space.path_sampler(cfg.sampling, path_rng)
        cell = canonical_cell(shot(next(paths[epoch])))  # the same on every rank
        x = x[rank * per_rank:(rank + 1) * per_rank]
        y = y[rank * per_rank:(rank + 1) * per_rank]
        x = x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y.to(dev, non_blocking=True)
        loss, logits = train_step(model, net.parameters(), optim, x, y, cell)
        return loss, logits, y

    def end_epoch(stats, path_rng) -> None:
        # validation of sampled paths with batch statistics (cheap; the careful, recalibrated
        # measure is path_quality at the end)
        v_loss, v_acc, n_chunks = 0.0, 0.0, 0
        for start in range(0, len(val_x), preset.chunk):
            cell = canonical_cell(shot(sample_cell(path_rng, cfg.space)))
            loss_v, acc_v = evaluate(net, val_x[start:start + preset.chunk].to(dev),
                                     val_y[start:start + preset.chunk].to(dev), preset.chunk,
                                     cell)
            v_loss, v_acc, n_chunks = v_loss + loss_v, v_acc + acc_v, n_chunks + 1
        row = [stats.epoch, f"{stats.lr:.6f}", f"{stats.train_loss:.4f}",
               f"{stats.train_acc:.2f}", f"{v_loss / n_chunks:.4f}", f"{v_acc / n_chunks:.2f}",
               f"{stats.seconds:.1f}"]
        if rank != 0:
            return
        with open(out / "metrics.csv", "a", newline="") as fh:
            csv.writer(fh).writerow(row)
        if progress:
            left = preset.epochs - stats.epoch
            secs = left * stats.seconds
            when = f"{secs / 60:.0f} min" if secs >= 120 else f"{secs:.0f} s"
            eta = (f"; about {when} for the {left} epochs left"
                   if stats.epoch == start_epoch + 1 and left else "")
            tqdm.write(f"epoch {stats.epoch}/{preset.epochs} lr {stats.lr:.4f} train loss "
                       f"{row[2]} acc {row[3]}% | sampled-path valid loss {row[4]} acc "
                       f"{row[5]}% ({row[6]} s{eta})")
        state = _state(net, cfg, num_classes, stats.epoch)
        if cfg.save_every and stats.epoch % cfg.save_every == 0:
            save_checkpoint(out / f"epoch-{stats.epoch}.pt", state)
        save_checkpoint(ckpt_path, {**state, "optimizer": optim.state_dict(),
                                    "config": cfg.to_dict()})
        atomic_write_json(run_json, {**meta, "status": "training", "epoch": stats.epoch})

    fit(model=model, optim=optim, seed=cfg.seed, start_epoch=start_epoch, epochs=preset.epochs,
        lr=preset.lr, lr_min=preset.lr_min,
        batches=lambda gen: D.train_batches(train_set, preset.batch_size, gen),
        n_batches=len(train_set) // preset.batch_size, step=step, end_epoch=end_epoch,
        progress=progress and rank == 0)

    rng = random.Random(cfg.seed)
    cells = [shot(sample_cell(rng, cfg.space)) for _ in range(preset.path_sample)]
    accs = path_quality(net, cells, (bn_x.to(dev), bn_y.to(dev)),
                        (val_x.to(dev), val_y.to(dev)), preset.chunk)
    finite = [a for a in accs if not math.isnan(a)]
    summary = {"paths_evaluated": len(cells),
               "path_valid_acc_mean": sum(finite) / len(finite),
               "path_valid_acc_min": min(finite), "path_valid_acc_max": max(finite),
               "chance_acc": 100.0 / num_classes}
    if rank == 0:
        final = _state(net, cfg, num_classes, preset.epochs)
        save_checkpoint(out / "final.pt", final)
        # the final weights' hash by value: score tables record the same hash, so a run's
        # record (run.json, metrics.csv) without its checkpoints still names its tables
        atomic_write_json(run_json, {**meta, "status": "done", "epoch": preset.epochs,
                                     "weights_sha256": weights_sha256(final["state_dict"]),
                                     "summary": summary})
    return summary
