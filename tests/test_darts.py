"""DARTS space: genotype round trips, the supernet's paths, training, proxies, search with a
planted optimum, retraining, and the CLI's one-line errors."""

from __future__ import annotations

import json
import random

import pandas as pd
import pytest
import torch

from proxybench.nets.darts import DartsNet, build_darts_supernet, count_params_darts, extract_path
from proxybench.nets.nb201 import count_flops
from proxybench.search.evolution import evolution
from proxybench.spaces import darts
from proxybench.spaces.darts import SPACE as DARTS

from .cli_helpers import one_line_error, run

# --------------------------------------------------------------------------- genotypes


@pytest.mark.parametrize("name", darts.KNOWN)
def test_known_genotypes_round_trip(name):
    g = darts.known_genotype(name)
    assert darts.parse_genotype(darts.format_genotype(g)) == g
    assert darts.parse_genotype(json.dumps(darts.to_json(g))) == g
    assert darts.parse_genotype({"genotype": darts.to_json(g)}) == g
    key = darts.genotype_key(g)
    assert darts.genotype_key(darts.parse_genotype(key)) == key
    assert darts.resolve_genotype(name.lower())[0] == g


def test_sampled_genotypes_round_trip_and_operators():
    rng = random.Random(0)
    for _ in range(100):
        g = darts.sample(rng)
        assert darts.check_genotype(g) == g == darts.canonical(g)
        assert darts.parse_genotype(darts.format_genotype(g)) == g
        assert darts.parse_genotype(json.dumps(darts.to_json(g))) == g
        assert all(op != "none" for op, _ in g.normal + g.reduce)
    g, h = darts.sample(rng), darts.sample(rng)
    assert darts.mutate(g, 1e-9, rng) == g
    assert any(darts.mutate(g, 1.0, rng) != g for _ in range(5))
    child = darts.crossover(g, h, rng)
    for kind in ("normal", "reduce"):
        for n in range(darts.NUM_NODES):
            node = set(getattr(child, kind)[2 * n:2 * n + 2])
            assert node in ({*getattr(g, kind)[2 * n:2 * n + 2]},
                            {*getattr(h, kind)[2 * n:2 * n + 2]})
    # pair order within a node does not change the key; DARTS' range(2, 6) spelling parses
    swapped = g._replace(normal=(g.normal[1], g.normal[0]) + g.normal[2:])
    assert darts.genotype_key(swapped) == darts.genotype_key(g)
    text = darts.format_genotype(g).replace("normal_concat=[2, 3, 4, 5]",
                                            "normal_concat=range(2, 6)")
    assert darts.parse_genotype(text) == g


@pytest.mark.parametrize("text, needle", [
    ("Genotype(normal=[('sep_conv_3x3', 0)], normal_concat=[2], reduce=[], reduce_concat=[2])",
     r"8 \(op, input\) pairs"),
    ("Genotype(normal=[('conv_9x9', 0)]*8, normal_concat=[2], reduce=[], reduce_concat=[2])",
     "literal"),
    ("{\"normal\": 1}", "lacks"),
    ("Genotype(normal=[", "malformed"),
    ("__import__('os').system('true')", "malformed"),
])
def test_malformed_genotypes_are_named(text, needle):
    with pytest.raises(darts.GenotypeError, match=needle):
        darts.parse_genotype(text)


def test_invalid_pairs_are_named():
    g = darts.to_json(darts.known_genotype("DARTS_V2"))
    bad = {**g, "normal": [["none", 0], *g["normal"][1:]]}
    with pytest.raises(darts.GenotypeError, match="never hold 'none'"):
        darts.parse_genotype(bad)
    bad = {**g, "normal": [*g["normal"][:6], ["skip_connect", 5], ["skip_connect", 0]]}
    with pytest.raises(darts.GenotypeError, match="node 5 can only take input"):
        darts.parse_genotype(bad)
    bad = {**g, "reduce": [["max_pool_3x3", 1], ["max_pool_3x3", 1], *g["reduce"][2:]]}
    with pytest.raises(darts.GenotypeError, match="distinct"):
        darts.parse_genotype(bad)
    with pytest.raises(darts.GenotypeError, match="known cells"):
        darts.known_genotype("NOPE")


# --------------------------------------------------------------------------- networks


def test_every_sampled_path_runs_forward_and_backward():
    torch.manual_seed(0)
    net = build_darts_supernet(4, 3, 10)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    rng = random.Random(0)
    for _ in range(6):
        g = darts.sample(rng)
        net.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x, g), y).backward()
        used = {n for n, p in net.named_parameters() if p.grad is not None}
        path = extract_path(net, g)
        assert used <= set(dict(net.named_parameters()))
        # only the path's weights get gradients; they are exactly the path network's weights
        assert used == {n for n, _ in path.named_parameters()}
        net.eval()
        path.eval()
        assert torch.allclose(net(x, g), path(x), atol=1e-5)
        net.train()


def test_published_cell_sizes_match_the_papers():
    g = darts.known_genotype("DARTS_V2")
    cifar = DartsNet(36, 20, 10, g, auxiliary=True)
    assert round(count_params_darts(cifar) / 1e6, 1) == 3.3      # DARTS: 3.3 M
    imagenet = DartsNet(48, 14, 1000, g, stem="imagenet")
    assert round(count_params_darts(imagenet) / 1e6, 1) == 4.7   # DARTS: 4.7 M
    assert 500 < count_flops(cifar, 32) < 560


# --------------------------------------------------------------------------- train + proxies


@pytest.fixture(scope="module")
def darts_run(tmp_path_factory):
    from proxybench.run.presets import get_preset
    from proxybench.run.train import TrainConfig, train_supernet
    out = tmp_path_factory.mktemp("darts") / "run"
    preset = get_preset("tiny", "darts", epochs=1, train_images=256, val_images=32,
                        bn_images=32, path_sample=2)
    train_supernet(TrainConfig("darts", "cifar10", None, "tiny", preset, 0, 0, None), out,
                   progress=False)
    return out


def test_darts_training_run_and_space_checks(darts_run, tiny_run):
    from proxybench.engine.score import ScoreError, context_from_run
    from proxybench.run.files import CheckpointError
    from proxybench.run.train import supernet_from_checkpoint
    meta = json.loads((darts_run / "run.json").read_text())
    assert meta["status"] == "done" and meta["config"]["space"] == "darts"
    net, _ = supernet_from_checkpoint(darts_run / "final.pt", "darts")
    assert isinstance(net, DartsNet) and net.genotype is None
    with pytest.raises(CheckpointError, match="--space darts"):
        supernet_from_checkpoint(darts_run / "final.pt")
    from proxybench.proxies import parse_specs
    with pytest.raises(ScoreError, match="--space darts"):
        context_from_run(darts_run, parse_specs("val_acc"))
    with pytest.raises(ScoreError, match="--space nb201"):
        context_from_run(tiny_run, parse_specs("val_acc"), space="darts")
    with pytest.raises(ScoreError, match="do not support the darts space"):
        context_from_run(darts_run, parse_specs("synflow"), space="darts")


def test_darts_proxies_through_the_engine(darts_run, tmp_path):
    from proxybench.engine.score import context_from_run, score_cells
    from proxybench.proxies import parse_specs
    specs = parse_specs("flatness:sigmas=1e-5/5e-5/1e-4;angle;val_acc")
    ctx, _ = context_from_run(darts_run, specs, space="darts")
    before = {k: v.clone() for k, v in ctx.supernet.state_dict().items()}
    rng = random.Random(3)
    keys = [darts.genotype_key(darts.sample(rng)) for _ in range(2)]
    table = score_cells(specs, ctx, keys, tmp_path / "s.csv", progress=False, space="darts")
    assert list(table.columns[:1]) == ["arch"] and set(table["arch"]) == set(keys)
    assert (table["error"].isna() | (table["error"] == "")).all(), table["error"].tolist()
    for col in ("flatness[sigmas=1e-5/5e-5/1e-4]", "angle", "val_acc"):
        assert table[col].notna().all() and (table[col] > 0).all()
    after = ctx.supernet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    again = score_cells(specs, ctx, keys, tmp_path / "s.csv", resume=True, progress=False,
                        space="darts")
    pd.testing.assert_frame_equal(table, again)


# --------------------------------------------------------------------------- search

TARGET = darts.canonical(darts.known_genotype("GENAS_FLATNESS_CIFAR10"))


def _nodes(g):
    return [{src: op for op, src in getattr(g, kind)[2 * n:2 * n + 2]}
            for kind in ("normal", "reduce") for n in range(darts.NUM_NODES)]


def planted(keys):
    """+1 per target input a node has, +1 more when its op matches too: optimum 32."""
    target = _nodes(TARGET)
    out = {}
    for k in keys:
        nodes = _nodes(darts.parse_genotype(k))
        out[k] = float(sum((s in a) + (a.get(s) == o)
                           for a, b in zip(nodes, target, strict=True) for s, o in b.items()))
    return out


def test_evolution_finds_the_planted_darts_optimum():
    res = evolution(planted, population=50, iterations=25, rng=random.Random(2), space=DARTS)
    assert darts.parse_genotype(res.best_index) == TARGET and res.best_score == 32
    assert len(res.scores) == res.evaluations <= 50 * 25
    bests = [h["best"] for h in res.history]
    assert bests == sorted(bests)


def test_search_cli_darts_writes_and_resumes(darts_run, tmp_path, monkeypatch):
    out = tmp_path / "s"
    args = ["search", "--space", "darts", "--run", darts_run, "--proxy", "val_acc",
            "--population", "4", "--iterations", "2", "--out", out]
    run(*args)
    found = json.loads((out / "genotype.json").read_text())
    g = darts.parse_genotype(out.joinpath("genotype.json").read_text())
    assert darts.format_genotype(g) == found["text"]
    for name in ("genotype.png", "genotype.svg", "history.csv", "scores.csv", "summary.json"):
        assert (out / name).is_file(), name
    assert len(pd.read_csv(out / "history.csv")) == 2
    rows = len(pd.read_csv(out / "scores.csv"))
    # a rerun reads every score from the table: computing one would fail here
    from proxybench.proxies import performance

    def boom(*_a, **_k):
        raise AssertionError("recomputed")

    monkeypatch.setattr(performance, "clean_evaluation", boom)
    run(*args)
    assert json.loads((out / "genotype.json").read_text())["text"] == found["text"]
    assert len(pd.read_csv(out / "scores.csv")) == rows
    one_line_error(run("search", "--space", "darts", "--proxy", "val_acc", "--out",
                       tmp_path / "x", ok=False), "--run")


# --------------------------------------------------------------------------- retrain


def test_retrain_tiny_and_errors(tmp_path):
    out = tmp_path / "rt"
    res = run("retrain", "--genotype", "DARTS_V2", "--preset", "tiny", "--out", out,
              "--device", "cpu")
    assert "test accuracy" in res.output
    result = json.loads((out / "result.json").read_text())
    assert result["label"] == "DARTS_V2" and result["params"] > 0 and result["mflops"] > 0
    assert 0 <= result["test_acc"] <= 100 and result["known_results"]["top1"] == 73.3
    assert len(pd.read_csv(out / "metrics.csv")) == 1
    one_line_error(run("retrain", "--genotype", "DARTS_V2", "--preset", "tiny", "--out", out,
                       ok=False), "--resume")
    # resuming a finished run keeps its result: not tested again, result.json untouched
    before = (out / "result.json").read_bytes()
    res = run("retrain", "--genotype", "DARTS_V2", "--preset", "tiny", "--out", out, "--resume",
              "--device", "cpu")
    assert "finished retraining; its result is kept" in res.output
    assert (out / "result.json").read_bytes() == before
    # ... unless that result is damaged: then it is tested again
    (out / "result.json").write_text("{broken")
    run("retrain", "--genotype", "DARTS_V2", "--preset", "tiny", "--out", out, "--resume",
        "--device", "cpu")
    assert json.loads((out / "result.json").read_text())["test_acc"] == result["test_acc"]
    one_line_error(run("retrain", "--genotype", "GENAS_FLATNESS_CIFAR10", "--preset", "tiny",
                       "--out", out, "--resume", ok=False), "another genotype")
    one_line_error(run("retrain", "--genotype", "NOPE", "--out", tmp_path / "n", ok=False),
                   "known cells", "DARTS_V2")
    one_line_error(run("retrain", "--genotype", "Genotype(normal=[", "--out", tmp_path / "n",
                       ok=False), "malformed")
    (tmp_path / "g.json").write_text('{"normal": []}')
    one_line_error(run("retrain", "--genotype", tmp_path / "g.json", "--out", tmp_path / "n",
                       ok=False), "g.json", "lacks")


def test_report_darts_transfer_table(darts_run, tmp_path):
    from proxybench.report.build import build_report
    s = tmp_path / "s"
    run("search", "--space", "darts", "--run", darts_run, "--proxy", "val_acc",
        "--population", "4", "--iterations", "1", "--out", s)
    run("retrain", "--genotype", s / "genotype.json", "--preset", "tiny", "--out",
        tmp_path / "rt-found", "--device", "cpu")
    run("retrain", "--genotype", "DARTS_V2", "--preset", "tiny", "--out", tmp_path / "rt-v2",
        "--device", "cpu")
    out = build_report(tmp_path / "rep", searches=[s],
                       retrains=[tmp_path / "rt-found", tmp_path / "rt-v2"], ground_truth=None)
    md = (out / "index.md").read_text()
    table = [ln for ln in md.splitlines() if ln.startswith("| ") and "x 3 |" in ln]
    assert len(table) == 2, md
    assert "evolution: val_acc" in table[0] and "| 4 |" in table[0]
    assert table[1].startswith("| DARTS_V2 | published |") and "| 73.3 |" in table[1]
    assert (out / "index.html").read_text().count("data:image/png;base64,") == 1


def test_genotype_command_describes_and_draws_a_known_cell(tmp_path):
    """`genotype` says it is counting (it takes seconds), then the canonical form, the
    CIFAR size (DARTS V2: 3.3 M parameters, as published) and the ImageNet channels."""
    import torch
    before = torch.get_num_threads()
    try:
        res = run("genotype", "DARTS_V2", "--draw", tmp_path / "cell.png", "--threads", "2")
        assert torch.get_num_threads() == 2             # --threads reaches torch
    finally:
        torch.set_num_threads(before)
    lines = res.output.splitlines()
    assert lines[0].startswith("counting parameters and FLOPs")
    cifar = next(line for line in lines if line.startswith("CIFAR-10"))
    params = float(cifar.split(":")[1].split("M params")[0])
    assert abs(params - 3.3) < 0.1
    assert any(line.startswith("ImageNet    C=") for line in lines)
    assert (tmp_path / "cell.png").stat().st_size > 0
