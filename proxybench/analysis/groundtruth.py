"""NAS-Bench-201 ground truth: per-cell test accuracy, and joining it to proxy scores.

Why a separate module: every correlation we report hinges on matching each scored cell to its
true accuracy, so loading is strict. A missing, corrupt or incomplete table, or scores whose
arch strings disagree with the benchmark's, raises :class:`GroundTruthError` with the file,
the problem and the fix, instead of silently correlating against the wrong cells.

Two sources are accepted:

* a CSV (optionally gzipped) with ``index`` (or ``arch_index``), ``arch`` and any of
  ``cifar10``, ``cifar100``, ``imagenet16_120`` (or ``imagenet16-120``), test accuracy in %;
* the official NAS-Bench-201 ``.pth`` benchmark, read through the ``nas_201_api`` package.
  From it we take, per cell, the 200-epoch test accuracy averaged over seeds: CIFAR-10 trained
  on train+valid evaluated on ``ori-test``; CIFAR-100 and ImageNet16-120 on ``x-test``.
"""

from __future__ import annotations

import os
import pickle
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ProxybenchError
from ..spaces.nb201 import DATASETS

__all__ = [
    "ENV_VAR",
    "GT_DATASETS",
    "GroundTruthError",
    "default_path",
    "join_scores",
    "load_ground_truth",
]

GT_DATASETS = DATASETS   # the datasets a ground-truth table may hold
ENV_VAR = "PROXYBENCH_NB201"

# Accepted CSV spellings of each dataset column.
_CSV_COLUMNS = {
    "cifar10": ("cifar10",),
    "cifar100": ("cifar100",),
    "imagenet16-120": ("imagenet16-120", "imagenet16_120"),
}
# (name in nas_201_api, evaluation set) per dataset; see ArchResults.get_metrics.
_API_SETS = {
    "cifar10": ("cifar10", "ori-test"),
    "cifar100": ("cifar100", "x-test"),
    "imagenet16-120": ("ImageNet16-120", "x-test"),
}
# Which accuracy is the truth: test accuracy after the full 200-epoch schedule (the default,
# what most papers report), or validation accuracy after 200 or 12 epochs (NB201's hp=12
# runs, what a search may see). (nas_201_api name, evaluation set, hp) per dataset.
METRICS = ("test-200", "valid-200", "valid-12")
_VALID_SETS = {
    "cifar10": ("cifar10-valid", "x-valid"),
    "cifar100": ("cifar100", "x-valid"),
    "imagenet16-120": ("ImageNet16-120", "x-valid"),
}
_BENCHMARK_SUFFIXES = (".pth", ".pt")
_HOW_TO_PASS = f"pass --ground-truth PATH or set {ENV_VAR}"
_CSV_LAYOUT = "columns index (or arch_index), arch, and any of cifar10, cifar100, imagenet16_120"


class GroundTruthError(ProxybenchError):
    """Missing, unreadable or inconsistent ground truth; the message names the problem and fix."""


# NB201 test accuracy (200 epochs) of every cell, shipped in the package (data/README.md)
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "nb201_test_accuracy.csv.gz"


def default_path() -> Path | None:
    """The ground truth when none is given: ``$PROXYBENCH_NB201`` if set (a relative path is
    taken from the current directory and made absolute here, so the message names the file
    it means), else the table shipped in the package (None only if it was removed)."""
    value = os.environ.get(ENV_VAR, "")
    if value:
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = Path.cwd() / path
        if not path.is_file():
            raise GroundTruthError(f"${ENV_VAR} names {path} (from {value!r}, relative to the "
                                   f"current directory), which does not exist; set it to an "
                                   f"existing file, or unset it to use the table shipped "
                                   f"with proxybench")
        return path
    return SHIPPED if SHIPPED.is_file() else None


def resolve(path: str | Path | None) -> str | None:
    """The ground-truth table to use: ``path``, else ``$PROXYBENCH_NB201``, else the table
    shipped with proxybench (the one resolution every command and the API use)."""
    if path:
        return str(path)
    default = default_path()
    return str(default) if default else None


def _first_line(exc: BaseException) -> str:
    """A library's message cut to its first line (torch explains weights_only in four)."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def load_ground_truth(path: str | Path | None, metric: str = "test-200") -> pd.DataFrame:
    """Per-cell accuracy (%) with columns arch_index, arch, cifar10, cifar100, imagenet16-120.

    ``path`` is a CSV / CSV.gz or an official NAS-Bench-201 ``.pth`` (chosen by suffix
    ``.pth``/``.pt``); ``None`` means :func:`default_path`. Rows are sorted by arch_index, one
    per cell; datasets absent from the source are NaN. The ``.pth`` is loaded whole into
    memory (several GB for the official files) and takes a minute or so to read.

    ``metric`` (:data:`METRICS`): ``test-200`` (default) is test accuracy after 200 epochs;
    ``valid-200``/``valid-12`` are validation accuracy after 200 or 12 epochs, read from the
    .pth, or from CSV columns named ``<dataset>@<metric>`` (e.g. ``cifar10@valid-12``).
    """
    if metric not in METRICS:
        raise GroundTruthError(f"unknown ground-truth metric {metric!r}; choose one of "
                               f"{', '.join(METRICS)}")
    if path is None:
        path = default_path()
        if path is None:
            raise GroundTruthError(
                f"no NAS-Bench-201 ground truth given: {_HOW_TO_PASS} (a CSV with "
                f"{_CSV_LAYOUT}, or the official NAS-Bench-201 .pth file)"
            )
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise GroundTruthError(f"ground-truth file {path} {what}; {_HOW_TO_PASS}")
    if path.suffix.lower() in _BENCHMARK_SUFFIXES:
        table = _read_benchmark(path, metric)
    else:
        table = _metric_columns(_read_csv(path), path, metric)
    return _normalise(table, path)


def _metric_columns(table: pd.DataFrame, path: Path, metric: str) -> pd.DataFrame:
    """A CSV's ``<dataset>@<metric>`` columns under the dataset names (test-200: as is)."""
    if metric == "test-200":
        return table
    found = {c.split("@")[0]: c for c in table.columns if c.endswith(f"@{metric}")}
    if not found:
        raise GroundTruthError(
            f"{path} has no {metric} accuracy (columns such as cifar10@{metric}); it holds "
            f"test accuracy after 200 epochs: pass the official NAS-Bench-201 .pth, or drop "
            f"the metric option to use test-200")
    keep = [c for c in table.columns if "@" not in c and c not in _all_csv_names()]
    return table[keep].assign(**{d: table[c] for d, c in found.items()})


def _all_csv_names() -> set[str]:
    return {n for names in _CSV_COLUMNS.values() for n in names}


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, EOFError, zlib.error, ValueError) as e:  # ValueError: parser/decode errors
        raise GroundTruthError(
            f"cannot read ground-truth CSV {path}: {type(e).__name__}: {e}; the file looks "
            f"truncated or corrupt, re-create or re-download it"
        ) from e


def _numpy_safe_globals() -> list:
    """numpy pieces that plain-data pickles use, also under their numpy<2 names.

    Why: benchmark files written with numpy scalars fail ``weights_only`` loading otherwise,
    and allowing these few data-only types keeps arbitrary code out of the unpickler.
    """
    core = (np._core if hasattr(np, "_core") else np.core).multiarray
    codes = ("f8", "f4", "f2", "i8", "i4", "i2", "i1", "u1", "?")
    dtypes = [type(np.dtype(code)) for code in codes]
    return [
        np.dtype,
        *dtypes,
        np.ndarray,
        core.scalar,
        core._reconstruct,
        (core.scalar, "numpy.core.multiarray.scalar"),
        (core._reconstruct, "numpy.core.multiarray._reconstruct"),
    ]


def _read_benchmark(path: Path, metric: str = "test-200") -> pd.DataFrame:
    """Test accuracies from an official NAS-Bench-201 .pth through ``nas_201_api``.

    The API's ``torch.load`` runs with torch's default ``weights_only=True`` (torch >= 2.6),
    widened only by numpy's data types, so a tampered file cannot run code. We read each
    cell's ``ArchResults`` from ``api.arch2infos_dict`` rather than through
    ``query_meta_info_by_index``, which deep-copies it (weights included) for every cell.
    """
    try:
        import torch
        from nas_201_api import NASBench201API
    except ImportError as e:
        raise GroundTruthError(
            f"reading {path} needs the nas_201_api package: `pip install nas-bench-201`, or pass "
            f"a CSV with {_CSV_LAYOUT}"
        ) from e
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            api = NASBench201API(str(path), verbose=False)
    except MemoryError:
        raise
    except pickle.UnpicklingError as e:
        if "Unsupported global" not in str(e):
            raise GroundTruthError(f"cannot read NAS-Bench-201 file {path}: it is not a "
                                   f"benchmark file torch can load ({_first_line(e)}); "
                                   f"re-download it, or pass a CSV with {_CSV_LAYOUT}") from e
        raise GroundTruthError(
            f"NAS-Bench-201 file {path} holds Python objects beyond plain data, and proxybench "
            f"only loads benchmark files with torch.load(weights_only=True) so a file cannot run "
            f"code. If you trust it, convert it once to a CSV with {_CSV_LAYOUT} and pass that. "
            f"torch said: {_first_line(e)}"
        ) from e
    except Exception as e:  # corrupt zip, truncated pickle, wrong dict layout (asserts) ...
        raise GroundTruthError(
            f"cannot read NAS-Bench-201 file {path}: {type(e).__name__}: {_first_line(e)}; "
            f"expected the "
            f"official benchmark (NAS-Bench-201-v1_0-e61699.pth or v1_1-096897.pth), a dict with "
            f"'meta_archs', 'arch2infos' and 'evaluated_indexes'; re-download it if truncated"
        ) from e

    sets = _API_SETS if metric == "test-200" else _VALID_SETS
    hp = metric.split("-")[1]
    records = []
    for index in range(len(api)):
        row: dict[str, object] = {"arch_index": index, "arch": api[index]}
        hp2results = api.arch2infos_dict.get(index)
        for dataset, (api_name, setname) in sets.items():
            row[dataset] = _api_accuracy(hp2results, api_name, setname, hp)
        records.append(row)
    return pd.DataFrame.from_records(records, columns=["arch_index", "arch", *GT_DATASETS])


def _api_accuracy(hp2results: dict | None, api_name: str, setname: str,
                  hp: str = "200") -> float:
    """Seed-averaged accuracy after the last epoch of the ``hp``-epoch schedule, NaN where
    not trained/evaluated."""
    if hp2results is None or hp not in hp2results:
        return float("nan")
    results = hp2results[hp]
    if api_name not in results.get_dataset_names():
        return float("nan")
    try:
        info = results.get_metrics(api_name, setname, iepoch=None, is_random=False)
    except KeyError:  # this evaluation set was not recorded
        return float("nan")
    accuracy = info.get("accuracy")
    return float("nan") if accuracy is None else float(accuracy)


def _normalise(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Check and convert a raw table to the standard layout, naming the file on any problem."""
    columns = set(table.columns)
    index_col = next((c for c in ("arch_index", "index") if c in columns), None)
    missing = [name for name, ok in (("index", index_col), ("arch", "arch" in columns)) if not ok]
    if missing:
        raise GroundTruthError(
            f"ground-truth file {path} lacks column(s) {', '.join(missing)}; it has "
            f"{sorted(map(str, columns))}, expected {_CSV_LAYOUT}"
        )
    found: dict[str, str] = {}
    for dataset, spellings in _CSV_COLUMNS.items():
        present = [s for s in spellings if s in columns]
        if len(present) > 1:
            raise GroundTruthError(
                f"ground-truth file {path} has both {present[0]} and {present[1]}; keep one"
            )
        if present:
            found[dataset] = present[0]
    if not found:
        raise GroundTruthError(
            f"ground-truth file {path} has no accuracy column; it has "
            f"{sorted(map(str, columns))}, expected {_CSV_LAYOUT}"
        )
    if len(table) == 0:
        raise GroundTruthError(f"ground-truth file {path} has no rows")

    index = pd.to_numeric(table[index_col], errors="coerce")
    bad = index.isna() | (index != np.floor(index))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise GroundTruthError(
            f"ground-truth file {path}: column {index_col} must hold integer cell indices, "
            f"row {row} has {table[index_col].iloc[row]!r}"
        )
    index = index.astype(np.int64)
    dup = index.duplicated()
    if dup.any():
        raise GroundTruthError(
            f"ground-truth file {path} lists cell {int(index[dup].iloc[0])} more than once; "
            f"it must have one row per cell"
        )
    if table["arch"].isna().any():
        row = int(np.flatnonzero(table["arch"].isna().to_numpy())[0])
        raise GroundTruthError(f"ground-truth file {path}: row {row} has no arch string")

    out = pd.DataFrame({"arch_index": index.to_numpy(), "arch": table["arch"].astype(str)})
    for dataset in GT_DATASETS:
        if dataset not in found:
            out[dataset] = np.nan
            continue
        raw = table[found[dataset]]
        acc = pd.to_numeric(raw, errors="coerce").astype(float)
        bad = acc.isna() & raw.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise GroundTruthError(
                f"ground-truth file {path}: column {found[dataset]} row {row} is not a number "
                f"({raw.iloc[row]!r})"
            )
        if ((acc < 0) | (acc > 100)).any():
            raise GroundTruthError(
                f"ground-truth file {path}: column {found[dataset]} has values outside [0, 100]; "
                f"expected test accuracy in percent"
            )
        out[dataset] = acc.to_numpy()
    out = out.sort_values("arch_index", kind="stable").reset_index(drop=True)
    # where it came from and which datasets it really has (absent ones are all-NaN), so a
    # missing column is reported as missing rather than as cells without ground truth
    out.attrs.update(source=str(path), datasets=sorted(found))
    return out


def _require_dataset(truth: pd.DataFrame, dataset: str) -> None:
    """A table without the dataset's accuracies is a missing column, not missing cells."""
    present = truth.attrs.get("datasets")
    if (present is None or dataset in present) and truth[dataset].notna().any():
        return
    source = truth.attrs.get("source", "the ground-truth table")
    spelled = " or ".join(_CSV_COLUMNS[dataset])
    others = f", or --dataset {' or '.join(present)}" if present else ""
    raise GroundTruthError(f"{source} has no {dataset} accuracies (no {spelled} column, or "
                           f"it is empty); pass a table that has them{others}")


def join_scores(scores: pd.DataFrame, truth: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """``scores`` with a ``truth`` column: the test accuracy of each row's cell on ``dataset``.

    Matched on arch_index; where both tables carry ``arch`` the strings must agree (a
    mismatch means the scores come from a different cell numbering). Every scored cell must
    have a truth value, so a correlation never silently runs on a subset. Row order and
    index of ``scores`` are kept; neither input is modified.
    """
    if dataset not in GT_DATASETS:
        raise GroundTruthError(f"unknown dataset {dataset!r}; choose one of {list(GT_DATASETS)}")
    for name, table, needed in (
        ("scores", scores, ("arch_index",)),
        ("ground truth", truth, ("arch_index", dataset)),
    ):
        lacking = [c for c in needed if c not in table.columns]
        if lacking:
            raise GroundTruthError(f"{name} table lacks column(s) {', '.join(lacking)}")
    _require_dataset(truth, dataset)
    if "truth" in scores.columns:
        raise GroundTruthError("scores already have a 'truth' column; drop or rename it first")
    if truth["arch_index"].duplicated().any():
        dup = int(truth.loc[truth["arch_index"].duplicated(), "arch_index"].iloc[0])
        raise GroundTruthError(f"ground truth lists cell {dup} more than once")

    keys = pd.to_numeric(scores["arch_index"], errors="coerce")
    if (keys.isna() | (keys != np.floor(keys))).any():
        raise GroundTruthError("scores have rows without an integer arch_index")
    keys = keys.astype(np.int64)
    by_index = truth.set_index(truth["arch_index"].astype(np.int64))

    accuracy = keys.map(by_index[dataset])
    missing = accuracy.isna()
    if missing.any():
        cells = pd.unique(keys[missing])
        raise GroundTruthError(
            f"{len(cells)} scored cell(s) have no {dataset} ground truth (e.g. index "
            f"{int(cells[0])}); use the full NAS-Bench-201 table or score only cells it covers"
        )

    if "arch" in scores.columns and "arch" in truth.columns:
        theirs = keys.map(by_index["arch"])
        ours = scores["arch"]
        differ = ours.notna() & (ours.astype(str) != theirs.astype(str))
        if differ.any():
            row = int(np.flatnonzero(differ.to_numpy())[0])
            raise GroundTruthError(
                f"scores and ground truth disagree on the arch of index {int(keys.iloc[row])}: "
                f"{ours.iloc[row]} vs {theirs.iloc[row]}; the scores likely use a different "
                f"cell numbering than NAS-Bench-201"
            )

    out = scores.copy()
    out["truth"] = accuracy.to_numpy(dtype=float)
    return out
