"""Search: operators, the planted optimum, the random baseline, the CLI on a table."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest
from click.testing import CliRunner

from proxybench.cli import main
from proxybench.search.evolution import SearchError, evolution, random_search
from proxybench.spaces import nb201
from proxybench.spaces.nb201 import crossover, mutate

TARGET = nb201.parse_arch("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+"
                          "|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")


def planted(indices):
    """Score = number of edges equal to the planted target: one global optimum."""
    return {i: float(sum(a == b for a, b in zip(nb201.cell_at(i), TARGET, strict=True)))
            for i in indices}


def test_operators():
    rng = random.Random(0)
    cell = nb201.cell_at(6111)
    assert mutate(cell, 1e-9, rng) == cell
    changed = [mutate(cell, 1.0, rng) for _ in range(20)]
    assert any(c != cell for c in changed)
    a, b = (0,) * 6, (1,) * 6
    child = crossover(a, b, rng)
    assert set(child) <= {0, 1}


def test_evolution_finds_the_planted_optimum_and_beats_random():
    calls = []

    def score(indices):
        calls.append(len(indices))
        return planted(indices)

    res = evolution(score, population=20, iterations=15, rng=random.Random(1))
    assert nb201.cell_at(res.best_index) == TARGET and res.best_score == 6
    assert res.evaluations == sum(calls) <= 20 * 15
    assert len({nb201.prune(nb201.cell_at(i)) for i in res.scores}) == len(res.scores)
    assert not any(nb201.is_disconnected(nb201.cell_at(i)) for i in res.scores)
    assert [h["iteration"] for h in res.history] == list(range(1, 16))
    assert res.history[-1]["best"] >= res.history[0]["best"]
    rand = random_search(planted, evaluations=res.evaluations, rng=random.Random(1))
    assert rand.evaluations == res.evaluations and rand.best_score <= res.best_score


def test_bad_settings():
    with pytest.raises(SearchError, match="population"):
        evolution(planted, population=1, rng=random.Random(0))
    with pytest.raises(SearchError, match="parents"):
        evolution(planted, population=10, parents=11, rng=random.Random(0))


def test_search_cli_on_a_score_table(tmp_path, gt_csv):
    gt = pd.read_csv(gt_csv)
    table = pd.DataFrame({"arch_index": gt["index"], "arch": gt["arch"],
                          "oracle": gt["cifar10"], "error": None})
    table.to_csv(tmp_path / "s.csv", index=False)
    (tmp_path / "s.json").write_text(json.dumps(
        {"proxies": [{"column": "oracle", "higher_is_better": True}]}))
    res = CliRunner().invoke(main, ["search", "--proxy", "oracle", "--scores",
                                    str(tmp_path / "s.csv"), "--population", "30",
                                    "--iterations", "10", "--repeats", "2", "--ground-truth",
                                    str(gt_csv), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    found = pd.read_csv(tmp_path / "out" / "search.csv")
    assert len(found) == 2 and (found["cifar10_rank"] < 200).all()
    assert (found["score"] == found["cifar10_acc"]).all()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["cifar10_acc"]["mean"] > 93.5
    hist = pd.read_csv(tmp_path / "out" / "history.csv")
    assert len(hist) == 20
    res = CliRunner().invoke(main, ["search", "--proxy", "oracle", "--scores",
                                    str(tmp_path / "s.csv"), "--algorithm", "random",
                                    "--population", "30", "--iterations", "10",
                                    "--ground-truth", str(gt_csv), "--out",
                                    str(tmp_path / "rand")])
    assert res.exit_code == 0, res.output
    # a column nobody has, and no run to compute it: one clear error
    res = CliRunner().invoke(main, ["search", "--proxy", "flatness", "--scores",
                                    str(tmp_path / "s.csv"), "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "--run" in res.output and "Traceback" not in res.output
