"""Flatness (GeNAS Eq. 3/4): the formula, the noise, reproducibility, no side effects."""

from __future__ import annotations

import math

import pytest
import torch

from proxybench.nets.nb201 import NB201Net, extract_subnet
from proxybench.proxies import ProxyError, parse_spec
from proxybench.proxies.flatness import EPS, flatness_value, perturbable, perturbed_losses
from proxybench.spaces import nb201


def test_formula_by_hand():
    sig = (1e-3, 2e-3, 4e-3)
    losses = (1.0, 1.5, 1.5)
    slopes = 0.5 / 1e-3 + 0.0
    assert flatness_value(losses, sig, alpha=0) == pytest.approx(1 / (slopes + EPS))
    assert flatness_value(losses, sig, alpha=1) == pytest.approx(1 / (slopes + 1.0 / 1e-3 + EPS))
    # absolute slopes: a loss that falls is as sharp as one that rises
    assert flatness_value((1.5, 1.0, 1.0), sig, 0) == flatness_value(losses, sig, 0)
    # a loss that does not change with sigma: Eq. (3) is infinite up to eps, Eq. (4) is depth
    assert flatness_value((2.0, 2.0, 2.0), sig, 0) == pytest.approx(1 / EPS)
    assert flatness_value((2.0, 2.0, 2.0), sig, 4) == pytest.approx(1 / (4 * 2.0 / 1e-3 + EPS))


def _subnet(seed=0):
    torch.manual_seed(seed)
    return extract_subnet(NB201Net(4, 1, 10, affine_cells=False), nb201.cell_at(6111)).eval()


@pytest.mark.parametrize("noise,expected", [
    ("cumulative", math.sqrt(0.01**2 + 0.02**2 + 0.03**2)),  # N(s1), N(s2-s1), N(s3-s2)
    ("direct", 0.06),                                          # fresh N(s3) on clean weights
])
def test_noise_scale_cumulative_vs_direct(noise, expected):
    net = _subnet()
    clean = torch.cat([p.detach().flatten().clone() for p in net.parameters()])
    x = torch.zeros(2, 3, 32, 32)
    y = torch.zeros(2, dtype=torch.long)
    perturbed_losses(net, perturbable(net, "all"), (0.01, 0.03, 0.06), x, y, 2, 0, noise)
    delta = torch.cat([p.detach().flatten() for p in net.parameters()]) - clean
    assert delta.std().item() == pytest.approx(expected, rel=0.05)


def test_position_cells_leaves_stem_reductions_and_head_alone():
    net = _subnet()
    cell_params = {id(p) for _, p in perturbable(net, "cells")}
    assert cell_params and len(cell_params) < len(list(net.parameters()))
    assert not cell_params & {id(p) for p in net.stem.parameters()}
    assert not cell_params & {id(p) for p in net.classifier.parameters()}


def test_spec_parsing_and_validation():
    spec = parse_spec("flatness:alpha=0,sigmas=1e-3/5e-3,noise=direct")
    assert spec.options["alpha"] == 0.0 and spec.options["sigmas"] == (1e-3, 5e-3)
    assert spec.column == "flatness[alpha=0,sigmas=1e-3/5e-3,noise=direct]"
    assert parse_spec("flatness").column == "flatness"
    for bad, msg in [("flatness:sigmas=1e-2/1e-3", "increasing"), ("flatness:alpha=-1", "alpha"),
                     ("flatness:beta=1", "bad option"), ("flatness:alpha=x", "float"),
                     ("flatness:noise=loud", "noise"), ("flatnes", "unknown proxy")]:
        with pytest.raises(ProxyError, match=msg):
            parse_spec(bad)


def test_noise_of_a_parameter_does_not_depend_on_what_else_is_perturbed():
    """Perturbing the whole supernet (reference code) or only the path (ours) gives the path
    the same noise, hence the same loss."""
    torch.manual_seed(0)
    supernet = NB201Net(4, 1, 10, affine_cells=False).eval()
    cell = nb201.cell_at(6111)
    sub = extract_subnet(supernet, cell).eval()
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8) % 10
    sig = (0.01, 0.02)
    ours = perturbed_losses(sub, perturbable(sub, "all"), sig, x, y, 8, 5, "cumulative")

    class PathOnly(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, inp):
            return self.net(inp, cell)

    wrapped = PathOnly(supernet)
    named = [(n.removeprefix("net."), p) for n, p in wrapped.named_parameters()]
    ref = perturbed_losses(wrapped, named, sig, x, y, 8, 5, "cumulative")
    assert ours == pytest.approx(ref, rel=1e-6)


def test_draws_average_independent_draws():
    net = _subnet()
    params = perturbable(net, "all")
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    y = torch.arange(8) % 10
    state = {k: v.clone() for k, v in net.state_dict().items()}
    sig = (0.05, 0.1)
    one = perturbed_losses(net, params, sig, x, y, 8, 3, "cumulative", draws=1)
    net.load_state_dict(state)
    two = perturbed_losses(net, params, sig, x, y, 8, 3, "cumulative", draws=2)
    net.load_state_dict(state)
    # draw 1 alone, by hand: the mean of draws 0 and 1 must be what draws=2 returns
    from proxybench.proxies.flatness import noise_generators
    gens = noise_generators(3, [n for n, _ in params], draw=1)
    second = []
    with torch.no_grad():
        prev = 0.0
        for s in sig:
            for n, p in params:
                p.add_(torch.randn(p.shape, generator=gens[n]) * (s - prev))
            prev = s
            second.append(torch.nn.functional.cross_entropy(net(x), y).item())
    assert two == pytest.approx([(a + b) / 2 for a, b in zip(one, second, strict=True)],
                                rel=1e-5)


def test_hessian_power_iteration_finds_the_top_eigenvalue():
    from proxybench.proxies.flatness import top_hessian_direction
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    x = torch.randn(16, 3, generator=torch.Generator().manual_seed(2))
    y = torch.arange(16) % 3
    params = list(net.parameters())
    v, eig = top_hessian_direction(net, params, x, y, iters=200, seed=0)
    flat = torch.cat([p.detach().flatten() for p in params])
    shapes = [p.shape for p in params]

    def loss_of(theta):
        out, i = x, 0
        ws = []
        for s in shapes:
            n = s.numel()
            ws.append(theta[i:i + n].view(s))
            i += n
        out = torch.tanh(out @ ws[0].T + ws[1]) @ ws[2].T + ws[3]
        return torch.nn.functional.cross_entropy(out, y)

    hess = torch.autograd.functional.hessian(loss_of, flat)
    eigvals = torch.linalg.eigvalsh(hess)
    top = eigvals[eigvals.abs().argmax()].item()
    assert eig == pytest.approx(top, rel=1e-3)
    assert torch.cat([d.flatten() for d in v]).norm().item() == pytest.approx(1.0, rel=1e-5)


def test_flatness_variants_run_on_a_real_supernet(tiny_run):
    from proxybench.engine.score import context_from_run
    cell = nb201.prune(nb201.cell_at(6111))
    specs = {t: parse_spec(t) for t in ("flatness", "flatness:draws=3",
                                        "flatness:direction=hessian,hessian_iters=3",
                                        "flatness:position=cells", "flatness:noise=direct")}
    ctx, _ = context_from_run(tiny_run, list(specs.values()))
    scores = {t: s.proxy.fn(ctx, cell, **s.options)["score"] for t, s in specs.items()}
    assert all(math.isfinite(v) and v > 0 for v in scores.values())
    assert len(set(scores.values())) == len(scores)  # each variant measures something else


def test_crn_shares_the_noise_stream_across_cells(tiny_run, monkeypatch):
    """crn=true: every cell draws its noise from the run seed alone (a weight gets the same
    noise in every cell that uses it); by default each cell has its own stream."""
    from proxybench.engine.score import context_from_run
    from proxybench.proxies import flatness as fl
    seen = []
    real = fl.perturbed_losses
    monkeypatch.setattr(fl, "perturbed_losses",
                        lambda *a, **k: seen.append(a[6]) or real(*a, **k))
    a, b = nb201.prune(nb201.cell_at(6111)), nb201.prune(nb201.cell_at(100))
    for text in ("flatness:crn=true", "flatness"):
        spec = parse_spec(text)
        ctx, _ = context_from_run(tiny_run, [spec])
        for cell in (a, b):
            spec.proxy.fn(ctx, cell, **spec.options)
    crn_a, crn_b, own_a, own_b = seen
    assert crn_a == crn_b == ctx.seed
    assert len({own_a, own_b, ctx.seed}) == 3


def test_hessian_direction_of_a_cell_with_no_path(tiny_run):
    """A disconnected cell's output ignores the stem: its weights get a zero direction and
    the score is finite (it used to raise 'appears to not have been used in the graph')."""
    from proxybench.engine.score import context_from_run
    from proxybench.spaces import nb201 as space
    cell = space.prune(next(space.cell_at(i) for i in range(space.NUM_CELLS)
                            if space.is_disconnected(space.cell_at(i))))
    spec = parse_spec("flatness:direction=hessian,hessian_iters=3")
    ctx, _ = context_from_run(tiny_run, [spec])
    result = spec.proxy.fn(ctx, cell, **spec.options)
    assert math.isfinite(result["score"]) and result["score"] > 0
