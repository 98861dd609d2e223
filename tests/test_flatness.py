"""Flatness (GeNAS Eq. 3/4): the formula, the noise, reproducibility, no side effects."""

from __future__ import annotations

import math

import pytest
import torch

from proxybench.nets import NB201Net, extract_subnet
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
