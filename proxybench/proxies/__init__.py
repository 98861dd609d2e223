"""The proxy registry: plain functions registered by name with their metadata.

A proxy is ``fn(ctx, cell, **options) -> float | dict``. ``cell`` is the NB201 cell being
scored (pruned when ``by_pruned`` is set, so cells that compute the same function share one
evaluation), or a DARTS genotype (canonical) for proxies registered with ``"darts"`` in
``spaces``. A proxy registered with ``models=True`` also takes any ``nn.Module`` in place of
the cell (``proxybench.measure``): the same function then scores that network instead of
building the cell's, so a model and a cell go through one implementation. A dict result
carries the score under ``"score"`` plus extra values (e.g. the loss at each sigma) that
land in the table as ``<column>.<key>``. Proxies never change the networks in the context
(or a network given to them): they work on copies.

Options are given on the command line as ``NAME:key=value,key=value`` (lists with ``/``,
e.g. ``flatness:alpha=0,sigmas=1e-3/5e-3``), checked against the defaults declared at
registration, and recorded in the run's JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import ProxybenchError
from ..nets.nb201 import NB201Net
from ..run.presets import Preset


class ProxyError(ProxybenchError):
    """Unknown proxy or bad proxy option; the message lists what is valid."""


class ModelError(ProxybenchError):
    """A proxy cannot score the network given to ``measure`` (it needs a supernet, a cell or
    a layer the network lacks), or the network cannot be loaded; the message names the proxy
    or the file and what to do."""


NEEDS = ("supernet", "init_supernet", "data", "macro")


@dataclass(frozen=True)
class ScoreContext:
    """Read-only inputs a proxy may use. Build it once per scoring run."""

    seed: int
    preset: Preset
    num_classes: int
    input_size: int = 32
    supernet: NB201Net | nn.Module | None = None     # NB201Net or darts_nets.DartsNet
    init_supernet: NB201Net | nn.Module | None = None
    bn_batch: tuple[Tensor, Tensor] | None = None
    val_batch: tuple[Tensor, Tensor] | None = None
    # (proxy name, its options) of every proxy scored in the same run: proxies that can share
    # one pass over a network (e.g. snip, fisher, jacov on the same init network and batch)
    # compute it once, with what all of them need (set by the engine; empty = alone)
    together: tuple[tuple[str, tuple], ...] = ()
    # images per forward pass when evaluating (not BN recalibration, whose statistics depend
    # on the preset's chunk): speed only, chosen per device (0: the preset's chunk)
    evaluation_chunk: int = 0
    # results that depend only on (context, cell), kept for the cell being scored so that
    # proxies of one cell share the BN-recalibrated path and its clean evaluation
    memo: dict = field(default_factory=dict, repr=False, compare=False)
    # a few-shot split (run/fewshot.py): op on edge ``shot_edge`` -> its sub-supernet
    shots: dict[int, nn.Module] | None = field(default=None, repr=False, compare=False)
    shot_edge: int | None = None

    def for_cell(self, cell: Any) -> ScoreContext:
        """The context that scores ``cell``: with a few-shot split, the sub-supernet of the op
        its pruned form has on the split edge (cells of one form share one); else itself."""
        if not self.shots:
            return self
        from ..spaces.nb201 import prune
        return replace(self, supernet=self.shots[prune(cell)[self.shot_edge]])

    @property
    def eval_chunk(self) -> int:
        return self.evaluation_chunk or self.preset.chunk

    @property
    def device(self) -> torch.device:
        """Where the context's images and supernet live (the CPU when it holds neither)."""
        for batch in (self.bn_batch, self.val_batch):
            if batch is not None:
                return batch[0].device
        if self.supernet is not None:
            return next(self.supernet.parameters()).device
        return torch.device("cpu")


@dataclass(frozen=True)
class Proxy:
    name: str
    fn: Callable[..., float | dict]
    higher_is_better: bool
    needs: frozenset[str]
    description: str
    by_pruned: bool                      # score depends only on the pruned cell
    defaults: dict[str, Any] = field(default_factory=dict)
    spaces: tuple[str, ...] = ("nb201",)  # search spaces the proxy can score ("any": all)
    models: bool = False                 # also scores any nn.Module given instead of a cell

    def fits(self, space: str) -> bool:
        """Whether the proxy can score cells of ``space``: proxies that only ask a supernet
        for a path (``extract``, ``path_vector``) serve any space."""
        return "any" in self.spaces or space in self.spaces


PROXIES: dict[str, Proxy] = {}


def register(name: str, *, higher_is_better: bool, needs: tuple[str, ...], description: str,
             by_pruned: bool = True, spaces: tuple[str, ...] = ("nb201",),
             models: bool = False, **defaults: Any) -> Callable:
    """Decorator: add ``fn`` to the registry under ``name`` (duplicate names are a bug)."""
    unknown = set(needs) - set(NEEDS)
    if unknown:
        raise ValueError(f"proxy {name}: unknown needs {unknown}")

    def deco(fn: Callable) -> Callable:
        if name in PROXIES:
            raise ValueError(f"proxy {name!r} registered twice")
        PROXIES[name] = Proxy(name, fn, higher_is_better, frozenset(needs), description,
                              by_pruned, dict(defaults), tuple(spaces), models)
        return fn

    return deco


def get_proxy(name: str) -> Proxy:
    _load_builtin()
    if name not in PROXIES:
        raise ProxyError(f"unknown proxy {name!r}; available: {', '.join(sorted(PROXIES))} "
                         f"(`proxybench proxies` describes them)")
    return PROXIES[name]


def all_proxies() -> dict[str, Proxy]:
    _load_builtin()
    return dict(PROXIES)


def _convert(proxy: str, key: str, raw: str, default: Any) -> Any:
    """An option's text as the type of its default. Float values must be finite: nan or
    inf would turn every score NaN (or meaningless) without any error."""
    try:
        if isinstance(default, tuple):
            value: Any = tuple(type(default[0])(v) for v in raw.split("/") if v != "")
        elif isinstance(default, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            value = raw.lower() in ("true", "1")
        else:
            value = type(default)(raw)
    except ValueError as exc:
        kind = f"a '/'-separated list of {type(default[0]).__name__}" if isinstance(
            default, tuple) else type(default).__name__
        raise ProxyError(f"proxy {proxy}: option {key}={raw!r} should be {kind}") from exc
    numbers = value if isinstance(value, tuple) else (value,)
    if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
        raise ProxyError(f"proxy {proxy}: option {key}={raw!r} is not a finite number; give "
                         f"a finite value (default {key}={_show(default)})")
    if isinstance(default, tuple) and default and not value:
        raise ProxyError(f"proxy {proxy}: option {key}={raw!r} names no value; give at least "
                         f"one (default {key}={_show(default)})")
    return value


def _show(value: Any) -> str:
    return "/".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) \
        if isinstance(value, tuple) else str(value)


@dataclass(frozen=True)
class ProxySpec:
    """A proxy with resolved options; ``column`` is its name in score tables."""

    proxy: Proxy
    options: dict[str, Any]
    column: str

    def to_dict(self) -> dict:
        return {"proxy": self.proxy.name, "options": self.options, "column": self.column,
                "higher_is_better": self.proxy.higher_is_better}


def parse_spec(text: str) -> ProxySpec:
    """``NAME`` or ``NAME:key=value,...`` -> ProxySpec with validated options.

    The column is the proxy name, or ``NAME[key=value,...]`` when options differ from the
    defaults, so variants can sit side by side in one table.
    """
    name, _, rest = text.strip().partition(":")
    proxy = get_proxy(name.strip())
    options = dict(proxy.defaults)
    changed = []
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or key not in proxy.defaults:
            valid = ", ".join(f"{k}={v}" for k, v in proxy.defaults.items()) or "none"
            raise ProxyError(f"proxy {proxy.name}: bad option {item!r}; options (defaults): "
                             f"{valid}")
        options[key] = _convert(proxy.name, key, raw.strip(), proxy.defaults[key])
        changed.append(f"{key}={raw.strip()}")
    check = getattr(proxy.fn, "check_options", None)
    if check is not None:
        check(options)
    column = proxy.name if not changed else f"{proxy.name}[{','.join(changed)}]"
    return ProxySpec(proxy, options, column)


def model_refusal(proxy: Proxy) -> str | None:
    """Why ``proxy`` cannot score a plain nn.Module, in one line (None: it can)."""
    if proxy.models:
        return None
    if proxy.needs & {"supernet", "init_supernet"}:
        what = ("a trained supernet and its epoch-0 weights" if "init_supernet" in proxy.needs
                else "a trained supernet")
        return (f"proxy {proxy.name} needs {what} (it scores a cell's path in it), which a "
                f"plain model lacks; score NB201 cells with `proxybench score --run RUN`")
    return (f"proxy {proxy.name} reads the structure of an NB201 cell (its edges), which a "
            f"plain model lacks; score NB201 cells with `proxybench score`")


def with_together(ctx: ScoreContext, specs: list[ProxySpec]) -> ScoreContext:
    """``ctx`` for scoring ``specs`` side by side: proxies that can share a pass over the
    same network (the zero-cost proxies' ``init_pass``) see what the others need."""
    return replace(ctx, together=tuple((s.proxy.name, tuple(sorted(s.options.items())))
                                       for s in specs))


def result_values(spec: ProxySpec, result: float | dict) -> dict[str, float]:
    """A proxy's result as table columns: the score under ``spec.column`` and a dict
    result's extra values under ``<column>.<key>``."""
    if not isinstance(result, dict):
        return {spec.column: float(result)}
    extra = dict(result)
    values = {spec.column: float(extra.pop("score"))}
    values.update({f"{spec.column}.{k}": float(v) for k, v in extra.items()})
    return values


def parse_specs(text: str) -> list[ProxySpec]:
    """Comma-free split of ``a,b:x=1,c`` is ambiguous, so several proxies are joined by ';'
    or given as repeated options; a plain ``a,b`` list (no options) is also accepted."""
    parts = [p for p in text.split(";") if p.strip()]
    if len(parts) == 1 and ":" not in parts[0]:
        parts = [p for p in parts[0].split(",") if p.strip()]
    specs = [parse_spec(p) for p in parts]
    if not specs:
        raise ProxyError(f"--proxy {text!r} names no proxy; name one or more, e.g. "
                         f"'flatness;params' (`proxybench proxies` lists them)")
    columns = [s.column for s in specs]
    if len(set(columns)) != len(columns):
        raise ProxyError(f"proxy list {text!r} names the same proxy twice")
    return specs


def _load_builtin() -> None:
    from . import (  # noqa: F401  (registers on import)
        angle,
        baselines,
        flatness,
        performance,
        training_free,
        vkdnw,
        zero_cost,
    )
