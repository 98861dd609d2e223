"""Networks: official counts, weight sharing, and that pruning is exact where we use it."""

from __future__ import annotations

import random

import pytest
import torch

from proxybench.nets.nb201 import (
    NB201Net,
    cell_cost,
    count_flops,
    count_params,
    evaluate,
    extract_subnet,
    recalibrate_bn,
)
from proxybench.spaces import nb201


def test_official_nb201_counts_for_index_6111():
    net = NB201Net(16, 5, 10, cell=nb201.cell_at(6111))
    assert count_params(net) == 1_073_466
    assert round(count_flops(net), 2) == 153.27


def test_analytic_costs_match_module_counts():
    rng = random.Random(0)
    for idx in [0, 6111, *(rng.randrange(15625) for _ in range(6))]:
        cell = nb201.cell_at(idx)
        for macro in [(16, 5, 10, 32), (8, 1, 100, 32), (4, 2, 120, 16)]:
            net = NB201Net(*macro[:3], cell=cell)
            params, flops = cell_cost(cell, *macro)
            assert params == count_params(net)
            assert flops == pytest.approx(count_flops(net, macro[3]), rel=1e-9)


def _batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def _pairs_with_dead_edges(k: int):
    out = []
    for cell in nb201.all_cells():
        pruned = nb201.prune(cell)
        if pruned != cell and not nb201.is_disconnected(cell):
            out.append((cell, pruned))
        if len(out) == k:
            return out
    return out


def test_supernet_pruned_path_is_the_same_function_in_both_bn_modes():
    torch.manual_seed(0)
    net = NB201Net(4, 2, 10, affine_cells=False)
    x, _ = _batch()
    for cell, pruned in _pairs_with_dead_edges(8):
        net.train()
        with torch.no_grad():
            assert torch.equal(net(x, cell), net(x, pruned))  # batch statistics
        full, short = extract_subnet(net, cell), extract_subnet(net, pruned)
        recalibrate_bn(full, x, chunk=8)
        recalibrate_bn(short, x, chunk=8)
        with torch.no_grad():  # running statistics after recalibration
            assert torch.allclose(full(x), short(x), atol=1e-6, rtol=0)


def test_affine_cell_bns_would_make_pruning_inexact():
    """Why the supernet's cells have no BN shift: with one, a zero-fed conv emits its bias."""
    torch.manual_seed(0)
    net = NB201Net(4, 1, 10, affine_cells=True)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d) and m.affine:
                m.bias.uniform_(-1, 1)
    x, _ = _batch()
    cell = nb201.parse_arch("|none~0|+|skip_connect~0|nor_conv_3x3~1|+"
                            "|skip_connect~0|none~1|skip_connect~2|")
    net.train()
    with torch.no_grad():
        assert not torch.allclose(net(x, cell), net(x, nb201.prune(cell)))


def test_extract_subnet_copies_weights_and_shares_nothing():
    torch.manual_seed(0)
    net = NB201Net(4, 1, 10, affine_cells=False)
    cell = nb201.cell_at(6111)
    x, y = _batch()
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sub = extract_subnet(net, cell)
    sub.eval()
    with torch.no_grad():  # channels_last copy: same function up to float rounding
        assert torch.allclose(sub(x), net(x, cell), atol=1e-5, rtol=1e-5)
        for p in sub.parameters():
            p.add_(1.0)
    recalibrate_bn(sub, x, chunk=8)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert set(sub.state_dict()) < set(net.state_dict())


def test_recalibration_uses_all_images_equally_and_evaluate():
    torch.manual_seed(0)
    sub = extract_subnet(NB201Net(4, 1, 10, affine_cells=False), nb201.cell_at(6111))
    x, y = _batch(32)
    recalibrate_bn(sub, x, chunk=8)
    a = sub.stem[1].running_mean.clone()
    recalibrate_bn(sub, x, chunk=32)
    assert torch.allclose(a, sub.stem[1].running_mean, atol=1e-6)
    loss, acc = evaluate(sub, x, y, chunk=7)
    logits = sub(x)
    assert loss == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc == pytest.approx(100 * (logits.argmax(1) == y).float().mean().item())


def test_supernet_requires_a_cell():
    net = NB201Net(4, 1, 10, affine_cells=False)
    with pytest.raises(ValueError, match="needs a cell"):
        net(torch.zeros(1, 3, 32, 32))
