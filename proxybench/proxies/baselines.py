"""Free baselines: size and compute of the standalone NB201 network of a cell.

``params``/``flops`` count every edge as NB201 does (its official columns; a conv on an edge
that never reaches the output still counts); ``*_live`` count only the edges that survive
dead-edge pruning. They use the macro settings (C, N) of the scoring run's preset.
``params`` and ``flops`` also count a network given instead of a cell (``measure``), with
the module counts (``count_params``, ``count_flops``) that NB201's analytic count
(``cell_cost``) is tested against; the ``*_live`` counts need a cell's edges.
"""

from __future__ import annotations

from torch import nn

from ..nets.nb201 import cell_cost, count_flops, count_params
from ..spaces.nb201 import Cell, prune
from . import ScoreContext, register


def _cost(ctx: ScoreContext, cell: Cell) -> tuple[int, float]:
    return cell_cost(cell, ctx.preset.channels, ctx.preset.layers, ctx.num_classes,
                     ctx.input_size)


def _model_flops(ctx: ScoreContext, model: nn.Module) -> float:
    """MFLOPs of a given network, counted on a copy on the context's device."""
    from .zero_cost import build_net, input_shape
    return count_flops(build_net(ctx, model)[0], shape=input_shape(ctx, 1))


@register("params", higher_is_better=True, needs=("macro",), by_pruned=False, models=True,
          description="#parameters of the standalone network, all edges (NB201's count)")
def params(ctx: ScoreContext, cell: Cell | nn.Module) -> float:
    if isinstance(cell, nn.Module):
        return float(count_params(cell))
    return float(_cost(ctx, cell)[0])


@register("params_live", higher_is_better=True, needs=("macro",),
          description="#parameters of the standalone network, live edges only")
def params_live(ctx: ScoreContext, cell: Cell) -> float:
    return float(_cost(ctx, prune(cell))[0])


@register("flops", higher_is_better=True, needs=("macro",), by_pruned=False, models=True,
          description="multiply-adds (M) per image, all edges (NB201's count)")
def flops(ctx: ScoreContext, cell: Cell | nn.Module) -> float:
    if isinstance(cell, nn.Module):
        return _model_flops(ctx, cell)
    return _cost(ctx, cell)[1]


@register("flops_live", higher_is_better=True, needs=("macro",),
          description="multiply-adds (M) per image, live edges only")
def flops_live(ctx: ScoreContext, cell: Cell) -> float:
    return _cost(ctx, prune(cell))[1]
