"""Candidate operations of the NB201 space, shared by the supernet and standalone networks.

Definitions follow NAS-Bench-201 (xautodl ``cell_operations.py``): ReLU-Conv-BN convs,
3x3 average pooling that ignores padding, identity skips, and ResNet basic blocks for the
two reductions. ``affine`` switches the BatchNorm scale/shift; the supernet's cells use
``affine=False`` so that an op fed an all-zero tensor outputs exactly zero in both BN modes
(which is what makes dead-edge pruning exact, see ``spaces/nb201.prune``).
"""

from __future__ import annotations

from torch import Tensor, nn


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
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
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
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}")
