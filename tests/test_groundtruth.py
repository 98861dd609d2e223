"""Ground-truth loading (CSV and the official .pth layout) and joining scores to it."""

from __future__ import annotations

import gzip
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from nas_201_api import ArchResults, ResultsCount

from proxybench.analysis.groundtruth import (
    ENV_VAR,
    GT_DATASETS,
    GroundTruthError,
    default_path,
    join_scores,
    load_ground_truth,
)

REAL_CSV = Path(__file__).resolve().parents[1].parent / "shared/data/nb201_test_accuracy.csv.gz"
ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
]
COLUMNS = ["arch_index", "arch", *GT_DATASETS]


def _small_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "index": [2, 0, 1],
            "arch": [ARCHS[2], ARCHS[0], ARCHS[1]],
            "cifar10": [10.0, 93.5, 88.25],
            "imagenet16_120": [0.8333, 45.1, 30.0],
        }
    )


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "gt.csv"
    _small_table().to_csv(path, index=False)
    gt = load_ground_truth(path)
    assert list(gt.columns) == COLUMNS
    assert gt["arch_index"].tolist() == [0, 1, 2]
    assert gt["arch"].tolist() == ARCHS
    np.testing.assert_allclose(gt["cifar10"], [93.5, 88.25, 10.0])
    np.testing.assert_allclose(gt["imagenet16-120"], [45.1, 30.0, 0.8333])
    assert gt["cifar100"].isna().all()


def test_csv_gz_with_alternative_names(tmp_path: Path) -> None:
    table = _small_table().rename(
        columns={"index": "arch_index", "imagenet16_120": "imagenet16-120"}
    )
    path = tmp_path / "gt.csv.gz"
    table.to_csv(path, index=False)
    gt = load_ground_truth(path)
    assert gt.loc[gt["arch_index"] == 1, "imagenet16-120"].item() == pytest.approx(30.0)


@pytest.mark.skipif(not REAL_CSV.is_file(), reason=f"{REAL_CSV} not present")
def test_real_nb201_csv() -> None:
    gt = load_ground_truth(REAL_CSV)
    assert len(gt) == 15_625
    assert gt["arch_index"].tolist() == list(range(15_625))
    assert gt.loc[6111, "cifar10"] == pytest.approx(94.3733)
    assert gt.loc[9930, "cifar100"] == pytest.approx(73.5133)
    assert gt.loc[857, "imagenet16-120"] == pytest.approx(47.3111)
    assert not gt[list(GT_DATASETS)].isna().any().any()


def test_default_path_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proxybench.analysis.groundtruth import SHIPPED, resolve
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert default_path() == SHIPPED and resolve(None) == str(SHIPPED)
    assert len(load_ground_truth(None)) == 15_625        # the shipped table, nothing set
    path = tmp_path / "gt.csv"
    _small_table().to_csv(path, index=False)
    monkeypatch.setenv(ENV_VAR, str(path))
    assert default_path() == path
    assert len(load_ground_truth(None)) == 3
    assert resolve("other.csv") == "other.csv"            # an explicit path comes first
    # a relative variable is taken from the current directory, and said so when it is wrong
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_VAR, "gt.csv")
    assert default_path() == tmp_path / "gt.csv"
    monkeypatch.setenv(ENV_VAR, "nope.csv")
    with pytest.raises(GroundTruthError, match="relative to the current directory"):
        default_path()


def test_shipped_table_is_nb201s() -> None:
    """The table inside the package: every cell in the official order, the known best ones."""
    from proxybench.analysis.groundtruth import SHIPPED
    from proxybench.spaces.nb201 import all_cells, format_arch
    raw = pd.read_csv(SHIPPED)
    assert len(raw) == 15_625 and raw["index"].tolist() == list(range(15_625))
    assert list(raw.columns) == ["index", "arch", "cifar10", "cifar100", "imagenet16_120"]
    cells = all_cells()
    assert all(raw["arch"].iloc[i] == format_arch(cells[i]) for i in (0, 857, 6111, 9930, 15624))
    assert raw["cifar10"].idxmax() == 6111 and raw["cifar10"].max() == pytest.approx(94.3733)
    assert raw["cifar100"].idxmax() == 9930 and raw["cifar100"].max() == pytest.approx(73.5133)
    assert raw["imagenet16_120"].idxmax() == 857
    assert raw["imagenet16_120"].max() == pytest.approx(47.3111)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv.gz"
    with pytest.raises(GroundTruthError, match=r"nope\.csv\.gz does not exist"):
        load_ground_truth(path)


@pytest.mark.parametrize(
    ("drop", "match"),
    [("arch", "lacks column.*arch"), ("index", "lacks column.*index")],
)
def test_missing_required_column(tmp_path: Path, drop: str, match: str) -> None:
    path = tmp_path / "gt.csv"
    _small_table().drop(columns=drop).to_csv(path, index=False)
    with pytest.raises(GroundTruthError, match=match):
        load_ground_truth(path)


def test_no_accuracy_column(tmp_path: Path) -> None:
    path = tmp_path / "gt.csv"
    _small_table()[["index", "arch"]].to_csv(path, index=False)
    with pytest.raises(GroundTruthError, match="no accuracy column"):
        load_ground_truth(path)


def test_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "gt.csv"
    dup = _small_table().assign(index=[0, 0, 1])
    dup.to_csv(path, index=False)
    with pytest.raises(GroundTruthError, match="cell 0 more than once"):
        load_ground_truth(path)
    _small_table().assign(cifar10=["93.5", "94%", "1"]).to_csv(path, index=False)
    with pytest.raises(GroundTruthError, match="not a number"):
        load_ground_truth(path)
    _small_table().assign(cifar10=[0.9, 0.8, 120.0]).to_csv(path, index=False)
    with pytest.raises(GroundTruthError, match="percent"):
        load_ground_truth(path)


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "gt.csv.gz"
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(GroundTruthError, match=r"gt\.csv\.gz.*corrupt"):
        load_ground_truth(path)
    whole = gzip.compress(_small_table().to_csv(index=False).encode() * 50)
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(GroundTruthError, match=r"gt\.csv\.gz"):
        load_ground_truth(path)


# ---- joining ---------------------------------------------------------------------------------


def _truth() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arch_index": [0, 1, 2],
            "arch": ARCHS,
            "cifar10": [93.5, 88.25, 10.0],
            "cifar100": [70.0, np.nan, 1.0],
            "imagenet16-120": [45.0, 30.0, 0.8],
        }
    )


def test_join_scores() -> None:
    scores = pd.DataFrame(
        {"arch_index": [2, 0, 0], "arch": [ARCHS[2], ARCHS[0], ARCHS[0]], "score": [1.0, 2, 3]},
        index=[10, 11, 12],
    )
    before = scores.copy()
    joined = join_scores(scores, _truth(), "cifar10")
    pd.testing.assert_frame_equal(scores, before)
    assert list(joined.index) == [10, 11, 12]
    assert joined["truth"].tolist() == [10.0, 93.5, 93.5]
    assert joined["score"].tolist() == [1.0, 2.0, 3.0]
    no_arch = join_scores(scores.drop(columns="arch"), _truth(), "imagenet16-120")
    assert no_arch["truth"].tolist() == [0.8, 45.0, 45.0]


def test_join_arch_mismatch() -> None:
    scores = pd.DataFrame({"arch_index": [0, 1], "arch": [ARCHS[0], ARCHS[2]]})
    with pytest.raises(GroundTruthError, match="disagree on the arch of index 1"):
        join_scores(scores, _truth(), "cifar10")


def test_join_missing_cells() -> None:
    scores = pd.DataFrame({"arch_index": [0, 7, 7, 8]})
    with pytest.raises(GroundTruthError, match=r"2 scored cell\(s\).*index 7"):
        join_scores(scores, _truth(), "cifar10")
    nan_truth = pd.DataFrame({"arch_index": [0, 1]})
    with pytest.raises(GroundTruthError, match=r"1 scored cell\(s\).*index 1"):
        join_scores(nan_truth, _truth(), "cifar100")


def test_join_unknown_dataset() -> None:
    with pytest.raises(GroundTruthError, match="imagenet16-120"):
        join_scores(pd.DataFrame({"arch_index": [0]}), _truth(), "imagenet")


# ---- official .pth layout, built with nas_201_api's own classes --------------------------------

SEEDS = (777, 888, 999)
# True 200-epoch test accuracy per (cell, dataset), one value per seed; cell 2 never trained.
PTH_SPEC: dict[int, dict[str, list[float]]] = {
    0: {"cifar10": [93.1, 93.5, 94.0], "cifar100": [70.2, 71.0], "ImageNet16-120": [44.0, 46.0]},
    1: {"cifar10": [88.0], "cifar100": [60.5, 61.5, 62.5]},
}
# Evaluation sets recorded per dataset: the one we must read gets v; decoys get other values.
EVAL_SETS = {
    "cifar10-valid": {"x-valid": -5.0, "ori-test": -3.0},
    "cifar10": {"ori-test": 0.0},
    "cifar100": {"x-valid": 1.0, "x-test": 0.0, "ori-test": 2.0},
    "ImageNet16-120": {"x-valid": 1.0, "x-test": 0.0, "ori-test": 2.0},
}


def _trial(
    dataset: str, seed: int, arch: str, epochs: int, final: dict[str, float]
) -> ResultsCount:
    """One fake run whose accuracy on each eval set reaches final[set] at the last epoch."""
    config = {"channel": 16, "num_cells": 5, "arch_str": arch, "class_num": 10}
    train_acc = {e: 99.0 * (e + 1) / epochs for e in range(epochs)}
    train_loss = {e: 1.0 / (e + 1) for e in range(epochs)}
    run = ResultsCount(
        dataset, None, train_acc, train_loss, 1.0, 100.0, config, seed, epochs, [0.01]
    )
    accs, losses, times = {}, {}, {}
    for setname, acc in final.items():
        for e in range(epochs):
            key = f"{setname}@{e}"
            accs[key] = acc if e == epochs - 1 else acc / 2
            losses[key] = 1.0 / (e + 1)
            times[key] = 0.5
    run.update_eval(accs, losses, times)
    return run


def _arch_results(index: int, epochs: int, shift: float) -> ArchResults:
    result = ArchResults(index, ARCHS[index])
    for dataset, per_seed in PTH_SPEC[index].items():
        for seed, acc in zip(SEEDS, per_seed, strict=False):
            for api_name in ("cifar10-valid", "cifar10") if dataset == "cifar10" else (dataset,):
                final = {s: acc + d + shift for s, d in EVAL_SETS[api_name].items()}
                result.update(api_name, seed, _trial(api_name, seed, ARCHS[index], epochs, final))
    return result


def _write_benchmark(path: Path) -> None:
    """The layout NASBench201API reads: meta_archs, arch2infos {i: {less, full}}, indexes."""
    arch2infos = {
        i: {
            "less": _arch_results(i, 12, shift=-30.0).state_dict(),
            "full": _arch_results(i, 200, shift=0.0).state_dict(),
        }
        for i in PTH_SPEC
    }
    torch.save(
        {"meta_archs": ARCHS, "arch2infos": arch2infos, "evaluated_indexes": set(PTH_SPEC)}, path
    )


def test_pth_benchmark_through_nas_201_api(tmp_path: Path) -> None:
    path = tmp_path / "NAS-Bench-201-fake.pth"
    _write_benchmark(path)
    gt = load_ground_truth(path)
    assert list(gt.columns) == COLUMNS
    assert gt["arch_index"].tolist() == [0, 1, 2]
    assert gt["arch"].tolist() == ARCHS
    names = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16-120": "ImageNet16-120"}
    for index in (0, 1, 2):
        for dataset, api_name in names.items():
            per_seed = PTH_SPEC.get(index, {}).get(api_name)
            got = gt.loc[index, dataset]
            if per_seed is None:
                assert np.isnan(got), (index, dataset)
            else:
                assert got == pytest.approx(np.mean(per_seed)), (index, dataset)


def test_pth_with_numpy_scalars(tmp_path: Path) -> None:
    result = ArchResults(0, ARCHS[0])
    final = {"ori-test": np.float64(91.25)}
    result.update("cifar10", 777, _trial("cifar10", 777, ARCHS[0], 3, final))
    path = tmp_path / "np.pth"
    state = {"less": result.state_dict(), "full": result.state_dict()}
    torch.save({"meta_archs": ARCHS[:1], "arch2infos": {0: state}, "evaluated_indexes": [0]}, path)
    assert load_ground_truth(path).loc[0, "cifar10"] == pytest.approx(91.25)


def test_pth_errors(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(GroundTruthError, match=r"garbage\.pth"):
        load_ground_truth(garbage)
    layout = tmp_path / "layout.pth"
    torch.save({"something": 1}, layout)
    with pytest.raises(GroundTruthError, match=r"layout\.pth.*meta_archs"):
        load_ground_truth(layout)
    unsafe = tmp_path / "unsafe.pth"
    torch.save({"meta_archs": ARCHS, "arch2infos": {}, "evaluated_indexes": Fraction(1, 3)}, unsafe)
    with pytest.raises(GroundTruthError, match=r"unsafe\.pth.*weights_only"):
        load_ground_truth(unsafe)


@pytest.mark.parametrize("metric, shift", [("valid-200", 0.0), ("valid-12", -30.0)])
def test_pth_validation_metrics(tmp_path: Path, metric: str, shift: float) -> None:
    """valid-*: the validation set (cifar10-valid's x-valid for CIFAR-10, x-valid for the
    others) of the 200- or 12-epoch runs; the decoy sets hold other values."""
    path = tmp_path / "NAS-Bench-201-fake.pth"
    _write_benchmark(path)
    gt = load_ground_truth(path, metric)
    assert gt.loc[0, "cifar10"] == pytest.approx(np.mean(PTH_SPEC[0]["cifar10"]) - 5 + shift)
    assert gt.loc[1, "cifar100"] == pytest.approx(np.mean(PTH_SPEC[1]["cifar100"]) + 1 + shift)
    assert gt.loc[0, "imagenet16-120"] == pytest.approx(
        np.mean(PTH_SPEC[0]["ImageNet16-120"]) + 1 + shift)
    assert np.isnan(gt.loc[2, "cifar10"])


def test_csv_metric_columns_and_clear_errors(tmp_path: Path) -> None:
    table = pd.DataFrame({"index": [0, 1, 2], "arch": ARCHS, "cifar10": [90.0, 91.0, 92.0],
                          "cifar10@valid-12": [70.0, 60.0, 80.0]})
    path = tmp_path / "gt.csv"
    table.to_csv(path, index=False)
    assert load_ground_truth(path)["cifar10"].tolist() == [90.0, 91.0, 92.0]
    assert load_ground_truth(path, "valid-12")["cifar10"].tolist() == [70.0, 60.0, 80.0]
    with pytest.raises(GroundTruthError, match=r"no valid-200 accuracy.*\.pth"):
        load_ground_truth(path, "valid-200")
    with pytest.raises(GroundTruthError, match="unknown ground-truth metric 'best'"):
        load_ground_truth(path, "best")
