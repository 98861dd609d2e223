"""A scoring context of Gaussian images and one proxy's score on a cell, shared by the
proxy tests."""

from __future__ import annotations

from dataclasses import replace

import torch

from proxybench.proxies import PROXIES, ScoreContext
from proxybench.run.presets import get_preset


def gaussian_ctx() -> ScoreContext:
    """40 seeded Gaussian images with labels, at the tiny preset's network."""
    g = torch.Generator().manual_seed(123)
    x = torch.randn(40, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (40,), generator=g)
    return ScoreContext(seed=0, preset=get_preset("tiny"), num_classes=10, bn_batch=(x, y))


def score_of(ctx: ScoreContext, name: str, cell, **options) -> float:
    """The proxy's value on ``cell`` with a fresh memo (its ``score`` when it returns more)."""
    value = PROXIES[name].fn(replace(ctx, memo={}), cell, **{**PROXIES[name].defaults,
                                                             **options})
    return value["score"] if isinstance(value, dict) else value
