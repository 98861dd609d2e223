"""The one training loop: epochs of SGD with a cosine learning rate over shuffled batches,
resumable, one metrics row and one checkpoint per epoch. Supernet training
(:func:`~proxybench.run.train.train_supernet`: one sampled path per step) and retraining
(:func:`~proxybench.run.retrain.retrain`: drop-path, auxiliary head) differ only in the step
and in what they record, which they pass in."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from tqdm import tqdm


def cosine_lr(lr: float, lr_min: float, epochs: int, epoch: int) -> float:
    """Cosine annealing from lr to lr_min over the run, evaluated at the start of ``epoch``."""
    t = epoch / max(1, epochs)
    return lr_min + 0.5 * (lr - lr_min) * (1 + math.cos(math.pi * t))


def epoch_rngs(seed: int, epoch: int) -> tuple[torch.Generator, random.Random]:
    """The generators of one epoch (data order, augmentation; sampled paths): a resumed run
    draws what an uninterrupted one would have."""
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return gen, random.Random(seed * 100_003 + epoch)


@dataclass(frozen=True)
class EpochStats:
    epoch: int            # 1-based: the epoch just finished
    lr: float
    train_loss: float
    train_acc: float
    seconds: float


# step(x, y, epoch, gen, path_rng) -> (loss of the batch, logits, labels the logits are for)
Step = Callable[[torch.Tensor, torch.Tensor, int, torch.Generator, random.Random],
                tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def fit(*, model: torch.nn.Module, optim: torch.optim.Optimizer, seed: int,
        start_epoch: int, epochs: int, lr: float, lr_min: float,
        batches: Callable[[torch.Generator], Iterable],
        n_batches: int, step: Step, end_epoch: Callable[[EpochStats, random.Random], None],
        progress: bool = True) -> None:
    """Train epochs ``start_epoch .. epochs-1``: set the epoch's learning rate, run ``step``
    on every batch of ``batches(gen)``, then hand the epoch's statistics (and its path
    generator, for callers that keep sampling) to ``end_epoch``, which records and
    checkpoints."""
    for epoch in range(start_epoch, epochs):
        gen, path_rng = epoch_rngs(seed, epoch)
        rate = cosine_lr(lr, lr_min, epochs, epoch)
        for group in optim.param_groups:
            group["lr"] = rate
        model.train()             # end_epoch may have evaluated in eval mode
        t0 = time.time()
        loss_sum, correct, seen = 0.0, 0, 0
        bar = tqdm(batches(gen), total=n_batches, disable=not progress, leave=False,
                   desc=f"epoch {epoch + 1}/{epochs}", unit="batch")
        for x, y in bar:
            loss, logits, labels = step(x, y, epoch, gen, path_rng)
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
            seen += len(labels)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{100 * correct / seen:.1f}")
        end_epoch(EpochStats(epoch + 1, rate, loss_sum / max(1, seen),
                             100 * correct / max(1, seen), time.time() - t0), path_rng)
