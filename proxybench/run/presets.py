"""Named settings for supernet training and cell scoring.

``paper`` follows GeNAS / RLNAS on NB201 (a GPU job); ``DARTS_PRESETS`` are the DARTS
space's. ``cpu`` is the same pipeline shrunk
to fit a 2-core CPU (measured costs in the README). ``cpu-fewshot`` is ``cpu`` followed by a
few-shot split (edge 0, five sub-supernets of 6 epochs), the setting the levers study's
preset rule picked (``reports/cifar10-cpu/levers.sh``). ``tiny`` exists for the demo and
tests. A preset is plain data; commands copy it into ``run.json`` with any overrides applied.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields, replace

from ..errors import ProxybenchError


@dataclass(frozen=True)
class Preset:
    """Supernet and scoring settings that travel together."""

    channels: int          # C: width of the first stage (NB201: 16)
    layers: int            # N: cells per stage (NB201: 5)
    epochs: int
    batch_size: int
    lr: float              # cosine schedule from lr ...
    lr_min: float          # ... down to lr_min
    momentum: float
    weight_decay: float
    train_images: int      # 0 = the whole search-train split
    bn_images: int         # training images for BN recalibration before scoring a cell
    val_images: int        # validation images for val_loss/val_acc/flatness
    chunk: int             # images per forward pass when scoring (memory/speed trade-off)
    path_sample: int       # paths evaluated after training to report supernet quality
    # "EDGE:EPOCHS": after the one-shot stage, split on that edge into sub-supernets (few-shot
    # NAS) and score each cell on its own; "" = one-shot. A default of `train` and `score`
    # (their options override it), not a setting of the one-shot stage's training.
    few_shot: str = ""

    def to_dict(self) -> dict:
        """The settings; an empty ``few_shot`` is left out, so that presets without one
        keep the records (run.json, fingerprints) they had before the field existed."""
        d = asdict(self)
        if not d["few_shot"]:
            del d["few_shot"]
        return d

    def one_shot(self) -> Preset:
        """The preset without its few-shot split: what its one-shot stage trains with and
        what scoring records (the sub-supernets' weights say the rest)."""
        return replace(self, few_shot="")


PRESETS: dict[str, Preset] = {
    "paper": Preset(channels=16, layers=5, epochs=250, batch_size=64, lr=0.025, lr_min=0.001,
                    momentum=0.9, weight_decay=5e-4, train_images=0, bn_images=1024,
                    val_images=10000, chunk=128, path_sample=100),
    "cpu": Preset(channels=8, layers=1, epochs=30, batch_size=128, lr=0.025, lr_min=0.001,
                  momentum=0.9, weight_decay=5e-4, train_images=0, bn_images=256,
                  val_images=512, chunk=128, path_sample=50),
    "tiny": Preset(channels=4, layers=1, epochs=2, batch_size=64, lr=0.05, lr_min=0.001,
                   momentum=0.9, weight_decay=5e-4, train_images=2048, bn_images=64,
                   val_images=128, chunk=128, path_sample=8),
}

PRESETS["cpu-fewshot"] = replace(PRESETS["cpu"], few_shot="0:6")


# DARTS space: ``layers`` is the total number of cells (reductions at 1/3 and 2/3 of the
# depth). ``paper``: GeNAS A.3 / RLNAS, an 8-cell supernet trained 250 epochs, with the
# optimiser of the NB201 runs (the paper gives no other). ``cpu``: C=8, 5 cells, 3 epochs on
# 10k images, measured in the README (about 10 min on 2 busy cores). ``tiny``: tests.
DARTS_PRESETS: dict[str, Preset] = {
    "paper": Preset(channels=16, layers=8, epochs=250, batch_size=64, lr=0.025, lr_min=0.001,
                    momentum=0.9, weight_decay=5e-4, train_images=0, bn_images=1024,
                    val_images=10000, chunk=128, path_sample=100),
    "cpu": Preset(channels=8, layers=5, epochs=3, batch_size=64, lr=0.025, lr_min=0.001,
                  momentum=0.9, weight_decay=5e-4, train_images=10000, bn_images=128,
                  val_images=256, chunk=128, path_sample=10),
    "tiny": Preset(channels=4, layers=3, epochs=2, batch_size=64, lr=0.05, lr_min=0.001,
                   momentum=0.9, weight_decay=5e-4, train_images=512, bn_images=32,
                   val_images=64, chunk=64, path_sample=2),
}

class PresetError(ProxybenchError):
    """Unknown preset or out-of-range override."""


def get_preset(name: str, space: str = "nb201", **overrides: object) -> Preset:
    """A preset of a space by name with overrides applied (None values are ignored),
    validated."""
    from ..spaces import get_space
    presets = get_space(space).presets()
    if name not in presets:
        raise PresetError(f"unknown preset {name!r} for the {space} space; choose one of "
                          f"{', '.join(presets)}")
    known = {f.name for f in fields(Preset)}
    bad = set(overrides) - known
    if bad:
        raise PresetError(f"unknown preset setting(s) {sorted(bad)}; known: {sorted(known)}")
    preset = replace(presets[name], **{k: v for k, v in overrides.items() if v is not None})
    if preset.few_shot:
        from .fewshot import parse_few_shot
        parse_few_shot(preset.few_shot)
    for f in fields(Preset):
        value = getattr(preset, f.name)
        if f.name == "few_shot":
            continue
        minimum = 0 if f.name in ("train_images", "weight_decay", "momentum", "lr_min") else 1e-12
        if value < minimum:
            raise PresetError(f"preset setting {f.name}={value} is out of range (must be "
                              f"{'>= 0' if minimum == 0 else '> 0'})")
    if preset.lr_min > preset.lr:
        raise PresetError(f"lr_min={preset.lr_min} must not exceed lr={preset.lr}")
    return preset


def preset_from_dict(d: dict) -> Preset:
    """Rebuild a preset saved in run.json / a checkpoint (settings added since, like
    ``few_shot``, take their defaults)."""
    return Preset(**{f.name: d[f.name] for f in fields(Preset)
                     if f.name in d or f.default is MISSING})
