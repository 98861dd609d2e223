"""Evolutionary search (SPOS / RLNAS style) and random search over the cells of any space.

Evolution: a population of distinct cells; each iteration keeps the ``parents`` best cells
seen so far, makes ``population/2`` children by mutation (each edge re-drawn with
probability ``mutation_prob``) and ``population/2`` by uniform crossover of two parents,
tops up with random cells, and evaluates only cells it has not seen. "Seen" and
"duplicate" mean the same pruned form, because two such cells are the same network;
cells with no path from input to output are never proposed. Random search draws the same
number of distinct cells. Both maximise a score function (lower-is-better proxies are
negated by the caller).

The space enters as a :class:`~proxybench.spaces.base.Space` (sampling, mutation,
crossover, the dedup key and the id handed to the score function; NB201 ids are arch
indices, DARTS ids canonical genotype texts); the default is NB201.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProxybenchError
from ..spaces import Space, get_space

ScoreFn = Callable[[Sequence[Any]], dict[Any, float]]


class SearchError(ProxybenchError):
    """Bad search settings; the message says which and what is valid."""


@dataclass
class SearchResult:
    best_index: Any                 # NB201: arch index; DARTS: canonical genotype string
    best_score: float
    evaluations: int
    history: list[dict] = field(default_factory=list)   # one row per iteration
    scores: dict[Any, float] = field(default_factory=dict)


def _check(population: int, iterations: int, parents: int, prob: float) -> None:
    if population < 2:
        raise SearchError(f"--population must be >= 2, got {population}")
    if iterations < 1:
        raise SearchError(f"--iterations must be >= 1, got {iterations}")
    if not 1 <= parents <= population:
        raise SearchError(f"--parents must be in 1..population, got {parents}")
    if not 0 < prob <= 1:
        raise SearchError(f"--mutation-prob must be in (0, 1], got {prob}")


def evolution(score: ScoreFn, *, population: int = 100, iterations: int = 20,
              parents: int | None = None, mutation_prob: float = 0.1,
              rng: random.Random, space: Space | None = None) -> SearchResult:
    """SPOS evolutionary search maximising ``score`` over the cells of ``space``."""
    space = space or get_space("nb201")
    parents = parents or max(2, population // 5)
    _check(population, iterations, parents, mutation_prob)
    seen: dict[Hashable, Any] = {}      # dedup form -> id of its first visit
    scores: dict[Any, float] = {}
    history = []

    def propose(make: Callable[[], Any], want: int, out: list) -> None:
        for _ in range(want * 50):  # bounded retries: the space can run dry for tiny pops
            if want <= 0:
                return
            cell = make()
            key = space.dedup(cell)
            if not space.valid(cell) or key in seen:
                continue
            seen[key] = space.ident(cell)
            out.append(seen[key])
            want -= 1

    candidates: list = []
    propose(lambda: space.sample(rng), population, candidates)
    for it in range(iterations):
        new = [i for i in candidates if i not in scores]
        scores.update(score(new))
        finite = {i: s for i, s in scores.items() if s == s}
        top = sorted(finite, key=finite.get, reverse=True)[:parents]
        pop_scores = [scores[i] for i in candidates if scores[i] == scores[i]]
        history.append({"iteration": it + 1, "evaluated": len(scores),
                        "best": finite[top[0]] if top else float("nan"),
                        "best_index": top[0] if top else -1,
                        "population_mean": sum(pop_scores) / max(1, len(pop_scores))})
        if it == iterations - 1 or not top:
            break
        cells = [space.cell_of(i) for i in top]
        candidates = []
        propose(lambda c=cells: space.mutate(rng.choice(c), mutation_prob, rng),
                population // 2, candidates)
        propose(lambda c=cells: space.crossover(rng.choice(c), rng.choice(c), rng),
                population // 2, candidates)
        propose(lambda: space.sample(rng), population - len(candidates), candidates)
    return _result(scores, history)


def random_search(score: ScoreFn, *, evaluations: int, rng: random.Random,
                  batch: int = 100, space: Space | None = None) -> SearchResult:
    """The baseline: ``evaluations`` distinct random cells, best one wins."""
    if evaluations < 1:
        raise SearchError(f"random search needs >= 1 evaluation, got {evaluations}")
    space = space or get_space("nb201")
    seen: set[Hashable] = set()
    scores: dict[Any, float] = {}
    history = []
    limit = space.size()
    while len(scores) < evaluations and len(seen) < limit:
        new = []
        while len(new) < min(batch, evaluations - len(scores)) and len(seen) < limit:
            cell = space.sample(rng)
            if space.dedup(cell) not in seen:
                seen.add(space.dedup(cell))
                new.append(space.ident(cell))
        scores.update(score(new))
        finite = {i: s for i, s in scores.items() if s == s}
        best = max(finite, key=finite.get) if finite else -1
        history.append({"iteration": len(history) + 1, "evaluated": len(scores),
                        "best": finite.get(best, float("nan")), "best_index": best,
                        "population_mean": float("nan")})
    return _result(scores, history)


def _result(scores: dict[Any, float], history: list[dict]) -> SearchResult:
    """The best finitely scored cell of a finished search."""
    finite = {i: s for i, s in scores.items() if s == s}
    if not finite:
        raise SearchError("every evaluated cell scored NaN: check the proxy's errors")
    _require_ranking(finite)
    best = max(finite, key=finite.get)
    return SearchResult(best, finite[best], len(scores), history, scores)


def _require_ranking(finite: dict[Any, float]) -> None:
    """Every evaluated cell scored the same: the "best" would be whichever came first."""
    if len(finite) > 1 and len(set(finite.values())) == 1:
        raise SearchError(f"the proxy gave all {len(finite)} evaluated cells the same score: "
                          f"it does not rank the cells, so any find would be arbitrary; "
                          f"choose another proxy or check its options")


def table_lookup(values: dict[int, float], higher_is_better: bool, name: str) -> ScoreFn:
    """A score function that reads a finished score table (nothing is recomputed)."""
    sign = 1.0 if higher_is_better else -1.0

    def score(indices: Sequence[int]) -> dict[int, float]:
        missing = [i for i in indices if i not in values]
        if missing:
            raise SearchError(f"{len(missing)} proposed cells (e.g. {missing[0]}) are not in "
                              f"the {name} table: score all cells first, or pass --run so "
                              f"search can score them")
        return {i: sign * values[i] for i in indices}

    return score


def rank_of(truth: dict[int, float], index: int) -> int:
    """1 + the number of cells with strictly higher ground-truth accuracy."""
    acc = truth[index]
    return 1 + sum(1 for v in truth.values() if v > acc)
