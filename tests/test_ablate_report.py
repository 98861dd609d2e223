"""Ablations and reports on a real tiny supernet (small cell samples)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from proxybench.engine.ablate import ALPHAS, GAMMA_TABLES, SIGMA_SETS, run_ablation
from proxybench.report.build import build_report
from proxybench.spaces import nb201

CELLS = nb201.sample_cells(12, seed=4)


@pytest.mark.parametrize("name,rows", [
    ("alpha", len(ALPHAS)), ("gamma", sum(len(g[3]) for g in GAMMA_TABLES)), ("epochs", 4 * 2),
    ("position", 2), pytest.param("direction", 2, marks=pytest.mark.slow)])  # hessian: ~2 min
def test_ablation_tables_have_a_row_per_setting(name, rows, tiny_run, tmp_path, gt_csv):
    table = run_ablation(name, run_dir=tiny_run, indices=CELLS, out=tmp_path,
                         ground_truth=str(gt_csv), dataset="cifar10", n_boot=10,
                         echo=lambda _: None)
    assert len(table) == rows
    assert table["kendall_tau"].between(-1, 1).all() and (table["n"] == 12).all()
    assert pd.read_csv(tmp_path / f"{name}.csv").shape == table.shape
    if name == "alpha":
        assert table.loc[table.alpha == 0, "depth_share_percent"].item() == 0
        assert table["depth_share_percent"].is_monotonic_increasing
    if name == "gamma":
        zero = table[table.gamma == 0]
        assert (zero["term_share_percent"] == 0).all()
        assert set(table["table"]) == {"Table 8", "Table 9", "Table 10"}
        for _, rows in table.groupby("table"):  # a larger gamma gives the term a larger share
            assert rows["term_share_percent"].is_monotonic_increasing


@pytest.mark.slow
def test_sigma_ablation(tiny_run, tmp_path, gt_csv):
    table = run_ablation("sigma", run_dir=tiny_run, indices=CELLS, out=tmp_path,
                         ground_truth=str(gt_csv), dataset="cifar10", n_boot=10,
                         echo=lambda _: None)
    assert len(table) == len(SIGMA_SETS)
    # both of the paper's Table 5 columns beside ours (CIFAR-10 and ImageNet16-120)
    assert table["paper_tau_cifar10"].tolist() == [0.5756, 0.5770, 0.6047, 0.5416]
    assert table["paper_tau_imagenet16_120"].tolist() == [0.5524, 0.5531, 0.5800, 0.2364]


def test_report_from_tables(tiny_run, tmp_path, gt_csv):
    from proxybench.engine.score import context_from_run, score_cells
    from proxybench.proxies import parse_specs
    specs = parse_specs("flatness;angle;params")
    ctx, info = context_from_run(tiny_run, specs)
    score_cells(specs, ctx, nb201.sample_cells(60, 1), tmp_path / "s.csv", progress=False,
                meta={**info, "command": "proxybench score ..."})
    (tmp_path / "cmds.sh").write_text("proxybench train --preset tiny --out r\n")
    out = build_report(tmp_path / "rep", scores=[tmp_path / "s.csv"],
                       ground_truth=str(gt_csv), n_boot=10, k=10, title="t",
                       commands=tmp_path / "cmds.sh")
    md = (out / "index.md").read_text()
    page = (out / "index.html").read_text()
    for proxy in ("flatness", "angle", "params"):
        assert f"| {proxy} |" in md
    assert "Table 1" in md and "Fig. 2" in md and "0.4302" in md
    assert "```\nproxybench train --preset tiny --out r\n```" in md  # the commands ...
    assert "<pre>proxybench train --preset tiny --out r</pre>" in page
    # ... come last; the leaderboard first
    assert md.index("## Leaderboard") < md.index("## Table 1") < md.index("## Commands")
    # the findings open the report, then the contents, linked to each section
    assert md.index("## Findings") < md.index("**Contents:**") < md.index("## Leaderboard")
    best = board_best = pd.read_csv(out / "leaderboard.csv").iloc[0]
    assert f"**Best proxy:** {best['proxy']} ({best['kind']}), Kendall tau " \
        f"{best['tau']:+.3f}" in md
    assert board_best["proxy"] in md.split("## Leaderboard")[0]
    assert '<a href="#table-1-kendall-tau-between-angle-and-flatness">' in page
    assert '<h2 id="table-1-kendall-tau-between-angle-and-flatness">' in page
    assert md.rstrip().endswith("```")
    assert page.count("data:image/png;base64,") == 3  # leaderboard, scatter, Fig. 2 embedded
    board = pd.read_csv(out / "leaderboard.csv")
    assert set(board["proxy"]) == {"flatness", "angle", "params"}
    assert (board["replicates"] == 1).all() and board["tau"].is_monotonic_decreasing
    assert (out / "fig1.png").is_file()
    # published rho and tau in their own columns; with seed tables, the supernets' setting
    # beside the published supernet values
    assert "| published rho | published tau |" in md
    seeded = build_report(tmp_path / "rep2", seeds=[tmp_path / "s.csv"],
                          ground_truth=str(gt_csv), n_boot=10, k=10, title="t")
    md2 = (seeded / "index.md").read_text()
    preset = json.loads((tmp_path / "s.json").read_text())["preset"]
    assert (f"Our supernets: C={preset['channels']}, N={preset['layers']}, "
            f"{preset['epochs']} epochs, batch {preset['batch_size']}, uniform sampling "
            f"(preset tiny).") in md2


def test_report_puts_the_papers_ablations_in_its_order(tiny_run, tmp_path, gt_csv):
    """Ablations given in any order appear as the paper numbers them: 6, 7, then 8-10."""
    paths = []
    for name in ("gamma", "position", "alpha"):
        run_ablation(name, run_dir=tiny_run, indices=CELLS, out=tmp_path, dataset="cifar10",
                     ground_truth=str(gt_csv), n_boot=10, echo=lambda _: None)
        paths.append(tmp_path / f"{name}.csv")
    out = build_report(tmp_path / "rep", ablations=paths, ground_truth=str(gt_csv), n_boot=10,
                       title="t")
    md = (out / "index.md").read_text()
    assert md.index("## Table 6") < md.index("## Table 7") < md.index("## Tables 8-10")
