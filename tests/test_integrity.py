"""Result integrity (issue 11): a table never mixes settings or writers, bad values are
errors, and every bad input or unwritable output is one clear line."""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from proxybench import proxies as P
from proxybench.engine.score import ScoreError, context_from_run, score_cells
from proxybench.errors import path_error_line
from proxybench.proxies import ProxyError, parse_spec, parse_specs
from proxybench.run.files import LockedError, exclusive, lock_path, save_checkpoint, weights_sha256
from proxybench.search.evolution import SearchError, evolution
from proxybench.spaces import nb201
from proxybench.table import count_errors

from .cli_helpers import one_line_error, run

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _val_loss_args(run_dir: Path, out: Path, *extra: object) -> list:
    return ["score", "--run", run_dir, "--proxy", "val_loss", "--cells", "8", "--threads", "1",
            "--out", out, *extra]


def _params_args(out: Path, *extra: object) -> list:
    return ["score", "--proxy", "params", "--cells", "8", "--out", out, *extra]


def _copy_table(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


def _edit_json(csv_path: Path, edit) -> None:
    path = csv_path.with_suffix(".json")
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def val_loss_table(tiny_run, tmp_path_factory) -> Path:
    """val_loss of 8 cells on the tiny run: the table the resume cases try to continue."""
    out = tmp_path_factory.mktemp("tables") / "val_loss.csv"
    run(*_val_loss_args(tiny_run, out))
    return out


@pytest.fixture(scope="module")
def params_table(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tables") / "params.csv"
    run(*_params_args(out))
    return out


@pytest.fixture(scope="module")
def other_run(tiny_run, tmp_path_factory) -> Path:
    """Another run of the same config: the tiny run with its final weights changed."""
    other = tmp_path_factory.mktemp("other") / "run"
    shutil.copytree(tiny_run, other)
    ckpt = torch.load(other / "final.pt", weights_only=True)
    name = next(k for k, v in ckpt["state_dict"].items() if v.is_floating_point())
    ckpt["state_dict"][name] = ckpt["state_dict"][name] + 0.01
    save_checkpoint(other / "final.pt", ckpt)
    return other


# --------------------------------------------------------------------------- resume
RUN_SETTINGS = [  # (what changes, extra options, words of the one line)
    ("seed", ["--seed", "1"], "seed 0, not 1"),
    ("checkpoint", ["--checkpoint", "epoch-1.pt"], "the weights of"),
    ("bn_images", ["--bn-images", "16"], "preset bn_images=32, not bn_images=16"),
    ("val_images", ["--val-images", "32"], "preset val_images=64, not val_images=32"),
    ("chunk", ["--chunk", "16"], "preset chunk=128, not chunk=16"),
]


@pytest.mark.parametrize("setting,extra,words", RUN_SETTINGS, ids=[c[0] for c in RUN_SETTINGS])
def test_resume_with_another_run_setting_is_refused(tiny_run, val_loss_table, tmp_path,
                                                    setting, extra, words):
    out = _copy_table(val_loss_table, tmp_path / "t.csv")
    before = out.read_bytes()
    res = run(*_val_loss_args(tiny_run, out, "--resume", *extra), ok=False)
    one_line_error(res, str(out), words, "use a new --out or the same settings")
    assert out.read_bytes() == before


def test_resume_with_another_run_is_refused(other_run, val_loss_table, tmp_path):
    out = _copy_table(val_loss_table, tmp_path / "t.csv")
    res = run(*_val_loss_args(other_run, out, "--resume"), ok=False)
    one_line_error(res, "was scored with the weights of", str(other_run / "final.pt"))


def test_resume_with_another_runs_checkpoint_is_refused(tiny_run, other_run, val_loss_table,
                                                        tmp_path):
    out = _copy_table(val_loss_table, tmp_path / "t.csv")
    res = run(*_val_loss_args(tiny_run, out, "--resume", "--checkpoint",
                              other_run / "final.pt"), ok=False)
    one_line_error(res, "was scored with the weights of")


NO_RUN_SETTINGS = [
    ("preset", ["--preset", "cpu"], "preset channels=16, not channels=8"),
    ("dataset", ["--dataset", "cifar100"], "dataset cifar10, not cifar100"),
    ("seed", ["--seed", "3"], "seed 0, not 3"),
]


@pytest.mark.parametrize("setting,extra,words", NO_RUN_SETTINGS,
                         ids=[c[0] for c in NO_RUN_SETTINGS])
def test_resume_without_run_with_another_setting_is_refused(params_table, tmp_path, setting,
                                                            extra, words):
    out = _copy_table(params_table, tmp_path / "t.csv")
    one_line_error(run(*_params_args(out, "--resume", *extra), ok=False), words)


def test_resume_with_a_run_of_a_table_scored_without_one_is_refused(tiny_run, params_table,
                                                                     tmp_path):
    out = _copy_table(params_table, tmp_path / "t.csv")
    res = run("score", "--run", tiny_run, "--proxy", "params", "--cells", "8", "--out", out,
              "--resume", ok=False)
    one_line_error(res, "no checkpoint (no --run), not the weights of")


JSON_EDITS = [  # settings the command line cannot change for one column name
    ("proxy options", lambda fp: fp["proxies"][0]["options"].update(batch_size=7),
     "proxies val_loss"),
    ("space", lambda fp: fp.update(space="darts"), "space darts, not nb201"),
    ("dataset", lambda fp: fp.update(dataset="cifar100"), "dataset cifar100, not cifar10"),
    ("preset field", lambda fp: fp["preset"].update(channels=99), "channels=99, not"),
]


@pytest.mark.parametrize("what,edit,words", JSON_EDITS, ids=[c[0] for c in JSON_EDITS])
def test_resume_checks_every_recorded_setting(tiny_run, val_loss_table, tmp_path, what, edit,
                                              words):
    out = _copy_table(val_loss_table, tmp_path / "t.csv")
    _edit_json(out, lambda meta: edit(meta["fingerprint"]))
    one_line_error(run(*_val_loss_args(tiny_run, out, "--resume"), ok=False), words)


def test_a_table_from_before_fingerprints_is_checked_by_its_top_level_settings(
        tiny_run, val_loss_table, tmp_path):
    out = _copy_table(val_loss_table, tmp_path / "t.csv")

    def legacy(meta):
        del meta["fingerprint"]
        meta["seed"] = 5
    _edit_json(out, legacy)
    one_line_error(run(*_val_loss_args(tiny_run, out, "--resume"), ok=False), "seed 5, not 0")


def test_resume_with_the_same_settings_goes_on_and_records_code_versions(
        tiny_run, val_loss_table, tmp_path):
    """Cells and code version are recorded, not compared: neither changes a cell's value."""
    out = _copy_table(val_loss_table, tmp_path / "t.csv")
    old = {"proxybench": "0.0.1", "git_commit": "abc"}
    _edit_json(out, lambda meta: meta.update(code_versions=[old]))
    run("score", "--run", tiny_run, "--proxy", "val_loss", "--cells", "10", "--threads", "1",
        "--out", out, "--resume")
    table = pd.read_csv(out)
    assert not table["arch_index"].duplicated().any()
    assert set(pd.read_csv(val_loss_table)["arch_index"]) <= set(table["arch_index"])
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["code_versions"][0] == old and len(meta["code_versions"]) == 2
    assert meta["status"] == "done" and meta["fingerprint"]["seed"] == 0


def test_a_moved_run_continues_its_tables(tiny_run, val_loss_table, tmp_path):
    """The weights' hash, not the run's path, says which run a table belongs to."""
    moved = tmp_path / "moved"
    shutil.copytree(tiny_run, moved)
    out = _copy_table(val_loss_table, tmp_path / "t.csv")
    run(*_val_loss_args(moved, out, "--resume"))
    assert len(pd.read_csv(out)) == 8


def test_the_weights_hash_ignores_memory_layout():
    w = torch.randn(4, 3, 3, 3)
    assert weights_sha256({"w": w}) == weights_sha256(
        {"w": w.to(memory_format=torch.channels_last)})
    assert weights_sha256({"w": w}) != weights_sha256({"w": w + 1e-6})


def test_resume_refuses_a_table_with_duplicate_rows(params_table, tmp_path):
    out = _copy_table(params_table, tmp_path / "t.csv")
    table = pd.read_csv(out)
    pd.concat([table, table.iloc[:2]]).to_csv(out, index=False)
    one_line_error(run(*_params_args(out, "--resume"), ok=False), "2 duplicate rows",
                   "new --out")


def test_resume_refuses_a_damaged_settings_file(params_table, tmp_path):
    out = _copy_table(params_table, tmp_path / "t.csv")
    out.with_suffix(".json").write_text("{not json")
    one_line_error(run(*_params_args(out, "--resume"), ok=False), "t.json is damaged")


def test_a_checkpoint_of_other_sizes_than_run_json_is_refused(tiny_run, tmp_path):
    bad = tmp_path / "run"
    shutil.copytree(tiny_run, bad)
    meta = json.loads((bad / "run.json").read_text())
    meta["config"]["preset"]["channels"] = 8
    (bad / "run.json").write_text(json.dumps(meta))
    res = run(*_val_loss_args(bad, tmp_path / "t.csv"), ok=False)
    one_line_error(res, "final.pt has channels=4 but", "run.json says channels=8")
    assert not (tmp_path / "t.csv").exists()


def test_another_runs_checkpoint_with_another_seed_is_refused(tiny_run, tmp_path):
    ckpt = torch.load(tiny_run / "final.pt", weights_only=True)
    save_checkpoint(tmp_path / "other.pt", {**ckpt, "seed": 5})
    res = run(*_val_loss_args(tiny_run, tmp_path / "t.csv", "--checkpoint",
                              tmp_path / "other.pt"), ok=False)
    one_line_error(res, "has seed=5 but", "not this run's")


# --------------------------------------------------------------------------- lock
def test_a_second_writer_is_refused_while_the_first_holds_the_table(tiny_run, tmp_path):
    """Two real processes on one --out: the second is refused while the first scores; once
    the first is killed (-9) its lock is gone and --resume continues the table."""
    out = tmp_path / "t.csv"
    first = subprocess.Popen(
        [sys.executable, "-m", "proxybench", "score", "--run", str(tiny_run), "--proxy",
         "flatness", "--cells", "3000", "--threads", "1", "--out", str(out)],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out.exists() and
                                               out.read_text().count("\n") > 2):
            assert first.poll() is None, "the first writer ended early"
            time.sleep(0.05)
        assert first.poll() is None
        # few cells, so that a broken lock fails fast instead of scoring 3000 cells
        second = run("score", "--run", tiny_run, "--proxy", "flatness", "--cells", "4",
                     "--threads", "1", "--out", out, "--resume", ok=False)
        one_line_error(second, "is being written by process", str(first.pid),
                       "choose another --out")
        assert first.poll() is None, "the refusal must come while the first one runs"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert lock_path(out).exists()  # left behind by the kill, but not held by anyone
    rows = pd.read_csv(out)["arch_index"].tolist()
    run("score", "--run", tiny_run, "--proxy", "flatness", "--cells", "4", "--threads", "1",
        "--out", out, "--resume")
    table = pd.read_csv(out)
    assert not table["arch_index"].duplicated().any()
    assert set(rows) <= set(table["arch_index"]) and len(table) >= len(rows)
    assert not lock_path(out).exists()


def test_the_lock_refuses_a_second_holder_and_is_removed_after(tmp_path):
    target = tmp_path / "t.csv"
    with exclusive(target):
        assert lock_path(target).read_text().strip() == str(os.getpid())
        with pytest.raises(LockedError, match="being written by process"):
            with exclusive(target):
                pass
    assert not lock_path(target).exists()
    with exclusive(target):  # free again
        pass


def test_a_stale_lock_file_does_not_block(tmp_path):
    out = tmp_path / "t.csv"
    lock_path(out).write_text("999999\n")  # a dead writer's file, no flock held
    run(*_params_args(out))
    assert len(pd.read_csv(out)) == 8 and not lock_path(out).exists()


# --------------------------------------------------------------------------- merge
@pytest.fixture()
def two_parts(tmp_path) -> tuple[Path, Path]:
    (tmp_path / "a.txt").write_text("1\n2\n3\n")
    (tmp_path / "b.txt").write_text("4\n5\n6\n")
    for name in "ab":
        run("score", "--proxy", "params", "--cells", tmp_path / f"{name}.txt", "--out",
            tmp_path / f"{name}.csv")
    return tmp_path / "a.csv", tmp_path / "b.csv"


def test_merge_records_the_common_fingerprint(two_parts, tmp_path):
    a, b = two_parts
    run("merge", a, b, "--out", tmp_path / "m.csv")
    meta = json.loads((tmp_path / "m.json").read_text())
    part = json.loads(a.with_suffix(".json").read_text())
    assert meta["fingerprint"] == part["fingerprint"] and meta["cells"] == 6
    assert meta["status"] == "done" and meta["errors"] == 0 and meta["code_versions"]


MERGE_EDITS = [
    ("seed", lambda fp: fp.update(seed=1), "seed 1, not 0"),
    ("checkpoint", lambda fp: fp.update(weights_sha256="f" * 64), "the weights of"),
    ("proxy options", lambda fp: fp["proxies"][0]["options"].update(x=1), "proxies params"),
    ("preset", lambda fp: fp["preset"].update(bn_images=3), "bn_images=3, not"),
]


@pytest.mark.parametrize("what,edit,words", MERGE_EDITS, ids=[c[0] for c in MERGE_EDITS])
def test_merge_refuses_parts_of_other_settings(two_parts, tmp_path, what, edit, words):
    a, b = two_parts
    _edit_json(b, lambda meta: edit(meta["fingerprint"]))
    one_line_error(run("merge", a, b, "--out", tmp_path / "m.csv", ok=False), str(b), words,
                   "same settings")
    assert not (tmp_path / "m.csv").exists()


def test_merge_refuses_parts_scored_with_other_seeds(tmp_path):
    (tmp_path / "a.txt").write_text("1\n2\n")
    (tmp_path / "b.txt").write_text("3\n4\n")
    run("score", "--proxy", "params", "--cells", tmp_path / "a.txt", "--out", tmp_path / "a.csv")
    run("score", "--proxy", "params", "--cells", tmp_path / "b.txt", "--seed", "1", "--out",
        tmp_path / "b.csv")
    one_line_error(run("merge", tmp_path / "a.csv", tmp_path / "b.csv", "--out",
                       tmp_path / "m.csv", ok=False), "seed 1, not 0")


def test_merge_refuses_an_unfinished_part(two_parts, tmp_path):
    a, b = two_parts
    _edit_json(b, lambda meta: meta.update(status="running"))
    one_line_error(run("merge", a, b, "--out", tmp_path / "m.csv", ok=False), "not finished",
                   "--resume")


def test_merge_refuses_a_part_without_settings(two_parts, tmp_path):
    a, b = two_parts
    b.with_suffix(".json").unlink()
    one_line_error(run("merge", a, b, "--out", tmp_path / "m.csv", ok=False), "no fingerprint")


def test_merge_out_equal_to_a_part_is_refused(two_parts):
    a, b = two_parts
    before = a.read_bytes()
    one_line_error(run("merge", a, b, "--out", a, ok=False), "would overwrite the part")
    assert a.read_bytes() == before


# --------------------------------------------------------------------------- correlate
def _table(path: Path, values, column: str = "p") -> Path:
    idx = list(range(100, 100 + len(values)))
    pd.DataFrame({"arch_index": idx, "arch": [nb201.format_arch(nb201.cell_at(i)) for i in idx],
                  column: values, "error": None}).to_csv(path, index=False)
    return path


def test_correlate_refuses_duplicate_rows(tmp_path, gt_csv):
    t = _table(tmp_path / "t.csv", [float(i) for i in range(10)])
    table = pd.read_csv(t)
    pd.concat([table, table.iloc[[3]]]).to_csv(t, index=False)
    one_line_error(run("correlate", t, "--ground-truth", gt_csv, ok=False),
                   "has 1 duplicate rows, e.g. arch_index 103")


def test_correlate_says_a_constant_column_does_not_rank(tmp_path, gt_csv):
    t = _table(tmp_path / "t.csv", [2.0] * 10)
    res = run("correlate", t, "--ground-truth", gt_csv, "--bootstrap", "0", ok=False)
    one_line_error(res, "column p", "is constant over 10 cells", "does not rank the cells")
    assert "nan" not in res.output and not (tmp_path / "t.correlate.csv").exists()


def test_correlate_between_a_constant_column_is_refused(tmp_path):
    a = _table(tmp_path / "a.csv", [float(i) for i in range(10)], "x")
    b = _table(tmp_path / "b.csv", [1.0] * 10, "y")
    one_line_error(run("correlate", a, b, "--between", "x", "y", "--bootstrap", "0", ok=False),
                   "column y", "is constant")


def test_correlate_a_constant_replicate_is_refused(tmp_path, gt_csv):
    a = _table(tmp_path / "a.csv", [float(i) for i in range(10)])
    b = _table(tmp_path / "b.csv", [0.5] * 10)
    one_line_error(run("correlate", a, b, "--ground-truth", gt_csv, "--bootstrap", "0",
                       ok=False), "is constant over 10 cells")


def test_correlate_an_empty_table_is_refused(tmp_path, gt_csv):
    (tmp_path / "t.csv").write_text("arch_index,arch,p,error\n")
    one_line_error(run("correlate", tmp_path / "t.csv", "--ground-truth", gt_csv, ok=False),
                   "has no rows")


def test_ground_truth_without_the_datasets_column_says_so(tmp_path, gt_csv):
    t = _table(tmp_path / "t.csv", [float(i) for i in range(10)])
    gt = pd.read_csv(gt_csv).drop(columns=["cifar100"])
    gt.to_csv(tmp_path / "gt.csv", index=False)
    res = run("correlate", t, "--ground-truth", tmp_path / "gt.csv", "--dataset", "cifar100",
              "--bootstrap", "0", ok=False)
    one_line_error(res, "gt.csv has no cifar100 accuracies (no cifar100 column",
                   "--dataset cifar10")
    assert "no cifar100 ground truth" not in res.output


# --------------------------------------------------------------------------- bad values
def _register(monkeypatch, name: str, fn, **defaults) -> None:
    monkeypatch.setitem(P.PROXIES, name, P.Proxy(name, fn, True, frozenset(), "test", True,
                                                 dict(defaults)))


@pytest.mark.parametrize("text", ["flatness:alpha=nan", "flatness:alpha=inf",
                                  "flatness:sigmas=1e-3/nan", "scaled:scale=nan",
                                  "scaled:scale=-inf", "scaled:scales=1/inf"])
def test_an_option_that_is_not_finite_is_refused(monkeypatch, text):
    _register(monkeypatch, "scaled", lambda ctx, cell, scale, scales: scale, scale=1.0,
              scales=(1.0, 2.0))
    with pytest.raises(ProxyError, match="finite"):
        parse_spec(text)


def test_an_option_that_is_not_finite_is_one_line_on_the_command_line(tmp_path):
    one_line_error(run("score", "--proxy", "flatness:alpha=nan", "--out", tmp_path / "x.csv",
                       ok=False), "finite")
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, {"score": math.nan, "a": 1.0}])
def test_a_value_that_is_not_finite_is_an_error_of_its_cell(monkeypatch, tmp_path, value):
    def fn(ctx, cell):
        if cell == nb201.prune(nb201.cell_at(7)):
            return dict(value) if isinstance(value, dict) else value
        return 1.0 + cell[0]
    _register(monkeypatch, "shaky", fn)
    specs = parse_specs("shaky")
    ctx, _ = context_from_run(None, specs)
    table = score_cells(specs, ctx, [5, 6, 7, 8], tmp_path / "f.csv", progress=False)
    bad = table.set_index("arch_index").loc[7]
    assert math.isnan(bad["shaky"]) and "shaky: not finite" in bad["error"]
    assert count_errors(table) == 1
    assert json.loads((tmp_path / "f.json").read_text())["errors"] == 1


def test_the_run_summary_counts_cells_that_are_not_finite(monkeypatch, tmp_path):
    _register(monkeypatch, "nanny", lambda ctx, cell: math.nan)
    res = run("score", "--proxy", "nanny", "--cells", "8", "--out", tmp_path / "x.csv")
    assert "8 cells failed" in res.output


def test_flatness_sigmas_that_make_every_loss_nan_are_errors_not_values(tiny_run, tmp_path):
    res = run("score", "--run", tiny_run, "--proxy", "flatness:sigmas=1e30/2e30", "--cells",
              "3", "--threads", "1", "--out", tmp_path / "x.csv")
    assert "3 cells failed" in res.output
    assert json.loads((tmp_path / "x.json").read_text())["errors"] == 3


# --------------------------------------------------------------------------- empty input
@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_a_cells_file_that_names_no_cell_is_refused(tmp_path, content):
    (tmp_path / "cells.txt").write_text(content)
    one_line_error(run("score", "--proxy", "params", "--cells", tmp_path / "cells.txt",
                       "--out", tmp_path / "x.csv", ok=False), "names no cell")
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("text", ["", " ", ";", " ; ;"])
def test_a_proxy_list_that_names_no_proxy_is_refused(tmp_path, text):
    one_line_error(run("score", "--proxy", text, "--cells", "8", "--out", tmp_path / "x.csv",
                       ok=False), "names no proxy")
    assert not (tmp_path / "x.csv").exists()


def test_scoring_no_cells_or_no_proxies_is_refused_in_python(tmp_path):
    specs = parse_specs("params")
    ctx, _ = context_from_run(None, specs)
    with pytest.raises(ScoreError, match="no cells"):
        score_cells(specs, ctx, [], tmp_path / "x.csv", progress=False)
    with pytest.raises(ScoreError, match="no proxy"):
        score_cells([], ctx, [1], tmp_path / "x.csv", progress=False)
    assert not (tmp_path / "x.csv").exists()


# --------------------------------------------------------------------------- combine, search
def test_combine_out_equal_to_an_input_is_refused(tmp_path):
    a = _table(tmp_path / "a.csv", [float(i) for i in range(10)], "x")
    b = _table(tmp_path / "b.csv", [float(-i) for i in range(10)], "y")
    before = a.read_bytes()
    one_line_error(run("combine", a, b, "--terms", "x,y", "--method", "rank", "--out", a,
                       ok=False), "would overwrite the input")
    one_line_error(run("combine", a, b, "--terms", "x,y", "--method", "rank", "--out",
                       tmp_path / "a.tsv", ok=False), "would overwrite the input")
    assert a.read_bytes() == before


def test_a_combined_table_records_what_it_was_computed_from(params_table, tmp_path):
    table = _copy_table(params_table, tmp_path / "t.csv")
    frame = pd.read_csv(table)
    frame["p"] = range(len(frame))
    frame.to_csv(table, index=False)
    run("combine", table, "--terms", "p,params", "--method", "rank", "--out", tmp_path / "c.csv")
    fp = json.loads((tmp_path / "c.json").read_text())["fingerprint"]
    source = json.loads(table.with_suffix(".json").read_text())
    assert fp["method"] == "rank" and fp["terms"] == ["p", "params"]
    assert fp["sources"][0]["fingerprint"] == source["fingerprint"]
    assert len(fp["sources"][0]["sha256"]) == 64


@pytest.mark.parametrize("command", ["score", "merge", "combine"])
def test_an_out_named_json_is_refused(params_table, tmp_path, command):
    """The settings go to <out>.json: a .json table would be overwritten by them."""
    table = _copy_table(params_table, tmp_path / "t.csv")
    out = tmp_path / "x.json"
    args = {"score": _params_args(out),
            "merge": ["merge", table, "--out", out],
            "combine": ["combine", table, table, "--terms", "params,params", "--method",
                        "rank", "--out", out]}[command]
    one_line_error(run(*args, ok=False), "ends in .json")
    assert not out.exists()


def test_combine_refuses_terms_of_two_supernets(tiny_run, other_run, val_loss_table, tmp_path):
    for name, run_dir in (("same", tiny_run), ("other", other_run)):
        run("score", "--run", run_dir, "--proxy", "val_acc", "--cells", "8", "--threads", "1",
            "--out", tmp_path / f"{name}.csv")
    args = ["--terms", "val_loss,val_acc", "--method", "rank", "--out"]
    one_line_error(run("combine", val_loss_table, tmp_path / "other.csv", *args,
                       tmp_path / "c.csv", ok=False), "combine columns scored on one supernet",
                   str(other_run / "final.pt"))
    run("combine", val_loss_table, tmp_path / "same.csv", *args, tmp_path / "c.csv")


def test_combine_refuses_an_input_with_duplicate_rows(tmp_path):
    a = _table(tmp_path / "a.csv", [float(i) for i in range(10)], "x")
    b = _table(tmp_path / "b.csv", [float(-i) for i in range(10)], "y")
    table = pd.read_csv(b)
    pd.concat([table, table.iloc[[0]]]).to_csv(b, index=False)
    one_line_error(run("combine", a, b, "--terms", "x,y", "--method", "rank", "--out",
                       tmp_path / "c.csv", ok=False), "duplicate rows")


def test_search_on_a_constant_column_is_refused(tmp_path):
    t = _table(tmp_path / "t.csv", [1.0] * 10, "flat")
    one_line_error(run("search", "--proxy", "flat", "--scores", t, "--out", tmp_path / "s",
                       ok=False), "is constant over 10 cells", "does not rank")
    assert not (tmp_path / "s" / "search.csv").exists()


def test_evolution_with_a_constant_score_is_refused():
    import random
    with pytest.raises(SearchError, match="does not rank the cells"):
        evolution(lambda ids: dict.fromkeys(ids, 0.5), population=10, iterations=2,
                  rng=random.Random(0))


# --------------------------------------------------------------------------- outputs
@pytest.fixture()
def blocker(tmp_path) -> Path:
    """A regular file where an output folder should be: writes below it fail on any user."""
    path = tmp_path / "file"
    path.write_text("not a folder\n")
    return path


def _commands(tmp: Path, blocker: Path, gt: Path, table: Path) -> dict[str, list]:
    out = blocker / "sub"
    return {
        "score": ["score", "--proxy", "params", "--cells", "8", "--out", out / "x.csv"],
        "train": ["train", "--preset", "tiny", "--epochs", "1", "--train-images", "256",
                  "--out", out / "run"],
        "correlate": ["correlate", table, "--ground-truth", gt, "--bootstrap", "0", "--out",
                      out / "c"],
        "report": ["report", "--scores", table, "--ground-truth", gt, "--out", out / "rep"],
        "search": ["search", "--proxy", "p", "--scores", table, "--out", out / "s"],
        "cells": ["cells", "--out", out / "cells.csv"],
        "merge": ["merge", table, "--out", out / "m.csv"],
        "combine": ["combine", table, "--terms", "p,params", "--method", "rank", "--out",
                    out / "c.csv"],
    }


@pytest.mark.parametrize("command", ["score", "train", "correlate", "report", "search", "cells",
                                     "merge", "combine"])
def test_an_output_that_cannot_be_written_is_one_line(tmp_path, blocker, gt_csv, params_table,
                                                      command):
    table = _copy_table(params_table, tmp_path / "t.csv")
    frame = pd.read_csv(table)
    frame["p"] = range(len(frame))
    frame.to_csv(table, index=False)
    before = table.read_bytes()
    res = run(*_commands(tmp_path, blocker, gt_csv, table)[command], ok=False)
    one_line_error(res, str(blocker))
    assert "cannot write" in res.output or "non-existent directory" in res.output
    assert table.read_bytes() == before and blocker.read_text() == "not a folder\n"


@pytest.mark.parametrize("command", ["cells", "merge", "combine"])
def test_a_read_only_folder_keeps_the_previous_output(tmp_path, monkeypatch, params_table,
                                                      command):
    """As if the folder were read-only (tests run as root, where chmod does not stop
    writes): the atomic write fails before replacing anything."""
    table = _copy_table(params_table, tmp_path / "t.csv")
    frame = pd.read_csv(table)
    frame["p"] = range(len(frame))
    frame.to_csv(table, index=False)
    out = tmp_path / "out" / "o.csv"
    out.parent.mkdir()
    out.write_text("previous\n")
    args = {"cells": ["cells", "--force", "--out", out],
            "merge": ["merge", table, "--force", "--out", out],
            "combine": ["combine", table, "--terms", "p,params", "--method", "rank", "--force",
                        "--out", out]}[command]

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(kwargs["dir"]))
    monkeypatch.setattr("proxybench.run.files.tempfile.mkstemp", refuse)
    one_line_error(run(*args, ok=False), f"cannot write {out.parent}: permission denied")
    assert out.read_text() == "previous\n"


def test_a_table_in_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    def refuse(target):
        raise PermissionError(errno.EROFS, "Read-only file system", str(target) + ".lock")
    monkeypatch.setattr("proxybench.engine.score.exclusive", refuse)
    one_line_error(run(*_params_args(tmp_path / "x.csv"), ok=False),
                   f"cannot write {tmp_path / 'x.csv'}: read-only file system")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_chmod_read_only_folder_is_one_line(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        one_line_error(run(*_params_args(folder / "x.csv"), ok=False), "cannot write",
                       "permission denied")
    finally:
        folder.chmod(0o755)


def test_file_system_errors_map_to_one_line_only_for_paths():
    assert "cannot write /x: read-only file system" in path_error_line(
        OSError(errno.EROFS, "Read-only file system", "/x"))
    assert "no space left" in path_error_line(OSError(errno.ENOSPC, "No space", "/x"))
    assert path_error_line(ConnectionResetError(errno.ECONNRESET, "reset")) is None
    assert path_error_line(OSError(errno.EIO, "I/O error")) is None


def test_report_with_no_inputs_is_one_line(tmp_path):
    one_line_error(run("report", "--out", tmp_path / "r", ok=False), "nothing to report",
                   "--seed-tables", "--beyond")
    assert not (tmp_path / "r").exists()


def test_written_files_follow_the_umask(tmp_path):
    """Tables, sidecars and checkpoints are readable by others when the umask allows it (a
    temp file from mkstemp alone would be 0600)."""
    import stat

    import torch

    from proxybench.run.files import atomic_write_bytes, atomic_write_json, save_checkpoint
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "t.csv", b"a\n1\n")
        atomic_write_json(tmp_path / "t.json", {"a": 1})
        save_checkpoint(tmp_path / "c.pt", {"w": torch.zeros(1)})
        for name in ("t.csv", "t.json", "c.pt"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
        os.umask(0o077)
        atomic_write_bytes(tmp_path / "private.csv", b"a\n")
        assert stat.S_IMODE((tmp_path / "private.csv").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_refused_resume_changes_no_byte(tmp_path):
    """Every check of --resume comes before the partial-line repair: a file that is not a
    table, a table without provenance, or one of other proxies is left exactly as it was."""
    from .cli_helpers import one_line_error, run
    foreign = tmp_path / "a.csv"
    foreign.write_bytes(b"name,value\nalpha,1\nbeta,2")           # no newline at the end
    res = run("score", "--proxy", "params", "--cells", "5", "--out", foreign, "--resume",
              ok=False)
    one_line_error(res)
    assert foreign.read_bytes() == b"name,value\nalpha,1\nbeta,2"
    run("score", "--proxy", "params", "--cells", "5", "--out", tmp_path / "t.csv")
    table = tmp_path / "t.csv"
    cut = table.read_bytes()[:-3]                                 # a half-written last row
    table.write_bytes(cut)
    meta = (tmp_path / "t.json").read_bytes()
    one_line_error(run("score", "--proxy", "flops", "--cells", "5", "--out", table,
                       "--resume", ok=False), "proxies")
    assert table.read_bytes() == cut
    for damaged in (b"{}", b'{"proxies": []}'):
        (tmp_path / "t.json").write_bytes(damaged)
        one_line_error(run("score", "--proxy", "params", "--cells", "5", "--out", table,
                           "--resume", ok=False), "fingerprint")
        assert table.read_bytes() == cut
    (tmp_path / "t.json").unlink()
    one_line_error(run("score", "--proxy", "params", "--cells", "5", "--out", table,
                       "--resume", ok=False), "fingerprint")
    assert table.read_bytes() == cut
    (tmp_path / "t.json").write_bytes(meta)                     # with its .json it resumes
    run("score", "--proxy", "params", "--cells", "5", "--out", table, "--resume")
    assert len(pd.read_csv(table)) == 5


def test_no_command_replaces_an_existing_table_without_force(two_parts, tmp_path):
    a, b = two_parts
    victim = tmp_path / "v.csv"
    run("merge", a, b, "--out", victim)
    before = (victim.read_bytes(), victim.with_suffix(".json").read_bytes())
    cases = [["merge", a, b, "--out", victim],
             ["cells", "--out", victim],
             ["combine", a, "--terms", "params,params", "--method", "rank", "--out", victim]]
    for args in cases:
        one_line_error(run(*args, ok=False), str(victim), "already exists", "--force")
        assert (victim.read_bytes(), victim.with_suffix(".json").read_bytes()) == before
    run("cells", "--out", victim, "--force")
    assert len(pd.read_csv(victim)) == 15625
    run("merge", a, b, "--out", victim, "--force")
    assert len(pd.read_csv(victim)) == 6
    import proxybench as pb
    with pytest.raises(pb.ProxybenchError, match="already exists"):
        pb.cells(victim)
    with pytest.raises(pb.ProxybenchError, match="channels must be"):
        pb.cells(tmp_path / "c.csv", channels=0)
    with pytest.raises(pb.ProxybenchError, match="list of at least one"):
        pb.merge([], tmp_path / "m2.csv")


def test_a_run_being_trained_is_refused_by_a_second_trainer_and_by_score(tmp_path):
    """While one process trains a run (it holds run.json.lock), a second `train`, with or
    without --resume or --force, and `score` are refused with one line; nothing changes."""
    import subprocess
    import sys
    import time
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"config": {}, "status": "training",
                                                  "epoch": 3}))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from proxybench.run.files import exclusive\n"
        f"with exclusive({str(run_dir / 'run.json')!r}):\n"
        "    print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = sorted(p.name for p in run_dir.iterdir())
        for extra in ([], ["--resume"], ["--force"]):
            res = run("train", "--preset", "tiny", "--epochs", "1", "--out", run_dir, *extra,
                      ok=False)
            one_line_error(res, str(run_dir), f"process {holder.pid}")
        one_line_error(run("score", "--run", run_dir, "--proxy", "val_acc", "--cells", "3",
                           "--out", tmp_path / "s.csv", ok=False),
                       "still being trained", f"process {holder.pid}", "epoch 3")
        assert sorted(p.name for p in run_dir.iterdir()) == before
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    from proxybench.run.files import lock_holder
    assert lock_holder(run_dir / "run.json") is None     # the kernel dropped it


def test_describe_reads_every_output_with_a_json(tmp_path):
    """search, ensemble, search-pool and retrain folders, and predict/correlate files."""
    root = Path(__file__).resolve().parents[1] / "reports" / "cifar10-cpu"
    cases = {root / "search" / "flatness": "search output",
             root / "beyond" / "ensemble": "ensemble output",
             root / "beyond" / "search": "search-pool output",
             root / "beyond" / "predict" / "curve.csv": "predict output",
             root / "az_nas_2000.correlate.csv": "correlate output",
             root / "zero_cost.csv": "score table"}
    for path, kind in cases.items():
        res = run("describe", path)
        assert res.output.startswith(kind), res.output[:200]
        assert max(len(line) for line in res.output.splitlines()) < 260
    bad = tmp_path / "s"
    bad.mkdir()
    (bad / "summary.json").write_text("{not json")
    one_line_error(run("describe", bad, ok=False), "summary.json is damaged")


def test_correlate_and_report_refuse_another_datasets_truth(params_table, tmp_path, gt_csv):
    table = _copy_table(params_table, tmp_path / "t.csv")
    assert json.loads(table.with_suffix(".json").read_text())["dataset"] == "cifar10"
    one_line_error(run("correlate", table, "--dataset", "cifar100", "--ground-truth", gt_csv,
                       ok=False), "scored on cifar10, not cifar100", "--dataset cifar10")
    one_line_error(run("report", "--scores", table, "--dataset", "cifar100", "--ground-truth",
                       gt_csv, "--out", tmp_path / "r", ok=False), "scored on cifar10")
    run("correlate", table, "--dataset", "cifar10", "--ground-truth", gt_csv, "--bootstrap",
        "0")


# --------------------------------------------------------------------------- issue 25
# Every refused command: exit non-zero with one line, and not a byte of any file changed
# (nor a file or folder added). Each case prepares a copy of one workspace, runs, compares.

@pytest.fixture(scope="module")
def workspace(tiny_run, tmp_path_factory) -> Path:
    """Tables and a run to refuse commands on: pf (params;flops, 6 cells), pf1 (the same
    with seed 1), vl (val_loss on the tiny run), a copy of the run, an empty folder."""
    ws = tmp_path_factory.mktemp("ws")
    run("score", "--proxy", "params;flops", "--cells", "6", "--out", ws / "pf.csv")
    run("score", "--proxy", "params;flops", "--cells", "6", "--seed", "1", "--out",
        ws / "pf1.csv")
    run("score", "--run", tiny_run, "--proxy", "val_loss", "--cells", "6", "--threads", "1",
        "--out", ws / "vl.csv")
    (ws / "a.txt").write_text("1\n2\n3\n")
    (ws / "b.txt").write_text("4\n5\n6\n")
    for part in ("a", "b"):                         # shards of one setting
        run("score", "--proxy", "params", "--cells", ws / f"{part}.txt", "--out",
            ws / f"part-{part}.csv")
    shutil.copytree(tiny_run, ws / "run")
    (ws / "empty").mkdir()
    return ws


def _snapshot(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None
            for p in sorted(root.rglob("*"))}


def _strip(name: str, edit) -> callable:
    def prep(ws: Path) -> None:
        _edit_json(ws / name, edit)
    return prep


def _write(name: str, data: bytes) -> callable:
    def prep(ws: Path) -> None:
        (ws / name).write_bytes(data)
    return prep


def _text_in_table(name: str, partial: bool = False) -> callable:
    def prep(ws: Path) -> None:
        lines = (ws / name).read_text().splitlines()
        cells = lines[2].split(",")
        cells[2] = "abc"
        lines[2] = ",".join(cells)
        text = "\n".join(lines) + "\n"
        (ws / name).write_text(text[:-4] if partial else text)
    return prep


def _combined_twice(ws: Path) -> None:
    """One recipe (rank of params and flops) on tables of two seeds: other sources."""
    for i, src in enumerate(("pf.csv", "pf1.csv")):
        run("combine", ws / src, "--terms", "params,flops", "--method", "rank", "--out",
            ws / f"c{i}.csv")


def _mixed_group(ws: Path) -> None:
    """A seed group whose seed-1 run.json says it was trained with other channels."""
    for seed in (0, 1):
        shutil.copytree(ws / "run", ws / "grp" / f"seed-{seed}")
    path = ws / "grp" / "seed-1" / "run.json"
    record = json.loads(path.read_text())
    record["config"]["seed"] = 1
    record["config"]["preset"]["channels"] += 2
    path.write_text(json.dumps(record))


def _edit_first_index(text: str) -> callable:
    def prep(ws: Path) -> None:
        lines = (ws / "pf.csv").read_text().splitlines()
        lines[1] = text + lines[1][lines[1].index(","):]
        (ws / "pf.csv").write_text("\n".join(lines) + "\n")
    return prep


def _unfinished_group(ws: Path) -> None:
    """A seed group whose seed-1 run has not finished (no final.pt): seed-0 must not be
    scored either."""
    _mixed_group(ws)
    path = ws / "grp" / "seed-1" / "run.json"
    record = json.loads(path.read_text())
    record["config"]["preset"]["channels"] -= 2
    path.write_text(json.dumps(record))
    (ws / "grp" / "seed-1" / "final.pt").unlink()


def _no_fp(meta: dict) -> None:
    meta.pop("fingerprint", None)
    for k in ("space", "dataset", "weights_sha256", "seed", "preset", "proxies"):
        meta.pop(k, None)


def _no_digest(meta: dict) -> None:
    meta.pop("data_sha256", None)
    meta["fingerprint"].pop("data_sha256", None)


def _other_digest(meta: dict) -> None:
    meta["fingerprint"]["data_sha256"] = "0" * 64


PF = ["--proxy", "params;flops", "--cells", "6"]
REFUSED = [  # (id, prepare the workspace, args (with {ws}), words of the one line)
    ("resume-not-a-table", _write("a.csv", b"name,value\nalpha,1\nbeta,2"),
     ["score", *PF, "--out", "{ws}/a.csv", "--resume"], ["a.csv"]),
    ("resume-empty-json", _write("pf.json", b"{}"),
     ["score", *PF, "--out", "{ws}/pf.csv", "--resume"], ["no fingerprint"]),
    ("resume-stripped-json", _strip("pf.csv", _no_fp),
     ["score", *PF, "--out", "{ws}/pf.csv", "--resume"], ["no fingerprint"]),
    ("resume-no-image-digest", _strip("vl.csv", _no_digest),
     ["score", "--run", "{ws}/run", "--proxy", "val_loss", "--cells", "6", "--out",
      "{ws}/vl.csv", "--resume"], ["did not record", "images"]),
    ("resume-other-images", _strip("vl.csv", _other_digest),
     ["score", "--run", "{ws}/run", "--proxy", "val_loss", "--cells", "6", "--out",
      "{ws}/vl.csv", "--resume"], ["images of sha256 000000000000"]),
    ("resume-text-value", _text_in_table("pf.csv", partial=True),
     ["score", *PF, "--out", "{ws}/pf.csv", "--resume"], ["abc", "row 2", "not a number"]),
    ("retry-nothing-failed", None,
     ["score", *PF, "--out", "{ws}/pf.csv", "--resume", "--retry-errors"],
     ["no failed cell"]),
    ("score-another-dataset", None,
     ["score", "--run", "{ws}/run", "--proxy", "val_loss", "--cells", "4", "--dataset",
      "cifar100", "--out", "{ws}/new/x.csv"], ["cifar10, not cifar100"]),
    ("score-val-images-beyond-data", None,
     ["score", "--run", "{ws}/run", "--proxy", "val_loss", "--cells", "4", "--val-images",
      "100000000", "--out", "{ws}/new/x.csv"], ["--val-images", "give at most"]),
    ("merge-empty-json", _write("pf1.json", b"{}"),
     ["merge", "{ws}/pf.csv", "{ws}/pf1.csv", "--out", "{ws}/new/m.csv"], ["no fingerprint"]),
    ("merge-no-image-digest", _strip("part-b.csv", _no_digest),
     ["merge", "{ws}/part-a.csv", "{ws}/part-b.csv", "--out", "{ws}/m.csv"],
     ["did not record"]),
    ("combine-no-json", _write("pf.json", b"{}"),
     ["combine", "{ws}/pf.csv", "--terms", "params,flops", "--method", "rank", "--out",
      "{ws}/c.csv"], ["no fingerprint"]),
    ("combine-gamma-nan", None, ["combine", "{ws}/pf.csv", "--terms", "params,flops",
                                 "--gamma", "nan", "--out", "{ws}/c.csv"], ["--gamma"]),
    ("combine-gamma-0", None, ["combine", "{ws}/pf.csv", "--terms", "params,flops",
                               "--gamma", "0", "--out", "{ws}/c.csv"], ["--gamma"]),
    ("combine-beta-inf", None, ["combine", "{ws}/pf.csv", "--terms", "params,flops",
                                "--beta", "inf", "--out", "{ws}/c.csv"], ["--beta"]),
    ("combine-duplicate-terms", None, ["combine", "{ws}/pf.csv", "--terms", "params,params",
                                       "--method", "rank", "--out", "{ws}/c.csv"], ["twice"]),
    ("combine-empty-name", None, ["combine", "{ws}/pf.csv", "--terms", "params,flops",
                                  "--method", "rank", "--name", "", "--out", "{ws}/c.csv"],
     ["--name"]),
    ("combine-key-name", None, ["combine", "{ws}/pf.csv", "--terms", "params,flops",
                                "--method", "rank", "--name", "arch_index", "--out",
                                "{ws}/c.csv"], ["--name", "arch_index"]),
    ("combine-text-value", _text_in_table("pf.csv"),
     ["combine", "{ws}/pf.csv", "--terms", "params,flops", "--method", "rank", "--out",
      "{ws}/c.csv"], ["not a number"]),
    ("correlate-between-itself", None,
     ["correlate", "{ws}/pf.csv", "--between", "params", "params"], ["itself"]),
    ("correlate-huge-bootstrap", None,
     ["correlate", "{ws}/pf.csv", "--bootstrap", "1e11"], ["--bootstrap", "100000"]),
    ("correlate-out-json", None,
     ["correlate", "{ws}/pf.csv", "--bootstrap", "0", "--out", "{ws}/pf.json"], [".json"]),
    ("correlate-out-its-json", None,
     ["correlate", "{ws}/pf.csv", "--bootstrap", "0", "--out", "{ws}/pf"], ["overwrite"]),
    ("correlate-other-dataset", None,
     ["correlate", "{ws}/pf.csv", "--dataset", "cifar100", "--bootstrap", "0"],
     ["cifar10, not cifar100"]),
    ("correlate-replicate-without-json", _write("pf1.json", b"{}"),
     ["correlate", "{ws}/pf.csv", "{ws}/pf1.csv", "--bootstrap", "0"], ["no fingerprint"]),
    ("merge-of-other-settings", None,
     ["merge", "{ws}/pf.csv", "{ws}/vl.csv", "--out", "{ws}/m.csv"], ["scored with"]),
    ("merge-of-combined-tables-of-other-sources", _combined_twice,
     ["merge", "{ws}/c0.csv", "{ws}/c1.csv", "--out", "{ws}/m.csv"], ["sources"]),
    ("train-one-image", None, ["train", "--preset", "tiny", "--epochs", "1",
                               "--train-images", "1", "--out", "{ws}/new/t"],
     ["no training step"]),
    ("train-batch-beyond-data", None, ["train", "--preset", "tiny", "--epochs", "1",
                                       "--train-images", "256", "--batch-size", "100000",
                                       "--out", "{ws}/new/t"], ["no training step"]),
    ("train-images-beyond-data", None, ["train", "--preset", "tiny", "--epochs", "1",
                                        "--train-images", "10000000", "--out", "{ws}/t"],
     ["--train-images", "give at most"]),
    ("train-seed-and-seeds", None, ["train", "--preset", "tiny", "--seed", "3", "--seeds",
                                    "0-1", "--out", "{ws}/t"], ["not both"]),
    ("train-empty-seeds", None, ["train", "--preset", "tiny", "--seeds", "", "--out",
                                 "{ws}/t"], ["names no seed"]),
    ("train-huge-seed-range", None, ["train", "--preset", "tiny", "--seeds", "0-99999999999",
                                     "--out", "{ws}/t"], ["seeds"]),
    ("genotype-mflops-nan", None, ["genotype", "DARTS_V2", "--target-mflops", "nan"],
     ["--target-mflops"]),
    ("genotype-mflops-negative", None, ["genotype", "DARTS_V2", "--target-mflops", "-5"],
     ["--target-mflops"]),
    ("genotype-draw-suffix", None, ["genotype", "DARTS_V2", "--draw", "{ws}/new/x.xyz"],
     [".png"]),
    ("genotype-malformed-json", _write("g.json", b'{"normal": ['),
     ["genotype", "{ws}/g.json"], ["g.json"]),
    ("retrain-malformed-json", _write("g.json", b'{"normal": ['),
     ["retrain", "--genotype", "{ws}/g.json", "--preset", "tiny", "--out", "{ws}/new/r"],
     ["g.json"]),
    ("retrain-mflops-nan", None, ["retrain", "--genotype", "DARTS_V2", "--preset", "tiny",
                                  "--init-channels", "auto", "--target-mflops", "nan",
                                  "--out", "{ws}/new/r"], ["--target-mflops"]),
    ("report-empty-beyond", None, ["report", "--beyond", "{ws}/empty", "--out",
                                   "{ws}/new/rep"], ["--beyond"]),
    ("report-seed-tables-of-other-proxies", None,
     ["report", "--seed-tables", "{ws}/pf.csv", "--seed-tables", "{ws}/vl.csv", "--out",
      "{ws}/new/rep"], ["--seed-tables"]),
    ("ensemble-min-members-beyond-columns", None,
     ["ensemble", "--scores", "{ws}/pf.csv", "--min-members", "50", "--out", "{ws}/new/e"],
     ["--min-members 50"]),
    ("ablate-retry-nothing", None, ["ablate", "sigma", "--run", "{ws}/run", "--cells", "4",
                                    "--retry-errors", "--out", "{ws}/new/a"],
     ["no failed cell"]),
    ("describe-garbage-run-json", _write("run/run.json", b"garbage{"),
     ["describe", "{ws}/run"], ["run.json", "damaged"]),
    ("describe-run-json-not-an-object", _write("run/run.json", b"[1, 2]"),
     ["describe", "{ws}/run"], ["run.json"]),
    ("score-run-json-not-an-object", _write("run/run.json", b"[1, 2]"),
     ["score", "--run", "{ws}/run", "--proxy", "val_loss", "--out", "{ws}/x.csv"],
     ["run.json"]),
    ("proxy-batch-beyond-images", None,
     ["score", "--run", "{ws}/run", "--proxy", "snip:batch_size=100000", "--cells", "2",
      "--out", "{ws}/new/x.csv"], ["100000 images"]),
    ("lock-path-is-a-folder", lambda ws: (ws / "x.csv.lock").mkdir(),
     ["score", "--proxy", "params", "--cells", "2", "--out", "{ws}/x.csv"], ["is a folder"]),
    ("search-pool-budget-beyond-sample", None,
     ["search-pool", "--scores", "{ws}/pf.csv", "--column", "params", "--budget", "100",
      "--out", "{ws}/new/sp"], ["--budget 100", "give at most 6"]),
    ("seed-group-of-two-settings", _mixed_group,
     ["score", "--run", "{ws}/grp", "--proxy", "val_loss", "--cells", "2", "--out",
      "{ws}/g.csv"], ["channels", "differ only in their seed"]),
    ("empty-out-path", None, ["combine", "{ws}/pf.csv", "--terms", "params,flops",
                              "--method", "rank", "--out", ""], ["--out", "empty path"]),
    ("empty-input-path", None, ["correlate", ""], ["empty path"]),
    ("report-ablation-not-an-ablation", None,
     ["report", "--scores", "{ws}/pf.csv", "--ablation", "{ws}/pf.csv", "--out",
      "{ws}/new/r"], ["--ablation"]),
    ("retrain-images-beyond-data", None,
     ["retrain", "--genotype", "DARTS_V2", "--preset", "tiny", "--train-images", "100000",
      "--out", "{ws}/new/r"], ["--train-images", "give at most"]),
    ("retrain-batch-beyond-data", None,
     ["retrain", "--genotype", "DARTS_V2", "--preset", "tiny", "--batch-size", "100000",
      "--out", "{ws}/new/r"], ["no training step"]),
    ("correlate-foreign-index", _edit_first_index("99999999"),
     ["correlate", "{ws}/pf.csv", "--bootstrap", "0"], ["99999999", "0-15624"]),
    ("resume-text-index", _edit_first_index("abc"),
     ["score", *PF, "--out", "{ws}/pf.csv", "--resume"], ["'abc'", "row 1"]),
    ("ensemble-text-index", _edit_first_index("abc"),
     ["ensemble", "--scores", "{ws}/pf.csv", "--out", "{ws}/new/e"], ["'abc'"]),
    ("binary-cells-file", _write("cells.txt", b"\x00\xff\xfe"),
     ["score", "--proxy", "params", "--cells", "{ws}/cells.txt", "--out", "{ws}/new/x.csv"],
     ["cells.txt"]),
    ("seed-group-with-an-unfinished-run", _unfinished_group,
     ["score", "--run", "{ws}/grp", "--proxy", "val_loss", "--cells", "2", "--out",
      "{ws}/g.csv"], ["seed-1 has no final.pt"]),
    ("arch-superscript", None, ["arch", "²"], ["malformed"]),
    ("arch-truncated-ground-truth", _write("gt.csv", b"arch_index,arch,cifar10\n0,x,90.1\n1,y,8"),
     ["arch", "6111", "--ground-truth", "{ws}/gt.csv"], ["6111"]),
]


@pytest.mark.parametrize("prep,args,words", [c[1:] for c in REFUSED],
                         ids=[c[0] for c in REFUSED])
def test_a_refused_command_is_one_line_and_changes_no_byte(workspace, tmp_path, prep, args,
                                                          words):
    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    if prep is not None:
        prep(ws)
    before = _snapshot(ws)
    result = run(*[a.replace("{ws}", str(ws)) for a in args], ok=False)
    one_line_error(result, *words)
    assert _snapshot(ws) == before, "a refused command changed the workspace"


def test_correlate_still_reads_tables_from_before_image_digests(workspace, tmp_path):
    """Read-only use of old tables (reports/ has no data_sha256): an unknown digest is no
    reason to refuse a correlation."""
    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    _edit_json(ws / "vl.csv", _no_digest)
    _copy_table(ws / "pf.csv", ws / "copy.csv")
    for name in ("pf.csv", "copy.csv"):
        _edit_json(ws / name, _no_digest)
    run("correlate", ws / "vl.csv", "--bootstrap", "0")
    run("correlate", ws / "pf.csv", ws / "copy.csv", "--bootstrap", "0")


def test_the_image_digest_tells_other_images_apart():
    from proxybench.engine.score import images_sha256
    x = torch.zeros(4, 3, 8, 8)
    y = torch.zeros(4, dtype=torch.long)
    same = images_sha256((x, y), (x, y))
    assert same == images_sha256((x.clone(), y.clone()), (x, y))
    x2 = x.clone()
    x2[0, 0, 0, 0] = 1.0
    assert images_sha256((x2, y), (x, y)) != same
    assert images_sha256(None) is None


def test_a_score_table_records_the_digest_of_its_images(workspace):
    vl = json.loads((workspace / "vl.json").read_text())
    assert len(vl["fingerprint"]["data_sha256"]) == 64
    pf = json.loads((workspace / "pf.json").read_text())
    assert pf["fingerprint"]["data_sha256"] is None          # params: no images


API_CASES = [  # (call on the workspace, words of the message)
    (lambda ws, pb: pb.correlate(str(ws / "pf.csv")), "tables must be"),
    (lambda ws, pb: pb.correlate(pd.read_csv(ws / "pf.csv"), dataset="cifar1000"),
     "dataset"),
    (lambda ws, pb: pb.correlate(pd.read_csv(ws / "pf.csv"), columns=["nope"]), "nope"),
    (lambda ws, pb: pb.correlate(pd.read_csv(ws / "pf.csv"), n_boot=10**11), "n_boot"),
    (lambda ws, pb: pb.merge([], ws / "m.csv"), "merge"),
    (lambda ws, pb: pb.cells(ws / "c.csv", channels=0), "channels"),
    (lambda ws, pb: pb.train(ws / "t", seeds=5), "seeds"),
    (lambda ws, pb: pb.train(ws / "t", dataset="x", preset="tiny"), "dataset"),
    (lambda ws, pb: pb.train(ws / "t", preset="tiny", epochs=0), "epochs"),
    (lambda ws, pb: pb.score(ws / "run", [123]), "proxies"),
    (lambda ws, pb: pb.score(None, ["params"], cells=1.5), "cells"),
    (lambda ws, pb: pb.score(None, [("params", 3)], cells=2), "proxies"),
    (lambda ws, pb: pb.score_files("params", None), "out"),
    (lambda ws, pb: pb.combine([ws / "pf.csv"], "params,flops", ws / "c.csv"), "terms"),
    (lambda ws, pb: pb.combine([ws / "pf.csv"], ["params", "flops"], ws / "c.csv",
                               gamma=float("nan")), "gamma"),
    (lambda ws, pb: pb.predict(ws / "pf.csv", labels="x"), "labels"),
    (lambda ws, pb: pb.arch(None), "text"),
    (lambda ws, pb: pb.cross_dataset({"a": 1}), "boards"),
    (lambda ws, pb: pb.search(123, ws / "s"), "proxy"),
    (lambda ws, pb: pb.retrain(123, ws / "r"), "genotype"),
    (lambda ws, pb: pb.correlate_files(str(ws / "pf.csv")), "scores"),
    (lambda ws, pb: pb.beyond(ws / "b", 1, 2), "zc"),
    (lambda ws, pb: pb.ensemble(ws / "pf.csv", splits=0), "splits"),
    (lambda ws, pb: pb.search_pool(ws / "pf.csv", proxies=["params"], budget=0), "budget"),
    (lambda ws, pb: pb.train(ws / "t", preset="tiny", nonsense=1), "nonsense"),
    (lambda ws, pb: pb.correlate(), "tables"),
    (lambda ws, pb: pb.combine([ws / "pf.csv"], ["params", "flops"], "", method="rank"),
     "empty path"),
    (lambda ws, pb: pb.cells(ws / "c.csv", dataset=None), "dataset"),
]


@pytest.mark.parametrize("call,words", API_CASES, ids=[f"api-{i}" for i in range(len(API_CASES))])
def test_the_api_refuses_wrong_types_and_values_with_its_error(workspace, tmp_path, call,
                                                               words):
    import proxybench as pb
    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    before = _snapshot(ws)
    with pytest.raises(pb.ProxybenchError) as info:
        call(ws, pb)
    assert words in str(info.value) and "\n" not in str(info.value)
    assert _snapshot(ws) == before


def test_pb_api_is_the_api_module():
    import proxybench as pb
    from proxybench import api
    assert pb.api is api


def test_the_cli_and_the_api_check_an_option_with_one_rule(workspace):
    """One place: the CLI's option type and the API's entry point refuse a value with the
    same rule (proxybench.checks.RULES), so with the same range in the message."""
    import proxybench as pb
    cli = run("correlate", workspace / "pf.csv", "--bootstrap", "-1", ok=False)
    with pytest.raises(pb.ProxybenchError) as api:
        pb.correlate(pd.read_csv(workspace / "pf.csv"), n_boot=-1)
    for text in (cli.output, str(api.value)):
        assert "a whole number in [0, 100000], got -1" in text
    cli = run("combine", workspace / "pf.csv", "--terms", "params,flops", "--gamma", "inf",
              "--out", workspace / "never.csv", ok=False)
    with pytest.raises(pb.ProxybenchError) as api:
        pb.combine([workspace / "pf.csv"], ["params", "flops"], workspace / "never.csv",
                   gamma=float("inf"))
    for text in (cli.output, str(api.value)):
        assert "a finite number > 0, got inf" in text
    assert not (workspace / "never.csv").exists()


def test_a_failed_checkpoint_write_is_one_error_and_leaves_no_temp_file(tmp_path,
                                                                       monkeypatch):
    """torch reports a full disk as its writer's RuntimeError: one CheckpointError line."""
    from proxybench.run.files import CheckpointError

    def full(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . PytorchStreamWriter "
                           "failed writing file data/0: file write failed")
    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match="cannot write the checkpoint .*--resume"):
        save_checkpoint(tmp_path / "final.pt", {"state_dict": {}})
    assert list(tmp_path.iterdir()) == []


def test_combine_reads_darts_tables(tmp_path):
    """DARTS tables are keyed by their genotype text (no arch_index)."""
    from proxybench.spaces import darts
    rng = __import__("random").Random(0)
    archs = [darts.format_genotype(darts.sample(rng)) for _ in range(6)]
    table = tmp_path / "d.csv"
    pd.DataFrame({"arch": archs, "val_acc": [1.0, 3, 2, 5, 4, 6],
                  "angle": [0.1, 0.3, 0.2, 0.6, 0.5, 0.4], "error": None}).to_csv(table,
                                                                                 index=False)
    table.with_suffix(".json").write_text(json.dumps({
        "space": "darts", "dataset": "cifar10",
        "fingerprint": {"space": "darts", "dataset": "cifar10", "proxies": [
            {"column": "val_acc", "proxy": "val_acc", "options": {}, "higher_is_better": True},
            {"column": "angle", "proxy": "angle", "options": {}, "higher_is_better": True}]},
        "proxies": [{"column": "val_acc", "proxy": "val_acc", "higher_is_better": True},
                    {"column": "angle", "proxy": "angle", "higher_is_better": True}]}))
    run("combine", table, "--terms", "val_acc,angle", "--method", "rank", "--out",
        tmp_path / "c.csv")
    combined = pd.read_csv(tmp_path / "c.csv")
    assert list(combined.columns)[0] == "arch" and len(combined) == 6
    assert json.loads((tmp_path / "c.json").read_text())["space"] == "darts"


SIDECAR_EDITS = [("code_versions", 5), ("environment", "x"), ("preset", [1]), ("run", 5),
                 ("proxies", "x"), ("fingerprint", [1]), ("status", {"a": 1}),
                 ("sources", 3), ("dataset", 7)]


@pytest.mark.parametrize("key,value", SIDECAR_EDITS, ids=[k for k, _ in SIDECAR_EDITS])
def test_a_sidecar_edited_out_of_its_form_is_never_a_traceback(workspace, tmp_path, key,
                                                               value):
    """Every reader of a table's .json meets an edited value (a number where a list was)
    as one line, or reads around it; no command ends in a Python exception."""
    ws = tmp_path / "ws"
    shutil.copytree(workspace, ws)
    _copy_table(ws / "pf.csv", ws / "u.csv")
    _edit_json(ws / "pf.csv", lambda meta: meta.update({key: value}))
    t = ws / "pf.csv"
    commands = [["correlate", t, "--bootstrap", "0", "--out", ws / "o.csv"],
                ["correlate", t, ws / "u.csv", "--bootstrap", "0", "--out", ws / "o2.csv"],
                ["combine", t, "--terms", "params,flops", "--method", "rank", "--out",
                 ws / "c.csv"],
                ["merge", t, "--out", ws / "m.csv"], ["describe", t],
                ["score", *PF, "--out", t, "--resume"],
                ["report", "--scores", t, "--bootstrap", "0", "--out", ws / "r"]]
    for args in commands:
        result = run(*args, ok=False)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            args, repr(result.exception))
        if result.exit_code:
            one_line_error(result)
