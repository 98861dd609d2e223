"""Candidate operations: the fast average pooling is exactly PyTorch's, values and grads."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from proxybench.nets.ops import AvgPool2x2, AvgPool3x3, ResNetBasicBlock, make_darts_op, make_op


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [8, 7])
@pytest.mark.parametrize("channels_last", [False, True])
def test_avg_pool_matches_pytorch_count_include_pad_false(stride, size, channels_last):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, size, size, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ref = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)(x1)
    ours = AvgPool3x3(stride)(x2)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
    w = torch.randn(ref.shape, generator=g)
    (ref * w).sum().backward()
    (ours * w).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-6, atol=1e-6)
    # a corner pixel averages 4 values, an edge pixel 6: padding is not counted
    assert torch.allclose(ours[:, :, 0, 0], x[:, :, :2, :2].mean((-1, -2)), atol=1e-6)


def test_both_spaces_use_it_and_it_holds_no_state():
    assert isinstance(make_op("avg_pool_3x3", 4, affine=False), AvgPool3x3)
    assert isinstance(make_darts_op("avg_pool_3x3", 4, 2, affine=False), AvgPool3x3)
    assert make_op("avg_pool_3x3", 4, affine=False).state_dict() == {}


@pytest.mark.parametrize("size", [8, 7, 32])
@pytest.mark.parametrize("channels_last", [False, True])
def test_avg_pool_2x2_is_pytorchs_bit_for_bit(size, channels_last):
    """The reductions' shortcut pooling: the same values and grads, not merely close, so
    tables scored before and after the change are identical."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 16, size, size, generator=g) * 3
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():               # the depthwise-conv form
        assert torch.equal(AvgPool2x2()(x), nn.AvgPool2d(2, stride=2)(x))
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ref = nn.AvgPool2d(2, stride=2)(x1)
    ours = AvgPool2x2()(x2)
    assert ours.shape == ref.shape and torch.equal(ours, ref)
    w = torch.randn(ref.shape, generator=g)
    (ref * w).sum().backward()
    (ours * w).sum().backward()
    assert torch.equal(x2.grad, x1.grad)
    assert isinstance(ResNetBasicBlock(4, 8).downsample[0], AvgPool2x2)
    assert AvgPool2x2().state_dict() == {}
