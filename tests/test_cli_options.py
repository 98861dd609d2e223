"""One name, one meaning, one default: an option that several commands take is the same
option everywhere (same type, default and flag-ness), and every command that computes
takes the shared ones a user expects (threads, quiet, device, dataset...)."""

from __future__ import annotations

from collections import defaultdict

import click
import pandas as pd
import pytest

from proxybench.cli import main

from .cli_helpers import one_line_error, run

# an option name must not mean two things; --out is "where the results go": a table (.csv)
# or a folder, by the command's kind, and is compared by its kind of value (a path)
COMPUTE = ("train", "score", "search", "retrain", "ablate")


def _params() -> dict[str, list[tuple[str, click.Option]]]:
    by_name: dict[str, list[tuple[str, click.Option]]] = defaultdict(list)
    for name, cmd in main.commands.items():
        for p in cmd.params:
            if isinstance(p, click.Option):
                by_name[p.opts[0]].append((name, p))
    return by_name


def _signature(p: click.Option) -> tuple:
    # a path is a path (a table or a folder, by command); no default is no default
    kind = "path" if isinstance(p.type, click.Path) else repr(p.type)
    default = None if p.default is None or type(p.default).__name__ == "Sentinel" \
        else p.default
    return kind, default, p.is_flag, p.multiple


def test_every_shared_option_has_one_type_and_default():
    for opt, uses in _params().items():
        if len(uses) < 2:
            continue
        sigs = {cmd: _signature(p) for cmd, p in uses}
        assert len(set(sigs.values())) == 1, f"{opt} differs between commands: {sigs}"
        helps = {p.help for _, p in uses}
        if opt != "--out":       # --out's help says what each command writes
            assert len(helps) == 1, f"{opt} has {len(helps)} different help texts"


def test_computing_commands_take_the_shared_options():
    for cmd in COMPUTE:
        names = {p.opts[0] for p in main.commands[cmd].params if isinstance(p, click.Option)}
        assert {"--threads", "--quiet", "--out"} <= names, cmd
    for cmd in ("train", "score", "search", "retrain"):
        names = {p.opts[0] for p in main.commands[cmd].params if isinstance(p, click.Option)}
        assert {"--device", "--seed"} <= names, cmd


def test_defaults_are_the_documented_ones():
    p = _params()
    assert {x.default for _, x in p["--device"]} == {"auto"}
    assert {x.default for _, x in p["--preset"]} == {"paper"}
    assert {x.default for _, x in p["--bootstrap"]} == {1000}
    assert {x.default for _, x in p["--cells"]} == {"all"}
    assert all(isinstance(x.type, click.Choice) for _, x in p["--preset"])


def test_proxy_help_says_where_the_names_are():
    assert "proxybench proxies" in {p.opts[0]: p for p in main.commands["score"].params}[
        "--proxy"].help


def _params_table(tmp_path, gt_csv):
    """A real table: #params of 400 seeded cells (a free proxy, no supernet needed)."""
    from proxybench.api import cells as cells_table
    full = cells_table(tmp_path / "all.csv")
    idx = sorted(full.sample(400, random_state=1)["arch_index"])
    part = full[full.arch_index.isin(idx)][["arch_index", "arch", "params"]]
    part.to_csv(tmp_path / "p.csv", index=False)
    return tmp_path / "p.csv"


def test_correlate_top_k_levels_and_bad_levels(tmp_path, gt_csv):
    table = _params_table(tmp_path, gt_csv)
    run("correlate", table, "--ground-truth", gt_csv, "--top-k", "2,20", "--bootstrap", "0",
        "--out", tmp_path / "c.csv")
    res = pd.read_csv(tmp_path / "c.csv")
    assert set(res["metric"]) == {"kendall_tau", "spearman_rho", "top2%", "top20%", "ndcg"}
    # 20% of 400 cells is 80: precision is a multiple of 1/80
    p20 = res.loc[res.metric == "top20%", "value"].item()
    assert abs(p20 * 80 - round(p20 * 80)) < 1e-9
    for bad in ("0", "x", "nan", "150"):
        one_line_error(run("correlate", table, "--ground-truth", gt_csv, "--top-k", bad,
                           ok=False), "--top-k")


def test_correlate_ndcg_cut_off_and_bad_values(tmp_path, gt_csv):
    import json

    from proxybench.analysis.groundtruth import load_ground_truth
    from proxybench.analysis.metrics import ndcg
    table = _params_table(tmp_path, gt_csv)
    out = run("correlate", table, "--ground-truth", gt_csv, "--ndcg-k", "10", "--bootstrap",
              "0", "--out", tmp_path / "c10.csv").output
    assert "nDCG over the proxy's top 10 cells" in out
    run("correlate", table, "--ground-truth", gt_csv, "--bootstrap", "0", "--out",
        tmp_path / "c.csv")
    at10 = pd.read_csv(tmp_path / "c10.csv").set_index("metric").loc["ndcg", "value"]
    default = pd.read_csv(tmp_path / "c.csv").set_index("metric").loc["ndcg", "value"]
    joined = pd.read_csv(table).merge(load_ground_truth(str(gt_csv)), on="arch_index")
    assert at10 == pytest.approx(ndcg(joined["params"], joined["cifar10"], 10))
    assert default == pytest.approx(ndcg(joined["params"], joined["cifar10"], 1000))
    assert at10 != pytest.approx(default)
    assert json.loads((tmp_path / "c10.json").read_text())["ndcg_k"] == 10
    for bad in ("0", "x", "-3", "2.5"):
        one_line_error(run("correlate", table, "--ground-truth", gt_csv, "--ndcg-k", bad,
                           ok=False), "--ndcg-k")


def test_describe_says_what_a_table_and_a_run_hold(tmp_path, tiny_run, gt_csv):
    out = run("describe", tiny_run).output
    assert "training run" in out and "preset tiny" in out and "status done" in out
    run("score", "--run", tiny_run, "--proxy", "val_loss", "--cells", "5", "--quiet",
        "--out", tmp_path / "s.csv")
    out = run("describe", tmp_path / "s.csv").output
    assert "5 rows" in out and "column val_loss: val_loss, lower is better" in out
    assert str(tiny_run) in out
    one_line_error(run("describe", tmp_path, ok=False), "neither a training run")


def test_quiet_prints_results_only(tmp_path, tiny_run):
    loud = run("score", "--run", tiny_run, "--proxy", "val_acc", "--cells", "4", "--out",
               tmp_path / "a.csv").output
    quiet = run("score", "--run", tiny_run, "--proxy", "val_acc", "--cells", "4", "--quiet",
                "--out", tmp_path / "b.csv").output
    assert "scoring" in loud and "scoring" not in quiet
    assert quiet.strip().startswith("scored 4 cells")
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert a["val_acc"].equals(b["val_acc"])


def test_truth_metric_changes_the_ground_truth_and_says_so(tmp_path, gt_csv):
    table = _params_table(tmp_path, gt_csv)
    one_line_error(run("correlate", table, "--ground-truth", gt_csv, "--truth-metric",
                       "valid-12", ok=False), "valid-12", ".pth")
    # a ground-truth CSV that carries 12-epoch validation accuracy (here: a made-up one that
    # reverses the test ranking, so the sign of tau must flip)
    gt = pd.read_csv(gt_csv)
    gt["cifar10@valid-12"] = 100 - gt["cifar10"]
    gt.to_csv(tmp_path / "gt12.csv", index=False)
    test = run("correlate", table, "--ground-truth", tmp_path / "gt12.csv", "--bootstrap",
               "0", "--out", tmp_path / "a.csv").output
    valid = run("correlate", table, "--ground-truth", tmp_path / "gt12.csv", "--truth-metric",
                "valid-12", "--bootstrap", "0", "--out", tmp_path / "b.csv").output
    assert "test accuracy (200 epochs" in test and "validation accuracy (12 epochs" in valid
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    tau_a = a.loc[a.metric == "kendall_tau", "value"].item()
    tau_b = b.loc[b.metric == "kendall_tau", "value"].item()
    assert tau_a > 0.3 and tau_b == pytest.approx(-tau_a)


def test_command_list_shows_whole_phrases():
    out = run("--help").output
    combine = next(line for line in out.splitlines() if line.strip().startswith("combine"))
    assert "Eq. (5)" in combine and not combine.rstrip().endswith("Eq.")


def test_every_command_has_a_whole_summary_line():
    """`proxybench --help` lists every command with its own line, never cut with '...'."""
    from proxybench.cli import SUMMARIES
    assert set(SUMMARIES) == set(main.commands), "a command without a summary line"
    out = run("--help").output
    listed = out.split("Commands:")[1]
    assert "..." not in listed
    for name, line in SUMMARIES.items():
        assert f"{name} " in listed and line in listed, name


def test_correlate_within_edge_groups_cells_by_their_op_on_the_edge(tmp_path, gt_csv):
    from proxybench.analysis.groundtruth import load_ground_truth
    from proxybench.analysis.metrics import kendall_tau
    from proxybench.spaces.nb201 import OPS, cell_at, prune
    table = _params_table(tmp_path, gt_csv)
    run("correlate", table, "--ground-truth", gt_csv, "--within-edge", "2", "--bootstrap",
        "50", "--out", tmp_path / "w.csv")
    res = pd.read_csv(tmp_path / "w.csv").set_index("metric")
    joined = pd.read_csv(table).merge(load_ground_truth(str(gt_csv)), on="arch_index")
    joined["op"] = [OPS[prune(cell_at(int(i)))[2]] for i in joined["arch_index"]]
    taus, pairs = {}, {}
    for op, g in joined.groupby("op"):
        taus[op] = kendall_tau(g["params"], g["cifar10"])
        pairs[op] = len(g) * (len(g) - 1) / 2
        assert res.loc[f"tau_edge2={op}", "value"] == pytest.approx(taus[op])
        assert res.loc[f"tau_edge2={op}", "n"] == len(g)
    pooled = sum(taus[o] * pairs[o] for o in taus) / sum(pairs.values())
    row = res.loc["tau_within_edge2"]
    assert row["value"] == pytest.approx(pooled) and row["ci_low"] < pooled < row["ci_high"]
    one_line_error(run("correlate", table, "--ground-truth", gt_csv, "--within-edge", "6",
                       ok=False), "--within-edge")


def test_correlate_cells_restricts_every_table_to_one_sample(tmp_path, gt_csv):
    import json

    from proxybench.analysis.groundtruth import load_ground_truth
    from proxybench.analysis.metrics import kendall_tau
    from proxybench.api import cells as cells_table
    from proxybench.api import correlate_files
    from proxybench.spaces.nb201 import sample_cells
    cells_table(tmp_path / "all.csv")
    run("correlate", tmp_path / "all.csv", "--column", "params", "--cells", "200", "--seed",
        "3", "--bootstrap", "0", "--ground-truth", gt_csv, "--out", tmp_path / "c.csv")
    truth = load_ground_truth(str(gt_csv)).set_index("arch_index")["cifar10"]
    table = pd.read_csv(tmp_path / "all.csv").set_index("arch_index")
    sample = sample_cells(200, 3)
    got = pd.read_csv(tmp_path / "c.csv").set_index("metric").loc["kendall_tau"]
    assert got["n"] == 200
    assert got["value"] == pytest.approx(kendall_tau(table.loc[sample, "params"],
                                                     truth.loc[sample]))
    meta = json.loads((tmp_path / "c.json").read_text())
    assert "seeded sample of 200 cells (seed 3)" in meta["protocol"]
    # a file of indices, through the API too
    (tmp_path / "few.txt").write_text("\n".join(map(str, sample[:50])) + "\n")
    res, _, text = correlate_files([tmp_path / "all.csv"], columns=["params"], n_boot=0,
                                   ground_truth=str(gt_csv), cells=str(tmp_path / "few.txt"),
                                   out=tmp_path / "f.csv")
    assert int(res.loc[res.metric == "kendall_tau", "n"].item()) == 50 and "few.txt" in text
    # a table without every asked-for cell is refused in one line
    (tmp_path / "p").mkdir()
    one_line_error(run("correlate", _params_table(tmp_path / "p", gt_csv), "--cells", "200",
                       "--ground-truth", gt_csv, "--out", tmp_path / "x.csv", ok=False),
                   "lacks", "--cells N --seed S")


def test_within_group_tau_sees_skill_inside_groups_that_overall_tau_hides():
    import numpy as np

    from proxybench.analysis.metrics import kendall_tau, within_group_tau
    # two groups, each ranked perfectly inside, but the worse group scored higher
    truth = np.array([1, 2, 3, 4, 11, 12, 13, 14.0])
    scores = np.array([11, 12, 13, 14, 1, 2, 3, 4.0])
    groups = np.array(list("aaaabbbb"))
    pooled, per = within_group_tau(scores, truth, groups)
    assert pooled == pytest.approx(1.0) and per["a"] == (pytest.approx(1.0), 4)
    assert kendall_tau(scores, truth) < 0.2
    # a failed cell ranks last in its group (missing=last) or is left out (drop)
    failed = scores.copy()
    failed[3] = np.nan
    assert within_group_tau(failed, truth, groups)[1]["a"][0] < 1
    assert within_group_tau(failed, truth, groups, missing="drop")[1]["a"] == (
        pytest.approx(1.0), 3)
    # lower-is-better proxies are negated first
    assert within_group_tau(-scores, truth, groups, higher_is_better=False)[0] == \
        pytest.approx(1.0)
