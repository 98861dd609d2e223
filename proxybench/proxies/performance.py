"""Performance-based proxies (SPOS): a cell's path in the trained supernet, evaluated on
validation images after its BN statistics are recomputed on training images. The same
functions serve NB201 cells and DARTS genotypes (``extract_subnet`` dispatches)."""

from __future__ import annotations

import copy
import hashlib

from torch import nn

from ..nets.nb201 import NB201Net, evaluate, extract_subnet, recalibrate_bn
from ..spaces import cell_text
from ..spaces.nb201 import Cell
from . import ScoreContext, register


def seed_from(text: str) -> int:
    """A stable 56-bit seed from a string (the same on every machine and Python run)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "little")


def target_text(target: Cell | nn.Module) -> str:
    """The text that seeds a proxy's random draws on what it scores: a cell's text; for a
    network given to ``measure``, the text of the NB201 cell it is built of (so an NB201Net
    of a cell draws what the engine draws for that cell), else "model"."""
    if isinstance(target, nn.Module):
        cell = target.cell if isinstance(target, NB201Net) else None
        return "model" if cell is None else cell_text(cell)
    return cell_text(target)


def cell_seed(seed: int, cell: Cell | nn.Module) -> int:
    """A per-cell seed from (run seed, cell): scores are reproducible and do not depend on
    the order cells are evaluated in, or on which worker evaluates them. A network given
    instead of a cell is seeded by ``target_text``."""
    return seed_from(f"{seed}|{target_text(cell)}")


def memo_of(ctx: ScoreContext, cell: Cell) -> dict:
    """The memo of ``cell``; scoring another cell drops the previous one's entries."""
    if ctx.memo.get("cell") != cell:
        ctx.memo.clear()
        ctx.memo["cell"] = cell
    return ctx.memo


def prepared_subnet(ctx: ScoreContext, cell: Cell) -> nn.Module:
    """A scratch copy of the cell's path with BN recalibrated (SPOS), in eval mode.

    Each call returns a fresh copy (callers may perturb it); the recalibration itself is
    done once per cell.
    """
    if ctx.supernet is None or ctx.bn_batch is None:
        raise ValueError("this proxy needs a trained supernet and data (pass --run)")
    memo = memo_of(ctx, cell)
    if "subnet" not in memo:
        net = extract_subnet(ctx.supernet, cell)
        recalibrate_bn(net, ctx.bn_batch[0], ctx.preset.chunk)
        memo["subnet"] = net
    return copy.deepcopy(memo["subnet"])


def clean_evaluation(ctx: ScoreContext, cell: Cell) -> tuple[float, float]:
    """(validation loss, accuracy %) of the recalibrated path, computed once per cell."""
    memo = memo_of(ctx, cell)
    if "eval" not in memo:
        memo["eval"] = evaluate(prepared_subnet(ctx, cell), *ctx.val_batch, ctx.eval_chunk)
    return memo["eval"]


@register("val_acc", higher_is_better=True, needs=("supernet", "data"),
          spaces=("any",),
          description="validation accuracy (%) of the cell's supernet path after BN "
                      "recalibration (SPOS)")
def val_acc(ctx: ScoreContext, cell: Cell) -> float:
    return clean_evaluation(ctx, cell)[1]


@register("val_loss", higher_is_better=False, needs=("supernet", "data"),
          spaces=("any",),
          description="validation cross-entropy of the cell's supernet path after BN "
                      "recalibration (DARTS-style, lower is better)")
def val_loss(ctx: ScoreContext, cell: Cell) -> float:
    return clean_evaluation(ctx, cell)[0]
