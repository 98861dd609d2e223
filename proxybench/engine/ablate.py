"""The GeNAS ablations (Sec. 4.3, App. B) as Kendall tau on NB201, one tidy table each.

Every setting is scored through the same engine into ``OUT/<ablation>/<setting>.csv``
(resumable) and correlated with the ground truth. The paper measures Tables 8-10 by
ImageNet retraining, which a CPU cannot do; here every ablation is measured by Kendall tau
over the scored cells, and the report says so.

- sigma: the four sigma sets of Table 5;
- alpha: Eq. (4) with alpha in {0, 0.1, 0.5, 1, 4, 16} (Table 6), recomputed from one
  flatness run's per-sigma losses (the losses do not depend on alpha), with the mean share
  of the depth term alpha|L(s1)/s1| in the denominator and tau(flatness, val_loss);
- position / direction: all vs cells, random vs hessian (Table 7);
- gamma: Eq. (5) with the gamma values of Tables 8-10: angle + gamma*beta*F (Table 8),
  acc + gamma*beta*F (Table 9) and angle + gamma_acc*acc (Table 10), accuracy as a fraction,
  each with the mean share of the added term, e.g. gamma*beta*F / (S + gamma*beta*F);
- epochs: tau of flatness, angle, val_acc, val_loss at every checkpoint saved during
  training (``--save-every``), beside the supernet's mean path accuracy and Table 1's
  tau(angle, flatness) of that checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.groundtruth import join_scores, load_ground_truth
from ..analysis.metrics import combine_linear, correlate, flatness_beta, kendall_tau
from ..proxies import parse_specs
from ..proxies.flatness import EPS
from ..run.files import atomic_write_bytes, file_sha256
from ..run.rundir import FINAL, METRICS, group_runs, read_run_json, replicate_table
from ..table import read_meta_or_empty, read_scores
from .score import ScoreError, context_from_run, score_cells, training_settings

ABLATIONS = ("sigma", "alpha", "position", "direction", "gamma", "epochs", "variance", "budget",
             "levers")
# the supernet proxies every replicate is scored with (one recalibrated pass shared)
SUPERNET_PROXIES = "flatness;val_acc;val_loss;angle"
SUPERNET_COLUMNS = (("flatness", True), ("val_acc", True), ("val_loss", False),
                    ("angle", True))
SIGMA_SETS = ("1e-6/5e-6/1e-5", "5e-4/1e-3/2e-3", "2e-3/1e-2/2e-2", "2e-3/2e-2/4e-2")
ALPHAS = (0.0, 0.1, 0.5, 1.0, 4.0, 16.0)
# the paper's Kendall tau on NB201 CIFAR-10 (Tables 5, 6, 7), printed beside ours
PAPER_SIGMA_TAU = (0.5756, 0.5770, 0.6047, 0.5416)
PAPER_SIGMA_TAU_IN16 = (0.5524, 0.5531, 0.5800, 0.2364)   # Table 5's ImageNet16-120 column
PAPER_ALPHA_TAU = (0.1777, 0.4026, 0.5890, 0.6047, 0.5898, 0.5820)
PAPER_TABLE7_TAU = {("all", "random"): 0.6047, ("cells", "random"): 0.5612,
                    ("all", "hessian"): 0.5908}
# (table, S, added term, gammas, the paper's share of the added term (%), paper ImageNet top-1)
GAMMA_TABLES = (
    ("Table 8", "angle", "flatness", (0.0, 0.5, 1.5, 6.0, 16.0), (0, 20, 43, 76, 89),
     (75.00, 75.22, 75.58, 75.63, 75.72)),
    ("Table 9", "val_acc", "flatness", (0.0, 0.25, 2.0, 8.0, 32.0), (0, 10, 41, 75, 92),
     (75.37, 75.34, 75.26, 75.60, 75.85)),
    ("Table 10", "angle", "val_acc", (0.0, 0.1, 0.5, 2.5, 10.0), (0, 12, 41, 78, 93),
     (75.00, 75.32, 74.69, 74.26, 75.05)),
)
TABLE7 = (("all", "random", "flatness"), ("cells", "random", "flatness:position=cells"),
          ("all", "hessian", "flatness:direction=hessian"))


def _tau_row(values: pd.Series, truth: pd.DataFrame, dataset: str, higher: bool,
             n_boot: int) -> dict:
    frame = pd.DataFrame({"arch_index": values.index, "v": values.to_numpy()})
    joined = join_scores(frame, truth, dataset)
    r = correlate(joined["v"].to_numpy(dtype=float), joined["truth"].to_numpy(), n_boot=n_boot,
                  higher_is_better=higher)
    tau = r.loc["kendall_tau"]
    return {"kendall_tau": tau["value"], "ci_low": tau["ci_low"], "ci_high": tau["ci_high"],
            "spearman_rho": r.loc["spearman_rho", "value"], "n": int(tau["n"])}


def run_ablation(name: str, *, run_dir: str | Sequence[str], indices: list[int],
                 out: str | Path, ground_truth: str | None, dataset: str, n_boot: int = 200,
                 echo: Callable[[str], None] = print, retry_errors: bool = False,
                 levels: int = 4, metric: str = "test-200", device: str = "cpu",
                 seed: int = 0, keep: str | Path | None = None,
                 epochs: Sequence[int] | None = None,
                 overrides: dict | None = None, workers: int | None = None) -> pd.DataFrame:
    """Score what the ablation needs, correlate, write ``OUT/<name>.csv``; returns it.

    ``run_dir`` is one training run; for ``variance`` a seed group (``train --seeds``), for
    ``budget`` one seed group per training budget (several); for ``levers`` one seed group
    (or a group's table, ``GROUP/NAME.csv`` for ``GROUP/NAME.seed-K.csv``) per lever, the
    first the baseline the others are paired with; ``keep``, an earlier levers table, adds
    its rows of levers not given here (runs measured elsewhere) when its baseline is this
    one. ``epochs`` picks the checkpoints ``epochs`` scores (default: every saved one);
    ``overrides`` sets the scoring images (``bn_images``, ``val_images``) instead of the
    runs' presets, for every table this ablation scores. ``workers``: scoring processes
    (default one per core; 1 beside a training job on a small machine)."""
    if name not in ABLATIONS:
        raise ScoreError(f"unknown ablation {name!r}; choose one of {', '.join(ABLATIONS)}")
    run_dirs = [run_dir] if isinstance(run_dir, (str, Path)) else list(run_dir)
    if name not in ("budget", "levers") and len(run_dirs) != 1:
        raise ScoreError(f"ablate {name} takes one --run (only budget and levers take "
                         f"several)")
    if name == "levers" and len(run_dirs) < 2 and keep is None:
        raise ScoreError("ablate levers compares settings: pass the baseline's seed group "
                         "and at least one other (--lever BASE --lever LEVER ...), or "
                         "--keep an earlier levers table")
    if keep is not None and name not in ("levers", "epochs"):
        raise ScoreError(f"--keep is for ablate levers and epochs, not ablate {name}")
    if epochs and name != "epochs":
        raise ScoreError(f"--epochs is for ablate epochs, not ablate {name}")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if overrides and name == "levers":
        raise ScoreError("ablate levers reads the tables each lever was scored into; score "
                         "them with --bn-images/--val-images instead")
    truth = load_ground_truth(ground_truth, metric)
    folder = Path(out) / name
    if retry_errors:
        from ..table import require_failed
        require_failed(sorted(folder.glob("*.csv")), f"{folder} (the tables of ablate {name})")
    folder.mkdir(parents=True, exist_ok=True)

    def scored(text: str, checkpoint: str | None = None, tag: str | None = None,
               run: str | Path | None = None, seed: int | None = None,
               reuse: Path | None = None) -> tuple:
        """The table of ``text`` on ``indices``: ``reuse`` when it holds those cells (from
        the same run, as `score` wrote it), else scored into OUT/<name>/<tag>.csv."""
        specs = parse_specs(text)
        this = Path(run or run_dirs[0])
        if reuse is None and checkpoint is None and seed is None:
            reuse = replicate_table(this.parent / GROUP_TABLE, this)   # its group's table
        if reuse is not None and reuse.is_file() and checkpoint is None and seed is None \
                and not overrides and _same_run(reuse, this):
            table = read_scores(reuse).set_index("arch_index")
            if set(indices) <= set(table.index) and all(s.column in table for s in specs):
                echo(f"[{name}] reusing {reuse}")
                return table.loc[sorted(indices)], specs
        ctx, info = context_from_run(this, specs, checkpoint=checkpoint, seed=seed,
                                     device=device, preset_overrides=overrides)
        safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", tag or text)
        echo(f"[{name}] scoring {text} on {len(indices)} cells"
             + (f" ({checkpoint})" if checkpoint else "") + (f" of {run}" if run else "")
             + (f", seed {seed}" if seed is not None else ""))
        table = score_cells(specs, ctx, indices, folder / f"{safe}.csv", resume=True,
                            progress=True, meta={**info, "command": f"proxybench ablate {name}"},
                            retry_errors=retry_errors, workers=workers)
        return table.set_index("arch_index").loc[sorted(indices)], specs

    def tau(values: pd.Series, higher: bool) -> float:
        return _tau_row(values, truth, dataset, higher, 0)["kendall_tau"]

    rows: list[dict] = []
    if name == "variance":
        rows = _variance(run_dirs[0], scored, tau, truth, dataset, n_boot, levels)
    elif name == "budget":
        rows = _budget(run_dirs, scored, tau)
    elif name == "levers":
        rows = _levers(run_dirs, truth, dataset, n_boot, seed, indices)
        if keep is not None:
            rows = _kept_levers(rows, Path(keep))
    elif name == "sigma":
        for sig, paper, in16 in zip(SIGMA_SETS, PAPER_SIGMA_TAU, PAPER_SIGMA_TAU_IN16,
                                    strict=True):
            t, specs = scored(f"flatness:sigmas={sig}")
            rows.append({"sigmas": sig.replace("/", ", "),
                         **_tau_row(t[specs[0].column], truth, dataset, True, n_boot),
                         "paper_tau_cifar10": paper, "paper_tau_imagenet16_120": in16})
    elif name == "alpha":
        t, specs = scored("flatness;val_loss")
        sig = specs[0].options["sigmas"]
        losses = t[[f"flatness.loss@{s:g}" for s in sig]].to_numpy()
        slopes = sum(abs((losses[:, i + 1] - losses[:, i]) / (sig[i + 1] - sig[i]))
                     for i in range(len(sig) - 1))
        for a, paper in zip(ALPHAS, PAPER_ALPHA_TAU, strict=True):
            depth = a * abs(losses[:, 0] / sig[0])
            flat = pd.Series(1.0 / (slopes + depth + EPS), index=t.index)
            share = depth / (slopes + depth + EPS)
            rows.append({"alpha": a, **_tau_row(flat, truth, dataset, True, n_boot),
                         "depth_share_percent": 100 * float(share.mean()),
                         "tau_vs_val_loss": kendall_tau(flat, -t["val_loss"]),
                         "paper_tau_cifar10": paper})
    elif name in ("position", "direction"):
        for position, direction, text in TABLE7:
            if name == "position" and direction != "random":
                continue
            if name == "direction" and position != "all":
                continue
            t, specs = scored(text)
            rows.append({"position": position, "direction": direction,
                         **_tau_row(t[specs[0].column], truth, dataset, True, n_boot),
                         "seconds_per_cell": float(t[f"{specs[0].column}_seconds"].mean()),
                         "paper_tau_cifar10": PAPER_TABLE7_TAU[(position, direction)]})
    elif name == "gamma":
        t, specs = scored("angle;val_acc;flatness")
        beta = flatness_beta(specs[2].options["sigmas"])
        for table_name, s_name, term, gammas, paper_share, paper_top1 in GAMMA_TABLES:
            # flatness enters as beta*F (Eq. 5); accuracy, as S or as the added term, as a
            # fraction (its shares in Tables 9-10 fit a fraction, not a percentage)
            frac = t["val_acc"] / 100.0
            base = frac if s_name == "val_acc" else t[s_name]
            added = beta * t["flatness"] if term == "flatness" else frac
            for g, p_share, p_top1 in zip(gammas, paper_share, paper_top1, strict=True):
                series = pd.Series(combine_linear(base, added, gamma=g, beta=1.0),
                                   index=t.index)
                share = (g * added / series).mean()
                rows.append({"table": table_name, "S": s_name, "term": term, "gamma": g,
                             **_tau_row(series, truth, dataset, True, n_boot),
                             "term_share_percent": 100 * float(share),
                             "paper_term_share_percent": p_share,
                             "paper_imagenet_top1": p_top1})
    elif name == "epochs":
        rows = _epochs(run_dirs[0], scored, truth, dataset, n_boot, epochs, overrides or {},
                       echo, len(indices))
        if keep is not None:
            rows = _kept_epochs(rows, Path(keep))
    table = pd.DataFrame(rows)
    atomic_write_bytes(Path(out) / f"{name}.csv", table.to_csv(index=False).encode())
    return table


GROUP_TABLE = "supernet.csv"


def _supernet_table(group: str | Path, run: Path, scored: Callable, tag: str) -> pd.DataFrame:
    """The supernet proxies of one run of a seed group: the group's own table when
    ``proxybench score --run GROUP --proxy flatness;val_acc;val_loss;angle --out
    GROUP/supernet.csv`` made it (``GROUP/supernet.seed-K.csv``) with these cells, so the
    studies reuse what the leaderboard scored; otherwise scored into the ablation's folder."""
    table, _ = scored(SUPERNET_PROXIES, run=run, tag=tag,
                      reuse=replicate_table(Path(group) / GROUP_TABLE, run))
    return table


def _same_run(table: Path, run: Path) -> bool:
    """Whether a score table was computed from the final weights of ``run``, with its seed:
    by the hash of the weights' values where the table records it (a run trained again to
    the same weights, or resumed after it finished, rewrites final.pt in other bytes), else
    by the checkpoint file's hash. A run's record without its checkpoints (run.json and
    metrics.csv, as reports keep them) is checked by the hash run.json records, else by
    the training settings the table records."""
    from ..run.files import load_checkpoint, weights_sha256
    meta = read_meta_or_empty(table)
    if meta.get("seed") != _run_seed(run):
        return False
    record = read_run_json(run)
    if meta.get("few_shot"):
        return _same_split(meta, run, record)
    if not (run / FINAL).is_file():
        if record.get("weights_sha256") and meta.get("weights_sha256"):
            return record["weights_sha256"] == meta["weights_sha256"]
        return isinstance(meta.get("training"), dict) and \
            training_settings(meta["training"]) == training_settings(record["config"])
    if meta.get("weights_sha256"):
        return meta["weights_sha256"] == weights_sha256(load_checkpoint(run / FINAL)[
            "state_dict"])
    return meta.get("checkpoint_sha256") == file_sha256(run / FINAL)


def _same_split(meta: dict, run: Path, record: dict) -> bool:
    """Whether a few-shot table was scored from ``run``'s few-shot split: by the combined
    hash of its sub-supernets' final weights, or (a record without checkpoints) by the
    one-shot run's training settings."""
    from ..run.fewshot import FewShotError, combined_hash, shot_runs
    from ..run.files import load_checkpoint, weights_sha256
    try:
        _, subs = shot_runs(run)
    except FewShotError:
        training = {k: v for k, v in (meta.get("training") or {}).items() if k != "few_shot"}
        return training_settings(training) == training_settings(record["config"])
    hashes = [weights_sha256(load_checkpoint(p / FINAL)["state_dict"]) for p in subs.values()]
    return meta.get("weights_sha256") == combined_hash(hashes)


def _group(path: str | Path) -> list[Path]:
    runs = group_runs(path)
    if len(runs) < 2:
        raise ScoreError(f"{path} is not a seed group of at least 2 runs; train one with "
                         f"`proxybench train --seeds 0-4 --out {path}`")
    return runs


def _run_seed(run: Path) -> int:
    return int(read_run_json(run)["config"]["seed"])


def _spread(proxy: str, factor: str, taus: list[float], note: str) -> dict:
    arr = np.array(taus, dtype=float)
    return {"proxy": proxy, "factor": factor, "levels": len(arr),
            "tau_mean": float(arr.mean()), "tau_sd": float(arr.std(ddof=1)),
            "tau_min": float(arr.min()), "tau_max": float(arr.max()),
            "taus": " ".join(f"{v:+.4f}" for v in arr), "note": note}


def _variance(group: str | Path, scored: Callable, tau: Callable, truth: pd.DataFrame,
              dataset: str, n_boot: int, levels: int) -> list[dict]:
    """Where a supernet proxy's tau varies: one factor at a time around the group's first
    supernet (main effects), each as the sd of tau over its levels.

    - training seed: each supernet of the group, scored with its own seed (which also draws
      its noise, images and train/valid split), so this sd includes the others;
    - noise seed (flatness): the first supernet, images fixed, ``noise_seed`` varied;
    - images: the first supernet, noise fixed, the BN/validation image sample varied
      (``--seed``, the split unchanged);
    - cells: a bootstrap over the scored cells of the first supernet.
    """
    runs = _group(group)
    base = runs[0]
    s0 = _run_seed(base)
    extra = [s0 + 1 + i for i in range(levels - 1)]
    per_run = [_supernet_table(group, r, scored, f"train-{r.name}") for r in runs]
    noise = [scored(f"flatness:noise_seed={k}", run=base, tag=f"noise-{k}") for k in extra]
    images = [scored(f"flatness:noise_seed={s0};val_acc;val_loss", run=base, seed=k,
                     tag=f"images-{k}") for k in extra]
    rows: list[dict] = []
    for col, higher in SUPERNET_COLUMNS:
        rows.append(_spread(col, "training seed", [tau(t[col], higher) for t in per_run],
                            f"{len(runs)} supernets ({', '.join(r.name for r in runs)}); each "
                            f"also redraws noise, images and split"))
        if col == "flatness":
            rows.append(_spread(col, "noise seed", [tau(per_run[0][col], higher)] + [
                tau(t[specs[0].column], higher) for t, specs in noise],
                f"{base.name}, noise seeds {s0}, {', '.join(map(str, extra))}"))
        if col != "angle":
            img_col = {"flatness": f"flatness[noise_seed={s0}]"}.get(col, col)
            rows.append(_spread(col, "BN/validation images", [tau(per_run[0][col], higher)] + [
                tau(t[img_col], higher) for t, _ in images],
                f"{base.name}, image seeds {s0}, {', '.join(map(str, extra))}"))
        base_vals = per_run[0][col]
        frame = pd.DataFrame({"arch_index": base_vals.index, "v": base_vals.to_numpy()})
        joined = join_scores(frame, truth, dataset)
        boot = correlate(joined["v"].to_numpy(dtype=float), joined["truth"].to_numpy(),
                         n_boot=n_boot,
                         higher_is_better=higher)
        point = boot.loc["kendall_tau", "value"]
        width = boot.loc["kendall_tau", "ci_high"] - boot.loc["kendall_tau", "ci_low"]
        rows.append({"proxy": col, "factor": "cell sample", "levels": n_boot,
                     "tau_mean": point, "tau_sd": width / (2 * 1.96), "tau_min": np.nan,
                     "tau_max": np.nan, "taus": "",
                     "note": f"{base.name}, bootstrap over {len(joined)} cells (sd from the "
                             f"95% CI width)"})
    table = pd.DataFrame(rows)
    var = table["tau_sd"] ** 2
    table["variance_share_percent"] = 100 * var / var.groupby(table["proxy"]).transform("sum")
    return table.to_dict("records")


def _budget(groups: Sequence[str | Path], scored: Callable, tau: Callable) -> list[dict]:
    """tau of every supernet proxy vs training budget, with its spread over training seeds,
    and the budget's cost: training wall time per supernet (metrics.csv) and scoring time
    per cell (the tables' timings)."""
    rows: list[dict] = []
    for g in groups:
        runs = _group(g)
        epochs = {int(read_run_json(r)["config"]["preset"]["epochs"])
                  for r in runs}
        if len(epochs) != 1:
            raise ScoreError(f"the runs of {g} were trained for different epochs {epochs}; a "
                             f"budget group holds one setting")
        ep = epochs.pop()
        tables = [_supernet_table(g, r, scored, f"e{ep}-{r.name}") for r in runs]
        minutes = [pd.read_csv(r / METRICS)["seconds"].sum() / 60 for r in runs]
        for col, higher in SUPERNET_COLUMNS:
            row = _spread(col, "training seed", [tau(t[col], higher) for t in tables],
                          f"{g}: {', '.join(r.name for r in runs)}")
            rows.append({"epochs": ep, **row,
                         "train_minutes": float(np.mean(minutes)),
                         "score_seconds_per_cell": float(np.mean(
                             [t[f"{c}_seconds"].mean() for t in tables
                              for c, _ in SUPERNET_COLUMNS]) * len(SUPERNET_COLUMNS))})
    return rows


def _epochs(path: str | Path, scored: Callable, truth: pd.DataFrame, dataset: str,
            n_boot: int, wanted: Sequence[int] | None, overrides: dict,
            echo: Callable[[str], None], cells: int) -> list[dict]:
    """tau of every supernet proxy at the saved checkpoints of a run, or of each run of a
    seed group: the epoch curve of one training setting. A run still training is scored at
    the checkpoints it has saved so far; run again later to add the others (the scored ones
    are kept)."""
    group = group_runs(path)
    runs = group or [Path(path)]
    rows: list[dict] = []
    for run in runs:
        record = read_run_json(run)
        cfg = record["config"]
        p = cfg["preset"]
        total = int(p["epochs"])
        saved = {int(m.group(1)): c for c in run.glob("epoch-*.pt")
                 if (m := re.fullmatch(r"epoch-(\d+)", c.stem)) and int(m.group(1)) > 0}
        finished = (run / FINAL).is_file()
        if finished:   # final.pt holds the last epoch; an epoch-K.pt of it is the same
            saved.setdefault(total, run / FINAL)
        reached = max(saved, default=0) if not finished else total
        if wanted:
            beyond = [e for e in wanted if e > total]
            if beyond:
                raise ScoreError(f"{run} trains for {total} epochs; --at-epochs "
                                 f"{','.join(map(str, beyond))} lie beyond it")
            lost = [e for e in wanted if e not in saved and (finished or e <= reached)]
            if lost:
                raise ScoreError(
                    f"{run} saved no checkpoint at epoch(s) {','.join(map(str, lost))} (saved: "
                    f"{','.join(map(str, sorted(saved))) or 'none'}); pick saved epochs, or "
                    f"train with a --save-every that divides them")
            later = [e for e in wanted if e not in saved]
            every = int(cfg.get("save_every") or 0)
            never = [e for e in later if e != total and (not every or e % every)]
            if never:
                raise ScoreError(f"{run} saves a checkpoint every {every or 'no'} epochs, so "
                                 f"epoch(s) {','.join(map(str, never))} will never be saved; "
                                 f"pick multiples of {every or 'K'} (or {total})")
            if later:
                echo(f"[epochs] {run}: epoch(s) {','.join(map(str, later))} not saved yet "
                     f"(training at epoch {record.get('epoch')} of {total}); run again later "
                     f"to add them")
            picked = [(e, saved[e]) for e in sorted(wanted) if e in saved]
        else:
            picked = sorted(saved.items())
            if not finished:
                echo(f"[epochs] {run} is still training (epoch {record.get('epoch')} of "
                     f"{total}): scoring the {len(picked)} checkpoint(s) saved so far")
        if not picked and len(runs) == 1:
            raise ScoreError(f"{run} has no saved checkpoint to score yet; train with "
                             f"`--save-every K` (ablate epochs scores epoch-K.pt)")
        setting = (f"C={p['channels']}, N={p['layers']}, {total} epochs, batch "
                   f"{p['batch_size']}, {cfg.get('sampling', 'uniform')} sampling"
                   + (f" (preset {cfg['preset_name']})" if cfg.get("preset_name") else ""))
        for epoch, ck in picked:
            tag = f"{run.name}-{ck.stem}" if group else ck.stem   # kept as the group grows
            t, _ = scored(SUPERNET_PROXIES, checkpoint=str(ck), tag=tag, run=run)
            agree = kendall_tau(t["angle"], t["flatness"])   # Table 1's; failed cells dropped
            for col, higher in SUPERNET_COLUMNS:
                rows.append({"checkpoint": ck.name, "epoch": epoch, "seed": cfg["seed"],
                             "proxy": col,
                             **_tau_row(t[col], truth, dataset, higher, n_boot),
                             "mean_path_val_acc": float(t["val_acc"].mean()),
                             "cells": cells, "supernet": setting, "run_epochs": total,
                             "bn_images": int(overrides.get("bn_images", p["bn_images"])),
                             "val_images": int(overrides.get("val_images", p["val_images"])),
                             "tau_angle_flatness": agree})
    if not rows:
        raise ScoreError(f"no run of {path} has a saved checkpoint to score yet; train with "
                         f"`--save-every K`")
    return rows


def _read_kept(keep: Path, need: set[str], what: str, name: str) -> pd.DataFrame:
    """The earlier table ``--keep`` names, refused in one line when it cannot be read or is
    not ``what`` (a NAME.csv of ``ablate NAME``, holding the columns ``need``)."""
    hint = f"pass a {name}.csv written by `proxybench ablate {name}`"
    try:
        old = pd.read_csv(keep)
    except (OSError, ValueError) as exc:
        raise ScoreError(f"--keep {keep} cannot be read as {what} ({exc}); {hint}") from exc
    if old.empty or not need <= set(old.columns):
        raise ScoreError(f"--keep {keep} is not {what} (it needs the columns "
                         f"{', '.join(sorted(need))}); {hint}")
    return old


def _kept_epochs(rows: list[dict], keep: Path) -> list[dict]:
    """The rows of an earlier epoch curve ``keep`` for seeds not measured here, after
    ``rows``: supernets of this setting trained elsewhere (a machine whose checkpoints are
    gone) stay in the curve; a seed measured here replaces its kept rows. Refused when the
    kept curve is of another setting, other scoring images or another cell count, which
    would mix incompatible points into one seed band."""
    old = _read_kept(keep, {"epoch", "seed", "proxy", "kendall_tau", "n", "supernet",
                            "bn_images", "val_images"}, "an epoch curve", "epochs")
    new = rows[0]
    old_cells = old["cells"] if "cells" in old else old["n"]   # n: before cells was a column
    for column, label in (("supernet", "supernet setting"), ("bn_images", "BN images"),
                          ("val_images", "validation images")):
        if set(old[column]) != {new[column]}:
            raise ScoreError(f"--keep {keep} is of another {label} ({old[column].iloc[0]}; "
                             f"here {new[column]}); its seeds are not replicates of these, "
                             f"so write a separate curve")
    if (cells := int(old_cells.max())) != new["cells"]:
        raise ScoreError(f"--keep {keep} was measured on {cells} cells, this "
                         f"curve on {new['cells']}; pass the --cells/--seed it was measured "
                         f"on, or write a separate curve")
    measured = {r["seed"] for r in rows}
    kept = old.assign(cells=old_cells)
    kept = kept[~kept["seed"].isin(measured)]
    return sorted(rows + kept.to_dict("records"), key=lambda r: (r["seed"], r["epoch"]))


def _lever_tables(target: str | Path) -> tuple[str, Path, list, list[Path]]:
    """(label, group, runs, per-run tables) of one lever: a seed group's supernet.csv
    tables (``GROUP/supernet.seed-K.csv``), or a group's table ``GROUP/NAME.csv`` (e.g.
    the same supernets scored with more images), each checked to be its run's."""
    target = Path(target)
    if target.suffix == ".csv":
        group, stem, label = target.parent, target, f"{target.parent.name}:{target.stem}"
    else:
        group, stem, label = target, target / GROUP_TABLE, target.name
    runs = _group(group)
    paths = [replicate_table(stem, r) for r in runs]
    for path, run in zip(paths, runs, strict=True):
        if not path.is_file():
            raise ScoreError(f"lever {label}: {path} is missing; score it with `proxybench "
                             f"score --run {group} --proxy \"{SUPERNET_PROXIES}\" --cells ... "
                             f"--out {stem}`")
        if read_meta_or_empty(path).get("run") and not _same_run(path, run) \
                and not read_meta_or_empty(path).get("averaged_checkpoints"):
            raise ScoreError(f"lever {label}: {path} was not scored from the final weights of "
                             f"{run} with its seed; score it again into {stem}")
    return label, group, runs, paths


def _lever_setting(run: Path, table: Path) -> str:
    """The training and scoring settings of a lever, in words."""
    cfg = read_run_json(run)["config"]
    p = cfg["preset"]
    meta = read_meta_or_empty(table)
    sp = meta.get("preset") or {}
    avg = len(meta.get("averaged_checkpoints") or [])
    shot = meta.get("few_shot") or {}
    return (f"{cfg.get('sampling', 'uniform')} sampling, C={p['channels']} N={p['layers']}, "
            f"{p['epochs']} epochs, batch {p['batch_size']}"
            + (f", few-shot split on edge {shot['edge']} (5 sub-supernets x {shot['epochs']} "
               f"epochs)" if shot else "")
            + f"; BN {sp.get('bn_images')} / val {sp.get('val_images')} images"
            + (f", mean of {avg} checkpoints" if avg else ""))


def _score_minutes(table: pd.DataFrame) -> float:
    """CPU-minutes the table's proxies took: each distinct pruned form once (a form's
    other cells reuse its values and carry its timings)."""
    from ..spaces.nb201 import cell_at, prune
    forms = pd.Series([prune(cell_at(int(i))) for i in table.index], index=table.index)
    cols = [f"{c}_seconds" for c, _ in SUPERNET_COLUMNS if f"{c}_seconds" in table]
    return float(table.loc[~forms.duplicated(), cols].to_numpy().sum() / 60)


def _kept_levers(rows: list[dict], keep: Path) -> list[dict]:
    """``rows`` and, after them, the rows of the levers table ``keep`` for levers not in
    ``rows``, once its baseline is checked to be this one (the same tau on every seed for
    every proxy), so that its paired differences refer to this baseline."""
    old = _read_kept(keep, {"lever", "proxy", "taus", "paired_seeds"}, "a levers table",
                     "levers")
    if not rows:
        return old.to_dict("records")
    if "cells" in old and set(old["cells"]) != {rows[0]["cells"]}:
        raise ScoreError(f"--keep {keep} was measured on {int(old['cells'].iloc[0])} cells, "
                         f"this table on {rows[0]['cells']}; pass the --cells/--seed it was "
                         f"measured on, or write a separate table")
    base, old_base = rows[0]["lever"], str(old["lever"].iloc[0])
    new_taus = {r["proxy"]: r["taus"] for r in rows if r["lever"] == base}
    old_taus = old[old["lever"] == old_base].set_index("proxy")["taus"].to_dict()
    # a baseline with more seeds is the same baseline when it agrees on the kept one's
    # seeds: the kept levers' paired differences are over those seeds only
    differ = [p for p in new_taus if p in old_taus
              and not _seed_taus(old_taus[p]).items() <= _seed_taus(new_taus[p]).items()]
    if base != old_base or differ or not set(new_taus) & set(old_taus):
        if base != old_base:
            what = f"its baseline is {old_base}, not {base}"
        elif differ:
            what = (f"its baseline's {differ[0]} tau per seed is {old_taus[differ[0]]}, "
                    f"here {new_taus[differ[0]]}")
        else:
            what = "its baseline has no proxy in common with this one"
        raise ScoreError(f"--keep {keep}: {what}, so its paired differences do not refer to "
                         f"this baseline; pass the baseline it was measured against first")
    measured = {r["lever"] for r in rows}
    kept = old[(old["lever"] != old_base) & ~old["lever"].isin(measured)]
    return rows + kept.to_dict("records")


def _seed_taus(text: object) -> dict[str, str]:
    """A levers table's ``taus`` cell ("0:+0.3179 1:+0.2756") as {seed: tau text}."""
    return dict(item.partition(":")[::2] for item in str(text).split())


def _levers(targets: Sequence[str | Path], truth: pd.DataFrame,
            dataset: str, n_boot: int, seed: int, indices: Sequence[int]) -> list[dict]:
    """Each lever's supernet proxies over its training seeds (mean, sd, hierarchical CI of
    tau; rho; top-5 % precision), the paired difference of tau to the first lever (the
    baseline) over the seeds both have (mean, sd, a t-interval over seeds), and the costs:
    training minutes per supernet (metrics.csv) and scoring CPU-minutes per table.
    Every lever is measured on the same cells, so that a lever scored on fewer cells is
    never paired with a baseline's tau on more: ``indices`` (``--cells``), refused when a
    table lacks some of them, or, for the whole space (``--cells all``, the default), the
    cells every lever's tables share."""
    from scipy import stats

    from ..analysis.correlation import check_replicates, replicate_metrics
    from ..spaces.nb201 import all_cells
    levers = [_lever_tables(t) for t in targets]
    all_tables = [[read_scores(p).set_index("arch_index") for p in paths]
                  for _, _, _, paths in levers]
    wanted = set(indices)
    if len(wanted) == len(all_cells()):
        wanted = set.intersection(*(set(t.index) for ts in all_tables for t in ts))
    common = sorted(wanted)
    for (label, _, _, paths), tables in zip(levers, all_tables, strict=True):
        for path, t in zip(paths, tables, strict=True):
            lack = len(wanted - set(t.index))
            if lack:
                raise ScoreError(f"lever {label}: {path} lacks {lack} of the {len(common)} "
                                 f"cells asked for; pass the --cells/--seed it was scored "
                                 f"on (or a subset of them), or score it on these cells")
    truth_s = truth.set_index("arch_index")[dataset]
    base_tau: dict[str, dict[int, float]] = {}
    rows: list[dict] = []
    for k, ((label, _, runs, paths), tables) in enumerate(zip(levers, all_tables,
                                                               strict=True)):
        seeds = [_run_seed(r) for r in runs]
        from ..run.fewshot import train_seconds
        shot = any(read_meta_or_empty(p).get("few_shot") for p in paths)
        train_min = float(np.mean([(pd.read_csv(r / METRICS)["seconds"].sum()
                                    + (train_seconds(r) if shot else 0)) / 60 for r in runs]))
        score_min = float(np.mean([_score_minutes(t.loc[common]) for t in tables]))
        for col, higher in SUPERNET_COLUMNS:
            if not all(col in t for t in tables):
                continue
            check_replicates(paths, col)
            summary, per = replicate_metrics([t.loc[common, col] for t in tables], truth_s,
                                             column=col, higher_is_better=higher,
                                             n_boot=n_boot, seed=seed, fracs=(0.05,))
            taus = per[per["metric"] == "kendall_tau"]["value"].to_numpy()
            by_seed = dict(zip(seeds, taus, strict=True))
            if k == 0:
                base_tau[col] = by_seed
            paired = sorted(set(by_seed) & set(base_tau.get(col, {})))
            diffs = np.array([by_seed[s] - base_tau[col][s] for s in paired])
            if k > 0 and len(diffs) >= 2:
                half = stats.t.ppf(0.975, len(diffs) - 1) * diffs.std(ddof=1) / np.sqrt(
                    len(diffs))
                d_mean, d_sd = float(diffs.mean()), float(diffs.std(ddof=1))
                d_low, d_high = d_mean - half, d_mean + half
            else:
                d_mean = d_sd = d_low = d_high = np.nan
            tau = summary.loc["kendall_tau"]
            rows.append({
                "lever": label, "setting": _lever_setting(runs[0], paths[0]), "proxy": col,
                "seeds": len(runs), "cells": int(tau["n"]),
                "tau_mean": float(tau["mean"]), "tau_sd": float(tau["sd"]),
                "tau_ci_low": float(tau["ci_low"]), "tau_ci_high": float(tau["ci_high"]),
                "rho_mean": float(summary.loc["spearman_rho", "mean"]),
                "rho_sd": float(summary.loc["spearman_rho", "sd"]),
                "top5_mean": float(summary.loc["top5%", "mean"]),
                "top5_sd": float(summary.loc["top5%", "sd"]),
                "paired_seeds": len(paired) if k > 0 else 0,
                "tau_diff_mean": d_mean, "tau_diff_sd": d_sd,
                "tau_diff_ci_low": d_low, "tau_diff_ci_high": d_high,
                "taus": " ".join(f"{s}:{v:+.4f}" for s, v in sorted(by_seed.items())),
                "train_minutes": train_min, "score_cpu_minutes": score_min})
    return rows
