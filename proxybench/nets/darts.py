"""DARTS networks: the weight-sharing supernet, one of its paths, and the retraining network.

All three are :class:`DartsNet` (one copy of the DARTS macro): a stem, ``layers`` cells with
reduction cells at 1/3 and 2/3 of the depth, global pooling and a classifier.

- supernet: ``genotype=None``: each of the 14 edges of a cell holds every op but 'none'
  (genotypes never use it), cell BNs without affine, pooling followed by a BN as in DARTS'
  search network; ``forward(x, genotype)`` runs one SPOS path.
- a path: ``genotype=g`` with the supernet's flags: each edge holds only its chosen op.
  Parameter names are the same as the supernet's, so a path's weights are a plain subset of
  the supernet's state dict (:func:`extract_path`, the DARTS twin of ``nets.extract_subnet``).
- the retraining network (DARTS/PC-DARTS ``NetworkCIFAR``): ``genotype=g``, affine BNs,
  ``auxiliary=True`` (head at 2/3 depth) and drop-path through :meth:`DartsNet.forward_train`.
  ``stem="imagenet"`` builds ``NetworkImageNet``'s stems (224 px, three stride-2 convs), used
  to size a cell for the mobile setting (``retrain.auto_channels``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..spaces.darts import (
    CONCAT,
    EDGES,
    NUM_NODES,
    PATH_OPS,
    Genotype,
    Pairs,
    check_genotype,
    chosen_edges,
    edge_index,
)
from .ops import FactorizedReduce, ReLUConvBN, make_darts_op, standalone_copy


def drop_path(x: Tensor, drop_prob: float, generator: torch.Generator | None) -> Tensor:
    """Zero whole samples of an op's output with probability ``drop_prob`` (DARTS), scaling
    the rest; the mask comes from ``generator`` (on the CPU) so runs are reproducible."""
    keep = 1.0 - drop_prob
    mask = torch.bernoulli(torch.full((x.shape[0], 1, 1, 1), keep), generator=generator)
    return x / keep * mask.to(x.device, x.dtype)


class DartsCell(nn.Module):
    """Two preprocessed inputs, 4 nodes of 2 (op, input) pairs, concat of ``concat`` nodes.

    ``pairs=None``: every op on every edge (supernet); otherwise only the chosen ones.
    """

    def __init__(self, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool,
                 affine: bool, pool_bn: bool, pairs: Pairs | None,
                 concat: tuple[int, ...] = CONCAT) -> None:
        super().__init__()
        self.reduction = reduction
        self.concat = tuple(concat)
        self.preprocess0 = (FactorizedReduce(c_pp, c, affine) if reduction_prev
                            else ReLUConvBN(c_pp, c, 1, 1, affine))
        self.preprocess1 = ReLUConvBN(c_p, c, 1, 1, affine)
        chosen: dict[int, list[str]] = {}
        if pairs is not None:
            for k, op, _ in chosen_edges(pairs):
                chosen.setdefault(k, []).append(op)
        self.edges = nn.ModuleList()
        for k, (_, src) in enumerate(EDGES):
            stride = 2 if reduction and src < 2 else 1
            names = PATH_OPS if pairs is None else chosen.get(k, [])
            self.edges.append(nn.ModuleDict(
                {n: make_darts_op(n, c, stride, affine, pool_bn) for n in names}))

    def forward(self, s0: Tensor, s1: Tensor, pairs: Pairs, drop_prob: float = 0.0,
                generator: torch.Generator | None = None) -> Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for n in range(NUM_NODES):
            total: Tensor | None = None
            for op, src in pairs[2 * n:2 * n + 2]:
                module = self.edges[edge_index(n + 2, src)][op]
                h = module(states[src])
                if drop_prob > 0 and self.training and not isinstance(module, nn.Identity):
                    h = drop_path(h, drop_prob, generator)
                total = h if total is None else total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """DARTS' auxiliary classifier on the 8x8 features at 2/3 depth (training only)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).flatten(1))


class DartsNet(nn.Module):
    """The DARTS macro (see the module docstring for its three uses)."""

    def __init__(self, channels: int = 16, layers: int = 8, num_classes: int = 10,
                 genotype: Genotype | None = None, *, affine: bool = True,
                 pool_bn: bool = False, auxiliary: bool = False, stem: str = "cifar",
                 stem_multiplier: int = 3) -> None:
        super().__init__()
        if layers < 3:
            raise ValueError(f"a DARTS network needs >= 3 cells (two are reductions), got {layers}")
        if stem not in ("cifar", "imagenet"):
            raise ValueError(f"stem must be cifar or imagenet, got {stem!r}")
        if auxiliary and stem != "cifar":
            raise ValueError("the auxiliary head is implemented for the CIFAR network only")
        self.genotype = None if genotype is None else check_genotype(genotype)
        self.config = {"channels": channels, "layers": layers, "num_classes": num_classes,
                       "affine": affine, "pool_bn": pool_bn, "auxiliary": auxiliary,
                       "stem": stem, "stem_multiplier": stem_multiplier}
        c = channels
        if stem == "cifar":
            c_stem = stem_multiplier * c
            self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(c_stem))
            self.stem1 = None
            c_pp, c_p, reduction_prev = c_stem, c_stem, False
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(3, c // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c // 2), nn.ReLU(inplace=True),
                nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c))
            self.stem1 = nn.Sequential(nn.ReLU(inplace=True),
                                       nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                                       nn.BatchNorm2d(c))
            c_pp, c_p, reduction_prev = c, c, True
        self.reductions = (layers // 3, 2 * layers // 3)
        self.cells = nn.ModuleList()
        self.aux_index = 2 * layers // 3
        c_aux = c_p
        for i in range(layers):
            reduction = i in self.reductions
            if reduction:
                c *= 2
            if self.genotype is None:
                pairs, concat = None, CONCAT
            else:
                g = self.genotype
                pairs, concat = (g.reduce, g.reduce_concat) if reduction else \
                    (g.normal, g.normal_concat)
            self.cells.append(DartsCell(c_pp, c_p, c, reduction, reduction_prev, affine,
                                        pool_bn, pairs, concat))
            reduction_prev = reduction
            c_pp, c_p = c_p, len(concat) * c
            if i == self.aux_index:
                c_aux = c_p
        self.auxiliary_head = AuxiliaryHeadCIFAR(c_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def _genotype(self, genotype: Genotype | None) -> Genotype:
        if genotype is None:
            if self.genotype is None:
                raise ValueError("the supernet needs a path: call net(x, genotype)")
            return self.genotype
        if self.genotype is None and (tuple(genotype.normal_concat) != CONCAT
                                      or tuple(genotype.reduce_concat) != CONCAT):
            raise ValueError(f"the supernet concatenates nodes {list(CONCAT)}; a path must too")
        return genotype

    def _run(self, x: Tensor, genotype: Genotype | None, drop_prob: float,
             generator: torch.Generator | None, with_aux: bool) -> tuple[Tensor, Tensor | None]:
        g = self._genotype(genotype)
        s0 = self.stem(x)
        s1 = s0 if self.stem1 is None else self.stem1(s0)
        aux = None
        for i, cell in enumerate(self.cells):
            pairs = g.reduce if cell.reduction else g.normal
            s0, s1 = s1, cell(s0, s1, pairs, drop_prob, generator)
            if with_aux and i == self.aux_index and self.auxiliary_head is not None:
                aux = self.auxiliary_head(s1)
        return self.classifier(self.global_pooling(s1).flatten(1)), aux

    def forward(self, x: Tensor, genotype: Genotype | None = None) -> Tensor:
        return self._run(x, genotype, 0.0, None, False)[0]

    # ---- what proxies ask of any supernet (NB201Net answers the same three questions)

    def extract(self, genotype: Genotype) -> DartsNet:
        """A standalone copy of one path of the supernet, weights and BN buffers included;
        it shares nothing with the supernet."""
        genotype = self._genotype(check_genotype(genotype))
        return standalone_copy(self, lambda: DartsNet(genotype=genotype, **self.config))

    def searched_cells(self) -> list[nn.Module]:
        return list(self.cells)

    def path_vector(self, genotype: Genotype) -> Tensor:
        """RLNAS's DARTS weight vector (see ``proxies.angle``): the stem, every cell's two
        preprocessing convs and its 8 chosen ops, the classifier; pooling counts as a
        constant 1/9 kernel per channel."""
        parts = [p.detach().flatten() for p in self.stem.parameters()]
        if self.stem1 is not None:
            parts += [p.detach().flatten() for p in self.stem1.parameters()]
        for cell in self.cells:
            parts += [p.detach().flatten() for p in cell.preprocess0.parameters()]
            parts += [p.detach().flatten() for p in cell.preprocess1.parameters()]
            pairs = genotype.reduce if cell.reduction else genotype.normal
            for k, op, _ in chosen_edges(pairs):
                weights = [p.detach().flatten() for p in cell.edges[k][op].parameters()]
                if weights:
                    parts += weights
                elif op.endswith("pool_3x3"):
                    channels = cell.preprocess1[1].out_channels
                    parts.append(torch.full((channels * 9,), 1.0 / 9.0,
                                            device=parts[0].device))
        parts += [p.detach().flatten() for p in self.classifier.parameters()]
        return torch.cat(parts)

    def forward_train(self, x: Tensor, drop_prob: float,
                      generator: torch.Generator | None) -> tuple[Tensor, Tensor | None]:
        """(logits, auxiliary logits or None) with drop-path: the retraining step."""
        return self._run(x, None, drop_prob, generator, self.training)


def build_darts_supernet(channels: int, layers: int, num_classes: int) -> DartsNet:
    """The DARTS SPOS supernet: all ops on every edge, cell BNs without affine."""
    return DartsNet(channels, layers, num_classes, None, affine=False, pool_bn=True)


def extract_path(supernet: DartsNet, genotype: Genotype) -> DartsNet:
    """A standalone copy of one path of the supernet (``DartsNet.extract``)."""
    return supernet.extract(genotype)


def count_params_darts(net: DartsNet) -> int:
    """Parameters as DARTS reports them: the auxiliary head left out (it is dropped after
    training)."""
    return sum(p.numel() for n, p in net.named_parameters() if not n.startswith("auxiliary"))
