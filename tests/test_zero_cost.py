"""Zero-cost proxies: registry entries, reproducibility, and the cores on hand-checked toys."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import proxybench.proxies.zero_cost as zc  # registers the proxies
from proxybench.proxies import PROXIES, ProxyError, ScoreContext, parse_spec
from proxybench.run.presets import get_preset

CELL_A = (3, 2, 1, 4, 3, 2)
CELL_B = (1, 3, 0, 2, 4, 3)
DATA_FREE = {"synflow", "l2_norm", "zen"}


@pytest.fixture(scope="module")
def ctx() -> ScoreContext:
    g = torch.Generator().manual_seed(123)
    x = torch.randn(16, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (16,), generator=g)
    return ScoreContext(seed=0, preset=get_preset("tiny"), num_classes=10, bn_batch=(x, y))


def _score(ctx: ScoreContext, name: str, cell=CELL_A) -> float:
    return PROXIES[name].fn(ctx, cell, **PROXIES[name].defaults)


def test_registry_entries():
    for name in zc.ZERO_COST:
        p = PROXIES[name]
        assert p.higher_is_better and not p.by_pruned and p.description
        assert p.needs == frozenset({"macro"} if name in DATA_FREE else {"data"})
        if name not in ("synflow", "l2_norm"):
            extra = {"zen": {"bn_var": "batch"}, "fisher": {"broadcast": "weights"}}
            assert p.defaults == {"batch_size": 64, **extra.get(name, {})}
    assert parse_spec("nwot:batch_size=8").options == {"batch_size": 8}
    assert parse_spec("fisher:broadcast=channels").column == "fisher[broadcast=channels]"
    with pytest.raises(ProxyError, match="broadcast"):
        parse_spec("fisher:broadcast=rows")
    with pytest.raises(ProxyError, match="batch_size"):
        parse_spec("snip:batch_size=1")


@pytest.mark.parametrize("name", zc.ZERO_COST)
def test_proxy_finite_repeatable_and_cell_dependent(ctx, name):
    x0, y0 = ctx.bn_batch[0].clone(), ctx.bn_batch[1].clone()
    rng = torch.get_rng_state()
    first = _score(ctx, name)
    assert isinstance(first, float) and math.isfinite(first)
    assert torch.equal(torch.get_rng_state(), rng)           # global RNG untouched
    torch.manual_seed(999)                                     # another global RNG state ...
    _score(ctx, "l2_norm" if name != "l2_norm" else "snip", CELL_B)   # ... and another call
    assert _score(ctx, name) == first
    assert _score(ctx, name, CELL_B) != first
    assert torch.equal(ctx.bn_batch[0], x0) and torch.equal(ctx.bn_batch[1], y0)
    assert not ctx.bn_batch[0].requires_grad


@pytest.mark.parametrize("name", sorted(set(zc.ZERO_COST) - DATA_FREE))
def test_data_proxies_need_data(name):
    bare = ScoreContext(seed=0, preset=get_preset("tiny"), num_classes=10)
    with pytest.raises(ValueError, match="needs data: pass --run or --data-dir"):
        _score(bare, name)


def test_disconnected_cell_is_finite_or_a_clear_error(ctx):
    none = (0,) * 6
    assert _score(ctx, "synflow", none) == 0.0
    assert _score(ctx, "grad_norm", none) == 0.0
    for name, msg in (("jacov", "does not depend"), ("nwot", "singular"),
                      ("zen", "do not depend")):
        with pytest.raises(ValueError, match=msg):
            _score(ctx, name, none)


# ---------------------------------------------------------------- cores on toy models


def _linear(weight, bias=None) -> nn.Linear:
    weight = torch.as_tensor(weight, dtype=torch.float64)
    lin = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None).double()
    with torch.no_grad():
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(torch.as_tensor(bias, dtype=torch.float64))
    return lin


def test_synflow_two_layer_linear_closed_form():
    w1 = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=torch.float64)
    w2 = torch.tensor([[-2.0, 3.0]], dtype=torch.float64)
    model = nn.Sequential(_linear(w1), _linear(w2))
    # R = 1^T |W2| |W1| 1; dR/dW1_ij = |W2|_i, dR/dW2_i = (|W1| 1)_i, so each layer's
    # sum |w * dR/dw| equals R and the score is 2R (homogeneous chain of 2 layers)
    r = float(w2.abs() @ w1.abs() @ torch.ones(3, dtype=torch.float64))
    assert zc.synflow_score(model, (1, 3)) == pytest.approx(2 * r, rel=1e-12)
    assert torch.equal(model[0].weight, w1)                   # the model is not changed
    with_bn = nn.Sequential(_linear(w1), nn.BatchNorm1d(2).double(), _linear(w2))
    assert zc.synflow_score(with_bn, (1, 3)) == pytest.approx(2 * r, rel=1e-12)
    assert isinstance(with_bn[1], nn.BatchNorm1d)


def test_l2_norm_known_weights():
    model = nn.Sequential(_linear([[3.0, 4.0], [0.0, 0.0]], [7.0, 7.0]),
                          _linear([[1.0, 2.0], [2.0, 0.0]]))
    assert zc.l2_norm_score(model) == pytest.approx(5.0 + 3.0)    # biases do not count


@pytest.fixture()
def toy():
    g = torch.Generator().manual_seed(5)
    w = torch.randn(3, 5, generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    x = torch.randn(8, 5, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 2, 1])
    return _linear(w, b), x, y


def _manual_grad(model, x, y):
    """dL/dW of mean CE for a linear model: (softmax - onehot)^T x / n; also dL/dz."""
    z = x @ model.weight.detach().T + model.bias.detach()
    dz = (torch.softmax(z, 1) - F.one_hot(y, 3).double()) / len(x)
    return dz.T @ x, z, dz


def test_grad_norm_snip_plain_match_manual_gradient(toy):
    model, x, y = toy
    g, _, _ = _manual_grad(model, x, y)
    w = model.weight.detach()
    assert zc.grad_norm_score(model, x, y) == pytest.approx(float(g.norm()), rel=1e-10)
    assert zc.snip_score(model, x, y) == pytest.approx(float((g * w).abs().sum()), rel=1e-10)
    assert zc.plain_score(model, x, y) == pytest.approx(float((g * w).sum()), rel=1e-10)
    assert model.weight.grad is None                          # .grad is never touched


def test_grasp_matches_full_hessian(toy):
    model, x, y = toy
    w0, b = model.weight.detach().clone(), model.bias.detach()

    def loss(flat):
        return F.cross_entropy(x @ flat.view(3, 5).T + b, y)

    hess = torch.autograd.functional.hessian(loss, w0.flatten())
    g = torch.autograd.functional.jacobian(loss, w0.flatten())
    expected = -float(w0.flatten() @ (hess @ g))
    assert zc.grasp_score(model, x, y) == pytest.approx(expected, rel=1e-9)


def test_fisher_linear_closed_form(toy):
    model, x, y = toy
    _, z, dz = _manual_grad(model, x, y)
    per_channel = float(0.5 * (z * dz).pow(2).mean(0).sum())
    # the authors' code broadcasts each channel's value over its 5 input weights, then sums
    assert zc.fisher_score(model, x, y) == pytest.approx(5 * per_channel, rel=1e-10)
    assert zc.fisher_score(model, x, y, broadcast="channels") == pytest.approx(per_channel,
                                                                              rel=1e-10)


def test_fisher_conv_weights_each_layer_by_its_fan_in():
    # conv (2 -> 3 channels, 3x3: 18 weights per output channel) -> mean pool -> linear (3 -> 4)
    torch.manual_seed(0)
    conv, lin = torch.nn.Conv2d(2, 3, 3, padding=1, bias=False), torch.nn.Linear(3, 4)
    model = torch.nn.Sequential(conv, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), lin)
    x, y = torch.randn(6, 2, 5, 5, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 0, 1])
    model = model.double()
    a = conv(x)
    a.retain_grad()
    z = lin(a.mean((2, 3)))
    z.retain_grad()
    F.cross_entropy(z, y).backward()
    f_conv = 0.5 * ((a * a.grad).sum((2, 3)) ** 2).mean(0).sum().item()
    f_lin = 0.5 * ((z * z.grad) ** 2).mean(0).sum().item()
    model.zero_grad()
    assert zc.fisher_score(model, x, y) == pytest.approx(18 * f_conv + 3 * f_lin, rel=1e-9)
    assert zc.fisher_score(model, x, y, broadcast="channels") == pytest.approx(
        f_conv + f_lin, rel=1e-9)
    with pytest.raises(ValueError, match="broadcast"):
        zc.fisher_score(model, x, y, broadcast="rows")


def test_nwot_hand_made_codes():
    codes = torch.tensor([[1, 0], [0, 1], [1, 1]])
    # K = N_A - Hamming with N_A = 2; distances d01 = 2, d02 = 1, d12 = 1
    k = torch.tensor([[2, 0, 1], [0, 2, 1], [1, 1, 2]], dtype=torch.float64)
    assert torch.equal(zc.nwot_kernel([codes]), k)
    assert zc.nwot_from_codes([codes]) == pytest.approx(math.log(4.0))
    # two ReLUs add their kernels; the hook reads the input of each nn.ReLU
    assert torch.equal(zc.nwot_kernel([codes, codes]), 2 * k)
    inputs = codes.double() * 2 - 1                          # > 0 exactly where code is 1
    assert zc.nwot_score(nn.Sequential(nn.ReLU()), inputs) == pytest.approx(math.log(4.0))
    assert zc.nwot_score(nn.Sequential(nn.ReLU(), nn.Identity(), nn.ReLU()), inputs) == \
        pytest.approx(math.log(4.0 * 8))                     # codes of ReLU(x) equal x's
    with pytest.raises(ValueError, match="singular"):
        zc.nwot_from_codes([torch.tensor([[1, 0], [1, 0]])])


class _HalfSquare(nn.Module):
    def forward(self, x):
        return 0.5 * x ** 2                                  # d sum / dx = x


def test_jacov_identity_and_singular_correlation():
    k = zc.JACOV_K
    hadamard = torch.tensor([[1.0, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    best = -3 * (math.log(1 + k) + 1 / (1 + k))             # correlation = identity
    assert zc.jacov_from_jacobians(hadamard) == pytest.approx(best, rel=1e-9)
    assert zc.jacov_score(_HalfSquare(), hadamard.double()) == pytest.approx(best, rel=1e-9)
    # a linear model has the same Jacobian for every image: rank-1 correlation
    model = _linear([[1.0, 2.0, -1.0, 0.5], [0.0, 1.0, 3.0, -2.0]])
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    low = zc.jacov_score(model, x)
    assert low == pytest.approx(-(math.log(3 + k) + 1 / (3 + k) + 2 * (math.log(k) + 1 / k)),
                                rel=1e-6)
    assert low < best - 1e5
    assert not x.requires_grad


def test_zen_linear_and_bn_scale():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64)
    eps = torch.randn(6, 4, generator=g, dtype=torch.float64)
    w = torch.randn(3, 4, generator=g, dtype=torch.float64)
    gamma = 0.01
    expected = math.log(float((gamma * eps @ w.T).abs().sum(1).mean()))
    assert zc.zen_score(_linear(w), x, eps, gamma) == pytest.approx(expected, rel=1e-9)

    model = nn.Sequential(_linear(w), nn.BatchNorm1d(3).double())
    z1, z2 = x @ w.T, (x + gamma * eps) @ w.T

    def bn(z):
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)

    diff = float((bn(z1) - bn(z2)).abs().sum(1).mean())
    var = float(((z1.var(0) + z2.var(0)) / 2).mean())        # unbiased, both passes
    expected = math.log(diff) + 0.5 * math.log(var)
    assert zc.zen_score(model, x, eps, gamma) == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- shared pass and EPE-NAS

SHARED = ("grad_norm", "plain", "snip", "fisher", "jacov", "epe_nas", "nwot")


@pytest.mark.parametrize("cell", [CELL_A, CELL_B, (3,) * 6])
def test_shared_pass_gives_the_scores_of_each_proxy_alone(ctx, cell):
    from dataclasses import replace
    alone = {n: _score(replace(ctx, memo={}), n, cell) for n in SHARED}
    specs = [parse_spec(n) for n in SHARED]
    together = replace(ctx, memo={}, together=tuple(
        (s.proxy.name, tuple(sorted(s.options.items()))) for s in specs))
    shared = {n: _score(together, n, cell) for n in SHARED}
    assert shared == alone                                    # bit for bit
    # one network and one pass served all seven: a single memo entry holds every tap
    (entry,) = [v for k, v in together.memo.items() if k != "cell"]
    assert entry["taps"] == {"weight_grads", "act_grads", "input_jacobian", "relu_codes"}


def test_shared_pass_respects_batch_size(ctx):
    from dataclasses import replace
    together = replace(ctx, memo={}, together=(("snip", (("batch_size", 8),)),
                                               ("fisher", (("batch_size", 16),))))
    small = PROXIES["snip"].fn(together, CELL_A, batch_size=8)
    assert small == PROXIES["snip"].fn(replace(ctx, memo={}), CELL_A, batch_size=8)
    assert small != PROXIES["snip"].fn(replace(ctx, memo={}), CELL_A, batch_size=16)


def test_epe_nas_hand_computed():
    # class 0: two images with Jacobians (1, 2, 3) and (3, 2, 1): correlation -1 off the
    # diagonal, so s_0 = 2 log(1 + k) + 2 log(1 + k); class 1: one image, s_1 = log(1 + k)
    jac = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [0.0, 1.0, 5.0]])
    labels = torch.tensor([0, 0, 1])
    k = zc.EPE_K
    assert zc.epe_nas_from(jac, labels, 10) == pytest.approx(5 * math.log(1 + k), rel=1e-9)
    # uncorrelated rows: |corr| = 0 off the diagonal gives log(k) there, a large |s_c|
    jac = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    want = abs(2 * math.log(1 + k) + 2 * math.log(k))
    assert zc.epe_nas_from(jac, torch.tensor([4, 4]), 10) == pytest.approx(want, rel=1e-9)
    # more than 100 classes: per-class scores divided by their size, then pairwise gaps
    jac = torch.tensor([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0], [1.0, 2.0, 3.0, 4.0],
                        [2.0, 4.0, 6.0, 8.0]])
    s_a = (2 * math.log(1 + k) + 2 * math.log(k)) / 2
    s_b = 4 * math.log(1 + k) / 2
    want = 2 * abs(s_a - s_b) / 2
    assert zc.epe_nas_from(jac, torch.tensor([0, 0, 1, 1]), 120) == pytest.approx(want, rel=1e-9)


def test_zen_running_variance_reads_bn_running_var_as_the_reference_code(ctx):
    # one BN after a linear map: batch variance v, running_var after two passes with
    # momentum 0.1 from 1: 0.81 + 0.09 v1 + 0.1 v2
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 2, 1, bias=False), nn.BatchNorm2d(2))
    x, eps = torch.randn(8, 3, 4, 4), torch.randn(8, 3, 4, 4)
    with torch.no_grad():
        v1 = net[0](x).var(dim=(0, 2, 3), unbiased=True)
        v2 = net[0](x + zc.ZEN_GAMMA * eps).var(dim=(0, 2, 3), unbiased=True)
    import copy
    batch = zc.zen_score(copy.deepcopy(net), x, eps)
    running = zc.zen_score(copy.deepcopy(net), x, eps, bn_var="running")
    rv = 0.9 * (0.9 * 1 + 0.1 * v1) + 0.1 * v2
    assert running - batch == pytest.approx(
        0.5 * math.log(float(rv.double().mean())) - 0.5 * math.log(float(((v1 + v2) / 2).mean())),
        rel=1e-4)
    with pytest.raises(ProxyError, match="bn_var"):
        parse_spec("zen:bn_var=nope")
