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

from ..nets.nb201 import PATHS  # noqa: F401  (the four input-to-output paths, re-exported)
from . import ScoreContext, register


def angle_between(a: torch.Tensor, b: torch.Tensor) -> float:
    """arccos of the cosine similarity, in radians (0 for identical directions)."""
    a, b = a.double(), b.double()
    cos = torch.dot(a, b) / (a.norm() * b.norm())
    return math.acos(max(-1.0, min(1.0, cos.item())))


def path_vector(net: torch.nn.Module, cell) -> torch.Tensor | None:
    """The RLNAS weight vector of ``cell`` in a supernet (each supernet class builds its
    own); None when no path from input to output is complete."""
    return net.path_vector(cell)


@register("angle", higher_is_better=True, needs=("supernet", "init_supernet"),
          spaces=("any",),
          description="angle (rad) between the path's weights at epoch 0 and after training "
                      "(RLNAS/ABS): larger means the path learned more")
def angle(ctx: ScoreContext, cell) -> float:
    if ctx.supernet is None or ctx.init_supernet is None:
        raise ValueError("angle needs the trained and the epoch-0 supernet (pass --run)")
    v1 = path_vector(ctx.supernet, cell)
    if v1 is None:
        return 0.0
    return angle_between(path_vector(ctx.init_supernet, cell), v1)
