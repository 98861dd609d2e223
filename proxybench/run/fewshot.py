"""Few-shot supernets (Zhao et al., ICML 2021): a trained one-shot supernet split on one
edge into one sub-supernet per operation of that edge, each warm-started from the one-shot
weights and trained only on the paths that use its operation there.

They live inside the one-shot run, so a run stays one directory::

    RUN/few-shot/few_shot.json   the split: edge, epochs per sub-supernet, ops
    RUN/few-shot/op-K/           the sub-supernet of op K on that edge (a run directory)

Each sub-run's ``epoch-0.pt`` is the one-shot run's own initialisation (not the warm start),
so ``angle`` still measures from initialisation. Scoring (``score --few-shot``) gives each
cell the sub-supernet of the op its pruned form has on the split edge: cells of one pruned
form compute one function, so they share a sub-supernet as they share a score. NB201 only:
the DARTS space has no small set of ops per edge to split on.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

from ..errors import ProxybenchError
from .rundir import FINAL, METRICS, read_run_json

FEW_SHOT_DIR = "few-shot"
FEW_SHOT_JSON = "few_shot.json"


class FewShotError(ProxybenchError):
    """A few-shot split cannot be trained or scored; the message says why and what to do."""


def parse_few_shot(text: str) -> tuple[int, int]:
    """``EDGE:EPOCHS`` (e.g. ``0:10``) as (edge, epochs), checked."""
    from ..spaces.nb201 import EDGES
    edge, sep, epochs = text.partition(":")
    # ASCII digits only (str.isdigit also takes other scripts' digits, and '²', which int
    # refuses)
    if not sep or not _digits(edge) or not _digits(epochs):
        raise FewShotError(f"--few-shot-split {text!r}: write EDGE:EPOCHS, e.g. 0:10 (split on "
                           f"edge 0, train each sub-supernet 10 epochs)")
    e, k = int(edge), int(epochs)
    if not 0 <= e < len(EDGES):
        raise FewShotError(f"--few-shot-split {text!r}: edge {e} is not an NB201 edge; choose "
                           f"0-{len(EDGES) - 1}")
    if k < 1:
        raise FewShotError(f"--few-shot-split {text!r}: each sub-supernet needs at least 1 "
                           f"epoch")
    return e, k


def _digits(text: str) -> bool:
    text = text.strip()
    return text.isascii() and text.isdigit()


def shot_dir(run: str | Path, op: int) -> Path:
    return Path(run) / FEW_SHOT_DIR / f"op-{op}"


def read_split(run: str | Path) -> dict | None:
    """The few-shot split a run holds (few_shot.json), None when it holds none."""
    path = Path(run) / FEW_SHOT_DIR / FEW_SHOT_JSON
    if not path.is_file():
        return None
    try:
        split = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FewShotError(f"{path} is damaged ({exc}); retrain the split with --force") \
            from exc
    if not isinstance(split, dict) or not {"edge", "epochs", "ops"} <= set(split):
        raise FewShotError(f"{path} is not a few-shot split (edge, epochs, ops); retrain it "
                           f"with --force")
    return split


def train_few_shot(run: str | Path, edge: int, epochs: int, *, force: bool = False,
                   progress: bool = True, device: str = "cpu") -> dict:
    """Split the finished one-shot run ``run`` on ``edge``: train one sub-supernet per op,
    each from the one-shot final weights for ``epochs`` epochs (the run's preset otherwise,
    its cosine schedule restarted), on the paths with that op on the edge. Sub-runs already
    finished are kept; a split with other settings is refused unless ``force``. Returns the
    split (few_shot.json)."""
    from ..spaces.nb201 import OPS
    from .presets import preset_from_dict
    from .train import TrainConfig, TrainError, full_config, train_supernet
    run = Path(run)
    if not (run / FINAL).is_file():
        raise FewShotError(f"{run} has no final.pt: a few-shot split starts from a trained "
                           f"one-shot supernet; finish it first")
    cfg = full_config(read_run_json(run)["config"])
    if cfg.get("space", "nb201") != "nb201":
        raise FewShotError(f"{run} is a {cfg.get('space')} supernet; few-shot splits are for "
                           f"NB201 (one edge, five ops)")
    if cfg.get("sampling", "uniform") != "uniform":
        raise FewShotError(f"{run} was trained with {cfg['sampling']} sampling; few-shot "
                           f"sub-supernets sample uniformly with the edge fixed, so split a "
                           f"uniform run")
    if cfg.get("shot") is not None:
        raise FewShotError(f"{run} is itself a sub-supernet; split its one-shot run")
    split = {"edge": edge, "epochs": epochs, "ops": list(range(len(OPS))),
             "one_shot": str(run)}
    old = read_split(run)
    if old is not None and (old["edge"], old["epochs"]) != (edge, epochs):
        if not force:
            raise FewShotError(f"{run} holds a few-shot split on edge {old['edge']} with "
                               f"{old['epochs']} epochs, not edge {edge} with {epochs}; pass "
                               f"--force to retrain it")
        shutil.rmtree(run / FEW_SHOT_DIR)
    (run / FEW_SHOT_DIR).mkdir(parents=True, exist_ok=True)
    preset = replace(preset_from_dict(cfg["preset"]).one_shot(), epochs=epochs)
    for op in split["ops"]:
        sub = shot_dir(run, op)
        if (sub / FINAL).is_file():
            continue
        sub_cfg = TrainConfig(cfg["space"], cfg["dataset"], cfg["data_dir"],
                              cfg["preset_name"], preset, int(cfg["seed"]), 0,
                              cfg["split_file"], "uniform", cfg["validation"],
                              shot=(edge, op), warm_start=str(run))
        try:
            train_supernet(sub_cfg, sub, resume=True, progress=progress, device=device)
        except TrainError as exc:
            raise FewShotError(f"sub-supernet op-{op} of {run}: {exc}") from exc
    from .files import atomic_write_json
    atomic_write_json(run / FEW_SHOT_DIR / FEW_SHOT_JSON, split)
    return split


def shot_runs(run: str | Path) -> tuple[dict, dict[int, Path]]:
    """(split, {op: sub-run}) of a run's finished few-shot split; errors name the fix."""
    run = Path(run)
    split = read_split(run)
    if split is None:
        raise FewShotError(f"{run} holds no few-shot split; train one with `proxybench train "
                           f"... --few-shot-split EDGE:EPOCHS --out {run}`")
    subs = {int(op): shot_dir(run, int(op)) for op in split["ops"]}
    missing = [p for p in subs.values() if not (p / FINAL).is_file()]
    if missing:
        raise FewShotError(f"the few-shot split of {run} is not finished ({missing[0]} has no "
                           f"final.pt); rerun the same `train ... --few-shot-split` to finish it")
    return split, subs


def combined_hash(hashes: list[str]) -> str:
    """One hash for the weights of several supernets (in op order)."""
    return hashlib.sha256("|".join(hashes).encode()).hexdigest()


def train_seconds(run: str | Path) -> float:
    """Wall seconds the split's sub-supernets trained (their metrics.csv), 0 without one."""
    import csv
    total = 0.0
    for path in (Path(run) / FEW_SHOT_DIR).glob(f"op-*/{METRICS}"):
        with open(path, newline="") as fh:
            total += sum(float(r["seconds"]) for r in csv.DictReader(fh))
    return total
