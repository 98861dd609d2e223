"""Search spaces, registered by name: ``nb201`` and ``darts`` (one module each, pure Python).

Code elsewhere asks a :class:`~proxybench.spaces.base.Space` for what differs between
spaces (:func:`get_space` by name, :func:`space_of` for a cell), so adding a space is one
module plus :func:`register_space`; nothing else branches on a space's name.
"""

from __future__ import annotations

from ..errors import ProxybenchError
from .base import Space

_SPACES: dict[str, Space] = {}


class SpaceError(ProxybenchError):
    """Unknown space name; the message lists the registered ones."""


def register_space(space: Space) -> Space:
    """Add a space to the registry (a duplicate name is a bug)."""
    if space.name in _SPACES and _SPACES[space.name] is not space:
        raise ValueError(f"space {space.name!r} is registered twice")
    _SPACES[space.name] = space
    return space


def _builtin() -> None:
    if "nb201" not in _SPACES:
        from . import darts, nb201
        register_space(nb201.SPACE)
        register_space(darts.SPACE)


def get_space(name: str) -> Space:
    """The registered space called ``name``."""
    _builtin()
    try:
        return _SPACES[name]
    except KeyError:
        raise SpaceError(f"unknown space {name!r}; choose one of "
                         f"{', '.join(sorted(_SPACES))}") from None


def space_names() -> list[str]:
    _builtin()
    return list(_SPACES)


def space_of(cell: object) -> Space:
    """The space a cell belongs to (cells of different spaces have different types)."""
    _builtin()
    for space in _SPACES.values():
        if space.is_cell(cell):
            return space
    raise SpaceError(f"{cell!r} is not a cell of any registered space")


def canonical_cell(cell):
    """The form that is trained and scored: NB201's pruned cell (dead edges are 'none'), a
    DARTS genotype in canonical pair order. Cells with the same form are the same network."""
    return space_of(cell).canonical(cell)


def cell_text(cell) -> str:
    """One stable string per cell: NB201's arch string, DARTS' canonical genotype text."""
    return space_of(cell).text(cell)

