"""Proxies on any PyTorch model (``pb.measure``, ``proxybench measure``): the engine's proxy
functions on a given network; an NB201 cell's network gives the engine's values."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import proxybench as pb
from proxybench.engine.score import score_cells
from proxybench.nets.nb201 import NB201Net
from proxybench.proxies import (
    ModelError,
    ProxyError,
    ScoreContext,
    all_proxies,
    parse_specs,
    with_together,
)
from proxybench.proxies.performance import cell_seed
from proxybench.run.presets import get_preset
from proxybench.spaces import nb201

from .cli_helpers import one_line_error, run
from .test_data import make_cifar10

MODEL_PROXIES = sorted(n for n, p in all_proxies().items() if p.models)
FAST = {"swap": "swap:repeats=2"}          # fewer re-initialisations, same code
NEEDS_CONVS = {"meco", "swap", "zen", "az_nas_expressivity", "az_nas_progressivity",
               "az_nas_trainability"}


class Block(nn.Module):
    """A ResNet basic block."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU(), nn.Conv2d(c, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


def resnet(num_classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                         nn.ReLU(), Block(8), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, num_classes))


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 10))


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return torch.randn(32, 3, 8, 8, generator=g), torch.randint(0, 10, (32,), generator=g)


def _spec(name: str) -> str:
    return FAST.get(name, name)


def _state(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_nb201_cell_network_gives_the_engine_values(tmp_path):
    """measure on NB201Net(cell=...) built as the engine builds it = the engine's table."""
    g = torch.Generator().manual_seed(11)
    x = torch.randn(64, 3, 32, 32, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (64,), generator=g)
    preset = get_preset("tiny")
    ctx = ScoreContext(seed=3, preset=preset, num_classes=10, bn_batch=(x, y))
    names = [n for n in MODEL_PROXIES if n != "zen"]
    text = ";".join(_spec(n) for n in names)
    specs = parse_specs(text)
    index = 6111
    table = score_cells(specs, with_together(ctx, specs), [index], tmp_path / "t.csv",
                        progress=False, workers=1).set_index("arch_index")
    cell = nb201.cell_at(index)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cell_seed(3, cell))
        model = NB201Net(preset.channels, preset.layers, 10, cell=cell, affine_cells=True)
    before = _state(model)
    values = pb.measure(model, (x, y), text, seed=3, device="cpu")
    counted = {"params", "flops", "az_nas_complexity"}   # NB201's analytic count vs modules
    for s in specs:
        engine = table.loc[index, s.column]
        if s.proxy.name in counted:
            assert values[s.column] == pytest.approx(engine, rel=1e-9), s.column
        else:
            assert values[s.column] == engine, s.column
    assert values["zico.cumulative"] == table.loc[index, "zico.cumulative"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # zen re-draws the weights: the engine draws after building the network, measure after
    # copying it, so only its seeding (not its value) is the engine's
    zen = pb.measure(model, (x, y), "zen", seed=3, device="cpu")["zen"]
    assert math.isfinite(zen) and zen == pb.measure(model, (x, y), "zen", seed=3,
                                                    device="cpu")["zen"]


def test_resnet_like_model_every_proxy_repeatable_and_unchanged(batch):
    torch.manual_seed(0)
    model = resnet()
    model.eval()
    before = _state(model)
    rng = torch.get_rng_state()
    text = ";".join(_spec(n) for n in MODEL_PROXIES if not n.startswith("az_nas_") or
                    n == "az_nas_complexity")
    values = pb.measure(model, batch, text, device="cpu")
    assert all(math.isfinite(v) for v in values.values())
    assert values == pb.measure(model, batch, text, device="cpu")       # repeatable
    assert torch.equal(torch.get_rng_state(), rng)                       # global RNG untouched
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not model.training                                            # its mode too
    assert values["params"] == sum(p.numel() for p in model.parameters())
    # the given weights are what is measured: grad_norm by hand, on a train-mode copy
    net = copy.deepcopy(model).train()
    loss = F.cross_entropy(net(batch[0]), batch[1])
    weights = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    by_hand = sum(float(g.double().norm()) for g in torch.autograd.grad(loss, weights))
    assert values["grad_norm"] == pytest.approx(by_hand, rel=1e-6)
    # other weights, other values; another seed changes only the proxies that draw
    other = pb.measure(resnet(), batch, "grad_norm;swap:repeats=2", device="cpu")
    assert other["grad_norm"] != values["grad_norm"]
    reseeded = pb.measure(model, batch, "grad_norm;swap:repeats=2;zen", seed=1, device="cpu")
    assert reseeded["grad_norm"] == values["grad_norm"]
    assert reseeded["swap[repeats=2]"] != values["swap[repeats=2]"]
    assert reseeded["zen"] != values["zen"]


def test_shared_pass_gives_each_proxy_alone(batch):
    torch.manual_seed(1)
    model = resnet()
    shared = ["grad_norm", "plain", "snip", "fisher", "jacov", "epe_nas", "nwot"]
    together = pb.measure(model, batch, ";".join(shared), device="cpu")
    for name in shared:
        assert together[name] == pb.measure(model, batch, name, device="cpu")[name], name


def test_dataloader_reads_the_images_the_proxies_need(batch):
    torch.manual_seed(2)
    model = resnet()
    x, y = batch
    loader = DataLoader(TensorDataset(x, y), batch_size=5)
    # meco reads 1 image, snip 8: the loader's first batches, as a tensor pair would give
    got = pb.measure(model, loader, "meco;snip:batch_size=8", device="cpu")
    assert got == pb.measure(model, (x[:8], y[:8]), "meco;snip:batch_size=8", device="cpu")
    shuffled = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True)
    rng = torch.get_rng_state()
    a = pb.measure(model, shuffled, "snip:batch_size=8", seed=4, device="cpu")
    assert a == pb.measure(model, shuffled, "snip:batch_size=8", seed=4, device="cpu")
    assert torch.equal(torch.get_rng_state(), rng)


def test_plain_mlp_works_or_says_what_it_needs(batch):
    torch.manual_seed(3)
    model = mlp()
    works = [n for n in MODEL_PROXIES if n not in NEEDS_CONVS]
    values = pb.measure(model, batch, ";".join(works), device="cpu")
    assert all(math.isfinite(values[n]) for n in works)
    assert values["flops"] == pytest.approx((192 * 32 + 32 + 32 * 10 + 10) / 1e6)
    for name, why in (("meco", "feature maps"), ("swap", "4-D inputs"),
                      ("zen", "nn.AdaptiveAvgPool2d"), ("az_nas_trainability", "NB201Net")):
        with pytest.raises(ModelError, match=f"^proxy {name} .*{why}") as err:
            pb.measure(model, batch, name, device="cpu")
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("name,why", [("flatness", "trained supernet"), ("angle", "epoch-0"),
                                      ("val_acc", "trained supernet"),
                                      ("params_live", "NB201 cell")])
def test_proxies_a_plain_model_cannot_have_are_refused_in_one_line(batch, name, why):
    with pytest.raises(ModelError, match=f"^proxy {name} needs|^proxy {name} reads") as err:
        pb.measure(resnet(), batch, f"grad_norm;{name}", device="cpu")
    assert why in str(err.value) and "\n" not in str(err.value)


def test_bad_inputs_are_clear_errors(batch):
    x, y = batch
    with pytest.raises(ProxyError, match="unknown proxy 'nope'"):
        pb.measure(resnet(), batch, "nope")
    with pytest.raises(ModelError, match="torch.nn.Module"):
        pb.measure(lambda t: t, batch, "snip")
    with pytest.raises(pb.ProxybenchError, match="class indices"):
        pb.measure(resnet(), (x, y.float()), "snip")
    with pytest.raises(pb.ProxybenchError, match="one label per image"):
        pb.measure(resnet(), (x, y[:3]), "snip")
    with pytest.raises(ModelError, match="failed on the data"):
        pb.measure(resnet(), (torch.randn(4, 5), y[:4]), "snip")


MODELS_PY = '''
import torch
from torch import nn
from proxybench.nets.nb201 import NB201Net
from proxybench.proxies.performance import cell_seed
from proxybench.spaces import nb201


def resnet(num_classes):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, num_classes))


def cell_6111():
    cell = nb201.cell_at(6111)
    torch.manual_seed(cell_seed(0, cell))
    return NB201Net(4, 1, 10, cell=cell)      # the tiny preset's network of the cell


def not_a_model():
    return 3


def raises():
    raise RuntimeError("boom")
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("measure")
    make_cifar10(root / "data")
    (root / "models.py").write_text(MODELS_PY)
    return root


def test_cli_measures_a_model_file_and_writes_json(files, tmp_path):
    out = run("measure", "--network", f"{files / 'models.py'}:resnet", "--data-dir",
              files / "data", "--proxy", "synflow;snip;zico", "--batch-size", "16",
              "--device", "cpu", "--out", tmp_path / "m.json").output
    assert "on 16 cifar10 images (seed 0, cpu)" in out
    rec = json.loads((tmp_path / "m.json").read_text())
    assert set(rec["values"]) == {"synflow", "snip", "zico", "zico.cumulative"}
    assert rec["images"] == 16 and rec["model"].endswith("models.py:resnet")
    for column, value in rec["values"].items():
        assert f"{value:.10g}" in out, column
    from proxybench.engine.measure import dataset_batch, load_model
    x, y = dataset_batch("cifar10", str(files / "data"), 16, 0)
    model = load_model(f"{files / 'models.py'}:resnet", 10)
    assert pb.measure(model, (x, y), "synflow;snip;zico", device="cpu") == rec["values"]


def test_cli_measure_of_a_cell_network_is_what_score_gives_the_cell(files, tmp_path):
    (tmp_path / "cells.txt").write_text("6111\n")
    run("score", "--proxy", "snip;nwot;meco", "--data-dir", files / "data", "--preset",
        "tiny", "--cells", tmp_path / "cells.txt", "--workers", "1", "--device", "cpu",
        "--quiet", "--out", tmp_path / "s.csv")
    run("measure", "--network", f"{files / 'models.py'}:cell_6111", "--data-dir",
        files / "data", "--proxy", "snip;nwot;meco", "--device", "cpu", "--out",
        tmp_path / "m.json")
    import pandas as pd
    table = pd.read_csv(tmp_path / "s.csv").iloc[0]
    values = json.loads((tmp_path / "m.json").read_text())["values"]
    for column in ("snip", "nwot", "meco"):
        assert values[column] == pytest.approx(table[column], rel=1e-12), column


@pytest.mark.parametrize("model,needle", [
    ("models.py", "should be FILE.py:FUNCTION"),
    ("missing.py:resnet", "not found"),
    ("models.py:nope", "defines no function 'nope'"),
    ("models.py:not_a_model", "not a torch.nn.Module"),
    ("models.py:raises", "raised RuntimeError: boom"),
])
def test_cli_bad_model_is_one_line(files, model, needle, monkeypatch):
    monkeypatch.chdir(files)
    one_line_error(run("measure", "--network", model, "--data-dir", files / "data", "--proxy",
                       "snip", ok=False), needle)


def test_cli_refusal_and_missing_data_are_one_line(files, monkeypatch):
    monkeypatch.chdir(files)
    one_line_error(run("measure", "--network", "models.py:resnet", "--data-dir",
                       files / "data", "--proxy", "snip;flatness", ok=False),
                   "proxy flatness needs a trained supernet")
    one_line_error(run("measure", "--network", "models.py:resnet", "--proxy", "snip",
                       ok=False), "--data-dir")
    one_line_error(run("measure", "--network", "models.py:resnet", "--data-dir",
                       files / "data", "--proxy", "nope", ok=False), "unknown proxy 'nope'")
    one_line_error(run("measure", "--network", "models.py:resnet", "--data-dir",
                       files / "data", "--proxy", "snip", "--out", "m.csv", ok=False),
                   "must end in .json")


def test_the_proxy_list_says_which_proxies_measure_takes():
    table = pb.list_proxies().set_index("proxy")
    assert table.loc["snip", "models"] and not table.loc["flatness", "models"]
    assert not table.loc["params_live", "models"] and table.loc["params", "models"]
    lines = {ln.split()[0]: ln for ln in run("proxies").output.splitlines()
             if ln and not ln.startswith(" ")}
    assert lines["meco"].endswith("also by measure")
    assert "measure" not in lines["val_loss"]
