"""Every numeric (and named-choice) option checked in one place, for the CLI and the API.

``RULES`` maps an option's name (as the API spells its parameter; the CLI's ``--bootstrap``
is the API's ``n_boot``) to its range: a value is finite, of the right kind, and inside its
range, or it is refused with one line naming the option, the value and the range. Nothing
is clipped: a value that cannot be honoured is an error. The CLI's option types
(:func:`proxybench.cli.options.checked`) and the API's entry points
(:func:`proxybench.api`'s ``@entry``) call :func:`check`; limits that depend on the data
(at most the images a data set holds, at least one training step) are checked with
:func:`at_most` where the data is known, before anything is written.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import OptionError

MAX_BOOTSTRAP = 100_000      # resamples: ~5 ms each, so the cap is minutes, not days
MAX_SEEDS = 1000             # supernets in one seed group


@dataclass(frozen=True)
class Number:
    """A number option: ``integer`` or real, within [low, high] (``open_low``: > low);
    ``none``: None allowed (the default / 'not set')."""

    integer: bool = True
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    none: bool = True
    meaning: str = ""

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a finite number"
        if self.low is not None and self.high is not None:
            lo = "(" if self.open_low else "["
            return f"{kind} in {lo}{_num(self.low)}, {_num(self.high)}]"
        if self.low is not None:
            return f"{kind} {'>' if self.open_low else '>='} {_num(self.low)}"
        return kind

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            if self.none:
                return None
            raise OptionError(f"{name} must be {self.describe()}, got None")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            if isinstance(value, str):
                value = _from_text(name, value, self)
            else:
                raise OptionError(f"{name} must be {self.describe()}, got {_show(value)}")
        try:
            finite = math.isfinite(float(value))
        except OverflowError:          # an int too large for a float
            finite = False
        if not finite:
            raise OptionError(f"{name} must be {self.describe()}, got {_show(value)}")
        if self.integer:
            if float(value) != int(value):
                raise OptionError(f"{name} must be {self.describe()}, got {value}")
            value = int(value)
        else:
            value = float(value)
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            raise OptionError(f"{name} must be {self.describe()}, got {_num(value)}"
                              + (f" ({self.meaning})" if self.meaning else ""))
        if self.high is not None and value > self.high:
            raise OptionError(f"{name} must be {self.describe()}, got {_num(value)}"
                              + (f" ({self.meaning})" if self.meaning else ""))
        return value


@dataclass(frozen=True)
class Choice:
    """One of named values (``choices`` may be a callable, for registries loaded late)."""

    choices: tuple | Callable[[], Any]
    none: bool = False

    def __call__(self, name: str, value: Any) -> Any:
        names = tuple(self.choices() if callable(self.choices) else self.choices)
        if value is None and self.none:
            return None
        if not isinstance(value, str) or value not in names:
            raise OptionError(f"{name} must be one of {', '.join(names)}, got {_show(value)}")
        return value


@dataclass(frozen=True)
class Numbers:
    """A non-empty list of numbers, each by ``each``."""

    each: Number
    unique: bool = False

    def __call__(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise OptionError(f"{name} must be a list of {self.each.describe()}, got "
                              f"{_show(value)}")
        items = [self.each(f"{name} (each)", v) for v in value]
        if not items:
            raise OptionError(f"{name} is empty; give at least one value")
        if self.unique and len(set(items)) != len(items):
            raise OptionError(f"{name} names a value twice: {_show(list(value))}")
        return items


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _from_text(name: str, text: str, rule: Number) -> float:
    """A number typed as text: ASCII only ('1e3' for a whole number too)."""
    try:
        if not text.strip().isascii():
            raise ValueError(text)
        try:
            return int(text)
        except ValueError:
            return float(text)
    except ValueError:
        raise OptionError(f"{name} must be {rule.describe()}, got {text!r}") from None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _datasets() -> tuple:
    from .spaces.nb201 import DATASETS
    return tuple(DATASETS)


def _spaces() -> list:
    from .spaces import space_names
    return space_names()


POSITIVE = Number(low=1)
COUNT = Number(low=0)
SEED = Number(low=0, high=2**32 - 1)
FACTOR = Number(integer=False, low=0, open_low=True)

RULES: dict[str, Callable[[str, Any], Any]] = {
    # sizes and budgets of training and scoring
    "epochs": POSITIVE, "batch_size": POSITIVE, "channels": POSITIVE, "layers": POSITIVE,
    "train_images": Number(low=0, meaning="0 = all"), "test_images": Number(low=0),
    "val_images": POSITIVE, "bn_images": POSITIVE, "chunk": POSITIVE,
    "path_sample": POSITIVE, "save_every": COUNT, "average": POSITIVE,
    "at_epochs": Numbers(POSITIVE, unique=True),
    "workers": POSITIVE, "threads": POSITIVE,
    "lr": FACTOR, "lr_min": Number(integer=False, low=0), "momentum": Number(
        integer=False, low=0, high=1), "weight_decay": Number(integer=False, low=0),
    # seeds
    "seed": SEED, "seeds": Numbers(SEED, unique=True),
    # statistics
    "n_boot": Number(low=0, high=MAX_BOOTSTRAP, meaning="bootstrap resamples; 0 = none"),
    "bootstrap": Number(low=0, high=MAX_BOOTSTRAP, meaning="bootstrap resamples; 0 = none"),
    "top_k": Numbers(Number(integer=False, low=0, high=100, open_low=True)),
    "draws": POSITIVE, "splits": POSITIVE, "levels": Number(low=2),
    "labels": Numbers(POSITIVE), "min_members": POSITIVE, "max_members": POSITIVE,
    # combination and search
    "gamma": Number(integer=False, low=0, open_low=True, none=False,
                    meaning="GeNAS Eq. (5)'s weight of the flatness term"),
    "beta": Number(integer=False, low=0, open_low=True, meaning="1/sigma_1 by default"),
    "target_mflops": Number(integer=False, low=0, open_low=True,
                            meaning="a FLOPs budget in M multiply-adds"),
    "population": Number(low=2), "iterations": POSITIVE, "parents": POSITIVE,
    "repeats": POSITIVE, "budget": Number(low=2),
    "mutation_prob": Number(integer=False, low=0, high=1, open_low=True),
    # named choices
    "dataset": Choice(_datasets, none=True), "space": Choice(_spaces),
    "missing": Choice(("last", "drop")),
    "metric": Choice(("test-200", "valid-200", "valid-12")),
    "truth_metric": Choice(("test-200", "valid-200", "valid-12")),
    "cell_set": Choice(("all", "distinct", "unique")),
}


def check(name: str, value: Any) -> Any:
    """``value`` checked (and normalised: '3' -> 3 where a number is due) by the rule of
    option ``name``; names without a rule pass unchanged."""
    rule = RULES.get(name)
    return value if rule is None else rule(name, value)


def check_all(values: dict[str, Any]) -> dict[str, Any]:
    """Every value of ``values`` that has a rule, checked; returns the normalised dict."""
    return {k: check(k, v) for k, v in values.items()}


def at_most(name: str, value: int, available: int, what: str, fix: str = "") -> None:
    """Refuse an option asking for more than the data holds (instead of clipping it)."""
    if value > available:
        raise OptionError(f"--{name.replace('_', '-')} {value} asks for more than the "
                          f"{available} {what}; give at most {available}"
                          + (f" ({fix})" if fix else ""))
