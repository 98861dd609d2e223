"""``proxybench predict``, ``ensemble``, ``beyond`` and ``search-pool``: what several proxies do
together.

Registered on the main group by :mod:`proxybench.cli`; shared options come from
:mod:`proxybench.cli.options`.
"""

from __future__ import annotations

import time

import click

from . import _command, friendly, main
from . import options as O


def _need(tables: tuple) -> None:
    if not tables:
        raise click.UsageError("give the score tables with --scores (repeat the option)")


def _gt(ground_truth: str | None) -> str | None:
    from ..analysis.groundtruth import resolve
    return resolve(ground_truth)


def _meta(extra: dict) -> dict:
    from ..run.files import code_version, environment
    return {"command": _command(), "code_versions": [code_version()],
            "environment": environment(), **extra}


# --------------------------------------------------------------------------- predict
@main.command()
@O.SCORES
@O.COLUMNS
@click.option("--labels", default="10,20,50,100,200,400", show_default=True,
              help="Numbers of labelled cells k.")
@click.option("--draws", type=O.checked("draws"), default=10, show_default=True,
              help="Random labelled sets per k.")
@click.option("--model", "models", multiple=True, type=click.Choice(["linear", "gbt"]),
              default=("linear",), show_default=True,
              help="linear: ridge on rank features; gbt: gradient-boosted trees. Repeatable.")
@O.DATASET
@O.GROUND_TRUTH
@O.SEED
@O.MISSING
@O.out_file("The curve (per-draw rows go to OUT's stem + .draws.csv)")
@friendly
def predict(tables, columns, labels, draws, models, dataset, ground_truth, seed, missing,
            out) -> None:
    """Few-label predictors: tau/rho on the unlabelled cells vs the number of labels k.

    \b
    proxybench predict --scores zc.csv --scores cells.csv --labels 10,50,200 --draws 10 \\
        --model linear --model gbt --out curve.csv
    """
    from ..api import predict as run_predict
    _need(tables)
    curve = run_predict(list(tables), columns=list(columns), labels=O.ints(labels, "--labels"),
                        draws=draws, model=list(models), dataset=dataset,
                        ground_truth=_gt(ground_truth), seed=seed or 0, missing=missing,
                        out=out, meta={"command": _command()})
    for r in curve.itertuples():
        click.echo(f"{r.model:6s} k={r.k:<4d} tau {r.tau_mean:+.3f} ± {r.tau_sd:.3f}  "
                   f"rho {r.rho_mean:+.3f} ± {r.rho_sd:.3f}  ({r.draws} draws, "
                   f"{r.cells} cells)")
    click.echo(f"-> {out}")


# --------------------------------------------------------------------------- ensemble
@main.command()
@O.SCORES
@O.COLUMNS
@click.option("--aggregation", "methods", multiple=True, type=click.Choice(["rank", "logrank"]),
              default=("logrank", "rank"), show_default=True,
              help="Aggregation(s): mean rank, or AZ-NAS's sum of log(rank/N).")
@click.option("--declare", "declared", multiple=True,
              help="A pre-declared ensemble NAME=col1,col2,... (fixed before looking; "
                   "'NAME=*' = every candidate). Repeatable.")
@click.option("--splits", type=O.checked("splits"), default=10, show_default=True,
              help="Random halves for held-out selection.")
@click.option("--min-members", type=O.checked("min_members"), default=2, show_default=True)
@O.DATASET
@O.GROUND_TRUTH
@O.BOOTSTRAP
@O.SEED
@O.MISSING
@O.out_dir("Where splits.csv, summary.csv, members.csv and all_cells.csv go")
@friendly
def ensemble(tables, columns, methods, declared, splits, min_members, dataset, ground_truth,
             bootstrap, seed, missing, out) -> None:
    """Label-free ensembles: members chosen on a held-out half, and pre-declared ones.

    Greedy forward selection of members on a random half of the cells (Kendall tau), tau on
    the other half; repeated over --splits halves. Writes OUT/splits.csv, summary.csv,
    members.csv and OUT/all_cells.csv (every column and declared ensemble on all cells).

    \b
    proxybench ensemble --scores zc.csv --scores cells.csv --declare 'free3=nwot,synflow,params_live' --out ens/
    """  # noqa: E501
    from ..analysis.ensemble import ensemble_tables
    _need(tables)
    seed = seed or 0
    start = time.time()
    res = ensemble_tables(list(tables), columns=list(columns), methods=list(methods),
                          declared=list(declared), splits=splits, min_members=min_members,
                          dataset=dataset, ground_truth=_gt(ground_truth), n_boot=bootstrap,
                          seed=seed, out=out,
                          meta=_meta({"tables": list(tables), "seed": seed}),
                          started=start, missing=missing)
    for r in res.itertuples():
        click.echo(f"{r.method:7s} {r.kind:11s} {r.name:28.28s} tau {r.tau_mean:+.3f} ± "
                   f"{r.tau_sd:.3f} (held-out halves, {r.splits} splits)  {r.members}")
    click.echo(f"-> {out}")


# --------------------------------------------------------------------------- beyond
@main.command()
@click.option("--zc", "zc", required=True, type=click.Path(dir_okay=False, exists=True),
              help="Zero-cost proxies on a seeded sample (its cells are the sample).")
@click.option("--counts", "cells_table", required=True,
              type=click.Path(dir_okay=False, exists=True),
              help="The free counts (`proxybench cells`).")
@click.option("--supernet", type=click.Path(dir_okay=False, exists=True), default=None,
              help="One supernet's proxies on (at least) the same cells.")
@click.option("--extra", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help="More proxy tables on the same cells (repeat), e.g. the training-free "
                   "proxies.")
@O.DATASET
@O.GROUND_TRUTH
@O.BOOTSTRAP
@O.QUIET
@O.out_dir("Where ensemble/, predict/, predict-zc/, combined/, search/ and beyond.md go")
@friendly
def beyond(zc, cells_table, supernet, extra, dataset, ground_truth, bootstrap, quiet,
           out) -> None:
    """Beyond single proxies on one scored sample: label-free ensembles (held-out member
    selection and ensembles declared in advance), few-label predictors, and search on the
    sample with each; the section `report --beyond OUT` shows (OUT/beyond.md).

    \b
    proxybench beyond --zc zc.csv --counts cells.csv --extra tf.csv --out beyond/
    """
    from ..api import beyond as run_beyond
    folder = run_beyond(out, zc, cells_table, supernet=supernet, extra=list(extra),
                        dataset=dataset, ground_truth=ground_truth, n_boot=bootstrap,
                        echo=None if quiet else click.echo, command=_command())
    click.echo(f"-> {folder / 'beyond.md'}")


# --------------------------------------------------------------------------- search-pool
@main.command("search-pool")
@O.SCORES
@O.COLUMNS
@click.option("--predictor", "predictors", multiple=True,
              help="MODEL:K, e.g. gbt:50: a predictor spending K labels inside the search.")
@click.option("--features", default=None,
              help="Predictor features, comma-separated (default: every proxy column).")
@click.option("--label-baseline", "label_baselines", multiple=True, type=int,
              help="Random search that labels K random cells and keeps the best. Repeatable.")
@click.option("--strategy", "algorithms", multiple=True,
              type=click.Choice(["evolution", "random", "exhaustive"]),
              default=("evolution", "random"), show_default=True,
              help="How each --column is searched (repeat); exhaustive = the top cell of the "
                   "whole sample.")
@click.option("--budget", type=click.IntRange(min=2), default=200, show_default=True,
              help="Evaluations (distinct cells scored) per search, labels included.")
@O.POPULATION
@O.MUTATION_PROB
@O.REPEATS
@O.DATASET
@O.GROUND_TRUTH
@O.MISSING
@O.out_dir("Where the finds and their summary go")
@friendly
def search_pool(tables, columns, predictors, features, label_baselines, algorithms, budget,
                population, mutation_prob, repeats, dataset, ground_truth, missing,
                out) -> None:
    """Search restricted to the scored sample: proxies, ensembles and predictors at one
    budget of evaluations, against random search (see proxybench.analysis.pool_search).
    Seeds 0..R-1 (--repeats).

    \b
    proxybench search-pool --scores zc.csv --scores cells.csv --column nwot --predictor gbt:100 --repeats 5 --out sp/
    """  # noqa: E501
    from ..analysis.pool_search import search_tables
    _need(tables)
    start = time.time()
    summary = search_tables(list(tables), proxies=list(columns),
                            predictors=list(predictors), features=O.split(features),
                            label_baselines=list(label_baselines),
                            algorithms=list(algorithms), budget=budget,
                            population=population, mutation_prob=mutation_prob,
                            seeds=list(range(repeats)), dataset=dataset,
                            ground_truth=_gt(ground_truth), out=out,
                            meta=_meta({"tables": list(tables)}), started=start,
                            missing=missing)
    for r in summary.itertuples():
        click.echo(f"{r.method:40.40s} {r.algorithm:9s} acc {r.test_acc_mean:.2f} ± "
                   f"{r.test_acc_sd:.2f}  rank {r.rank_in_sample_mean:.1f} of {r.sample}  "
                   f"({r.evaluations} evals, {r.labels} labels)")
    click.echo(f"-> {out}")
