"""Run directories and seed groups: one owner for their names.

A run directory (``proxybench train --out RUN``) holds ``run.json``, ``metrics.csv``,
``epoch-0.pt``, ``epoch-K.pt``, ``final.pt`` and ``checkpoint.pt``. A *seed group*
(``proxybench train --seeds 0-4 --out GROUP``) is a folder of run directories
``GROUP/seed-K``, one per training seed, identical but for the seed: the unit over which a
supernet proxy's tau gets its training-seed spread.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..checks import MAX_SEEDS
from ..errors import ProxybenchError

RUN_JSON = "run.json"
METRICS = "metrics.csv"
INITIAL = "epoch-0.pt"
FINAL = "final.pt"
CHECKPOINT = "checkpoint.pt"
MAX_SEED = 2**32 - 1
_SEED_DIR = re.compile(r"^seed-(\d+)$")


class SeedsError(ProxybenchError):
    """A malformed seed list or an empty seed group."""


def read_run_json(run: str | Path) -> dict:
    """A run directory's run.json as a dict with a ``config`` dict, or one line naming the
    file and the fix (missing, damaged, valid JSON but not an object, no config)."""
    import json
    path = Path(run) / RUN_JSON
    if not path.is_file():
        raise ProxybenchError(f"{Path(run)} is not a training run (no {RUN_JSON}); train one "
                              f"with `proxybench train --out {Path(run)}`")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProxybenchError(f"{path} is damaged ({exc}); restore it, or retrain the run "
                              f"(train --force)") from exc
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise ProxybenchError(f"{path} holds no training config (not a run.json written by "
                              f"`proxybench train`); restore it, or retrain the run (train "
                              f"--force)")
    return record


def epoch_checkpoint(epoch: int) -> str:
    return f"epoch-{epoch}.pt"


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,2,7"`` and mixes like ``"0-2,9"`` too."""
    seeds: list[int] = []
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part, flags=re.ASCII)
        if not m or (m.group(2) is not None and int(m.group(2)) < int(m.group(1))):
            raise SeedsError(f"bad seed list {text!r}: use non-negative integers and ranges, "
                             f"e.g. 0-4 or 0,2,7")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if len(seeds) + hi - lo + 1 > MAX_SEEDS or hi > MAX_SEED:
            raise SeedsError(f"seed list {text!r} names more than {MAX_SEEDS} seeds or a "
                             f"seed above {MAX_SEED}; train a smaller group")
        seeds += range(lo, hi + 1)
    if not seeds:
        raise SeedsError(f"bad seed list {text!r}: it names no seed (e.g. 0-4)")
    if len(set(seeds)) != len(seeds):
        raise SeedsError(f"seed list {text!r} names a seed twice")
    return seeds


def seed_dir(group: str | Path, seed: int) -> Path:
    return Path(group) / f"seed-{seed}"


def group_runs(path: str | Path) -> list[Path]:
    """The run directories of a seed group, by seed; [] when ``path`` is not a group."""
    path = Path(path)
    if not path.is_dir() or (path / RUN_JSON).is_file():
        return []
    runs = [(int(m.group(1)), p) for p in path.iterdir()
            if p.is_dir() and (m := _SEED_DIR.match(p.name)) and (p / RUN_JSON).is_file()]
    return [p for _, p in sorted(runs)]


def is_group(path: str | Path) -> bool:
    return bool(group_runs(path))


def replicate_table(out: str | Path, run: Path) -> Path:
    """Where ``score --run GROUP --out OUT`` writes the table of one run of the group:
    ``OUT`` with ``.seed-K`` before its suffix (flatness.csv -> flatness.seed-3.csv)."""
    out = Path(out)
    return out.with_name(f"{out.stem}.{run.name}{out.suffix or '.csv'}")
