"""AZ-NAS, ZiCo, MeCo and SWAP: registry entries, conformance, cores on hand-checked toys,
the AZ-NAS rank aggregation, and a few cells through the scoring engine."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import proxybench.proxies.training_free as tf  # registers the proxies
from proxybench.engine.score import score_cells
from proxybench.nets.nb201 import NB201Net, cell_cost, count_flops
from proxybench.proxies import PROXIES, ProxyError, ScoreContext, parse_spec, parse_specs
from proxybench.run.presets import get_preset
from proxybench.spaces import nb201
from proxybench.table import count_errors

from .proxy_helpers import gaussian_ctx, score_of

CELL_A = (3, 2, 1, 4, 3, 2)
CELL_B = (1, 3, 0, 2, 4, 3)
IDENTITY = (0, 0, 0, 1, 0, 0)      # node 3 = skip(node 0): every cell passes x through
EMPTY = (0,) * 6                   # no path: every cell outputs zeros
DATA = {"zico", "meco", "swap"}


@pytest.fixture(scope="module")
def ctx() -> ScoreContext:
    return gaussian_ctx()


def _score(ctx: ScoreContext, name: str, cell=CELL_A, **options) -> float:
    return score_of(ctx, name, cell, **options)


# ---------------------------------------------------------------- registry and conformance

def test_registry_entries():
    for name in tf.TRAINING_FREE:
        p = PROXIES[name]
        assert p.higher_is_better and not p.by_pruned and p.description
        assert p.needs == frozenset({"data"} if name in DATA else {"macro"})
    assert PROXIES["zico"].defaults == {"batch_size": 64, "batches": 2}
    assert PROXIES["meco"].defaults == {"batch_size": 1}
    assert PROXIES["swap"].defaults == {"batch_size": 16, "repeats": 32, "mu": 0.0,
                                        "sigma": 0.0}
    for name in tf.AZ_NAS[:3]:
        assert PROXIES[name].defaults == {"batch_size": 64}
    assert PROXIES["az_nas_complexity"].defaults == {}
    for bad, msg in (("zico:batches=1", "batches"), ("meco:batch_size=0", "batch_size"),
                     ("swap:repeats=0", "repeats"), ("swap:sigma=-1", "sigma"),
                     ("az_nas_trainability:batch_size=1", "batch_size")):
        with pytest.raises(ProxyError, match=msg):
            parse_spec(bad)


@pytest.mark.parametrize("name", tf.TRAINING_FREE)
def test_finite_repeatable_cell_dependent_and_nothing_changed(ctx, name):
    sup = NB201Net(4, 1, 10)
    ctx = replace(ctx, supernet=sup)
    before = {k: v.clone() for k, v in sup.state_dict().items()}
    x0, y0 = ctx.bn_batch[0].clone(), ctx.bn_batch[1].clone()
    rng = torch.get_rng_state()
    first = _score(ctx, name)
    assert isinstance(first, float) and math.isfinite(first)
    assert torch.equal(torch.get_rng_state(), rng)           # global RNG untouched
    torch.manual_seed(999)                                     # another global state ...
    _score(ctx, "meco" if name != "meco" else "zico", CELL_B)  # ... and another call
    assert _score(ctx, name) == first
    assert _score(ctx, name, CELL_B) != first
    assert torch.equal(ctx.bn_batch[0], x0) and torch.equal(ctx.bn_batch[1], y0)
    for k, v in sup.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_zico_and_meco_share_a_network_without_changing_it(ctx):
    alone = _score(ctx, "meco")
    shared = replace(ctx, memo={})
    PROXIES["zico"].fn(shared, CELL_A, batch_size=8, batches=2)
    net = shared.memo["default_net"]
    weights = [p.clone() for p in net.parameters()]
    assert PROXIES["meco"].fn(shared, CELL_A, batch_size=1) == alone
    assert all(torch.equal(a, b) for a, b in zip(weights, net.parameters(), strict=True))
    assert all(p.grad is None for p in net.parameters())      # autograd.grad, no .grad


@pytest.mark.parametrize("name", sorted(DATA))
def test_data_proxies_need_data(name):
    bare = ScoreContext(seed=0, preset=get_preset("tiny"), num_classes=10)
    with pytest.raises(ValueError, match="needs data: pass --run or --data-dir"):
        _score(bare, name)


def test_degenerate_cells_are_clear_errors(ctx):
    with pytest.raises(ValueError, match="identity"):
        _score(ctx, "az_nas_trainability", IDENTITY)
    for name in ("az_nas_expressivity", "az_nas_progressivity"):
        with pytest.raises(ValueError, match="constant"):
            _score(ctx, name, EMPTY)
    # the other components of those cells are still scored (one shared pass)
    assert math.isfinite(_score(ctx, "az_nas_expressivity", IDENTITY))
    assert _score(ctx, "zico", EMPTY) == 0.0               # no weight gets a gradient
    assert _score(ctx, "swap", EMPTY, repeats=2) == 1.0    # every neuron: the same pattern


# ---------------------------------------------------------------- ZiCo

def test_zico_from_hand_made_gradients():
    # layer 1: weights (1, 3), (2, 2), (0, 0): mean|g| = 2, 2, 0; std = 1, 0, 0 -> 2 / 1
    # layer 2: (-1, 1), (4, 2): mean|g| = 1, 3; std = 1, 1 -> 1 + 3
    b1 = [torch.tensor([1.0, 2.0, 0.0]), torch.tensor([-1.0, 4.0])]
    b2 = [torch.tensor([3.0, 2.0, 0.0]), torch.tensor([1.0, 2.0])]
    assert tf.zico_from_grads([b1, b2]) == pytest.approx(math.log(2) + math.log(4), rel=1e-12)
    # a layer whose gradients never vary is skipped; no layer at all gives 0
    assert tf.zico_from_grads([[torch.ones(3)], [torch.ones(3)]]) == 0.0
    # the reference code's running sums: layer 1 (1, 3) -> (1, 4): 2.5 / 1.5
    cum = tf._cumulative([b1, b2])
    assert torch.equal(cum[1][0], torch.tensor([4.0, 4.0, 0.0]))


def test_zico_two_layer_net_matches_numpy_gradients():
    g = torch.Generator().manual_seed(0)
    w1, w2 = torch.randn(4, 3, generator=g).double(), torch.randn(2, 4, generator=g).double()
    net = nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU(), nn.Linear(4, 2, bias=False))
    net = net.double()
    with torch.no_grad():
        net[0].weight.copy_(w1)
        net[2].weight.copy_(w2)
    data = [(torch.randn(5, 3, generator=g).double(), torch.randint(0, 2, (5,), generator=g))
            for _ in range(2)]

    def numpy_grads(x, y):        # mean cross-entropy of y = W2 relu(W1 x), by hand
        x, y, a, b = x.numpy(), y.numpy(), w1.numpy(), w2.numpy()
        h = x @ a.T
        r = np.maximum(h, 0)
        z = r @ b.T
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        dz = (p - np.eye(2)[y]) / len(x)
        dh = (dz @ b) * (h > 0)
        return [dh.T @ x, dz.T @ r]

    grads = [numpy_grads(x, y) for x, y in data]
    want = 0.0
    for layer in zip(*grads, strict=True):
        stack = np.stack([t.ravel() for t in layer])
        std = stack.std(0)
        keep = std != 0
        want += math.log((np.abs(stack).mean(0)[keep] / std[keep]).sum())
    got = tf.zico_score(net, data)
    assert got["score"] == pytest.approx(want, rel=1e-9)
    cum = [grads[0], [a + b for a, b in zip(grads[0], grads[1], strict=True)]]
    want_cum = sum(math.log((np.abs(s).mean(0)[s.std(0) != 0] / s.std(0)[s.std(0) != 0]).sum())
                   for s in (np.stack([t.ravel() for t in layer])
                             for layer in zip(*cum, strict=True)))
    assert got["cumulative"] == pytest.approx(want_cum, rel=1e-9)


def test_zico_uses_consecutive_batches(ctx):
    # batches of 8 from the first 16 images: the same as handing those batches over
    x, y = ctx.bn_batch
    net = tf._default_net(replace(ctx, memo={}), CELL_A)
    want = tf.zico_score(net, [(x[:8], y[:8]), (x[8:16], y[8:16])])["score"]
    assert _score(ctx, "zico", batch_size=8) == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------- MeCo

def test_min_eig_correlation_hand_computed():
    same = torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])          # corr 1: eig 0, 2
    assert tf.min_eig_correlation(same) == pytest.approx(0.0, abs=1e-12)
    orth = torch.tensor([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]])  # corr I
    assert tf.min_eig_correlation(orth) == pytest.approx(1.0, rel=1e-12)
    half = torch.tensor([[1.0, 0.0, -1.0, 0.0], [1.0, 1.0, -1.0, -1.0]])  # corr 1/sqrt(2)
    assert tf.min_eig_correlation(half) == pytest.approx(1 - 1 / math.sqrt(2), rel=1e-12)
    dead = torch.tensor([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])          # NaN row -> 0 row
    assert tf.min_eig_correlation(dead) == 0.0
    assert tf.min_eig_correlation(torch.ones(4, 1)) == 0.0            # one position


def test_meco_two_layer_net_matches_numpy():
    g = torch.Generator().manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 1, bias=False), nn.ReLU(), nn.Conv2d(3, 3, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    x = torch.randn(2, 2, 3, 3, generator=g)

    def lam(a):                  # np.corrcoef, NaN -> 0, smallest eigenvalue
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.corrcoef(a.reshape(a.shape[0], -1))
        return np.linalg.eigvalsh(np.nan_to_num(c, nan=0.0)).min()

    with torch.no_grad():
        h1 = net[0](x)
        h2 = net[1](h1)
        h3 = net[2](h2)
    # every module that runs: the two convs, the ReLU and the Sequential (= last conv)
    want = sum(lam(t[0].double().numpy()) for t in (h1, h2, h3, h3))
    assert tf.meco_score(net, x) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_meco_reads_one_image(ctx):
    x, _ = ctx.bn_batch
    net = tf._default_net(replace(ctx, memo={}), CELL_A)
    assert _score(ctx, "meco") == tf.meco_score(net, x[:1])


# ---------------------------------------------------------------- SWAP

def test_count_patterns_hand_made():
    # 3 images, neurons (columns): (1,0,1), (1,0,1), (0,0,0), (1,1,1) | (0,0,0), (0,1,0)
    a = torch.tensor([[1, 1, 0, 1], [0, 0, 0, 1], [1, 1, 0, 1]], dtype=torch.bool)
    b = torch.tensor([[0, 0], [0, 1], [0, 0]], dtype=torch.bool)
    assert tf.count_patterns([a, b], 3) == 4
    assert tf.count_patterns([], 3) == 0
    for n in (30, 70):           # the int64 and the unique-rows branches agree with unique
        codes = [torch.rand(n, 5, 7, generator=torch.Generator().manual_seed(n)) > 0.5
                 for _ in range(2)]
        codes.append(codes[0][:, :2])                               # repeated patterns
        rows = torch.cat([c.reshape(n, -1) for c in codes], 1).T
        assert tf.count_patterns(codes, n) == torch.unique(rows, dim=0).shape[0]


def test_swap_two_layer_net_by_hand():
    # conv 1x1 weights (1, -1): channel 0 = x, channel 1 = -x; one ReLU over 2 positions
    net = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([1.0, -1.0]).reshape(2, 1, 1, 1))
    x = torch.tensor([[1.0, -2.0], [3.0, 4.0], [-1.0, 0.5]]).reshape(3, 1, 1, 2)
    # neurons: c0p0 (1,1,0), c0p1 (0,1,1), c1p0 (0,0,1), c1p1 (1,0,0): 4 distinct
    assert tf.swap_count(net, x) == 4
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0], [-1.0, -0.5]]).reshape(3, 1, 1, 2)
    # c0p0 = c0p1 = (1,1,0), c1p0 = c1p1 = (0,0,1): 2 distinct
    assert tf.swap_count(net, x) == 2


def test_swap_mean_over_reinits_and_regularisation(ctx):
    x, _ = ctx.bn_batch
    net, _ = tf.build_net(ctx, CELL_A)
    g = tf._generator(ctx, CELL_A, "swap")
    counts = []
    for _ in range(3):
        tf.gaussian_reinit(net, g)
        counts.append(tf.swap_count(net, x[:16]))
    assert _score(ctx, "swap", repeats=3) == pytest.approx(np.mean(counts), rel=1e-12)
    params = sum(p.numel() for p in net.parameters())
    factor = math.exp(-((params / 1e3 - 5.0) ** 2) / 20.0)
    assert tf.swap_regular_factor(params, 5.0, 20.0) == pytest.approx(factor, rel=1e-12)
    assert _score(ctx, "swap", repeats=3, mu=5.0, sigma=20.0) == pytest.approx(
        np.mean(counts) * factor, rel=1e-12)


# ---------------------------------------------------------------- AZ-NAS

def test_spectrum_entropy_hand_computed():
    # rows (1,0), (-1,0), (0,1), (0,-1): covariance diag(1/2, 1/2) -> p = (1/2, 1/2)
    iso = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    feat = iso.T.reshape(1, 2, 2, 2)                     # [B, c, h, w] with 4 positions
    assert tf.spectrum_entropy(feat) == pytest.approx(-math.log(0.5 + 1e-8), rel=1e-9)
    line = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [2.0, 2.0], [-2.0, -2.0]])
    assert tf.spectrum_entropy(line.T.reshape(1, 2, 2, 2)) == pytest.approx(
        -math.log(1 + 1e-8), abs=1e-9)                   # rank 1: p = (0, 1)
    assert math.isnan(tf.spectrum_entropy(torch.ones(2, 3, 2, 2)))


def test_block_trainability_hand_computed():
    g_out = torch.tensor([1.0, -1.0, 1.0, -1.0]).reshape(1, 1, 2, 2)
    # g_in = 2 g_out: M = mean(2 g^2) = 2 -> -2 - 1/(2 + 1e-6) + 2
    want = -2 - 1 / (2 + 1e-6) + 2
    assert tf.block_trainability(g_out, 2 * g_out) == pytest.approx(want, rel=1e-12)
    # a reduction: g_in [1, 1, 2, 2] unshuffled to [1, 4, 1, 1]; M = g_in g_out^T is rank 1
    g_in = torch.tensor([1.0, 2.0, 2.0, 4.0]).reshape(1, 1, 2, 2)
    g_red = torch.tensor([1.0, -1.0]).reshape(1, 2, 1, 1)
    s = 5.0 * math.sqrt(2.0)                             # |g_in| |g_out|
    assert tf.block_trainability(g_red, g_in) == pytest.approx(-s - 1 / (s + 1e-6) + 2,
                                                               rel=1e-12)


def test_az_nas_pass_matches_its_parts(ctx):
    net, _ = tf.build_net(ctx, CELL_A)
    g = tf._generator(ctx, CELL_A, "az_nas")
    tf.kaiming_reinit(net, g)
    x = torch.randn(64, 3, 32, 32, generator=g).contiguous(memory_format=torch.channels_last)
    feats = tf.stage_features(net, x)
    assert len(feats) == 3 * ctx.preset.layers + 3                   # stem, cells, 2 blocks
    h = np.array([tf.spectrum_entropy(f) for f in feats])
    assert _score(ctx, "az_nas_expressivity") == pytest.approx(h.sum(), rel=1e-9)
    assert _score(ctx, "az_nas_progressivity") == pytest.approx(np.min(np.diff(h)), rel=1e-9)
    # stage features are the network's own: the last one feeds lastact and the classifier
    with torch.no_grad():
        logits = net.classifier(net.global_pooling(net.lastact(feats[-1])).flatten(1))
        assert torch.allclose(logits, net(x), atol=1e-5)
    # Kaiming-normal init, biases 0: the classifier's weights have std sqrt(2 / fan_in)
    assert torch.equal(net.classifier.bias, torch.zeros_like(net.classifier.bias))


def test_az_nas_trainability_of_a_one_block_network():
    # a small network (N=1): trainability = the mean of each block's score for the same
    # Rademacher draws, and a network of identity cells scores -inf
    net = NB201Net(2, 1, 10, cell=(0, 0, 0, 3, 0, 0))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 8, 8, generator=g)
    got = tf.az_nas_scores(net, x, torch.Generator().manual_seed(5))
    feats = tf.stage_features(net, x)
    gen = torch.Generator().manual_seed(5)
    scores = []
    for k in reversed(range(1, len(feats))):
        g_out = torch.bernoulli(torch.full(feats[k].shape, 0.5), generator=gen) * 2 - 1
        g_in = torch.autograd.grad(feats[k], feats[k - 1], g_out, retain_graph=True,
                                   allow_unused=True)[0]
        g_in = torch.zeros_like(feats[k - 1]) if g_in is None else g_in
        scores.append(tf.block_trainability(g_out, g_in))
    assert got["trainability"] == pytest.approx(np.mean(scores), rel=1e-6)
    ident = tf.az_nas_scores(NB201Net(2, 1, 10, cell=IDENTITY), x, torch.Generator())
    assert ident["trainability"] == -math.inf


def test_az_nas_complexity_is_nb201_flops(ctx):
    net = NB201Net(ctx.preset.channels, ctx.preset.layers, 10, cell=CELL_A)
    assert _score(ctx, "az_nas_complexity") == pytest.approx(count_flops(net), rel=1e-9)
    assert _score(ctx, "az_nas_complexity") == cell_cost(CELL_A, 4, 1, 10, 32)[1]


def test_az_nas_aggregate_hand_computed():
    table = pd.DataFrame({"az_nas_expressivity": [1.0, 2.0, 3.0],
                          "az_nas_progressivity": [3.0, 2.0, 1.0],
                          "az_nas_trainability": [0.5, 0.5, 2.0],      # tie: ranks 1.5
                          "az_nas_complexity": [np.nan, 5.0, 6.0]},    # NaN ranks last
                         index=[10, 11, 12])
    ranks = np.array([[1, 3, 1.5, 1], [2, 2, 1.5, 2], [3, 1, 3, 3]])
    want = np.log(ranks / 3).sum(1)
    got = tf.az_nas_aggregate(table)
    assert got.name == "az_nas" and list(got.index) == [10, 11, 12]
    assert np.allclose(got.to_numpy(), want, rtol=1e-12)
    # the candidate set matters: dropping a row changes the others' scores
    assert not np.isclose(tf.az_nas_aggregate(table.iloc[1:])[11], got[11])
    with pytest.raises(ValueError, match="lacks"):
        tf.az_nas_aggregate(table.drop(columns="az_nas_complexity"))


# ---------------------------------------------------------------- through the engine

def test_engine_scores_real_cells_with_all_new_proxies(ctx, tmp_path):
    spec_text = ";".join(["zico:batch_size=8", "meco", "swap:repeats=2",
                          *tf.AZ_NAS[:3], "az_nas_complexity"])
    specs = parse_specs(spec_text)
    ctx = replace(ctx, together=tuple((s.proxy.name, tuple(sorted(s.options.items())))
                                      for s in specs))
    table = score_cells(specs, ctx, [0, 1, 6111, 12345, 15624], tmp_path / "tf.csv",
                        progress=False).set_index("arch_index")
    assert "zico[batch_size=8].cumulative" in table.columns
    assert count_errors(table) == 0
    for s in specs:
        assert np.isfinite(table[s.column]).all(), s.column
    agg = tf.az_nas_aggregate(table)
    assert agg.notna().all() and agg.idxmax() in table.index
    # the same scores as each proxy alone
    assert table.loc[6111, "meco"] == _score(ctx, "meco", nb201.cell_at(6111))
    assert table.loc[6111, "az_nas_trainability"] == _score(ctx, "az_nas_trainability",
                                                            nb201.cell_at(6111))


def test_trainability_sees_through_a_cell_that_outputs_zeros():
    """Node 3 without input: each cell's output is zeros, as the reference's Zero op makes
    them (input * 0, in the graph). The 15 cells then score -999998 each (s = 0), but the two
    reductions' linear shortcuts still pass gradients: the mean is about 15/17 of -999998,
    the reference's -882351, not -999998 (zeros outside the graph)."""
    from proxybench.nets.nb201 import NB201Net
    from proxybench.proxies.training_free import az_nas_scores, kaiming_reinit
    from proxybench.spaces.nb201 import parse_arch
    cell = parse_arch("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|none~0|none~1|none~2|")
    net = NB201Net(16, 5, 10, cell=cell).train()
    g = torch.Generator().manual_seed(0)
    kaiming_reinit(net, g)
    t = az_nas_scores(net, torch.randn(8, 3, 32, 32, generator=g), g)["trainability"]
    assert t == pytest.approx(-999998 * 15 / 17, abs=5.0)
