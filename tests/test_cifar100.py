"""CIFAR-100 end to end on the real images (skipped where they are absent): NB201's data
protocol for the dataset, a supernet trained and scored on it, zero-cost proxies on its
batches, and tau against NB201's cifar100 column."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from proxybench.run.data import load_dataset, search_split
from tests.cli_helpers import one_line_error, run

SPLITS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nb201-splits"


def test_real_cifar100_and_nb201_split(cifar100_dir: Path) -> None:
    train, test = load_dataset("cifar100", cifar100_dir)
    assert train.images.shape == (50000, 3, 32, 32) and len(test) == 10000
    assert train.num_classes == 100
    assert torch.bincount(train.labels, minlength=100).tolist() == [500] * 100
    assert torch.bincount(test.labels, minlength=100).tolist() == [100] * 100
    # the reference protocol: the whole training set trains, half the test set validates
    s_train, s_valid = search_split(train, test, split_file=None, seed=0, validation="test")
    assert len(s_train) == 50000 and len(s_valid) == 5000
    split = SPLITS / "cifar100-test-split.txt"
    if split.is_file():
        x_train, x_valid = search_split(train, test, split_file=split, seed=0)
        ids = json.loads(split.read_text())["xvalid"][1]
        assert len(x_valid) == len(ids) == 5000 and len(x_train) == 50000
        assert torch.equal(x_valid.images[7], test.images[int(ids[7])])


def test_cifar100_train_score_correlate(cifar100_dir: Path, gt_csv: Path,
                                        tmp_path: Path) -> None:
    out = tmp_path / "c100"
    result = run("train", "--dataset", "cifar100", "--data-dir", cifar100_dir, "--preset",
                 "tiny", "--epochs", "1", "--train-images", "256", "--threads", "1", "-q",
                 "--out", out)
    cfg = json.loads((out / "run.json").read_text())["config"]
    assert cfg["dataset"] == "cifar100" and cfg["validation"] == "test"
    table = tmp_path / "sn.csv"
    run("score", "--run", out, "--proxy", "val_acc;val_loss", "--cells", "12", "--workers",
        "1", "--threads", "1", "-q", "--out", table)
    scores = pd.read_csv(table)
    assert len(scores) == 12 and scores["val_loss"].gt(0).all()
    # val_loss of an untrained-ish 100-way classifier is near ln(100), not ln(10)
    assert scores["val_loss"].median() > 3.0
    zc = tmp_path / "zc.csv"
    run("score", "--proxy", "nwot;params", "--dataset", "cifar100", "--data-dir", cifar100_dir,
        "--preset", "tiny", "--cells", "12", "--workers", "1", "--threads", "1", "-q",
        "--out", zc)
    assert json.loads(zc.with_suffix(".json").read_text())["dataset"] == "cifar100"
    result = run("correlate", zc, "--dataset", "cifar100", "--ground-truth", gt_csv,
                 "--bootstrap", "0")
    assert "params" in result.output and "cifar100" in result.output
    # the training half is an option; a split file of the other kind is one clean line
    bad = run("train", "--dataset", "cifar100", "--data-dir", cifar100_dir, "--preset",
              "tiny", "--validation", "train", "--split-file",
              SPLITS / "cifar100-test-split.txt", "--out", tmp_path / "bad", ok=False) \
        if (SPLITS / "cifar100-test-split.txt").is_file() else None
    if bad is not None:
        one_line_error(bad, "--validation test")
