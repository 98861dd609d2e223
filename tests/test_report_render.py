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
