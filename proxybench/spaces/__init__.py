"""Search spaces: ``nb201`` (cells are tuples of op indices) and ``darts`` (cells are
``darts.Genotype``). The helpers here dispatch on the cell's type, so code that handles one
cell (proxies, the engine, training) serves both spaces without a space argument."""

from __future__ import annotations

SPACES = ("nb201", "darts")


def is_darts(cell: object) -> bool:
    from .darts import Genotype
    return isinstance(cell, Genotype)


def canonical_cell(cell):
    """The form that is trained and scored: NB201's pruned cell (dead edges are 'none'), a
    DARTS genotype in canonical pair order. Cells with the same form are the same network."""
    from . import darts, nb201
    return darts.canonical(cell) if is_darts(cell) else nb201.prune(cell)


def cell_text(cell) -> str:
    """One stable string per cell: NB201's arch string, DARTS' canonical genotype text."""
    from . import darts, nb201
    return darts.genotype_key(cell) if is_darts(cell) else nb201.format_arch(cell)
