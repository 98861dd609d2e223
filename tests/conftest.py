"""Shared fixtures: paths to the team's read-only data, and a tiny trained run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
GT_CSV = SHARED_DATA / "nb201_test_accuracy.csv.gz"


@pytest.fixture(scope="session")
def gt_csv() -> Path:
    """The NB201 ground truth: $PROXYBENCH_NB201 (as the CLI reads it) when it names a CSV
    table, else this team's ../shared/data copy, else the copy shipped in the package."""
    env = os.environ.get("PROXYBENCH_NB201")
    if env and Path(env).is_file() and not env.endswith((".pth", ".pt")):
        return Path(env)
    if GT_CSV.is_file():
        return GT_CSV
    from proxybench.analysis.groundtruth import SHIPPED
    return SHIPPED            # the same table, shipped in the package


CIFAR100_TAR = SHARED_DATA / "cifar-100-python.tar.gz"


@pytest.fixture(scope="session")
def cifar100_dir(tmp_path_factory) -> Path:
    """Real CIFAR-100 (official python layout): $PROXYBENCH_CIFAR100 (a folder holding
    cifar-100-python/), else this team's ../shared/data tarball extracted once; skipped
    where neither is present."""
    env = os.environ.get("PROXYBENCH_CIFAR100")
    if env and (Path(env) / "cifar-100-python" / "train").is_file():
        return Path(env)
    if not CIFAR100_TAR.is_file():
        pytest.skip("real CIFAR-100 not present: set PROXYBENCH_CIFAR100 to a folder holding "
                    "cifar-100-python/")
    import tarfile
    out = tmp_path_factory.mktemp("cifar100")
    with tarfile.open(CIFAR100_TAR) as tar:
        tar.extractall(out, filter="data")
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A 1-epoch supernet on synthetic data (C=4, N=1): real training, seconds on a CPU."""
    from proxybench.run.presets import get_preset
    from proxybench.run.train import TrainConfig, train_supernet

    out = tmp_path_factory.mktemp("run") / "tiny"
    preset = get_preset("tiny", epochs=2, train_images=512, bn_images=32, val_images=64,
                        path_sample=2)
    cfg = TrainConfig("nb201", "cifar10", None, "tiny", preset, 0, 1, None)
    train_supernet(cfg, out, progress=False)
    return out
