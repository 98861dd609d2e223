"""Angle (RLNAS): the formula and which weights form the vector."""

from __future__ import annotations

import math

import pytest
import torch

from proxybench.nets.nb201 import NB201Net
from proxybench.proxies.angle import PATHS, angle_between, path_vector
from proxybench.spaces import nb201


def test_angle_by_hand():
    a = torch.tensor([1.0, 0.0, 2.0])
    assert angle_between(a, a) == pytest.approx(0.0, abs=1e-7)
    assert angle_between(a, 3 * a) == pytest.approx(0.0, abs=1e-7)
    assert angle_between(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 5.0])) == \
        pytest.approx(math.pi / 2)
    assert angle_between(a, -a) == pytest.approx(math.pi)


def test_paths_and_vector_contents():
    assert len(PATHS) == 4
    torch.manual_seed(0)
    net = NB201Net(4, 1, 10, affine_cells=False)
    p = nb201.parse_arch
    assert path_vector(net, p("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|")) is None
    skip = path_vector(net, p("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"))
    conv = path_vector(net, p("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|"))
    pool = path_vector(net, p("|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|"))
    # conv adds C*C*9 weights per cell (C = 4, 8, 16); pool adds C*9 constants of 1/9
    assert len(conv) - len(skip) == 9 * (16 + 64 + 256)
    assert len(pool) - len(skip) == 9 * (4 + 8 + 16)
    # an edge on two complete paths counts twice
    two = path_vector(net, p("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"))
    both = path_vector(net, p("|nor_conv_1x1~0|+|none~0|skip_connect~1|+"
                              "|none~0|skip_connect~1|skip_connect~2|"))
    assert len(both) - len(skip) == 2 * (len(two) - len(skip))


def test_angle_is_zero_before_training_and_grows_with_change(tiny_run):
    from proxybench.engine.score import context_from_run
    from proxybench.proxies import parse_spec
    spec = parse_spec("angle")
    ctx, _ = context_from_run(tiny_run, [spec])
    cell = nb201.prune(nb201.cell_at(6111))
    trained = spec.proxy.fn(ctx, cell)
    assert 0 < trained < math.pi / 2
    same = type(ctx)(**{**ctx.__dict__, "supernet": ctx.init_supernet})
    assert spec.proxy.fn(same, cell) == pytest.approx(0.0, abs=1e-6)
    assert spec.proxy.fn(ctx, nb201.prune(nb201.parse_arch(
        "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"))) == 0.0
