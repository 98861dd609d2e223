"""NAS-Bench-Suite-Zero interop: its precomputed zero-cost files in, our tables out.

Why: Suite-Zero (Krishnakumar et al., NeurIPS 2022 datasets track) is the field's shared
table of 13 proxies on NB201 and other spaces; read into a score table, it goes through
correlate, combine, ensemble, predict and search-pool like one of ours, and a table of ours
written in its layout loads in NASLib.

The layout, as NASLib reads it (``naslib/utils/get_dataset_api.py``,
``get_zc_benchmark_api``; ``naslib/runners/zc/benchmarks/runner.py`` writes the records)::

    {"cifar10": {"(4, 0, 3, 1, 4, 3)": {"id": ..., "synflow": {"score": 44.5, "time": 0.3},
                                         ..., "val_accuracy": 84.99}, ...},
     "cifar100": {...}, "ImageNet16-120": {...}}

one object per dataset, keyed by NASLib's NB201 key (:func:`~proxybench.spaces.nb201.
naslib_key`); per cell each proxy's score and seconds, NASLib's validation accuracy, and an
``id`` (the cell's place in NASLib's own list: not an NB201 index, so it is not read).
NASLib ranks every score as higher-is-better, so imported columns are recorded so, and an
exported lower-is-better column is negated. An imported table keeps Suite-Zero's accuracy
as the extra column ``suite_zero.val_accuracy`` (ignored as a proxy) so that an export
writes it back. Non-finite scores (Suite-Zero has some -inf) become failed cells: NaN with
the reason in ``error``. Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import ScoreError
from ..spaces import nb201
from ..table import check_dataset, direction, proxy_columns, read_scores

# our dataset names -> Suite-Zero's keys (NASLib's dataset names)
DATASET_KEYS = {"cifar10": "cifar10", "cifar100": "cifar100",
                "imagenet16-120": "ImageNet16-120"}
ACCURACY = "val_accuracy"
ACCURACY_COLUMN = "suite_zero.val_accuracy"
SOURCE = "NAS-Bench-Suite-Zero"
_NOT_PROXIES = ("id", ACCURACY)


class SuiteZeroError(ScoreError):
    """A file that is not NAS-Bench-Suite-Zero's layout, or a table that cannot go into it."""


def _dataset_key(dataset: str) -> str:
    if dataset not in DATASET_KEYS:
        raise SuiteZeroError(f"unknown dataset {dataset!r}: Suite-Zero's NB201 files hold "
                             f"{', '.join(DATASET_KEYS)}")
    return DATASET_KEYS[dataset]


def _number(value: object) -> float | None:
    """A JSON number as float (NaN and infinities included); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def read_suite_zero(path: str | Path, dataset: str) -> tuple[pd.DataFrame, dict]:
    """One dataset of a Suite-Zero file as (score table, its .json): ``arch_index, arch``,
    a column and ``<column>_seconds`` per proxy, ``suite_zero.val_accuracy`` and ``error``;
    the .json records where it came from (file name, sha256, dataset, Suite-Zero)."""
    path = Path(path)
    key = _dataset_key(dataset)
    if not path.is_file():
        raise SuiteZeroError(f"{path} not found; give NAS-Bench-Suite-Zero's "
                             f"zc_nasbench201.json (NASLib's download_nbs_zero.sh fetches it)")
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SuiteZeroError(f"{path} is not JSON ({exc}); expected NAS-Bench-Suite-Zero's "
                             f"zc_nasbench201.json") from exc
    if not isinstance(data, dict):
        raise SuiteZeroError(f"{path} is not a Suite-Zero file: its top level must map "
                             f"datasets ({', '.join(DATASET_KEYS.values())}) to cells")
    if key not in data:
        held = ", ".join(map(str, data)) or "nothing"
        raise SuiteZeroError(f"{path} has no {key!r} entry (it holds {held}); pass the "
                             f"--dataset it was computed on")
    cells = data[key]
    if not isinstance(cells, dict) or not cells:
        raise SuiteZeroError(f"{path}: {key!r} must map NASLib NB201 keys like "
                             f"'(4, 0, 3, 1, 4, 3)' to their scores; it holds no cells")
    rows = []
    for arch_key, entry in cells.items():
        try:
            cell = nb201.cell_from_naslib_key(arch_key)
        except nb201.ArchError as exc:
            raise SuiteZeroError(f"{path}: {key} cell {exc}; is it an NB201 file "
                                 f"(zc_nasbench201.json)?") from None
        if not isinstance(entry, dict):
            raise SuiteZeroError(f"{path}: {key} cell {arch_key} must be an object of "
                                 f"proxies, got {type(entry).__name__}")
        rows.append(_row(path, key, arch_key, cell, entry))
    table = pd.DataFrame(rows)
    if table["arch_index"].duplicated().any():
        twice = table.loc[table["arch_index"].duplicated(), "arch"].iloc[0]
        raise SuiteZeroError(f"{path}: {key} lists the cell {twice} twice (two spellings of "
                             f"one key)")
    proxies = [c for c in table.columns if c not in ("arch_index", "arch", "error")
               and not c.endswith("_seconds") and c != ACCURACY_COLUMN]
    if not proxies:
        raise SuiteZeroError(f"{path}: {key} has cells but no proxy scores")
    order = ["arch_index", "arch", *proxies, *(f"{p}_seconds" for p in proxies)]
    if table[ACCURACY_COLUMN].notna().any():
        order.append(ACCURACY_COLUMN)
    table = table.reindex(columns=[*order, "error"]).sort_values("arch_index")
    table = table.reset_index(drop=True)
    sha = hashlib.sha256(raw).hexdigest()
    source = {"kind": SOURCE, "file": path.name, "sha256": sha, "dataset_key": key}
    entries = [{"column": p, "proxy": p, "options": {}, "higher_is_better": True,
                "source": SOURCE} for p in proxies]
    errors = int(table["error"].notna().sum())
    meta = {"space": "nb201", "dataset": dataset, "source": source, "proxies": entries,
            "fingerprint": {"space": "nb201", "dataset": dataset, "weights_sha256": None,
                            "proxies": entries, "source_sha256": sha},
            "cells": len(table), "rows": len(table), "errors": errors, "status": "done",
            "notes": "imported from NAS-Bench-Suite-Zero: their proxy code and settings, "
                     "NASLib's sign (higher score = predicted better)"}
    return table, meta


def _row(path: Path, key: str, arch_key: str, cell: nb201.Cell, entry: dict) -> dict:
    row: dict = {"arch_index": nb201.arch_index(cell), "arch": nb201.format_arch(cell)}
    failed = []
    for name, record in entry.items():
        if name == ACCURACY:
            acc = _number(record)
            if acc is None:
                raise SuiteZeroError(f"{path}: {key} cell {arch_key}: val_accuracy must be a "
                                     f"number, got {record!r}")
            row[ACCURACY_COLUMN] = acc
            continue
        if name in _NOT_PROXIES:
            continue
        score = _number(record.get("score")) if isinstance(record, dict) else None
        if score is None:
            raise SuiteZeroError(f"{path}: {key} cell {arch_key}: {name!r} must be "
                                 f"{{'score': number, 'time': seconds}}, got {record!r}")
        seconds = _number(record.get("time"))
        if not math.isfinite(score):
            failed.append(f"{name}: Suite-Zero score {score}")
            score = math.nan
        row[name] = score
        row[f"{name}_seconds"] = math.nan if seconds is None else seconds
    row["error"] = "; ".join(failed) or None
    return row


def suite_zero_layout(tables: Sequence[str | Path], dataset: str, *,
                      truth: pd.Series | None = None) -> tuple[dict, dict]:
    """Score tables (NB201, one dataset) in Suite-Zero's layout: (the file's content, a
    summary: cells, proxies, negated columns, where val_accuracy came from). ``truth``
    (accuracy by arch_index) fills val_accuracy where no table carries Suite-Zero's own;
    the tables are joined on the cells they all hold, and a column in two tables is
    refused. Failed cells are written as NaN (Python's json reads it)."""
    key = _dataset_key(dataset)
    if not tables:
        raise SuiteZeroError("give at least one score table to export")
    columns: dict[str, tuple[Path, pd.Series]] = {}
    seconds: dict[str, pd.Series] = {}
    accuracy = None
    index = None
    for p in map(Path, tables):
        check_dataset(p, dataset)
        table = read_scores(p)
        if "arch_index" not in table.columns:
            raise SuiteZeroError(f"{p} has no arch_index column: Suite-Zero's layout holds "
                                 f"NB201 cells only")
        names = proxy_columns(table)
        table = table.set_index("arch_index")
        index = table.index if index is None else index.intersection(table.index)
        for c in names:
            if c in columns:
                raise SuiteZeroError(f"column {c} is in both {columns[c][0]} and {p}; export "
                                     f"one of them (Suite-Zero has one score per proxy)")
            columns[c] = (p, pd.to_numeric(table[c], errors="coerce"))
            if f"{c}_seconds" in table.columns:
                seconds[c] = pd.to_numeric(table[f"{c}_seconds"], errors="coerce")
        if ACCURACY_COLUMN in table.columns and accuracy is None:
            accuracy = table[ACCURACY_COLUMN]
    if not columns:
        raise SuiteZeroError(f"{', '.join(map(str, tables))} hold no score columns")
    if index is None or index.empty:
        raise SuiteZeroError("the tables share no cell (arch_index): export tables of the "
                             "same cells")
    index = index.sort_values()
    if accuracy is not None and accuracy.reindex(index).notna().all():
        acc, acc_from = accuracy.reindex(index), "Suite-Zero's own (from the imported table)"
    elif truth is not None:
        acc, acc_from = truth.reindex(index), "the ground truth given"
        if acc.isna().any():
            raise SuiteZeroError(f"the ground truth has no {dataset} accuracy for "
                                 f"{int(acc.isna().sum())} of the cells")
    else:
        raise SuiteZeroError("no val_accuracy to write: give a ground truth or a table "
                             "imported from Suite-Zero")
    negated = [c for c, (p, _) in columns.items() if not direction(p, c)]
    cells: dict[str, dict] = {}
    for i in index:
        record: dict = {"id": int(i)}
        for c, (_, values) in columns.items():
            v = float(values.at[i])
            record[c] = {"score": -v if c in negated else v,
                         "time": float(seconds[c].at[i]) if c in seconds else math.nan}
        record[ACCURACY] = float(acc.at[i])
        cells[nb201.naslib_key(nb201.cell_at(int(i)))] = record
    summary = {"dataset_key": key, "cells": len(cells), "proxies": list(columns),
               "negated": negated, "val_accuracy": acc_from}
    return {key: cells}, summary

