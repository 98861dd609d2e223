"""The HTML report renders in a real browser (headless Chromium), figures included."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from proxybench.report.build import build_report
from proxybench.spaces import nb201

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)


def _scores(tmp_path, gt_csv):
    """A real score table: #params of 300 cells (no supernet needed)."""
    from proxybench.nets.nb201 import cell_cost
    idx = nb201.sample_cells(300, seed=2)
    rows = [{"arch_index": i, "arch": nb201.format_arch(nb201.cell_at(i)),
             "params": cell_cost(nb201.cell_at(i))[0], "error": ""} for i in idx]
    path = tmp_path / "cells.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_markdown_tables_escape_arch_strings(tmp_path, gt_csv):
    out = build_report(tmp_path / "rep", scores=[_scores(tmp_path, gt_csv)],
                       ground_truth=str(gt_csv), n_boot=10)
    md = (out / "index.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| table |"))
    row = md.splitlines()[md.splitlines().index(header) + 2]
    # every row has as many cells as the header, even with '|' inside NB201 arch strings
    assert row.replace("\\|", "").count("|") == header.count("|")


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(tmp_path, gt_csv):
    from PIL import Image
    out = build_report(tmp_path / "rep", scores=[_scores(tmp_path, gt_csv)],
                       ground_truth=str(gt_csv), n_boot=10, title="render check")
    shot = tmp_path / "shot.png"
    subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", f"--screenshot={shot}", "--window-size=1100,2400",
                    (out / "index.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # the scatter plot's points are matplotlib's default blue (#1f77b4, drawn with alpha on
    # white): only an embedded figure that the browser decoded puts them on screen
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    bluish = (b - r > 40) & (b - g > 15)
    assert bluish.sum() > 500
    # and the text rendered: plenty of dark pixels
    assert (pixels.sum(-1) < 200).sum() > 2000


@pytest.mark.skipif(BROWSER is None, reason="no headless Chromium (apt-get install chromium)")
def test_html_report_has_no_horizontal_overflow_at_1400px(tmp_path, gt_csv):
    out = build_report(tmp_path / "rep", scores=[_scores(tmp_path, gt_csv)],
                       ground_truth=str(gt_csv), n_boot=10, title="overflow check")
    page = (out / "index.html").read_text()
    probe = ("<script>document.body.setAttribute('data-overflow', String("
             "document.documentElement.scrollWidth - window.innerWidth));</script>")
    checked = tmp_path / "probe.html"
    checked.write_text(page.replace("</body>", probe + "</body>"))
    dom = subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
                          "--window-size=1400,2400", "--dump-dom", checked.as_uri()],
                         check=True, capture_output=True, timeout=120, text=True).stdout
    overflow = int(dom.split('data-overflow="')[1].split('"')[0])
    assert overflow <= 0, f"the page is {overflow} px wider than a 1400 px window"


def test_cross_dataset_compares_two_leaderboards(tmp_path):
    # two leaderboards: cifar100 keeps cifar10's order except two proxies swapped
    import json

    import pandas as pd

    from tests.cli_helpers import one_line_error, run
    names = [f"p{i}" for i in range(8)]
    def board(taus, sd=None):
        return pd.DataFrame({"proxy": names, "kind": "zero-cost", "replicates": 1,
                             "tau": taus, "tau_sd": float("nan"),
                             "tau_ci_low": [t - 0.02 for t in taus],
                             "tau_ci_high": [t + 0.02 for t in taus]})
    c10 = [0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    c100 = [0.75, 0.65, 0.45, 0.55, 0.35, 0.25, 0.15, 0.05]
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    board(c10).to_csv(a, index=False)
    sn = board(c100)
    sn.loc[7, ["kind", "replicates", "tau_sd"]] = ["supernet", 5, 0.04]
    sn.to_csv(b, index=False)
    res = run("cross-dataset", "--board", f"cifar10={a}", "--board", f"cifar100={b}",
              "--bootstrap", "200", "--out", tmp_path / "x.md")
    meta = json.loads((tmp_path / "x.json").read_text())
    # 28 pairs, one discordant: tau = (27 - 1) / 28
    assert meta["kendall_tau"] == pytest.approx(26 / 28)
    assert meta["tau_ci_low"] <= meta["kendall_tau"] <= meta["tau_ci_high"] <= 1
    assert meta["mean_shift"] == pytest.approx(-0.05)
    assert meta["largest_move"] in ("p2", "p3") and "+0.929" in res.output
    md = (tmp_path / "x.md").read_text()
    assert "| p2 | zero-cost | +0.600 [+0.580, +0.620] | +0.450 [+0.430, +0.470] | 3 | 4 |" \
        in md
    assert "+0.050 ± 0.040 (5 seeds)" in md
    table = pd.read_csv(tmp_path / "x.csv")
    assert list(table["proxy"]) == names
    one_line_error(run("cross-dataset", "--board", f"cifar10={a}", "--out",
                       tmp_path / "y.md", ok=False), "two leaderboards")
    one_line_error(run("cross-dataset", "--board", f"cifar10={a}", "--board",
                       f"cifar100={tmp_path / 'none.csv'}", "--out", tmp_path / "y.md",
                       ok=False), "does not exist")
    one_line_error(run("cross-dataset", "--board", "cifar10", "--board", f"x={b}", "--out",
                       tmp_path / "y.md", ok=False), "NAME=FILE")


def test_leaderboard_without_seed_tables_uses_the_cells_every_table_shares(tmp_path, gt_csv):
    import json

    from proxybench.analysis.groundtruth import load_ground_truth
    from proxybench.analysis.leaderboard import leaderboard
    rng = np.random.default_rng(0)
    big = np.arange(0, 400)
    small = big[::4]
    for name, idx in (("a", small), ("b", big)):
        pd.DataFrame({"arch_index": idx, f"p_{name}": rng.normal(size=len(idx))}).to_csv(
            tmp_path / f"{name}.csv", index=False)
        (tmp_path / f"{name}.json").write_text(json.dumps({"proxies": [
            {"column": f"p_{name}", "higher_is_better": True}]}))
    board = leaderboard([], [tmp_path / "a.csv", tmp_path / "b.csv"],
                        load_ground_truth(str(gt_csv)), "cifar10", n_boot=0)
    assert (board["cells"] == len(small)).all()


def test_contents_lists_the_sections_of_markdown_blocks_and_lists_render_as_lists(tmp_path):
    """A section written as one Markdown block (the beyond section) adds its heading to the
    table of contents, not its body; '- ' lines become an HTML list, wrapped lines included."""
    from proxybench.report.build import _Doc

    doc = _Doc(tmp_path)
    doc.h(2, "Findings")
    doc.markdown("- **Best:** one\n- two,\n  wrapped")
    doc.markdown("## Beyond\n\nsome text\n\n### Sub\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    toc = doc.contents()
    assert toc.md == ["**Contents:** Findings · Beyond\n"]
    assert '<a href="#beyond">Beyond</a>' in toc.html[0]
    assert "<ul><li><b>Best:</b> one</li><li>two, wrapped</li></ul>" in "".join(doc.html)


def test_darts_section_names_the_dataset_searched(tmp_path):
    from proxybench.report.build import _darts, _Doc

    doc = _Doc(tmp_path)
    _darts(doc, {tmp_path / "s": {"dataset": "cifar100", "found": "g", "algorithm": "evolution",
                                  "proxy": "flatness", "evaluations": 100}}, [])
    assert doc.md[0] == "## DARTS space: search on CIFAR-100, retrain from scratch\n"


def test_table1_has_a_row_per_table_and_the_seeds_mean_and_sd(tmp_path):
    """Table 1 (tau between angle and flatness) from all cells of one supernet and from each
    seed's sample, with the seeds' mean ± sd: the paper's one number is one supernet's."""
    from scipy.stats import kendalltau

    from proxybench.report.build import _Doc, _table1

    rng = np.random.default_rng(3)
    def table(n, noise):
        a = rng.normal(size=n)
        return pd.DataFrame({"arch_index": np.arange(n), "angle": a,
                             "flatness": a + noise * rng.normal(size=n)})
    full, s0, s1 = table(300, 1.0), table(100, 0.5), table(100, 2.0)
    s1.loc[3, "flatness"] = np.nan          # a failed cell leaves the pair out
    doc = _Doc(tmp_path)
    _table1(doc, [(tmp_path / "all.csv", full), (tmp_path / "combined.csv", full.assign(x=1))],
            [(tmp_path / "seed-0.csv", s0), (tmp_path / "seed-1.csv", s1)], "cifar100")
    md = "".join(doc.md)
    taus = [kendalltau(t["angle"], t["flatness"], nan_policy="omit")[0] for t in (full, s0, s1)]
    assert f"| cifar100 | all.csv | 300 | {taus[0]:+.4f} | 0.4724 |" in md
    assert "combined.csv" not in md          # the same columns copied into another table
    assert f"| cifar100 | seed-0.csv | 100 | {taus[1]:+.4f} | 0.4724 |" in md
    assert f"| cifar100 | seed-1.csv | 99 | {taus[2]:+.4f} | 0.4724 |" in md
    mean, sd = np.mean(taus[1:]), np.std(taus[1:], ddof=1)
    assert f"| mean ± sd over 2 seeds | 99/100 | {mean:+.4f} ± {sd:.4f} |" in md
    empty = _Doc(tmp_path)                   # no table with both proxies: no section
    _table1(empty, [(tmp_path / "x.csv", full[["arch_index", "angle"]])], [], "cifar10")
    assert empty.md == []


def test_the_epoch_curve_finding_is_its_last_checkpoint():
    """The findings' line on `ablate epochs`: the last checkpoint's proxies, best first, with
    the seeds' mean ± sd (several supernets) or the cell CI (one)."""
    from proxybench.report.build import _curve_finding

    rows = [{"epoch": e, "seed": s, "proxy": p, "kendall_tau": t + 0.1 * s, "ci_low": t - 0.05,
             "ci_high": t + 0.05, "n": 200, "run_epochs": 250, "supernet": "C=16, N=5"}
            for e in (10, 50) for s in (0, 1)
            for p, t in (("flatness", 0.2 + e / 100), ("angle", 0.1))]
    two = pd.DataFrame(rows)
    line = _curve_finding(two)
    assert line.startswith("**Training epochs (C=16, N=5):** at epoch 50 of 250 (2 supernets")
    assert "flatness +0.750 ± 0.071, angle +0.150 ± 0.071" in line    # best first
    one = _curve_finding(two[two.seed == 0])
    assert "(one supernet, 200 cells)" in one and "flatness +0.700 [+0.650, +0.750]" in one
