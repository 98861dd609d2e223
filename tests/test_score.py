"""The scoring engine and the proxy registry on a real (tiny) trained supernet."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from proxybench import proxies as P
from proxybench.engine.score import ScoreError, context_from_run, score_cells
from proxybench.proxies import parse_specs
from proxybench.spaces import nb201


def _cells_with_shared_pruned_forms(n_groups=4):
    groups: dict = {}
    for i, c in enumerate(nb201.all_cells()):
        groups.setdefault(nb201.prune(c), []).append(i)
    shared = [g[:2] for g in groups.values() if len(g) >= 2 and any(g[0] != 0 for _ in g)]
    return sorted(i for g in shared[:n_groups] for i in g)


@pytest.mark.parametrize("name", sorted(P.all_proxies()))
def test_registry_conformance(name, tiny_run):
    """Every proxy: finite, repeatable under the same seed, and leaves the nets unchanged."""
    specs = parse_specs(name)
    ctx, _ = context_from_run(tiny_run, specs)
    before = {k: v.clone() for k, v in ctx.supernet.state_dict().items()}
    cells = [nb201.prune(nb201.cell_at(i)) for i in (6111, 1, 2)]
    proxy = specs[0].proxy
    first = [proxy.fn(ctx, c, **specs[0].options) for c in cells]
    again = [proxy.fn(ctx, c, **specs[0].options) for c in reversed(cells)][::-1]
    for a, b in zip(first, again, strict=True):
        a = a["score"] if isinstance(a, dict) else a
        b = b["score"] if isinstance(b, dict) else b
        assert math.isfinite(a) and a == b
    for k, v in ctx.supernet.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_score_table_dedup_and_columns(tiny_run, tmp_path):
    idx = _cells_with_shared_pruned_forms()
    specs = parse_specs("flatness;params")
    ctx, info = context_from_run(tiny_run, specs)
    table = score_cells(specs, ctx, idx, tmp_path / "s.csv", progress=False, meta=info)
    assert list(table["arch_index"]) == idx
    assert {"flatness", "flatness.loss@0.002", "flatness_seconds", "params", "error"} <= set(
        table.columns)
    table["pruned"] = [nb201.prune(nb201.cell_at(i)) for i in table["arch_index"]]
    for _, g in table.groupby("pruned"):
        assert g["flatness"].nunique() == 1  # same function, same noise -> same score
    assert table["error"].isna().all()
    # params counts every edge: cells sharing a pruned form may still differ
    assert (tmp_path / "s.json").is_file()


def test_resume_finishes_with_the_same_table(tiny_run, tmp_path):
    idx = nb201.sample_cells(12, seed=3)
    specs = parse_specs("val_loss;params_live")
    ctx, _ = context_from_run(tiny_run, specs)
    full = score_cells(specs, ctx, idx, tmp_path / "full.csv", progress=False)
    # a run killed after 5 rows (a half-written line included) ...
    lines = (tmp_path / "full.csv").read_text().splitlines(keepends=True)
    (tmp_path / "part.csv").write_text("".join(lines[:6]) + lines[6][:20])
    # (its .json is written before the first row, so a killed run has it)
    (tmp_path / "part.json").write_text((tmp_path / "full.json").read_text())
    with pytest.raises(ScoreError, match="--resume"):
        score_cells(specs, ctx, idx, tmp_path / "part.csv", progress=False)
    resumed = score_cells(specs, ctx, idx, tmp_path / "part.csv", resume=True, progress=False)
    cols = ["arch_index", "arch", "val_loss", "params_live"]
    pd.testing.assert_frame_equal(resumed[cols], full[cols])


def test_resume_with_more_cells_scores_only_the_new_ones(tiny_run, tmp_path):
    """A table of a sample grows into a larger sample that keeps it (CIFAR-100's 2,000-cell
    step continues its 1,000-cell tables): the new cells are scored, the old rows stay, and
    the result equals the larger sample scored at once."""
    small = nb201.sample_cells(6, seed=3)
    large = nb201.grow_sample(small, 6, seed=1)
    assert set(small) < set(large) and len(large) == 12
    specs = parse_specs("val_loss;params_live")
    ctx, _ = context_from_run(tiny_run, specs)
    score_cells(specs, ctx, small, tmp_path / "t.csv", progress=False)
    before = pd.read_csv(tmp_path / "t.csv")
    grown = score_cells(specs, ctx, large, tmp_path / "t.csv", resume=True, progress=False)
    once = score_cells(specs, ctx, large, tmp_path / "once.csv", progress=False)
    cols = ["arch_index", "arch", "val_loss", "params_live"]
    key = "arch_index"
    kept = grown[grown[key].isin(small)].sort_values(key).reset_index(drop=True)
    # the old rows were not scored again: their timings are the first run's too
    timed = [*cols, "val_loss_seconds"]
    old = before[timed].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(kept[timed], old)
    pd.testing.assert_frame_equal(grown[cols].sort_values(key).reset_index(drop=True),
                                  once[cols].sort_values(key).reset_index(drop=True))
    assert sorted(grown[key]) == sorted(large)


def test_a_failing_cell_is_recorded_and_the_run_goes_on(tiny_run, tmp_path, monkeypatch):
    def flaky(ctx, cell):
        if cell == nb201.prune(nb201.cell_at(7)):
            raise RuntimeError("boom")
        return 1.0

    monkeypatch.setitem(P.PROXIES, "flaky", P.Proxy("flaky", flaky, True, frozenset(), "test",
                                                    True, {}))
    specs = parse_specs("flaky")
    ctx, _ = context_from_run(None, specs)
    table = score_cells(specs, ctx, [5, 6, 7, 8], tmp_path / "f.csv", progress=False)
    bad = table[table.arch_index == 7].iloc[0]
    assert math.isnan(bad["flaky"]) and "RuntimeError: boom" in bad["error"]
    assert (table[table.arch_index != 7]["flaky"] == 1.0).all()


def test_supernet_proxies_need_a_run():
    with pytest.raises(ScoreError, match="--run"):
        context_from_run(None, parse_specs("flatness"))


def test_other_options_cannot_append_to_an_existing_table(tiny_run, tmp_path):
    specs = parse_specs("params")
    ctx, _ = context_from_run(None, specs)
    score_cells(specs, ctx, [1, 2], tmp_path / "t.csv", progress=False)
    with pytest.raises(ScoreError, match="scored with proxies params"):
        score_cells(parse_specs("flops"), ctx, [1, 2], tmp_path / "t.csv", resume=True,
                    progress=False)


def test_image_protocol_is_recorded_and_never_mixed(tiny_run, tmp_path):
    """A data proxy sees other numbers under zero-cost-nas's normalisation; the table
    records the protocol, a resume with another is refused naming it, and a table that
    predates the option resumes as the default protocol."""
    import json

    from proxybench.run.data import ImageProtocol
    specs = parse_specs("grad_norm:batch_size=8")
    out = tmp_path / "t.csv"
    plain = {}
    for name, protocol in (("dataset", ImageProtocol()),
                           ("zcn", ImageProtocol("zero-cost-nas", augment=True))):
        ctx, info = context_from_run(tiny_run, specs, images=protocol)
        assert info["images"] == protocol.to_dict()
        plain[name] = (ctx, info)
    ctx, info = plain["dataset"]
    score_cells(specs, ctx, [1, 2], out, meta=info, progress=False)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["fingerprint"]["images"] == {"normalize": "dataset", "augment": False}
    zctx, zinfo = plain["zcn"]
    before = out.read_bytes()
    with pytest.raises(ScoreError, match="--normalize dataset without --augment, not "
                                         "--normalize zero-cost-nas --augment"):
        score_cells(specs, zctx, [1, 2, 3], out, resume=True, meta=zinfo, progress=False)
    assert out.read_bytes() == before
    # an older table: no images in its fingerprint, read as the default
    del meta["fingerprint"]["images"]
    out.with_suffix(".json").write_text(json.dumps(meta))
    table = score_cells(specs, ctx, [1, 2, 3], out, resume=True, meta=info, progress=False)
    assert len(table) == 3
    other = score_cells(specs, zctx, [1, 2, 3], tmp_path / "z.csv", meta=zinfo, progress=False)
    col = "grad_norm[batch_size=8]"
    assert not (table[col] - other[col]).abs().lt(1e-9).all()


def test_cli_scores_with_a_papers_image_protocol(tiny_run, tmp_path):
    """`score --normalize zero-cost-nas --augment` end to end; the same --out without them
    is refused in one line naming the protocol."""
    import json

    from .cli_helpers import one_line_error, run
    out = tmp_path / "zc.csv"
    run("score", "--run", tiny_run, "--proxy", "snip:batch_size=8", "--cells", "3",
        "--normalize", "zero-cost-nas", "--augment", "--workers", "1", "--threads", "1",
        "-q", "--out", out)
    assert json.loads(out.with_suffix(".json").read_text())["images"] == {
        "normalize": "zero-cost-nas", "augment": True}
    one_line_error(run("score", "--run", tiny_run, "--proxy", "snip:batch_size=8", "--cells",
                       "3", "--workers", "1", "--threads", "1", "-q", "--resume", "--out", out,
                       ok=False), "--normalize zero-cost-nas --augment")
