"""Retraining a DARTS genotype from scratch (the transfer step): DARTS/PC-DARTS'
``NetworkCIFAR`` with an auxiliary head at 2/3 depth, drop-path, cutout, cosine lr.

A run directory holds ``run.json`` (config, environment, status), ``metrics.csv`` (one row
per epoch), ``checkpoint.pt`` (latest weights and optimizer, for ``--resume``) and
``result.json`` (params, FLOPs, test accuracy, wall time). Epoch ``e`` draws its data order,
augmentation and drop-path masks from a generator seeded by (seed, e), so a resumed run
equals an uninterrupted one.

Presets: ``paper`` is the DARTS/PC-DARTS CIFAR evaluation (C=36, 20 cells, 600 epochs, a GPU
job). The paper's transfer numbers come from ImageNet training with PC-DARTS' settings
(README), for which ``auto_channels`` sizes a cell (``proxybench genotype``); ImageNet itself
is not loaded here. ``cpu`` is small enough for a 2-core CPU; ``tiny`` is for tests.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
from torch import nn

from ..errors import ProxybenchError
from ..nets.darts import DartsNet, count_params_darts
from ..nets.nb201 import count_flops, evaluate
from ..spaces import darts
from . import data as D
from .files import atomic_write_json, environment, load_checkpoint, save_checkpoint
from .loop import fit
from .train import resolve_device


class RetrainError(ProxybenchError):
    """The retraining run cannot start or continue; the message says why and what to do."""


@dataclass(frozen=True)
class RetrainPreset:
    """Settings of one from-scratch training of a DARTS network."""

    init_channels: int
    layers: int
    epochs: int
    batch_size: int
    lr: float
    lr_min: float
    momentum: float
    weight_decay: float
    auxiliary_weight: float  # 0: no auxiliary head
    drop_path_prob: float    # reached linearly at the last epoch, as in DARTS
    cutout: int              # cutout length in pixels, 0: none
    grad_clip: float
    train_images: int        # 0: the whole training set
    test_images: int         # 0: the whole test set
    target_mflops: float     # FLOPs target of --init-channels auto (M multiply-adds)

    def to_dict(self) -> dict:
        return asdict(self)


RETRAIN_PRESETS: dict[str, RetrainPreset] = {
    # DARTS (Liu et al. 2019) / PC-DARTS (Xu et al. 2020) CIFAR-10 evaluation: batch 96,
    # SGD 0.025 cosine to 0, momentum 0.9, wd 3e-4, auxiliary 0.4, drop-path 0.3 (PC-DARTS),
    # cutout 16, gradient clip 5. About 1.5 GPU-days on one V100.
    "paper": RetrainPreset(init_channels=36, layers=20, epochs=600, batch_size=96, lr=0.025,
                           lr_min=0.0, momentum=0.9, weight_decay=3e-4, auxiliary_weight=0.4,
                           drop_path_prob=0.3, cutout=16, grad_clip=5.0, train_images=0,
                           test_images=0, target_mflops=600.0),
    # the same recipe shrunk for 2 CPU cores (README "DARTS space": measured cost)
    "cpu": RetrainPreset(init_channels=16, layers=8, epochs=3, batch_size=64, lr=0.05,
                         lr_min=0.0, momentum=0.9, weight_decay=3e-4, auxiliary_weight=0.4,
                         drop_path_prob=0.1, cutout=16, grad_clip=5.0, train_images=5000,
                         test_images=0, target_mflops=40.0),
    "tiny": RetrainPreset(init_channels=4, layers=3, epochs=1, batch_size=32, lr=0.05,
                          lr_min=0.0, momentum=0.9, weight_decay=3e-4, auxiliary_weight=0.4,
                          drop_path_prob=0.2, cutout=8, grad_clip=5.0, train_images=128,
                          test_images=64, target_mflops=5.0),
}


def get_retrain_preset(name: str, **overrides: object) -> RetrainPreset:
    """A retraining preset with overrides (None values ignored), validated."""
    if name not in RETRAIN_PRESETS:
        raise RetrainError(f"unknown retrain preset {name!r}; choose one of "
                           f"{', '.join(RETRAIN_PRESETS)}")
    preset = replace(RETRAIN_PRESETS[name], **{k: v for k, v in overrides.items()
                                               if v is not None})
    from ..checks import RULES, check
    for f in fields(RetrainPreset):
        value = getattr(preset, f.name)
        if f.name in RULES:
            check(f.name, value)     # the shared ranges (finite, positive, ...)
        if isinstance(value, float) and not math.isfinite(value):
            raise RetrainError(f"retrain setting {f.name}={value} is not a finite number")
        positive = f.name in ("init_channels", "epochs", "batch_size", "lr", "target_mflops")
        if value < 0 or (positive and value <= 0) or (f.name == "layers" and value < 3):
            raise RetrainError(f"retrain setting {f.name}={value} is out of range")
    if preset.drop_path_prob >= 1:
        raise RetrainError(f"drop_path_prob must be < 1, got {preset.drop_path_prob}")
    return preset


def build_eval_net(genotype: darts.Genotype, preset: RetrainPreset, num_classes: int
                   ) -> DartsNet:
    """NetworkCIFAR of ``genotype``: affine BNs, auxiliary head when its weight is > 0."""
    return DartsNet(preset.init_channels, preset.layers, num_classes, genotype, affine=True,
                    auxiliary=preset.auxiliary_weight > 0)


def auto_channels(genotype: darts.Genotype, target_mflops: float, layers: int,
                  num_classes: int, input_size: int, stem: str = "cifar") -> tuple[int, float]:
    """(even init channels, MFLOPs) whose network's multiply-adds are closest to the target.

    FLOPs grow monotonically with the channels, so a bisection over even values finds the
    pair around the target in a few forward passes. GeNAS sized its ImageNet networks this
    way (~600 M; ``stem="imagenet"``, 14 cells, 224 px, 1000 classes).
    """
    def flops(c: int) -> float:
        return count_flops(DartsNet(c, layers, num_classes, genotype, stem=stem), input_size)

    lo, hi = 2, 256                      # halves of the channel count
    cache: dict[int, float] = {}

    def f(h: int) -> float:
        if h not in cache:
            cache[h] = flops(2 * h)
        return cache[h]

    if f(lo) >= target_mflops:
        return 2 * lo, f(lo)
    if f(hi) <= target_mflops:
        return 2 * hi, f(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if f(mid) < target_mflops:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda h: abs(f(h) - target_mflops))
    return 2 * best, f(best)


@dataclass(frozen=True)
class RetrainConfig:
    genotype: darts.Genotype
    label: str
    dataset: str
    data_dir: str | None          # None: synthetic images (tests)
    preset_name: str
    preset: RetrainPreset
    seed: int
    asked: tuple = field(default=(), compare=False)   # the preset settings the user gave

    def to_dict(self) -> dict:
        return {"genotype": darts.format_genotype(self.genotype), "label": self.label,
                "dataset": self.dataset, "data_dir": self.data_dir,
                "preset_name": self.preset_name, "preset": self.preset.to_dict(),
                "seed": self.seed}


def _load(cfg: RetrainConfig) -> tuple[D.ImageSet, D.ImageSet]:
    if cfg.data_dir is None:
        train, test = D.synthetic_dataset(num_train=1024, num_test=512, num_classes=10,
                                          seed=cfg.seed)
    else:
        train, test = D.load_dataset(cfg.dataset, cfg.data_dir)
    p = cfg.preset
    from ..checks import at_most
    if "train_images" in cfg.asked and p.train_images:
        at_most("train_images", p.train_images, len(train), "training images", "0 for all")
    if "test_images" in cfg.asked and p.test_images:
        at_most("test_images", p.test_images, len(test), "test images", "0 for all")
    if min(p.train_images or len(train), len(train)) < p.batch_size:
        raise RetrainError(f"batch size {p.batch_size} is more than the "
                           f"{min(p.train_images or len(train), len(train))} training images: "
                           f"no training step would be taken; lower --batch-size or raise "
                           f"--train-images")
    if p.train_images:
        idx = torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.seed))
        train = train.subset(idx[:min(p.train_images, len(train))])
    if p.test_images:
        test = test.subset(torch.arange(min(p.test_images, len(test))))
    return train, test


def _finished_result(out: Path) -> dict | None:
    """A finished run's result.json, or None where it is missing or damaged (then the
    run is tested again, which rewrites it)."""
    import json
    try:
        result = json.loads((out / "result.json").read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return result if isinstance(result, dict) and "test_acc" in result else None


def retrain(cfg: RetrainConfig, out_dir: str | Path, *, resume: bool = False,
            progress: bool = True, device: str = "cpu", echo=print) -> dict:
    """Train the genotype's network from scratch into ``out_dir``; returns result.json."""
    dev = resolve_device(device)
    out = Path(out_dir)
    p = cfg.preset
    train_set, test_set = _load(cfg)
    size = int(train_set.images.shape[-1])
    torch.manual_seed(cfg.seed)
    net = build_eval_net(cfg.genotype, p, train_set.num_classes)
    params, mflops = count_params_darts(net), count_flops(net, size)
    ckpt_path = out / "checkpoint.pt"
    start, optim_state, wall_before = 0, None, 0.0
    if ckpt_path.exists():
        if not resume:
            raise RetrainError(f"{out} already holds a retraining run; pass --resume to "
                               f"continue it or choose a new --out")
        ckpt = load_checkpoint(ckpt_path, space="darts-eval")
        if ckpt.get("config") != cfg.to_dict():
            raise RetrainError(f"{out} holds a run with another genotype or settings; use a "
                               f"new --out, or the same options to resume it")
        done = _finished_result(out) if int(ckpt["epoch"]) >= p.epochs else None
        if done is not None:   # its test result stands (testing again costs minutes)
            if progress:
                echo(f"{out} has finished retraining; its result is kept")
            return done
        net.load_state_dict(ckpt["state_dict"])
        optim_state, start = ckpt["optimizer"], int(ckpt["epoch"])
        wall_before = float(ckpt.get("wall_seconds", 0.0))
    else:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "metrics.csv", "w", newline="") as fh:
            csv.writer(fh).writerow(["epoch", "lr", "drop_path_prob", "train_loss",
                                     "train_acc", "seconds"])
    net = net.to(dev, memory_format=torch.channels_last)
    optim = torch.optim.SGD(net.parameters(), lr=p.lr, momentum=p.momentum,
                            weight_decay=p.weight_decay)
    if optim_state is not None:
        optim.load_state_dict(optim_state)
    meta = {"config": cfg.to_dict(), "environment": environment(), "device": str(dev),
            "train_images": len(train_set), "test_images": len(test_set), "params": params,
            "mflops": mflops}
    atomic_write_json(out / "run.json", {**meta, "status": "training", "epoch": start})
    criterion = nn.CrossEntropyLoss()
    t_start = time.time()

    def step(x, y, epoch, gen, _path_rng):
        drop = p.drop_path_prob * epoch / p.epochs
        x = D.cutout(x, p.cutout, gen).to(dev).contiguous(memory_format=torch.channels_last)
        y = y.to(dev)
        optim.zero_grad(set_to_none=True)
        logits, aux = net.forward_train(x, drop, gen)
        loss = criterion(logits, y)
        total = loss if aux is None else loss + p.auxiliary_weight * criterion(aux, y)
        total.backward()
        nn.utils.clip_grad_norm_(net.parameters(), p.grad_clip)
        optim.step()
        return loss, logits, y

    def end_epoch(stats, _path_rng) -> None:
        drop = p.drop_path_prob * (stats.epoch - 1) / p.epochs
        row = [stats.epoch, f"{stats.lr:.6f}", f"{drop:.4f}", f"{stats.train_loss:.4f}",
               f"{stats.train_acc:.2f}", f"{stats.seconds:.1f}"]
        with open(out / "metrics.csv", "a", newline="") as fh:
            csv.writer(fh).writerow(row)
        if progress:
            echo(f"epoch {stats.epoch}/{p.epochs} lr {stats.lr:.4f} drop-path {drop:.3f} "
                 f"train loss {row[3]} acc {row[4]}% ({row[5]} s)")
        state = {"space": "darts-eval", "config": cfg.to_dict(), "epoch": stats.epoch,
                 "state_dict": net.state_dict(), "optimizer": optim.state_dict(),
                 "wall_seconds": wall_before + time.time() - t_start}
        save_checkpoint(ckpt_path, state)
        atomic_write_json(out / "run.json", {**meta, "status": "training",
                                             "epoch": stats.epoch})

    fit(model=net, optim=optim, seed=cfg.seed, start_epoch=start, epochs=p.epochs, lr=p.lr,
        lr_min=p.lr_min, batches=lambda gen: D.train_batches(train_set, p.batch_size, gen),
        n_batches=len(train_set) // p.batch_size, step=step, end_epoch=end_epoch,
        progress=False)
    net.eval()
    test_x, test_y = D.fixed_batch(test_set, len(test_set), cfg.seed)
    test_loss, test_acc = evaluate(net, test_x.to(dev), test_y.to(dev), 256)
    result = {"genotype": darts.format_genotype(cfg.genotype), "label": cfg.label,
              "dataset": cfg.dataset, "preset_name": cfg.preset_name,
              "init_channels": p.init_channels, "layers": p.layers, "params": params,
              "params_m": params / 1e6, "mflops": mflops, "test_acc": test_acc,
              "test_loss": test_loss, "test_images": len(test_set), "epochs": p.epochs,
              "wall_seconds": wall_before + time.time() - t_start,
              "known_results": darts.KNOWN_RESULTS.get(cfg.label)}
    atomic_write_json(out / "result.json", result)
    atomic_write_json(out / "run.json", {**meta, "status": "done", "epoch": p.epochs,
                                         "result": result})
    return result


def retrain_config(genotype_spec: str, *, dataset: str, data_dir: str | None, preset: str,
                   seed: int, init_channels: int | str | None = None,
                   target_mflops: float | None = None, **overrides: object
                   ) -> tuple[RetrainConfig, str | None]:
    """The settings of a retraining run from a user's choices; ``init_channels='auto'``
    picks the C whose FLOPs are closest to the target. Returns (config, a note on the
    sizing or None)."""
    genotype, label = darts.resolve_genotype(genotype_spec)
    if dataset not in ("cifar10", "cifar100"):
        raise RetrainError(f"retrain trains on cifar10 or cifar100, not {dataset}")
    auto = init_channels is not None and str(init_channels).lower() == "auto"
    if init_channels is not None and not auto and not str(init_channels).isdigit():
        raise RetrainError(f"--init-channels must be a number or 'auto', got {init_channels!r}")
    p = get_retrain_preset(preset, init_channels=None if auto or init_channels is None
                           else int(init_channels), target_mflops=target_mflops, **overrides)
    note = None
    if auto:
        c, mflops = auto_channels(genotype, p.target_mflops, p.layers,
                                  100 if dataset == "cifar100" else 10, 32)
        note = (f"--init-channels auto: C={c} gives {mflops:.1f} M multiply-adds (target "
                f"{p.target_mflops:g})")
        p = get_retrain_preset(preset, **{**p.to_dict(), "init_channels": c})
    if data_dir is not None and not Path(data_dir).is_dir():
        raise RetrainError(f"--data-dir {data_dir} does not exist")
    cfg = RetrainConfig(genotype, label, dataset, data_dir and str(Path(data_dir).resolve()),
                        preset, p, seed,
                        tuple(k for k, v in overrides.items() if v is not None))
    return cfg, note


def genotype_summary(spec: str, target_mflops: float = 600.0) -> dict:
    """A DARTS genotype's canonical form, its size on CIFAR (C=36, 20 cells) and the init
    channels that meet an ImageNet FLOPs budget (14 cells), with published results."""
    from ..checks import check
    target_mflops = check("target_mflops", target_mflops)
    g, label = darts.resolve_genotype(spec)
    net = DartsNet(36, 20, 10, g)
    c, mflops = auto_channels(g, target_mflops, 14, 1000, 224, "imagenet")
    return {"name": label, "genotype": g, "text": darts.format_genotype(g),
            "canonical": darts.genotype_key(g),
            "cifar_params_m": count_params_darts(net) / 1e6,
            "cifar_mflops": count_flops(net, 32),
            "imagenet_channels": c, "imagenet_mflops": mflops,
            "imagenet_params_m": count_params_darts(DartsNet(c, 14, 1000, g, stem="imagenet"))
            / 1e6, "published": darts.KNOWN_RESULTS.get(label)}
