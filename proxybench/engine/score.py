"""The scoring engine: cells x proxies -> one table, appended as it is computed.

- Cells with the same pruned form compute the same function in the supernet (cell BNs have
  no affine shift, so a dead edge adds exactly zero in either BN mode), and every proxy
  marked ``by_pruned`` is seeded by the pruned cell: each is computed once per pruned form
  and copied to every cell that shares it.
- Rows go to the CSV as soon as their group is done (flushed; fsynced every few seconds),
  so a killed run loses at most the group in flight; ``resume`` skips the rows present
  and reuses their values for cells that share a pruned form.
- A proxy that raises, or returns a value that is not finite, records NaN and the error
  text for that cell; the run goes on, and the summary counts the cell as failed.
- A table's .json records its fingerprint (checkpoint hash, space, preset, seed, proxies);
  ``resume`` and ``merge_tables`` refuse tables of other settings, and a lock file refuses
  a second writer, so a table never mixes rows of two settings or two writers.
- NB201 rows are keyed by ``arch_index``; DARTS rows (``space="darts"``) by ``arch``, the
  canonical genotype text (``darts.genotype_key``), since the space has no index.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import json
import math
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from ..errors import ScoreError, unwritable  # ScoreError is re-exported here
from ..proxies import ProxySpec, ScoreContext, result_values, with_together
from ..run.data import ImageProtocol
from ..run.files import atomic_write_bytes, atomic_write_json, code_version, exclusive
from ..spaces import Space, canonical_cell, get_space
from ..table import (
    check_indices,
    check_numbers,
    check_out_suffix,
    count_errors,
    fingerprint,
    fingerprint_difference,
    recorded_fingerprint,
    require_fingerprint,
)


def extra_columns(spec: ProxySpec) -> list[str]:
    """Columns a proxy adds beside its score (e.g. flatness's loss at each sigma)."""
    fn = getattr(spec.proxy.fn, "extra_columns", None)
    return [f"{spec.column}.{k}" for k in fn(spec.options)] if fn else []


def table_columns(specs: Sequence[ProxySpec], space: str = "nb201") -> list[str]:
    cols = list(get_space(space).id_columns)
    for s in specs:
        cols += [s.column, *extra_columns(s), f"{s.column}_seconds"]
    return cols + ["error"]


def _group_key(spec: ProxySpec, cell: Any) -> Any:
    return canonical_cell(cell) if spec.proxy.by_pruned else cell


def _run_proxy(spec: ProxySpec, ctx: ScoreContext, cell: Any) -> tuple[dict, str]:
    """{column: value} for one proxy on one cell, and an error text ('' when fine)."""
    cols = [spec.column, *extra_columns(spec)]
    t0 = time.perf_counter()
    try:
        key = _group_key(spec, cell)
        values = result_values(spec, spec.proxy.fn(ctx.for_cell(key), key, **spec.options))
        error = ""
        if not math.isfinite(values[spec.column]):
            # NaN or inf would pass silently into correlations and searches as a "value"
            error = f"{spec.column}: not finite ({values[spec.column]})"
            values[spec.column] = math.nan
    except Exception as exc:  # noqa: BLE001 - recorded per cell by design
        values = dict.fromkeys(cols, math.nan)
        error = f"{spec.column}: {type(exc).__name__}: {exc}".replace("\n", " ")[:300]
    values[f"{spec.column}_seconds"] = time.perf_counter() - t0
    return values, error


def _drop_partial_line(path: Path) -> None:
    """A run killed mid-write can leave half a row; cut it so the row is recomputed."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)


def _check_header(path: Path, columns: list[str]) -> None:
    """The table's header must be the one these proxies write: checked before anything in
    the file is touched (the partial-line repair comes after every check)."""
    with open(path, "rb") as fh:
        first = fh.readline()
    try:
        header = next(csv.reader([first.decode()])) if first.strip() else []
    except (UnicodeDecodeError, csv.Error):
        header = None
    if header is None or not {"arch_index", "arch"} & set(header or []):
        raise ScoreError(f"{path} exists but is not a proxybench score table; move it away or "
                         f"choose another --out")
    if header != columns:
        raise ScoreError(f"{path} was written with other proxies/options "
                         f"({header[2:6]}...); use a new --out to score these")


def _read_existing(path: Path, columns: list[str], keys: Space) -> pd.DataFrame:
    """The rows of a table to continue, every check made on them before the file is
    touched: a half-written last row (a run killed mid-write) is left out of what is read,
    and cut from the file only once the table has passed (checks before effects)."""
    import io
    _check_header(path, columns)
    data = path.read_bytes()
    whole = data if not data or data.endswith(b"\n") else data[:data.rfind(b"\n") + 1]
    try:
        existing = pd.read_csv(io.BytesIO(whole))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScoreError(f"{path} exists but is not a readable score table ({exc}); move it "
                         f"away or choose another --out") from exc
    if list(existing.columns) != columns:
        raise ScoreError(f"{path} was written with other proxies/options "
                         f"({list(existing.columns)[2:6]}...); use a new --out to score these")
    check_numbers(existing, path)
    if keys.name == "nb201":
        check_indices(existing, path)
    key = existing[keys.key_column]
    dup = key[key.duplicated()]
    if len(dup):
        raise ScoreError(f"{path} has {len(dup)} duplicate rows, e.g. {keys.key_column} "
                         f"{dup.iloc[0]}: two writers or two settings went into it; score "
                         f"into a new --out")
    if len(whole) != len(data):
        _drop_partial_line(path)
    return existing


def shard_indices(indices: Sequence, rank: int, world: int, space: str = "nb201") -> list:
    """The cells of shard ``rank`` of ``world``: distinct networks (the space's dedup form)
    are dealt round-robin in sorted order, so shards never share work and the split is
    stable across resumes."""
    if not 0 <= rank < world:
        raise ScoreError(f"shard {rank} of {world} does not exist")
    sp = get_space(space)
    form = {i: sp.dedup(sp.cell_of(sp.key(i))) for i in indices}
    keys = sorted(set(form.values()))
    mine = {k for j, k in enumerate(keys) if j % world == rank}
    return [sp.key(i) for i in indices if form[i] in mine]


def merge_tables(parts: Sequence[str | Path], out_csv: str | Path) -> pd.DataFrame:
    """Concatenate shard tables into one, sorted by their key column (written atomically).

    The parts must be finished tables of one fingerprint (the same checkpoint, seed, preset
    and proxies) over disjoint cells, and none of them may be the output."""
    out_csv = Path(out_csv)
    check_out_suffix(out_csv)
    for p in parts:
        if Path(p).resolve() == out_csv.resolve() or (
                Path(p).with_suffix(".json").resolve() == out_csv.with_suffix(".json").resolve()):
            raise ScoreError(f"--out {out_csv} would overwrite the part {p}; choose another "
                             f"--out")
    metas = {str(p): require_fingerprint(p, "merge takes") for p in parts}
    first = parts[0]
    for p in parts:
        m = metas[str(p)]
        if m.get("status") == "running":
            raise ScoreError(f"{p} is not finished (its .json says running); complete it with "
                             f"`proxybench score ... --resume` before merging")
        diff = fingerprint_difference(recorded_fingerprint(m),
                                      recorded_fingerprint(metas[str(first)]), m,
                                      metas[str(first)], mixing=True)
        if diff:
            raise ScoreError(f"{p} was scored with {diff} ({first}'s); merge tables scored "
                             f"with the same settings")
    tables = [_read_part(p) for p in parts]
    for p, t in zip(parts, tables, strict=True):
        if list(t.columns) != list(tables[0].columns):
            raise ScoreError(f"{p} has other columns than {parts[0]}; merge tables of the same "
                             f"proxies (the same --proxy text)")
    table = pd.concat(tables, ignore_index=True)
    key = table.columns[0]             # the space's key column (arch_index, DARTS: arch)
    dup = table[key][table[key].duplicated()]
    if len(dup):
        raise ScoreError(f"the tables overlap in {len(dup)} cells (e.g. {key} "
                         f"{dup.iloc[0]}); merge tables of disjoint cell sets")
    table = table.sort_values(key).reset_index(drop=True)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(out_csv):
        atomic_write_bytes(out_csv, table.to_csv(index=False).encode())
    return table


def _read_part(path: str | Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ScoreError(f"{path} is not a readable score table ({exc}); merge score tables "
                         f"written by `proxybench score`") from exc
    if "arch_index" not in table.columns:
        raise ScoreError(f"{path} has no arch_index column: not an NB201 score table")
    check_numbers(table, path)
    check_indices(table, path)
    return table


def _code_versions(old: dict | None) -> list:
    """The code versions that wrote a table's rows: a resume with other code is allowed
    (values are checked by the fingerprint), and recorded."""
    versions = list((old or {}).get("code_versions") or [])
    now = code_version()
    return versions if now in versions else [*versions, now]


def score_cells(specs: Sequence[ProxySpec], ctx: ScoreContext, indices: Sequence,
                out_csv: str | Path, *, resume: bool = False, progress: bool = True,
                meta: dict | None = None, space: str = "nb201",
                retry_errors: bool = False, workers: int | None = None,
                threads: int | None = None) -> pd.DataFrame:
    """Score ``indices`` (official NB201 indices; for DARTS genotypes or their text) with
    every spec into ``out_csv``. ``retry_errors`` (with ``resume``) scores again the rows
    whose ``error`` is set, e.g. after a fix; every other row is kept as it is.

    Writes ``out_csv`` row by row and ``<out>.json`` with ``meta`` plus the proxies, cell
    count, status, wall time and the table's fingerprint (what its values are computed
    from). ``resume`` refuses a table whose fingerprint differs, and ``<out>.lock`` refuses
    a second writer while this one runs. Returns the whole table sorted by its key column.

    ``workers`` processes score groups of cells side by side, each with ``threads`` torch
    threads (default: ``default_workers``, one one-thread process per core on a CPU); with
    one worker the cells are scored in this process, with its threads.
    """
    if not specs:
        raise ScoreError("no proxy to score; name one with --proxy (`proxybench proxies` "
                         "lists them)")
    keys = get_space(space)
    indices = [keys.key(i) for i in indices]
    if not indices:
        raise ScoreError("no cells to score; pass --cells all, a number, or a file that names "
                         "cells")
    out_csv = Path(out_csv)
    check_out_suffix(out_csv)
    check_proxy_images(specs, ctx)
    with contextlib.ExitStack() as stack:
        try:
            out_csv.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(exclusive(out_csv))
        except OSError as exc:
            raise ScoreError(unwritable(out_csv, exc)) from exc
        for name, value in (("workers", workers), ("threads", threads)):
            if value is not None and value < 1:
                raise ScoreError(f"{name} must be at least 1, got {value}")
        if workers is None:
            workers = default_workers(ctx, threads)
        stack.enter_context(_ieee_convolutions())
        return _score_locked(specs, ctx, indices, out_csv, resume=resume, progress=progress,
                             meta=meta, space=space, retry_errors=retry_errors,
                             workers=workers, threads=threads)


def check_proxy_images(specs: Sequence[ProxySpec], ctx: ScoreContext) -> None:
    """A proxy option asking for more images than the scoring batch holds (e.g.
    ``snip:batch_size=100000``) is refused before anything is written, not clipped; a
    proxy's own default is 'at most' (presets of every size share it)."""
    if ctx.bn_batch is None:
        return
    have = len(ctx.bn_batch[0])
    for s in specs:
        asked = {k for k, v in s.options.items() if v != s.proxy.defaults.get(k)}
        if not asked & {"batch_size", "batches"} or "batch_size" not in s.options:
            continue
        need = int(s.options["batch_size"]) * int(s.options.get("batches", 1))
        if need > have:
            raise ScoreError(f"proxy {s.column} asks for {need} images, the scoring batch "
                             f"holds {have} (--bn-images); lower its batch_size or raise "
                             f"--bn-images")


def _score_locked(specs: Sequence[ProxySpec], ctx: ScoreContext, indices: list,
                  out_csv: Path, *, resume: bool, progress: bool, meta: dict | None,
                  space: str, retry_errors: bool, workers: int,
                  threads: int | None) -> pd.DataFrame:
    """``score_cells`` once it holds the table's lock."""
    keys = get_space(space)
    fp = fingerprint(specs, ctx, meta, space)
    # proxies scored together may share a pass over the same network (zero-cost proxies)
    ctx = with_together(ctx, list(specs))
    meta_path = out_csv.with_suffix(".json")
    columns = table_columns(specs, space)
    cached: dict[tuple[str, Any], dict] = {}
    done: set = set()
    old_meta = None
    exists = out_csv.exists()
    if exists:
        if not resume:
            raise ScoreError(f"{out_csv} already exists; pass --resume to continue it, or "
                             f"choose another --out")
        old_meta = require_fingerprint(out_csv, "--resume continues")
        recorded = recorded_fingerprint(old_meta)
        diff = fingerprint_difference(recorded, fp, old_meta, meta, mixing=True)
        if diff:
            raise ScoreError(f"{out_csv} was scored with {diff}; use a new --out or the "
                             f"same settings")
        existing = _read_existing(out_csv, columns, keys)
        failed = existing["error"].notna() & (existing["error"].astype(str) != "")
        if retry_errors and failed.any():
            existing = existing[~failed]
            atomic_write_bytes(out_csv, existing.to_csv(index=False).encode())
        for row in existing.to_dict("records"):
            done.add(keys.key_of_row(row))
            cell = keys.cell_of(keys.key_of_row(row))
            for s in specs:
                if s.proxy.by_pruned and not (isinstance(row["error"], str)
                                              and row["error"].startswith(f"{s.column}:")):
                    cols = [s.column, *extra_columns(s), f"{s.column}_seconds"]
                    cached[(s.column, canonical_cell(cell))] = {c: row[c] for c in cols}

    todo = [i for i in indices if i not in done]
    pruned_of = {i: canonical_cell(keys.cell_of(i)) for i in indices}
    groups: dict[Any, list] = {}
    for i in todo:
        groups.setdefault(pruned_of[i], []).append(i)
    meta = {**(meta or {}), "proxies": [s.to_dict() for s in specs], "cells": len(indices),
            "distinct_pruned_cells": len(set(pruned_of.values())),
            "seed": ctx.seed, "preset": ctx.preset.to_dict(), "fingerprint": fp,
            "code_versions": _code_versions(old_meta), "status": "running"}
    # the settings go first: a table on disk always has the .json that says what it holds
    atomic_write_json(meta_path, meta)
    if not exists:
        with open(out_csv, "w", newline="") as fh:
            csv.writer(fh).writerow(columns)

    t_start = time.time()
    # progress counts evaluations: one per distinct pruned cell when every proxy depends on
    # the pruned form only, one per cell otherwise; so the rate and ETA are true
    per_cell = any(not s.proxy.by_pruned for s in specs)

    def work(members: list) -> int:
        return len(members) if per_cell else 1

    # each group takes the values a resumed table already holds for its pruned form
    tasks = [(members, {k: cached[k] for s in specs if (k := (s.column, pruned)) in cached})
             for pruned, members in groups.items()]
    rows_done = len(indices) - len(todo)
    last_sync = time.time()
    with open(out_csv, "a", newline="") as fh, \
            _group_scorer(specs, ctx, space, workers, threads or 1, len(tasks)) as scored:
        # the bar comes after the workers: tqdm's monitor thread must not be forked
        bar = tqdm(total=sum(work(m) for m in groups.values()), disable=not progress,
                   unit="eval", desc="scoring", smoothing=0.05)
        writer = csv.writer(fh)
        for members, rows in scored(tasks):
            writer.writerows([_fmt(row[c]) for c in columns] for row in rows)
            fh.flush()
            if time.time() - last_sync > 5:
                os.fsync(fh.fileno())
                last_sync = time.time()
            rows_done += len(members)
            bar.set_postfix_str(f"{rows_done}/{len(indices)} rows", refresh=False)
            bar.update(work(members))
        os.fsync(fh.fileno())
    bar.close()
    table = pd.read_csv(out_csv).sort_values(keys.key_column).reset_index(drop=True)
    # the finished table is rewritten in arch_index order: one canonical file, whatever the
    # order of computation, resumption or sharding
    atomic_write_bytes(out_csv, table.to_csv(index=False).encode())
    meta.update(status="done", rows=len(table), wall_seconds_this_session=time.time() - t_start,
                errors=count_errors(table), workers=workers)
    atomic_write_json(meta_path, meta)
    return table


@contextlib.contextmanager
def _ieee_convolutions() -> Iterator[None]:
    """Full float32 convolutions while scoring. cuDNN runs float32 convs in TF32 (a 10-bit
    mantissa, ~1e-3 relative error) by default on recent GPUs; flatness reads loss changes of
    that order at its smallest sigma, so TF32 would score rounding, not the cell. The
    setting is restored afterwards (CPU convolutions never use TF32)."""
    conv = torch.backends.cudnn.conv
    old = conv.fp32_precision
    conv.fp32_precision = "ieee"
    try:
        yield
    finally:
        conv.fp32_precision = old


def _score_group(specs: Sequence[ProxySpec], ctx: ScoreContext, space: str, members: list,
                 cached: dict) -> list[dict]:
    """The rows of one group of cells that share a pruned form: a by-pruned proxy runs once
    for the group (or not at all when ``cached``, from a resumed table, has its values)."""
    keys = get_space(space)
    cached = dict(cached)
    rows = []
    for i in members:
        cell = keys.cell_of(i)
        row: dict = keys.ids_of(i)
        errors = []
        for s in specs:
            key = (s.column, _group_key(s, cell))
            if key in cached:
                values = cached[key]
            else:
                values, error = _run_proxy(s, ctx, cell)
                if error:
                    errors.append(error)
                elif s.proxy.by_pruned:
                    cached[key] = values
            row.update(values)
        row["error"] = " | ".join(errors)
        rows.append(row)
    return rows


def default_workers(ctx: ScoreContext, threads: int | None = None) -> int:
    """Processes a plain ``score`` uses: on a CPU one per usable core (affinity, capped by a
    container's CPU quota), each with ``threads`` torch threads (1 when not given). Why: N
    one-thread processes score faster than one N-thread process, and their table is the
    one-thread table bit for bit, whatever the machine
    (``benchmarks/bench_parallel.py``). One on a GPU, under torchrun (each rank is already a
    process), and off Linux (forking a process that has run torch is only safe there)."""
    from ..run.distributed import rank_world, usable_cores
    if (ctx.device.type != "cpu" or rank_world()[1] > 1
            or not sys.platform.startswith("linux")):
        return 1
    return max(1, usable_cores() // (threads or 1))


_WORKER: dict = {}


def _start_worker(specs: Sequence[ProxySpec], ctx: ScoreContext, space: str,
                  threads: int, parent: int) -> None:
    """Set up a forked worker. It dies with its parent (Linux's PR_SET_PDEATHSIG): a killed
    ``score`` leaves no orphan scoring on."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:      # the parent died before the line above
        os._exit(1)
    torch.set_num_threads(threads)
    _WORKER.update(specs=specs, ctx=ctx, space=space)


def _score_task(task: tuple[list, dict]) -> tuple[list, list[dict]]:
    members, cached = task
    return members, _score_group(_WORKER["specs"], _WORKER["ctx"], _WORKER["space"], members,
                                 cached)


@contextlib.contextmanager
def _group_scorer(specs: Sequence[ProxySpec], ctx: ScoreContext, space: str, workers: int,
                  threads: int, n_tasks: int) -> Iterator[Callable]:
    """A function from tasks (members, cached) to (members, rows) as each group finishes: in
    this process, or in ``workers`` forked processes of ``threads`` torch threads each. Forked
    workers inherit the supernet and images (nothing is copied or pickled but cells and
    rows); the caller stays the table's only writer, so resume and the lock work as ever.
    A worker that dies (e.g. killed for memory) ends the run with a ScoreError, the rows
    written so far kept, instead of a run that waits forever for its group."""
    if workers <= 1 or n_tasks <= 1:
        yield lambda tasks: ((m, _score_group(specs, ctx, space, m, c)) for m, c in tasks)
        return
    with ProcessPoolExecutor(min(workers, n_tasks), mp_context=mp.get_context("fork"),
                             initializer=_start_worker,
                             initargs=(specs, ctx, space, threads, os.getpid())) as pool:
        def scored(tasks: list) -> Iterator[tuple[list, list[dict]]]:
            futures = [pool.submit(_score_task, t) for t in tasks]
            try:
                for future in as_completed(futures):
                    yield future.result()
            except BrokenProcessPool as exc:
                raise ScoreError(
                    "a scoring worker process died (killed by the system, e.g. for memory); "
                    "the rows scored so far are kept: continue with --resume, with fewer "
                    "--workers if memory is short") from exc
            finally:
                for future in futures:
                    future.cancel()

        yield scored


def _fmt(value: object) -> object:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else repr(value)
    return value


def context_from_run(run_dir: str | Path | None, specs: Sequence[ProxySpec], *,
                     checkpoint: str | None = None, data_dir: str | None = None,
                     preset_overrides: dict | None = None, seed: int | None = None,
                     dataset: str | None = None, preset_name: str = "paper",
                     device: str = "cpu", space: str = "nb201",
                     average: int = 1, few_shot: bool | None = None,
                     images: ImageProtocol | None = None) -> tuple[ScoreContext, dict]:
    """Build the scoring context of a trained run (supernet, fixed BN/validation batches).

    ``average`` > 1 scores the mean weights of the last ``average`` checkpoints the run saved
    up to ``checkpoint`` (``train --save-every``; checkpoint averaging, EEPE); BN is
    recalibrated on them as on any checkpoint, and the table records which were averaged.
    ``few_shot`` scores each cell on its sub-supernet of the run's few-shot split
    (``run/fewshot.py``); the table records the split and every sub-supernet's weights.
    None: as the run's preset says (``cpu-fewshot`` and runs trained with a split: few-shot,
    except for a checkpoint or an average, which are the one-shot stage's weights).

    Only what the proxies need is loaded: baselines need no run at all, zero-cost proxies
    only images (``data_dir``, ``dataset``) and the macro of ``preset_name``. The BN batch
    comes from the search-train split and the validation batch from search-valid, both fixed
    by the seed, so every cell sees the same images, prepared as ``images`` says (default:
    the dataset's statistics, unaugmented). ``space`` must be the run's space.
    """

    from ..run.files import file_sha256, load_checkpoint, weights_sha256
    from ..run.presets import get_preset, preset_from_dict
    from ..run.train import (
        full_config,
        load_search_data,
        resolve_device,
        resolve_validation,
        supernet_from_checkpoint,
    )

    dev = resolve_device(device)
    images = images or ImageProtocol()

    needs = set().union(*(s.proxy.needs for s in specs))
    unfit = [s.column for s in specs if not s.proxy.fits(space)]
    if unfit:
        from ..proxies import all_proxies
        fit = sorted(n for n, p in all_proxies().items() if p.fits(space))
        raise ScoreError(f"proxies {unfit} do not support the {space} space; use "
                         f"{', '.join(fit)}")
    overrides = {k: v for k, v in (preset_overrides or {}).items() if v is not None}
    if run_dir is None:
        if needs - {"macro", "data"}:
            names = [s.column for s in specs if s.proxy.needs - {"macro", "data"}]
            raise ScoreError(f"proxies {names} need a trained supernet: pass --run RUN "
                             f"(made by `proxybench train --out RUN`)")
        preset = get_preset(preset_name, **overrides)
        seed = seed or 0
        dataset = dataset or "cifar10"
        bn = val = digest = None
        num_classes, input_size = 10, 32
        if "data" in needs:
            if data_dir is None:
                names = [s.column for s in specs if "data" in s.proxy.needs]
                raise ScoreError(f"proxies {names} need images: pass --data-dir DIR (and "
                                 f"--dataset) or --run RUN")
            train, valid = load_search_data(dataset, data_dir, None, seed,
                                            resolve_validation(space, dataset, None, None))
            num_classes, input_size = train.num_classes, int(train.images.shape[-1])
            val, bn = _fixed_batches(train, valid, preset, seed, overrides, images, dataset)
            digest = images_sha256(val, bn)
            val, bn = _channels_last(val, dev), _channels_last(bn, dev)
        ctx = ScoreContext(seed=seed, preset=preset, num_classes=num_classes,
                           input_size=input_size, bn_batch=bn, val_batch=val,
                           evaluation_chunk=evaluation_chunk(preset.chunk, dev))
        return ctx, {"run": None, "dataset": dataset, "data_dir": data_dir,
                     "preset_name": preset_name, "device": str(dev),
                     "images": images.to_dict(),
                     "data_sha256": digest if "data" in needs else None}
    run_dir = Path(run_dir)
    run_json = run_dir / "run.json"
    if not run_json.is_file():
        raise ScoreError(f"{run_dir} is not a training run (no run.json); train one with "
                         f"`proxybench train --out {run_dir}`")
    try:
        run = json.loads(run_json.read_text())
        cfg = run["config"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError,
            IndexError) as exc:
        raise ScoreError(f"{run_json} is corrupt ({exc}); retrain the run") from exc
    ckpt_path = Path(checkpoint) if checkpoint else run_dir / "final.pt"
    if not ckpt_path.is_absolute() and not ckpt_path.exists():
        ckpt_path = run_dir / ckpt_path
    if checkpoint is None and not ckpt_path.exists():
        from ..run.files import lock_holder
        holder = lock_holder(run_json)
        if holder:
            raise ScoreError(f"{run_dir} is still being trained by {holder} (epoch "
                             f"{run.get('epoch')}); score it when it has finished")
        raise ScoreError(f"{run_dir} has no final.pt (training status: {run.get('status')}); "
                         f"finish it with `proxybench train ... --out {run_dir} --resume`")
    run_space = cfg.get("space", "nb201") if isinstance(cfg, dict) else "nb201"
    if run_space != space:
        raise ScoreError(f"{run_dir} holds a {run_space} supernet, not {space}; pass "
                         f"--space {run_space} or a {space} run")
    supernet, ckpt = supernet_from_checkpoint(ckpt_path, space)
    required = ("preset", "seed", "dataset", "data_dir", "split_file")
    if not isinstance(cfg, dict) or any(k not in cfg for k in required):
        raise ScoreError(f"{run_json} lacks the training config ({', '.join(required)}); "
                         f"it is damaged or not from `proxybench train`")
    if dataset is not None and dataset != cfg["dataset"]:
        raise ScoreError(f"{run_dir} was trained on {cfg['dataset']}, not {dataset}: drop "
                         f"--dataset (a run is scored on its own data set) or pass a run "
                         f"trained on {dataset}")
    try:
        preset = preset_from_dict(cfg["preset"])
    except (KeyError, TypeError) as exc:
        raise ScoreError(f"{run_json} has a damaged preset ({exc}); retrain the run") from exc
    _check_checkpoint_matches_run(ckpt_path, ckpt, run_json, cfg, preset)
    averaged: list[str] = []
    if average > 1:
        ckpt, averaged = _averaged(run_dir, ckpt_path, ckpt, average, space)
        for name in averaged:
            _check_checkpoint_matches_run(run_dir / name, load_checkpoint(run_dir / name,
                                          space), run_json, cfg, preset)
        supernet.load_state_dict(ckpt["state_dict"])
    elif average < 1:
        raise ScoreError(f"--average must be at least 1 (1 = no averaging), got {average}")
    if few_shot is None:
        # the run's preset says (cpu-fewshot: few-shot), for its final weights: a saved
        # checkpoint or an average of them is the one-shot stage's
        few_shot = bool(preset.few_shot) and checkpoint is None and average == 1
    preset = get_preset("paper", **{**preset.to_dict(), **overrides}).one_shot()
    seed = cfg["seed"] if seed is None else seed
    shots, split, shot_hashes = None, None, []
    if few_shot:
        from ..run.fewshot import shot_runs
        if average > 1 or checkpoint is not None:
            raise ScoreError("--few-shot scores the sub-supernets' final weights; it does not "
                             "combine with --average or --checkpoint")
        split, subs = shot_runs(run_dir)
        shots = {}
        for op, sub in subs.items():
            net, sub_ckpt = supernet_from_checkpoint(sub / "final.pt", space)
            shots[op] = net.to(dev).eval().requires_grad_(False)
            shot_hashes.append(weights_sha256(sub_ckpt["state_dict"]))
    supernet = supernet.to(dev).eval()
    for p in supernet.parameters():
        p.requires_grad_(False)
    init = None
    if "init_supernet" in needs:
        init, _ = supernet_from_checkpoint(run_dir / "epoch-0.pt", space)
        init = init.to(dev).eval()
    bn = val = digest = None
    input_size = 32
    if "data" in needs:
        train, valid = load_search_data(cfg["dataset"], data_dir or cfg["data_dir"],
                                        cfg["split_file"], cfg["seed"],
                                        full_config(cfg)["validation"])
        input_size = int(train.images.shape[-1])
        val, bn = _fixed_batches(train, valid, preset, seed, overrides, images, cfg["dataset"])
        digest = images_sha256(val, bn)
        val, bn = _channels_last(val, dev), _channels_last(bn, dev)
    ctx = ScoreContext(seed=seed, preset=preset, num_classes=int(ckpt["num_classes"]),
                       input_size=input_size, supernet=supernet, init_supernet=init,
                       bn_batch=bn, val_batch=val,
                       evaluation_chunk=evaluation_chunk(preset.chunk, dev),
                       shots=shots, shot_edge=split["edge"] if split else None)
    info = {"run": str(run_dir), "checkpoint": str(ckpt_path),
            "checkpoint_sha256": file_sha256(ckpt_path),
            "weights_sha256": weights_sha256(ckpt["state_dict"]),
            "checkpoint_epoch": ckpt["epoch"], "device": str(dev), "images": images.to_dict(),
            "dataset": cfg["dataset"], "data_dir": data_dir or cfg["data_dir"],
            "data_sha256": digest if "data" in needs else None,
            "training": training_settings(cfg)}
    if averaged:
        info["averaged_checkpoints"] = averaged
    if split:
        from ..run.fewshot import combined_hash
        info["few_shot"] = {"edge": split["edge"], "epochs": split["epochs"],
                            "sub_weights_sha256": shot_hashes}
        info["weights_sha256"] = combined_hash(shot_hashes)
        info["training"] = {**info["training"],
                            "few_shot": {"edge": split["edge"], "epochs": split["epochs"]}}
    return ctx, info


def _fixed_batches(train, valid, preset, seed: int, asked=(),
                   images: ImageProtocol | None = None, dataset: str = "cifar10") -> tuple:
    """The validation and BN batches every cell is scored on. A count asked for (``asked``:
    the options given) that the data does not hold is refused, not clipped; a preset's own
    count is 'at most' (a preset serves data sets of several sizes)."""
    from ..checks import at_most
    from ..run import data as D
    if "val_images" in asked:
        at_most("val_images", preset.val_images, len(valid), "validation images of this data")
    if "bn_images" in asked:
        at_most("bn_images", preset.bn_images, len(train), "training images of this data",
                "lower --bn-images")
    return (D.fixed_batch(valid, min(preset.val_images, len(valid)), seed, images, dataset),
            D.fixed_batch(train, min(preset.bn_images, len(train)), seed + 1, images, dataset))


def images_sha256(*batches: tuple | None) -> str | None:
    """sha256 of the images (and labels) a table is scored on: the same file names with
    other contents, or synthetic images in place of real ones, give another digest."""
    import hashlib
    h = hashlib.sha256()
    seen = False
    for batch in batches:
        for t in batch or ():
            t = t.detach().cpu().contiguous()
            h.update(f"{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.numpy().tobytes())
            seen = True
    return h.hexdigest() if seen else None


def training_settings(cfg: dict) -> dict:
    """What a supernet was trained with, seed and data folder aside: tables whose supernets
    differ here are not seed replicates of one setting (``correlate`` refuses them)."""
    from ..run.train import full_config
    full = full_config(cfg)
    return {k: v for k, v in full.items()
            if k not in ("seed", "data_dir", "save_every", "warm_start")}


def _averaged(run_dir: Path, ckpt_path: Path, ckpt: dict, k: int,
              space: str) -> tuple[dict, list[str]]:
    """The checkpoint ``ckpt`` with the mean weights of the run's last ``k`` saved epochs up
    to its own, and the files averaged (oldest first)."""
    from ..run.files import average_state_dicts, load_checkpoint
    by_epoch: dict[int, Path] = {}
    for path in sorted(run_dir.glob("epoch-*.pt")) + [run_dir / "final.pt", ckpt_path]:
        if path.is_file() and path.name != "epoch-0.pt":
            epoch = int(load_checkpoint(path, space)["epoch"])
            if epoch <= int(ckpt["epoch"]):
                by_epoch.setdefault(epoch, path)
    epochs = sorted(by_epoch)[-k:]
    if len(epochs) < k:
        raise ScoreError(f"--average {k} needs {k} saved checkpoints up to epoch "
                         f"{ckpt['epoch']} of {run_dir}, which holds {len(epochs)} "
                         f"(epochs {', '.join(map(str, epochs)) or 'none'}); train with "
                         f"--save-every, or average fewer")
    states = [load_checkpoint(by_epoch[e], space)["state_dict"] for e in epochs]
    return ({**ckpt, "state_dict": average_state_dicts(states)},
            [by_epoch[e].name for e in epochs])


GPU_EVALUATION_CHUNK = 2048


def evaluation_chunk(preset_chunk: int, device: torch.device) -> int:
    """Images per evaluation pass on ``device``. On a CPU the preset's chunk (128 in every
    preset: the fastest there, ``benchmarks/bench_layout.py``), so CPU tables stay as they
    were. On a GPU 2,048: small batches leave it idle, and 2,048 images keep a C=16
    network's activations near 1 GB (``benchmarks/bench_gpu.py`` times other sizes)."""
    if torch.device(device).type == "cpu":
        return preset_chunk
    return max(preset_chunk, GPU_EVALUATION_CHUNK)


def _check_checkpoint_matches_run(ckpt_path: Path, ckpt: dict, run_json: Path, cfg: dict,
                                  preset: Any) -> None:
    """The weights must be the run's: scoring uses run.json's preset, seed and data, so a
    checkpoint of other sizes (or another run's) would be recorded under the wrong ones."""
    from ..run.presets import preset_from_dict
    theirs = preset_from_dict(ckpt["preset"]).one_shot().to_dict()
    ours = preset.one_shot().to_dict()
    checks = [(k, theirs[k], ours[k]) for k in ours if theirs[k] != ours[k]]
    checks += [(k, ckpt.get(k), cfg.get(k)) for k in ("seed", "dataset")
               if k in ckpt and ckpt.get(k) != cfg.get(k)]
    if checks:
        key, have, want = checks[0]
        raise ScoreError(f"{ckpt_path} has {key}={have} but {run_json} says {key}={want}: the "
                         f"weights are not this run's; pass the run's own checkpoint, or "
                         f"retrain the run")


def _channels_last(batch: tuple, device: torch.device) -> tuple:
    return batch[0].to(device).contiguous(memory_format=torch.channels_last), batch[1].to(device)


def score_sharded(specs: Sequence[ProxySpec], ctx: ScoreContext, indices: Sequence,
                  out: str | Path, *, resume: bool, meta: dict, space: str = "nb201",
                  progress: bool = True) -> pd.DataFrame | None:
    """Under torchrun: each rank scores its shard into ``OUT.rankR-of-W.csv``; rank 0 merges
    them into OUT once every rank is done. The merged table on rank 0, None elsewhere."""
    import torch.distributed as dist

    from ..run.distributed import rank_world
    from ..table import meta_path
    rank, world = rank_world()
    dist.init_process_group("gloo")
    try:
        parts = [Path(f"{out}.rank{r}-of-{world}.csv") for r in range(world)]
        score_cells(specs, ctx, shard_indices(indices, rank, world, space), parts[rank],
                    resume=resume, progress=progress and rank == 0, space=space,
                    meta={**meta, "rank": rank, "world_size": world})
        dist.barrier()
        if rank != 0:
            return None
        table = merge_tables(parts, out)
        atomic_write_json(meta_path(out), {**json.loads(meta_path(parts[0]).read_text()),
                                           "rank": None, "world_size": world,
                                           "cells": len(indices),
                                           "shards": [str(p) for p in parts]})
        return table
    finally:
        dist.barrier()
        dist.destroy_process_group()
