"""Datasets held in memory as uint8 tensors, NB201 splits, CIFAR augmentation and batches.

Why in memory: CIFAR-10/100 and ImageNet16-120 fit in a few hundred MB as uint8, and proxy
scoring touches the same images many times, so decoding once and indexing tensors is far
faster than a DataLoader. Everything is seeded explicitly (``seed`` ints or a
``torch.Generator``); nothing here reads global state or mutates its inputs.

The loaders read the official python-pickle releases:

* CIFAR-10: ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch``
* CIFAR-100: ``cifar-100-python/train``, ``test`` and ``meta``
* ImageNet16-120: ``ImageNet16/train_data_batch_1..10`` and ``val_data`` (the 16x16
  downsampled ImageNet, restricted to labels 1..120 as NAS-Bench-201 does)

Pickles are read with a restricted unpickler that only builds plain containers and numpy
arrays, so a stray file in a data folder cannot run code.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ProxybenchError
from ..spaces.nb201 import DATASETS  # one list of NB201's datasets, in the space

__all__ = [
    "DATASETS",
    "DataError",
    "ImageSet",
    "augment",
    "cutout",
    "fixed_batch",
    "ImageProtocol",
    "load_dataset",
    "normalize",
    "read_split_file",
    "search_split",
    "split_kind",
    "VALIDATION",
    "synthetic_dataset",
    "train_batches",
]


Stats = tuple[float, float, float]

CIFAR10_MEAN: Stats = (0.4914, 0.4822, 0.4465)
CIFAR10_STD: Stats = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN: Stats = (0.5071, 0.4865, 0.4409)
CIFAR100_STD: Stats = (0.2673, 0.2564, 0.2762)
IMAGENET16_MEAN: Stats = (0.4811, 0.4575, 0.4078)
IMAGENET16_STD: Stats = (0.2605, 0.2533, 0.2683)
IMAGENET16_CLASSES = 120

# The statistics SamsungLabs/zero-cost-nas normalises with (foresight/dataset.py): both
# CIFARs take CIFAR-10's mean with the std 0.2023/0.1994/0.2010 (kuangliu/pytorch-cifar's),
# ImageNet16-120 the pixel statistics 122.68/116.66/104.01 and 63.22/61.26/65.09 (of 255).
ZERO_COST_NAS_STATS: dict[str, tuple[Stats, Stats]] = {
    "cifar10": (CIFAR10_MEAN, (0.2023, 0.1994, 0.2010)),
    "cifar100": (CIFAR10_MEAN, (0.2023, 0.1994, 0.2010)),
    "imagenet16-120": ((122.68 / 255, 116.66 / 255, 104.01 / 255),
                       (63.22 / 255, 61.26 / 255, 65.09 / 255)),
}
NORMALIZE = ("dataset", "zero-cost-nas")

_CIFAR10_FIX = ("download cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) "
                "and extract it into {root}, or point --data-dir at the folder holding "
                "cifar-10-batches-py/")
_CIFAR10_DIR_FIX = "point --data-dir at the folder holding cifar-10-batches-py/"
_CIFAR100_FIX = (
    "download cifar-100-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) and "
    "extract it into {root}, or point --data-dir at the folder holding cifar-100-python/"
)
_IMAGENET16_FIX = (
    "download the 16x16 downsampled ImageNet (Imagenet16_train / Imagenet16_val, "
    "image-net.org) and extract both into {root}/ImageNet16, or point --data-dir at the "
    "folder holding ImageNet16/"
)


class DataError(ProxybenchError):
    """Bad or missing data; the message names the problem and the fix."""


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images and labels of one split, plus the normalisation the models expect.

    ``eq=False`` because field-wise ``==`` on tensors is ambiguous; identity is used.
    """

    images: torch.Tensor  # uint8 [N, 3, H, W]
    labels: torch.Tensor  # int64 [N], 0-based
    num_classes: int
    mean: Stats  # per-channel, in [0, 1] pixel units
    std: Stats

    def __post_init__(self) -> None:
        # Fail at construction, not deep inside a training loop.
        if self.images.dtype != torch.uint8 or self.images.dim() != 4 or self.images.shape[1] != 3:
            raise ValueError(
                f"ImageSet.images must be uint8 [N, 3, H, W], got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )
        if self.labels.dtype != torch.int64 or self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"ImageSet.labels must be int64 [{self.images.shape[0]}], got "
                f"{self.labels.dtype} {tuple(self.labels.shape)}"
            )
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("ImageSet.mean and ImageSet.std need one value per channel")
        if self.labels.numel() and (
            int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes
        ):
            raise ValueError(f"ImageSet.labels must lie in [0, {self.num_classes})")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: torch.Tensor | Sequence[int]) -> ImageSet:
        """A new ImageSet with the given rows (copied), in the given order."""
        idx = _as_index(index)
        return ImageSet(
            images=self.images[idx],
            labels=self.labels[idx],
            num_classes=self.num_classes,
            mean=self.mean,
            std=self.std,
        )


def _as_index(index: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """Int64 index tensor from a tensor or sequence of ints, or a bool mask."""
    if not isinstance(index, torch.Tensor):
        items = list(index)
        index = torch.as_tensor(items) if items else torch.zeros(0, dtype=torch.int64)
    if index.dtype == torch.bool:
        return index.nonzero().flatten()
    return index.to(torch.int64).flatten()


# --------------------------------------------------------------------------- pickles


class _SafeUnpickler(pickle.Unpickler):
    """Builds only containers, strings and numpy arrays: data files must not run code."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
        ("codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _load_pickle(path: Path, fix: str) -> dict[str, Any]:
    """Unpickle one official batch file into a dict with str keys."""
    if not path.is_file():
        raise DataError(f"missing data file {path}: {fix}")
    try:
        raw = path.read_bytes()
        # latin1 decodes the Python-2 pickles of the original releases (bytes -> str).
        obj = _SafeUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except Exception as exc:  # pickle raises many types on corrupt input
        raise DataError(
            f"cannot read {path} ({type(exc).__name__}: {exc}); the file is corrupt or not in "
            f"the official python-pickle format: replace it ({fix})"
        ) from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path} holds a {type(obj).__name__}, expected a dict: replace it")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _get(batch: dict[str, Any], key: str, path: Path) -> Any:
    if key not in batch:
        raise DataError(f"{path} has no {key!r} entry (keys: {sorted(batch)}): replace the file")
    return batch[key]


def _read_batch(path: Path, label_key: str, side: int, fix: str) -> tuple[np.ndarray, np.ndarray]:
    """(data uint8 [n, 3*side*side], labels int64 [n]) of one pickle, shape-checked."""
    batch = _load_pickle(path, fix)
    data = np.asarray(_get(batch, "data", path))
    labels = np.asarray(_get(batch, label_key, path))
    row = 3 * side * side
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != row:
        raise DataError(
            f"{path}: 'data' is {data.dtype} {data.shape}, expected uint8 [n, {row}] "
            f"({side}x{side} RGB images, CHW row-major): replace the file"
        )
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or labels.dtype.kind not in "iu":
        raise DataError(
            f"{path}: '{label_key}' has shape {labels.shape} ({labels.dtype}), expected "
            f"{data.shape[0]} integer labels: replace the file"
        )
    return data, labels.astype(np.int64)


def _to_imageset(
    data: list[np.ndarray],
    labels: list[np.ndarray],
    side: int,
    num_classes: int,
    mean: Stats,
    std: Stats,
    where: Path,
) -> ImageSet:
    """Concatenate batches into an ImageSet, checking the labels fit ``num_classes``."""
    images = np.concatenate(data).reshape(-1, 3, side, side)
    y = np.concatenate(labels)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(
            f"labels under {where} lie in [{y.min()}, {y.max()}], expected [0, {num_classes}): "
            "the files are not the official release; replace them"
        )
    return ImageSet(
        images=torch.from_numpy(np.ascontiguousarray(images)),
        labels=torch.from_numpy(y),
        num_classes=num_classes,
        mean=mean,
        std=std,
    )


def _find_dir(root: Path, inner: str, marker: str, fix: str) -> Path:
    """``root/inner`` if it exists, else ``root`` itself when it already is that folder."""
    if not root.is_dir():
        raise DataError(f"data dir {root} does not exist: {fix}")
    if (root / inner).is_dir():
        return root / inner
    if root.name == inner or (root / marker).is_file():
        return root
    raise DataError(f"no {inner}/ folder in {root} (expected {root / inner}): {fix}")


# --------------------------------------------------------------------------- loaders


def _load_cifar10(root: Path) -> tuple[ImageSet, ImageSet]:
    fix = f"{_CIFAR10_FIX.format(root=root)}, or {_CIFAR10_DIR_FIX}"
    folder = _find_dir(root, "cifar-10-batches-py", "data_batch_1", fix)
    parts = [_read_batch(folder / f"data_batch_{i}", "labels", 32, fix) for i in range(1, 6)]
    test = _read_batch(folder / "test_batch", "labels", 32, fix)
    train_set = _to_imageset(
        [d for d, _ in parts], [y for _, y in parts], 32, 10, CIFAR10_MEAN, CIFAR10_STD, folder
    )
    test_set = _to_imageset([test[0]], [test[1]], 32, 10, CIFAR10_MEAN, CIFAR10_STD, folder)
    return train_set, test_set


def _load_cifar100(root: Path) -> tuple[ImageSet, ImageSet]:
    fix = _CIFAR100_FIX.format(root=root)
    folder = _find_dir(root, "cifar-100-python", "train", fix)
    meta = _load_pickle(folder / "meta", fix)
    names = _get(meta, "fine_label_names", folder / "meta")
    num_classes = len(names)
    train = _read_batch(folder / "train", "fine_labels", 32, fix)
    test = _read_batch(folder / "test", "fine_labels", 32, fix)
    stats = (CIFAR100_MEAN, CIFAR100_STD)
    return (
        _to_imageset([train[0]], [train[1]], 32, num_classes, *stats, folder),
        _to_imageset([test[0]], [test[1]], 32, num_classes, *stats, folder),
    )


def _read_imagenet16(path: Path, fix: str) -> tuple[np.ndarray, np.ndarray]:
    """One ImageNet16 pickle restricted to labels 1..120, made 0-based (as NB201 does)."""
    data, labels = _read_batch(path, "labels", 16, fix)
    keep = (labels >= 1) & (labels <= IMAGENET16_CLASSES)
    return data[keep], labels[keep] - 1


def _load_imagenet16(root: Path) -> tuple[ImageSet, ImageSet]:
    fix = _IMAGENET16_FIX.format(root=root)
    folder = _find_dir(root, "ImageNet16", "train_data_batch_1", fix)
    # Filter each batch before concatenating: the full 1000-class set is ~1 GB.
    parts = [_read_imagenet16(folder / f"train_data_batch_{i}", fix) for i in range(1, 11)]
    val = _read_imagenet16(folder / "val_data", fix)
    stats = (IMAGENET16_MEAN, IMAGENET16_STD)
    return (
        _to_imageset(
            [d for d, _ in parts], [y for _, y in parts], 16, IMAGENET16_CLASSES, *stats, folder
        ),
        _to_imageset([val[0]], [val[1]], 16, IMAGENET16_CLASSES, *stats, folder),
    )


_LOADERS = {
    "cifar10": _load_cifar10,
    "cifar100": _load_cifar100,
    "imagenet16-120": _load_imagenet16,
}


def load_dataset(name: str, data_dir: str | Path) -> tuple[ImageSet, ImageSet]:
    """(train, test) of one dataset from its official python-pickle format.

    ``data_dir`` may hold the release folder (``cifar-10-batches-py/``, ``cifar-100-python/``,
    ``ImageNet16/``) or be that folder. For ImageNet16-120, "test" is ``val_data``.
    """
    key = name.lower()
    if key not in _LOADERS:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    return _LOADERS[key](Path(data_dir).expanduser())


# --------------------------------------------------------------------------- splits


def read_split_file(path: str | Path) -> dict[str, list[int]]:
    """NB201 split file (``{"train": ["int", ["0", ...]], ...}``) as ``{key: [ints]}``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing split file {path}: pass the path of an NB201 split file")
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot parse split file {path} as JSON: {exc}") from exc
    if not isinstance(raw, dict) or not raw:
        raise DataError(f"split file {path} must be a JSON object of named index lists")
    out: dict[str, list[int]] = {}
    for key, value in raw.items():
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and value[0] == "int"
            and isinstance(value[1], list)
        )
        if not ok:
            raise DataError(
                f'split file {path}: entry {key!r} must look like ["int", ["0", "5", ...]]'
            )
        try:
            out[key] = [int(v) for v in value[1]]
        except (TypeError, ValueError) as exc:
            raise DataError(f"split file {path}: entry {key!r} holds a non-integer: {exc}") from exc
    return out


def _check_range(idx: list[int], n: int, what: str, split_file: str | Path) -> None:
    if idx and (min(idx) < 0 or max(idx) >= n):
        raise DataError(
            f"split file {split_file} does not fit this data: {what} indices span "
            f"[{min(idx)}, {max(idx)}] but the set has {n} images (e.g. the CIFAR-10 JPEG copy "
            "is reordered and smaller test files differ); use split_file=None for a seeded split"
        )


VALIDATION: tuple[str, ...] = ("train", "test")


def split_kind(split_file: str | Path) -> str:
    """'train' for a split file of training-set halves (``train``/``valid``: NB201's
    cifar-split.txt, GeNAS' cifar100-split.txt), 'test' for one of test-set halves
    (``xvalid``: cifar100-/imagenet-16-120-test-split.txt)."""
    split = read_split_file(split_file)
    if "train" in split and "valid" in split:
        return "train"
    if "xvalid" in split:
        return "test"
    raise DataError(
        f"split file {split_file} has keys {sorted(split)}; expected 'train'+'valid' "
        "(cifar-split.txt) or 'xvalid' (cifar100-/imagenet-16-120-test-split.txt)"
    )


def search_split(
    train: ImageSet, test: ImageSet, *, split_file: str | Path | None, seed: int,
    validation: str | None = None,
) -> tuple[ImageSet, ImageSet]:
    """(search_train, search_valid) used to train the supernet and to score cells.

    ``validation`` says where the validation images come from:

    * ``"train"``: half of the training set, the other half training the supernet (NB201
      CIFAR-10 with ``cifar-split.txt``; GeNAS' DARTS code). Without a split file, a seeded
      50/50 split.
    * ``"test"``: half of the test set, the whole training set training the supernet (NB201
      CIFAR-100 and ImageNet16-120 with the ``xvalid`` of their test-split file). Without a
      split file, a seeded half of the test set.

    ``None`` takes the split file's kind, else ``"train"``. A split file of the other kind
    is an error, not silently ignored.
    """
    kind = split_kind(split_file) if split_file is not None else None
    validation = validation or kind or "train"
    if validation not in VALIDATION:
        raise DataError(f"unknown validation {validation!r}: choose one of "
                        f"{', '.join(VALIDATION)}")
    if kind is not None and kind != validation:
        raise DataError(
            f"split file {split_file} splits the {kind} set, but validation={validation}; "
            f"pass --validation {kind} or a split file of the {validation} set")
    if split_file is None:
        source = train if validation == "train" else test
        perm = torch.randperm(len(source), generator=torch.Generator().manual_seed(seed))
        half = len(source) // 2
        if validation == "train":
            return train.subset(perm[:half]), train.subset(perm[half:])
        return train, test.subset(perm[:half])
    split = read_split_file(split_file)
    if validation == "train":
        tr, va = split["train"], split["valid"]
        _check_range(tr, len(train), "train", split_file)
        _check_range(va, len(train), "valid", split_file)
        if set(tr) & set(va):
            raise DataError(f"split file {split_file}: 'train' and 'valid' share indices")
        return train.subset(tr), train.subset(va)
    _check_range(split["xvalid"], len(test), "xvalid", split_file)
    return train, test.subset(split["xvalid"])


# --------------------------------------------------------------------------- tensors


def normalize(
    images_uint8: torch.Tensor, mean: Sequence[float], std: Sequence[float]
) -> torch.Tensor:
    """uint8 [N, 3, H, W] (or [3, H, W]) -> contiguous float32, ``(x / 255 - mean) / std``."""
    if images_uint8.dtype != torch.uint8:
        raise TypeError(f"normalize expects uint8 images, got {images_uint8.dtype}")
    m = torch.tensor(mean, dtype=torch.float64).view(-1, 1, 1)
    s = torch.tensor(std, dtype=torch.float64).view(-1, 1, 1)
    # One multiply and one subtract in place on the fresh float copy: this runs every batch.
    scale, shift = (1.0 / (255.0 * s)).to(torch.float32), (m / s).to(torch.float32)
    out = images_uint8.to(torch.float32, memory_format=torch.contiguous_format)
    return out.mul_(scale).sub_(shift)


def augment(images_uint8: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Standard CIFAR augmentation: random crop after zero padding ``pad``, random h-flip.

    Vectorised as one gather on the padded batch; draws offsets (rows, then
    columns) and then flips from ``generator``, so a generator state fixes the result.
    """
    if images_uint8.dtype != torch.uint8 or images_uint8.dim() != 4:
        raise TypeError(
            f"augment expects uint8 [N, C, H, W], got {images_uint8.dtype} "
            f"{tuple(images_uint8.shape)}"
        )
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    n, c, h, w = images_uint8.shape
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    padded = F.pad(images_uint8, (pad, pad, pad, pad)).contiguous()
    rows = dy[:, None] + torch.arange(h)  # [N, H] into padded rows
    cols_fwd = torch.arange(w)
    cols = dx[:, None] + torch.where(flip[:, None], cols_fwd.flip(0), cols_fwd)  # [N, W]
    # One gather over flattened H*W (shared by all channels) is ~3x faster than two.
    flat = (rows[:, :, None] * (w + 2 * pad) + cols[:, None, :]).view(n, 1, h * w)
    out = padded.view(n, c, (h + 2 * pad) * (w + 2 * pad)).gather(2, flat.expand(n, c, h * w))
    return out.view(n, c, h, w)


def cutout(images: torch.Tensor, length: int, generator: torch.Generator) -> torch.Tensor:
    """DARTS' Cutout: zero one ``length`` x ``length`` square per image (centre uniform over
    the image, clipped at the border) of normalised float images; returns a new tensor."""
    if length <= 0:
        return images
    n, _, h, w = images.shape
    cy = torch.randint(0, h, (n,), generator=generator)
    cx = torch.randint(0, w, (n,), generator=generator)
    rows, cols = torch.arange(h), torch.arange(w)
    inside_y = (rows[None, :] >= (cy - length // 2)[:, None]) & \
        (rows[None, :] < (cy + length // 2)[:, None])
    inside_x = (cols[None, :] >= (cx - length // 2)[:, None]) & \
        (cols[None, :] < (cx + length // 2)[:, None])
    mask = inside_y[:, None, :, None] & inside_x[:, None, None, :]
    return images.masked_fill(mask, 0.0)


def train_batches(
    data: ImageSet,
    batch_size: int,
    generator: torch.Generator,
    *,
    augment_images: bool = True,
    drop_last: bool = True,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of (normalised float32 NCHW images, int64 labels), shuffled by ``generator``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    perm = torch.randperm(len(data), generator=generator)
    stop = len(data) - len(data) % batch_size if drop_last else len(data)
    for start in range(0, stop, batch_size):
        idx = perm[start : start + batch_size]
        images = data.images[idx]
        if augment_images:
            images = augment(images, generator)
        yield normalize(images, data.mean, data.std), data.labels[idx]


@dataclass(frozen=True)
class ImageProtocol:
    """How the images a proxy sees are prepared (``score --normalize``, ``--augment``).

    The default (the dataset's own statistics, no augmentation) is proxybench's; papers
    differ: zero-cost-nas feeds its proxies a batch of its training loader, randomly cropped
    and flipped and normalised with its own statistics (``ZERO_COST_NAS_STATS``). A score
    table records its protocol, so tables of different protocols are never mixed."""

    normalize: str = "dataset"
    augment: bool = False

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZE:
            raise DataError(f"unknown normalisation {self.normalize!r}: choose one of "
                            f"{', '.join(NORMALIZE)}")
        if not isinstance(self.augment, bool):
            raise DataError(f"augment must be true or false, got {self.augment!r}")

    def to_dict(self) -> dict:
        return {"normalize": self.normalize, "augment": self.augment}

    def stats(self, data: ImageSet, dataset: str) -> tuple[Stats, Stats]:
        """(mean, std) to normalise ``data`` of ``dataset`` with."""
        if self.normalize == "dataset":
            return data.mean, data.std
        if dataset not in ZERO_COST_NAS_STATS:
            raise DataError(f"zero-cost-nas gives no statistics for {dataset!r}; use "
                            f"--normalize dataset")
        return ZERO_COST_NAS_STATS[dataset]


def fixed_batch(data: ImageSet, n: int, seed: int, protocol: ImageProtocol | None = None,
                dataset: str = "cifar10") -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded sample of ``n`` images, normalised (BN recalibration, scoring); unaugmented
    unless ``protocol`` asks (then cropped after padding H/8 pixels, as CIFAR's 4 and
    ImageNet16's 2, and flipped, by draws of the same seed).

    The same ``seed``, data and protocol give identical tensors.
    """
    protocol = protocol or ImageProtocol()
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if n > len(data):
        raise DataError(f"fixed_batch asked for {n} images but the set has only {len(data)}")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data), generator=gen)[:n]
    images = data.images[idx]
    if protocol.augment:
        images = augment(images, gen, pad=images.shape[-1] // 8)
    return normalize(images, *protocol.stats(data, dataset)), data.labels[idx]


def synthetic_dataset(
    num_train: int, num_test: int, num_classes: int, seed: int, size: int = 32
) -> tuple[ImageSet, ImageSet]:
    """Learnable stand-in data for demos and tests when no real data is at hand.

    Each class has a fixed random low-frequency colour pattern (a random 4x4x3 template
    bilinearly upsampled to ``size`` x ``size``); every image is its class pattern plus
    independent Gaussian pixel noise (sigma 48 on the 0..255 scale) and a random brightness
    shift, clipped to uint8. Labels are balanced and shuffled. A small convnet separates the
    classes well above chance within a few epochs; the noise keeps it from being instant.
    Mean/std are measured on the training images. Deterministic for a ``seed``.
    """
    if num_classes < 2 or num_train < 1 or num_test < 1 or size < 4:
        raise ValueError("synthetic_dataset needs num_classes >= 2, num_train/test >= 1, size >= 4")
    gen = torch.Generator().manual_seed(seed)
    templates = torch.rand(num_classes, 3, 4, 4, generator=gen) * 200.0 + 28.0
    patterns = F.interpolate(templates, size=(size, size), mode="bilinear", align_corners=False)

    def draw(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(count) % num_classes
        labels = labels[torch.randperm(count, generator=gen)]
        noise = torch.randn(count, 3, size, size, generator=gen) * 48.0
        shift = (torch.rand(count, 1, 1, 1, generator=gen) - 0.5) * 40.0
        images = (patterns[labels] + noise + shift).round().clamp(0, 255).to(torch.uint8)
        return images, labels

    train_x, train_y = draw(num_train)
    test_x, test_y = draw(num_test)
    pixels = train_x.to(torch.float32).div(255.0)
    m = pixels.mean(dim=(0, 2, 3)).tolist()
    s = pixels.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist()
    mean: Stats = (m[0], m[1], m[2])
    std: Stats = (s[0], s[1], s[2])
    return (
        ImageSet(train_x, train_y, num_classes, mean, std),
        ImageSet(test_x, test_y, num_classes, mean, std),
    )
