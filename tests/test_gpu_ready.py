"""What keeps scoring fast on a GPU without changing a CPU table: the sums of an evaluation
stay on the device, a path is copied without a trip through the host, noise is drawn where
the weights are, the evaluation chunk follows the device, and convolutions run in full
float32 while scoring."""

from __future__ import annotations

import pytest
import torch

from proxybench.engine.score import evaluation_chunk, score_cells
from proxybench.nets.nb201 import NB201Net, evaluate
from proxybench.proxies import PROXIES, ScoreContext, parse_specs, register
from proxybench.proxies.flatness import noise_generators
from proxybench.run.presets import get_preset
from proxybench.spaces import nb201


def _supernet() -> NB201Net:
    torch.manual_seed(0)
    net = NB201Net(4, 1, 10, affine_cells=False)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
    return net


def test_evaluate_sums_like_python_floats_chunk_by_chunk():
    net = _supernet().extract(nb201.cell_at(1234)).eval()
    x = torch.randn(300, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (300,))
    loss, correct = 0.0, 0
    with torch.no_grad():
        for s in range(0, 300, 128):  # the loop evaluate() had: two .item() per chunk
            out = net(x[s:s + 128])
            loss += torch.nn.functional.cross_entropy(out, y[s:s + 128], reduction="sum").item()
            correct += (out.argmax(1) == y[s:s + 128]).sum().item()
    assert evaluate(net, x, y, 128) == (loss / 300, 100.0 * correct / 300)


def test_extract_copies_the_path_exactly_without_initialising_it():
    supernet = _supernet()
    cell = nb201.cell_at(777)
    sub = supernet.extract(cell)
    full = supernet.state_dict()
    state = sub.state_dict()
    assert state and all(torch.equal(v, full[k]) for k, v in state.items())
    assert all(v.device == full[k].device for k, v in state.items())
    assert all(p.requires_grad for p in sub.parameters())
    assert all(p.is_contiguous(memory_format=torch.channels_last)
               for p in sub.parameters() if p.dim() == 4)
    with torch.no_grad():                    # nothing is shared with the supernet
        next(sub.parameters()).add_(1.0)
    assert all(torch.equal(v, supernet.state_dict()[k]) for k, v in full.items())


def test_noise_generators_draw_on_the_given_device_and_repeat():
    a = noise_generators(3, ["w"], device="cpu")["w"]
    b = noise_generators(3, ["w"], device=torch.device("cpu"))["w"]
    assert a.device.type == "cpu"
    assert torch.equal(torch.randn(5, generator=a), torch.randn(5, generator=b))


def test_evaluation_chunk_follows_the_device():
    assert evaluation_chunk(128, torch.device("cpu")) == 128    # CPU tables unchanged
    assert evaluation_chunk(128, torch.device("cuda")) == 2048
    assert evaluation_chunk(4096, torch.device("cuda")) == 4096


def test_scoring_runs_convolutions_in_full_float32(tmp_path):
    seen = []

    @register("probe_precision", higher_is_better=True, needs=(), description="test only")
    def probe(ctx, cell):
        seen.append(torch.backends.cudnn.conv.fp32_precision)
        return 1.0

    try:
        before = torch.backends.cudnn.conv.fp32_precision
        ctx = ScoreContext(seed=0, preset=get_preset("tiny"), num_classes=10)
        score_cells(parse_specs("probe_precision"), ctx, [0, 1], tmp_path / "p.csv",
                    progress=False, workers=1)
        assert seen == ["ieee", "ieee"]
        assert torch.backends.cudnn.conv.fp32_precision == before
    finally:
        PROXIES.pop("probe_precision", None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_flatness_on_a_gpu_matches_the_cpu_ranking(tiny_run, tmp_path):
    import proxybench as pb
    ids = nb201.sample_cells(12, seed=0)
    cpu = pb.score(tiny_run, ["val_loss"], cells=ids, device="cpu")
    gpu = pb.score(tiny_run, ["val_loss"], cells=ids, device="cuda")
    assert (gpu["val_loss"] - cpu["val_loss"]).abs().max() < 1e-4

