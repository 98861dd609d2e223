"""The score table: one CSV (a row per cell, a column per proxy) plus its ``.json`` sidecar.

The sidecar holds what the values were computed from and how to read them: ``space``,
``dataset``, ``preset``, ``seed``, the checkpoint's ``weights_sha256`` (together the
*fingerprint*), ``proxies`` (column, proxy, options, ``higher_is_better``), provenance
(command, environment, code versions, cell selection, status) and, for combined or merged
tables, their sources. Every reader and writer of tables goes through this module; it
imports no torch, so statistics and reports stay light.

Columns: the space's id columns first (NB201: ``arch_index, arch``; DARTS: ``arch``), then
per proxy its score, its extras ``<column>.<key>`` and ``<column>_seconds``, then ``error``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import ScoreError

if TYPE_CHECKING:
    from .proxies import ProxySpec, ScoreContext

KEY_COLUMNS = {"arch_index", "arch", "pruned_arch", "error"}


def meta_path(csv_path: str | Path) -> Path:
    """Where a table's sidecar lives: the same name with ``.json``."""
    return Path(csv_path).with_suffix(".json")


def read_meta_or_empty(csv_path: str | Path) -> dict:
    """The sidecar, or {} when it is missing or damaged: for labels and provenance, where
    a table without settings is still shown."""
    try:
        return read_meta(csv_path) or {}
    except ScoreError:
        return {}


def proxy_entries(csv_path: str | Path) -> list[dict]:
    """The sidecar's proxies (column, proxy, options, higher_is_better); [] if unknown."""
    entries = read_meta_or_empty(csv_path).get("proxies", [])
    return [p for p in entries if isinstance(p, dict)] if isinstance(entries, list) else []


def read_scores(path: str | Path) -> pd.DataFrame:
    """A score table written by ``score``/``cells``/``combine``, checked for its key column."""
    path = Path(path)
    if not path.is_file():
        raise ScoreError(f"score table {path} not found; make one with `proxybench score` or "
                         f"`proxybench cells`")
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScoreError(f"{path} is not a readable CSV score table ({exc})") from exc
    key = next((c for c in ("arch_index", "arch") if c in table.columns), None)
    if key is None:
        raise ScoreError(f"{path} has no arch_index (or DARTS arch) column: not a proxybench "
                         f"score table")
    if table.empty:
        raise ScoreError(f"{path} has no rows; score some cells into it first")
    check_numbers(table, path)
    if key == "arch_index" and read_meta_or_empty(path).get("space", "nb201") == "nb201":
        check_indices(table, path)
    dup = table[key][table[key].duplicated()]
    if len(dup):
        # each duplicate would count as a cell of its own: CIs too narrow, ranks mixed
        raise ScoreError(f"{path} has {len(dup)} duplicate rows, e.g. {key} "
                         f"{dup.iloc[0]}; it mixes two runs or two writers: score it again "
                         f"into a new --out")
    return table


def check_numbers(table: pd.DataFrame, path: str | Path) -> None:
    """Every value column of a score table holds numbers (empty = not scored): a text
    edited into one (``abc``) is an error naming its row, not a value carried on. A column
    that holds no number at all is a text column (a search's ``algorithm``) and is left."""
    key = next((c for c in ("arch_index", "arch") if c in table.columns), table.columns[0])
    for column in table.columns:
        values = table[column]
        if column in KEY_COLUMNS or values.dtype.kind in "fiub":
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna() & (values.astype(str).str.strip() != "")
        if bad.any() and not bad.all():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ScoreError(f"{path}: column {column} holds {str(values.iloc[i])[:40]!r} in "
                             f"row {i + 1} ({key} {table[key].iloc[i]}), not a number; restore "
                             f"the table or score that cell again into a new --out")


NB201_CELLS = 15625


def check_indices(table: pd.DataFrame, path: str | Path) -> None:
    """An NB201 table's arch_index column holds whole numbers in 0..15624: an edited or
    foreign index is an error naming its row, not a cell silently dropped by a join."""
    values = table["arch_index"]
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | (numbers % 1 != 0) | (numbers < 0) | (numbers >= NB201_CELLS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ScoreError(f"{path}: row {i + 1} has arch_index {str(values.iloc[i])[:40]!r}, "
                         f"not an NB201 cell index (0-15624); restore the table or score "
                         f"it again")


def require_ranking(values: pd.Series, column: str, path: str | Path | None = None) -> None:
    """A column whose values are all equal ranks nothing: tau is undefined (NaN) and top-k
    precision would come from tie order, so say so instead of printing numbers."""
    numbers = pd.to_numeric(values, errors="coerce")
    finite = numbers[np.isfinite(numbers.to_numpy(dtype=float))]
    if len(finite) > 1 and finite.nunique() == 1:
        where = f" in {path}" if path is not None else ""
        raise ScoreError(f"column {column}{where} is constant over {len(finite)} cells "
                         f"({finite.iloc[0]:g}): it does not rank the cells; check the "
                         f"proxy's options and the table's error column")


def _is_extra(column: str) -> bool:
    """Per-proxy extras are ``<column>.<key>``: a dot after any ``[options]`` part."""
    return "." in column[column.rfind("]") + 1:]


def proxy_columns(table: pd.DataFrame) -> list[str]:
    """Score columns: everything but keys, timings and per-proxy extras."""
    return [c for c in table.columns if c not in KEY_COLUMNS and not c.endswith("_seconds")
            and not _is_extra(c)]


def direction(path: str | Path, column: str) -> bool:
    """higher_is_better for a column: from the table's .json, else from the registry."""
    for p in proxy_entries(path):
        if p.get("column") == column and "higher_is_better" in p:
            return bool(p["higher_is_better"])
    from .proxies import ProxyError, get_proxy
    try:
        return get_proxy(column.split("[")[0]).higher_is_better
    except ProxyError:
        return True


def count_errors(table: pd.DataFrame) -> int:
    """Rows whose error column holds a message."""
    err = table["error"]
    return int((err.notna() & (err.astype(str) != "")).sum())


def require_failed(paths: Sequence[str | Path], where: str) -> None:
    """--retry-errors scores failed cells again: refused when none of ``paths`` (the tables
    it would continue) has a failed cell, as there would be nothing to retry."""
    for p in paths:
        p = Path(p)
        if p.is_file():
            table = read_scores(p)
            if "error" in table.columns and count_errors(table):
                return
    raise ScoreError(f"--retry-errors: {where} has no failed cell to score again; drop "
                     f"--retry-errors")


def check_out_suffix(out: Path) -> None:
    """A table's settings go to ``<out>.json``: an --out ending in .json would be
    overwritten by its own settings."""
    if out.suffix == ".json":
        raise ScoreError(f"--out {out} ends in .json, where the table's settings go; name the "
                         f"table .csv")


def check_dataset(path: str | Path, dataset: str) -> None:
    """Refuse to correlate a table with another dataset's ground truth: its .json names the
    dataset it was scored on (tables without one are not checked)."""
    scored = read_meta_or_empty(path).get("dataset")
    if isinstance(scored, str) and scored != dataset:
        raise ScoreError(f"{path} was scored on {scored}, not {dataset}: pass --dataset "
                         f"{scored} (its ground truth), or a table scored on {dataset}")


def refuse_overwrite(out: str | Path, force: bool) -> None:
    """No command replaces an existing table unless asked (``--force``); called before any
    work, so a refused command changes nothing."""
    out = Path(out)
    if (out.exists() or meta_path(out).exists()) and not force:
        raise ScoreError(f"{out} already exists; pass --force to replace it, or choose "
                         f"another --out")


def part_metas(parts: Sequence[str | Path]) -> dict[str, dict | None]:
    """Each part's .json by path (None where it has none)."""
    return {str(p): read_meta(p) for p in parts}


def merged_meta(parts: Sequence[str | Path], table: pd.DataFrame) -> dict:
    """The .json of a merge: the parts' common settings and fingerprint, their code
    versions and cell selections, and each part's own .json."""
    metas = part_metas(parts)
    first = metas[str(parts[0])] or {}
    versions: list = []
    for m in metas.values():
        for v in (m or {}).get("code_versions") or []:
            if v not in versions:
                versions.append(v)
    return {**first, "fingerprint": recorded_fingerprint(first), "code_versions": versions,
            "cells": len(table), "rows": len(table),
            "errors": count_errors(table) if "error" in table.columns else 0,
            "status": "done",
            "cell_selection": [(m or {}).get("cell_selection") for m in metas.values()],
            "merged_from": metas}


# The settings that decide a table's values. A table is continued (``resume``) or merged
# only with tables of the same ones; the cell selection, run folder, data folder and code
# version are recorded beside them but not compared: they do not change a cell's value
# (the weights' hash stands for the run and checkpoint, and a data folder may move). The
# weights are hashed by value: a run resumed after it finished rewrites final.pt with the
# same weights in other bytes.
# (the images' protocol before their digest: a protocol that differs is the readable cause)
FINGERPRINT = ("space", "dataset", "weights_sha256", "seed", "preset", "proxies", "images",
               "data_sha256")
# how the scored images were prepared (run/data.py ImageProtocol): tables that predate the
# option were all scored this way
DEFAULT_IMAGES = {"normalize": "dataset", "augment": False}
# a combined table's fingerprint: how its column was computed, and from what (its sources'
# fingerprints; their paths and bytes are recorded, not compared: shards differ in them)
COMBINED_PRINT = ("method", "terms", "gamma", "beta", "missing", "sources")
# what a writer that mixes rows (resume, merge) needs both sides to record: a table written
# before the images' digest was recorded cannot show its rows come from the same images
REQUIRED_TO_MIX = ("data_sha256",)


def fingerprint(specs: Sequence[ProxySpec], ctx: ScoreContext, meta: dict | None,
                space: str) -> dict:
    """What a table's values are computed from, as its .json stores it."""
    meta = meta or {}
    fp = {"space": space, "dataset": meta.get("dataset"),
          "weights_sha256": meta.get("weights_sha256"), "seed": ctx.seed,
          "preset": ctx.preset.to_dict(), "proxies": [s.to_dict() for s in specs],
          "data_sha256": meta.get("data_sha256"),
          "images": meta.get("images", DEFAULT_IMAGES)}
    return json.loads(json.dumps(fp, default=str))  # tuples -> lists, as read back


def recorded_fingerprint(meta: dict) -> dict:
    """The fingerprint in a table's .json; tables written before fingerprints existed keep
    the same settings at the top level, and those present are what gets checked."""
    fp = meta.get("fingerprint")
    if not isinstance(fp, dict):
        fp = {k: meta[k] for k in FINGERPRINT if k in meta}
    if fp and "images" not in fp:
        fp = {**fp, "images": meta.get("images", DEFAULT_IMAGES)}
    return fp


def fingerprint_difference(old: dict, new: dict, old_meta: dict | None = None,
                           new_meta: dict | None = None, *, mixing: bool = False
                           ) -> str | None:
    """'seed 0, not 1': the first setting recorded in both that differs; None if none.
    ``mixing`` (a resume or merge, which put rows of both into one table): a setting of
    ``REQUIRED_TO_MIX`` or of a combined table recorded by one side only is a difference
    too."""
    keys = (*FINGERPRINT, *COMBINED_PRINT)
    for key in keys:
        if key in old and key in new:
            a, b = _comparable(key, old[key]), _comparable(key, new[key])
            if a != b:
                return _describe(key, old[key], new[key], old_meta or {}, new_meta or {})
        elif mixing and (key in old) != (key in new) and (
                key in REQUIRED_TO_MIX or key in COMBINED_PRINT):
            return _describe(key, old.get(key, _UNRECORDED), new.get(key, _UNRECORDED),
                             old_meta or {}, new_meta or {})
    return None


_UNRECORDED = "<unrecorded>"


def _comparable(key: str, value: Any) -> Any:
    if key == "sources" and isinstance(value, list):
        return [v.get("fingerprint") if isinstance(v, dict) else v for v in value]
    return value


def require_fingerprint(path: str | Path, use: str) -> dict:
    """A table's .json with a readable fingerprint, or one line naming the file and the
    fix: provenance is required wherever tables are continued, merged, combined or taken
    as replicates (``use`` says which, e.g. 'merge')."""
    meta = read_meta(path)
    if meta is None:
        why = f"has no {meta_path(path).name} beside it (no fingerprint)"
    elif not meta:
        why = f"has an empty {meta_path(path).name} (no fingerprint)"
    else:
        check_meta_form(meta, path)
        fp = recorded_fingerprint(meta)
        if fp.get("proxies") or fp.get("sources"):
            return meta
        why = f"has no fingerprint in {meta_path(path).name}"
    raise ScoreError(f"{path} {why}, so nothing shows what its values were computed from; "
                     f"{use} only tables written by proxybench with their .json (restore it, "
                     f"or score the table again)")


def first_difference(a: dict, b: dict) -> str | None:
    """'preset channels=2, not 4': the first setting both dicts record that differs
    (nested dicts by their first differing key); None if none."""
    for key in sorted(a.keys() & b.keys(), key=str):
        x, y = a[key], b[key]
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(x.keys() | y.keys(), key=str):
                if x.get(k) != y.get(k):
                    inner = first_difference({k: x.get(k)}, {k: y.get(k)})
                    return f"{key} {inner}"
        return f"{key}={x}, not {y}"
    return None


def _describe(key: str, a: Any, b: Any, meta_a: dict, meta_b: dict) -> str:
    if key == "data_sha256":
        def images(sha: Any) -> str:
            if sha == _UNRECORDED:
                return "images it did not record (a table from before image digests)"
            return "no images" if sha is None else f"images of sha256 {str(sha)[:12]}"
        return (f"{images(a)}, not {images(b)} (other images, or the same names with "
                f"other contents)")
    if a == _UNRECORDED or b == _UNRECORDED:
        return f"{key} {'unrecorded' if a == _UNRECORDED else a}, not " \
               f"{'unrecorded' if b == _UNRECORDED else b}"
    if key == "sources" and isinstance(a, list) and isinstance(b, list):
        def paths(sources: list) -> str:
            return ", ".join(str(x.get("path")) if isinstance(x, dict) else str(x)
                             for x in sources)
        return (f"sources {paths(a)}, not sources scored like {paths(b)} (their "
                f"fingerprints differ)")
    if key == "weights_sha256":
        def name(sha: Any, meta: dict) -> str:
            if sha is None:
                return "no checkpoint (no --run)"
            return (f"the weights of {meta.get('checkpoint') or 'another checkpoint'} (sha256 "
                    f"{str(sha)[:12]})")
        trained = (first_difference(meta_a["training"], meta_b["training"])
                   if isinstance(meta_a.get("training"), dict)
                   and isinstance(meta_b.get("training"), dict) else None)
        return (f"{name(a, meta_a)}, not {name(b, meta_b)}"
                + (f" (a supernet trained with {trained})" if trained else ""))
    if key == "preset" and isinstance(a, dict) and isinstance(b, dict):
        from .run.presets import Preset
        order = [f.name for f in fields(Preset)]  # sizes first: the likeliest cause
        for k in sorted(set(a) | set(b), key=lambda k: (order.index(k) if k in order
                                                         else len(order), k)):
            if a.get(k) != b.get(k):
                return f"preset {k}={a.get(k)}, not {k}={b.get(k)}"
    if key == "images" and isinstance(a, dict) and isinstance(b, dict):
        def protocol(d: dict) -> str:
            return (f"--normalize {d.get('normalize')}"
                    + (" --augment" if d.get("augment") else " without --augment"))
        return f"images prepared with {protocol(a)}, not {protocol(b)}"
    if key == "proxies" and isinstance(a, list) and isinstance(b, list):
        def show(ps: list) -> str:
            return "; ".join(f"{p.get('proxy')} {p.get('options')}" for p in ps
                             if isinstance(p, dict))
        return f"proxies {show(a)}, not {show(b)}"
    return f"{key} {a}, not {b}"


def read_meta(csv_path: str | Path) -> dict | None:
    """A table's .json (None when it has none); a damaged one is an error, not 'none'."""
    path = meta_path(csv_path)
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScoreError(f"{path} is damaged ({exc}); restore it, or score into a new "
                         f"--out") from exc
    if not isinstance(meta, dict):
        raise ScoreError(f"{path} is not a score table's settings file; restore it, or score "
                         f"into a new --out")
    return meta


def check_meta_form(meta: dict, path: str | Path) -> dict:
    """A score table's sidecar in the form proxybench writes (``META_TYPES``): a file
    edited out of it is damaged, one line, never a TypeError in the reader that meets the
    value first. Checked wherever a table is continued, merged, combined or replicated."""
    for key, kinds in META_TYPES.items():
        if key in meta and meta[key] is not None and not isinstance(meta[key], kinds):
            what = " or ".join(k.__name__ for k in kinds)
            raise ScoreError(f"{meta_path(path)}: its {key} is {type(meta[key]).__name__}, "
                             f"not a {what} (the file was edited or damaged); restore it, or "
                             f"score the table again")
    return meta


# the form of a sidecar's known keys: a file edited out of it is damaged, one line, never
# a TypeError in whichever reader meets the value first
META_TYPES: dict[str, tuple[type, ...]] = {
    "fingerprint": (dict,), "proxies": (list,), "preset": (dict,), "environment": (dict,),
    "code_versions": (list,), "training": (dict,), "run": (str,), "checkpoint": (str,),
    "dataset": (str,), "space": (str,), "sources": (list, dict), "status": (str,),
    "weights_sha256": (str,), "data_sha256": (str,), "averaged_checkpoints": (list,),
    "few_shot": (dict,), "merged_from": (dict,), "command": (str,),
}




def write_table(table: pd.DataFrame, meta: dict, out: str | Path) -> None:
    """Write a finished table and its sidecar atomically (a reader never sees half)."""
    from .run.files import atomic_write_bytes, atomic_write_json
    out = Path(out)
    check_out_suffix(out)
    atomic_write_bytes(out, table.to_csv(index=False).encode())
    atomic_write_json(meta_path(out), meta)
