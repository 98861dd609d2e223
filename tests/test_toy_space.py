"""A third space is one module plus registration: a test-only toy space (two layers, each
identity, a 3x3 conv or a 3x3 average pool) runs through train -> score -> correlate and
search with no change to proxybench itself."""

from __future__ import annotations

import copy
import random
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from proxybench import api as pb
from proxybench.run.presets import Preset
from proxybench.spaces import get_space, register_space, space_of
from proxybench.spaces.base import Space

OPS = ("identity", "conv", "pool")


def _op(name: str, c: int) -> nn.Module:
    if name == "conv":
        return nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                             nn.ReLU())
    return nn.AvgPool2d(3, 1, 1) if name == "pool" else nn.Identity()


class ToyNet(nn.Module):
    """Stem, two choice layers, head; ``cell=None`` holds every op (the supernet)."""

    def __init__(self, channels: int, num_classes: int, cell: tuple | None = None) -> None:
        super().__init__()
        self.cell, self.channels, self.num_classes = cell, channels, num_classes
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels))
        self.layers = nn.ModuleList(
            nn.ModuleDict({n: _op(n, channels) for n in OPS
                           if cell is None or n == OPS[cell[k]]}) for k in range(2))
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor, cell: tuple | None = None) -> torch.Tensor:
        cell = cell if cell is not None else self.cell
        h = self.stem(x)
        for k, layer in enumerate(self.layers):
            h = layer[OPS[cell[k]]](h)
        return self.head(h.mean((2, 3)))

    def extract(self, cell: tuple) -> ToyNet:
        sub = ToyNet(self.channels, self.num_classes, cell)
        full = self.state_dict()
        sub.load_state_dict({k: full[k].clone() for k in sub.state_dict()})
        return sub

    def searched_cells(self) -> list[nn.Module]:
        return list(self.layers)

    def path_vector(self, cell: tuple) -> torch.Tensor:
        parts = [p.detach().flatten() for p in self.stem.parameters()]
        for k, layer in enumerate(self.layers):
            parts += [p.detach().flatten() for p in layer[OPS[cell[k]]].parameters()]
        return torch.cat(parts + [p.detach().flatten() for p in self.head.parameters()])


TINY = Preset(channels=4, layers=2, epochs=2, batch_size=32, lr=0.05, lr_min=0.001,
              momentum=0.9, weight_decay=5e-4, train_images=256, bn_images=32,
              val_images=64, chunk=64, path_sample=3)
ALL = [(a, b) for a in range(3) for b in range(3)]


def _parse(text: str) -> tuple:
    a, b = text.split("-")
    return (OPS.index(a), OPS.index(b))


def _text(cell: tuple) -> str:
    return f"{OPS[cell[0]]}-{OPS[cell[1]]}"


def _select(text: str, seed: int) -> list[str]:
    keys = [_text(c) for c in ALL]
    return keys if text == "all" else sorted(random.Random(seed).sample(keys, int(text)))


TOY = Space(
    name="toy", description="test-only: 2 layers x 3 ops",
    is_cell=lambda c: isinstance(c, tuple) and len(c) == 2,
    parse=_parse, text=_text, canonical=lambda c: tuple(c), ident=_text, cell_of=_parse,
    key=lambda k: k if isinstance(k, str) else _text(k), id_columns=("arch",),
    ids_of=lambda k: {"arch": k}, select=_select,
    path_sample=lambda rng: rng.choice(ALL), sample=lambda rng: rng.choice(ALL),
    mutate=lambda c, p, rng: tuple(rng.randrange(3) if rng.random() < p else o for o in c),
    crossover=lambda a, b, rng: (a[0], b[1]), dedup=_text, valid=lambda c: True,
    size=lambda: 9.0, presets=lambda: {"tiny": TINY},
    build_supernet=lambda preset, n: ToyNet(preset.channels, n))


@pytest.fixture(scope="module")
def toy() -> Space:
    register_space(TOY)
    return get_space("toy")


def test_registered_space_is_found_by_name_and_cell(toy):
    assert get_space("toy") is TOY and space_of((1, 2)) is TOY
    with pytest.raises(Exception, match="unknown space 'nope'.*toy"):
        get_space("nope")


def test_toy_space_trains_scores_correlates_and_searches(toy, tmp_path: Path):
    torch.set_num_threads(1)
    run, = pb.train(tmp_path / "run", space="toy", preset="tiny", device="cpu")
    assert (run / "final.pt").is_file()
    before = copy.deepcopy(torch.load(run / "final.pt", weights_only=True)["state_dict"])
    table = pb.score(run, ["val_acc", "val_loss", "angle", "flatness"], space="toy",
                     cells="all", out=tmp_path / "toy.csv", device="cpu")
    assert list(table.columns[:2]) == ["arch", "val_acc"] and len(table) == 9
    assert table[["val_acc", "val_loss", "angle", "flatness"]].notna().all().all()
    assert table["error"].isna().all()
    after = torch.load(run / "final.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(before[k], after[k]) for k in before)   # scoring changes nothing
    # statistics between two columns need no ground truth
    res, _, _ = pb.correlate_files([tmp_path / "toy.csv"], between=("val_acc", "val_loss"),
                                   n_boot=0)
    tau = res.loc[res.metric == "kendall_tau", "value"].item()
    assert -1.0 <= tau <= -0.3     # accuracy and loss of the same paths disagree in sign
    # search reads the table: the best val_acc cell of the table is what it finds
    found = pb.search("val_acc", tmp_path / "s", space="toy",
                      tables=[str(tmp_path / "toy.csv")], algorithm="random", population=3,
                      iterations=3, repeats=2)
    by_arch = table.set_index("arch")["val_acc"]
    assert (found["evaluations"] == 9).all()           # random search saw all 9 cells
    assert (by_arch[found["arch"]].to_numpy() == by_arch.max()).all()   # and kept the best
    assert pd.read_csv(tmp_path / "s" / "history.csv")["seed"].nunique() == 2
