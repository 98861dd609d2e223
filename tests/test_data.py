"""Tests for proxybench.run.data on tiny files written in each official format."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from proxybench.run.data import (
    DATASETS,
    DataError,
    ImageProtocol,
    ImageSet,
    augment,
    fixed_batch,
    load_dataset,
    normalize,
    read_split_file,
    search_split,
    synthetic_dataset,
    train_batches,
)

SHARED_SPLITS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nb201-splits"


def _dump(path: Path, obj: object, protocol: int = 4) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


def _rows(n: int, side: int, seed: int) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, size=(n, 3 * side * side), dtype=np.uint8)


def make_cifar10(root: Path, per_batch: int = 20) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Write cifar-10-batches-py/ with bytes keys, as the official release has."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    written = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        data = _rows(per_batch, 32, seed=k)
        labels = [(k + j) % 10 for j in range(per_batch)]
        _dump(folder / name, {b"batch_label": name.encode(), b"data": data, b"labels": labels})
        written[name] = (data, labels)
    return written


def make_cifar100(root: Path) -> tuple[np.ndarray, list[int]]:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    train = _rows(30, 32, seed=1)
    train_labels = [(7 * j) % 100 for j in range(30)]
    _dump(folder / "train", {b"data": train, b"fine_labels": train_labels, b"coarse_labels": [0]})
    _dump(folder / "test", {b"data": _rows(12, 32, seed=2), b"fine_labels": list(range(12))})
    _dump(folder / "meta", {b"fine_label_names": [f"c{i}".encode() for i in range(100)]})
    return train, train_labels


def make_imagenet16(folder: Path) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Write ImageNet16 pickles with str keys and 1-based labels over 1000 classes."""
    folder.mkdir(parents=True)
    written = {}
    names = [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]
    for k, name in enumerate(names):
        data = _rows(6, 16, seed=100 + k)
        labels = [1, 120, 121, 1000, 5 + k, 60]  # 121 and 1000 must be dropped
        _dump(folder / name, {"data": data, "labels": labels, "mean": np.zeros(768)}, protocol=2)
        written[name] = (data, labels)
    return written


# --------------------------------------------------------------------------- loaders


def test_cifar10_shapes_labels_and_pixels(tmp_path: Path) -> None:
    written = make_cifar10(tmp_path)
    train, test = load_dataset("cifar10", tmp_path)
    assert train.images.shape == (100, 3, 32, 32) and train.images.dtype == torch.uint8
    assert test.images.shape == (20, 3, 32, 32)
    assert train.labels.dtype == torch.int64 and train.num_classes == 10
    assert train.mean == (0.4914, 0.4822, 0.4465) and train.std == (0.2470, 0.2435, 0.2616)
    # batches are concatenated in order 1..5; rows are CHW row-major
    data2, labels2 = written["data_batch_2"]
    c, y, x = 2, 5, 17
    assert int(train.images[20 + 3, c, y, x]) == int(data2[3, c * 1024 + y * 32 + x])
    assert train.labels[20:40].tolist() == labels2
    assert test.labels.tolist() == written["test_batch"][1]
    # data_dir may also be the inner folder itself
    train2, _ = load_dataset("CIFAR10", tmp_path / "cifar-10-batches-py")
    assert torch.equal(train2.images, train.images)


def test_cifar10_missing_dir_and_file_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10", tmp_path / "nope")
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_dataset("cifar10", tmp_path)
    make_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(DataError, match="test_batch.*cifar-10-python.tar.gz"):
        load_dataset("cifar10", tmp_path)


def test_corrupt_or_misshaped_file_names_the_file(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path)
    _dump(bad, {b"data": np.zeros((20, 100), np.uint8), b"labels": [0] * 20})
    with pytest.raises(DataError, match="data_batch_3.*3072"):
        load_dataset("cifar10", tmp_path)
    _dump(bad, {b"data": _rows(20, 32, 0), b"labels": [0] * 19})
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path)


class _Exploit:
    def __reduce__(self):  # harmless stand-in for code execution
        return (os.getcwd, ())


def test_pickles_cannot_run_code(tmp_path: Path) -> None:
    make_cifar10(tmp_path)
    _dump(tmp_path / "cifar-10-batches-py" / "test_batch", {b"data": _Exploit(), b"labels": []})
    with pytest.raises(DataError, match="test_batch"):
        load_dataset("cifar10", tmp_path)


def test_cifar100(tmp_path: Path) -> None:
    data, labels = make_cifar100(tmp_path)
    train, test = load_dataset("cifar100", tmp_path)
    assert train.images.shape == (30, 3, 32, 32) and len(test) == 12
    assert train.num_classes == 100 and train.labels.tolist() == labels
    assert train.mean == (0.5071, 0.4865, 0.4409) and test.std == (0.2673, 0.2564, 0.2762)
    assert int(train.images[4, 1, 31, 0]) == int(data[4, 1024 + 31 * 32])
    (tmp_path / "cifar-100-python" / "meta").unlink()
    with pytest.raises(DataError, match="meta"):
        load_dataset("cifar100", tmp_path)


def test_imagenet16_keeps_first_120_classes_zero_based(tmp_path: Path) -> None:
    written = make_imagenet16(tmp_path / "ImageNet16")
    for where in (tmp_path, tmp_path / "ImageNet16"):
        train, val = load_dataset("imagenet16-120", where)
        assert train.images.shape == (40, 3, 16, 16) and val.images.shape == (4, 3, 16, 16)
        assert train.num_classes == 120 and train.labels.dtype == torch.int64
        assert int(train.labels.min()) >= 0 and int(train.labels.max()) == 119
        assert train.mean == (0.4811, 0.4575, 0.4078)
    data, labels = written["val_data"]
    assert val.labels.tolist() == [0, 119, 4 + 10, 59]
    # val row 2 (label 15) is original row 4; check a pixel survived the filtering
    assert int(val.images[2, 2, 3, 9]) == int(data[4, 2 * 256 + 3 * 16 + 9])


def test_imagenet16_missing_batch(tmp_path: Path) -> None:
    make_imagenet16(tmp_path / "ImageNet16")
    (tmp_path / "ImageNet16" / "train_data_batch_7").unlink()
    with pytest.raises(DataError, match="train_data_batch_7"):
        load_dataset("imagenet16-120", tmp_path)


def test_unknown_dataset_lists_choices(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        load_dataset("mnist", tmp_path)
    assert all(name in str(err.value) for name in DATASETS)


# --------------------------------------------------------------------------- splits


def _fake_set(n: int, num_classes: int | None = None, side: int = 4) -> ImageSet:
    images = (torch.arange(n * 3 * side * side) % 256).to(torch.uint8).view(n, 3, side, side)
    return ImageSet(images, torch.arange(n), num_classes or n, (0.5,) * 3, (0.25,) * 3)


def _write_split(path: Path, **lists: list[int]) -> Path:
    path.write_text(json.dumps({k: ["int", [str(i) for i in v]] for k, v in lists.items()}))
    return path


def test_read_split_file(tmp_path: Path) -> None:
    path = _write_split(tmp_path / "s.txt", train=[0, 5, 7], valid=[1, 2])
    assert read_split_file(path) == {"train": [0, 5, 7], "valid": [1, 2]}
    for bad in ("{not json", "[1, 2]", '{"train": [1, 2]}', '{"train": ["int", ["x"]]}'):
        (tmp_path / "bad.txt").write_text(bad)
        with pytest.raises(DataError, match="bad.txt"):
            read_split_file(tmp_path / "bad.txt")
    with pytest.raises(DataError, match="missing"):
        read_split_file(tmp_path / "absent.txt")


@pytest.mark.skipif(not SHARED_SPLITS.is_dir(), reason="shared NB201 split files not present")
def test_read_official_split_files() -> None:
    split = read_split_file(SHARED_SPLITS / "cifar-split.txt")
    assert len(split["train"]) == len(split["valid"]) == 25000
    assert sorted(split["train"] + split["valid"]) == list(range(50000))
    assert {"xvalid", "xtest"} <= set(read_split_file(SHARED_SPLITS / "cifar100-test-split.txt"))


def test_search_split_from_files(tmp_path: Path) -> None:
    train, test = _fake_set(10), _fake_set(6)
    tv = _write_split(tmp_path / "tv.txt", train=[0, 5, 7], valid=[1, 2])
    s_train, s_valid = search_split(train, test, split_file=tv, seed=0)
    assert s_train.labels.tolist() == [0, 5, 7] and s_valid.labels.tolist() == [1, 2]
    assert torch.equal(s_train.images[1], train.images[5])

    xv = _write_split(tmp_path / "xv.txt", xvalid=[1, 3, 4], xtest=[0, 2, 5])
    s_train, s_valid = search_split(train, test, split_file=xv, seed=0)
    assert len(s_train) == 10 and s_valid.labels.tolist() == [1, 3, 4]

    too_big = _write_split(tmp_path / "big.txt", train=[0, 1], valid=[2, 10])
    with pytest.raises(DataError, match="does not fit"):
        search_split(train, test, split_file=too_big, seed=0)
    other = _write_split(tmp_path / "other.txt", foo=[0])
    with pytest.raises(DataError, match="xvalid"):
        search_split(train, test, split_file=other, seed=0)


def test_search_split_seeded_default() -> None:
    train, test = _fake_set(11), _fake_set(3)
    a_train, a_valid = search_split(train, test, split_file=None, seed=3)
    b_train, b_valid = search_split(train, test, split_file=None, seed=3)
    assert torch.equal(a_train.labels, b_train.labels)
    assert torch.equal(a_valid.labels, b_valid.labels)
    assert len(a_train) == 5 and len(a_valid) == 6
    assert sorted(a_train.labels.tolist() + a_valid.labels.tolist()) == list(range(11))
    c_train, _ = search_split(train, test, split_file=None, seed=4)
    assert not torch.equal(a_train.labels, c_train.labels)


def test_search_split_validation_on_the_test_half(tmp_path: Path) -> None:
    # NB201 CIFAR-100 / ImageNet16-120: the whole training set trains, half the test set
    # validates; seeded without a split file, the file's xvalid with one
    train, test = _fake_set(10), _fake_set(8)
    s_train, s_valid = search_split(train, test, split_file=None, seed=1, validation="test")
    assert torch.equal(s_train.labels, train.labels) and len(s_valid) == 4
    assert set(s_valid.labels.tolist()) < set(range(8))
    again = search_split(train, test, split_file=None, seed=1, validation="test")[1]
    assert torch.equal(again.labels, s_valid.labels)
    other = search_split(train, test, split_file=None, seed=2, validation="test")[1]
    assert not torch.equal(other.labels, s_valid.labels)
    # the default stays half the training set
    d_train, d_valid = search_split(train, test, split_file=None, seed=1)
    assert len(d_train) == len(d_valid) == 5
    xv = _write_split(tmp_path / "xv.txt", xvalid=[1, 3, 4], xtest=[0, 2, 5])
    assert search_split(train, test, split_file=xv, seed=0,
                        validation="test")[1].labels.tolist() == [1, 3, 4]
    # a split file of the other kind is refused, naming the fix
    with pytest.raises(DataError, match="--validation test"):
        search_split(train, test, split_file=xv, seed=0, validation="train")
    tv = _write_split(tmp_path / "tv.txt", train=[0, 5, 7], valid=[1, 2])
    with pytest.raises(DataError, match="--validation train"):
        search_split(train, test, split_file=tv, seed=0, validation="test")
    with pytest.raises(DataError, match="choose one of train, test"):
        search_split(train, test, split_file=None, seed=0, validation="valid")


def test_resolve_validation_follows_the_reference_protocol(tmp_path: Path) -> None:
    from proxybench.run.train import full_config, resolve_validation
    assert resolve_validation("nb201", "cifar10", None, None) == "train"
    assert resolve_validation("nb201", "cifar100", None, None) == "test"
    assert resolve_validation("nb201", "imagenet16-120", None, None) == "test"
    assert resolve_validation("darts", "cifar100", None, None) == "train"   # GeNAS A.3
    assert resolve_validation("nb201", "cifar100", None, "train") == "train"
    tv = _write_split(tmp_path / "tv.txt", train=[0, 5, 7], valid=[1, 2])
    assert resolve_validation("nb201", "cifar100", str(tv), None) == "train"
    # runs recorded before the option: their split file's kind, else the training half
    assert full_config({"split_file": None})["validation"] == "train"
    xv = _write_split(tmp_path / "xv.txt", xvalid=[1], xtest=[0])
    assert full_config({"split_file": str(xv)})["validation"] == "test"
    assert full_config({"split_file": str(tmp_path / "gone.txt")})["validation"] is None
    assert full_config({"validation": "test"})["validation"] == "test"


def test_subset_is_new_and_input_untouched() -> None:
    data = _fake_set(5)
    before = data.images.clone()
    sub = data.subset(torch.tensor([4, 0]))
    sub.images.zero_()
    assert torch.equal(data.images, before)
    mask = [True, False, True, False, False]
    assert data.subset(mask).labels.tolist() == [0, 2]
    assert data.subset(torch.tensor(mask)).labels.tolist() == [0, 2]
    assert data.subset([]).images.shape == (0, 3, 4, 4)
    with pytest.raises(ValueError):
        ImageSet(data.images.float(), data.labels, 5, data.mean, data.std)


# --------------------------------------------------------------------------- tensors


def test_normalize_values() -> None:
    images = torch.tensor([0, 255, 51], dtype=torch.uint8).view(1, 3, 1, 1)
    out = normalize(images, (0.0, 0.5, 0.2), (1.0, 0.5, 0.1))
    assert out.dtype == torch.float32 and out.is_contiguous()
    assert torch.allclose(out.flatten(), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)


ORIG = (torch.arange(3 * 6 * 6) % 200 + 1).to(torch.uint8).view(3, 6, 6)


def _crops(img: torch.Tensor, pad: int) -> list[tuple[int, int, bool]]:
    """All (dy, dx, flipped) whose padded crop reproduces ``img``."""
    return [
        (dy, dx, fl)
        for dy in range(2 * pad + 1)
        for dx in range(2 * pad + 1)
        for fl in (False, True)
        if torch.equal(img, _crop(ORIG, dy, dx, fl, pad))
    ]


def _crop(src: torch.Tensor, dy: int, dx: int, flip: bool, pad: int) -> torch.Tensor:
    h, w = src.shape[-2:]
    padded = torch.nn.functional.pad(src, (pad, pad, pad, pad))
    out = padded[:, dy : dy + h, dx : dx + w]
    return out.flip(-1) if flip else out


def test_augment_crops_and_flips_deterministically() -> None:
    batch = ORIG.expand(32, 3, 6, 6)
    before = batch.clone()
    out = augment(batch, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == batch.shape and out.dtype == torch.uint8
    assert torch.equal(batch, before)
    assert torch.equal(out, augment(batch, torch.Generator().manual_seed(0), pad=2))
    assert not torch.equal(out, augment(batch, torch.Generator().manual_seed(1), pad=2))
    found = [_crops(img, 2) for img in out]
    assert all(len(f) == 1 for f in found)  # every output is exactly one padded crop
    params = [f[0] for f in found]
    assert any(fl for _, _, fl in params) and any(not fl for _, _, fl in params)
    assert any((dy, dx) != (2, 2) for dy, dx, _ in params)  # some are shifted
    # pad=0: only flips
    flips = augment(batch, torch.Generator().manual_seed(0), pad=0)
    assert all(torch.equal(img, ORIG) or torch.equal(img, ORIG.flip(-1)) for img in flips)


def test_train_batches_cover_epoch_once() -> None:
    data = _fake_set(23, side=8)
    batches = list(train_batches(data, 5, torch.Generator().manual_seed(0), drop_last=False))
    assert [len(y) for _, y in batches] == [5, 5, 5, 5, 3]
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(23))
    x, y = batches[0]
    assert x.shape == (5, 3, 8, 8) and x.dtype == torch.float32 and x.is_contiguous()
    assert y.dtype == torch.int64
    dropped = list(train_batches(data, 5, torch.Generator().manual_seed(0)))
    assert len(dropped) == 4
    again = list(train_batches(data, 5, torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(dropped, again, strict=True))
    plain = next(train_batches(data, 23, torch.Generator(), augment_images=False))
    expect = normalize(data.images[plain[1]], data.mean, data.std)
    assert torch.equal(plain[0], expect)


def test_fixed_batch() -> None:
    data = _fake_set(20)
    x1, y1 = fixed_batch(data, 8, seed=5)
    x2, y2 = fixed_batch(data, 8, seed=5)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert len(set(y1.tolist())) == 8 and x1.dtype == torch.float32
    assert torch.equal(x1, normalize(data.images[y1], data.mean, data.std))
    with pytest.raises(DataError, match="only 20"):
        fixed_batch(data, 21, seed=0)


def test_scoring_image_protocols() -> None:
    """zero-cost-nas's statistics by hand; augmentation seeded, of the images drawn, and
    the default protocol the plain normalised batch."""
    data = _fake_set(20, side=16)
    x, y = fixed_batch(data, 8, seed=5, protocol=ImageProtocol("zero-cost-nas"))
    px = data.images[y[0], 1, 2, 3].item()
    assert x[0, 1, 2, 3].item() == pytest.approx((px / 255 - 0.4822) / 0.1994, abs=1e-5)
    x16, _ = fixed_batch(data, 8, seed=5, protocol=ImageProtocol("zero-cost-nas"),
                         dataset="imagenet16-120")
    assert x16[0, 1, 2, 3].item() == pytest.approx((px - 116.66) / 61.26, abs=1e-5)
    assert torch.equal(fixed_batch(data, 8, 5, ImageProtocol())[0], fixed_batch(data, 8, 5)[0])
    a1, ya = fixed_batch(data, 8, seed=5, protocol=ImageProtocol(augment=True))
    a2, _ = fixed_batch(data, 8, seed=5, protocol=ImageProtocol(augment=True))
    assert torch.equal(a1, a2) and torch.equal(ya, y)      # same images, same draws
    plain = normalize(data.images[y], data.mean, data.std)
    assert not torch.equal(a1, plain)
    # each augmented image is its own image shifted by at most 16/8 = 2 pixels, maybe flipped
    g = torch.Generator().manual_seed(5)
    torch.randperm(20, generator=g)
    assert torch.equal(a1, normalize(augment(data.images[y], g, pad=2), data.mean, data.std))
    with pytest.raises(DataError, match="choose one of dataset, zero-cost-nas"):
        ImageProtocol("imagenet")


def test_synthetic_dataset_deterministic_and_learnable() -> None:
    train, test = synthetic_dataset(200, 100, 5, seed=0, size=16)
    again, _ = synthetic_dataset(200, 100, 5, seed=0, size=16)
    other, _ = synthetic_dataset(200, 100, 5, seed=1, size=16)
    assert train.images.shape == (200, 3, 16, 16) and train.images.dtype == torch.uint8
    assert test.num_classes == 5 and torch.bincount(train.labels).tolist() == [40] * 5
    assert torch.equal(train.images, again.images) and train.mean == again.mean
    assert not torch.equal(train.images, other.images)
    # nearest class mean on 4x4-pooled images: far above chance (20%)
    pool = torch.nn.functional.avg_pool2d
    feats = pool(normalize(train.images, train.mean, train.std), 4).flatten(1)
    centroids = torch.stack([feats[train.labels == c].mean(0) for c in range(5)])
    test_feats = pool(normalize(test.images, test.mean, test.std), 4).flatten(1)
    pred = torch.cdist(test_feats, centroids).argmin(1)
    assert (pred == test.labels).float().mean() > 0.6


@pytest.mark.slow
def test_real_cifar10() -> None:
    root = os.environ.get("PROXYBENCH_CIFAR10")
    if not root:
        pytest.skip("set PROXYBENCH_CIFAR10 to a folder holding cifar-10-batches-py/")
    train, test = load_dataset("cifar10", root)
    assert train.images.shape == (50000, 3, 32, 32) and test.images.shape == (10000, 3, 32, 32)
    assert torch.bincount(train.labels).tolist() == [5000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    mean = train.images.float().div(255).mean(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.tensor(train.mean), atol=0.01)
