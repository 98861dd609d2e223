"""What a run directory, seed group or score table holds, in a few lines: its settings,
where it came from, and how far it got. Reads files only (no torch)."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import ProxybenchError
from .run.rundir import FINAL, RUN_JSON, group_runs, is_group
from .table import count_errors, meta_path, read_meta, read_scores


def _preset_line(name: object, preset: dict) -> str:
    keys = ("channels", "layers", "epochs", "batch_size", "bn_images", "val_images")
    return f"{name} ({', '.join(f'{k}={preset[k]}' for k in keys if k in preset)})"


def describe_run(path: Path) -> list[str]:
    info = json.loads((path / RUN_JSON).read_text())
    cfg = info.get("config", {})
    preset = cfg.get("preset", {})
    total = preset.get("epochs", "?")
    lines = [f"training run {path}",
             f"  space {cfg.get('space')}, dataset {cfg.get('dataset')} ({cfg.get('data_dir')}),"
             f" seed {cfg.get('seed')}",
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
    lines.append(f"  code {env.get('git_commit', '?')}, torch {env.get('torch', '?')}, "
                 f"{env.get('cpu_threads', '?')} threads, device {info.get('device', '?')}")
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
    if meta.get("command"):
        lines.append(f"  command: {meta['command']}")
    env = meta.get("environment", {})
    if env:
        lines.append(f"  code {env.get('git_commit', '?')}, torch {env.get('torch', '?')}, "
                     f"{env.get('cpu_threads', '?')} threads")
    return lines


def describe(path: str | Path) -> str:
    """The description of a run directory, a seed group or a score table."""
    path = Path(path)
    if path.is_file():
        return "\n".join(describe_table(path))
    if (path / RUN_JSON).is_file():
        return "\n".join(describe_run(path))
    if is_group(path):
        lines = [f"seed group {path}: {len(group_runs(path))} runs"]
        for run in group_runs(path):
            lines += describe_run(run)
        return "\n".join(lines)
    raise ProxybenchError(f"{path} is neither a training run (no {RUN_JSON}), a seed group "
                          f"(no seed-K folders) nor a score table; pass one of those")
