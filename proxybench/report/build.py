"""Reports: Markdown + self-contained HTML rebuilt from the tool's own tables.

``build_report`` reads score tables (each with its ``.json``), search folders and the NB201
ground truth, and writes ``index.md`` (PNG figures beside it) and ``index.html`` (figures
embedded), with, where they apply:

- proxy vs ground truth: Kendall tau, Spearman rho, top-5% precision, nDCG with 95% CIs;
- Table 1: tau between angle and flatness;
- Fig. 2: validation loss vs sigma for the top-, middle- and bottom-k cells by ground truth
  (from the flatness run's per-sigma losses);
- a scatter of every proxy against ground truth, tau in the title;
- search results: method, proxy, found cells' accuracy mean ± std and rank;
- Fig. 3: validation loss vs sigma of the cells each search found;
- ablation tables (Tables 5-10 as Kendall tau, and tau vs supernet epochs, plotted);
- the paper's number beside ours where the paper has one, and where ours was measured.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..analysis.groundtruth import join_scores, load_ground_truth  # noqa: E402
from ..analysis.metrics import correlate, kendall_tau  # noqa: E402
from ..run.files import atomic_write_bytes  # noqa: E402
from ..spaces import get_space  # noqa: E402
from ..table import direction, proxy_columns, read_meta_or_empty, read_scores  # noqa: E402

# GeNAS paper numbers on NB201 (Kendall tau), quoted from its Tables 1 and 5-7
PAPER_TAU = {
    ("flatness", "cifar10"): 0.6047,
    ("flatness", "imagenet16-120"): 0.5800,
    ("flatness[alpha=0]", "cifar10"): 0.1777,
    ("flatness[position=cells]", "cifar10"): 0.5612,
    ("flatness[direction=hessian]", "cifar10"): 0.5908,
}
PAPER_TABLE1 = {"cifar10": 0.4302, "cifar100": 0.4724, "imagenet16-120": 0.4097}


class _Doc:
    """Collects Markdown and HTML side by side, so both say the same thing."""

    def __init__(self, out: Path) -> None:
        self.out, self.md, self.html, self.n_fig = out, [], [], 0

    def h(self, level: int, text: str) -> None:
        self.md.append(f"{'#' * level} {text}\n")
        self.html.append(f'<h{level} id="{_slug(text)}">{html.escape(text)}</h{level}>')

    def mark(self) -> tuple[int, int]:
        """Where the document is now, to :meth:`insert` at later."""
        return len(self.md), len(self.html)

    def insert(self, at: tuple[int, int], other: _Doc) -> None:
        """Put what ``other`` holds at ``at`` (a summary written once its numbers exist)."""
        self.md[at[0]:at[0]] = other.md
        self.html[at[1]:at[1]] = other.html

    def contents(self) -> _Doc:
        """A table of contents of the level-2 sections, linked in the HTML."""
        toc = _Doc(self.out)
        names = [line[3:].strip() for entry in self.md for line in entry.splitlines()
                 if line.startswith("## ")]
        toc.md.append("**Contents:** " + " · ".join(names) + "\n")
        toc.html.append("<p><b>Contents:</b> " + " · ".join(
            f'<a href="#{_slug(n)}">{html.escape(n)}</a>' for n in names) + "</p>")
        return toc

    def p(self, text: str) -> None:
        self.md.append(text + "\n")
        self.html.append(f"<p>{html.escape(text)}</p>")

    def code(self, text: str) -> None:
        self.md.append(f"```\n{text}\n```\n")
        self.html.append(f"<pre>{html.escape(text)}</pre>")

    def table(self, df: pd.DataFrame) -> None:
        cols = list(df.columns)
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        # NB201 arch strings are full of '|', which would split a Markdown cell
        lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
                  for row in df.itertuples(False)]
        self.md.append("\n".join(lines) + "\n")
        self.html.append('<div class="scroll">'
                         + df.to_html(index=False, escape=True, border=0, classes="t")
                         + "</div>")

    def markdown(self, text: str) -> None:
        """A Markdown section written elsewhere (headings, pipe tables, paragraphs), kept
        as is in index.md and rendered into the HTML."""
        self.md.append(text.rstrip() + "\n")
        block: list[str] = []

        def flush() -> None:
            if not block:
                return
            if block[0].startswith("- "):       # a list; an item's lines may wrap
                items: list[str] = []
                for line in block:
                    if line.startswith("- "):
                        items.append(line[2:])
                    else:
                        items[-1] += " " + line.strip()
                self.html.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items)
                                 + "</ul>")
            elif block[0].startswith("|"):
                rows = [[c.strip().replace("\\|", "|") for c in
                         re.split(r"(?<!\\)\|", line.strip())[1:-1]]
                        for line in block if not re.match(r"^\|[-:| ]+\|$", line.strip())]
                head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
                body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>"
                               for r in rows[1:])
                self.html.append(f'<div class="scroll"><table class="t"><thead><tr>{head}'
                                 f"</tr></thead><tbody>{body}</tbody></table></div>")
            else:
                self.html.append(f"<p>{_inline(' '.join(block))}</p>")
            block.clear()

        for line in text.splitlines():
            heading = re.match(r"^(#{1,6}) (.*)$", line)
            if heading:
                flush()
                level = len(heading.group(1))
                self.html.append(f'<h{level} id="{_slug(heading.group(2))}">'
                                 f"{_inline(heading.group(2))}</h{level}>")
            elif not line.strip() or (block and block[0].startswith("|")
                                      != line.startswith("|")):
                flush()
                if line.strip():
                    block.append(line)
            else:
                block.append(line)
        flush()

    def figure(self, fig: plt.Figure, caption: str) -> None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.image(buf.getvalue(), caption)

    def image(self, png: bytes, caption: str) -> None:
        """A PNG beside index.md and embedded in index.html."""
        self.n_fig += 1
        name = f"fig{self.n_fig}.png"
        atomic_write_bytes(self.out / name, png)
        data = base64.b64encode(png).decode()
        self.md.append(f"![{caption}]({name})\n\n*{caption}*\n")
        self.html.append(f'<figure><img src="data:image/png;base64,{data}" alt="'
                         f'{html.escape(caption)}"><figcaption>{html.escape(caption)}'
                         f"</figcaption></figure>")

    def write(self, title: str) -> None:
        atomic_write_bytes(self.out / "index.md", "\n".join(self.md).encode())
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
                "</title><style>body{font-family:sans-serif;max-width:1400px;margin:2em auto;"
                "padding:0 1em}div.scroll{overflow-x:auto;max-width:100%}"
                "table.t{border-collapse:collapse;font-size:0.9em}"
                "table.t td,table.t th{border:1px solid #ccc;"
                "padding:3px 8px;text-align:right}img{max-width:100%}pre{background:#f4f4f4;"
                "padding:8px;overflow-x:auto}</style></head><body>"
                + "\n".join(self.html) + "</body></html>")
        atomic_write_bytes(self.out / "index.html", page.encode())


def _slug(text: str) -> str:
    """A heading's HTML anchor: lower-case words joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _inline(text: str) -> str:
    """Markdown's inline **bold** and `code` in escaped HTML."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def _fmt(v: float, ci: tuple[float, float] | None = None) -> str:
    if v != v:
        return "n/a"
    return f"{v:+.4f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci and ci[0] == ci[0] else "")


def _check_inputs(scores: Sequence[str | Path], seeds: Sequence[str | Path],
                  searches: Sequence[str | Path], beyond: Sequence[str | Path],
                  ablations: Sequence[str | Path] = ()) -> None:
    """The report's inputs, checked before its folder is made: score tables readable, seed
    tables replicates of one setting (fingerprints, proxies and settings alike), search and
    beyond folders holding what their commands write."""
    from ..analysis.correlation import check_replicates
    from ..errors import ProxybenchError
    from ..table import proxy_columns
    for p in (*scores, *seeds):
        read_scores(p)
    if len(seeds) > 1:
        columns = {Path(p): proxy_columns(read_scores(p)) for p in seeds}
        first = next(iter(columns))
        for p, cols in columns.items():
            if set(cols) != set(columns[first]):
                raise ProxybenchError(f"--seed-tables {p} has the proxies {', '.join(cols)}, "
                                      f"{first} {', '.join(columns[first])}: seed tables are "
                                      f"one table per seed of the same proxies")
        check_replicates(list(columns), ", ".join(columns[first]))
    for root in map(Path, beyond):
        if not (root / "title.txt").is_file() and not (root / "beyond.md").is_file():
            raise ProxybenchError(f"--beyond {root} is not a folder written by `proxybench "
                                  f"beyond` (no title.txt or beyond.md); pass one")
    for path in map(Path, ablations):
        try:
            table = pd.read_csv(path)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise ProxybenchError(f"--ablation {path} is not a readable ablation table "
                                  f"({type(exc).__name__}); pass a NAME.csv written by "
                                  f"`proxybench ablate`") from exc
        if table.empty or (_study(path) not in TRUST_ABLATIONS and "n" not in table.columns):
            raise ProxybenchError(f"--ablation {path} is not an ablation table written by "
                                  f"`proxybench ablate` (its stem names the study: "
                                  f"{', '.join([*ABLATION_TITLES, *TRUST_ABLATIONS])})")
    for root in map(Path, searches):
        if not root.is_dir():
            raise ProxybenchError(f"--search {root} is not a folder; pass the --out of "
                                  f"`proxybench search`")


def build_report(out: str | Path, *, scores: Sequence[str | Path] = (),
                 seeds: Sequence[str | Path] = (),
                 searches: Sequence[str | Path] = (), ablations: Sequence[str | Path] = (),
                 retrains: Sequence[str | Path] = (), beyond: Sequence[str | Path] = (),
                 ground_truth: str | None, metric: str = "test-200",
                 dataset: str = "cifar10", title: str = "proxybench report",
                 n_boot: int = 200, k: int = 50, notes: Sequence[str] = (),
                 commands: str | Path | None = None, missing: str = "last",
                 echo: Callable[[str], None] | None = None) -> Path:
    """Write ``out/index.md`` and ``out/index.html``; returns the folder.

    The report reads top down: the leaderboard (every proxy's tau with its uncertainty, the
    published value beside it) on the cells the ``seeds`` tables share, the training-seed
    spread, the variance and budget studies, the zero-cost reproduction; then the paper's
    tables and figures from ``scores`` (e.g. all cells of one supernet), searches,
    ablations; provenance and the ``commands`` file (the script that made the results)
    last. ``seeds`` are score tables of the supernets of one seed group (one per seed).
    ``echo`` gets one line as each part starts (a report with many bootstraps takes
    minutes)."""
    say = echo or (lambda line: None)
    if not (scores or seeds or searches or ablations or retrains or beyond):
        from ..errors import ProxybenchError
        raise ProxybenchError("nothing to report: pass --scores, --seed-tables, --search, "
                              "--ablation, --retrain or --beyond")
    _check_inputs(scores, seeds, searches, beyond, ablations)   # every input, first
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = _Doc(out)
    doc.h(1, title)
    for n in notes:
        doc.p(n)
    top = doc.mark()
    truth = load_ground_truth(ground_truth, metric) if ground_truth else None
    ablation_paths = [Path(a) for a in ablations]
    seed_sd: dict[str, float] = {}
    findings = _Doc(out)
    if truth is not None and (seeds or scores):
        say(f"report: the leaderboard ({n_boot} bootstrap resamples per proxy) ...")
        board = _trust(doc, out, list(map(Path, seeds)), list(map(Path, scores)), truth,
                       dataset, n_boot, missing, sorted((a for a in ablation_paths
                                                if _study(a) in TRUST_ABLATIONS),
                                               key=lambda a: (TRUST_ABLATIONS.index(_study(a)),
                                                              a.stem)))
        seed_sd = {r.proxy: r.tau_sd for r in board.itertuples() if r.replicates > 1}
        curve = [pd.read_csv(a) for a in ablation_paths if a.stem == "epochs"]
        _findings(findings, board, dataset, curve[0] if curve else None)
    else:   # no leaderboard to open with: the trust studies stand on their own
        for a in sorted((a for a in ablation_paths if _study(a) in TRUST_ABLATIONS),
                        key=lambda a: (TRUST_ABLATIONS.index(_study(a)), a.stem)):
            _trust_ablation(doc, a)
    # the paper's ablations in its order (Tables 5, 6, 7, 8-10), whatever order they came in
    order = list(ABLATION_TITLES)
    ablation_paths = sorted((a for a in ablation_paths if _study(a) not in TRUST_ABLATIONS),
                            key=lambda a: order.index(a.stem) if a.stem in order else len(order))
    if beyond:   # ensembles, few-label predictors and their searches (`proxybench beyond` folders)
        from ..analysis.beyond import render_beyond
        say("report: ensembles, predictors and their searches ...")
        doc.markdown(render_beyond(list(beyond)))

    tables = [(Path(s), read_scores(s)) for s in scores]
    if tables and truth is not None:
        say(f"report: every column of {len(tables)} score table(s), scatter plots, Fig. 2 ...")
        doc.h(2, f"Rank correlation with NB201 {dataset} test accuracy, per table")
        rows, scatter = [], []
        for path, t in tables:
            joined = join_scores(t, truth, dataset)
            for col in proxy_columns(t):
                if any(r["proxy"] == col for r in rows):
                    continue  # a column copied into a combined table is reported once
                use = joined.loc[joined["truth"].notna(), [col, "truth"]]
                if use[col].notna().sum() < 3:
                    continue
                r = correlate(use[col].to_numpy(), use["truth"].to_numpy(), n_boot=n_boot,
                              higher_is_better=direction(path, col), missing=missing)
                tau = r.loc["kendall_tau"]
                paper = PAPER_TAU.get((col, dataset))
                secs = t.get(f"{col}_seconds")
                rows.append({
                    "proxy": col, "cells": int(tau["n"]),
                    "Kendall tau [95% CI]": _fmt(tau["value"], (tau["ci_low"], tau["ci_high"])),
                    "Spearman rho": _fmt(r.loc["spearman_rho", "value"]),
                    "top-5% precision": f"{r.loc['top5%', 'value']:.3f}",
                    "nDCG": f"{r.loc['ndcg', 'value']:.3f}",
                    "s/cell": _seconds_text(secs.mean()) if secs is not None else "-",
                    "paper tau": f"{paper:.4f}" if paper else "-"})
                scatter.append((col, use.dropna(), tau["value"], direction(path, col)))
        doc.table(pd.DataFrame(rows))
        doc.p("Paper numbers are the GeNAS paper's (C=16, N=5 supernet, 250 epochs, GPU); "
              "ours are measured at the preset and on the data named above. s/cell is the "
              "mean time recorded per cell; proxies that share work on a cell (val_acc and "
              "val_loss share one recalibrated evaluation) charge it to the first, and the "
              "others show 'shared'.")
        _scatter(doc, scatter, dataset)
        _fig2(doc, tables, truth, dataset, k)

    _table1(doc, tables, [(Path(s), read_scores(s)) for s in seeds], dataset)

    summaries = {Path(s): _summary(Path(s)) for s in searches}
    nb201_searches = {s: m for s, m in summaries.items()    # spaces with ground truth
                      if get_space(m.get("space", "nb201")).ground_truth}
    darts_searches = {s: m for s, m in summaries.items() if s not in nb201_searches}
    if nb201_searches:
        say(f"report: {len(nb201_searches)} search(es), Fig. 3 ...")
        doc.h(2, "Search results")
        rows = []
        for s, summ in nb201_searches.items():
            found = pd.read_csv(s / "search.csv")
            row = {"method": summ["algorithm"], "proxy": summ["proxy"],
                   "seeds": summ["repeats"],
                   "evaluations": int(found["evaluations"].mean()),
                   "most frequent find": found["arch"].mode().iloc[0]}
            for d in ("cifar10", "cifar100", "imagenet16-120"):
                if f"{d}_acc" in summ:
                    row[f"{d} acc (%)"] = (f"{summ[f'{d}_acc']['mean']:.2f} ± "
                                           f"{summ[f'{d}_acc']['std']:.2f}")
                    row[f"{d} rank"] = f"{summ[f'{d}_rank']['mean']:.0f}"
            rows.append(row)
        doc.table(pd.DataFrame(rows))
        _fig3(doc, nb201_searches, tables)
    if darts_searches or retrains:
        _darts(doc, darts_searches, [Path(r) for r in retrains])
    if ablation_paths:
        say(f"report: {len(ablation_paths)} ablation table(s) ...")
    for a in ablation_paths:
        _ablation(doc, a, seed_sd)
    say("report: provenance, index.md, index.html ...")
    _provenance(doc, [(Path(p), read_scores(p)) for p in (*seeds, *scores)], commands)
    doc.insert(top, findings)
    doc.insert((top[0] + len(findings.md), top[1] + len(findings.html)), doc.contents())
    doc.write(title)
    return out


TRUST_ABLATIONS = ("levers", "epochs", "budget", "variance")   # shown in this order


def _study(path: Path) -> str:
    """The study an ablation table's file stem names; trailing digits mark a variant of it
    on other cells (``levers200.csv``: the levers study on 200 cells)."""
    return re.sub(r"\d+$", "", path.stem) or path.stem


README_BEGIN, README_END = "<!-- leaderboard:begin -->", "<!-- leaderboard:end -->"


def readme_markers(dataset: str = "cifar10") -> tuple[str, str]:
    """The lines around a dataset's leaderboard in a Markdown file (CIFAR-10's, the first,
    unnamed; the others named: ``<!-- leaderboard:cifar100:begin -->``)."""
    if dataset == "cifar10":
        return README_BEGIN, README_END
    return f"<!-- leaderboard:{dataset}:begin -->", f"<!-- leaderboard:{dataset}:end -->"


def write_readme_block(path: str | Path, block: str, dataset: str = "cifar10") -> None:
    """Replace the text between a dataset's leaderboard markers of a Markdown file: the
    README's numbers are then the report's, regenerated by the same command."""
    begin, end = readme_markers(dataset)
    text = Path(path).read_text()
    if begin not in text or end not in text:
        from ..errors import ProxybenchError
        raise ProxybenchError(f"{path} has no {begin} ... {end} lines; add them where the "
                              f"{dataset} leaderboard should go")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    atomic_write_bytes(path, f"{head}{begin}\n{block}{end}{tail}".encode())
KIND_COLOURS = {"supernet": "tab:red", "zero-cost": "tab:blue", "free": "tab:green",
                "combination": "tab:purple"}


def _trust(doc: _Doc, out: Path, seeds: list[Path], scores: list[Path], truth: pd.DataFrame,
           dataset: str, n_boot: int, missing: str, ablations: list[Path]) -> pd.DataFrame:
    """The answer first: the leaderboard (figure and table), the seed spread, the variance
    and budget studies, and the zero-cost reproduction against the literature."""
    from ..analysis.correlation import protocol
    from ..analysis.leaderboard import leaderboard, markdown
    board = leaderboard(seeds, scores, truth, dataset, n_boot=n_boot, missing=missing)
    atomic_write_bytes(out / "leaderboard.csv", board.to_csv(index=False).encode())
    atomic_write_bytes(out / "leaderboard.md", markdown(board).encode())
    cells = int(board["cells"].max()) if len(board) else 0
    doc.h(2, "Leaderboard: which proxy ranks NB201 cells like their accuracy")
    n_seeds = int(board["replicates"].max()) if len(board) else 1
    doc.p(f"Every proxy on the same {cells:,} cells"
          + (f"; each supernet proxy on {n_seeds} supernets trained with different seeds: "
             f"the dot is the mean over seeds, the thick bar ± one sd over seeds, the thin "
             f"bar a 95% hierarchical bootstrap CI (seeds, then cells)" if n_seeds > 1 else "")
          + "; other proxies have a 95% cell-bootstrap CI. Crosses: the published value "
          "(Spearman rho, right panel; Kendall tau where one exists, left), under the "
          "protocol its source states (see the reproduction table below). "
          f"Protocol: {protocol(dataset, None, 'all', missing=missing).split('; ', 1)[1]}"
          + (f"; {int((board['failed'] > 0).sum())} proxies failed on some cells (the "
             f"cells column counts them)" if len(board) and (board["failed"] > 0).any()
             else "") + ".")
    if seeds:
        doc.p(f"Our supernets: {_supernet_setting(seeds[0])}. The published supernet values "
              "beside them are GeNAS's (C=16, N=5, 250 epochs, batch 64, on a GPU).")
    _leaderboard_figure(doc, board)
    doc.table(_board_table(board))
    if seeds:
        _seed_table(doc, seeds, truth, dataset, missing)
    for a in ablations:
        _trust_ablation(doc, a)
    rows = _reproduction(board, dataset)
    if rows:
        doc.h(2, "Reproducing the published numbers")
        doc.table(pd.DataFrame(rows))
        doc.p(f"Ours: the {cells:,}-cell sample, NB201 test accuracy (200 epochs); the "
              "zero-cost proxies on NB201's own network (C=16, N=5) at batch 64 from the "
              "search-train split. Sources differ in ground truth (validation vs test "
              "accuracy) and cell set, which moves rho by a few hundredths; a larger gap "
              "is explained in the report's README.")
    return board


def _supernet_setting(table: Path) -> str:
    """'C=8, N=1, 30 epochs, batch 128, uniform sampling (preset cpu)': what the supernets of
    a seed table were trained with, from its .json (what it lacks is left out)."""
    meta = read_meta_or_empty(table)
    preset = meta.get("preset") or {}
    training = meta.get("training") or {}
    parts = []
    if preset:
        parts.append(f"C={preset.get('channels')}, N={preset.get('layers')}, "
                     f"{preset.get('epochs')} epochs, batch {preset.get('batch_size')}")
    if training.get("sampling"):
        parts.append(f"{training['sampling']} sampling")
    shot = meta.get("few_shot") or {}
    if shot:
        parts.append(f"then split on edge {shot.get('edge')} into 5 few-shot sub-supernets "
                     f"of {shot.get('epochs')} epochs, each cell scored on its own")
    name = training.get("preset_name") or meta.get("preset_name")
    if shot:   # the named preset with this split, when one has these settings
        from ..run.presets import PRESETS
        split = f"{shot.get('edge')}:{shot.get('epochs')}"
        named = [k for k, p in PRESETS.items()
                 if p.few_shot == split and p.one_shot().to_dict() == preset]
        name = f"{named[0]}: {name}, then --few-shot-split {split}" if named else name
    text = ", ".join(parts) or "settings not recorded in the table"
    return text + (f" (preset {name})" if name else "")


def _reproduction(board: pd.DataFrame, dataset: str) -> list[dict]:
    """One row per published value of a leaderboard proxy: ours with its CI beside it."""
    from ..analysis.literature import published
    rows = []
    for r in board.itertuples():
        for stat, short in (("spearman_rho", "rho"), ("kendall_tau", "tau")):
            ours, lo, hi = (getattr(r, short), getattr(r, f"{short}_ci_low"),
                            getattr(r, f"{short}_ci_high"))
            for pub in published(r.proxy, stat, dataset):
                # a source that drops the sign is compared with |ours|
                v, v_lo, v_hi = _absolute(ours, lo, hi) if pub.absolute else (ours, lo, hi)
                rows.append({"proxy": r.proxy,
                             "statistic": f"|{short}|" if pub.absolute else short,
                             "ours [95% CI]": _fmt(v, (v_lo, v_hi)),
                             "published": f"{pub.value:+.3f}",
                             "difference": f"{v - pub.value:+.3f}",
                             "inside our CI": "yes" if v_lo <= pub.value <= v_hi else "no",
                             "source": pub.source, "their protocol": pub.protocol})
    return rows


def _absolute(v: float, lo: float, hi: float) -> tuple[float, float, float]:
    """|v| and the interval |v| lies in when v lies in [lo, hi]."""
    if lo >= 0:
        return abs(v), lo, hi
    if hi <= 0:
        return abs(v), -hi, -lo
    return abs(v), 0.0, max(-lo, hi)


def _curve_finding(curve: pd.DataFrame) -> str:
    """One line on the epoch curve: its supernet proxies at the last checkpoint scored."""
    last = curve[curve["epoch"] == curve["epoch"].max()]
    seeds = last["seed"].nunique() if "seed" in last else 1
    per = last.groupby("proxy", sort=False)["kendall_tau"]
    mean = per.mean().sort_values(ascending=False)
    if seeds > 1:
        sd = per.std(ddof=1)
        shown = [f"{p} {m:+.3f} ± {sd[p]:.3f}" for p, m in mean.items()]
    else:
        ci = last.set_index("proxy")
        shown = [f"{p} {m:+.3f} [{ci.loc[p, 'ci_low']:+.3f}, {ci.loc[p, 'ci_high']:+.3f}]"
                 for p, m in mean.items()]
    setting = last["supernet"].iloc[0] if "supernet" in last else "the supernet"
    total = int(last["run_epochs"].max()) if "run_epochs" in last else None
    at = f"epoch {int(last['epoch'].iloc[0])}" + (f" of {total}" if total else "")
    who = f"{seeds} supernets, mean ± sd" if seeds > 1 else "one supernet"
    return (f"**Training epochs ({setting}):** at {at} ({who}, {int(last['n'].max()):,} "
            f"cells) the supernet proxies rank at Kendall tau " + ", ".join(shown)
            + "; GeNAS reports flatness at 0.60 after 250 epochs of its C=16, N=5 supernet.")


def _findings(doc: _Doc, board: pd.DataFrame, dataset: str,
              curve: pd.DataFrame | None = None) -> None:
    """The report's answer in a few sentences, every number from the leaderboard (and the
    epoch curve's last checkpoint, when ``curve``, an ``ablate epochs`` table, is given)."""
    if not len(board):
        return

    def tau(r) -> str:
        spread = (f" ± {r.tau_sd:.3f} over {r.replicates} supernets" if r.replicates > 1
                  else f" [{r.tau_ci_low:+.3f}, {r.tau_ci_high:+.3f}]")
        return f"{r.proxy} {r.tau:+.3f}{spread}"

    cells = int(board["cells"].max())
    best = board.iloc[board["tau"].to_numpy().argmax()]
    lines = [f"**Best proxy:** {best.proxy} ({best.kind}), Kendall tau {best.tau:+.3f} "
             f"[{best.tau_ci_low:+.3f}, {best.tau_ci_high:+.3f}] against NB201 {dataset} test "
             f"accuracy on {cells:,} cells."]
    kinds = [(k, board[board["kind"] == k]) for k in ("zero-cost", "free", "supernet",
                                                      "combination")]
    tops = {k: g.loc[g["tau"].idxmax()] for k, g in kinds if len(g)}
    lines.append("**Best of each kind:** " + "; ".join(f"{k}: {tau(r)}" for k, r in
                                                       tops.items()) + ".")
    sn, free = tops.get("supernet"), tops.get("free")
    if sn is not None and free is not None:
        below = int((board[board["kind"] == "supernet"]["tau"] < free.tau).sum())
        n_sn = int((board["kind"] == "supernet").sum())
        lines.append(f"**Supernet against counting:** the best supernet proxy ({tau(sn)}) "
                     f"ranks {'below' if sn.tau < free.tau else 'above'} the best free count "
                     f"({free.proxy} {free.tau:+.3f}); {below} of {n_sn} supernet proxies "
                     f"rank below it.")
    seeded = board[board["replicates"] > 1]
    if len(seeded):
        wide = seeded.loc[seeded["tau_sd"].idxmax()]
        lines.append(f"**Seed spread:** the training seed moves a supernet proxy's tau by "
                     f"up to sd {wide.tau_sd:.3f} ({wide.proxy}); the cell sample alone by "
                     f"at most sd {seeded['tau_cell_sd'].max():.3f}. A single supernet's "
                     f"tau is one draw from that spread.")
    if curve is not None and len(curve):
        lines.append(_curve_finding(curve))
    rows = _reproduction(board, dataset)
    if rows:
        inside = sum(r["inside our CI"] == "yes" for r in rows)
        far = max(rows, key=lambda r: abs(float(r["difference"])))
        lines.append(f"**Reproduction:** {inside} of {len(rows)} published values lie inside "
                     f"our 95% CI; the largest gap is {far['proxy']}'s {far['statistic']} "
                     f"(ours {float(far['ours [95% CI]'].split(' ')[0]):+.3f}, published "
                     f"{far['published']}: {far['source']}).")
    doc.h(2, "Findings")
    doc.markdown("\n".join("- " + line for line in lines))


def _leaderboard_figure(doc: _Doc, board: pd.DataFrame) -> None:
    if not len(board):
        return
    b = board.iloc[::-1].reset_index(drop=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.32 * len(b) + 1.4), sharey=True)
    for ax, stat in zip(axes, ("tau", "rho"), strict=True):
        for i, r in b.iterrows():
            colour = KIND_COLOURS.get(r["kind"], "grey")
            v, lo, hi = r[stat], r[f"{stat}_ci_low"], r[f"{stat}_ci_high"]
            if lo == lo:
                ax.plot([lo, hi], [i, i], color=colour, lw=1)
            sd = r[f"{stat}_sd"]
            if sd == sd:
                ax.plot([v - sd, v + sd], [i, i], color=colour, lw=4, alpha=0.6)
            ax.plot(v, i, "o", color=colour, ms=5)
            pub = r["published_rho" if stat == "rho" else "published_tau"]
            for text in filter(None, str(pub).split(" / ")):
                ax.plot(float(text), i, "x", color="black", ms=6)
        ax.axvline(0, color="grey", lw=0.6)
        name = "Kendall tau" if stat == "tau" else "Spearman rho"
        ax.set_xlabel(name)
        # a tall figure: its title and an axis on top too, so the first screen reads it
        ax.set_title(f"{name} vs NB201 test accuracy", fontsize=10)
        ax.tick_params(axis="x", top=True, labeltop=True)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(b)), [f"{p} ({k})" for p, k in zip(b["proxy"], b["kind"],
                                                                     strict=True)],
                       fontsize=8)
    fig.tight_layout()
    doc.figure(fig, "Leaderboard: each proxy's rank agreement with NB201 test accuracy "
                    "(dot: mean over training seeds or the single value; thick bar: ± sd over "
                    "seeds; thin bar: 95% CI; x: published)")


def _text(value: object) -> str:
    """A published-values cell: '-' where there is none (empty, or NaN read back)."""
    return value if isinstance(value, str) and value else "-"


def _seconds_text(seconds: float) -> str:
    """Seconds per cell; 'shared' where the proxy's work was paid by another proxy of the same
    pass (its own time is 0: e.g. snip beside grad_norm, val_loss beside val_acc)."""
    if seconds != seconds:
        return "-"
    return "shared" if seconds == 0 else f"{seconds:.3f}"


def _board_table(board: pd.DataFrame) -> pd.DataFrame:
    from ..analysis.leaderboard import ndcg_text
    rows = []
    for r in board.itertuples():
        seeds = r.replicates > 1
        rows.append({
            "proxy": r.proxy, "kind": r.kind, "supernets": r.replicates if seeds else "-",
            "Kendall tau": f"{r.tau:+.3f}" + (f" ± {r.tau_sd:.3f}" if seeds else ""),
            "95% CI": f"[{r.tau_ci_low:+.3f}, {r.tau_ci_high:+.3f}]" + (
                " (seeds + cells)" if seeds else " (cells)"),
            "cell-only sd": f"{r.tau_cell_sd:.3f}",
            "seed ensemble tau": f"{r.tau_ensemble:+.3f}" if seeds else "-",
            "Spearman rho": f"{r.rho:+.3f}" + (f" ± {r.rho_sd:.3f}" if seeds else ""),
            "published rho": _text(r.published_rho), "published tau": _text(r.published_tau),
            "top-5%": f"{r.top5:.3f}",
            "nDCG": ndcg_text(r),
            "s/cell": _seconds_text(r.seconds_per_cell), "cells": r.cells})
    return pd.DataFrame(rows)


def _seed_table(doc: _Doc, seeds: list[Path], truth: pd.DataFrame, dataset: str,
                missing: str) -> None:
    """Kendall tau of each supernet proxy on each supernet of the seed group."""
    from ..analysis.metrics import place_failed
    rows = []
    for path in seeds:
        t = read_scores(path)
        joined = join_scores(t, truth, dataset)
        run = read_meta_or_empty(path).get("run") or str(path.parent)
        row = {"supernet": Path(run).name, "cells": len(t)}
        for col in proxy_columns(t):
            oriented, acc, _ = place_failed(joined[col], joined["truth"], missing,
                                            direction(path, col))
            row[col] = f"{kendall_tau(oriented, acc):+.3f}"
        rows.append(row)
    doc.h(2, "Training-seed uncertainty: Kendall tau on each supernet")
    doc.p("The same cells scored on supernets that differ only in their training seed (which "
          "also draws the train/valid split, the BN and validation images and the noise). "
          "The spread between rows is what one training run cannot show; the cell-bootstrap "
          "CI of one row is far narrower.")
    doc.table(pd.DataFrame(rows))


def _levers_section(doc: _Doc, table: pd.DataFrame, variant: bool = False) -> None:
    """The levers study (``ablate levers``): each training or scoring setting's supernet
    proxies over its seeds, paired with the baseline (the first lever). A ``variant`` (a
    second levers table, on other cells) says its cell count in its heading."""
    base = table["lever"].iloc[0]
    doc.h(2, "Supernet levers: what makes the supernet rank"
          + (f" (on {int(table['cells'].iloc[0]):,} cells)" if variant else ""))
    doc.p(f"Each lever is a seed group of supernets (or the baseline's supernets scored "
          f"another way), every supernet scored on the same cells. tau: mean ± sd over "
          f"training seeds, with a 95% hierarchical bootstrap CI (seeds, then cells). "
          f"Difference: the lever's tau minus the baseline's ({base}) for the same training "
          f"seed, mean with a 95% t-interval over the paired seeds. Training minutes: wall "
          f"time of one supernet (one torch thread, two jobs sharing two cores); scoring: "
          f"CPU-minutes of the four supernet proxies on one supernet's cells.")
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * table["lever"].nunique() + 1.4))
    levers = list(dict.fromkeys(table["lever"]))
    proxies = list(dict.fromkeys(table["proxy"]))
    for j, proxy in enumerate(proxies):
        rows = table[table["proxy"] == proxy].set_index("lever").reindex(levers)
        y = np.arange(len(levers)) + (j - (len(proxies) - 1) / 2) * 0.18
        ax.errorbar(rows["tau_mean"], y, xerr=rows["tau_sd"], fmt="o", ms=4, capsize=2,
                    label=proxy)
    ax.set_yticks(range(len(levers)), levers)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_xlabel("Kendall tau vs NB201 test accuracy (mean ± sd over seeds)")
    ax.set_title("Supernet proxies per lever")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    doc.figure(fig, "Kendall tau of each supernet proxy per lever (mean ± sd over seeds)")
    shown = pd.DataFrame({
        "lever": table["lever"], "setting": table["setting"], "proxy": table["proxy"],
        "seeds": table["seeds"],
        "tau (mean ± sd) [95% CI]": [
            f"{m:+.3f} ± {sd:.3f} [{lo:+.3f}, {hi:+.3f}]" for m, sd, lo, hi in zip(
                table["tau_mean"], table["tau_sd"], table["tau_ci_low"],
                table["tau_ci_high"], strict=True)],
        "rho (mean ± sd)": [f"{m:+.3f} ± {sd:.3f}" for m, sd in zip(
            table["rho_mean"], table["rho_sd"], strict=True)],
        "top-5% precision": [f"{m:.3f}" for m in table["top5_mean"]],
        "tau difference [95% CI]": [
            "baseline" if lv == base else (f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                                           if np.isfinite(m) else "-")
            for lv, m, lo, hi in zip(table["lever"], table["tau_diff_mean"],
                                     table["tau_diff_ci_low"], table["tau_diff_ci_high"],
                                     strict=True)],
        "train min": [f"{v:.1f}" for v in table["train_minutes"]],
        "score CPU-min": [f"{v:.1f}" for v in table["score_cpu_minutes"]]})
    doc.table(shown)


def _trust_ablation(doc: _Doc, path: Path) -> None:
    table = pd.read_csv(path)
    if _study(path) == "levers":
        _levers_section(doc, table, variant=path.stem != "levers")
        return
    if path.stem == "epochs":
        _epochs_section(doc, table)
        return
    if path.stem == "variance":
        doc.h(2, "Where the uncertainty of tau comes from")
        doc.p("One factor varied at a time around the first supernet of the seed group "
              "(main effects): the sd of Kendall tau over the factor's levels, and its share "
              "of the summed variances. The training-seed factor redraws every other factor "
              "too, so it bounds the training seed's own effect from above; the cell-sample "
              "sd is the bootstrap's.")
        shown = table[["proxy", "factor", "levels", "tau_mean", "tau_sd",
                       "variance_share_percent", "taus"]].copy()
        shown["tau_mean"] = shown["tau_mean"].map(lambda v: f"{v:+.4f}")
        shown["tau_sd"] = shown["tau_sd"].map(lambda v: f"{v:.4f}")
        shown["variance_share_percent"] = shown["variance_share_percent"].map(
            lambda v: f"{v:.0f}%")
        doc.table(shown.rename(columns={"tau_mean": "mean tau", "tau_sd": "sd of tau",
                                        "variance_share_percent": "share",
                                        "taus": "tau at each level"}))
        return
    doc.h(2, "Kendall tau vs training budget, with its spread over seeds")
    doc.p("Supernets trained for each budget with several seeds (the cosine schedule spans "
          "the whole budget), each scored on the same cells. Lines: mean over seeds; band: "
          "± one sd; dots: single supernets. Training minutes are the wall time of one "
          "supernet (one torch thread, two jobs sharing two cores).")
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    for proxy, rows in table.groupby("proxy", sort=False):
        rows = rows.sort_values("epochs")
        line, = ax.plot(rows["epochs"], rows["tau_mean"], marker="o", label=proxy)
        ax.fill_between(rows["epochs"], rows["tau_mean"] - rows["tau_sd"],
                        rows["tau_mean"] + rows["tau_sd"], color=line.get_color(), alpha=0.15)
        for ep, taus in zip(rows["epochs"], rows["taus"], strict=True):
            vals = [float(v) for v in str(taus).split()]
            ax.plot([ep] * len(vals), vals, ".", color=line.get_color(), alpha=0.6)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("training budget (epochs)")
    ax.set_ylabel("Kendall tau vs NB201 test acc")
    ax.set_xticks(sorted(table["epochs"].unique()))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    doc.figure(fig, "Kendall tau vs supernet training budget (mean ± sd over seeds, and each "
                    "seed)")
    shown = table[["epochs", "proxy", "levels", "tau_mean", "tau_sd", "taus", "train_minutes",
                   "score_seconds_per_cell"]].copy()
    shown["tau per training minute"] = (shown["tau_mean"] / shown["train_minutes"]).map(
        lambda v: f"{v:+.4f}")
    shown["tau_mean"] = shown["tau_mean"].map(lambda v: f"{v:+.4f}")
    shown["tau_sd"] = shown["tau_sd"].map(lambda v: f"{v:.4f}")
    shown["train_minutes"] = shown["train_minutes"].map(lambda v: f"{v:.1f}")
    shown["score_seconds_per_cell"] = shown["score_seconds_per_cell"].map(lambda v: f"{v:.3f}")
    doc.table(shown.rename(columns={"levels": "seeds", "tau_mean": "mean tau",
                                    "tau_sd": "sd", "taus": "tau per seed"}))


def _provenance(doc: _Doc, tables: list, commands: str | Path | None) -> None:
    """Where every table came from (settings, hardware, command), then the script."""
    if tables:
        doc.h(2, "Where the numbers come from")
        rows = []
        for path, t in tables:
            m = read_meta_or_empty(path)
            if "preset" not in m and m.get("sources"):     # a combined table: its sources'
                src = Path(m["sources"][0] if isinstance(m["sources"], list)
                           else next(iter(m["sources"])))
                src = src if src.is_absolute() else path.parent / src.name
                m = {**read_meta_or_empty(src),
                     **{k: v for k, v in m.items() if k == "environment"}}
            env = m.get("environment") if isinstance(m.get("environment"), dict) else {}
            preset = m.get("preset") if isinstance(m.get("preset"), dict) else {}
            rows.append({"table": f"{path.parent.name}/{path.name}", "cells": len(t),
                         "proxies": ", ".join(proxy_columns(t)),
                         "data": f"{m.get('dataset', '?')} ({m.get('data_dir', '-')})",
                         "preset": (f"C={preset.get('channels')} N={preset.get('layers')}"
                                    + (f" BN {preset['bn_images']} / val "
                                       f"{preset['val_images']}" if "bn_images" in preset
                                       else "")) if preset else "-",
                         "hardware": f"{env.get('machine', '?')}, {env.get('cpu_threads', '?')}"
                                     f" torch thread{'' if env.get('cpu_threads') == 1 else 's'}"
                                     f", torch {env.get('torch', '?')}"})
        doc.table(pd.DataFrame(rows))
        cmds = [f"{p.parent.name}/{p.name}: "
                f"{read_meta_or_empty(p).get('command', '(no command recorded)')}"
                for p, _ in tables]
        doc.code("\n".join(cmds))

    if commands is not None:
        doc.h(2, "Commands")
        doc.p(f"The commands that made every table and figure here ({Path(commands).name}):")
        doc.code(Path(commands).read_text().rstrip())


def _table1(doc: _Doc, tables: list, seed_tables: list, dataset: str) -> None:
    """Table 1, tau(angle, flatness): one row per table that has both proxies (all cells of
    one supernet, each seed's sample), and the seeds' mean ± sd, since one supernet's
    agreement between two of its proxies is as seed-dependent as their tau with accuracy."""
    def measured(pairs: list) -> list:
        return [(p, t, len(t[["angle", "flatness"]].dropna()),
                 kendall_tau(t["angle"], t["flatness"]))
                for p, t in pairs if {"angle", "flatness"} <= set(t.columns)]

    paper = f"{PAPER_TABLE1.get(dataset, float('nan')):.4f}"
    scored, seeded = measured(tables), measured(seed_tables)
    rows, shown = [], []
    for p, t, n, tau in scored + seeded:
        pair = t.set_index("arch_index")[["angle", "flatness"]].sort_index()
        if any(pair.equals(other) for other in shown):
            continue   # the columns copied into a combined table (Eq. 5) are shown once
        shown.append(pair)
        rows.append({"dataset": dataset, "table": p.name, "cells": n,
                     "tau(angle, flatness)": f"{tau:+.4f}", "paper": paper})
    if not rows:
        return
    if len(seeded) > 1:
        taus = np.array([tau for *_, tau in seeded])
        cells = sorted({n for _, _, n, _ in seeded})
        rows.append({"dataset": dataset, "table": f"mean ± sd over {len(seeded)} seeds",
                     "cells": "/".join(map(str, cells)),
                     "tau(angle, flatness)": f"{taus.mean():+.4f} ± {taus.std(ddof=1):.4f}",
                     "paper": paper})
    doc.h(2, "Table 1: Kendall tau between angle and flatness")
    doc.table(pd.DataFrame(rows))
    doc.p("The paper's value is on all 15,625 cells of one C=16, N=5 supernet trained 250 "
          "epochs; each row here is on the cells of the table it names.")


def _summary(search_dir: Path) -> dict:
    path = search_dir / "summary.json"
    if not path.is_file():
        raise FileNotFoundError(f"{search_dir} is not a search folder (no summary.json); pass "
                                f"the --out folder of `proxybench search`")
    return json.loads(path.read_text())


def _darts(doc: _Doc, searches: dict[Path, dict], retrains: list[Path]) -> None:
    """DARTS transfer: the cells found by each search (folder -> summary) and the published
    cells, retrained from scratch with the same budget."""
    datasets = sorted({str(summ.get("dataset") or "cifar10") for summ in searches.values()})
    names = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "imagenet16-120": "ImageNet16-120"}
    where = " and ".join(names.get(d, d) for d in datasets) or "CIFAR-10"
    doc.h(2, f"DARTS space: search on {where}, retrain from scratch")
    found = {summ["found"]: summ for summ in searches.values()}
    rows = []
    for r in retrains:
        res = json.loads((r / "result.json").read_text())
        summ = found.get(res["genotype"])
        known = res.get("known_results") or {}
        rows.append({
            "cell": res.get("label") if known else r.name,  # a published name, else the run
            "found by": (f"{summ['algorithm']}: {summ['proxy']}" if summ
                         else ("published" if known else "-")),
            "search evals": summ["evaluations"] if summ else "-",
            "search wall (s)": f"{summ['wall_seconds']:.0f}" if summ else "-",
            "params (M)": f"{res['params_m']:.3f}", "MFLOPs": f"{res['mflops']:.1f}",
            "C x cells": f"{res['init_channels']} x {res['layers']}",
            "epochs": res["epochs"],
            f"{res['dataset']} test acc (%)": f"{res['test_acc']:.2f}",
            "retrain wall (s)": f"{res['wall_seconds']:.0f}",
            "paper ImageNet top-1": f"{known['top1']:.1f}" if "top1" in known else "-"})
    if rows:
        doc.table(pd.DataFrame(rows))
        doc.p("Every cell is retrained with the same preset and seed; test accuracy is on the "
              "full test set. The paper's numbers are ImageNet top-1 after its own (GPU) "
              "retraining, shown for the published cells only.")
    for s, summ in searches.items():
        png = s / "genotype.png"
        if png.is_file():
            doc.image(png.read_bytes(), f"DARTS cell found by {summ['algorithm']} with "
                                        f"{summ['proxy']} ({summ['evaluations']} evaluations)")


ABLATION_TITLES = {
    "sigma": "Table 5: sigma ranges (Kendall tau)",
    "alpha": "Table 6: alpha in Eq. (4) (Kendall tau; depth-term share of the denominator)",
    "position": "Table 7 (position): where the noise goes",
    "direction": "Table 7 (direction): random noise vs the top Hessian direction",
    "gamma": "Tables 8-10: Eq. (5) combinations (Kendall tau instead of ImageNet top-1)",
}


def _ablation(doc: _Doc, path: Path, seed_sd: dict[str, float] | None = None) -> None:
    """One ablation table as written by ``proxybench ablate`` (the file stem names it);
    ``seed_sd``: each supernet proxy's sd of tau over training seeds, to read it against."""
    table = pd.read_csv(path)
    name = path.stem
    doc.h(2, ABLATION_TITLES.get(name, f"Ablation: {name}"))
    spread = (f" These rows come from one supernet: the CI covers the cells, not the "
              f"training seed, whose sd of tau is {seed_sd['flatness']:.3f} for flatness"
              + (f" and {seed_sd['val_acc']:.3f} for val_acc" if "val_acc" in seed_sd else "")
              + " (leaderboard): differences between rows smaller than that are not findings."
              if seed_sd and "flatness" in seed_sd else "")
    doc.p(f"From {path.name}: {table['n'].max()} cells; Kendall tau against NB201 test "
          "accuracy with a 95% bootstrap CI. The paper measures Tables 8-10 by ImageNet "
          "retraining, which a CPU cannot do; every ablation here is measured by Kendall tau."
          + (" paper_tau_* are the paper's values for the dataset each names (its Table 5 has "
             "CIFAR-10 and ImageNet16-120 columns)." if name == "sigma" else "")
          + spread)
    shown = table.copy()
    for col in shown.columns:
        if shown[col].dtype.kind == "f" and col not in ("gamma", "alpha"):
            shown[col] = shown[col].map(lambda v: f"{v:.4f}" if v == v else "n/a")
    doc.table(shown)


def _epochs_section(doc: _Doc, table: pd.DataFrame) -> None:
    """tau of each supernet proxy at each saved checkpoint (``ablate epochs``): per epoch
    the mean ± sd over the training seeds the table holds (one seed: its CI over cells),
    beside the supernets' mean path accuracy."""
    if "seed" not in table:   # tables of one run, before seed groups
        table = table.assign(seed=0)
    seeds = sorted(table["seed"].unique())
    setting = table["supernet"].iloc[0] if "supernet" in table else None
    doc.h(2, "Supernet proxies vs training epochs" + (f": {setting}" if setting else ""))
    images = (f" Each checkpoint is scored with BN recalibrated on {table['bn_images'].iloc[0]:,}"
              f" training images and {table['val_images'].iloc[0]:,} validation images."
              if "bn_images" in table else "")
    reached = ""
    if "run_epochs" in table and table["epoch"].max() < table["run_epochs"].max():
        reached = (f" Training was still running when these were scored: the last "
                   f"checkpoint is epoch {table['epoch'].max()} of "
                   f"{table['run_epochs'].max()}.")
    which = (f"one supernet (seed {seeds[0]})" if len(seeds) == 1 else
             f"{len(seeds)} supernets (seeds {', '.join(map(str, seeds))})")
    doc.p(f"Kendall tau against NB201 test accuracy on {table['n'].max():,} cells at every "
          f"checkpoint scored, from {which}"
          + (": mean ± sd over the seeds that reached each epoch (one seed: its 95% "
             "cell-bootstrap CI)." if len(seeds) > 1 else ", with its 95% cell-bootstrap "
             "CI (one supernet: the training seed's spread is not in it).")
          + images + reached + " GeNAS reports flatness at tau 0.60 after 250 epochs of its "
          "C=16, N=5 supernet.")
    rows = []
    for (epoch, proxy), g in table.groupby(["epoch", "proxy"], sort=False):
        if len(g) > 1:   # the seeds' spread; one seed: its CI over cells
            cell = f"{g['kendall_tau'].mean():+.4f} ± {g['kendall_tau'].std(ddof=1):.4f}"
        else:
            r = g.iloc[0]
            cell = _fmt(r["kendall_tau"], (r["ci_low"], r["ci_high"]))
        rows.append({"epoch": epoch, "seeds": g["seed"].nunique(), "proxy": proxy,
                     "tau": cell,
                     "mean path val acc (%)": f"{g['mean_path_val_acc'].mean():.1f}"})
    index = ["epoch", "seeds", "mean path val acc (%)"] if len(seeds) > 1 else \
        ["epoch", "mean path val acc (%)"]
    shown = pd.DataFrame(rows).pivot_table(index=index,
                                           columns="proxy", values="tau", aggfunc="first",
                                           sort=False)
    shown = shown.reset_index().sort_values("epoch")
    shown.columns.name = None
    if "tau_angle_flatness" in table:   # one value per checkpoint: its first row's
        per = table.drop_duplicates(["epoch", "seed"]).groupby("epoch")["tau_angle_flatness"]
        shown["tau(angle, flatness)"] = shown["epoch"].map(
            lambda e: f"{per.get_group(e).mean():+.4f}" + (
                f" ± {per.get_group(e).std(ddof=1):.4f}" if per.get_group(e).size > 1 else ""))
    doc.table(shown)
    if "tau_angle_flatness" in table:
        doc.p("tau(angle, flatness) is Table 1's agreement of the two proxies on these cells "
              "(GeNAS: 0.4302 on CIFAR-10, 0.4724 on CIFAR-100 and 0.4097 on ImageNet16-120, "
              "all cells of its 250-epoch supernet).")
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for proxy, rows in table.groupby("proxy", sort=False):
        per = rows.groupby("epoch")["kendall_tau"]
        mean = per.mean()
        # the seed sd where several seeds reached an epoch, else that one seed's cell CI
        first = rows.drop_duplicates("epoch").set_index("epoch").loc[mean.index]
        sd = per.std(ddof=1).loc[mean.index]
        alone = sd.isna()
        err = [np.where(alone, mean - first["ci_low"], sd),
               np.where(alone, first["ci_high"] - mean, sd)]
        ax.errorbar(mean.index, mean.to_numpy(), yerr=err, marker="o", capsize=3,
                    label=proxy)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("supernet epoch")
    ax.set_ylabel("Kendall tau vs NB201 test acc")
    acc = table.groupby("epoch")["mean_path_val_acc"].mean()
    ax2 = ax.twinx()
    ax2.plot(acc.index, acc.to_numpy(), "k--", lw=1, label="mean path val acc (%)")
    ax2.set_ylabel("mean path val acc (%)")
    ax.legend(fontsize=7, loc="upper left")
    ax2.legend(fontsize=7, loc="lower right")
    doc.figure(fig, "Kendall tau of each supernet proxy at each scored checkpoint ("
                    + ("± one sd over seeds; at an epoch one seed reached, its 95% CI "
                       "over cells" if len(seeds) > 1 else "95% CI over cells")
                    + "), and the supernets' mean path accuracy (dashed)")


def _fig3(doc: _Doc, searches: dict[Path, dict], tables: list) -> None:
    """Validation loss vs sigma of the cells each search (folder -> summary) found, mean ±
    std over seeds."""
    source = next(((p, t) for p, t in tables
                   if any(c.startswith("flatness.loss@") for c in t.columns)), None)
    if source is None:
        return
    path, t = source
    loss_cols = [c for c in t.columns if c.startswith("flatness.loss@")]
    sig = [float(c.split("@")[1]) for c in loss_cols]
    losses = t.set_index("arch_index")[loss_cols]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    drawn = 0
    for s, summ in searches.items():
        found = pd.read_csv(s / "search.csv")["arch_index"]
        m = losses.reindex(found).dropna().to_numpy()
        if not len(m):
            continue
        ax.errorbar(sig, m.mean(0), yerr=m.std(0), marker="o", capsize=3,
                    label=f"{summ['algorithm']}: {summ['proxy']}")
        drawn += 1
    if not drawn:
        plt.close(fig)
        return
    ax.set_xscale("log")
    ax.set_xticks(sig, [f"{v:g}" for v in sig])
    ax.minorticks_off()
    ax.set_xlabel("sigma (weight noise)")
    ax.set_ylabel("validation loss")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    doc.figure(fig, f"Fig. 3: validation loss vs sigma of the cells found by each search "
                    f"(mean ± std over seeds; losses from {path.name})")


def _scatter(doc: _Doc, items: list, dataset: str) -> None:
    """Each proxy against the truth on rank axes (percentiles), as a density: proxies on
    scales like synflow's 1e13 stay readable and 15,625 points do not hide each other."""
    if not items:
        return
    n = len(items)
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    for ax, (col, use, tau, higher) in zip(axes.flat, items, strict=False):
        x = (use[col] if higher else -use[col]).rank(pct=True)
        y = use["truth"].rank(pct=True)
        ax.hexbin(x, y, gridsize=25, cmap="Blues", mincnt=1, bins="log")
        ax.set_title(f"{col}  (tau {tau:+.3f})", fontsize=9)
        ax.set_xlabel("proxy rank (percentile)", fontsize=8)
        ax.set_ylabel(f"{dataset} acc rank", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xticks([0, 0.5, 1])
        ax.set_yticks([0, 0.5, 1])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    doc.figure(fig, f"Each proxy against NB201 {dataset} test accuracy, both as percentile "
                    f"ranks (better = right / up; lower-is-better proxies flipped); colour: "
                    f"log count of cells")


def _fig2(doc: _Doc, tables: list, truth: pd.DataFrame, dataset: str, k: int) -> None:
    for path, t in tables:
        loss_cols = [c for c in t.columns if c.startswith("flatness.loss@")]
        if not loss_cols:
            continue
        sig = [float(c.split("@")[1]) for c in loss_cols]
        joined = join_scores(t, truth, dataset).dropna(subset=loss_cols + ["truth"])
        from ..spaces import nb201
        live = [not nb201.is_disconnected(nb201.cell_at(int(i))) for i in joined["arch_index"]]
        joined = joined[live].sort_values("truth", ascending=False)
        if len(joined) < 3 * k:
            k = max(1, len(joined) // 3)
        mid = len(joined) // 2
        groups = {f"top-{k}": joined.head(k),
                  f"middle-{k}": joined.iloc[mid - k // 2: mid - k // 2 + k],
                  f"bottom-{k}": joined.tail(k)}
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for name, g in groups.items():
            m = g[loss_cols].to_numpy()
            ax.errorbar(sig, m.mean(0), yerr=m.std(0), marker="o", capsize=3, label=name)
        ax.set_xscale("log")
        ax.set_xticks(sig, [f"{v:g}" for v in sig])
        ax.minorticks_off()
        ax.set_xlabel("sigma (weight noise)")
        ax.set_ylabel("validation loss")
        ax.legend()
        doc.figure(fig, f"Fig. 2: validation loss vs sigma of the top, middle and bottom {k} "
                        f"cells by {dataset} test accuracy, among the cells with a path from "
                        f"input to output (the disconnected ones sit at chance loss, as in "
                        f"the paper's figure they are left out; {path.name}; mean ± std)")
        return
