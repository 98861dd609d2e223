"""The one interface every search space implements (see ``nb201.SPACE``, ``darts.SPACE``).

Training, the scoring engine, search, tables and reports ask the space for everything that
differs between spaces, so none of them branches on a space's name. A space is plain data
plus functions; adding one is a module that builds a :class:`Space` and a call to
:func:`proxybench.spaces.register_space`.

Three representations, documented once:

- a **cell**: what networks are built from (NB201: a tuple of 6 op indices; DARTS: a
  ``Genotype``);
- an **id**: what score tables, searches and users name cells by (NB201: the arch index;
  DARTS: the canonical genotype text, since the space has no index);
- a **text**: the human string (NB201's arch string; the genotype text).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Space:
    """What every part of proxybench needs to know about one search space."""

    name: str
    description: str
    is_cell: Callable[[object], bool]            # is this object a cell of the space?
    # ---- representations
    parse: Callable[[str], Any]                  # text -> cell
    text: Callable[[Any], str]                   # cell -> stable text (one per network)
    canonical: Callable[[Any], Any]              # the form trained and scored; same form =
    #                                              same network (NB201: dead edges pruned)
    ident: Callable[[Any], Any]                  # cell -> id
    cell_of: Callable[[Any], Any]                # id -> cell
    key: Callable[[Any], Any]                    # a user's id (e.g. "12" or a text) -> id
    # ---- score tables
    id_columns: tuple[str, ...]                  # the key column first
    ids_of: Callable[[Any], dict]                # id -> the row's id columns
    # ---- choosing cells
    select: Callable[[str, int], list]           # --cells text (all | N | FILE), seed -> ids
    path_sample: Callable[[random.Random], Any]  # SPOS: one uniform path (training)
    sample: Callable[[random.Random], Any]       # a valid random cell (search)
    mutate: Callable[[Any, float, random.Random], Any]
    crossover: Callable[[Any, Any, random.Random], Any]
    dedup: Callable[[Any], Hashable]             # cells with equal values are one network
    valid: Callable[[Any], bool]                 # proposals that fail are skipped in search
    size: Callable[[], float]                    # number of distinct networks (inf if huge)
    # ---- networks (imported lazily: statistics and reports never load torch)
    presets: Callable[[], dict]                  # name -> run.presets.Preset
    build_supernet: Callable[[Any, int], Any]    # (preset, num_classes) -> nn.Module
    # ---- optional capabilities
    cells_table: Callable[..., Any] | None = None   # enumerate all cells with their costs
    ground_truth: bool = False                   # NB201's tables give every cell's accuracy
    write_found: Callable[[Any, Any, str], list] | None = None  # (id, folder, title) ->
    #                                                 files describing a search's find
    # training's path samplers by name (``train --sampling``): rng -> endless paths; a
    # space without its own has ``uniform`` (``path_sample`` at every step)
    samplers: dict[str, Callable[[random.Random], Iterator[Any]]] | None = None
    # where a supernet's validation images come from, by dataset (``train --validation``):
    # "train" = half of the training set (the other half trains the supernet), "test" = half
    # of the test set, the full training set training it (NB201's x-valid); default "train"
    validation: dict[str, str] | None = None

    @property
    def key_column(self) -> str:
        return self.id_columns[0]

    def default_validation(self, dataset: str) -> str:
        """The validation protocol this space's reference code uses on ``dataset``."""
        return (self.validation or {}).get(dataset, "train")

    def sampler_names(self) -> tuple[str, ...]:
        """The path samplings this space trains with, ``uniform`` first."""
        return tuple(self.samplers) if self.samplers else ("uniform",)

    def path_sampler(self, name: str, rng: random.Random) -> Iterator[Any]:
        """The paths one training epoch draws from ``rng`` under sampling ``name``."""
        if name not in self.sampler_names():
            from ..errors import ProxybenchError
            raise ProxybenchError(f"unknown path sampling {name!r} for the {self.name} space; "
                                  f"choose one of {', '.join(self.sampler_names())}")
        if self.samplers:
            return self.samplers[name](rng)
        return iter(lambda: self.path_sample(rng), None)

    def key_of_row(self, row: dict) -> Any:
        return self.key(row[self.key_column])
