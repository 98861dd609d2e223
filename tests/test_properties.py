"""Property tests of the option grammar: random strings into every parser of user text
(proxy specs, cell lists and cells files, seed ranges, NB201 arch strings, DARTS genotypes,
numeric options) either parse or raise the project's error with a one-line message, never
another exception (hypothesis; small example counts, so the file runs in seconds)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from proxybench.errors import ProxybenchError  # noqa: E402

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _pieces(*words: str) -> st.SearchStrategy[str]:
    """Strings made of the grammar's own pieces (deeper than random text goes) or of any
    characters."""
    glued = st.lists(st.sampled_from(words), max_size=12).map("".join)
    return st.one_of(glued, st.text(max_size=40))


def _parses_or_one_line(fn, text):
    """``fn(text)`` returns, or raises a ProxybenchError whose message is one line."""
    try:
        return fn(text)
    except ProxybenchError as exc:
        message = str(exc)
        assert message.strip(), "an empty message"
        assert "\n" not in message, message
        return None


PROXY_WORDS = ("flatness", "snip", "angle", "params", "synflow", "val_loss", "nope", ":",
               ";", ",", "=", "/", " ", "alpha", "sigmas", "batch_size", "2", "0", "-1",
               "1e-3", "nan", "inf", "1e999", "true", "x", "[", "]")


@FAST
@given(_pieces(*PROXY_WORDS))
def test_proxy_specs_parse_or_refuse_in_one_line(text):
    from proxybench.proxies import parse_specs
    specs = _parses_or_one_line(parse_specs, text)
    if specs is not None:
        assert specs and len({s.column for s in specs}) == len(specs)


CELL_WORDS = ("all", "0", "1", "15624", "15625", "-3", "1.5", "1e3", " ", "\n", "#",
              "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|", "|", "+",
              "~", "x", "٣", "²")


@FAST
@given(_pieces(*CELL_WORDS))
def test_cells_option_parses_or_refuses_in_one_line(text):
    from proxybench.spaces import get_space
    ids = _parses_or_one_line(lambda t: get_space("nb201").select(t, 0), text)
    if ids is not None:
        assert ids and all(0 <= i < 15625 for i in ids)


@FAST
@given(_pieces(*CELL_WORDS))
def test_a_cells_file_parses_or_refuses_in_one_line(text):
    from proxybench.spaces import get_space
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cells.txt"
        path.write_text(text, encoding="utf-8")
        ids = _parses_or_one_line(lambda p: get_space("nb201").select(str(p), 0), path)
    if ids is not None:
        assert all(0 <= i < 15625 for i in ids)


@FAST
@given(_pieces("0", "1", "4", "7", "-", ",", " ", "99999999999", "a", "-1", "2-0", "",
               "٣", "²"))
def test_seed_lists_parse_or_refuse_in_one_line(text):
    from proxybench.run.rundir import parse_seeds
    seeds = _parses_or_one_line(parse_seeds, text)
    if seeds is not None:
        assert seeds and len(set(seeds)) == len(seeds) and len(seeds) <= 1000


ARCH_WORDS = ("|", "+", "~", "0", "1", "2", "3", "none", "skip_connect", "nor_conv_1x1",
              "nor_conv_3x3", "avg_pool_3x3", "é", " ")


@FAST
@given(_pieces(*ARCH_WORDS))
def test_arch_strings_parse_or_refuse_in_one_line(text):
    from proxybench.spaces import nb201
    cell = _parses_or_one_line(nb201.parse_arch, text)
    if cell is not None:
        assert nb201.parse_arch(nb201.format_arch(cell)) == cell


@FAST
@given(_pieces("Genotype(", "normal=", "reduce=", "[", "]", "(", ")", "'sep_conv_3x3'",
               "'max_pool_3x3'", ", ", "0", "1", "2", "normal_concat=", "range(2, 6)", "{",
               "}", '"normal"', ":", "DARTS_V2", "darts_v2"))
def test_genotype_text_parses_or_refuses_in_one_line(text):
    from proxybench.spaces import darts
    _parses_or_one_line(darts.resolve_genotype, text)


NUMBER_OPTIONS = ("n_boot", "gamma", "beta", "target_mflops", "epochs", "batch_size",
                  "train_images", "seed", "mutation_prob", "population")


@FAST
@given(st.sampled_from(NUMBER_OPTIONS),
       _pieces("0", "1", "-1", "2.5", "1e11", "nan", "inf", "-inf", "e", ".", " ", "x"))
def test_numeric_options_parse_or_refuse_in_one_line(name, text):
    from proxybench.checks import check
    value = _parses_or_one_line(lambda t: check(name, t), text)
    if value is not None:
        assert value == value and abs(value) != float("inf")


@settings(max_examples=40, deadline=None)
@given(_pieces(*ARCH_WORDS, *CELL_WORDS))
def test_the_arch_command_answers_or_refuses_in_one_line(text):
    from click.testing import CliRunner

    from proxybench.cli import main
    result = CliRunner().invoke(main, ["arch", "--", text])
    assert result.exit_code in (0, 1), result.output + repr(result.exception)
    if result.exit_code:
        assert "Traceback" not in result.output
        assert len([ln for ln in result.output.splitlines() if ln.startswith("Error")]) == 1


@FAST
@given(_pieces("0", "1", "5", "6", ":", "-", " ", "٣", "²", "x", "1e9"))
def test_few_shot_splits_parse_or_refuse_in_one_line(text):
    from proxybench.run.fewshot import parse_few_shot
    split = _parses_or_one_line(parse_few_shot, text)
    if split is not None:
        edge, epochs = split
        assert 0 <= edge <= 5 and epochs >= 1 and text.isascii()


@FAST
@given(_pieces("0", "10", "1", ",", " ", "nan", "-1", "101", "x", "1e2", "²"))
def test_top_k_levels_parse_or_refuse_in_one_line(text):
    import click

    from proxybench.cli import _percents
    try:
        levels = _percents(text)
    except click.BadParameter as exc:
        assert "\n" not in str(exc)
        return
    assert levels and all(0 < x <= 100 for x in levels)
