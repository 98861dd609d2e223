"""Zero-cost proxies at initialisation (Abdelfattah et al. 2021, "Zero-Cost Proxies for
Lightweight NAS"; Mellor et al. 2021, NASWOT; Lin et al. 2021, Zen-NAS; the set of
Krishnakumar et al. 2022, NAS-Bench-Suite-Zero).

Common conventions
------------------
- Network: each proxy builds the standalone NB201 network of the cell,
  ``NB201Net(C, N, num_classes, cell=cell, affine_cells=True)`` with the scoring preset's
  (C, N), PyTorch's default initialisation drawn from ``cell_seed(ctx.seed, cell)`` inside
  ``torch.random.fork_rng`` (the global RNG is untouched): the same (seed, cell) gives the
  same score in any call order. The network is the full cell, dead edges included (their
  weights are there at init), so no proxy is ``by_pruned``. Nothing in ``ctx`` is changed.
  Given an nn.Module instead of a cell (``proxybench.measure``), every proxy scores a copy
  of that network with its weights as they are (``build_net``), through the same code;
  zen needs an nn.AdaptiveAvgPool2d (the feature map before it is its f).
- Data: the first ``batch_size`` (default 64, option) images and labels of ``ctx.bn_batch``
  (all of them when it holds fewer). Data proxies raise ValueError without it.
- Mode: as in the reference implementations the network stays in train mode, so BN uses
  batch statistics (only synflow differs, below). Loss: mean cross-entropy of the batch.
- "Weights" are the ``weight`` tensors of every Conv2d and Linear (no biases, no BN
  parameters), as in Abdelfattah et al.; a weight the loss does not reach has gradient 0.
- All scores are floats and higher is better (``higher_is_better=True`` for all ten).

Definitions (g = dL/dW of the CE loss, sums over all weights)
-------------------------------------------------------------
- grad_norm: sum over layers of ||g||_2 (Frobenius norm per layer, then summed).
- plain: sum g * W.   snip: sum |g * W|.
- grasp: -sum W * (H g), H the Hessian of the loss, H g by double backprop of
  <g, stop_grad(g)> from one forward pass (Abdelfattah et al. use two identical passes).
- fisher: "activations" are the outputs of every Conv2d/Linear (as in Abdelfattah et al.,
  who tap each prunable layer's output); per layer and channel k,
  F_k = 0.5 * mean_n (sum_spatial a * dL/da)^2. As the authors' code sums it
  (zero-cost-nas ``fisher.py``: each F_k is broadcast over the weights of channel k by
  ``reshape_elements`` before the sum), a layer contributes fan_in * sum_k F_k, fan_in being
  the weights per output channel (in_channels/groups * kernel area; Linear: in_features).
  ``broadcast=channels`` sums each F_k once instead (proxybench's earlier definition).
- jacov (Mellor et al. v1, as in Abdelfattah et al.): per-image gradient of the sum of the
  logits w.r.t. the input (``y.backward(ones)``, so BN's batch statistics couple images
  slightly, as in the reference), flattened; C = correlation matrix of these rows, with
  eigenvalues l: score = -sum(log(l + 1e-5) + 1 / (l + 1e-5)); its maximum is about -n for
  n images (C = identity). Raises when the output does not depend on the input.
- nwot (Mellor et al. 2021, NASWOT): binary code c = [input of each nn.ReLU module > 0]
  for every image; K = sum over ReLUs of c c^T + (1-c)(1-c)^T (= N_A - Hamming distance);
  score = log|det K| (slogdet in float64). A singular K (e.g. output independent of the
  input) raises ValueError instead of returning -inf.
- l2_norm (NAS-Bench-Suite-Zero): sum over layers of ||W||_2. Data-free.
- synflow (Tanaka et al. 2020 as used by Abdelfattah et al., their default ``bn=False``):
  on a float64 copy with every parameter replaced by its absolute value and every BN
  removed (identity), R = sum of the logits for an all-ones input [1, 3, H, W];
  score = sum |W * dR/dW|, returned as is (not a log; take the log yourself to average it):
  float64 holds it (7e49 for the all-3x3 cell at C=16, N=5; 2e10 for a mixed cell at C=8,
  N=1). Data-free; a cell whose output ignores the input scores 0.
- zen (Lin et al. 2021, Zen-NAS): weights re-drawn N(0, 1) (convs and linear; BN scale 1,
  shifts 0), as Zen-NAS does; x, eps ~ N(0, 1) of shape [batch_size, 3, H, W];
  f = the feature map before global pooling (output of the last BN-ReLU), train-mode BN;
  score = log( mean_n sum_{c,h,w} |f(x) - f(x + 0.01 eps)| ) + sum_BN log sqrt(mean_c var_c)
  with var_c the BN's batch variance averaged over the two passes (running stats reset,
  cumulative average: the batch statistics the paper defines; reading ``running_var``
  after default-momentum updates from its initial 1 would pull every value toward 1).
  A BN whose input is identically zero (a conv on an edge fed by no input, so its batch
  variance is exactly 0) carries no signal and is skipped rather than making the score
  -inf. Data-free (Gaussian input).

Measured time per cell (C=8, N=1, batch 64, one CPU thread, median over 3 cells x 5 runs
with ``_timings()``; the 2-core machine was fully loaded by another job, so an idle core is
faster): grad_norm 0.08 s, plain 0.08 s, snip 0.09 s, grasp 0.40 s (double backprop, about
5 backward passes; forward-over-reverse ``torch.func.jvp`` was slower), fisher 0.07 s,
jacov 0.07 s, nwot 0.06 s, l2_norm 0.007 s, synflow 0.03 s, zen 0.07 s.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..nets.nb201 import NB201Net
from ..spaces.nb201 import Cell
from . import ModelError, ProxyError, ScoreContext, register
from .performance import cell_seed

JACOV_K = 1e-5
EPE_K = 1e-5
ZEN_GAMMA = 1e-2
_BN = nn.modules.batchnorm._BatchNorm


# ---------------------------------------------------------------------------- building blocks

def prunable_weights(model: nn.Module) -> list[Tensor]:
    """The ``weight`` of every Conv2d and Linear, in module order."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _grads(loss: Tensor, weights: list[Tensor], create_graph: bool = False,
           retain_graph: bool = False) -> list[Tensor]:
    """d loss / d w for each weight; zeros for weights the loss does not depend on."""
    need = [w for w in weights if w.requires_grad]
    got = torch.autograd.grad(loss, need, allow_unused=True, create_graph=create_graph,
                              retain_graph=retain_graph or create_graph) \
        if loss.requires_grad and need else [None] * len(need)
    by_id = {id(w): g for w, g in zip(need, got, strict=True)}
    return [torch.zeros_like(w) if by_id.get(id(w)) is None else by_id[id(w)] for w in weights]


def weight_grads(model: nn.Module, inputs: Tensor, targets: Tensor) -> tuple[list, list]:
    """(weights, gradients of the mean CE loss) for the prunable weights of ``model``."""
    weights = prunable_weights(model)
    loss = F.cross_entropy(model(inputs), targets)
    return weights, [g.detach() for g in _grads(loss, weights)]


def grad_norm_from(grads: list[Tensor]) -> float:
    return sum(float(g.double().norm()) for g in grads)


def plain_from(weights: list[Tensor], grads: list[Tensor]) -> float:
    return sum(float((g.double() * w.detach().double()).sum())
               for w, g in zip(weights, grads, strict=True))


def snip_from(weights: list[Tensor], grads: list[Tensor]) -> float:
    return sum(float((g.double() * w.detach().double()).abs().sum())
               for w, g in zip(weights, grads, strict=True))


def grad_norm_score(model: nn.Module, inputs: Tensor, targets: Tensor) -> float:
    return grad_norm_from(weight_grads(model, inputs, targets)[1])


def plain_score(model: nn.Module, inputs: Tensor, targets: Tensor) -> float:
    return plain_from(*weight_grads(model, inputs, targets))


def snip_score(model: nn.Module, inputs: Tensor, targets: Tensor) -> float:
    return snip_from(*weight_grads(model, inputs, targets))


def grasp_score(model: nn.Module, inputs: Tensor, targets: Tensor) -> float:
    """-sum W * (H g), H g by double backprop."""
    weights = prunable_weights(model)
    loss = F.cross_entropy(model(inputs), targets)
    grads = _grads(loss, weights, create_graph=True)
    z = sum((g * g.detach()).sum() for g in grads)
    if not isinstance(z, Tensor) or not z.requires_grad:
        return 0.0                               # gradient independent of the weights
    hg = _grads(z, weights)
    return 0.0 - sum(float((w.detach().double() * h.detach().double()).sum())
                for w, h in zip(weights, hg, strict=True))


@contextlib.contextmanager
def hooked(modules, hook, *, pre: bool = False):
    """``hook`` on each of ``modules`` (a forward pre-hook with ``pre``) for the duration of
    the block, removed afterwards even when the forward pass raises."""
    handles = [m.register_forward_pre_hook(hook) if pre else m.register_forward_hook(hook)
               for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


FISHER_BROADCASTS = ("weights", "channels")


def fisher_score(model: nn.Module, inputs: Tensor, targets: Tensor,
                 broadcast: str = "weights") -> float:
    """Fisher saliency of a network's Conv2d/Linear outputs (module docstring)."""
    acts: list[Tensor] = []
    fan_ins: list[int] = []

    def keep(m, _inp, out):
        acts.append(out)
        fan_ins.append(m.weight[0].numel())

    with hooked([m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))], keep):
        loss = F.cross_entropy(model(inputs), targets)
    return fisher_from(acts, _grads(loss, acts), fan_ins, broadcast)


def fisher_from(acts: list[Tensor], grads: list[Tensor], fan_ins: Sequence[int],
                broadcast: str = "weights") -> float:
    """Sum over layers of w * sum_k 0.5 * mean_n (sum_hw a * dL/da)^2 with w the layer's
    fan-in (``weights``, the authors' sum over weights) or 1 (``channels``)."""
    if broadcast not in FISHER_BROADCASTS:
        raise ValueError(f"fisher broadcast must be one of {', '.join(FISHER_BROADCASTS)}, "
                         f"got {broadcast!r}")
    total = 0.0
    for a, g, fan_in in zip(acts, grads, fan_ins, strict=True):
        prod = (a.detach() * g).double()
        g_nk = prod.sum(dim=tuple(range(2, prod.dim()))) if prod.dim() > 2 else prod
        per_channel = float(0.5 * g_nk.pow(2).mean(0).sum())
        total += per_channel * (fan_in if broadcast == "weights" else 1)
    return total


def input_jacobians(model: nn.Module, inputs: Tensor) -> Tensor:
    """[n, d]: gradient of the sum of the outputs w.r.t. each input, flattened (Mellor v1)."""
    x = inputs.detach().clone().requires_grad_(True)
    y = model(x)
    (jac,) = torch.autograd.grad(y, x, torch.ones_like(y), allow_unused=True)
    if jac is None:
        raise ValueError("jacov: the network's output does not depend on its input")
    return jac.reshape(len(x), -1)


def jacov_from_jacobians(jac: Tensor) -> float:
    """-sum(log(l + k) + 1/(l + k)) over the eigenvalues l of corrcoef(jac rows), k=1e-5."""
    j = jac.detach().double()
    j = j - j.mean(1, keepdim=True)
    norms = j.norm(dim=1)
    if bool((norms == 0).any()):
        raise ValueError("jacov: an input Jacobian is constant (zero variance), so the "
                         "correlation matrix is undefined")
    j = j / norms[:, None]
    corr = j @ j.T
    eig = torch.linalg.eigvalsh(corr)
    return float(-(torch.log(eig + JACOV_K) + 1.0 / (eig + JACOV_K)).sum())


def jacov_score(model: nn.Module, inputs: Tensor) -> float:
    return jacov_from_jacobians(input_jacobians(model, inputs))


def nwot_kernel(codes: list[Tensor]) -> Tensor:
    """K = sum over code matrices c [n, units] of c c^T + (1-c)(1-c)^T, in float64.

    Uses (1-c)(1-c)^T = units - s_i - s_j + c c^T (s = ones per row): one matmul per ReLU,
    exact in float32 for up to 2^24 units per ReLU.
    """
    n = codes[0].shape[0]
    k = torch.zeros(n, n, dtype=torch.float64, device=codes[0].device)
    for c in codes:
        c = c.reshape(n, -1).float()
        s = c.sum(1).double()
        k += 2.0 * (c @ c.T).double() + c.shape[1] - s[:, None] - s[None, :]
    return k


def nwot_from_codes(codes: list[Tensor]) -> float:
    """log|det K| of the NASWOT kernel; ValueError when K is singular."""
    _, logabs = torch.linalg.slogdet(nwot_kernel(codes))
    value = float(logabs)
    if not math.isfinite(value):
        raise ValueError("nwot: the kernel K is singular (images share their ReLU codes)")
    return value


def nwot_score(model: nn.Module, inputs: Tensor) -> float:
    """NASWOT on the binary codes of the input of every nn.ReLU module."""
    codes: list[Tensor] = []

    def keep(_m, inp):
        codes.append(inp[0].detach() > 0)

    with hooked([m for m in model.modules() if isinstance(m, nn.ReLU)], keep, pre=True), \
            torch.no_grad():
        model(inputs)
    if not codes:
        raise ValueError("nwot: the network has no ReLU")
    return nwot_from_codes(codes)


def l2_norm_score(model: nn.Module) -> float:
    return sum(float(w.detach().double().norm()) for w in prunable_weights(model))


def synflow_score(model: nn.Module, input_shape: tuple[int, ...],
                  remove_bn: bool = True) -> float:
    """sum |W * dR/dW|, R = sum(model(ones)) on a float64 copy with |parameters|.

    The copy keeps ``model`` unchanged; ``remove_bn`` replaces every BN by an identity
    (Abdelfattah et al.'s default), otherwise BNs are put in eval mode.
    """
    net = _without_bn(model) if remove_bn else _copy(model)
    net = net.double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    device = next(net.parameters()).device
    out = net(torch.ones(input_shape, dtype=torch.float64, device=device))
    weights = prunable_weights(net)
    grads = _grads(out.sum(), weights)
    return sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads, strict=True))


def zen_score(model: nn.Module, x: Tensor, eps: Tensor, gamma: float = ZEN_GAMMA,
              features: Callable[[nn.Module, Tensor], Tensor] | None = None,
              bn_var: str = "batch") -> float:
    """Zen-NAS: log(mean_n sum |f(x) - f(x + gamma eps)|) + sum_BN log sqrt(mean var).

    ``model`` is changed (BN running statistics): pass a scratch network. ``features``
    computes f (default: the model's output). ``bn_var="batch"``: the BN variances are the
    batch variances averaged over the two passes (the paper's definition); BNs with zero
    variance (constant input) are skipped. ``bn_var="running"``: the BN's ``running_var``
    after the two passes with PyTorch's default momentum from its initial 1, as the Zen-NAS
    and NASLib code read it (so a small variance is pulled toward 1), for reproducing
    published numbers.
    """
    f = features or (lambda m, inp: m(inp))
    bns = [m for m in model.modules() if isinstance(m, _BN)]
    if bn_var == "batch":
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        out = f(model, x).double()
        mixed = f(model, x + gamma * eps).double()
    diff = (out - mixed).abs().reshape(len(x), -1).sum(1).mean()
    if not float(diff) > 0:
        raise ValueError("zen: the features do not depend on the input (zero difference)")
    score = math.log(float(diff))
    for m in bns:
        var = float(m.running_var.double().mean())
        if var > 0:
            score += 0.5 * math.log(var)
    if not math.isfinite(score):
        raise ValueError(f"zen: non-finite score {score}")
    return score


def _copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model)


def _without_bn(model: nn.Module) -> nn.Module:
    net = _copy(model)
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _BN):
                setattr(parent, name, nn.Identity())
    return net


def _gaussian_init(model: nn.Module) -> None:
    """Zen-NAS's init: conv/linear weights N(0, 1), linear biases 0, BN scale 1 shift 0."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.normal_()
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, _BN) and m.affine:
                m.weight.fill_(1.0)
                m.bias.zero_()


# ---------------------------------------------------------------------------- proxies

def build_net(ctx: ScoreContext, cell: Cell | nn.Module, gaussian: bool = False,
              noise: tuple[int, ...] | None = None) -> tuple[nn.Module, list[Tensor]]:
    """The network a proxy scores, in train mode on the context's device: the cell's
    standalone network at init, seeded by (ctx.seed, cell), or, given an nn.Module instead
    of a cell (``measure``), a copy of it (its weights as they are; the caller's module is
    never changed). ``gaussian`` re-draws its weights (Zen-NAS's init) and ``noise`` (a
    shape) draws two N(0, 1) tensors after it, from the same seed. The global RNG is left
    as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell_seed(ctx.seed, cell))
        if isinstance(cell, nn.Module):
            net = copy.deepcopy(cell).requires_grad_(True)
        else:
            net = NB201Net(ctx.preset.channels, ctx.preset.layers, ctx.num_classes, cell=cell,
                           affine_cells=True)
        if gaussian:
            _gaussian_init(net)
        extra = [torch.randn(noise), torch.randn(noise)] if noise is not None else []
    device = ctx.device
    net = net.to(device, memory_format=torch.channels_last).train()
    extra = [t.to(device).contiguous(memory_format=torch.channels_last) for t in extra]
    return net, extra


def input_shape(ctx: ScoreContext, n: int) -> tuple[int, ...]:
    """The shape of ``n`` inputs: those of the context's images, else 3 x input_size^2."""
    if ctx.bn_batch is not None:
        return (n, *ctx.bn_batch[0].shape[1:])
    return (n, 3, ctx.input_size, ctx.input_size)


def _batch(ctx: ScoreContext, name: str, batch_size: int) -> tuple[Tensor, Tensor]:
    if ctx.bn_batch is None:
        raise ValueError(f"{name} needs data: pass --run or --data-dir")
    x, y = ctx.bn_batch
    return x[:batch_size], y[:batch_size]


def _check_batch(options: dict) -> None:
    if options["batch_size"] < 2:
        raise ProxyError(f"batch_size must be at least 2, got {options['batch_size']}")


def _data_net(ctx: ScoreContext, cell: Cell | nn.Module, name: str,
              batch_size: int) -> tuple[nn.Module, Tensor, Tensor]:
    x, y = _batch(ctx, name, batch_size)
    net, _ = build_net(ctx, cell)
    return net, x, y


# What each proxy reads from the shared pass over the init network (``init_pass``).
TAPS = {"grad_norm": "weight_grads", "plain": "weight_grads", "snip": "weight_grads",
        "fisher": "act_grads", "jacov": "input_jacobian", "epe_nas": "input_jacobian",
        "nwot": "relu_codes"}


def init_pass(ctx: ScoreContext, cell: Cell, name: str, batch_size: int) -> dict:
    """What proxy ``name`` needs from one forward (+ backward) pass of the cell's init network
    on the first ``batch_size`` images, shared by the proxies scored together.

    Why: grad_norm, plain, snip, fisher, jacov, epe_nas and nwot all read the same network at
    the same initialisation on the same batch; scored together (``ctx.together``) they get
    one network, one forward and at most two backward passes per cell instead of one network
    and one pass each. Each quantity is computed exactly as the proxy alone computes it.
    """
    from .performance import memo_of
    taps = {TAPS[name]} | {TAPS[n] for n, opts in ctx.together
                           if n in TAPS and dict(opts).get("batch_size") == batch_size}
    memo = memo_of(ctx, cell)
    key = ("init_pass", batch_size)
    if key not in memo or not taps <= memo[key]["taps"]:
        memo[key] = _run_init_pass(ctx, cell, name, batch_size, taps)
    return memo[key]


def _run_init_pass(ctx: ScoreContext, cell: Cell, name: str, batch_size: int,
                   taps: set[str]) -> dict:
    x, y = _batch(ctx, name, batch_size)
    net, _ = build_net(ctx, cell)
    acts: list[Tensor] = []
    fan_ins: list[int] = []
    codes: list[Tensor] = []
    handles = []

    def keep(m, _inp, out):
        acts.append(out)
        fan_ins.append(m.weight[0].numel())

    if "act_grads" in taps:
        handles += [m.register_forward_hook(keep)
                    for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if "relu_codes" in taps:
        handles += [m.register_forward_pre_hook(lambda _m, inp: codes.append(inp[0].detach() > 0))
                    for m in net.modules() if isinstance(m, nn.ReLU)]
    if "input_jacobian" in taps:
        x = x.detach().clone().requires_grad_(True)
    grad_taps = taps & {"weight_grads", "act_grads", "input_jacobian"}
    try:
        with torch.set_grad_enabled(bool(grad_taps)):
            logits = net(x)
    finally:
        for h in handles:
            h.remove()
    out: dict = {"taps": frozenset(taps), "labels": y}
    if "relu_codes" in taps:
        out["relu_codes"] = codes
    if "input_jacobian" in taps:
        (jac,) = torch.autograd.grad(logits, x, torch.ones_like(logits), allow_unused=True,
                                     retain_graph=bool(taps & {"weight_grads", "act_grads"}))
        out["input_jacobian"] = None if jac is None else jac.reshape(len(x), -1)
    if taps & {"weight_grads", "act_grads"}:
        weights = prunable_weights(net) if "weight_grads" in taps else []
        loss = F.cross_entropy(logits, y)
        grads = [g.detach() for g in _grads(loss, weights + acts)]
        out["weights"], out["weight_grads"] = weights, grads[:len(weights)]
        out["acts"], out["act_grads"] = acts, grads[len(weights):]
        out["fan_ins"] = fan_ins
    return out


def _jacobian(p: dict, name: str) -> Tensor:
    if p["input_jacobian"] is None:
        raise ValueError(f"{name}: the network's output does not depend on its input")
    return p["input_jacobian"]


def epe_nas_from(jac: Tensor, labels: Tensor, num_classes: int) -> float:
    """EPE-NAS (Lopes et al. 2021, as in NAS-Bench-Suite-Zero): per class c, the correlation
    matrix R_c of the flattened input Jacobians of the batch's images of class c and
    s_c = sum_ij log(|R_c|_ij + 1e-5) (divided by the size of R_c when there are more than
    100 classes); score = sum_c |s_c| for up to 100 classes, else
    sum_{c, c'} |s_c - s_c'| / (number of classes present). Classes with one image give
    R_c = [1] and s_c ~ 0; higher is better."""
    j = jac.detach().double()
    per_class = []
    for c in torch.unique(labels).tolist():
        rows = j[labels == c]
        if len(rows) < 2:
            per_class.append(math.log(1.0 + EPE_K))
            continue
        r = rows - rows.mean(1, keepdim=True)
        norms = r.norm(dim=1)
        if bool((norms == 0).any()):
            raise ValueError("epe_nas: an input Jacobian is constant, so its correlation is "
                             "undefined")
        r = r / norms[:, None]
        corr = (r @ r.T).clamp(-1.0, 1.0)
        value = float(torch.log(corr.abs() + EPE_K).sum())
        per_class.append(value / len(corr) if num_classes > 100 else value)
    if num_classes <= 100:
        return float(sum(abs(v) for v in per_class))
    return float(sum(abs(a - b) for a in per_class for b in per_class) / len(per_class))


@register("grad_norm", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          description="sum of per-layer L2 norms of the CE-loss gradient at init "
                      "(Abdelfattah et al. 2021)")
def grad_norm(ctx: ScoreContext, cell: Cell, batch_size: int = 64) -> float:
    return grad_norm_from(init_pass(ctx, cell, "grad_norm", batch_size)["weight_grads"])


@register("plain", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          description="sum of gradient x weight at init, first-order saliency "
                      "(Abdelfattah et al. 2021)")
def plain(ctx: ScoreContext, cell: Cell, batch_size: int = 64) -> float:
    p = init_pass(ctx, cell, "plain", batch_size)
    return plain_from(p["weights"], p["weight_grads"])


@register("snip", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          description="sum of |gradient x weight| at init, SNIP saliency (Lee et al. 2019; "
                      "Abdelfattah et al. 2021)")
def snip(ctx: ScoreContext, cell: Cell, batch_size: int = 64) -> float:
    p = init_pass(ctx, cell, "snip", batch_size)
    return snip_from(p["weights"], p["weight_grads"])


@register("grasp", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          description="-sum weight x (Hessian x gradient) at init, GraSP saliency (Wang et al. "
                      "2020; Abdelfattah et al. 2021)")
def grasp(ctx: ScoreContext, cell: Cell, batch_size: int = 64) -> float:
    return grasp_score(*_data_net(ctx, cell, "grasp", batch_size))


@register("fisher", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          broadcast="weights",
          description="Fisher saliency at init (Theis et al. 2018; Abdelfattah et al. 2021): "
                      "per conv/linear output channel 0.5 mean_n (sum_hw act x grad)^2, "
                      "summed over the channel's weights as the authors' code does "
                      "(broadcast=channels: once per channel)")
def fisher(ctx: ScoreContext, cell: Cell, batch_size: int = 64,
           broadcast: str = "weights") -> float:
    p = init_pass(ctx, cell, "fisher", batch_size)
    return fisher_from(p["acts"], p["act_grads"], p["fan_ins"], broadcast)


@register("jacov", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          description="-sum(log(l+k)+1/(l+k)) over eigenvalues l of the correlation of "
                      "per-image input Jacobians at init (Mellor et al. 2021, v1)")
def jacov(ctx: ScoreContext, cell: Cell, batch_size: int = 64) -> float:
    return jacov_from_jacobians(_jacobian(init_pass(ctx, cell, "jacov", batch_size), "jacov"))


@register("epe_nas", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          description="sum over classes of |sum log(|corr| + 1e-5)| of the correlation of "
                      "the input Jacobians of each class's images at init (EPE-NAS, Lopes "
                      "et al. 2021)")
def epe_nas(ctx: ScoreContext, cell: Cell, batch_size: int = 64) -> float:
    p = init_pass(ctx, cell, "epe_nas", batch_size)
    return epe_nas_from(_jacobian(p, "epe_nas"), p["labels"], ctx.num_classes)


@register("nwot", higher_is_better=True, needs=("data",), by_pruned=False, batch_size=64,
          models=True,
          description="log|det K| of the kernel of ReLU binary codes of a batch at init "
                      "(NASWOT, Mellor et al. 2021)")
def nwot(ctx: ScoreContext, cell: Cell, batch_size: int = 64) -> float:
    codes = init_pass(ctx, cell, "nwot", batch_size)["relu_codes"]
    if not codes:
        raise ValueError("nwot: the network has no ReLU")
    return nwot_from_codes(codes)


for _fn in (grad_norm, plain, snip, grasp, fisher, jacov, epe_nas, nwot):
    _fn.check_options = _check_batch


def _check_fisher(options: dict) -> None:
    _check_batch(options)
    if options["broadcast"] not in FISHER_BROADCASTS:
        raise ProxyError(f"fisher broadcast must be one of {', '.join(FISHER_BROADCASTS)}, "
                         f"got {options['broadcast']!r}")


fisher.check_options = _check_fisher


@register("l2_norm", higher_is_better=True, needs=("macro",), by_pruned=False,
          models=True,
          description="sum of per-layer L2 norms of conv/linear weights at init "
                      "(NAS-Bench-Suite-Zero, Krishnakumar et al. 2022)")
def l2_norm(ctx: ScoreContext, cell: Cell) -> float:
    net, _ = build_net(ctx, cell)
    return l2_norm_score(net)


@register("synflow", higher_is_better=True, needs=("macro",), by_pruned=False,
          models=True,
          description="sum |w x dR/dw| with R = sum of logits of an all-ones input through "
                      "|weights|, BN removed, float64 (Tanaka et al. 2020; Abdelfattah et al.)")
def synflow(ctx: ScoreContext, cell: Cell) -> float:
    net, _ = build_net(ctx, cell)
    return synflow_score(net, input_shape(ctx, 1))


def _pre_gap(net: nn.Module, x: Tensor) -> Tensor:
    """The feature map before global pooling: the input of the network's last
    nn.AdaptiveAvgPool2d (NB201Net's ``global_pooling``)."""
    pools = [m for m in net.modules() if isinstance(m, nn.AdaptiveAvgPool2d)]
    if not pools:
        raise ModelError("reads the feature map before global pooling, and the network has "
                         "no nn.AdaptiveAvgPool2d; it scores convolutional networks that end "
                         "in one")
    got: list[Tensor] = []
    handle = pools[-1].register_forward_pre_hook(lambda _m, inp: got.append(inp[0]))
    try:
        net(x)
    finally:
        handle.remove()
    return got[0]


@register("zen", higher_is_better=True, needs=("macro",), by_pruned=False, batch_size=64,
          models=True,
          bn_var="batch",
          description="Zen-NAS score: log of the pre-pooling feature change under a small "
                      "Gaussian input perturbation + sum of log BN scales, Gaussian weights "
                      "(Lin et al. 2021)")
def zen(ctx: ScoreContext, cell: Cell, batch_size: int = 64, bn_var: str = "batch") -> float:
    net, (x, eps) = build_net(ctx, cell, gaussian=True, noise=input_shape(ctx, batch_size))
    return zen_score(net, x, eps, ZEN_GAMMA, features=_pre_gap, bn_var=bn_var)


def _check_zen(options: dict) -> None:
    _check_batch(options)
    if options["bn_var"] not in ("batch", "running"):
        raise ProxyError(f"zen: bn_var must be batch or running, got {options['bn_var']!r}")


zen.check_options = _check_zen

ZERO_COST = ("grad_norm", "plain", "snip", "grasp", "fisher", "jacov", "epe_nas", "nwot",
             "l2_norm", "synflow", "zen")


def _timings(channels: int = 8, layers: int = 1, batch: int = 64, repeats: int = 3) -> None:
    """Print the median seconds per cell of each proxy (run with OMP_NUM_THREADS=1)."""
    from ..run.presets import get_preset
    from . import PROXIES

    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), generator=g)
    ctx = ScoreContext(seed=0, preset=get_preset("cpu", channels=channels, layers=layers),
                       num_classes=10, bn_batch=(x, y))
    cells = [(3,) * 6, (2, 3, 1, 4, 3, 2), (1, 3, 0, 2, 4, 3)]
    print(f"torch threads={torch.get_num_threads()} C={channels} N={layers} batch={batch}")
    for name in ZERO_COST:
        times = []
        for cell in cells:
            for _ in range(repeats):
                t0 = time.perf_counter()
                PROXIES[name].fn(ctx, cell)
                times.append(time.perf_counter() - t0)
        times.sort()
        print(f"{name:10s} median {times[len(times) // 2]:.3f} s  max {times[-1]:.3f} s")

