"""Cell diagrams of a DARTS genotype: graphviz when it is installed (python package and the
``dot`` program), else a matplotlib drawing of the same graph. Both cell types go in one
figure, saved as PNG and SVG."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..spaces.darts import NUM_NODES, Genotype, check_genotype

_COLOURS = {"max_pool_3x3": "#8c564b", "avg_pool_3x3": "#e377c2", "skip_connect": "#7f7f7f",
            "sep_conv_3x3": "#1f77b4", "sep_conv_5x5": "#17becf", "dil_conv_3x3": "#2ca02c",
            "dil_conv_5x5": "#bcbd22"}


def _label(state: int) -> str:
    return {0: "c_{k-2}", 1: "c_{k-1}"}.get(state, str(state - 2))


def check_draw_path(out_png: str | Path) -> Path:
    """The drawing goes to a .png (and the .svg beside it): another suffix is refused
    before anything is drawn or written."""
    out_png = Path(out_png)
    if out_png.suffix.lower() != ".png":
        from ..errors import OptionError
        raise OptionError(f"--draw {out_png}: name a .png file (the .svg goes beside it)")
    return out_png


def draw_genotype(genotype: Genotype, out_png: str | Path, title: str = "") -> list[Path]:
    """Write ``out_png`` and the same name with ``.svg``; returns the paths written."""
    out_png = check_draw_path(out_png)
    g = check_genotype(genotype)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    if shutil.which("dot"):
        try:
            return _graphviz(g, out_png, title)
        except ImportError:
            pass
    return _matplotlib(g, out_png, title)


def _graphviz(g: Genotype, out_png: Path, title: str) -> list[Path]:
    import graphviz  # optional dependency

    written = []
    for kind in ("normal", "reduce"):
        dot = graphviz.Digraph(format="png", graph_attr={"rankdir": "LR", "label": f"{title} "
                                                         f"{kind}"})
        for s in ("c_{k-2}", "c_{k-1}"):
            dot.node(s, fillcolor="darkseagreen2", style="filled")
        for n in range(NUM_NODES):
            dot.node(str(n), fillcolor="lightblue", style="filled")
        for k, (op, src) in enumerate(getattr(g, kind)):
            dot.edge(_label(src), str(k // 2), label=op, color=_COLOURS[op])
        dot.node("c_{k}", fillcolor="palegoldenrod", style="filled")
        for n in getattr(g, f"{kind}_concat"):
            dot.edge(str(n - 2), "c_{k}", color="gray")
        stem = out_png.with_name(f"{out_png.stem}-{kind}")
        for fmt in ("png", "svg"):
            dot.render(str(stem), format=fmt, cleanup=True)
            written.append(stem.with_suffix(f".{fmt}"))
    return written


def _matplotlib(g: Genotype, out_png: Path, title: str) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pos = {0: (0.0, 1.2), 1: (0.0, -1.2)}
    for n in range(NUM_NODES):
        pos[n + 2] = (1.8 + 1.6 * n, 1.4 if n % 2 == 0 else -1.4)
    out = (1.8 + 1.6 * NUM_NODES + 0.4, 0.0)
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.2))
    for ax, kind in zip(axes, ("normal", "reduce"), strict=True):
        ax.set_title(f"{title} {kind} cell".strip())
        ax.axis("off")
        ax.set_xlim(-0.8, out[0] + 0.8)
        ax.set_ylim(-2.0, 2.0)
        for n in getattr(g, f"{kind}_concat"):
            ax.annotate("", xy=out, xytext=pos[n],
                        arrowprops={"arrowstyle": "->", "color": "0.7", "ls": "--",
                                    "shrinkA": 14, "shrinkB": 14})
        for k, (op, src) in enumerate(getattr(g, kind)):
            a, b = pos[src], pos[k // 2 + 2]
            rad = 0.25 if k % 2 else -0.25
            ax.annotate("", xy=b, xytext=a,
                        arrowprops={"arrowstyle": "->", "color": _COLOURS[op], "lw": 1.6,
                                    "shrinkA": 14, "shrinkB": 14,
                                    "connectionstyle": f"arc3,rad={rad}"})
            mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
            dx, dy = b[0] - a[0], b[1] - a[1]
            # apex of matplotlib's arc3 curve: midpoint + rad/2 * (dy, -dx)
            ax.text(mx + rad * dy * 0.5, my - rad * dx * 0.5, op, fontsize=7,
                    color=_COLOURS[op], ha="center", va="center",
                    bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5})
        for state, (x, y) in pos.items():
            colour = "#cde8cd" if state < 2 else "#cfe3f5"
            ax.text(x, y, _label(state), ha="center", va="center", fontsize=9,
                    bbox={"boxstyle": "round", "fc": colour, "ec": "0.3"})
        ax.text(*out, "c_{k}", ha="center", va="center", fontsize=9,
                bbox={"boxstyle": "round", "fc": "#f3eab5", "ec": "0.3"})
    fig.tight_layout()
    svg = out_png.with_suffix(".svg")
    fig.savefig(out_png, dpi=120)
    fig.savefig(svg)
    plt.close(fig)
    return [out_png, svg]
