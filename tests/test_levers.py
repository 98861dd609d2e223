"""The supernet training levers: path samplings, checkpoint averaging, settings that must
match for seed replicates and resumes, and the levers study (`ablate levers`)."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import torch

from proxybench.analysis.metrics import kendall_tau
from proxybench.run.files import average_state_dicts
from proxybench.spaces import get_space
from proxybench.spaces.nb201 import (
    OPS,
    distinct_forms,
    isomorphism_classes,
    prune,
    random_path,
)

from .cli_helpers import one_line_error, run

NB201 = get_space("nb201")


def _draw(name: str, n: int, seed: int = 0) -> list:
    it = NB201.path_sampler(name, random.Random(seed))
    return [next(it) for _ in range(n)]


def test_uniform_sampling_is_the_spos_sequence_of_earlier_runs():
    # runs trained before --sampling existed drew random_path per step from the same rng
    rng = random.Random(7)
    assert _draw("uniform", 50, 7) == [random_path(rng) for _ in range(50)]


def test_fair_sampling_trains_every_op_of_every_edge_once_per_five_steps():
    paths = _draw("fair", 5 * 40, 3)
    for g in range(40):
        group = paths[5 * g:5 * g + 5]
        for edge in range(6):
            assert sorted(p[edge] for p in group) == list(range(len(OPS)))
    # and the groups are not all the same permutation
    assert len({tuple(paths[5 * g:5 * g + 5]) for g in range(40)}) > 30


def test_distinct_sampling_is_uniform_over_pruned_forms():
    forms = set(distinct_forms())
    assert len(forms) == 9445
    paths = _draw("distinct", 20000, 1)
    assert all(p in forms and prune(p) == p for p in paths)
    # uniform over forms: the all-none form (1/9445) is far rarer than under SPOS, where
    # every disconnected op tuple (2.3 % of the 15,625) prunes to it
    none_share = sum(all(op == 0 for op in p) for p in paths) / len(paths)
    assert none_share < 0.002
    uniform = [prune(p) for p in _draw("uniform", 20000, 1)]
    assert sum(all(op == 0 for op in p) for p in uniform) / len(uniform) > 0.015


def test_unique_sampling_is_uniform_over_isomorphism_classes():
    classes = isomorphism_classes()
    assert len(classes) == 6466
    # the chance of a form: its classes' 1/6466 each, shared among the class's forms
    expected: Counter = Counter()
    for forms in classes:
        for f in forms:
            expected[f] += 1 / (len(classes) * len(forms))
    paths = _draw("unique", 60000, 2)
    seen = Counter(paths)
    assert set(seen) <= set(expected)
    # forms of one-form classes are drawn about 1/6466 each; forms of large classes share
    # theirs (under SPOS, a form's chance grows with its number of op tuples instead)
    for tier in ([f for f in expected if expected[f] >= 1 / 6466],
                 [f for forms in classes if len(forms) >= 4 for f in forms]):
        want = sum(expected[f] for f in tier)
        assert sum(seen[f] for f in tier) / len(paths) == pytest.approx(want, rel=0.05)
    many = max(classes, key=len)
    assert sum(seen[f] > 0 for f in many) > 1   # a class is trained through several forms


def test_unknown_sampling_is_one_line(tmp_path):
    from proxybench.errors import ProxybenchError
    with pytest.raises(ProxybenchError, match="unknown path sampling 'best'"):
        NB201.path_sampler("best", random.Random(0))
    assert get_space("darts").sampler_names() == ("uniform",)
    one_line_error(run("train", "--space", "darts", "--preset", "tiny", "--sampling", "fair",
                       "--out", tmp_path / "d", ok=False), "unknown", "fair", "uniform")
    assert not (tmp_path / "d").exists()


def test_sampling_is_recorded_and_changes_training(tmp_path):
    for m in ("uniform", "fair"):
        run("train", "--preset", "tiny", "--sampling", m, "--threads", "1",
            "--out", tmp_path / m)
    cfgs = {m: json.loads((tmp_path / m / "run.json").read_text())["config"]
            for m in ("uniform", "fair")}
    assert cfgs["uniform"]["sampling"] == "uniform" and cfgs["fair"]["sampling"] == "fair"
    a = torch.load(tmp_path / "uniform" / "final.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "fair" / "final.pt", weights_only=True)["state_dict"]
    assert any(not torch.equal(a[k], b[k]) for k in a)
    # resuming with another sampling is refused with the setting named, nothing changed
    before = (tmp_path / "fair" / "final.pt").read_bytes()
    one_line_error(run("train", "--preset", "tiny", "--sampling", "unique", "--resume",
                       "--out", tmp_path / "fair", ok=False), "sampling=fair, not sampling=unique")
    assert (tmp_path / "fair" / "final.pt").read_bytes() == before


def test_seed_group_with_other_settings_is_refused_then_forced(tmp_path):
    group = tmp_path / "g"
    run("train", "--preset", "tiny", "--seeds", "0-1", "--threads", "1", "--out", group)
    before = (group / "seed-1" / "final.pt").read_bytes()
    res = run("train", "--preset", "tiny", "--epochs", "3", "--seeds", "0-1", "--out", group,
              ok=False)
    one_line_error(res, "epochs=2, not epochs=3", "--force")
    assert (group / "seed-1" / "final.pt").read_bytes() == before
    res = run("train", "--preset", "tiny", "--epochs", "3", "--seeds", "0-1", "--force",
              "--threads", "1", "--out", group)
    assert res.output.count("retraining (--force)") == 2
    for s in (0, 1):
        cfg = json.loads((group / f"seed-{s}" / "run.json").read_text())["config"]
        assert cfg["preset"]["epochs"] == 3
        assert len(pd.read_csv(group / f"seed-{s}" / "metrics.csv")) == 3


def test_train_says_what_it_will_do_and_warns_for_the_paper_preset_on_a_cpu(tmp_path):
    out = tmp_path / "r"
    res = run("train", "--preset", "tiny", "--epochs", "3", "--threads", "1", "--out", out)
    assert "training 1 nb201 supernet(s) on cifar10: preset tiny (C=4, N=1, 3 epochs" in \
        res.output and "epochs left" in res.output
    res = run("train", "--preset", "paper", "--device", "cpu", "-q", "--out", out, ok=False)
    assert "preset paper (C=16, N=5, 250 epochs" in res.output
    assert "warning: the paper preset is a GPU-scale job" in res.output
    one_line_error(res, "preset_name=tiny, not preset_name=paper")


def test_runs_recorded_before_sampling_existed_count_as_uniform(tmp_path):
    from proxybench.run.presets import get_preset
    from proxybench.run.train import TrainConfig, run_difference
    out = tmp_path / "old"
    run("train", "--preset", "tiny", "--threads", "1", "--out", out)
    meta = json.loads((out / "run.json").read_text())
    del meta["config"]["sampling"]
    (out / "run.json").write_text(json.dumps(meta))
    cfg = TrainConfig("nb201", "cifar10", None, "tiny", get_preset("tiny"), 0, 0, None)
    assert run_difference(out, cfg) is None
    assert "sampling=uniform, not sampling=fair" in run_difference(
        out, TrainConfig("nb201", "cifar10", None, "tiny", get_preset("tiny"), 0, 0, None,
                         "fair"))


def test_average_state_dicts_means_floats_and_keeps_counters():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(5)}
    avg = average_state_dicts([a, b])
    assert torch.equal(avg["w"], torch.tensor([2.0, 4.0])) and int(avg["n"]) == 5
    assert torch.equal(a["w"], torch.tensor([1.0, 2.0]))      # inputs unchanged


def test_score_average_uses_the_last_saved_checkpoints(tmp_path):
    from proxybench.run.files import load_checkpoint, weights_sha256
    out = tmp_path / "r"
    run("train", "--preset", "tiny", "--epochs", "3", "--save-every", "1", "--threads", "1",
        "--out", out)
    run("score", "--run", out, "--proxy", "val_loss;angle", "--cells", "12", "--average", "2",
        "--workers", "1", "--out", tmp_path / "a.csv")
    meta = json.loads((tmp_path / "a.json").read_text())
    assert meta["averaged_checkpoints"] == ["epoch-2.pt", "epoch-3.pt"]
    want = average_state_dicts([load_checkpoint(out / f"epoch-{e}.pt")["state_dict"]
                                for e in (2, 3)])
    assert meta["weights_sha256"] == weights_sha256(want)
    run("score", "--run", out, "--proxy", "val_loss;angle", "--cells", "12", "--workers", "1",
        "--out", tmp_path / "f.csv")
    a, f = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "f.csv")
    assert not np.allclose(a["val_loss"], f["val_loss"])
    # the averaged table is not resumed with the final weights' settings
    one_line_error(run("score", "--run", out, "--proxy", "val_loss;angle", "--cells", "12",
                       "--resume", "--out", tmp_path / "a.csv", ok=False), "weights")
    one_line_error(run("score", "--run", out, "--proxy", "val_loss", "--cells", "12",
                       "--average", "9", "--out", tmp_path / "b.csv", ok=False),
                   "--average 9", "--save-every")
    assert not (tmp_path / "b.csv").exists()


SN = "flatness;val_acc;val_loss;angle"


@pytest.fixture(scope="module")
def groups(tmp_path_factory):
    """Two seed groups of tiny supernets, uniform and fair, scored on the same 30 cells."""
    root = tmp_path_factory.mktemp("levers")
    for m in ("uniform", "fair"):
        run("train", "--preset", "tiny", "--sampling", m, "--seeds", "0-1", "--save-every",
            "1", "--threads", "1", "--out", root / m)
        run("score", "--run", root / m, "--proxy", SN, "--cells", "30", "--workers", "1",
            "--out", root / m / "supernet.csv")
    return root


def test_correlate_refuses_replicates_of_other_settings_or_one_supernet(groups, tmp_path,
                                                                         gt_csv):
    u0, u1 = groups / "uniform" / "supernet.seed-0.csv", groups / "uniform" / "supernet.seed-1.csv"
    f1 = groups / "fair" / "supernet.seed-1.csv"
    run("correlate", u0, u1, "--column", "val_loss", "--ground-truth", gt_csv, "--bootstrap",
        "10", "--out", tmp_path / "c.csv")
    one_line_error(run("correlate", u0, f1, "--column", "val_loss", "--ground-truth", gt_csv,
                       "--bootstrap", "10", "--out", tmp_path / "c2.csv", ok=False),
                   "not seed replicates", "sampling=")
    # a second table scored from the same supernet (another scoring seed) is not a replicate
    run("score", "--run", groups / "uniform" / "seed-0", "--proxy", "val_loss", "--cells",
        "30", "--seed", "5", "--workers", "1", "--out", tmp_path / "again.csv")
    one_line_error(run("correlate", u0, tmp_path / "again.csv", "--column", "val_loss",
                       "--ground-truth", gt_csv, "--bootstrap", "10", "--out",
                       tmp_path / "c3.csv", ok=False), "one supernet")


def test_ablate_levers_pairs_each_lever_with_the_baseline(groups, tmp_path, gt_csv):
    run("score", "--run", groups / "uniform", "--proxy", SN, "--cells", "30", "--average",
        "2", "--workers", "1", "--out", groups / "uniform" / "avg2.csv")
    res = run("ablate", "levers", "--lever", groups / "uniform", "--lever", groups / "fair",
              "--lever", groups / "uniform" / "avg2.csv", "--cells", "30", "--bootstrap", "20",
              "--ground-truth", gt_csv, "--out", tmp_path / "ab")
    table = pd.read_csv(tmp_path / "ab" / "levers.csv")
    assert set(table["lever"]) == {"uniform", "fair", "uniform:avg2"}
    assert len(table) == 12 and (table["seeds"] == 2).all()
    assert "fair sampling" in table[table["lever"] == "fair"]["setting"].iloc[0]
    assert "mean of 2 checkpoints" in table[table["lever"] == "uniform:avg2"]["setting"].iloc[0]
    gt = pd.read_csv(gt_csv).set_index("index")["cifar10"]
    taus = {}
    for m in ("uniform", "fair"):
        for s in (0, 1):
            t = pd.read_csv(groups / m / f"supernet.seed-{s}.csv")
            taus[m, s] = kendall_tau(t["flatness"], gt.loc[t["arch_index"]].to_numpy())
    fair = table[(table["lever"] == "fair") & (table["proxy"] == "flatness")].iloc[0]
    assert fair["tau_mean"] == pytest.approx((taus["fair", 0] + taus["fair", 1]) / 2, abs=1e-6)
    diff = np.mean([taus["fair", s] - taus["uniform", s] for s in (0, 1)])
    assert fair["tau_diff_mean"] == pytest.approx(diff, abs=1e-6)
    assert fair["tau_diff_ci_low"] <= fair["tau_diff_mean"] <= fair["tau_diff_ci_high"]
    base = table[table["lever"] == "uniform"]
    assert base["tau_diff_mean"].isna().all() and (base["train_minutes"] > 0).all()
    assert "uniform:avg2" in res.output
    run("report", "--ablation", tmp_path / "ab" / "levers.csv", "--seed-tables",
        groups / "uniform" / "supernet.seed-0.csv", "--seed-tables",
        groups / "uniform" / "supernet.seed-1.csv", "--ground-truth", gt_csv,
        "--bootstrap", "10", "--out", tmp_path / "rep")
    md = (tmp_path / "rep" / "index.md").read_text()
    assert "Supernet levers" in md and "mean of 2 checkpoints" in md
    assert "**Seed spread:** the training seed moves" in md
    assert md.index("Supernet levers") < md.index("Where the numbers come from")
    one_line_error(run("ablate", "levers", "--lever", groups / "uniform", "--lever",
                       groups / "uniform" / "nothing.csv", "--cells", "30",
                       "--ground-truth", gt_csv, "--out", tmp_path / "ab2", ok=False),
                   "missing", "proxybench score")
    one_line_error(run("ablate", "levers", "--run", groups / "uniform", "--cells", "30",
                       "--out", tmp_path / "ab3", ok=False), "--lever")


def test_ablate_levers_measures_every_lever_on_the_cells_asked_for(groups, tmp_path, gt_csv):
    """`--cells 20` pairs the levers on the first 20 of the 30 cells they were scored on
    (`--cells 20 --seed 0` is a subset of `--cells 30 --seed 0`); cells a table lacks, or a
    kept table of other cells, are refused rather than mixed in."""
    from proxybench.spaces import get_space
    sub = get_space("nb201").select(20, 0)
    assert set(sub) <= set(get_space("nb201").select(30, 0))
    run("ablate", "levers", "--lever", groups / "uniform", "--lever", groups / "fair",
        "--cells", "20", "--bootstrap", "20", "--ground-truth", gt_csv, "--out", tmp_path / "ab")
    table = pd.read_csv(tmp_path / "ab" / "levers.csv")
    assert (table["cells"] == 20).all()
    gt = pd.read_csv(gt_csv).set_index("index")["cifar10"]
    t = pd.read_csv(groups / "fair" / "supernet.seed-1.csv").set_index("arch_index").loc[sub]
    want = kendall_tau(t["val_loss"] * -1, gt.loc[sub].to_numpy())
    row = table[(table["lever"] == "fair") & (table["proxy"] == "val_loss")].iloc[0]
    assert f"1:{want:+.4f}" in row["taus"]
    # without --cells: the cells every lever's tables share (all 30 here)
    run("ablate", "levers", "--lever", groups / "uniform", "--lever", groups / "fair",
        "--bootstrap", "20", "--ground-truth", gt_csv, "--out", tmp_path / "ab0")
    assert (pd.read_csv(tmp_path / "ab0" / "levers.csv")["cells"] == 30).all()
    one_line_error(run("ablate", "levers", "--lever", groups / "uniform", "--lever",
                       groups / "fair", "--cells", "40", "--ground-truth", gt_csv,
                       "--out", tmp_path / "ab2", ok=False), "lacks", "--cells")
    run("ablate", "levers", "--lever", groups / "uniform", "--lever", groups / "fair",
        "--cells", "30", "--bootstrap", "20", "--ground-truth", gt_csv, "--out", tmp_path / "ab3")
    one_line_error(run("ablate", "levers", "--lever", groups / "uniform", "--keep",
                       tmp_path / "ab3" / "levers.csv", "--cells", "20", "--ground-truth",
                       gt_csv, "--out", tmp_path / "ab4", ok=False), "--keep", "30 cells")
    # a second levers table (levers20.csv: on 20 cells) is a section of its own in the report
    import shutil
    shutil.copy(tmp_path / "ab" / "levers.csv", tmp_path / "levers20.csv")
    run("report", "--ablation", tmp_path / "ab3" / "levers.csv", "--ablation",
        tmp_path / "levers20.csv", "--ground-truth", gt_csv, "--out", tmp_path / "rep")
    md = (tmp_path / "rep" / "index.md").read_text()
    assert md.count("## Supernet levers: what makes the supernet rank") == 2
    head = "## Supernet levers: what makes the supernet rank"
    assert md.index(head + "\n") < md.index(head + " (on 20 cells)\n")


def _records(src, dst):
    """A seed group's record as a report keeps it: each run's run.json and metrics.csv and
    the group's score tables, no checkpoints."""
    import shutil
    dst.mkdir(parents=True)
    for f in src.glob("supernet.seed-*"):
        shutil.copy(f, dst / f.name)
    for r in src.glob("seed-*"):
        (dst / r.name).mkdir()
        for name in ("run.json", "metrics.csv"):
            shutil.copy(r / name, dst / r.name / name)
    return dst


def test_levers_from_run_records_and_kept_rows(groups, tmp_path, gt_csv):
    import proxybench as pb
    first = pb.ablate("levers", [groups / "uniform", groups / "fair"], tmp_path / "a",
                      cells=30, bootstrap=20, ground_truth=str(gt_csv))
    # the final weights' hash in run.json names the tables without the checkpoints
    rec = json.loads((groups / "uniform" / "seed-0" / "run.json").read_text())
    meta = json.loads((groups / "uniform" / "supernet.seed-0.json").read_text())
    assert rec["weights_sha256"] == meta["weights_sha256"]
    uni, fair = _records(groups / "uniform", tmp_path / "rec" / "uniform"), \
        _records(groups / "fair", tmp_path / "rec" / "fair")
    again = pb.ablate("levers", [uni, fair], tmp_path / "b", cells=30, bootstrap=20,
                      ground_truth=str(gt_csv))
    cols = ["lever", "proxy", "tau_mean", "tau_diff_mean", "train_minutes"]
    pd.testing.assert_frame_equal(first[cols], again[cols])
    # a table of another run (seed 1's under seed 0's name) is refused by the record's hash
    (uni / "supernet.seed-0.json").write_text(
        (uni / "supernet.seed-1.json").read_text().replace('"seed": 1', '"seed": 0'))
    one_line_error(run("ablate", "levers", "--lever", uni, "--lever", fair, "--cells", "30",
                       "--ground-truth", gt_csv, "--out", tmp_path / "c", ok=False),
                   "not scored from the final weights")
    # --keep: the earlier table's other levers are kept when its baseline is this one
    res = run("ablate", "levers", "--lever", groups / "uniform", "--keep",
              tmp_path / "a" / "levers.csv", "--cells", "30", "--bootstrap", "20",
              "--ground-truth", gt_csv, "--out", tmp_path / "d")
    kept = pd.read_csv(tmp_path / "d" / "levers.csv")
    assert list(kept["lever"].unique()) == ["uniform", "fair"] and "fair" in res.output
    pd.testing.assert_frame_equal(kept[cols], first[cols].reset_index(drop=True),
                                  check_dtype=False)
    # a kept table measured on fewer seeds of this baseline is kept (its pairs are over
    # the seeds it has), unless this baseline differs on one of them
    fewer = pd.read_csv(tmp_path / "a" / "levers.csv")
    is_base = fewer["lever"] == "uniform"
    fewer.loc[is_base, "taus"] = fewer.loc[is_base, "taus"].str.split().str[0]
    fewer.to_csv(tmp_path / "fewer.csv", index=False)
    run("ablate", "levers", "--lever", groups / "uniform", "--keep", tmp_path / "fewer.csv",
        "--cells", "30", "--bootstrap", "20", "--ground-truth", gt_csv,
        "--out", tmp_path / "d2")
    assert set(pd.read_csv(tmp_path / "d2" / "levers.csv")["lever"]) == {"uniform", "fair"}
    fewer.loc[is_base, "taus"] = "0:+0.9999"
    fewer.to_csv(tmp_path / "wrong.csv", index=False)
    one_line_error(run("ablate", "levers", "--lever", groups / "uniform", "--keep",
                       tmp_path / "wrong.csv", "--cells", "30", "--ground-truth", gt_csv,
                       "--out", tmp_path / "d3", ok=False), "--keep", "tau per seed")
    # ... and refused when its baseline is another setting's
    one_line_error(run("ablate", "levers", "--lever", groups / "fair", "--keep",
                       tmp_path / "a" / "levers.csv", "--cells", "30", "--ground-truth",
                       gt_csv, "--out", tmp_path / "e", ok=False), "--keep", "baseline")
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    one_line_error(run("ablate", "levers", "--lever", groups / "uniform", "--keep",
                       tmp_path / "junk.csv", "--cells", "30", "--ground-truth", gt_csv,
                       "--out", tmp_path / "f", ok=False), "not a levers table")


def test_ablate_epochs_scores_a_seed_group_at_chosen_epochs_with_set_images(groups, tmp_path,
                                                                          gt_csv):
    from proxybench.report.build import build_report
    common = ("--cells", "10", "--bootstrap", "0", "--ground-truth", gt_csv)
    res = run("ablate", "epochs", "--run", groups / "uniform", *common, "--bn-images", "32",
              "--val-images", "64", "--out", tmp_path / "y")
    table = pd.read_csv(tmp_path / "y" / "epochs.csv")
    assert sorted(table["epoch"].unique()) == [1, 2] and sorted(table["seed"].unique()) == [0, 1]
    assert len(table) == 2 * 2 * 4 and "seed-1/epoch-2.pt" in res.output
    assert (table["bn_images"] == 32).all() and (table["val_images"] == 64).all()
    assert table["supernet"].str.contains("C=4, N=1, 2 epochs").all()
    # the images are those asked for: accuracies on 64 images are multiples of 1/64
    scored = pd.read_csv(tmp_path / "y" / "epochs" / "seed-0-epoch-1.csv")
    assert ((scored["val_acc"] * 64 / 100).round(6) % 1 == 0).all()
    # Table 1's tau(angle, flatness) of each checkpoint, on its scored cells
    row = table[(table.seed == 0) & (table.epoch == 1)]
    assert row["tau_angle_flatness"].nunique() == 1
    assert row["tau_angle_flatness"].iloc[0] == pytest.approx(
        kendall_tau(scored["angle"], scored["flatness"]))
    assert json.loads((tmp_path / "y" / "epochs" / "seed-0-epoch-1.json").read_text())[
        "preset"]["val_images"] == 64
    # the same folder with other images is refused, its tables kept
    one_line_error(run("ablate", "epochs", "--run", groups / "uniform", *common,
                       "--val-images", "128", "--out", tmp_path / "y", ok=False))
    assert pd.read_csv(tmp_path / "y" / "epochs" / "seed-0-epoch-1.csv").equals(scored)
    # chosen epochs; bad ones get one line each
    run("ablate", "epochs", "--run", groups / "uniform" / "seed-0", *common, "--at-epochs", "2",
        "--out", tmp_path / "z")
    assert set(pd.read_csv(tmp_path / "z" / "epochs.csv")["epoch"]) == {2}
    for bad, needle in (("3", "trains for 2 epochs"), ("0", "--at-epochs"),
                        ("1,x", "whole numbers"), ("2,2", "twice")):
        one_line_error(run("ablate", "epochs", "--run", groups / "uniform", *common,
                           "--at-epochs", bad, "--out", tmp_path / "w", ok=False), needle)
    one_line_error(run("ablate", "alpha", "--run", groups / "uniform" / "seed-0", *common,
                       "--at-epochs", "2", "--out", tmp_path / "w", ok=False), "ablate epochs")
    # a run still training: the checkpoints saved so far, the rest named for later
    live = tmp_path / "live"
    shutil.copytree(groups / "uniform" / "seed-0", live)
    (live / "final.pt").unlink()
    (live / "epoch-2.pt").unlink()
    res = run("ablate", "epochs", "--run", live, *common, "--at-epochs", "1,2",
              "--out", tmp_path / "v")
    assert "epoch(s) 2 not saved yet" in res.output
    partial = tmp_path / "v" / "epochs.csv"
    assert set(pd.read_csv(partial)["epoch"]) == {1}
    # the report: the epoch curve with the seed spread, and the note on a run in progress
    for ablation, needles in ((tmp_path / "y" / "epochs.csv", ("mean ± sd over the seeds", " ± ",
                                                               "| tau(angle, flatness) |")),
                              (partial, ("still running", "epoch 1 of 2"))):
        md = (build_report(tmp_path / f"rep-{ablation.parent.name}", ablations=[ablation],
                           ground_truth=str(gt_csv), n_boot=0, title="t",
                           echo=lambda _: None) / "index.md").read_text()
        assert "## Supernet proxies vs training epochs: C=4, N=1, 2 epochs" in md
        for n in needles:
            assert n in md


def test_ablate_epochs_keeps_its_tables_as_a_seed_group_grows(groups, tmp_path, gt_csv):
    grp = tmp_path / "grp"
    grp.mkdir()
    shutil.copytree(groups / "uniform" / "seed-0", grp / "seed-0")
    args = ("ablate", "epochs", "--run", grp, "--at-epochs", "2", "--cells", "10",
            "--bootstrap", "0", "--ground-truth", gt_csv, "--out", tmp_path / "o")
    run(*args)
    first = tmp_path / "o" / "epochs" / "seed-0-epoch-2.csv"
    kept = first.read_bytes()   # its timing columns would change if scored again
    shutil.copytree(groups / "uniform" / "seed-1", grp / "seed-1")   # the second seed lands
    run(*args)
    assert first.read_bytes() == kept
    assert set(pd.read_csv(tmp_path / "o" / "epochs.csv")["seed"]) == {0, 1}


def test_ablate_epochs_keeps_the_seeds_of_an_earlier_curve_of_its_setting(groups, tmp_path,
                                                                         gt_csv):
    """A supernet trained on a machine whose checkpoints are gone stays in the curve
    (--keep its epochs.csv); a seed trained again replaces its kept rows; a curve of other
    images or cells is refused and nothing is written."""
    from proxybench.report.build import build_report
    common = ("--at-epochs", "2", "--cells", "10", "--bootstrap", "0", "--ground-truth",
              gt_csv)
    run("ablate", "epochs", "--run", groups / "uniform" / "seed-0", *common[2:],
        "--at-epochs", "1,2", "--out", tmp_path / "old")
    old = pd.read_csv(tmp_path / "old" / "epochs.csv")
    old = old.drop(columns="cells").assign(kendall_tau=old["kendall_tau"] + 0.5)  # as written
    old.to_csv(tmp_path / "kept.csv", index=False)           # before `cells` was a column
    run("ablate", "epochs", "--run", groups / "uniform" / "seed-1", *common, "--keep",
        tmp_path / "kept.csv", "--out", tmp_path / "new")
    both = pd.read_csv(tmp_path / "new" / "epochs.csv")
    assert list(both["seed"]) == [0] * 8 + [1] * 4 and (both["cells"] == 10).all()
    assert both[both.seed == 0]["kendall_tau"].tolist() == pytest.approx(
        old["kendall_tau"].tolist())
    # the report: two seeds at epoch 2 (their sd), the kept seed alone at epoch 1 (its CI)
    md = (build_report(tmp_path / "rep", ablations=[tmp_path / "new" / "epochs.csv"],
                       ground_truth=str(gt_csv), n_boot=0, title="t",
                       echo=lambda _: None) / "index.md").read_text()
    one = both[(both.epoch == 1) & (both.proxy == "angle")].iloc[0]
    two = both[(both.epoch == 2) & (both.proxy == "angle")]["kendall_tau"]
    row1 = next(line for line in md.splitlines() if line.startswith("| 1 | 1 |"))
    assert f"{one.kendall_tau:+.4f}" in row1 and "±" not in row1 and "| 2 | 2 |" in md
    assert f"{two.mean():+.4f} ± {two.std(ddof=1):.4f}" in md
    # seed 0 measured here replaces the kept one
    run("ablate", "epochs", "--run", groups / "uniform", *common, "--keep",
        tmp_path / "kept.csv", "--out", tmp_path / "again")
    again = pd.read_csv(tmp_path / "again" / "epochs.csv")
    assert list(again["seed"]) == [0] * 4 + [1] * 4
    assert again[again.seed == 0]["kendall_tau"].tolist() == pytest.approx(
        (old[old.epoch == 2]["kendall_tau"] - 0.5).tolist())
    for change, needle in ((dict(val_images=99), "validation images"),
                           (dict(n=7), "7 cells"), (dict(supernet="C=16"), "setting")):
        old.assign(**change).to_csv(tmp_path / "other.csv", index=False)
        one_line_error(run("ablate", "epochs", "--run", groups / "uniform" / "seed-1",
                           *common, "--keep", tmp_path / "other.csv", "--out",
                           tmp_path / "bad", ok=False), "--keep", needle)
        assert not (tmp_path / "bad" / "epochs.csv").exists()
    (tmp_path / "junk.csv").write_text("a,b\n1,2\n")
    one_line_error(run("ablate", "epochs", "--run", groups / "uniform" / "seed-1", *common,
                       "--keep", tmp_path / "junk.csv", "--out", tmp_path / "bad", ok=False),
                   "not an epoch curve")
    one_line_error(run("ablate", "sigma", "--run", groups / "uniform" / "seed-1", *common[2:],
                       "--keep", tmp_path / "kept.csv", "--out", tmp_path / "bad", ok=False),
                   "--keep")


def test_api_ablate_epochs_at_chosen_epochs_and_images(groups, tmp_path, gt_csv):
    import proxybench as pb
    table = pb.ablate("epochs", groups / "uniform" / "seed-1", tmp_path / "a", cells=10,
                      at_epochs=[1], bn_images=32, val_images=64, bootstrap=0,
                      ground_truth=str(gt_csv))
    assert set(table["epoch"]) == {1} and set(table["seed"]) == {1}
    assert (table["val_images"] == 64).all() and len(table) == 4
    with pytest.raises(pb.ProxybenchError, match="at_epochs"):
        pb.ablate("epochs", groups / "uniform", tmp_path / "b", at_epochs=[0],
                  ground_truth=str(gt_csv))
    with pytest.raises(pb.ProxybenchError, match="val_images"):
        pb.ablate("epochs", groups / "uniform", tmp_path / "b", val_images=float("nan"),
                  ground_truth=str(gt_csv))


def test_few_shot_split_trains_each_op_from_the_one_shot_weights_and_scores_by_op(tmp_path):
    from proxybench.run.files import load_checkpoint
    from proxybench.spaces.nb201 import cell_at
    out = tmp_path / "fs"
    res = run("train", "--preset", "tiny", "--epochs", "1", "--train-images", "256",
              "--few-shot-split", "0:1", "--threads", "1", "--out", out)
    assert "few-shot split of seed 0 on edge 0" in res.output
    split = json.loads((out / "few-shot" / "few_shot.json").read_text())
    assert (split["edge"], split["epochs"], split["ops"]) == (0, 1, [0, 1, 2, 3, 4])
    parent = load_checkpoint(out / "final.pt")["state_dict"]
    init = load_checkpoint(out / "epoch-0.pt")["state_dict"]
    conv1, conv3 = "cells.0.edges.0.nor_conv_1x1.1.weight", "cells.0.edges.0.nor_conv_3x3.1.weight"
    for op, trained, untouched in ((2, conv1, conv3), (3, conv3, conv1)):
        sub = out / "few-shot" / f"op-{op}"
        cfg = json.loads((sub / "run.json").read_text())["config"]
        assert cfg["shot"] == [0, op] and cfg["preset"]["epochs"] == 1
        final = load_checkpoint(sub / "final.pt")["state_dict"]
        # warm-started from the one-shot weights; edge 0's other op never trained here
        assert torch.equal(final[untouched], parent[untouched])
        assert not torch.equal(final[trained], parent[trained])
        # its epoch 0 is the one-shot initialisation (angle measures from it)
        assert torch.equal(load_checkpoint(sub / "epoch-0.pt")["state_dict"][conv1], init[conv1])
    # each cell is scored on the sub-supernet of its pruned form's op on edge 0
    run("score", "--run", out, "--proxy", "val_loss;angle", "--few-shot", "--cells", "16",
        "--workers", "1", "--out", tmp_path / "fs.csv")
    fs = pd.read_csv(tmp_path / "fs.csv").set_index("arch_index")
    meta = json.loads((tmp_path / "fs.json").read_text())
    assert meta["few_shot"]["edge"] == 0 and len(meta["few_shot"]["sub_weights_sha256"]) == 5
    assert meta["training"]["few_shot"] == {"edge": 0, "epochs": 1}
    for op in (2, 3):
        run("score", "--run", out / "few-shot" / f"op-{op}", "--proxy", "val_loss;angle",
            "--cells", "16", "--seed", "0", "--workers", "1", "--out", tmp_path / f"op{op}.csv")
        direct = pd.read_csv(tmp_path / f"op{op}.csv").set_index("arch_index")
        mine = [i for i in fs.index if prune(cell_at(int(i)))[0] == op]
        assert mine
        for col in ("val_loss", "angle"):
            assert fs.loc[mine, col].tolist() == direct.loc[mine, col].tolist()
    # trained with its split in one command, the run scores few-shot by default;
    # --one-shot scores its one-shot weights, which differ
    run("score", "--run", out, "--proxy", "val_loss", "--cells", "16", "--workers", "1",
        "--out", tmp_path / "default.csv")
    assert json.loads((tmp_path / "default.json").read_text())["few_shot"]["edge"] == 0
    run("score", "--run", out, "--proxy", "val_loss", "--cells", "16", "--workers", "1",
        "--one-shot", "--out", tmp_path / "one.csv")
    assert "few_shot" not in json.loads((tmp_path / "one.json").read_text())
    assert not np.allclose(pd.read_csv(tmp_path / "one.csv")["val_loss"], fs["val_loss"])
    # another split over it is refused before anything is touched; bad specs and unsplit
    # runs are one line
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    one_line_error(run("train", "--preset", "tiny", "--epochs", "1", "--train-images", "256",
                       "--few-shot-split", "1:1", "--resume", "--out", out, ok=False),
                   "edge 0 with 1 epochs", "--force")
    assert stamp == {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    one_line_error(run("train", "--preset", "tiny", "--few-shot-split", "9:1", "--out",
                       tmp_path / "x", ok=False), "edge 9")
    one_line_error(run("train", "--preset", "tiny", "--few-shot-split", "a", "--out",
                       tmp_path / "x", ok=False), "EDGE:EPOCHS")
    one_line_error(run("score", "--run", out / "few-shot" / "op-2", "--proxy", "val_loss",
                       "--few-shot", "--cells", "4", "--out", tmp_path / "y.csv", ok=False),
                   "no few-shot split")


def test_a_preset_with_a_few_shot_split_trains_and_scores_as_the_split_option(
        tmp_path, monkeypatch):
    """cpu-fewshot is cpu plus `--few-shot-split 0:6`: a preset with a split trains the
    same supernets as its one-shot twin given the split, scores few-shot by default, and
    its tables are seed replicates of the twin's (here the same weights: refused as one)."""
    from dataclasses import replace

    import proxybench as pb
    from proxybench.analysis.correlation import check_replicates
    from proxybench.errors import ProxybenchError
    from proxybench.run.presets import PRESETS, get_preset
    assert get_preset("cpu-fewshot") == replace(get_preset("cpu"), few_shot="0:6")
    assert "few_shot" not in get_preset("cpu").to_dict()   # old records unchanged
    monkeypatch.setitem(PRESETS, "tiny-fs", replace(PRESETS["tiny"], few_shot="0:1"))
    kw = {"epochs": 1, "train_images": 256}
    a = pb.train(tmp_path / "a", preset="tiny-fs", **kw)[0]
    b = pb.train(tmp_path / "b", preset="tiny", few_shot="0:1", **kw)[0]
    assert json.loads((a / "few-shot" / "few_shot.json").read_text())["edge"] == 0
    for run_dir in (a, b):
        pb.score(run_dir, "val_loss", cells=12, out=run_dir / "t.csv", workers=1)
        assert json.loads((run_dir / "t.json").read_text())["few_shot"]["epochs"] == 1
    with pytest.raises(ProxybenchError, match="weights of one supernet"):
        check_replicates([a / "t.csv", b / "t.csv"], "val_loss")
    one = pb.score(a, "val_loss", cells=12, few_shot=False, workers=1)
    assert not np.allclose(one["val_loss"], pd.read_csv(a / "t.csv")["val_loss"])


def test_ablate_workers_sets_the_scoring_processes(groups, tmp_path, gt_csv, monkeypatch):
    """`ablate --workers 1` beside a training job keeps the machine at one process a core;
    the API passes it too, and a bad count is one line."""
    import proxybench as pb
    import proxybench.engine.ablate as ab
    seen = []
    real = ab.score_cells
    def spy(*args, **kw):
        seen.append(kw.get("workers"))
        return real(*args, **kw)
    monkeypatch.setattr(ab, "score_cells", spy)
    common = ("--cells", "6", "--bootstrap", "0", "--ground-truth", gt_csv)
    run("ablate", "epochs", "--run", groups / "uniform" / "seed-0", "--at-epochs", "2", *common,
        "--workers", "1", "--out", tmp_path / "a")
    assert seen == [1]
    pb.ablate("epochs", groups / "uniform" / "seed-0", tmp_path / "b", cells=6, at_epochs=[2],
              bootstrap=0, ground_truth=str(gt_csv), workers=2)
    assert seen == [1, 2]
    one_line_error(run("ablate", "epochs", "--run", groups / "uniform" / "seed-0", *common,
                       "--workers", "0", "--out", tmp_path / "c", ok=False), "--workers")
