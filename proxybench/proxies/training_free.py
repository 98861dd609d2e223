"""Four published training-free proxies: AZ-NAS (Lee & Ham, CVPR 2024), ZiCo (Li et al.,
ICLR 2023), MeCo (Jiang et al., NeurIPS 2023) and SWAP (Peng et al., ICLR 2024).

Each is written from its paper's definition; the authors' code (cvlab-yonsei/AZ-NAS,
SLDGroup/ZiCo, HamsterMimi/MeCo, pym1024/SWAP) was read for the settings a paper leaves open
(input, batch, initialisation, BN mode, which layers) and those are stated below, with every
place where we differ from it. Conventions shared with ``zero_cost``: the network is the
cell's standalone NB201 network at the scoring preset's (C, N) (paper preset: C=16, N=5),
dead edges included (no proxy is ``by_pruned``), built by ``zero_cost.build_net`` from the
per-cell seed; every random draw (re-initialisations, Gaussian inputs, Rademacher vectors)
comes from a generator seeded by (run seed, cell, proxy), so a score does not depend on the
call order and the global RNG is untouched. Networks stay in train mode (BN uses batch
statistics), as in all four reference implementations. Data proxies read the first images
of ``ctx.bn_batch`` (fewer when it holds fewer). Nothing in ``ctx`` is changed.

ZiCo (``zico``; data and labels)
--------------------------------
PyTorch's default initialisation; ``batches`` (default 2) consecutive batches of
``batch_size`` (default 64) training images; g_b = dL_b/dW (mean cross-entropy of batch b)
for the ``weight`` of every Conv2d and Linear. Per layer l, over the weights w with
std_b(g_b[w]) != 0 (population std, as numpy's default in the reference):
    score = sum_l log( sum_w mean_b |g_b[w]| / std_b(g_b[w]) ),
a layer whose sum is 0 (no such weight) is skipped. Two batches of 64 as in the AZ-NAS
authors' NB201 re-run of ZiCo (NATSBench/ZeroShotProxy/compute_zico_score.py: two batches of
the xautodl search loader, batch 64, gradients zeroed between batches). The ZiCo authors'
``getzico`` (SLDGroup/ZiCo, ZeroShotProxy/compute_zico.py) zeroes the gradients before each
batch since commit d7076d5 (2023-02-17), so ``zico`` equals today's reference. Their first
commit (bbabe28, 2023-02-09) did not, so its second "batch gradient" was g_1 + g_2; that
variant is the extra column ``zico.cumulative`` (same formula on the running sums g_1,
g_1 + g_2, ...), computed from the same two backward passes at no extra cost.

MeCo (``meco``; data)
---------------------
PyTorch's default initialisation, ONE training image (``batch_size=1``; the paper's "one
data"; the authors' NB201 script correlation/NAS_Bench_201.py takes the first image of a
CIFAR loader with batch size 1), one forward pass in train mode. For every module that runs,
its output for the first image, reshaped to [channels, positions], gives the Pearson
correlation matrix P of the channels (over spatial positions); score = sum over modules of
lambda_min(P) (eigvalsh in float64). As in the reference, a channel with zero variance gets
an all-zero row and column (the reference sets corrcoef's NaNs to 0), and outputs with one
position per channel (pooled features, logits) give an all-zero P, i.e. 0, so they are
skipped. "Every module" is taken literally as the reference does (``named_modules`` with a
forward hook on each), so Sequential wrappers repeat their last child's output. Our module
tree differs from the reference's NB201 model (foresight ``nasbench2``) only in wrappers:
theirs has one more wrapper around each ReLU-Conv-BN op, each avg-pool op, the stem and each
stage of N cells, so those outputs count once more there; a ``none`` edge is a Zero module
there (it contributes 0) and no module here.

SWAP (``swap``; data)
---------------------
Gaussian initialisation (conv/linear weights N(0, 1), biases 0, BN scale 1 and shift 0, the
reference's ``network_weight_gaussian_init``), ``batch_size`` (default 16) training images.
For every nn.ReLU with a 4-D input, each output neuron (channel x position) gets the binary
pattern [output > 0] over the images; score = number of distinct patterns over all neurons
of all ReLUs (the reference transposes the sign matrix and counts unique rows). The score is
the mean over ``repeats`` (default 32) Gaussian re-initialisations on the same images. 16
images and 32 repeats are the defaults of the authors' correlation.py (their repository runs
DARTS only; the paper's NB201 batch could not be checked). The size-regularised
SWAP-Score, score x exp(-(params/1e3 - mu)^2 / sigma) with params = all parameters (the
reference's ``cal_regular_factor``), is the option ``sigma > 0`` (``mu`` in thousands of
parameters); it is off by default because the paper's (mu, sigma) for NB201 were not found,
so ``swap`` is the plain SWAP-Score. Patterns are packed into integers (up to 62 images) and
counted with a presence table, which gives exactly the reference's unique-row count.

AZ-NAS (``az_nas_expressivity``, ``az_nas_progressivity``, ``az_nas_trainability``,
``az_nas_complexity``; data-free)
------------------------------------------------------------------------------------------
As the authors' NB201 code (NB201/ZeroShotProxy/compute_az_nas_score.py and
tss_general.ipynb): Kaiming-normal (fan-in, ReLU) initialisation of conv/linear weights,
biases 0, BN scale 1 shift 0; a batch of ``batch_size`` (default 64, the xautodl search
loader's) N(0, 1) images (AZ-NAS is one of their "random input" metrics); train mode.
Stages: AZ-NAS defines its scores on the features of consecutive network stages; on NB201
the authors take as stage features the stem output and the output of every block of the
backbone in order: each of the 3N searched cells and the two ResNet reduction blocks (3N + 3
= 18 feature maps at N=5; ``extract_cell_features`` of their TinyNetwork). Our NB201Net has
the same blocks in the same order (``net.stem`` then ``net.cells``), so stage k here is
their stage k. With f_k the k-th feature map [B, c, h, w] and X_k its B*h*w rows of c
channels:
- expressivity: sum_k H_k, H_k = -sum_i p_i log(p_i + 1e-8) with p = eigenvalues of the
  (population) covariance of X_k divided by their sum (isotropy of the feature spectrum);
  eigenvalues are clipped at 0 (float64 rounding) before normalising.
- progressivity: min_k (H_k - H_{k-1}).
- trainability: for each consecutive pair (f_{k-1} -> f_k), a Rademacher g_out of f_k's
  shape, g_in = g_out^T df_k/df_{k-1} (vector-Jacobian product), pixel-unshuffled to g_out's
  resolution at the reductions; M = g_in^T g_out / (B h w) over positions ([c_in, c_out]);
  s = the largest singular value of M; per pair -s - 1/(s + 1e-6) + 2; the mean over pairs.
  A block that passes its input through unchanged (g_in == g_out exactly) makes the
  reference score -inf.
- complexity: the network's FLOPs (NB201's count, ``nets.cell_cost``; MFLOPs), which the
  authors read from the benchmark API.
The four share one pass (one network, one forward, one chain of VJPs) per cell.
Degenerate cells (a feature map that is identically zero: expressivity/progressivity NaN in
the reference; an identity block: trainability -inf) raise ValueError here, so the table
records NaN with the reason. The paper's AZ-NAS score is not a per-cell number: it is the
non-linear rank aggregation over the candidate set, :func:`az_nas_aggregate`, which ranks a
missing component last (the reference's -inf also ranks last).

Measured cost (paper preset C=16, N=5, one thread, 20 real cells scored together through
the engine on CIFAR-10; the 2-core machine shared with another scoring job and a test run):
zico 0.62 s, meco 0.08 s, swap 1.66 s (32 forward passes of 16 images), the four AZ-NAS
components 0.59 s together (one pass); 2.95 s per cell in all (median 2.73 s). The
2000-cell run took 4233 s, 2.12 s per cell (median 2.04 s).
``_timings`` repeats the measurement on Gaussian stand-in images.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nets.nb201 import NB201Cell, NB201Net, cell_cost, count_flops, count_params
from ..spaces.nb201 import Cell
from . import ModelError, ProxyError, ScoreContext, register
from .performance import memo_of, seed_from, target_text
from .zero_cost import (
    _BN,
    _batch,
    _check_batch,
    _grads,
    build_net,
    hooked,
    input_shape,
    prunable_weights,
)

AZ_NAS = ("az_nas_expressivity", "az_nas_progressivity", "az_nas_trainability",
          "az_nas_complexity")
TRAINING_FREE = ("zico", "meco", "swap", *AZ_NAS)
AZ_EPS = 1e-8           # entropy: log(p + 1e-8)
AZ_SV_EPS = 1e-6        # trainability: 1 / (s + 1e-6)


def _generator(ctx: ScoreContext, cell: Cell | nn.Module, tag: str) -> torch.Generator:
    """A CPU generator for ``tag``'s random draws on ``cell`` (independent of call order;
    a network given instead of a cell is seeded by ``target_text``)."""
    return torch.Generator().manual_seed(seed_from(f"{ctx.seed}|{target_text(cell)}|{tag}"))


def _default_net(ctx: ScoreContext, cell: Cell) -> NB201Net:
    """The cell's network at PyTorch's default init (``build_net``), shared by zico and meco
    on the same cell: neither changes its weights, and in train mode the BN running
    statistics they update are never read."""
    memo = memo_of(ctx, cell)
    if "default_net" not in memo:
        memo["default_net"] = build_net(ctx, cell)[0]
    return memo["default_net"]


# ---------------------------------------------------------------------------- ZiCo

def zico_from_grads(per_batch: list[list[Tensor]]) -> float:
    """ZiCo from ``per_batch[b][l]``, the gradient of layer l's weight on batch b."""
    score = 0.0
    for layer in zip(*per_batch, strict=True):
        g = torch.stack([t.detach().reshape(-1).double() for t in layer])
        std = g.std(0, unbiased=False)
        keep = std != 0
        if not bool(keep.any()):
            continue
        total = float((g.abs().mean(0)[keep] / std[keep]).sum())
        if total > 0:
            score += math.log(total)
    return score


def _cumulative(per_batch: list[list[Tensor]]) -> list[list[Tensor]]:
    """Running sums g_1, g_1 + g_2, ...: what accumulating ``.grad`` without zeroing gives."""
    out, running = [], None
    for grads in per_batch:
        running = list(grads) if running is None else [a + b for a, b in zip(
            running, grads, strict=True)]
        out.append(running)
    return out


def _batches(ctx: ScoreContext, name: str, batch_size: int, batches: int) -> list[tuple]:
    x, y = _batch(ctx, name, batch_size * batches)
    per = min(batch_size, len(x) // batches)
    if per < 1:
        raise ValueError(f"{name} needs at least {batches} images, got {len(x)}")
    return [(x[i * per:(i + 1) * per], y[i * per:(i + 1) * per]) for i in range(batches)]


def zico_score(net: nn.Module, data: list[tuple[Tensor, Tensor]]) -> dict:
    """ZiCo of ``net`` over the (images, labels) batches in ``data``: ``score`` from the
    per-batch gradients, ``cumulative`` from their running sums (the reference code's)."""
    weights = prunable_weights(net)
    per_batch = []
    for x, y in data:
        loss = F.cross_entropy(net(x), y)
        per_batch.append([g.detach() for g in _grads(loss, weights)])
    return {"score": zico_from_grads(per_batch),
            "cumulative": zico_from_grads(_cumulative(per_batch))}


@register("zico", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          batches=2,
          description="sum over layers of log(sum over weights of mean|grad| / std(grad)) "
                      "across batches at init (ZiCo, Li et al. 2023)")
def zico(ctx: ScoreContext, cell: Cell, batch_size: int = 64, batches: int = 2) -> dict:
    return zico_score(_default_net(ctx, cell), _batches(ctx, "zico", batch_size, batches))


def _check_zico(options: dict) -> None:
    if options["batch_size"] < 1:
        raise ProxyError(f"zico: batch_size must be at least 1, got {options['batch_size']}")
    if options["batches"] < 2:
        raise ProxyError(f"zico: batches must be at least 2 (a std over batches), got "
                         f"{options['batches']}")


zico.check_options = _check_zico
zico.extra_columns = lambda options: ["cumulative"]


# ---------------------------------------------------------------------------- MeCo

def min_eig_correlation(feature: Tensor) -> float:
    """lambda_min of the channel correlation matrix of one sample's feature map [C, ...]
    (channels over positions); zero-variance channels give zero rows and columns, and a map
    with fewer than two positions gives 0 (the reference's NaN -> 0)."""
    f = feature.detach().reshape(feature.shape[0], -1).double()
    if f.shape[1] < 2:
        return 0.0
    f = f - f.mean(1, keepdim=True)
    norms = f.norm(dim=1, keepdim=True)
    r = torch.where(norms > 0, f / norms.clamp_min(1e-300), torch.zeros_like(f))
    return float(torch.linalg.eigvalsh(r @ r.T).min())


def meco_score(net: nn.Module, x: Tensor) -> float:
    """Sum over every module that runs of ``min_eig_correlation`` of its output for the
    first image of ``x`` (computed inside the hook, before any in-place op changes it)."""
    values: list[float] = []
    maps = [0]

    def hook(_m: nn.Module, _inp, out) -> None:
        if isinstance(out, Tensor) and out.dim() >= 2:
            values.append(min_eig_correlation(out[0]))
            positions = out[0][0].numel() if out[0].dim() > 1 else 1
            maps[0] += positions > 1

    with hooked(list(net.modules()), hook), torch.no_grad():
        net(x)
    if not maps[0]:
        raise ModelError("needs feature maps (several positions per channel) to correlate "
                         "channels over, and no module of the network outputs one; it scores "
                         "convolutional networks")
    return float(sum(values))


@register("meco", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=1,
          models=True,
          description="sum over layers of the minimum eigenvalue of the channel correlation "
                      "matrix of one image's feature maps at init (MeCo, Jiang et al. 2023)")
def meco(ctx: ScoreContext, cell: Cell, batch_size: int = 1) -> float:
    x, _ = _batch(ctx, "meco", batch_size)
    return meco_score(_default_net(ctx, cell), x)


def _check_meco(options: dict) -> None:
    if options["batch_size"] < 1:
        raise ProxyError(f"meco: batch_size must be at least 1, got {options['batch_size']}")


meco.check_options = _check_meco


# ---------------------------------------------------------------------------- SWAP

def gaussian_reinit(net: nn.Module, generator: torch.Generator) -> None:
    """SWAP's (and Zen-NAS's) init, drawn from ``generator``: conv/linear weights N(0, 1),
    biases 0, BN scale 1 and shift 0."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_(generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, _BN) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()


def count_patterns(codes: list[Tensor], n: int) -> int:
    """Distinct binary patterns over ``n`` samples; ``codes`` are bool [n, ...] blocks (True
    = active), one column per neuron. Equals the number of unique rows of the transposed
    concatenation (the reference's count); patterns are packed into integers."""
    if not codes:
        return 0
    if n > 62:  # patterns no longer fit in an int64: unique rows directly
        allbits = torch.cat([c.reshape(n, -1) for c in codes], 1).T.contiguous()
        return int(torch.unique(allbits, dim=0).shape[0])
    if n <= 24:  # float32 holds these integers exactly: pack with one matmul per block
        weights = torch.tensor([float(1 << s) for s in range(n)])[None, :]
        present = torch.zeros(1 << n, dtype=torch.bool)
        for c in codes:
            present[(weights @ c.reshape(n, -1).float()).long()] = True
        return int(present.sum())
    weights = torch.tensor([1 << s for s in range(n)], dtype=torch.int64)[:, None]
    packed = [(c.reshape(n, -1).to(torch.int64) * weights).sum(0) for c in codes]
    return int(torch.unique(torch.cat(packed)).numel())


def swap_count(net: nn.Module, x: Tensor) -> int:
    """SWAP of ``net`` on ``x``: distinct activation patterns over the images of every
    neuron of every nn.ReLU with a 4-D input."""
    codes: list[Tensor] = []

    def hook(_m: nn.Module, inp, out: Tensor) -> None:
        if inp[0].dim() == 4:
            codes.append(out.detach() > 0)

    with hooked([m for m in net.modules() if isinstance(m, nn.ReLU)], hook), torch.no_grad():
        net(x)
    if not codes:
        raise ModelError("counts the activation patterns of nn.ReLU modules on feature maps "
                         "(4-D inputs), and the network has none; it scores convolutional "
                         "networks")
    return count_patterns(codes, len(x))


def swap_regular_factor(params: int, mu: float, sigma: float) -> float:
    """SWAP's size regularisation exp(-(params/1e3 - mu)^2 / sigma) (mu in thousands)."""
    return math.exp(-((params / 1e3 - mu) ** 2) / sigma)


@register("swap", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=16,
          models=True,
          repeats=32, mu=0.0, sigma=0.0,
          description="number of distinct sample-wise ReLU activation patterns of a batch, "
                      "mean over Gaussian inits (SWAP-Score, Peng et al. 2024; sigma>0 adds "
                      "the size regularisation)")
def swap(ctx: ScoreContext, cell: Cell, batch_size: int = 16, repeats: int = 32,
         mu: float = 0.0, sigma: float = 0.0) -> float:
    x, _ = _batch(ctx, "swap", batch_size)
    net, _ = build_net(ctx, cell)
    g = _generator(ctx, cell, "swap")
    counts = []
    for _ in range(repeats):
        gaussian_reinit(net, g)
        counts.append(swap_count(net, x))
    score = float(np.mean(counts))
    if sigma > 0:
        score *= swap_regular_factor(count_params(net), mu, sigma)
    return score


def _check_swap(options: dict) -> None:
    _check_batch(options)
    if options["repeats"] < 1:
        raise ProxyError(f"swap: repeats must be at least 1, got {options['repeats']}")
    if options["sigma"] < 0:
        raise ProxyError(f"swap: sigma must be >= 0 (0 = no regularisation), got "
                         f"{options['sigma']}")


swap.check_options = _check_swap


# ---------------------------------------------------------------------------- AZ-NAS

def kaiming_reinit(net: nn.Module, generator: torch.Generator) -> None:
    """AZ-NAS's default init: Kaiming-normal (fan-in, ReLU gain) conv/linear weights, biases
    0, BN scale 1 and shift 0."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu",
                                        generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, _BN) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()


def stage_features(net: NB201Net, x: Tensor) -> list[Tensor]:
    """AZ-NAS's stage features on NB201: the stem output, then each block's output (the
    3N cells and the two reductions, in order), with the autograd graph kept.

    A cell whose output node has no input outputs zeros. The reference's ``Zero`` op makes
    them as ``input.mul(0.)``, which keeps them in the graph, so the next block's
    vector-Jacobian product w.r.t. them is taken as for any input (a reduction's linear
    shortcut passes gradients whatever its input's values); here the zeros are made the same
    way: ``h_prev * 0``."""
    if not isinstance(net, NB201Net) or net.cell is None:
        raise ModelError("reads the features of each stage of NB201's skeleton (its stem "
                         "and blocks), so it scores NB201 networks only (an NB201Net built "
                         "with a cell)")
    cell = net.cell
    h = net.stem(x)
    feats = [h]
    for block in net.cells:
        prev = h
        h = block(h, cell) if isinstance(block, NB201Cell) else block(h)
        if not h.requires_grad and prev.requires_grad:
            h = prev * 0.0
        feats.append(h)
    return feats


def spectrum_entropy(feature: Tensor) -> float:
    """H = -sum p log(p + 1e-8), p = normalised eigenvalues of the channel covariance of a
    feature map [B, c, h, w] over its B*h*w positions; NaN when the map is constant."""
    c = feature.shape[1]
    rows = feature.detach().permute(0, 2, 3, 1).reshape(-1, c).double()
    rows = rows - rows.mean(0, keepdim=True)
    eig = torch.linalg.eigvalsh(rows.T @ rows / rows.shape[0]).clamp_min(0.0)
    total = float(eig.sum())
    if not total > 0:
        return math.nan
    p = eig / total
    return float(-(p * torch.log(p + AZ_EPS)).sum())


def block_trainability(g_out: Tensor, g_in: Tensor) -> float:
    """-s - 1/(s + 1e-6) + 2 with s the top singular value of the [c_in, c_out] matrix
    E[g_in g_out^T] over positions (g_in pixel-unshuffled to g_out's resolution)."""
    if g_in.shape[2] != g_out.shape[2] or g_in.shape[3] != g_out.shape[3]:
        g_in = F.pixel_unshuffle(g_in, g_in.shape[2] // g_out.shape[2])
    b, co, h, w = g_out.shape
    gi = g_in.permute(0, 2, 3, 1).reshape(b * h * w, -1).double()
    go = g_out.permute(0, 2, 3, 1).reshape(b * h * w, co).double()
    s = float(torch.linalg.matrix_norm(gi.T @ go / (b * h * w), ord=2))
    return -s - 1.0 / (s + AZ_SV_EPS) + 2.0


def az_nas_scores(net: NB201Net, x: Tensor, generator: torch.Generator) -> dict:
    """Expressivity, progressivity and trainability of ``net`` (already initialised, train
    mode) on ``x``; a degenerate value is NaN (zero feature map) or -inf (identity block)."""
    with torch.enable_grad():
        feats = stage_features(net, x)
        entropies = np.array([spectrum_entropy(f) for f in feats])
        scores = []
        for k in reversed(range(1, len(feats))):
            f_out, f_in = feats[k], feats[k - 1]
            g_out = (torch.bernoulli(torch.full(f_out.shape, 0.5), generator=generator)
                     * 2.0 - 1.0).to(f_out.device, f_out.dtype)
            g_in = None
            if f_out.requires_grad and f_in.requires_grad:
                (g_in,) = torch.autograd.grad(f_out, f_in, g_out, allow_unused=True)
            if g_in is None:           # the block's output ignores its input (zeros)
                g_in = torch.zeros_like(f_in)
            if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
                scores.append(-math.inf)
            else:
                scores.append(block_trainability(g_out, g_in))
    return {"expressivity": float(entropies.sum()),
            "progressivity": float(np.min(entropies[1:] - entropies[:-1])),
            "trainability": float(np.mean(scores))}


def _az_pass(ctx: ScoreContext, cell: Cell, batch_size: int) -> dict:
    memo = memo_of(ctx, cell)
    key = ("az_nas", batch_size)
    if key not in memo:
        net, _ = build_net(ctx, cell)
        g = _generator(ctx, cell, "az_nas")
        kaiming_reinit(net, g)
        x = torch.randn(input_shape(ctx, batch_size), generator=g)
        x = x.to(next(net.parameters()).device).contiguous(memory_format=torch.channels_last)
        memo[key] = az_nas_scores(net, x, g)
    return memo[key]


_AZ_DEGENERATE = {
    "expressivity": "a stage's feature map is constant (zero spectrum), which AZ-NAS "
                    "scores NaN/-inf",
    "progressivity": "a stage's feature map is constant (zero spectrum), which AZ-NAS "
                     "scores NaN/-inf",
    "trainability": "a block passes its input through unchanged (identity), which AZ-NAS "
                    "scores -inf",
}


def _az_component(ctx: ScoreContext, cell: Cell, name: str, batch_size: int) -> float:
    value = _az_pass(ctx, cell, batch_size)[name]
    if not math.isfinite(value):
        raise ValueError(f"az_nas {name}: {_AZ_DEGENERATE[name]}")
    return value


def _register_az(name: str, description: str) -> None:
    """One registry entry per AZ-NAS component; all read the same pass (``_az_pass``)."""
    def component(ctx: ScoreContext, cell: Cell, batch_size: int = 64) -> float:
        return _az_component(ctx, cell, name, batch_size)

    component.__name__ = f"az_nas_{name}"
    component.check_options = _check_batch
    register(f"az_nas_{name}", higher_is_better=True, needs=("macro",), by_pruned=False,
             models=True, batch_size=64, description=description)(component)


_register_az("expressivity", "AZ-NAS expressivity: sum over stages of the entropy of the "
             "normalised feature covariance spectrum, Gaussian input (Lee & Ham 2024)")
_register_az("progressivity", "AZ-NAS progressivity: minimum increase of the spectrum "
             "entropy from one stage to the next (Lee & Ham 2024)")
_register_az("trainability", "AZ-NAS trainability: mean over blocks of -s-1/s+2, s the top "
             "singular value of the block's input-output gradient map (Lee & Ham 2024)")


@register("az_nas_complexity", higher_is_better=True, needs=("macro",), by_pruned=False,
          models=True,
          description="AZ-NAS complexity: the network's FLOPs (MFLOPs, NB201's count; "
                      "Lee & Ham 2024)")
def az_nas_complexity(ctx: ScoreContext, cell: Cell | nn.Module) -> float:
    if isinstance(cell, nn.Module):      # a given network: counted on a copy of it
        return count_flops(build_net(ctx, cell)[0], shape=input_shape(ctx, 1))
    with torch.random.fork_rng(devices=[]):     # cell_cost builds a skeleton net once
        return float(cell_cost(cell, ctx.preset.channels, ctx.preset.layers,
                               ctx.num_classes, ctx.input_size)[1])


def az_nas_aggregate(table: pd.DataFrame, columns: tuple[str, ...] = AZ_NAS) -> pd.Series:
    """The AZ-NAS score of every row: sum over the components of log(rank / n), ranks
    ascending (higher component = higher rank, ties averaged as scipy's rankdata) among the
    n rows of ``table``.

    The score depends on the candidate set: it is a rank among the rows given, so adding or
    removing cells changes every row's value, and values from different tables are not
    comparable. A missing component (NaN: a degenerate cell, see the module docstring) ranks
    below every finite value, as the reference's -inf does. Returns a Series named
    ``az_nas`` aligned with ``table``'s index (higher is better).
    """
    return logrank_aggregate(table, columns, "az_nas")


def logrank_aggregate(table: pd.DataFrame, columns: tuple[str, ...], name: str) -> pd.Series:
    """Sum over ``columns`` of log(rank / n) among the rows of ``table`` (a missing value
    ranks last): the aggregate AZ-NAS and VKDNW both define, as a Series called ``name``."""
    from ..analysis.metrics import aggregate
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name}: the table lacks {missing}; score {', '.join(columns)} first")
    values = [pd.to_numeric(table[c], errors="coerce").astype(float) for c in columns]
    score = aggregate(values, [True] * len(columns), method="logrank", missing="last")
    return pd.Series(score, index=table.index, name=name)


# ---------------------------------------------------------------------------- timing

def _timings(cells: int = 20, batch: int = 1024) -> None:
    """Seconds per cell of the new proxies scored together at the paper preset (C=16, N=5),
    on Gaussian stand-in images (run with OMP_NUM_THREADS=1)."""
    from ..presets import get_preset
    from ..spaces import nb201
    from . import PROXIES

    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=g)
    ctx = ScoreContext(seed=0, preset=get_preset("paper"), num_classes=10, bn_batch=(x, y))
    rng = np.random.default_rng(0)
    per: dict[str, list[float]] = {n: [] for n in TRAINING_FREE}
    for index in rng.choice(15625, cells, replace=False):
        cell = nb201.cell_at(int(index))
        for name in TRAINING_FREE:
            t0 = time.perf_counter()
            try:
                PROXIES[name].fn(ctx, cell, **PROXIES[name].defaults)
            except ValueError:
                pass
            per[name].append(time.perf_counter() - t0)
    total = sum(float(np.mean(v)) for v in per.values())
    print(f"torch threads={torch.get_num_threads()} cells={cells}")
    for name, v in per.items():
        print(f"{name:22s} mean {np.mean(v):.3f} s")
    print(f"{'all':22s} mean {total:.3f} s/cell")
