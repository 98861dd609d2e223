"""Candidate operations of the NB201 and DARTS spaces, shared by supernets and standalone
networks.

NB201 definitions follow NAS-Bench-201 (xautodl ``cell_operations.py``): ReLU-Conv-BN convs,
3x3 average pooling that ignores padding, identity skips, and ResNet basic blocks for the
two reductions. ``affine`` switches the BatchNorm scale/shift; the supernet's cells use
``affine=False`` so that an op fed an all-zero tensor outputs exactly zero in both BN modes
(which is what makes dead-edge pruning exact, see ``spaces/nb201.prune``).

DARTS definitions follow DARTS' ``operations.py``: separable convs (two stacked
ReLU-depthwise-pointwise-BN), dilated convs, max/avg pooling, identity or a factorized
reduction for skips at stride 2.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def standalone_copy(supernet: nn.Module, build: Callable[[], nn.Module]) -> nn.Module:
    """The network ``build()`` makes, holding clones of the supernet's tensors of the same
    names, on the supernet's device, channels_last (~2x faster small convs on CPU, README
    "Speed"). Built on the meta device and handed the clones: no random init is computed
    and no tensor goes through the host, which matters on a GPU (a copy per cell)."""
    with torch.device("meta"):
        sub = build()
    full = supernet.state_dict()
    sub.load_state_dict({k: full[k].clone() for k in sub.state_dict()}, assign=True)
    return sub.to(memory_format=torch.channels_last)


class AvgPool3x3(nn.Module):
    """3x3 average pooling that ignores padding (``nn.AvgPool2d(3, stride, 1,
    count_include_pad=False)``), computed as a depthwise convolution with a ones kernel
    divided by each output pixel's window size. Same numbers; on CPU in channels_last it
    runs ~3x faster than PyTorch's pooling kernel, which took ~30 % of a cell evaluation
    (benchmarks/bench_ops.py). No parameters or buffers: checkpoints are unaffected."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        c, h, w = x.shape[1], x.shape[2], x.shape[3]
        total = F.conv2d(x, x.new_ones(c, 1, 3, 3), stride=self.stride, padding=1, groups=c)
        count = F.conv2d(x.new_ones(1, 1, h, w), x.new_ones(1, 1, 3, 3), stride=self.stride,
                         padding=1)
        return total / count

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


class AvgPool2x2(nn.Module):
    """``nn.AvgPool2d(2, stride=2)``; without autograd (evaluation, BN recalibration) as a
    depthwise convolution with a 0.25 kernel: the same four values summed in the same order,
    scaled by a power of two, so the same numbers bit for bit (tested), and 2-4x faster on
    CPU in channels_last (the reductions' shortcut pooling took 6 % of an evaluation,
    benchmarks/README.md). With autograd it stays PyTorch's pooling: the conv's second
    derivative rounds differently, which moved GraSP's scores in the sixth digit. No
    parameters or buffers."""

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled():
            return F.avg_pool2d(x, 2, stride=2)
        return F.conv2d(x, x.new_full((x.shape[1], 1, 2, 2), 0.25), stride=2,
                        groups=x.shape[1])


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv (no bias) -> BN, NB201's ``nor_conv`` ops."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, affine: bool) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class ResNetBasicBlock(nn.Module):
    """NB201's reduction block: two ReLU-Conv-BN 3x3 plus an avg-pool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, affine=True)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, affine=True)
        self.downsample = nn.Sequential(
            AvgPool2x2(),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def make_op(name: str, channels: int, affine: bool) -> nn.Module | None:
    """One NB201 edge op at stride 1 (every NB201 cell keeps its width); None for ``none``."""
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, affine)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, affine)
    if name == "avg_pool_3x3":
        return AvgPool3x3()
    raise ValueError(f"unknown NB201 op {name!r}")


class DilConv(nn.Sequential):
    """ReLU -> dilated depthwise conv -> pointwise conv -> BN (DARTS ``dil_conv``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 dilation: int, affine: bool) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, stride=stride, padding=padding, dilation=dilation,
                      groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two DilConv-like stacks without dilation, the first carrying the stride (DARTS
    ``sep_conv``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 affine: bool) -> None:
        super().__init__(
            DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
            DilConv(c_in, c_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution without losing pixels: two 1x1 stride-2 convs, the second on the
    input shifted by one pixel, concatenated (DARTS' skip at stride 2 and cell preprocess)."""

    def __init__(self, c_in: int, c_out: int, affine: bool) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def make_darts_op(name: str, channels: int, stride: int, affine: bool,
                  pool_bn: bool = False) -> nn.Module | None:
    """One DARTS edge op; None for ``none`` (it adds nothing). ``pool_bn`` appends a BN
    without affine to pooling, as DARTS' search network does so that parameter-free ops
    are on the scale of the convs."""
    c = channels
    if name == "none":
        return None
    if name in ("max_pool_3x3", "avg_pool_3x3"):
        pool: nn.Module = (nn.MaxPool2d(3, stride=stride, padding=1) if name == "max_pool_3x3"
                           else AvgPool3x3(stride))
        return nn.Sequential(pool, nn.BatchNorm2d(c, affine=False)) if pool_bn else pool
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine)
    if name == "sep_conv_3x3":
        return SepConv(c, c, 3, stride, 1, affine)
    if name == "sep_conv_5x5":
        return SepConv(c, c, 5, stride, 2, affine)
    if name == "dil_conv_3x3":
        return DilConv(c, c, 3, stride, 2, 2, affine)
    if name == "dil_conv_5x5":
        return DilConv(c, c, 5, stride, 4, 2, affine)
    raise ValueError(f"unknown DARTS op {name!r}")
