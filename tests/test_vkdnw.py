"""VKDNW: the score against numpy on a hand-made network, its parts, seeding, NB201 cells
through the engine, degenerate cells, and the VKDNW_agg rank aggregation."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import proxybench.proxies.vkdnw as vk  # registers the proxies
from proxybench.analysis.literature import published
from proxybench.engine.score import score_cells
from proxybench.nets.nb201 import NB201Net
from proxybench.proxies import (
    PROXIES,
    ModelError,
    ProxyError,
    ScoreContext,
    all_proxies,
    parse_spec,
    parse_specs,
)
from proxybench.spaces import nb201
from proxybench.table import count_errors

from .proxy_helpers import gaussian_ctx, score_of

CELL_A = (3, 2, 1, 4, 3, 2)
CELL_B = (1, 3, 0, 2, 4, 3)
EMPTY = (0,) * 6                   # no path: every cell outputs zeros


@pytest.fixture(scope="module")
def ctx() -> ScoreContext:
    return gaussian_ctx()


def _score(ctx: ScoreContext, name: str, cell=CELL_A, **options) -> float:
    return score_of(ctx, name, cell, **options)


# ---------------------------------------------------------------- registry

def test_registry_entries_and_options():
    names = all_proxies()
    for name in vk.VKDNW:
        p = names[name]
        assert p.higher_is_better and not p.by_pruned and p.models and p.description
        assert p.needs == frozenset({"macro"})
        assert p.defaults == {"batch_size": 64, "tensors": 128, "per_tensor": 1}
    for bad, msg in (("vkdnw:batch_size=0", "batch_size"), ("vkdnw:tensors=-1", "tensors"),
                     ("vkdnw_single:per_tensor=0", "per_tensor")):
        with pytest.raises(ProxyError, match=msg):
            parse_spec(bad)


# ---------------------------------------------------------------- the formula, by hand

def _mlp() -> tuple[nn.Module, dict[str, np.ndarray]]:
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64))
    w = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    return net, w


def _numpy_vkdnw(w: dict[str, np.ndarray], x: np.ndarray, tensors: int,
                 per_tensor: int) -> float:
    """The paper's VKDNW of z = W2 relu(W1 x + b1) + b2, every step by hand in numpy:
    explicit per-sample gradients of each logit, the Fisher information with smoothed
    softmax probabilities, numpy eigenvalues, deciles, entropy."""
    w1, b1, w2, b2 = w["0.weight"], w["0.bias"], w["2.weight"], w["2.bias"]
    names = ["0.weight", "0.bias", "2.weight", "2.bias"][:tensors]
    n, k = len(x), len(b2)
    fisher = 0.0
    for b in range(n):
        h = w1 @ x[b] + b1
        r = np.maximum(h, 0)
        z = w2 @ r + b2
        rows = []
        for c in range(k):              # the gradient of z_c w.r.t. each parameter tensor
            back = w2[c] * (h > 0)
            full = {"0.weight": np.outer(back, x[b]), "0.bias": back,
                    "2.weight": np.outer(np.eye(k)[c], r), "2.bias": np.eye(k)[c]}
            rows.append(np.concatenate([
                full[m].ravel()[np.linspace(0, w[m].size - 1, per_tensor).astype(int)]
                for m in names]))
        jac = np.array(rows)                                       # [K, P]
        s = np.exp(z - z.max())
        p = 0.95 * s / s.sum() + 0.05 / k
        fisher = fisher + jac.T @ (np.diag(p) - np.outer(p, p)) @ jac / n
    lam = np.abs(np.linalg.eigvalsh(fisher))
    q = np.percentile(lam, [10, 20, 30, 40, 50, 60, 70, 80, 90])
    t = q / (q.sum() + 1e-10)
    return float(-(t * np.log(t + 1e-10)).sum())


@pytest.mark.parametrize("tensors,per_tensor", [(128, 1), (3, 1), (0, 3)])
def test_vkdnw_of_a_small_mlp_matches_numpy(tensors, per_tensor):
    net, w = _mlp()
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = vk.vkdnw_score(net, x, tensors=tensors, per_tensor=per_tensor)
    want = _numpy_vkdnw(w, x.numpy(), 4 if tensors in (0, 128) else tensors, per_tensor)
    assert got["score"] == pytest.approx(want, rel=1e-9)
    assert got["layers"] == 4.0                 # parameter tensors, whatever is chosen
    assert 0 < got["score"] < math.log(9)
    # the network is not changed: weights, mode, no .grad
    assert all(np.array_equal(v.numpy(), w[k]) for k, v in net.state_dict().items())
    assert net.training and all(p.grad is None for p in net.parameters())


def test_decile_entropy_hand_computed():
    assert vk.decile_entropy(np.ones(20)) == pytest.approx(math.log(9), rel=1e-8)
    assert vk.decile_entropy(np.zeros(5)) == 0.0          # the reference's epsilons: 0
    # 11 eigenvalues 0..10: deciles 1..9, t = k / 45
    t = np.arange(1, 10) / 45
    assert vk.decile_entropy(np.arange(11.0)) == pytest.approx(
        float(-(t * np.log(t + 1e-10)).sum()), rel=1e-9)


def test_fisher_information_is_the_categorical_fisher():
    # one image, K = 2, P = 1: F = J^T (diag(p) - p p^T) J = p0 p1 (J0 - J1)^2
    z = torch.tensor([[0.3, -0.2]])
    jac = torch.tensor([[[2.0], [0.5]]])
    s = torch.softmax(z.double(), 1)[0]
    p = 0.95 * s + 0.025
    f = vk.fisher_information(z, jac)
    assert f.shape == (1, 1)
    assert float(f) == pytest.approx(float(p[0] * p[1]) * 1.5 ** 2, rel=1e-12)


class _WithUnused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 4))
        self.unused = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_logit_jacobian_is_per_image_autograd_with_bn_in_eval_mode():
    """Per-image gradients of each logit (a BN conv network in eval mode, an unused
    parameter included) equal autograd on each image alone."""
    torch.manual_seed(0)
    net = _WithUnused().eval()
    x = torch.randn(5, 2, 6, 6)
    chosen = vk.chosen_weights(net, 0, 2)
    assert [n for n, _ in chosen][-2:] == ["unused.weight", "unused.bias"]
    z, jac = vk.logit_jacobian(net, x, chosen)
    params = dict(net.named_parameters())
    for b in range(len(x)):
        out = net(x[b:b + 1])[0]
        assert torch.allclose(z[b], out.detach(), atol=1e-6)
        for c in range(4):
            grads = torch.autograd.grad(out[c], list(params.values()), retain_graph=True,
                                        allow_unused=True)
            by_name = dict(zip(params, grads, strict=True))
            want = torch.cat([torch.zeros(len(i)) if by_name[n] is None else
                              by_name[n].reshape(-1)[i] for n, i in chosen])
            assert torch.allclose(jac[b, c], want, atol=1e-6), (b, c)


class _Layers(nn.Module):
    """Every layer kind the hooked Jacobian handles: strided, dilated and grouped convs with
    a bias, a BN with running statistics followed by an in-place ReLU, a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU(inplace=True)
        self.b = nn.Conv2d(4, 4, 3, padding=2, dilation=2, groups=2, bias=True)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.b(self.act(self.bn(self.a(x))))
        return self.fc(h.mean((2, 3)))


def test_hooked_jacobian_equals_the_per_image_one():
    """The fast route (one batched backward per class, weight gradients from each layer's
    input and output gradient) gives the vmap route's Jacobian, on every layer kind and on
    an NB201 network; where it does not apply it says so (None)."""
    torch.manual_seed(0)
    net = _Layers().eval()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-1, 1)
        net.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(5, 2, 9, 9)
    chosen = vk.chosen_weights(net, 0, 3)
    fast, slow = vk.hooked_jacobian(net, x, chosen), vk.logit_jacobian(net, x, chosen)
    assert torch.allclose(fast[0], slow[0], atol=1e-6)
    assert torch.allclose(fast[1], slow[1], rtol=1e-4, atol=1e-6)
    cell = NB201Net(4, 1, 10, cell=CELL_A, affine_cells=True).eval()
    xs = torch.randn(3, 3, 32, 32)
    chosen = vk.chosen_weights(cell, 128, 1)
    fast, slow = vk.hooked_jacobian(cell, xs, chosen), vk.logit_jacobian(cell, xs, chosen)
    scale = float(slow[1].abs().max())
    assert torch.allclose(fast[1], slow[1], rtol=1e-4, atol=1e-6 * scale)
    # a parameter of a module that never runs, or of one that runs twice: the vmap route
    assert vk.hooked_jacobian(_WithUnused().eval(), torch.randn(2, 2, 6, 6),
                              vk.chosen_weights(_WithUnused(), 0, 1)) is None
    twice = nn.Sequential(nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten()).eval()
    twice[1] = twice[0]
    assert vk.hooked_jacobian(twice, torch.randn(2, 2, 4, 4),
                              vk.chosen_weights(twice, 0, 1)) is None


# ---------------------------------------------------------------- on NB201 cells

# vkdnw_single is vkdnw's pass plus its layer count (test_single_is_layers_then_vkdnw); its
# own run of this test is slow (about 20 s) and runs with `pytest -m slow`
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow)
                                  if n == "vkdnw_single" else n for n in vk.VKDNW])
def test_finite_repeatable_seeded_and_nothing_changed(ctx, name):
    x0 = ctx.bn_batch[0].clone()
    rng = torch.get_rng_state()
    first = _score(ctx, name)
    assert isinstance(first, float) and math.isfinite(first)
    assert torch.equal(torch.get_rng_state(), rng)            # global RNG untouched
    torch.manual_seed(999)
    assert _score(ctx, name) == first                          # the same seed: the same
    assert _score(replace(ctx, seed=1), name) != first         # another seed: other draws
    assert _score(ctx, name, CELL_B) != first
    assert torch.equal(ctx.bn_batch[0], x0)


def test_single_is_layers_then_vkdnw(ctx):
    result = PROXIES["vkdnw"].fn(replace(ctx, memo={}), CELL_A, **PROXIES["vkdnw"].defaults)
    net = NB201Net(ctx.preset.channels, ctx.preset.layers, 10, cell=CELL_A)
    assert result["layers"] == len(list(net.parameters()))
    assert _score(ctx, "vkdnw_single") == pytest.approx(
        result["layers"] + result["score"] / 10, rel=1e-12)
    # more parameter tensors always rank higher, whatever the entropy
    assert math.floor(_score(ctx, "vkdnw_single")) == result["layers"]


def test_a_given_network_is_scored_on_a_copy_as_the_cell_is(ctx):
    """measure's path: an NB201Net of the cell gives the engine's value; it is unchanged."""
    from proxybench.proxies.performance import cell_seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell_seed(ctx.seed, CELL_A))
        net = NB201Net(ctx.preset.channels, ctx.preset.layers, 10, cell=CELL_A,
                       affine_cells=True)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert _score(ctx, "vkdnw", net) == _score(ctx, "vkdnw")
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.training


def test_disconnected_cell_scores_zero_as_the_reference(ctx):
    # no path from input to output: only the classifier's bias moves a logit, so the
    # spectrum is one eigenvalue and zeros, every decile 0, and the entropy 0
    assert _score(ctx, "vkdnw", EMPTY) == 0.0
    net = NB201Net(ctx.preset.channels, ctx.preset.layers, 10, cell=EMPTY)
    assert _score(ctx, "vkdnw_single", EMPTY) == len(list(net.parameters()))


def test_networks_vkdnw_cannot_score_say_why():
    x = torch.full((3, 4), 10.0)
    with pytest.raises(ModelError, match="parameters"):
        vk.vkdnw_score(nn.Flatten(), x)
    with pytest.raises(ModelError, match="logits"):
        vk.vkdnw_score(nn.Sequential(nn.Linear(4, 6), nn.Unflatten(1, (2, 3))), x)
    huge = nn.Linear(4, 3)
    with torch.no_grad():
        huge.weight.fill_(1e38)
    with pytest.raises(ValueError, match="not finite"):
        vk.vkdnw_score(nn.Sequential(huge, nn.Linear(3, 3)), x)


def test_engine_scores_real_cells(ctx, tmp_path):
    specs = parse_specs("vkdnw;vkdnw_single")
    ctx = replace(ctx, together=tuple((s.proxy.name, tuple(sorted(s.options.items())))
                                      for s in specs))
    cells = [0, 6111, 12345]
    table = score_cells(specs, ctx, cells, tmp_path / "vk.csv",
                        progress=False).set_index("arch_index")
    assert count_errors(table) == 0
    assert {"vkdnw", "vkdnw.layers", "vkdnw_single"} <= set(table.columns)
    assert np.isfinite(table[["vkdnw", "vkdnw_single"]].to_numpy()).all()
    assert table.loc[6111, "vkdnw"] == _score(ctx, "vkdnw", nb201.cell_at(6111))
    np.testing.assert_allclose(table["vkdnw_single"],
                               table["vkdnw.layers"] + table["vkdnw"] / 10, rtol=1e-12)


# ---------------------------------------------------------------- VKDNW_agg

def test_vkdnw_aggregate_hand_computed():
    table = pd.DataFrame({"vkdnw_single": [21.1, 57.05, 57.2],
                          "jacov": [np.nan, -3.0, -5.0],              # NaN ranks last
                          "az_nas_expressivity": [1.0, 2.0, 3.0],
                          "az_nas_trainability": [0.5, 0.5, 2.0],     # tie: ranks 1.5
                          "az_nas_complexity": [3.0, 2.0, 1.0]},
                         index=[4, 5, 6])
    ranks = np.array([[1, 1, 1, 1.5, 3], [2, 3, 2, 1.5, 2], [3, 2, 3, 3, 1]])
    got = vk.vkdnw_aggregate(table)
    assert got.name == "vkdnw_agg" and list(got.index) == [4, 5, 6]
    assert np.allclose(got.to_numpy(), np.log(ranks / 3).sum(1), rtol=1e-12)
    with pytest.raises(ValueError, match="lacks"):
        vk.vkdnw_aggregate(table.drop(columns="jacov"))


def test_published_values_are_recorded():
    for key, tau, rho in (("vkdnw_agg", 0.750, 0.919), ("vkdnw_single", 0.618, 0.815)):
        assert [p.value for p in published(key, "kendall_tau")] == [tau]
        assert [p.value for p in published(key, "spearman_rho")] == [rho]
        assert "9,445" in published(key, "kendall_tau")[0].protocol
