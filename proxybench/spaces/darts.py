"""The DARTS cell space: genotypes (DARTS format), validation, sampling, mutation, crossover.

A cell has two inputs (0: the output of the cell before the previous one, 1: of the previous
cell) and four intermediate nodes 2..5; node ``n`` sums two ops applied to two distinct
earlier states, and the cell outputs the channel concatenation of ``concat`` (always
[2, 3, 4, 5] in DARTS). A network has a normal and a reduction cell type. The standard
DARTS genotype holds both::

    Genotype(normal=[(op, input), ...8 pairs, two per node...], normal_concat=[2, 3, 4, 5],
             reduce=[...], reduce_concat=[2, 3, 4, 5])

Representations (one of each, converted here and nowhere else):

- :class:`Genotype` (a namedtuple, exactly DARTS'), pairs as tuples and concats as tuples.
- text: ``Genotype(normal=[...], ...)`` as printed by DARTS, or JSON (``to_json``), read by
  :func:`parse_genotype`. :func:`genotype_key` is the canonical text of a genotype (the two
  pairs of each node sorted by input, then op): two genotypes with the same key are the same
  network. It keys score tables and seeds per-cell noise.

'none' is a candidate op of the space (the DARTS supernet's zero op), but genotypes never
hold it: DARTS drops it when it derives a cell, and SPOS paths never sample it.
"""

from __future__ import annotations

import ast
import json
import random
from collections import namedtuple
from collections.abc import Sequence

from ..errors import ProxybenchError, is_file
from .base import Space

OPS: tuple[str, ...] = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                        "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
PATH_OPS: tuple[str, ...] = OPS[1:]   # what a genotype (and an SPOS path) may use
NUM_NODES = 4                         # intermediate nodes per cell
CONCAT: tuple[int, ...] = (2, 3, 4, 5)
# every possible edge (to_node, from_state), in the order the supernet stores them
EDGES: tuple[tuple[int, int], ...] = tuple((n + 2, j) for n in range(NUM_NODES)
                                           for j in range(n + 2))
CELL_TYPES = ("normal", "reduce")

Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
Pairs = tuple[tuple[str, int], ...]


class GenotypeError(ProxybenchError):
    """A malformed or unknown DARTS genotype; the message names the problem and the fix."""


_EXAMPLE = "--genotype DARTS_V2, a genotype JSON file, or the text Genotype(normal=[...], ...)"

# Published cells, written here as data. DARTS_V2: Liu et al., "DARTS: Differentiable
# Architecture Search", ICLR 2019 (genotypes.py of the official code). GENAS_*: the cells
# released with Jeong et al., "GeNAS: Neural Architecture Search with Better Generalization",
# IJCAI 2023 (github.com/clovaai/GeNAS), searched with an 8-cell SPOS supernet; their
# ImageNet results (top-1/top-5 %, init channels for ~0.6 GFLOPs) are in KNOWN_RESULTS.
_KNOWN_TEXT = {
    "DARTS_V2": "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])",  # noqa: E501
    "GENAS_FLATNESS_CIFAR10": "Genotype(normal=[('skip_connect', 0), ('dil_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('dil_conv_3x3', 1), ('dil_conv_3x3', 2), ('sep_conv_3x3', 3), ('skip_connect', 4)], normal_concat=[2, 3, 4, 5], reduce=[('sep_conv_5x5', 0), ('avg_pool_3x3', 1), ('dil_conv_3x3', 1), ('sep_conv_3x3', 2), ('skip_connect', 1), ('dil_conv_3x3', 3), ('sep_conv_5x5', 2), ('dil_conv_5x5', 4)], reduce_concat=[2, 3, 4, 5])",  # noqa: E501
    "GENAS_ANGLE_FLATNESS_CIFAR10": "Genotype(normal=[('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 4)], normal_concat=[2, 3, 4, 5], reduce=[('dil_conv_5x5', 0), ('dil_conv_5x5', 1), ('avg_pool_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 0), ('max_pool_3x3', 1), ('sep_conv_5x5', 3), ('dil_conv_3x3', 4)], reduce_concat=[2, 3, 4, 5])",  # noqa: E501
    "GENAS_FLATNESS_CIFAR100": "Genotype(normal=[('skip_connect', 0), ('sep_conv_5x5', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('sep_conv_3x3', 2), ('sep_conv_5x5', 3), ('sep_conv_3x3', 1), ('dil_conv_5x5', 4)], normal_concat=[2, 3, 4, 5], reduce=[('dil_conv_3x3', 0), ('skip_connect', 1), ('avg_pool_3x3', 0), ('sep_conv_5x5', 2), ('sep_conv_5x5', 1), ('dil_conv_5x5', 3), ('max_pool_3x3', 1), ('max_pool_3x3', 2)], reduce_concat=[2, 3, 4, 5])",  # noqa: E501
    "GENAS_ANGLE_FLATNESS_CIFAR100": "Genotype(normal=[('skip_connect', 0), ('sep_conv_5x5', 1), ('max_pool_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 3), ('sep_conv_3x3', 1), ('sep_conv_5x5', 4)], normal_concat=[2, 3, 4, 5], reduce=[('dil_conv_3x3', 0), ('sep_conv_3x3', 1), ('dil_conv_5x5', 1), ('avg_pool_3x3', 2), ('max_pool_3x3', 0), ('skip_connect', 1), ('sep_conv_3x3', 1), ('dil_conv_5x5', 4)], reduce_concat=[2, 3, 4, 5])",  # noqa: E501
}

# ImageNet (mobile setting) results reported for the published cells: params (M), FLOPs (G),
# top-1, top-5 (%), and the init channels GeNAS used (DARTS: the paper's Table 3 row).
KNOWN_RESULTS: dict[str, dict] = {
    "DARTS_V2": {"params_m": 4.7, "flops_g": 0.57, "top1": 73.3, "top5": 91.3,
                 "init_channels": 48, "source": "GeNAS Table 3 (DARTS, CIFAR-10 search)"},
    "GENAS_FLATNESS_CIFAR10": {"top1": 76.0, "top5": 92.7, "init_channels": 52,
                               "source": "GeNAS Table 2/3"},
    "GENAS_ANGLE_FLATNESS_CIFAR10": {"top1": 76.1, "top5": 92.8, "init_channels": 44,
                                     "source": "GeNAS Table 2/3"},
    "GENAS_FLATNESS_CIFAR100": {"top1": 76.1, "top5": 92.6, "init_channels": 46,
                                "source": "GeNAS Table 2/3"},
    "GENAS_ANGLE_FLATNESS_CIFAR100": {"top1": 75.7, "top5": 92.5, "init_channels": 48,
                                      "source": "GeNAS Table 2/3"},
}


# --------------------------------------------------------------------------- validation


def _check_pairs(pairs: object, kind: str) -> Pairs:
    if not isinstance(pairs, (list, tuple)) or len(pairs) != 2 * NUM_NODES:
        n = len(pairs) if isinstance(pairs, (list, tuple)) else type(pairs).__name__
        raise GenotypeError(f"genotype {kind} must list {2 * NUM_NODES} (op, input) pairs, two "
                            f"per node, got {n}; pass {_EXAMPLE}")
    out = []
    for k, pair in enumerate(pairs):
        node = 2 + k // 2
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise GenotypeError(f"genotype {kind}[{k}] = {pair!r} is not an (op, input) pair; "
                                f"pass {_EXAMPLE}")
        op, src = pair
        if op not in PATH_OPS:
            hint = " (genotypes never hold 'none')" if op == "none" else ""
            raise GenotypeError(f"genotype {kind}[{k}]: unknown op {op!r}{hint}; ops are "
                                f"{', '.join(PATH_OPS)}")
        if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < node:
            raise GenotypeError(f"genotype {kind}[{k}]: node {node} can only take input 0..."
                                f"{node - 1} (earlier states), got {src!r}")
        out.append((str(op), int(src)))
    for n in range(NUM_NODES):
        if out[2 * n][1] == out[2 * n + 1][1]:
            raise GenotypeError(f"genotype {kind}: node {n + 2} takes input {out[2 * n][1]} "
                                f"twice; its two pairs must come from distinct inputs")
    return tuple(out)


def _check_concat(concat: object, kind: str) -> tuple[int, ...]:
    ok = isinstance(concat, (list, tuple, range)) and len(concat) > 0 and all(
        isinstance(c, int) and not isinstance(c, bool) and c in CONCAT for c in concat)
    if not ok or len(set(concat)) != len(concat):
        raise GenotypeError(f"genotype {kind}_concat must be distinct nodes among "
                            f"{list(CONCAT)}, got {concat!r}")
    return tuple(sorted(concat))


def check_genotype(g: object) -> Genotype:
    """A validated Genotype with tuples throughout (accepts any 4-field genotype-like)."""
    if not (isinstance(g, tuple) and len(g) == 4):
        raise GenotypeError(f"a DARTS genotype has fields normal, normal_concat, reduce, "
                            f"reduce_concat; got {type(g).__name__}; pass {_EXAMPLE}")
    normal, normal_concat, reduce, reduce_concat = g
    return Genotype(_check_pairs(normal, "normal"), _check_concat(normal_concat, "normal"),
                    _check_pairs(reduce, "reduce"), _check_concat(reduce_concat, "reduce"))


# --------------------------------------------------------------------------- text


def format_genotype(g: Genotype) -> str:
    """DARTS' own printed form, ``Genotype(normal=[('op', 0), ...], normal_concat=[...], ...)``."""
    g = check_genotype(g)

    def pairs(p: Pairs) -> str:
        return "[" + ", ".join(f"({op!r}, {src})" for op, src in p) + "]"

    return (f"Genotype(normal={pairs(g.normal)}, normal_concat={list(g.normal_concat)}, "
            f"reduce={pairs(g.reduce)}, reduce_concat={list(g.reduce_concat)})")


def to_json(g: Genotype) -> dict:
    """JSON-ready dict; :func:`parse_genotype` reads it back (as a dict or its text)."""
    g = check_genotype(g)
    return {"normal": [list(p) for p in g.normal], "normal_concat": list(g.normal_concat),
            "reduce": [list(p) for p in g.reduce], "reduce_concat": list(g.reduce_concat)}


def _from_mapping(d: dict) -> Genotype:
    missing = [f for f in Genotype._fields if f not in d]
    if missing:
        raise GenotypeError(f"genotype lacks {', '.join(missing)}; pass {_EXAMPLE}")
    return check_genotype(tuple(d[f] for f in Genotype._fields))


def parse_genotype(text: str | dict) -> Genotype:
    """``Genotype(...)`` text, JSON text (an object, optionally under a ``"genotype"`` key) or
    such a dict -> validated Genotype. Text is read with ``ast``: nothing is executed."""
    if isinstance(text, dict):
        return _from_mapping(text.get("genotype", text))
    if not isinstance(text, str):
        raise GenotypeError(f"a genotype must be text or a dict, got {type(text).__name__}")
    s = text.strip()
    if s.startswith("{"):
        try:
            obj = json.loads(s)
        except json.JSONDecodeError as exc:
            raise GenotypeError(f"genotype JSON does not parse ({exc}); pass {_EXAMPLE}") from exc
        if not isinstance(obj, dict):
            raise GenotypeError(f"genotype JSON must be an object; pass {_EXAMPLE}")
        return parse_genotype(obj)
    try:
        tree = ast.parse(s, mode="eval").body
    except SyntaxError as exc:
        raise GenotypeError(f"malformed genotype text {s[:60]!r}...: {exc.msg}; pass "
                            f"{_EXAMPLE}") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name)
            and tree.func.id == "Genotype" and not tree.args):
        raise GenotypeError(f"malformed genotype text {s[:60]!r}: expected "
                            f"Genotype(normal=..., normal_concat=..., reduce=..., "
                            f"reduce_concat=...); pass {_EXAMPLE}")
    fields = {}
    for kw in tree.keywords:
        value = kw.value
        # DARTS prints concat as range(2, 6) in its code; accept that spelling too
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "range"):
            try:
                fields[kw.arg] = list(range(*[ast.literal_eval(a) for a in value.args]))
            except (ValueError, TypeError):
                raise GenotypeError(f"genotype {kw.arg}: bad range(...)") from None
            continue
        try:
            fields[kw.arg] = ast.literal_eval(value)
        except ValueError:
            raise GenotypeError(f"genotype {kw.arg} must be a literal list; pass "
                                f"{_EXAMPLE}") from None
    unknown = set(fields) - set(Genotype._fields)
    if unknown:
        raise GenotypeError(f"genotype has unknown field(s) {sorted(unknown)}; fields are "
                            f"{', '.join(Genotype._fields)}")
    return _from_mapping(fields)


def canonical(g: Genotype) -> Genotype:
    """The same network with each node's two pairs in (input, op) order."""
    g = check_genotype(g)

    def sort(p: Pairs) -> Pairs:
        out: list[tuple[str, int]] = []
        for n in range(NUM_NODES):
            out += sorted(p[2 * n:2 * n + 2], key=lambda pair: (pair[1], pair[0]))
        return tuple(out)

    return Genotype(sort(g.normal), g.normal_concat, sort(g.reduce), g.reduce_concat)


def genotype_key(g: Genotype) -> str:
    """Canonical text of a genotype: the score-table key and the per-cell seed text."""
    return format_genotype(canonical(g))


def known_genotype(name: str) -> Genotype:
    """A published cell by name (case-insensitive), e.g. ``DARTS_V2``."""
    key = name.strip().upper()
    if key not in _KNOWN_TEXT:
        raise GenotypeError(f"unknown genotype name {name!r}; known cells: "
                            f"{', '.join(_KNOWN_TEXT)}, or pass a JSON file / Genotype(...) "
                            f"text")
    return parse_genotype(_KNOWN_TEXT[key])


KNOWN: tuple[str, ...] = tuple(_KNOWN_TEXT)


def resolve_genotype(spec: str) -> tuple[Genotype, str]:
    """(genotype, label) from a known name, a JSON/text file, or genotype text."""
    from pathlib import Path
    s = spec.strip()
    if s.upper() in _KNOWN_TEXT:
        return known_genotype(s), s.upper()
    if s.startswith(("{", "Genotype(")):
        return parse_genotype(s), "genotype"
    path = Path(s)
    if is_file(s):
        try:
            label = f"{path.parent.name}/{path.stem}" if path.stem == "genotype" else path.stem
            return parse_genotype(path.read_text()), label
        except GenotypeError as exc:
            raise GenotypeError(f"{path}: {exc}") from None
    if s.replace("_", "").isalnum():
        return known_genotype(s), s   # raises with the list of known names
    raise GenotypeError(f"genotype file {s} not found; pass {_EXAMPLE}")


# --------------------------------------------------------------------------- search operators


def _sample_pairs(rng: random.Random) -> Pairs:
    pairs: list[tuple[str, int]] = []
    for n in range(NUM_NODES):
        for src in sorted(rng.sample(range(n + 2), 2)):
            pairs.append((rng.choice(PATH_OPS), src))
    return tuple(pairs)


def sample(rng: random.Random) -> Genotype:
    """A uniform SPOS path: every node picks 2 distinct earlier inputs and an op (not 'none')
    for each, in both cell types. Returned in canonical order."""
    normal = _sample_pairs(rng)
    reduce = _sample_pairs(rng)
    return canonical(Genotype(normal, CONCAT, reduce, CONCAT))


def _mutate_pairs(pairs: Pairs, prob: float, rng: random.Random) -> Pairs:
    out = list(pairs)
    for k in range(len(out)):
        n, (op, src) = k // 2, out[k]
        if rng.random() < prob:
            op = rng.choice(PATH_OPS)
        if rng.random() < prob:
            other = out[k ^ 1][1]
            src = rng.choice([j for j in range(n + 2) if j != other])
        out[k] = (op, src)
    return tuple(out)


def mutate(g: Genotype, prob: float, rng: random.Random) -> Genotype:
    """Each op and each input choice re-drawn with probability ``prob`` (inputs stay
    distinct within a node)."""
    g = check_genotype(g)
    return canonical(g._replace(normal=_mutate_pairs(g.normal, prob, rng),
                                reduce=_mutate_pairs(g.reduce, prob, rng)))


def crossover(a: Genotype, b: Genotype, rng: random.Random) -> Genotype:
    """Each node (both of its pairs, so inputs stay distinct) of each cell type from either
    parent with equal probability."""
    a, b = check_genotype(a), check_genotype(b)

    def mix(pa: Pairs, pb: Pairs) -> Pairs:
        out: list[tuple[str, int]] = []
        for n in range(NUM_NODES):
            out += (pa if rng.random() < 0.5 else pb)[2 * n:2 * n + 2]
        return tuple(out)

    return canonical(a._replace(normal=mix(a.normal, b.normal), reduce=mix(a.reduce, b.reduce)))


def edge_index(to_node: int, src: int) -> int:
    """Position of edge (to_node, src) in :data:`EDGES` (the supernet's edge list)."""
    return EDGES.index((to_node, src))


def chosen_edges(pairs: Sequence[tuple[str, int]]) -> list[tuple[int, str, int]]:
    """[(edge index, op, src)] of a cell's pairs, node by node."""
    return [(edge_index(2 + k // 2, src), op, src) for k, (op, src) in enumerate(pairs)]


# --------------------------------------------------------------------------- the Space


def select(text: str, seed: int) -> list[str]:
    """``--cells N``: N distinct seeded random genotypes (canonical text); the DARTS space
    cannot be enumerated, so there is no 'all'."""
    text = str(text)
    if not text.isdigit() or int(text) < 1:
        raise GenotypeError(f"--cells must be a number N >= 1 for the DARTS space (it cannot "
                            f"be enumerated), got {text!r}")
    rng, keys = random.Random(seed), []
    while len(keys) < int(text):
        key = genotype_key(sample(rng))
        if key not in keys:
            keys.append(key)
    return keys


def _key(g: object) -> str:
    return genotype_key(parse_genotype(g) if isinstance(g, str) else g)


def _presets() -> dict:
    from ..run.presets import DARTS_PRESETS
    return DARTS_PRESETS


def _build_supernet(preset, num_classes: int):
    """DARTS' search network with one op per edge per path; ``preset.layers`` cells."""
    from ..nets.darts import build_darts_supernet
    return build_darts_supernet(preset.channels, preset.layers, num_classes)


def write_found(key: str, folder, title: str) -> list:
    """genotype.json (DARTS JSON + text) and the cell diagram of a search's find."""
    from pathlib import Path

    from ..report.darts_plot import draw_genotype
    from ..run.files import atomic_write_json
    g = parse_genotype(key)
    path = Path(folder) / "genotype.json"
    atomic_write_json(path, {"genotype": to_json(g), "text": format_genotype(g)})
    return [path, *draw_genotype(g, Path(folder) / "genotype.png", title=title)]


SPACE = Space(
    name="darts", description="DARTS: normal + reduction cell, 8 ops, 4 nodes; no ground truth",
    is_cell=lambda c: isinstance(c, Genotype),
    parse=parse_genotype, text=genotype_key, canonical=canonical, ident=genotype_key,
    cell_of=parse_genotype, key=_key, id_columns=("arch",), ids_of=lambda k: {"arch": k},
    select=select, path_sample=sample, sample=sample, mutate=mutate, crossover=crossover,
    dedup=genotype_key, valid=lambda g: True, size=lambda: float("inf"),
    presets=_presets, build_supernet=_build_supernet, write_found=write_found)
# validation: the default, half of the training set, on every dataset (GeNAS A.3: "we
# divide the original training set into training / validation set with equal size on
# CIFAR-10/100, as in DARTS and PC-DARTS")
