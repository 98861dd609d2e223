"""The NAS-Bench-201 cell space: op names, arch strings, the official index order, pruning.

Representations (one of each, converted here and nowhere else):

- ``cell``: a tuple of 6 op indices into :data:`OPS`, one per edge, edges ordered as in
  :data:`EDGES` = ((1,0), (2,0), (2,1), (3,0), (3,1), (3,2)) with (to_node, from_node).
- ``arch``: the official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, node 1, 2, 3
  separated by ``+``, each ``op~j`` the edge from node j.
- ``naslib key``: NASLib's and NAS-Bench-Suite-Zero's key, ``str(tuple)`` of 6 op indices
  like ``"(4, 0, 3, 1, 4, 3)"``: ops numbered as :data:`NASLIB_OPS` and edges in NASLib's
  ``EDGE_LIST`` order (0->1, 0->2, 0->3, 1->2, 1->3, 2->3; our 3rd and 4th edges swapped);
  :func:`naslib_key` and :func:`cell_from_naslib_key`.
- ``arch_index``: the official NB201 index. The benchmark enumerated all cells (node by
  node, later edges varying fastest, ops in :data:`OPS` order) and then shuffled the list
  with ``random.seed(88); random.shuffle(...)``; :func:`all_cells` reproduces that order, and
  a test checks it row by row against the ground-truth table.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from ..errors import ProxybenchError, is_file
from .base import Space

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_NODES = 4
# the datasets NAS-Bench-201 trained every cell on (ground truth, data loaders, CLI choices)
DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16-120")
NUM_CELLS = len(OPS) ** len(EDGES)
NONE = 0

Cell = tuple[int, ...]
# NASLib's NB201 op order (naslib/search_spaces/nasbench201/conversions.py, OP_NAMES_NB201)
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1",
                               "avg_pool_3x3")
# for each position of NASLib's key, the position of that edge in our cell
_NASLIB_EDGE = (0, 1, 3, 2, 4, 5)


class ArchError(ProxybenchError):
    """A malformed architecture string or cell; the message says what a valid one looks like."""


_EXAMPLE = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
            "|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")


def parse_arch(arch: str) -> Cell:
    """Official NB201 string -> cell, with a message that points at the bad part."""
    if not isinstance(arch, str):
        raise ArchError(f"arch must be a string like {_EXAMPLE!r}, got {type(arch).__name__}")
    nodes = arch.strip().split("+")
    if len(nodes) != NUM_NODES - 1:
        raise ArchError(
            f"malformed NB201 arch {arch!r}: expected 3 nodes separated by '+', got {len(nodes)};"
            f" example: {_EXAMPLE}"
        )
    cell: list[int] = []
    for to_node, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise ArchError(f"malformed NB201 arch {arch!r}: node {to_node} {node!r} must be "
                            f"wrapped in '|'; example: {_EXAMPLE}")
        items = node[1:-1].split("|")
        if len(items) != to_node:
            raise ArchError(f"malformed NB201 arch {arch!r}: node {to_node} needs {to_node} "
                            f"inputs, got {len(items)}; example: {_EXAMPLE}")
        for from_node, item in enumerate(items):
            op, sep, src = item.partition("~")
            if not sep or src != str(from_node):
                raise ArchError(f"malformed NB201 arch {arch!r}: {item!r} should read "
                                f"'OP~{from_node}'; example: {_EXAMPLE}")
            if op not in OPS:
                raise ArchError(f"unknown op {op!r} in NB201 arch {arch!r}; ops are "
                                f"{', '.join(OPS)}")
            cell.append(OPS.index(op))
    return tuple(cell)


def format_arch(cell: Cell) -> str:
    """Cell -> official NB201 string."""
    cell = check_cell(cell)
    parts, k = [], 0
    for to_node in range(1, NUM_NODES):
        items = []
        for from_node in range(to_node):
            items.append(f"{OPS[cell[k]]}~{from_node}")
            k += 1
        parts.append("|" + "|".join(items) + "|")
    return "+".join(parts)


def check_cell(cell: Cell) -> Cell:
    """Validate a cell tuple (6 op indices) and return it as a tuple."""
    cell = tuple(int(c) for c in cell)
    if len(cell) != len(EDGES) or any(not 0 <= c < len(OPS) for c in cell):
        raise ArchError(f"a NB201 cell is 6 op indices in 0..{len(OPS) - 1}, got {cell}")
    return cell


def naslib_key(cell: Cell) -> str:
    """Cell -> NASLib's key ``"(a, b, c, d, e, f)"`` (the str of its op-index tuple), the
    key of NAS-Bench-Suite-Zero's ``zc_nasbench201.json``."""
    cell = check_cell(cell)
    return str(tuple(NASLIB_OPS.index(OPS[cell[e]]) for e in _NASLIB_EDGE))


def cell_from_naslib_key(key: str) -> Cell:
    """NASLib's key ``"(4, 0, 3, 1, 4, 3)"`` -> cell; anything else (another space's hash, a
    malformed tuple, an op index out of range) is an :class:`ArchError` naming the key."""
    text = key.strip() if isinstance(key, str) else ""
    parts = text[1:-1].split(",") if text.startswith("(") and text.endswith(")") else []
    digits = [p.strip() for p in parts]
    if len(digits) != len(EDGES) or not all(d.isdigit() and int(d) < len(OPS)
                                            for d in digits):
        raise ArchError(f"{key!r} is not a NASLib NB201 key: expected 6 op indices in "
                        f"0..{len(OPS) - 1} like '(4, 0, 3, 1, 4, 3)'")
    ours = [0] * len(EDGES)
    for position, d in zip(_NASLIB_EDGE, digits, strict=True):
        ours[position] = OPS.index(NASLIB_OPS[int(d)])
    return tuple(ours)


@lru_cache(maxsize=1)
def all_cells() -> tuple[Cell, ...]:
    """All 15,625 cells in the official NB201 index order (see module docstring)."""
    archs: list[Cell] = [()]
    for to_node in range(1, NUM_NODES):
        node_choices: list[Cell] = [()]
        for _ in range(to_node):
            node_choices = [prev + (op,) for prev in node_choices for op in range(len(OPS))]
        archs = [a + c for a in archs for c in node_choices]
    rng = random.Random()
    rng.seed(88)
    rng.shuffle(archs)
    return tuple(archs)


@lru_cache(maxsize=1)
def _index_of() -> dict[Cell, int]:
    return {cell: i for i, cell in enumerate(all_cells())}


def arch_index(cell: Cell) -> int:
    """Official NB201 index of a cell."""
    return _index_of()[check_cell(cell)]


def cell_at(index: int) -> Cell:
    """Cell with the given official NB201 index."""
    if not 0 <= int(index) < NUM_CELLS:
        raise ArchError(f"NB201 arch_index must be in 0..{NUM_CELLS - 1}, got {index}")
    return all_cells()[int(index)]


def prune(cell: Cell) -> Cell:
    """Replace dead edges by ``none``: an edge is dead if its input node never receives a
    signal from node 0 or its output never reaches node 3.

    A dead edge cannot change the network's output when every op maps an all-zero input to
    zero: true for skip, pooling and conv without bias followed by a BatchNorm *without*
    affine shift (the supernet's cells; see ``nets.py``). With an affine BN the edge outputs
    its bias, so networks with affine cell BNs are never merged on this basis.
    """
    cell = check_cell(cell)
    live = dict(zip(EDGES, cell, strict=True))
    fed = {0}
    for to_node in range(1, NUM_NODES):
        if any(live[(to_node, j)] != NONE and j in fed for j in range(to_node)):
            fed.add(to_node)
    reaches = {NUM_NODES - 1}
    for from_node in range(NUM_NODES - 2, -1, -1):
        if any(live[(i, from_node)] != NONE and i in reaches
               for i in range(from_node + 1, NUM_NODES)):
            reaches.add(from_node)
    return tuple(
        op if (op != NONE and j in fed and i in reaches) else NONE
        for (i, j), op in zip(EDGES, cell, strict=True)
    )


def is_disconnected(cell: Cell) -> bool:
    """True when no path links node 0 to node 3: the cell's output is identically zero."""
    return all(op == NONE for op in prune(cell))


def sample_cells(n: int, seed: int) -> list[int]:
    """A seeded sample of n distinct arch indices (sorted), for runs on part of the space."""
    if not 1 <= n <= NUM_CELLS:
        raise ArchError(f"number of cells must be in 1..{NUM_CELLS}, got {n}")
    rng = random.Random(seed)
    return sorted(rng.sample(range(NUM_CELLS), n))


def isomorphism_key(cell: Cell) -> str:
    """NB201's key for isomorphic cells (the rule of the benchmark's own ``to_unique_str``
    with ``consider_zero=True``): node 0 is ``0``; an edge contributes ``#`` (zero) when its
    op is ``none`` or its input node is ``#``, its input node's key for ``skip_connect``, and
    ``(input)@op`` otherwise; a node is its sorted terms joined by ``+``, the cell its
    output node. 6,466 classes; papers that report tau on "unique" NB201 cells use one cell
    per class."""
    check_cell(cell)
    key = {0: "0"}
    for node in range(1, NUM_NODES):
        terms = []
        for (to, src), op in zip(EDGES, cell, strict=True):
            if to != node:
                continue
            if op == NONE or key[src] == "#":
                terms.append("#")
            elif OPS[op] == "skip_connect":
                terms.append(key[src])
            else:
                terms.append(f"({key[src]})@{OPS[op]}")
        key[node] = "+".join(sorted(terms))
    return key[NUM_NODES - 1]


def cell_set(name: str, indices: list[int] | None = None) -> list[int]:
    """The NB201 cells a correlation runs on, by protocol: ``all`` (every index given),
    ``distinct`` (one cell per dead-edge-pruned form: cells that compute the same function
    in a weight-sharing supernet, 9,445 in all) or ``unique`` (one per isomorphism class,
    :func:`isomorphism_key`, 6,466). The representative is the lowest index of its class."""
    indices = sorted(range(NUM_CELLS) if indices is None else indices)
    if name == "all":
        return indices
    key = {"distinct": lambda i: prune(cell_at(i)),
           "unique": lambda i: isomorphism_key(cell_at(i))}.get(name)
    if key is None:
        raise ArchError(f"unknown cell set {name!r}; choose all, distinct or unique")
    first: dict = {}
    for i in indices:
        first.setdefault(key(i), i)
    return sorted(first.values())


@lru_cache(maxsize=1)
def live_forms() -> int:
    """Number of distinct pruned cells with a path from input to output (9,444)."""
    return len({prune(c) for c in all_cells() if not is_disconnected(c)})


# --------------------------------------------------------------------------- search operators


def random_path(rng: random.Random) -> Cell:
    """SPOS uniform single path: each edge picks one op uniformly (training)."""
    return tuple(rng.randrange(len(OPS)) for _ in EDGES)


@lru_cache(maxsize=1)
def distinct_forms() -> tuple[Cell, ...]:
    """The 9,445 pruned forms (9,444 with a path, plus the all-``none`` cell), sorted: the
    networks a weight-sharing supernet can tell apart."""
    return tuple(sorted({prune(c) for c in all_cells()}))


@lru_cache(maxsize=1)
def isomorphism_classes() -> tuple[tuple[Cell, ...], ...]:
    """The 6,466 isomorphism classes, each as its distinct pruned forms (sorted): the
    classes EEPE's de-isomorphic sampling draws from. Isomorphic forms compute the same
    function but use other weights of a supernet, so a class is trained through all of
    them."""
    classes: dict[str, set[Cell]] = {}
    for cell in all_cells():
        classes.setdefault(isomorphism_key(cell), set()).add(prune(cell))
    return tuple(tuple(sorted(forms)) for _, forms in sorted(classes.items()))


def _uniform_paths(rng: random.Random) -> Iterator[Cell]:
    """SPOS: each edge picks one op uniformly at every step (the cells repeat as often as
    their op tuples: a pruned form with many dead-edge variants is trained more often)."""
    while True:
        yield random_path(rng)


def _paths_from(cells: tuple[Cell, ...]):
    def paths(rng: random.Random) -> Iterator[Cell]:
        while True:
            yield cells[rng.randrange(len(cells))]
    return paths


def _unique_paths(rng: random.Random) -> Iterator[Cell]:
    """De-isomorphic sampling: an isomorphism class uniformly, then one of its forms."""
    classes = isomorphism_classes()
    while True:
        forms = classes[rng.randrange(len(classes))]
        yield forms[rng.randrange(len(forms))]


def _fair_paths(rng: random.Random) -> Iterator[Cell]:
    """FairNAS strict fairness: each group of 5 steps draws one random permutation of the 5
    ops per edge and step j trains op perm[j] on every edge, so every op of every edge is
    trained exactly once per group (groups restart with each epoch's generator)."""
    while True:
        perms = []
        for _ in EDGES:
            perm = list(range(len(OPS)))
            rng.shuffle(perm)
            perms.append(perm)
        for j in range(len(OPS)):
            yield tuple(perm[j] for perm in perms)


# ``train --sampling``: what one training step's path is drawn from
SAMPLERS = {"uniform": _uniform_paths,
            "distinct": lambda rng: _paths_from(distinct_forms())(rng),
            "unique": _unique_paths,
            "fair": _fair_paths}


def random_cell(rng: random.Random) -> Cell:
    """A uniform random cell with a path from input to output (search proposals)."""
    while True:
        cell = random_path(rng)
        if not is_disconnected(cell):
            return cell


def mutate(cell: Cell, prob: float, rng: random.Random) -> Cell:
    """Each edge is re-drawn uniformly with probability ``prob``."""
    return tuple(rng.randrange(len(OPS)) if rng.random() < prob else op for op in cell)


def crossover(a: Cell, b: Cell, rng: random.Random) -> Cell:
    """Each edge from either parent with equal probability."""
    return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b, strict=True))


# --------------------------------------------------------------------------- cell selection


def cells_from_file(path: Path) -> list[int]:
    """The arch indices listed in a file, one per line (e.g. the cells another machine has
    not done); every bad line is named."""
    cells = []
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ArchError(f"{path} is not a text file of cell indices; put one NB201 index "
                        f"(0-15624) per line") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            if not line.strip().isascii():
                raise ValueError(line)
            i = int(line)
        except ValueError:
            raise ArchError(f"{path}:{n}: {line.strip()!r} is not a cell index; the file holds "
                            f"one NB201 index (0-15624) per line") from None
        if not 0 <= i < NUM_CELLS:
            raise ArchError(f"{path}:{n}: cell index {i} is outside 0-15624")
        cells.append(i)
    if not cells:
        raise ArchError(f"{path} names no cell; put one NB201 index (0-15624) per line, or "
                        f"pass --cells all or a number")
    if len(set(cells)) != len(cells):
        raise ArchError(f"{path} names a cell twice")
    return cells


def select(text: str, seed: int) -> list[int]:
    """``--cells``: 'all', a number N (a seeded sample of N cells) or a file of indices."""
    text = str(text)
    if text == "all":
        return list(range(NUM_CELLS))
    if is_file(text):
        return cells_from_file(Path(text))
    try:
        n = int(text)
    except ValueError:
        raise ArchError(f"--cells must be 'all', a number or a file of cell indices, got "
                        f"{text!r}") from None
    return sample_cells(n, seed)


def _key(value: object) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return arch_index(parse_arch(str(value)))


def _presets() -> dict:
    from ..run.presets import PRESETS
    return PRESETS


def _build_supernet(preset, num_classes: int):
    """All five ops on every edge; cell BNs without affine, so pruning is exact."""
    from ..nets.nb201 import NB201Net
    return NB201Net(preset.channels, preset.layers, num_classes, cell=None, affine_cells=False)


def _cells_table(dataset: str = "cifar10", channels: int = 16, layers: int = 5):
    from ..nets.nb201 import cells_table
    return cells_table(dataset, channels, layers)


def _ids_of(index: int) -> dict:
    return {"arch_index": index, "arch": format_arch(cell_at(index))}


SPACE = Space(
    name="nb201", description="NAS-Bench-201: 15,625 cells, 6 edges x 5 ops; ground truth",
    is_cell=lambda c: isinstance(c, tuple) and len(c) == len(EDGES)
    and all(isinstance(x, int) for x in c),
    parse=parse_arch, text=format_arch, canonical=prune, ident=arch_index, cell_of=cell_at,
    key=_key, id_columns=("arch_index", "arch"), ids_of=_ids_of, select=select,
    path_sample=random_path, sample=random_cell, mutate=mutate, crossover=crossover,
    dedup=prune, valid=lambda c: not is_disconnected(c), size=lambda: float(live_forms()),
    presets=_presets, build_supernet=_build_supernet, cells_table=_cells_table,
    ground_truth=True, samplers=SAMPLERS,
    # NB201 (and GeNAS on NB201, "the equivalent settings to NAS-Bench-201"): CIFAR-10
    # validates on half of the training set (cifar-split.txt); CIFAR-100 and ImageNet16-120
    # train on the whole training set and validate on the x-valid half of the test set
    validation={"cifar10": "train", "cifar100": "test", "imagenet16-120": "test"})


def grow_sample(cells: list[int], n: int, seed: int) -> list[int]:
    """``cells`` plus a seeded sample of ``n`` more from the rest, sorted: a larger sample
    that keeps every cell already scored (so its tables extend with ``--resume``)."""
    rest = sorted(set(range(NUM_CELLS)) - set(cells))
    if not 0 <= n <= len(rest):
        raise ArchError(f"cannot add {n} cells: {len(rest)} are not in the sample")
    return sorted([*cells, *random.Random(seed).sample(rest, n)])
