"""NB201 networks: the weight-sharing supernet and the standalone network of one cell.

Both are :class:`NB201Net`. With ``cell=None`` every edge holds all candidate ops (the
supernet) and ``forward(x, cell)`` runs one path; with a ``cell`` each edge holds only its
own op (the standalone network). Parameter names are the same in both, so a cell's weights
are a plain subset of the supernet's state dict (:func:`extract_subnet`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..spaces.nb201 import EDGES, NONE, NUM_NODES, OPS, Cell, check_cell
from .ops import ResNetBasicBlock, make_op, standalone_copy


class NB201Cell(nn.Module):
    """A 4-node DAG; ``edges[k]`` maps op name -> module for the k-th edge of ``EDGES``."""

    def __init__(self, channels: int, affine: bool, cell: Cell | None) -> None:
        super().__init__()
        self.edges = nn.ModuleList()
        for k in range(len(EDGES)):
            names = OPS if cell is None else (OPS[cell[k]],)
            ops = {n: make_op(n, channels, affine) for n in names if n != "none"}
            self.edges.append(nn.ModuleDict(ops))

    def forward(self, x: Tensor, cell: Cell) -> Tensor:
        nodes = [x]
        k = 0
        for to_node in range(1, NUM_NODES):
            total: Tensor | None = None
            for j in range(to_node):
                if cell[k] != NONE:
                    out = self.edges[k][OPS[cell[k]]](nodes[j])
                    total = out if total is None else total + out
                k += 1
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]


class NB201Net(nn.Module):
    """NB201 macro skeleton: stem, 3 stages of N cells (C, 2C, 4C), 2 ResNet reductions, head.

    ``affine_cells`` sets BN affine in the searched cells (True for NB201's standalone
    networks, False for the supernet). Stem, reductions and head always use affine BN.
    """

    def __init__(self, channels: int = 16, layers: int = 5, num_classes: int = 10,
                 cell: Cell | None = None, affine_cells: bool = True) -> None:
        super().__init__()
        self.cell = None if cell is None else check_cell(cell)
        self.config = {"channels": channels, "layers": layers, "num_classes": num_classes,
                       "affine_cells": affine_cells}
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        blocks: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                blocks.append(ResNetBasicBlock(c, 2 * c, stride=2))
                c *= 2
            blocks.extend(NB201Cell(c, affine_cells, self.cell) for _ in range(layers))
        self.cells = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: Tensor, cell: Cell | None = None) -> Tensor:
        if cell is None:
            if self.cell is None:
                raise ValueError("the supernet needs a cell: call net(x, cell)")
            cell = self.cell
        h = self.stem(x)
        for block in self.cells:
            h = block(h, cell) if isinstance(block, NB201Cell) else block(h)
        h = self.global_pooling(self.lastact(h)).flatten(1)
        return self.classifier(h)


    # ---- what proxies ask of any supernet (DartsNet answers the same three questions)

    def extract(self, cell: Cell) -> NB201Net:
        """A standalone copy of one path of the supernet, weights and BN buffers included.
        It shares nothing with the supernet, so perturbing or recalibrating it can never
        change the supernet."""
        cfg = self.config
        return standalone_copy(self, lambda: NB201Net(
            cfg["channels"], cfg["layers"], cfg["num_classes"], cell=cell,
            affine_cells=cfg["affine_cells"]))

    def searched_cells(self) -> list[nn.Module]:
        """The modules of the searched cells (not stem, reductions or head)."""
        return [m for m in self.cells if isinstance(m, NB201Cell)]

    def path_vector(self, cell: Cell) -> Tensor | None:
        """The RLNAS weight vector of ``cell`` (see ``proxies.angle``); None when no path
        from input to output is complete."""
        live = [p for p in PATHS if all(cell[e] != NONE for e in p)]
        if not live:
            return None
        parts = [p.detach().flatten() for p in self.stem.parameters()]
        for block in self.cells:
            if not isinstance(block, NB201Cell):
                parts += [p.detach().flatten() for p in block.parameters()]
                continue
            width = block.edges[0]["nor_conv_3x3"][1].weight.shape[0]
            pool = torch.full((width * 9,), 1.0 / 9.0)
            for path in live:
                for e in path:
                    name = OPS[cell[e]]
                    if name.startswith("nor_conv"):
                        parts.append(block.edges[e][name][1].weight.detach().flatten())
                    elif name == "avg_pool_3x3":
                        parts.append(pool)
        parts += [p.detach().flatten() for p in self.lastact.parameters()]
        parts += [p.detach().flatten() for p in self.classifier.parameters()]
        return torch.cat(parts)


# the four paths from node 0 to node 3, as edge positions in EDGES
PATHS: tuple[tuple[int, ...], ...] = tuple(
    tuple(EDGES.index(e) for e in path)
    for path in (((3, 0),), ((2, 0), (3, 2)), ((1, 0), (2, 1), (3, 2)), ((1, 0), (3, 1))))


def extract_subnet(supernet: nn.Module, cell) -> nn.Module:
    """A standalone copy of one path of any supernet (NB201Net or DartsNet)."""
    return supernet.extract(cell)


def count_params(net: nn.Module) -> int:
    """Number of trainable parameters (NB201 counts BN scale/shift, not running stats)."""
    return sum(p.numel() for p in net.parameters())


def count_flops(net: nn.Module, input_size: int = 32,
                shape: tuple[int, ...] | None = None) -> float:
    """Multiply-adds of one forward pass on one image, counted as NB201 counts them:
    conv k*k*Cin*Cout/groups per output pixel (+ bias), linear in*out (+ bias); pooling, BN
    and ReLU are free (xautodl hooks pooling but leaves it out of the sum). Returns millions,
    NB201's 'flops' column (index 6111 on CIFAR-10: 153.27). The image is 3 x input_size^2,
    or ``shape`` (one input's shape with its batch dimension 1) for any other network."""
    total = [0.0]

    def conv_hook(m: nn.Conv2d, _inp, out: Tensor) -> None:
        kh, kw = m.kernel_size
        per_pos = kh * kw * m.in_channels * m.out_channels / m.groups
        positions = out.shape[0] * out.shape[2] * out.shape[3]
        total[0] += per_pos * positions + (m.out_channels * positions if m.bias is not None else 0)

    def linear_hook(m: nn.Linear, _inp, out: Tensor) -> None:
        total[0] += out.shape[0] * (m.in_features * m.out_features
                                    + (m.out_features if m.bias is not None else 0))

    handles = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            device = next(net.parameters(), torch.zeros(())).device
            net(torch.zeros(shape or (1, 3, input_size, input_size), device=device))
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    return total[0] / 1e6


def recalibrate_bn(net: nn.Module, images: Tensor, chunk: int, cell: Cell | None = None) -> None:
    """Recompute every BN's running statistics on ``images`` (SPOS), in place.

    Stats are reset and averaged over all chunks with equal weight (``momentum=None``), so
    the result does not depend on a momentum schedule. Meant for scratch copies such as
    :func:`extract_subnet`'s output, never for a supernet that callers still use.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            x = images[start:start + chunk]
            net(x) if cell is None else net(x, cell)
    net.eval()


def evaluate(net: nn.Module, images: Tensor, labels: Tensor, chunk: int,
             cell: Cell | None = None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy in %) of ``net`` in its current mode, without grads.

    The sums stay on the images' device until the end (one host round trip per call, not
    two per chunk); the loss is summed in float64, chunk by chunk, as a Python float would."""
    total_loss = torch.zeros((), dtype=torch.float64, device=images.device)
    correct = torch.zeros((), dtype=torch.int64, device=images.device)
    with torch.no_grad():
        for start in range(0, len(images), chunk):
            x, y = images[start:start + chunk], labels[start:start + chunk]
            logits = net(x) if cell is None else net(x, cell)
            total_loss += nn.functional.cross_entropy(logits, y, reduction="sum").double()
            correct += (logits.argmax(1) == y).sum()
    return total_loss.item() / len(images), 100.0 * correct.item() / len(images)


_BASE_COST: dict[tuple, tuple[int, float]] = {}


def cell_cost(cell: Cell, channels: int = 16, layers: int = 5, num_classes: int = 10,
              input_size: int = 32) -> tuple[int, float]:
    """(#params, MFLOPs) of the standalone NB201 network of ``cell`` (affine BNs, as NB201
    trains it), counted analytically: the skeleton with an all-``none`` cell, measured once
    with :func:`count_params`/:func:`count_flops`, plus each conv edge's weights and MACs.
    A test checks it against the module counts. Pass ``prune(cell)`` for live-edge counts."""
    key = (channels, layers, num_classes, input_size)
    if key not in _BASE_COST:
        skeleton = NB201Net(channels, layers, num_classes, cell=(NONE,) * len(EDGES))
        _BASE_COST[key] = (count_params(skeleton), count_flops(skeleton, input_size))
    params, flops = _BASE_COST[key]
    kernels = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}
    for stage in range(3):
        c, hw = channels * 2 ** stage, (input_size // 2 ** stage) ** 2
        for op in check_cell(cell):
            k = kernels.get(OPS[op])
            if k is not None:
                params += layers * (c * c * k * k + 2 * c)
                flops += layers * c * c * k * k * hw / 1e6
    return params, flops


DATASET_SHAPES = {"cifar10": (10, 32), "cifar100": (100, 32), "imagenet16-120": (120, 16)}


def cells_table(dataset: str = "cifar10", channels: int = 16, layers: int = 5):
    """Every NB201 cell with its index, arch, pruned arch, params and FLOPs (whole cell and
    live part only): the free baselines, computed without building 15,625 networks."""
    import pandas as pd

    from ..spaces import nb201
    classes, size = DATASET_SHAPES[dataset]
    rows = []
    for i, cell in enumerate(nb201.all_cells()):
        pruned = nb201.prune(cell)
        p, f = cell_cost(cell, channels, layers, classes, size)
        pl, fl = cell_cost(pruned, channels, layers, classes, size)
        rows.append((i, nb201.format_arch(cell), nb201.format_arch(pruned), p, pl, f, fl))
    return pd.DataFrame(rows, columns=["arch_index", "arch", "pruned_arch", "params",
                                       "params_live", "flops", "flops_live"])
