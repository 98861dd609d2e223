"""Angle (ABS: Hu et al. 2020; RLNAS: Zhang et al. 2021): how far a path's weights turned
during supernet training, as the angle between its weight vector at epoch 0 and at the end.

The vector follows RLNAS on NB201: the stem, the two reduction blocks and the head (last
BN + classifier), plus, for each of the cell's four input-to-output paths
[0,3], [0,2,3], [0,1,2,3], [0,1,3] that holds no ``none`` edge, the weights along that path
in every cell (an edge on two paths counts twice, as in RLNAS). skip_connect has no
weights; avg_pool contributes a constant depthwise kernel of 1/9 per channel, the same at
both ends (it only dilutes the angle, as in RLNAS). A cell with no complete path scores 0.
Only complete paths count, so the score depends on the pruned cell alone.

DARTS (RLNAS's DARTS variant): the stem, then in every cell its two preprocessing convs and
the weights of the 8 chosen ops (each (op, input) pair of the genotype's normal or reduce
list, by the cell's type; a stride-2 skip is a FactorizedReduce with weights), then the
classifier. Pooling contributes the same constant 1/9 kernel per channel as on NB201.
"""

from __future__ import annotations

import math

import torch

from ..nets.nb201 import NB201Cell, NB201Net
from ..spaces import darts, is_darts
from ..spaces.nb201 import EDGES, OPS, Cell
from . import ScoreContext, register

# the four paths from node 0 to node 3, as edge positions in EDGES
PATHS: tuple[tuple[int, ...], ...] = tuple(
    tuple(EDGES.index(e) for e in path)
    for path in (
        ((3, 0),),
        ((2, 0), (3, 2)),
        ((1, 0), (2, 1), (3, 2)),
        ((1, 0), (3, 1)),
    )
)


def angle_between(a: torch.Tensor, b: torch.Tensor) -> float:
    """arccos of the cosine similarity, in radians (0 for identical directions)."""
    a, b = a.double(), b.double()
    cos = torch.dot(a, b) / (a.norm() * b.norm())
    return math.acos(max(-1.0, min(1.0, cos.item())))


def path_vector(net: NB201Net, cell: Cell) -> torch.Tensor | None:
    """The RLNAS weight vector of ``cell`` in a supernet; None when no path is complete."""
    live = [p for p in PATHS if all(cell[e] != 0 for e in p)]
    if not live:
        return None
    parts = [p.detach().flatten() for p in net.stem.parameters()]
    for block in net.cells:
        if not isinstance(block, NB201Cell):
            parts += [p.detach().flatten() for p in block.parameters()]
            continue
        pool = torch.full((_block_channels(block) * 9,), 1.0 / 9.0)
        for path in live:
            for e in path:
                name = OPS[cell[e]]
                if name.startswith("nor_conv"):
                    parts.append(block.edges[e][name][1].weight.detach().flatten())
                elif name == "avg_pool_3x3":
                    parts.append(pool)
    parts += [p.detach().flatten() for p in net.lastact.parameters()]
    parts += [p.detach().flatten() for p in net.classifier.parameters()]
    return torch.cat(parts)


def darts_path_vector(net: torch.nn.Module, genotype: darts.Genotype) -> torch.Tensor:
    """The RLNAS weight vector of a DARTS genotype in a ``DartsNet`` supernet."""
    parts = [p.detach().flatten() for p in net.stem.parameters()]
    if net.stem1 is not None:
        parts += [p.detach().flatten() for p in net.stem1.parameters()]
    for cell in net.cells:
        parts += [p.detach().flatten() for p in cell.preprocess0.parameters()]
        parts += [p.detach().flatten() for p in cell.preprocess1.parameters()]
        pairs = genotype.reduce if cell.reduction else genotype.normal
        for k, op, _ in darts.chosen_edges(pairs):
            weights = [p.detach().flatten() for p in cell.edges[k][op].parameters()]
            if weights:
                parts += weights
            elif op.endswith("pool_3x3"):
                channels = cell.preprocess1[1].out_channels
                parts.append(torch.full((channels * 9,), 1.0 / 9.0, device=parts[0].device))
    parts += [p.detach().flatten() for p in net.classifier.parameters()]
    return torch.cat(parts)


def _block_channels(block: NB201Cell) -> int:
    """Width of a supernet cell (every supernet edge holds a 3x3 conv)."""
    return block.edges[0]["nor_conv_3x3"][1].weight.shape[0]


@register("angle", higher_is_better=True, needs=("supernet", "init_supernet"),
          spaces=("nb201", "darts"),
          description="angle (rad) between the path's weights at epoch 0 and after training "
                      "(RLNAS/ABS): larger means the path learned more")
def angle(ctx: ScoreContext, cell: Cell) -> float:
    if ctx.supernet is None or ctx.init_supernet is None:
        raise ValueError("angle needs the trained and the epoch-0 supernet (pass --run)")
    if is_darts(cell):
        return angle_between(darts_path_vector(ctx.init_supernet, cell),
                             darts_path_vector(ctx.supernet, cell))
    v1 = path_vector(ctx.supernet, cell)
    if v1 is None:
        return 0.0
    return angle_between(path_vector(ctx.init_supernet, cell), v1)
