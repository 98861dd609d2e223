"""What a run directory, seed group or score table holds, in a few lines: its settings,
where it came from, and how far it got. Reads files only (no torch)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ProxybenchError
from .run.rundir import FINAL, RUN_JSON, group_runs, is_group, read_run_json
from .table import count_errors, meta_path, read_meta, read_scores


def _preset_line(name: object, preset: dict) -> str:
    keys = ("channels", "layers", "epochs", "batch_size", "bn_images", "val_images")
    return f"{name} ({', '.join(f'{k}={preset[k]}' for k in keys if k in preset)})"


def describe_run(path: Path) -> list[str]:
    info = read_run_json(path)
    cfg = info.get("config", {})
    preset = cfg.get("preset", {})
    total = preset.get("epochs", "?")
    lines = [f"training run {path}",
             f"  space {cfg.get('space')}, dataset {cfg.get('dataset')} "
             f"({cfg.get('data_dir') or 'no data folder: synthetic images'}), "
             f"seed {cfg.get('seed')}",
             f"  preset {_preset_line(cfg.get('preset_name'), preset)}",
             f"  progress: epoch {info.get('epoch', 0)} of {total}, status "
             f"{info.get('status', '?')}" + ("; final.pt present" if (path / FINAL).is_file()
                                             else "")]
    summary = info.get("summary") or {}
    if "path_valid_acc_mean" in summary:
        lines.append(f"  mean accuracy of {summary.get('paths_evaluated')} random paths: "
                     f"{summary['path_valid_acc_mean']:.2f}% (chance "
                     f"{summary.get('chance_acc')}%)")
    env = info.get("environment", {})
    lines.append(f"  code {_commit(env)}, torch {env.get('torch', '?')}, "
                 f"{env.get('cpu_threads', '?')} threads, device {info.get('device', '?')}, "
                 f"CPU instruction set {env.get('cpu_capability', 'not recorded')}")
    tables = sorted(p.name for p in path.glob("*.csv") if meta_path(p).is_file())
    if tables:
        lines.append(f"  score tables here: {', '.join(tables)}")
    return lines


def describe_table(path: Path) -> list[str]:
    meta = read_meta(path) or {}
    table = read_scores(path)
    proxies = meta.get("proxies", [])
    lines = [f"score table {path}: {len(table)} rows"
             + (f", {count_errors(table)} with errors" if "error" in table.columns else "")
             + (f", status {meta['status']}" if "status" in meta else "")]
    if not meta:
        lines.append("  no .json beside it: nothing records how it was computed")
        return lines
    lines.append(f"  space {meta.get('space', 'nb201')}, dataset {meta.get('dataset', '?')}, "
                 f"seed {meta.get('seed', '-')}")
    if isinstance(meta.get("preset"), dict):
        lines.append(f"  preset {_preset_line(meta.get('preset_name', '-'), meta['preset'])}")
    if meta.get("run"):
        lines.append(f"  supernet {meta['run']} / {meta.get('checkpoint', '?')} (weights "
                     f"sha256 {str(meta.get('weights_sha256', '?'))[:12]})")
    for p in proxies:
        opts = ", ".join(f"{k}={v}" for k, v in (p.get("options") or {}).items())
        arrow = "higher" if p.get("higher_is_better") else "lower"
        lines.append(f"  column {p.get('column')}: {p.get('proxy')}"
                     + (f" ({opts})" if opts else "") + f", {arrow} is better")
    if meta.get("cells") and meta.get("cells") != len(table):
        lines.append(f"  progress: {len(table)} of {meta['cells']} cells")
    if meta.get("cell_selection") is not None:
        lines.append(f"  cells: {meta['cell_selection']}")
    if meta.get("sources"):
        lines.append(f"  computed from: {meta['sources']}")
    source = meta.get("source")
    if isinstance(source, dict) and source.get("kind"):
        lines.append(f"  imported from {source['kind']}: {source.get('file', '?')} (sha256 "
                     f"{str(source.get('sha256', '?'))[:12]}), its {source.get('dataset_key')!r}"
                     f" entry")
    if meta.get("command"):
        lines.append(f"  command: {meta['command']}")
    env = meta.get("environment", {})
    if env:
        lines.append(f"  code {_commit(env)}, torch {env.get('torch', '?')}, "
                     f"{env.get('cpu_threads', '?')} threads")
    return lines


# the folders other commands write, by the .json each leaves (search, ensemble,
# search-pool, retrain); files with a .json that are not score tables (predict's curve,
# correlate's output, cross-dataset) are described the same way
OUTPUTS = {"summary.json": "search", "ensemble.json": "ensemble", "search.json": "search-pool",
           "result.json": "retrain"}


def _settings(meta: dict, limit: int = 14) -> list[str]:
    """A .json's plain settings (numbers, strings, short lists), one per line."""
    lines = []
    for key, value in meta.items():
        if key in ("environment", "code_versions") or isinstance(value, dict):
            continue
        if isinstance(value, list) and (len(value) > 8 or any(isinstance(v, (dict, list))
                                                               for v in value)):
            value = f"[{len(value)} entries]"
        text = str(value)
        if len(text) > 160:
            text = f"{text[:150]}... ({len(text):,} characters in the .json)"
        lines.append(f"  {key}: {text}")
    return lines[:limit] + ([f"  ... {len(lines) - limit} more in the .json"]
                            if len(lines) > limit else [])


def _rows(csv: Path) -> str:
    try:
        with open(csv) as fh:
            return f"{csv.name} ({max(sum(1 for _ in fh) - 1, 0)} rows)"
    except (OSError, UnicodeDecodeError):
        return f"{csv.name} (unreadable)"


def describe_output(path: Path, meta_file: Path, kind: str) -> list[str]:
    """A command's output (a folder, or a table that is not a score table) from its .json."""
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProxybenchError(f"{meta_file} is damaged ({exc}); rerun the command that "
                              f"wrote {path}") from exc
    if not isinstance(meta, dict):
        raise ProxybenchError(f"{meta_file} is not a settings object; rerun the command "
                              f"that wrote {path}")
    lines = [f"{kind} output {path}"] + _settings(meta)
    csvs = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if csvs:
        lines.append(f"  tables: {', '.join(_rows(c) for c in csvs)}")
    env = meta.get("environment") or {}
    if env:
        lines.append(f"  code {_commit(env)}, torch {env.get('torch', '?')}")
    return lines


def describe(path: str | Path) -> str:
    """The description of a run directory, a seed group, a score table, or another
    command's output (search, ensemble, search-pool, retrain folders; predict, correlate
    and cross-dataset files). Settings files edited out of the form proxybench writes (a
    list where an object was) are one line, not a traceback."""
    try:
        return _describe(Path(path))
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        if isinstance(exc, ProxybenchError):
            raise
        raise ProxybenchError(f"{path}: its settings files are not in the form proxybench "
                              f"writes ({type(exc).__name__}: {exc}); restore them, or rerun "
                              f"the command that wrote {path}") from exc


def _describe(path: Path) -> str:
    if path.is_file():
        meta = read_meta(path) if path.suffix == ".csv" else None
        if path.suffix == ".csv" and meta is not None and not (
                meta.get("proxies") or meta.get("fingerprint")):
            return "\n".join(describe_output(path, meta_path(path), _file_kind(path, meta)))
        return "\n".join(describe_table(path))
    for name, kind in OUTPUTS.items():
        if (path / name).is_file() and not (path / RUN_JSON).is_file():
            return "\n".join(describe_output(path, path / name, kind))
    if (path / RUN_JSON).is_file():
        return "\n".join(describe_run(path))
    if is_group(path):
        lines = [f"seed group {path}: {len(group_runs(path))} runs"]
        for run in group_runs(path):
            lines += describe_run(run)
        return "\n".join(lines)
    raise ProxybenchError(f"{path} is neither a training run (no {RUN_JSON}), a seed group "
                          f"(no seed-K folders), a score table nor a command's output (a "
                          f"folder with {', '.join(OUTPUTS)}); pass one of those")


def _file_kind(path: Path, meta: dict) -> str:
    if "draws" in meta:
        return "predict"
    if "protocol" in meta or path.name.endswith(".correlate.csv"):
        return "correlate"
    if "kendall_tau" in meta and "datasets" in meta:
        return "cross-dataset"
    return "table"


def _commit(env: dict) -> str:
    """The git commit a result was computed with, or why there is none (code run outside a
    git checkout, e.g. an installed wheel, records none)."""
    commit = env.get("git_commit")
    return (commit[:12] if commit
            else f"proxybench {env.get('proxybench', '?')} (no git commit recorded)")
