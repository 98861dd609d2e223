"""VKDNW (Týbl & Neumann, CVPR 2025, "Training-free Neural Architecture Search through
Variance of Knowledge of Deep Network Weights"): the entropy of the spectrum of the Fisher
information of a network's weights at initialisation.

Written from the paper's formula; the settings it leaves open are those of the authors' NB201
code, ondratybl/VKDNW at commit 6901b65 (NB201/ZeroShotProxy/compute_vkdnw_score.py, its
driver NB201/tss_general_.py and the analysis notebook NB201/paper_preparation.ipynb, the
last two as of 2b67433^, before the "prepare" commit removed them):

* Network and input: the cell's standalone network (``zero_cost.build_net``, dead edges
  included, as in the reference's TinyNetwork), re-initialised Kaiming-normal (fan-in, ReLU)
  with biases 0 and BN scale 1 shift 0 (``training_free.kaiming_reinit``), a batch of
  ``batch_size`` (64) N(0, 1) images (their default: VKDNW is not one of the driver's real-input
  metrics). The Fisher information is taken in eval mode (the reference calls
  ``model.eval()``): BN uses its running statistics, here fresh (mean 0, variance 1), so each
  image's logits depend on that image alone.
* Weights: theta = one weight (``per_tensor`` = 1: flat index 0; more are spread by
  ``linspace(0, n - 1, per_tensor)``, truncated) of each of the first ``tensors`` (128, the
  driver's ``params_grad_len``) parameter tensors in ``named_parameters`` order: weights,
  BN scales and shifts and biases alike. The notebook notes that the paper's
  VKDNW_single/VKDNW_agg numbers are from the run that takes the first tensors.
* Fisher information: with z_b the logits of image b, J_b = dz_b/dtheta [K, P] and the
  smoothed prediction p_b = (1 - a) softmax(z_b) + a / K (a = 0.05),
      F = (1/B) sum_b J_b^T (diag(p_b) - p_b p_b^T) J_b,
  the Fisher information of the categorical model at its own predictions (no labels).
* Score: lambda = the singular values of F (its eigenvalues; F is positive semi-definite),
  q = their deciles (k/10, k = 1..9, linear interpolation), t = q / (sum q + 1e-10),
      vkdnw = -sum_k t_k log(t_k + 1e-10).
  ``vkdnw`` also reports aleph, the number of parameter tensors (``vkdnw.layers``, the
  reference's ``vkdnw_dim``, "#trainable_layers").
* VKDNW_single: the paper writes aleph + VKDNW; the notebook that made the published numbers
  ranks the pair (aleph, VKDNW) lexicographically (a dense rank of the tuple). ``vkdnw_single``
  = aleph + VKDNW / 10 orders cells exactly so (VKDNW <= log 9 < 10), and reads as both.
* VKDNW_agg (:func:`vkdnw_aggregate`): sum of log(rank) of VKDNW_single, jacov, AZ-NAS
  expressivity and trainability and FLOPs over the candidate set (the notebook's
  "flops_expressivity_trainability_jacov_vkdnw_" score).

Deliberate differences: the reference computes alpha, 1 - alpha and alpha / K in float16
(its probabilities then sum to 1.0002) and factors diag(p) - p p^T by a Cholesky form; we
use a = 0.05 exactly and the matrix itself, in float64 (on two C=16, N=5 cells the
reference's rounding moves VKDNW by 4e-4 and 5e-4, against a spread of 0.1 or more between
cells). It takes float32 decile positions; we take k/10. Its jacov (in the aggregate) is
AZ-NAS's, at Kaiming init; ours (``jacov``) is at PyTorch's default init. Its dense rank of
(aleph, VKDNW) and its filling of a missing jacov with the minimum are average ranks here, a
missing value ranked last. A cell whose spectrum has all deciles 0 (e.g. no path from input
to output) scores 0, as the reference's epsilons make it; non-finite logits raise ValueError
(recorded as the cell's error).

Cost: per-image Jacobians of the chosen weights from one batched backward per class, each
weight's per-image gradient formed from its layer's input and output gradient
(:func:`hooked_jacobian`; Conv2d, BatchNorm2d and Linear weights), else by ``torch.func``
(vmap over images of the gradient of each logit). At C=16, N=5, batch 64 on one CPU thread
of the 2-core machine beside two other jobs: 2.55 s a cell hooked, 12.06 s by vmap (4.7x,
``benchmarks/bench_vkdnw.py``, 4 cells); 1,000 cells took 2,701 s.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from ..spaces.nb201 import Cell
from . import ModelError, ProxyError, ScoreContext, register
from .performance import memo_of
from .training_free import _generator, kaiming_reinit, logrank_aggregate
from .zero_cost import build_net, input_shape

VKDNW = ("vkdnw", "vkdnw_single")
VKDNW_AGG = ("vkdnw_single", "jacov", "az_nas_expressivity", "az_nas_trainability",
             "az_nas_complexity")
ALPHA = 0.05            # label smoothing of the predicted probabilities
EPS = 1e-10             # the reference's epsilon in the normalisation and the log
DECILES = tuple(k / 10 for k in range(1, 10))
SINGLE_SCALE = 10.0     # vkdnw_single = aleph + vkdnw / 10: lexicographic (vkdnw < log 9)


def chosen_weights(net: nn.Module, tensors: int, per_tensor: int) -> list[tuple[str, Tensor]]:
    """(name, flat indices) of the weights theta: ``per_tensor`` spread over each of the
    first ``tensors`` parameter tensors (0: all), in ``named_parameters`` order."""
    named = list(net.named_parameters())
    if tensors > 0:
        named = named[:tensors]
    return [(name, torch.linspace(0, p.numel() - 1, per_tensor).long()) for name, p in named]


def logit_jacobian(net: nn.Module, x: Tensor,
                   chosen: list[tuple[str, Tensor]]) -> tuple[Tensor, Tensor]:
    """Per-image logits [B, K] and their Jacobian [B, K, P] w.r.t. the chosen weights, each
    image through the network alone (``net`` in eval mode; it is not changed)."""
    params = {n: p.detach() for n, p in net.named_parameters()}
    buffers = {n: b.detach() for n, b in net.named_buffers()}
    names = [n for n, _ in chosen]

    def logits(sel: dict[str, Tensor], x1: Tensor) -> Tensor:
        out = functional_call(net, ({**params, **sel}, buffers), (x1[None],))
        if not isinstance(out, Tensor) or out.dim() != 2:
            raise ModelError("needs the network to output logits [batch, classes] (one tensor)")
        return out[0]

    sel = {n: params[n] for n in names}
    with torch.enable_grad():
        z = vmap(logits, in_dims=(None, 0))(sel, x)
        columns = []
        for k in range(z.shape[1]):
            g = vmap(grad(lambda s, x1, k=k: logits(s, x1)[k]), in_dims=(None, 0))(sel, x)
            columns.append(torch.cat([g[n].reshape(len(x), -1)[:, idx] for n, idx in chosen],
                                     1))
    return z.detach(), torch.stack(columns, 1).detach()


_HOOKED = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)


def hooked_jacobian(net: nn.Module, x: Tensor,
                    chosen: list[tuple[str, Tensor]]) -> tuple[Tensor, Tensor] | None:
    """:func:`logit_jacobian` from one batched forward and one batched backward per class.
    Why: in eval mode each image's logits depend on that image alone, so the gradient of
    sum_b z_b[k] at a layer's output is, image by image, that image's own; the gradient of
    one weight element then follows from the layer's input and output gradient (conv, BN,
    linear), with no per-image backward pass. About 10x faster than the vmap route on
    NB201's network. None when it does not apply (another layer type owns a chosen
    weight, a module runs more than once, a BN without running statistics): use
    :func:`logit_jacobian`."""
    owners = {}
    for mname, mod in net.named_modules():
        for pname, _ in mod.named_parameters(recurse=False):
            owners[f"{mname}.{pname}" if mname else pname] = (mod, pname)
    mods = {}
    for name, _ in chosen:
        mod, _ = owners.get(name, (None, None))
        if not isinstance(mod, _HOOKED) or (isinstance(mod, nn.BatchNorm2d)
                                            and mod.running_var is None):
            return None
        mods[id(mod)] = mod
    seen: dict[int, list] = {k: [] for k in mods}

    def keep(mod: nn.Module, inputs: tuple, output: Tensor) -> Tensor:
        seen[id(mod)].append((inputs[0].detach(), output))
        return output.clone()     # an in-place op downstream (ReLU(inplace)) must not
        #                           turn the kept output into its own result
    handles = [m.register_forward_hook(keep) for m in mods.values()]
    try:
        with torch.enable_grad():
            z = net(x)
            if not isinstance(z, Tensor) or z.dim() != 2:
                raise ModelError("needs the network to output logits [batch, classes] (one "
                                 "tensor)")
            if any(len(v) != 1 or not v[0][1].requires_grad for v in seen.values()):
                return None
            outs = [seen[k][0][1] for k in mods]
            columns = []
            for k in range(z.shape[1]):
                grads = torch.autograd.grad(z[:, k].sum(), outs, retain_graph=True,
                                            allow_unused=True)
                by_mod = dict(zip(mods, grads, strict=True))
                cols = []
                for name, idx in chosen:
                    mod, pname = owners[name]
                    g = by_mod[id(mod)]
                    if g is None:
                        g = torch.zeros_like(seen[id(mod)][0][1])
                    cols.append(_element_grads(mod, pname, idx, seen[id(mod)][0][0], g))
                columns.append(torch.cat(cols, 1))
    finally:
        for h in handles:
            h.remove()
    return z.detach(), torch.stack(columns, 1).detach()


def _element_grads(mod: nn.Module, pname: str, idx: Tensor, inp: Tensor,
                   gout: Tensor) -> Tensor:
    """Per-image gradient [B, len(idx)] of the elements ``idx`` (flat) of ``mod``'s
    parameter ``pname``, from its input and the gradient at its output."""
    shape = getattr(mod, pname).shape
    out = []
    for flat in idx.tolist():
        pos = np.unravel_index(flat, shape)
        if isinstance(mod, nn.Linear):
            o = pos[0]
            g = gout[..., o].reshape(len(gout), -1)
            v = g.sum(1) if pname == "bias" else (
                g * inp[..., pos[1]].reshape(len(inp), -1)).sum(1)
        elif isinstance(mod, nn.BatchNorm2d):
            c = pos[0]
            g = gout[:, c]
            if pname == "bias":
                v = g.sum((1, 2))
            else:
                xhat = (inp[:, c] - mod.running_mean[c]) / torch.sqrt(mod.running_var[c]
                                                                       + mod.eps)
                v = (g * xhat).sum((1, 2))
        else:   # Conv2d
            o = pos[0]
            g = gout[:, o]
            if pname == "bias":
                v = g.sum((1, 2))
            else:
                i, kh, kw = pos[1:]
                cin = (o // (mod.out_channels // mod.groups)) * (mod.in_channels
                                                                 // mod.groups) + i
                a = inp[:, cin]
                ph, pw = mod.padding if not isinstance(mod.padding, str) else (None, None)
                if ph is None:
                    raise ModelError("vkdnw: string padding is not supported here")
                a = torch.nn.functional.pad(a, (pw, pw, ph, ph))
                sh, sw = mod.stride
                dh, dw = mod.dilation
                ho, wo = g.shape[-2:]
                patch = a[:, kh * dh: kh * dh + sh * (ho - 1) + 1: sh,
                          kw * dw: kw * dw + sw * (wo - 1) + 1: sw]
                v = (patch * g).sum((1, 2))
        out.append(v)
    return torch.stack(out, 1)


def fisher_information(logits: Tensor, jac: Tensor, alpha: float = ALPHA) -> Tensor:
    """F = mean_b J_b^T (diag(p_b) - p_b p_b^T) J_b, p_b the smoothed softmax of the logits
    (float64) [P, P]."""
    z, j = logits.double(), jac.double()
    p = (1 - alpha) * torch.softmax(z, 1) + alpha / z.shape[1]
    cov = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    return torch.einsum("bkp,bkl,blq->pq", j, cov, j) / len(z)


def decile_entropy(eigenvalues: Tensor | np.ndarray) -> float:
    """-sum t log(t + 1e-10), t = the deciles of the spectrum over (their sum + 1e-10): 0
    when every decile is 0."""
    q = np.quantile(np.asarray(eigenvalues, dtype=float), DECILES)
    t = q / (q.sum() + EPS)
    return float(-(t * np.log(t + EPS)).sum()) + 0.0      # + 0.0: no -0.0


def vkdnw_score(net: nn.Module, x: Tensor, tensors: int = 128, per_tensor: int = 1) -> dict:
    """VKDNW of ``net`` as it is (initialised; scored in eval mode on a copy) on images
    ``x``: ``score`` (the entropy) and ``layers`` (aleph, the parameter tensors)."""
    net = _eval_copy(net)
    chosen = chosen_weights(net, tensors, per_tensor)
    if not chosen:
        raise ModelError("needs a network with parameters (their Fisher information); this "
                         "one has none")
    hooked = hooked_jacobian(net, x, chosen) if x.dim() == 4 else None
    z, jac = hooked if hooked is not None else logit_jacobian(net, x, chosen)
    if not bool(torch.isfinite(z).all() and torch.isfinite(jac).all()):
        raise ValueError("vkdnw: the logits or their gradients are not finite")
    eig = torch.linalg.svdvals(fisher_information(z, jac))
    return {"score": decile_entropy(eig.cpu().numpy()),
            "layers": float(len(list(net.parameters())))}


def _eval_copy(net: nn.Module) -> nn.Module:
    return copy.deepcopy(net).eval()


def _pass(ctx: ScoreContext, cell: Cell | nn.Module, batch_size: int, tensors: int,
          per_tensor: int) -> dict:
    """One VKDNW computation per (cell, options), shared by vkdnw and vkdnw_single."""
    memo = memo_of(ctx, cell)
    key = ("vkdnw", batch_size, tensors, per_tensor)
    if key not in memo:
        net, _ = build_net(ctx, cell)
        g = _generator(ctx, cell, "vkdnw")
        kaiming_reinit(net, g)
        x = torch.randn(input_shape(ctx, batch_size), generator=g)
        memo[key] = vkdnw_score(net, x.to(next(net.parameters()).device), tensors,
                                per_tensor)
    return memo[key]


def _check(options: dict) -> None:
    if options["batch_size"] < 1:
        raise ProxyError(f"vkdnw: batch_size must be at least 1, got {options['batch_size']}")
    if options["tensors"] < 0:
        raise ProxyError(f"vkdnw: tensors must be >= 0 (0 = all), got {options['tensors']}")
    if options["per_tensor"] < 1:
        raise ProxyError(f"vkdnw: per_tensor must be at least 1, got {options['per_tensor']}")


@register("vkdnw", higher_is_better=True, needs=("macro",), by_pruned=False, models=True,
          batch_size=64, tensors=128, per_tensor=1,
          description="entropy of the deciles of the Fisher information spectrum of one "
                      "weight per parameter tensor, Gaussian input, Kaiming init (VKDNW, "
                      "Tybl & Neumann 2025); vkdnw.layers = number of parameter tensors")
def vkdnw(ctx: ScoreContext, cell: Cell | nn.Module, batch_size: int = 64, tensors: int = 128,
          per_tensor: int = 1) -> dict:
    return dict(_pass(ctx, cell, batch_size, tensors, per_tensor))


@register("vkdnw_single", higher_is_better=True, needs=("macro",), by_pruned=False,
          models=True, batch_size=64, tensors=128, per_tensor=1,
          description="VKDNW_single: number of parameter tensors + vkdnw / 10, ordered as "
                      "the authors rank (layers, VKDNW) (Tybl & Neumann 2025)")
def vkdnw_single(ctx: ScoreContext, cell: Cell | nn.Module, batch_size: int = 64,
                 tensors: int = 128, per_tensor: int = 1) -> float:
    result = _pass(ctx, cell, batch_size, tensors, per_tensor)
    return result["layers"] + result["score"] / SINGLE_SCALE


vkdnw.check_options = _check
vkdnw.extra_columns = lambda options: ["layers"]
vkdnw_single.check_options = _check


def vkdnw_aggregate(table: pd.DataFrame, columns: tuple[str, ...] = VKDNW_AGG) -> pd.Series:
    """VKDNW_agg of every row: sum over ``columns`` of log(rank / n) among the n rows (ranks
    ascending, ties averaged, a missing value ranked last), as ``az_nas_aggregate``.

    Like AZ-NAS's, the value is a rank among the rows given: it changes with the candidate
    set. Returns a Series named ``vkdnw_agg`` aligned with ``table``'s index."""
    return logrank_aggregate(table, columns, "vkdnw_agg")


def _timing(cells: int = 3, batch: int = 64) -> None:
    """Seconds per cell of vkdnw at the paper preset (C=16, N=5), Gaussian inputs (run with
    OMP_NUM_THREADS=1)."""
    from ..run.presets import get_preset
    from ..spaces import nb201

    ctx = ScoreContext(seed=0, preset=get_preset("paper"), num_classes=10)
    rng = np.random.default_rng(0)
    for index in rng.choice(15625, cells, replace=False):
        cell = nb201.cell_at(int(index))
        t0 = time.perf_counter()
        result = vkdnw(ctx, cell, batch_size=batch)
        print(f"cell {int(index):5d} vkdnw {result['score']:.4f} layers "
              f"{result['layers']:.0f} {time.perf_counter() - t0:.2f} s "
              f"(threads={torch.get_num_threads()}, log 9 = {math.log(9):.4f})")
