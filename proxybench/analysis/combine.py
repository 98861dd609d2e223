"""Combined proxies from score columns: GeNAS Eq. (5), rank averages and log-rank sums.

Eq. (5) is S + gamma * beta * F with beta = 1 / sigma_1, sigma_1 the smallest sigma of the
flatness run (read from the table's .json), so F is on the scale of S. The result is a new
column in a new table that ``correlate``, ``search`` and reports treat like any proxy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..engine.score import ScoreError
from ..run.files import atomic_write_bytes, atomic_write_json, code_version, file_sha256
from ..table import (
    KEY_COLUMNS,
    check_out_suffix,
    direction,
    proxy_entries,
    read_meta_or_empty,
    read_scores,
    recorded_fingerprint,
    require_fingerprint,
    require_ranking,
)
from .metrics import aggregate, combine_linear, flatness_beta


def sigma1(path: Path, column: str) -> float | None:
    """Smallest sigma of a flatness column, from its table's .json (None if unknown)."""
    for p in proxy_entries(path):
        if p.get("column") == column and "sigmas" in p.get("options", {}):
            return float(min(p["options"]["sigmas"]))
    if column == "flatness":
        from ..proxies import get_proxy
        return float(min(get_proxy("flatness").defaults["sigmas"]))
    return None


def check_out(sources: Sequence[str | Path], out: str | Path) -> None:
    """Refuse an --out that is one of the inputs (or shares its .json): writing it would
    destroy an input the combination is computed from."""
    out = Path(out)
    check_out_suffix(out)
    for src in map(Path, sources):
        if out.resolve() == src.resolve() or (
                out.with_suffix(".json").resolve() == src.with_suffix(".json").resolve()):
            raise ScoreError(f"--out {out} would overwrite the input {src}; choose another "
                             f"--out")


def combine_tables(sources: Sequence[str | Path], terms: Sequence[str], *, method: str,
                   gamma: float = 1.0, beta: float | None = None, missing: str = "last",
                   name: str | None = None) -> tuple[pd.DataFrame, dict]:
    """Join the sources on arch_index and add the combined column (named ``name``, else by
    its formula); returns (table, meta). ``missing`` (rank methods): ``drop`` leaves a cell
    with a missing term unscored, ``last`` ranks the missing term last (AZ-NAS)."""
    if method not in ("linear", "rank", "logrank"):
        raise ScoreError(f"--method must be linear, rank or logrank, got {method!r}")
    if len(terms) < 2:
        raise ScoreError("give at least two --terms to combine, e.g. --terms angle,flatness")
    twice = [t for t in dict.fromkeys(terms) if list(terms).count(t) > 1]
    if twice:
        raise ScoreError(f"--terms names {twice[0]} twice; combine distinct columns")
    if name is not None and not name.strip():
        raise ScoreError("--name is empty; give the new column a name (or leave --name out)")
    if name is not None and (name in KEY_COLUMNS or name.endswith("_seconds")
                             or name != name.strip()):
        raise ScoreError(f"--name {name!r} is a key or timing column's name (or has spaces "
                         f"around it); choose another name for the combined column")
    found: dict[str, tuple[Path, pd.Series]] = {}
    arch: pd.Series | None = None
    key = None
    for src in map(Path, sources):
        table = read_scores(src)
        own = "arch_index" if "arch_index" in table.columns else "arch"   # DARTS: arch
        if key is not None and own != key:
            raise ScoreError(f"{src} is keyed by {own}, the first table by {key}: combine "
                             f"tables of one space")
        key = own
        table = table.set_index(key)
        if "arch" in table.columns:
            arch = table["arch"] if arch is None else arch.combine_first(table["arch"])
        for t in terms:
            if t in table.columns and t not in found:
                found[t] = (src, table[t])
    absent = [t for t in terms if t not in found]
    if absent:
        raise ScoreError(f"column(s) {absent} are in none of {', '.join(map(str, sources))}")
    used = list(dict.fromkeys(src for src, _ in found.values()))
    _agree(used)
    _one_supernet(used)
    joined = pd.concat({t: s for t, (_, s) in found.items()}, axis=1, join="inner")
    if joined.empty:
        raise ScoreError(f"the score tables share no {key}: score the same cells first")
    for t in terms:
        require_ranking(joined[t], t, found[t][0])
    higher = {t: direction(found[t][0], t) for t in terms}
    if method == "linear":
        if len(terms) != 2:
            raise ScoreError("Eq. (5) combines exactly two terms: --terms S,F "
                             "(e.g. angle,flatness)")
        s, f = terms
        if not (higher[s] and higher[f]):
            low = s if not higher[s] else f
            raise ScoreError(f"Eq. (5) adds scores where higher is better; {low} is "
                             f"lower-is-better: use --method rank or its opposite proxy")
        if beta is None:
            sig = sigma1(found[f][0], f)
            if sig is None:
                raise ScoreError(f"cannot find sigma_1 of {f!r} in its table's .json: pass "
                                 f"--beta 1/sigma_1")
            beta = flatness_beta([sig])
        column = f"{s}+{f}[gamma={gamma:g}]"
        values = combine_linear(joined[s], joined[f], gamma=gamma, beta=beta)
        share = (gamma * beta * joined[f]) / values
        extra = {"gamma": gamma, "beta": beta,
                 "flatness_share_percent": float(100 * share.mean())}
    else:  # mean rank, or AZ-NAS's aggregation: sum of log(rank / N)
        column = f"{method}(" + "+".join(terms) + ")"
        values = aggregate([joined[t] for t in terms], [higher[t] for t in terms],
                           method=method, missing=missing)
        extra = {"missing": missing}
    if name:
        if name in terms:
            raise ScoreError(f"--name {name} is one of the terms; choose a new column name")
        column = name
    out = joined.copy()
    out[column] = values
    if key == "arch_index":
        out.insert(0, "arch", arch.reindex(out.index) if arch is not None else None)
    out = out.rename_axis(key).reset_index()
    out["error"] = None
    prints = [recorded_fingerprint(read_meta_or_empty(p)) for p in used]
    scored = {}         # the space and dataset the terms were scored on (checked alike)
    for k in ("space", "dataset"):
        value = next((fp[k] for fp in prints if fp.get(k)), None)
        if value:
            scored[k] = value
    meta = {**scored, "sources": [str(s) for s in sources], "method": method, "terms": terms,
            "proxies": [{"column": t, "higher_is_better": higher[t], "proxy": t.split("[")[0]}
                        for t in terms]
            + [{"column": column, "higher_is_better": True, "proxy": "combine", **extra}],
            "column": column, **extra,
            "fingerprint": {**scored, "method": method, "terms": list(terms), **extra,
                            "sources": [_source_print(Path(s)) for s in sources]},
            "code_versions": [code_version()]}
    return out, meta


def _source_print(path: Path) -> dict:
    """What a combined column was computed from: each source table's bytes and settings."""
    return {"path": str(path), "sha256": file_sha256(path),
            "fingerprint": recorded_fingerprint(read_meta_or_empty(path))}


def _agree(paths: Sequence[Path]) -> None:
    """The tables whose columns are combined: each with a readable fingerprint, all of one
    space and one dataset (a column of another data set's cells would mix two rankings)."""
    first: tuple[Path, dict] | None = None
    for path in paths:
        fp = recorded_fingerprint(require_fingerprint(path, "combine takes"))
        if first is None:
            first = (path, fp)
            continue
        for key in ("space", "dataset"):
            a, b = fp.get(key), first[1].get(key)
            if a is not None and b is not None and a != b:
                raise ScoreError(f"{path} was scored with {key} {a}, {first[0]} with {b}; "
                                 f"combine columns of one {key}")


def _one_supernet(paths: Sequence[Path]) -> None:
    """Terms scored on two different supernets (two runs, or two checkpoints of one) would
    be mixed into one proxy; terms without a supernet (params, zero-cost) fit any."""
    seen: list[tuple[Path, str, str]] = []  # (table, weights hash, checkpoint)
    for path in dict.fromkeys(paths):
        meta = read_meta_or_empty(path)
        sha = recorded_fingerprint(meta).get("weights_sha256")
        if sha:
            seen.append((path, sha, meta.get("checkpoint", "?")))
    for path, sha, ckpt in seen[1:]:
        first, first_sha, first_ckpt = seen[0]
        if sha != first_sha:
            raise ScoreError(f"{path} was scored on the weights of {ckpt}, {first} on those "
                             f"of {first_ckpt}; combine columns scored on one supernet")


def write_combined(table: pd.DataFrame, meta: dict, out: str | Path) -> None:
    out = Path(out)
    check_out(meta.get("sources", []), out)
    atomic_write_bytes(out, table.to_csv(index=False).encode())
    atomic_write_json(out.with_suffix(".json"), meta)
