"""Performance-based proxies (SPOS): a cell's path in the trained supernet, evaluated on
validation images after its BN statistics are recomputed on training images."""

from __future__ import annotations

import hashlib

from ..nets import NB201Net, evaluate, extract_subnet, recalibrate_bn
from ..spaces.nb201 import Cell, format_arch
from . import ScoreContext, register


def cell_seed(seed: int, cell: Cell) -> int:
    """A per-cell seed from (run seed, cell): scores are reproducible and do not depend on
    the order cells are evaluated in, or on which worker evaluates them."""
    digest = hashlib.sha256(f"{seed}|{format_arch(cell)}".encode()).digest()
    return int.from_bytes(digest[:7], "little")


def prepared_subnet(ctx: ScoreContext, cell: Cell) -> NB201Net:
    """A scratch copy of the cell's path with BN recalibrated (SPOS), in eval mode."""
    if ctx.supernet is None or ctx.bn_batch is None:
        raise ValueError("this proxy needs a trained supernet and data (pass --run)")
    net = extract_subnet(ctx.supernet, cell)
    recalibrate_bn(net, ctx.bn_batch[0], ctx.preset.chunk)
    return net


@register("val_acc", higher_is_better=True, needs=("supernet", "data"),
          description="validation accuracy (%) of the cell's supernet path after BN "
                      "recalibration (SPOS)")
def val_acc(ctx: ScoreContext, cell: Cell) -> float:
    net = prepared_subnet(ctx, cell)
    return evaluate(net, *ctx.val_batch, ctx.preset.chunk)[1]


@register("val_loss", higher_is_better=False, needs=("supernet", "data"),
          description="validation cross-entropy of the cell's supernet path after BN "
                      "recalibration (DARTS-style, lower is better)")
def val_loss(ctx: ScoreContext, cell: Cell) -> float:
    net = prepared_subnet(ctx, cell)
    return evaluate(net, *ctx.val_batch, ctx.preset.chunk)[0]


