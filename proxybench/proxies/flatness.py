"""GeNAS flatness, Eq. (3)/(4): how slowly the validation loss rises under weight noise.

    F = 1 / ( sum_i |(L(s_{i+1}) - L(s_i)) / (s_{i+1} - s_i)|  +  alpha * |L(s_1) / s_1|  + eps )

L(s) is the mean validation cross-entropy of the cell's path after Gaussian noise of scale s
is added to the weights. As in the reference code: BN statistics are recomputed on training
images once, before any noise (noise perturbs parameters, not BN buffers); the network is
then evaluated in eval mode; noise is added *cumulatively* -- N(0, s_1) first, then
N(0, s_{i+1} - s_i) on top -- and eps = 1e-5 keeps F finite. ``noise=direct`` instead adds
fresh N(0, s_i) to the clean weights for each sigma. ``draws=K`` averages the loss at each
sigma over K independent noise draws (K=1, the paper's choice, makes the slopes noisy).
``direction=hessian`` replaces the random noise by the top Hessian eigenvector (power
iteration, ``hessian_iters`` steps), scaled to the norm of the Gaussian noise.
``crn=true`` (common random numbers) seeds the noise by (run seed, parameter name) only,
so every cell that uses a weight gets the same noise on it: score differences between cells
then come from the cells, not from their noise draws. ``alpha=0`` is Eq. (3) with absolute
slopes. ``noise_seed=K`` draws the noise from seed K instead of the scoring seed (which also
picks the BN and validation images), so the two sources of variance can be varied apart
(``proxybench ablate variance``); -1, the default, uses the scoring seed.
``position=cells`` perturbs only the searched cells' weights (paper Table 7),
not the stem, reduction blocks or head. In the DARTS space (the cell is a genotype, its path a
``DartsNet``) the paper uses ``sigmas=1e-5/5e-5/1e-4`` on CIFAR-10 and ``1e-3/3e-3/6e-3``
on CIFAR-100.

Each parameter's noise comes from its own generator seeded by (run seed, cell, parameter
name): a score is reproducible and independent of evaluation order, and a parameter gets the
same noise whether only the cell's path or the whole supernet is perturbed (unused weights
cannot change the loss), so the fast path and the reference algorithm agree exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..nets.nb201 import evaluate
from ..spaces.nb201 import Cell
from . import ProxyError, ScoreContext, register
from .performance import cell_seed, prepared_subnet, seed_from

EPS = 1e-5


def flatness_value(losses: Sequence[float], sigmas: Sequence[float], alpha: float) -> float:
    """Eq. (4) from the losses at each sigma (Eq. (3) with absolute slopes when alpha=0)."""
    slopes = sum(abs((losses[i + 1] - losses[i]) / (sigmas[i + 1] - sigmas[i]))
                 for i in range(len(sigmas) - 1))
    depth = alpha * abs(losses[0] / sigmas[0])
    return 1.0 / (slopes + depth + EPS)


def perturbable(net: torch.nn.Module, position: str) -> list[tuple[str, torch.nn.Parameter]]:
    """(name, parameter) pairs noise goes to: all, or only those inside the searched cells."""
    named = list(net.named_parameters())
    if position == "all":
        return named
    in_cells = {id(p) for m in net.searched_cells() for p in m.parameters()}
    return [(n, p) for n, p in named if id(p) in in_cells]


def noise_generators(seed: int, names: Sequence[str], draw: int = 0,
                     device: torch.device | str = "cpu") -> dict[str, torch.Generator]:
    """One generator per parameter name, seeded by (seed, name[, draw]), on ``device``: the
    noise is drawn where the weights are (no host-to-GPU copy per parameter and sigma). A
    CUDA generator draws other numbers than a CPU one, so a GPU table's noise differs from a
    CPU table's (as its convolutions' rounding does); the table records the device."""
    gens = {}
    for name in names:
        key = f"{seed}|{name}" if draw == 0 else f"{seed}|{name}|{draw}"
        gens[name] = torch.Generator(device=device).manual_seed(seed_from(key))
    return gens


def perturbed_losses(net: torch.nn.Module, params: list[tuple[str, torch.nn.Parameter]],
                     sigmas: Sequence[float], images: torch.Tensor, labels: torch.Tensor,
                     chunk: int, seed: int, noise: str, draws: int = 1) -> list[float]:
    """Validation loss at each sigma, averaged over ``draws`` independent noise draws.

    Changes ``net`` in place: pass a scratch copy.
    """
    clean = [p.detach().clone() for _, p in params] if (noise == "direct" or draws > 1) \
        else None
    totals = [0.0] * len(sigmas)
    with torch.no_grad():
        for draw in range(draws):
            gens = noise_generators(seed, [n for n, _ in params], draw,
                                    params[0][1].device if params else "cpu")
            previous = 0.0
            for i, sigma in enumerate(sigmas):
                if clean is not None and (noise == "direct" or i == 0):
                    for (_, p), p0 in zip(params, clean, strict=True):
                        p.copy_(p0)
                step = sigma if noise == "direct" else sigma - previous
                for name, p in params:
                    eps = torch.randn(p.shape, generator=gens[name], dtype=p.dtype,
                                      device=p.device)
                    p.add_(eps * step)
                previous = sigma
                totals[i] += evaluate(net, images, labels, chunk)[0]
    return [t / draws for t in totals]


def top_hessian_direction(net: torch.nn.Module, params: list[torch.nn.Parameter],
                          images: torch.Tensor, labels: torch.Tensor, iters: int,
                          seed: int) -> tuple[list[torch.Tensor], float]:
    """Top eigenvector (unit norm over ``params``) and eigenvalue of the Hessian of the mean
    cross-entropy, by power iteration with Hessian-vector products (as PyHessian does)."""
    gen = torch.Generator().manual_seed(seed)
    v = [torch.randn(p.shape, generator=gen).to(p.device) for p in params]
    norm = torch.sqrt(sum((x * x).sum() for x in v))
    v = [x / norm for x in v]
    eig = 0.0
    net.eval()
    for _ in range(iters):
        loss = torch.nn.functional.cross_entropy(net(images), labels)
        # a weight the loss does not reach (e.g. the stem of a cell whose output is all
        # zeros) has zero gradient and zero Hessian rows: its direction component is 0
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        used = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
        hv = [torch.zeros_like(p) for p in params]
        if used:
            got = torch.autograd.grad([grads[i] for i in used], [params[i] for i in used],
                                      grad_outputs=[v[i] for i in used], allow_unused=True)
            for i, h in zip(used, got, strict=True):
                if h is not None:
                    hv[i] = h
        eig = float(sum((h * x).sum() for h, x in zip(hv, v, strict=True)))
        norm = torch.sqrt(sum((h * h).sum() for h in hv))
        if norm == 0:
            break
        v = [h.detach() / norm for h in hv]
    return v, eig


def hessian_losses(net: torch.nn.Module, params: list[tuple[str, torch.nn.Parameter]],
                   sigmas: Sequence[float], images: torch.Tensor, labels: torch.Tensor,
                   chunk: int, seed: int, iters: int) -> list[float]:
    """Loss at theta + s * sqrt(P) * v for each sigma s, v the top Hessian eigenvector: the same
    norm as a Gaussian perturbation of std s over the P perturbed weights, along the
    sharpest direction. Uses the first 128 validation images for the Hessian."""
    tensors = [p for _, p in params]
    v, _ = top_hessian_direction(net, tensors, images[:128], labels[:128], iters, seed)
    scale = math.sqrt(sum(p.numel() for p in tensors))
    clean = [p.detach().clone() for p in tensors]
    losses = []
    with torch.no_grad():
        for sigma in sigmas:
            for p, p0, d in zip(tensors, clean, v, strict=True):
                p.copy_(p0 + sigma * scale * d)
            losses.append(evaluate(net, images, labels, chunk)[0])
    return losses


def _check(options: dict) -> None:
    sigmas = options["sigmas"]
    if not all(math.isfinite(v) for v in (*sigmas, options["alpha"])):
        raise ProxyError(f"flatness: sigmas and alpha must be finite numbers, got sigmas="
                         f"{sigmas}, alpha={options['alpha']}")
    if len(sigmas) < 2 or any(s <= 0 for s in sigmas) or list(sigmas) != sorted(set(sigmas)):
        raise ProxyError(f"flatness: sigmas must be >= 2 positive, strictly increasing values "
                         f"(e.g. sigmas=2e-3/1e-2/2e-2), got {sigmas}")
    if options["alpha"] < 0:
        raise ProxyError(f"flatness: alpha must be >= 0, got {options['alpha']}")
    if options["noise"] not in ("cumulative", "direct"):
        raise ProxyError(f"flatness: noise must be cumulative or direct, got {options['noise']}")
    if options["position"] not in ("all", "cells"):
        raise ProxyError(f"flatness: position must be all or cells, got {options['position']}")
    if options["direction"] not in ("random", "hessian"):
        raise ProxyError(f"flatness: direction must be random or hessian, got "
                         f"{options['direction']}")
    if options["draws"] < 1 or options["hessian_iters"] < 1:
        raise ProxyError("flatness: draws and hessian_iters must be >= 1")


@register("flatness", higher_is_better=True, needs=("supernet", "data"),
          spaces=("any",),
          description="GeNAS Eq. (4): inverse of the loss slope under growing weight noise plus "
                      "alpha times the loss depth at the smallest sigma",
          sigmas=(2e-3, 1e-2, 2e-2), alpha=1.0, noise="cumulative", position="all",
          direction="random", draws=1, hessian_iters=20, crn=False, noise_seed=-1)
def flatness(ctx: ScoreContext, cell: Cell, *, sigmas: tuple[float, ...], alpha: float,
             noise: str, position: str, direction: str, draws: int,
             hessian_iters: int, crn: bool, noise_seed: int) -> dict:
    net = prepared_subnet(ctx, cell)
    params = perturbable(net, position)
    base = ctx.seed if noise_seed < 0 else noise_seed
    seed = base if crn else cell_seed(base, cell)
    if direction == "hessian":
        losses = hessian_losses(net, params, sigmas, *ctx.val_batch, ctx.eval_chunk, seed,
                                hessian_iters)
    else:
        losses = perturbed_losses(net, params, sigmas, *ctx.val_batch, ctx.eval_chunk, seed,
                                  noise, draws)
    result = {"score": flatness_value(losses, sigmas, alpha)}
    result.update({f"loss@{s:g}": v for s, v in zip(sigmas, losses, strict=True)})
    return result


flatness.check_options = _check
flatness.extra_columns = lambda options: [f"loss@{s:g}" for s in options["sigmas"]]
