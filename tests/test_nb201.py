"""The NB201 space: strings, the official index order, pruning."""

from __future__ import annotations

import gzip

import pytest

from proxybench.spaces import nb201


def test_official_index_order_matches_ground_truth_table(gt_csv):
    with gzip.open(gt_csv, "rt") as fh:
        next(fh)
        archs = [line.split(",")[1] for line in fh]
    assert len(archs) == nb201.NUM_CELLS
    ours = [nb201.format_arch(c) for c in nb201.all_cells()]
    mismatches = [i for i, (a, b) in enumerate(zip(ours, archs, strict=True)) if a != b]
    assert mismatches == []


def test_round_trip_over_all_cells():
    for i, cell in enumerate(nb201.all_cells()):
        arch = nb201.format_arch(cell)
        assert nb201.parse_arch(arch) == cell
        assert nb201.arch_index(cell) == i
        assert nb201.cell_at(i) == cell
    assert len(set(nb201.all_cells())) == nb201.NUM_CELLS


def test_pruned_counts():
    cells = nb201.all_cells()
    assert len({nb201.prune(c) for c in cells}) == 9445
    assert sum(nb201.is_disconnected(c) for c in cells) == 341


def test_prune_examples():
    p = nb201.parse_arch
    # node 1 feeds nothing that reaches node 3: its edge is dead
    cell = p("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert nb201.format_arch(nb201.prune(cell)) == \
        "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    # node 2 receives nothing: its outgoing edge to node 3 is dead
    cell = p("|skip_connect~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|")
    assert nb201.format_arch(nb201.prune(cell)) == \
        "|skip_connect~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|"
    # a fully live cell is unchanged, and pruning is idempotent
    cell = nb201.cell_at(6111)
    assert nb201.prune(cell) == cell
    for c in nb201.all_cells()[:500]:
        assert nb201.prune(nb201.prune(c)) == nb201.prune(c)


@pytest.mark.parametrize("bad", [
    "",
    "|nor_conv_3x3~0|",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|conv_7x7~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "nor_conv_3x3~0+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
])
def test_malformed_strings_raise_clear_errors(bad):
    with pytest.raises(nb201.ArchError, match="NB201 arch|unknown op"):
        nb201.parse_arch(bad)


def test_cell_and_index_validation():
    with pytest.raises(nb201.ArchError):
        nb201.cell_at(15625)
    with pytest.raises(nb201.ArchError):
        nb201.check_cell((0, 1, 2, 3, 4, 5))
    with pytest.raises(nb201.ArchError):
        nb201.sample_cells(0, seed=0)
    a, b = nb201.sample_cells(50, seed=1), nb201.sample_cells(50, seed=1)
    assert a == b and len(set(a)) == 50 and a != nb201.sample_cells(50, seed=2)


def test_grow_sample_keeps_the_cells_already_scored():
    base = nb201.sample_cells(100, seed=0)
    grown = nb201.grow_sample(base, 50, seed=1)
    assert set(base) < set(grown) and len(grown) == 150 == len(set(grown))
    assert grown == nb201.grow_sample(base, 50, seed=1) != nb201.grow_sample(base, 50, seed=2)
    with pytest.raises(nb201.ArchError, match="cannot add"):
        nb201.grow_sample(base, nb201.NUM_CELLS, seed=1)
