"""The README's numbers are the report's: its leaderboard block is the one the report wrote."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from proxybench.report.build import README_BEGIN, README_END

ROOT = Path(__file__).resolve().parents[1]


def test_readme_leaderboard_is_the_reports():
    readme = (ROOT / "README.md").read_text()
    block = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    board = (ROOT / "reports" / "cifar10-cpu" / "leaderboard.md").read_text()
    assert block.strip() == board.strip()
    assert board.count("\n") > 10                       # a real table, not an empty block


def test_a_leaderboard_csv_without_ndcg_still_renders():
    """A leaderboard.csv written before the nDCG column (the committed one with its nDCG
    columns taken out) still reads, and renders as the committed leaderboard.md with "-" in
    the nDCG column."""
    import pandas as pd

    from proxybench.analysis.leaderboard import markdown
    rep = ROOT / "reports" / "cifar10-cpu"
    board = pd.read_csv(rep / "leaderboard.csv")
    board = board[[c for c in board.columns if not c.startswith("ndcg")]]
    old = (rep / "leaderboard.md").read_text().splitlines()
    new = markdown(board).splitlines()
    assert new[0] == old[0]
    assert len(new) == len(old)
    for a, b in zip(old[2:], new[2:], strict=True):
        cells = a.split(" | ")
        assert b == " | ".join([*cells[:-2], "-", cells[-1]])


def test_readme_prose_numbers_are_the_reports():
    """Each number the README's findings quote, recomputed from the report's tables."""
    import pandas as pd

    from proxybench.analysis.groundtruth import join_scores
    from proxybench.analysis.metrics import kendall_tau
    from proxybench.table import read_scores

    readme = (ROOT / "README.md").read_text()
    rep = ROOT / "reports" / "cifar10-cpu"
    board = pd.read_csv(rep / "leaderboard.csv").set_index("proxy")
    budget = pd.read_csv(rep / "ablate" / "budget.csv")
    truth = pd.read_csv(ROOT.parent / "shared" / "data" / "nb201_test_accuracy.csv.gz") \
        if (ROOT.parent / "shared" / "data" / "nb201_test_accuracy.csv.gz").is_file() else None
    quoted = [f"mean +{board.loc['flatness', 'tau']:.3f}, sd {board.loc['flatness', 'tau_sd']:.3f}",
              f"(sd {board.loc['val_loss', 'tau_sd']:.3f})",
              f"(sd {board.loc['val_acc', 'tau_sd']:.3f})",
              f"flatness +{board.loc['flatness', 'tau_ensemble']:.3f} and val_loss "
              f"+{board.loc['val_loss', 'tau_ensemble']:.3f}",
              f"`params_live` +{board.loc['params_live', 'tau']:.3f}",
              f"nwot +{board.loc['nwot', 'tau']:.3f}, synflow +{board.loc['synflow', 'tau']:.3f}",
              f"ρ +{board.loc['fisher', 'rho']:.3f}",
              f"+{board.loc['fisher[broadcast=channels]', 'rho']:.3f} with one term per channel",
              f"jacov (ρ +{board.loc['jacov', 'rho']:.3f})"]
    e60 = budget[(budget.epochs == 60) & (budget.proxy == "flatness")].iloc[0]
    quoted.append(f"flatness +{e60.tau_mean:.3f} ±\n  {e60.tau_sd:.3f}")
    if truth is not None:
        truth = truth.rename(columns={"index": "arch_index", "imagenet16_120": "imagenet16-120"})
        taus = {}
        for s in range(5):
            t = read_scores(rep / "levers" / "lv-uniform" / f"fewshot.seed-{s}.csv")
            j = join_scores(t, truth, "cifar10")
            taus.setdefault("flatness", []).append(kendall_tau(j["flatness"], j["truth"]))
            taus.setdefault("val_loss", []).append(kendall_tau(-j["val_loss"], j["truth"]))
            taus.setdefault("val_acc", []).append(kendall_tau(j["val_acc"], j["truth"]))
        for name in ("flatness", "val_loss", "val_acc"):
            quoted.append(f"{name} +{min(taus[name]):.3f} to +{max(taus[name]):.3f}")
    cell_sd = board.loc[["flatness", "val_loss", "val_acc"], "tau_cell_sd"].mean()
    quoted.append(f"cell-bootstrap sd of about {cell_sd:.3f}")
    for text in quoted:
        assert text in readme, text


def test_readme_beyond_numbers_are_in_the_report():
    """The numbers the README quotes from the report's "Beyond single proxies" section."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    report = (ROOT / "reports" / "cifar10-cpu" / "index.md").read_text()
    for text in ("+0.745 [+0.734, +0.757]", "+0.7236",
                 "+0.810 ± 0.008", "~1000", "+0.811 ± 0.008", "+0.853 ± 0.004", "1.0 ± 0.0",
                 "17.8 ± 6.3", "+0.739 [+0.728, +0.751]", "+0.781 [+0.771, +0.791]"):
        assert text in readme and text in report, text


def test_readme_levers_numbers_are_the_levers_table():
    """The README's levers bullet quotes reports/cifar10-cpu/ablate/levers.csv (the table
    `ablate levers` wrote): each lever's val_loss and flatness tau, mean ± sd over seeds, and
    the paired difference to the baseline."""
    import pandas as pd
    readme = " ".join((ROOT / "README.md").read_text().split())
    table = pd.read_csv(ROOT / "reports" / "cifar10-cpu" / "ablate" / "levers.csv")
    base = table["lever"].iloc[0]
    for r in table[table["proxy"].isin(["val_loss", "flatness"])].itertuples():
        assert f"{r.tau_mean:+.3f} ± {r.tau_sd:.3f}" in readme, (r.lever, r.proxy)
        if r.lever != base and r.proxy == "val_loss":
            assert f"{r.tau_diff_mean:+.3f} [{r.tau_diff_ci_low:+.3f}, " \
                   f"{r.tau_diff_ci_high:+.3f}]" in readme, r.lever


def test_readme_depth_and_instruction_set_numbers_are_the_records():
    """The README's depth/instruction-set bullet, recomputed from the committed records of
    the AVX2 machine's supernets and the committed (AVX-512) seed tables."""
    import json

    import pandas as pd

    from proxybench.analysis.groundtruth import join_scores, load_ground_truth
    from proxybench.analysis.metrics import kendall_tau
    from proxybench.table import read_scores
    readme = " ".join((ROOT / "README.md").read_text().split())
    rep = ROOT / "reports" / "cifar10-cpu"
    avx2 = rep / "levers" / "avx2"
    truth = load_ground_truth(None)

    from proxybench.analysis.metrics import place_failed

    def tau(path, col):          # failed cells ranked last, as everywhere
        j = join_scores(read_scores(path), truth, "cifar10")
        return kendall_tau(*place_failed(j[col], j["truth"], "last", col != "val_loss")[:2])
    c8n5 = avx2 / "lv-c8n5" / "supernet.seed-0.csv"
    quoted = [f"τ +{tau(c8n5, 'flatness'):.3f}, +{tau(c8n5, 'val_loss'):.3f} and "
              f"+{tau(c8n5, 'val_acc'):.3f}", f"angle turns positive (+{tau(c8n5, 'angle'):.3f}"]
    acc = json.loads((avx2 / "lv-c8n5" / "seed-0" / "run.json").read_text())["summary"]
    quoted.append(f"reach {acc['path_valid_acc_mean']:.1f}% validation accuracy")
    new = [tau(avx2 / "lv-uniform" / f"supernet.seed-{s}.csv", "val_loss") for s in range(3)]
    old = [tau(rep / "seeds" / f"e30-seed-{s}.csv", "val_loss") for s in range(3)]
    quoted.append("val_loss τ " + ", ".join(f"+{v:.3f}" for v in new[:2]) + f" and +{new[2]:.3f}")
    quoted.append("gave " + ", ".join(f"+{v:.3f}" for v in old[:2]) + f" and +{old[2]:.3f}")
    quoted.append(f"(mean +{pd.Series(new).mean():.3f} ± {pd.Series(new).std():.3f})")
    minutes = pd.read_csv(avx2 / "lv-c8n5" / "seed-0" / "metrics.csv")["seconds"].sum() / 60
    quoted.append(f"one seed, {minutes:.0f} training minutes")
    for text in quoted:
        assert text in readme, text


def test_readme_cifar100_leaderboard_is_the_reports():
    from proxybench.report.build import readme_markers
    begin, end = readme_markers("cifar100")
    readme = (ROOT / "README.md").read_text()
    block = readme.split(begin, 1)[1].split(end, 1)[0]
    board = (ROOT / "reports" / "cifar100-cpu" / "leaderboard.md").read_text()
    assert block.strip() == board.strip() and board.count("\n") > 10


def test_readme_cross_dataset_numbers_are_the_comparisons():
    import json
    readme = " ".join((ROOT / "README.md").read_text().split())
    cross = json.loads((ROOT / "reports" / "cifar100-cpu" / "cross-dataset.json").read_text())
    assert (f"the {cross['proxies']} proxies both leaderboards hold" in readme)
    assert (f"Kendall τ {cross['kendall_tau']:+.3f} [{cross['tau_ci_low']:+.3f}, "
            f"{cross['tau_ci_high']:+.3f}]") in readme


def test_committed_results_carry_no_absolute_paths_of_the_machine_that_made_them():
    """Reports and their tables name the data and runs folders relative to the repository
    (DATA, runs/), never a machine's absolute paths."""
    import re
    pattern = re.compile(r"(?<![\w.~])/(work|root|home|tmp|Users|mnt|opt)/")
    found = []
    for path in (ROOT / "reports").rglob("*"):
        if path.suffix in {".json", ".csv", ".md", ".txt", ".html"} and path.is_file():
            text = path.read_text(errors="replace")
            if pattern.search(text):
                found.append(str(path.relative_to(ROOT)))
    assert not found, found


def test_cifar100_darts_retraining_numbers_are_the_results():
    """The CIFAR-100 report README quotes each retrained cell's test accuracy and the range
    of wall times from the retraining runs' result.json."""
    import json
    text = " ".join((ROOT / "reports" / "cifar100-cpu" / "README.md").read_text().split())
    results = [json.loads(p.read_text()) for p in
               sorted((ROOT / "reports" / "cifar100-cpu" / "darts").glob("rt-*/result.json"))]
    assert len(results) == 4
    for r in results:
        assert f"{r['test_acc']:.2f} %" in text, r["label"]
    walls = [round(r["wall_seconds"]) for r in results]
    assert f"in {min(walls)}-{max(walls)} s each" in text


def test_paper_preset_numbers_are_its_tables():
    """The paper preset's epoch curve, its cost and the comparison on the same cells, as
    the report README quotes them, from paper/epochs.csv, its metrics.csv and the
    cpu-fewshot seed tables."""
    from proxybench.api import correlate_files
    rep = ROOT / "reports" / "cifar10-cpu"
    text = " ".join((rep / "README.md").read_text().split()).replace("−", "-")
    curve = pd.read_csv(rep / "paper" / "epochs.csv")
    for r in curve.itertuples():
        assert f"{r.kendall_tau:+.3f}" in text, (r.epoch, r.proxy)
        assert f"| {r.epoch} | {r.seed} | {r.mean_path_val_acc:.1f} % |" in text
    for r in curve[curve.proxy != "val_acc"].itertuples():
        assert f"{r.kendall_tau:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" in text
    for r in curve.drop_duplicates(["epoch", "seed"]).itertuples():   # Table 1's
        assert f"| {r.tau_angle_flatness:+.3f} |" in text, r.epoch
    for (epoch, proxy), g in curve.groupby(["epoch", "proxy"]):   # the seed bands
        if len(g) > 1:
            tau = g["kendall_tau"]
            assert f"{tau.mean():+.3f} ± {tau.std(ddof=1):.3f}" in text, (epoch, proxy)
    check = pd.read_csv(rep / "paper" / "img2048" / "epochs.csv")    # paper.sh check
    assert (check["bn_images"] == 1024).all() and (check["val_images"] == 2048).all()
    for r in check.itertuples():
        assert f"{r.kendall_tau:+.3f}" in text, r.proxy
    for r in check[check.proxy != "val_acc"].itertuples():
        assert f"{r.kendall_tau:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" in text, r.proxy
    base = curve[(curve.epoch == int(check["epoch"].iloc[0])) & (curve.seed == 0)]
    base = base.set_index("proxy")["kendall_tau"]   # the check rescored seed 0's checkpoint
    moved = (check.set_index("proxy")["kendall_tau"] - base).abs().max()
    assert f"at most +{moved:.3f}" in text
    metrics = pd.read_csv(rep / "paper" / "seed-0" / "metrics.csv")
    s = metrics["seconds"]
    assert (f"seed 0's first {len(metrics)} epochs took {s.min():.0f}-{s.max():.0f} s each "
            f"(mean {s.mean():.0f} s)") in text
    s = pd.read_csv(rep / "paper" / "seed-1" / "metrics.csv")["seconds"]
    s = s[s < 3 * s.median()]   # leaving out the epochs paused while a checkpoint was scored
    assert (f"took {s.min():.0f}-{s.max():.0f} s an epoch (median {s.median():.0f} s;") in text
    s = pd.read_csv(rep / "paper" / "seed-3" / "metrics.csv")["seconds"]   # the AVX2 machine
    assert (f"took {s.min():.0f}-{s.max():.0f} s an epoch (median {s.median():.0f} s; "
            f"`paper/seed-3/metrics.csv`)") in text
    seeds = sorted((rep / "levers" / "lv-uniform").glob("fewshot.seed-*.csv"))
    res, _, _ = correlate_files(seeds, columns=["val_loss", "flatness", "angle"], n_boot=0,
                                cells="200", seed=0, out=Path(tempfile.mkdtemp()) / "c.csv")
    tau = res[(res.metric == "kendall_tau") & (res.replicate == "all")].set_index("proxy")
    for proxy in ("val_loss", "flatness", "angle"):
        assert f"{tau.loc[proxy, 'value']:+.3f} ± {tau.loc[proxy, 'sd']:.3f}" in text, proxy


def test_readme_paper_preset_numbers_are_its_curve():
    readme = " ".join((ROOT / "README.md").read_text().split())
    table = pd.read_csv(ROOT / "reports" / "cifar10-cpu" / "paper" / "epochs.csv")
    curve = table[table.seed == 0]   # the README quotes seed 0's curve
    for r in curve[curve.proxy != "val_acc"].itertuples():
        assert f"{r.kendall_tau:+.3f}" in readme, (r.epoch, r.proxy)
    for acc in curve.drop_duplicates("epoch")["mean_path_val_acc"]:
        assert f"{acc:.1f} %" in readme
    quoted = {50: ("flatness",), 100: ("flatness", "val_loss", "angle")}   # the seed bands
    for epoch, proxies in quoted.items():
        for proxy in proxies:
            tau = table[(table.epoch == epoch) & (table.proxy == proxy)]["kendall_tau"]
            assert len(tau) > 1 and f"{tau.mean():+.3f} ± {tau.std(ddof=1):.3f}" in readme


def test_cifar100_supernet_numbers_are_the_leaderboards():
    """The CIFAR-100 supernet rows the README and the report README quote in prose."""
    board = pd.read_csv(ROOT / "reports" / "cifar100-cpu" / "leaderboard.csv").set_index("proxy")
    readme = " ".join((ROOT / "README.md").read_text().split())
    report = " ".join((ROOT / "reports" / "cifar100-cpu" / "README.md").read_text().split())
    n = int(board.loc["val_loss", "replicates"])
    for name in ("val_loss", "flatness", "val_acc", "angle"):
        row = board.loc[name]
        assert int(row["replicates"]) == n
        assert f"{name} {row['tau']:+.3f} ± {row['tau_sd']:.3f}" in report, name
        if name != "val_acc":
            assert f"{row['tau']:+.3f} ± {row['tau_sd']:.3f}" in readme, name
    assert f"seeds 0-{n - 1}" in readme and f"seeds 0-{n - 1}" in report


def test_cifar100_table5_numbers_are_its_table():
    """Table 5 on CIFAR-100 as the report README quotes it, from ablate/sigma.csv."""
    rep = ROOT / "reports" / "cifar100-cpu"
    text = " ".join((rep / "README.md").read_text().split())
    table = pd.read_csv(rep / "ablate" / "sigma.csv")
    assert len(table) == 4 and (table["n"] == 1000).all()
    for r in table.itertuples():
        assert f"{r.kendall_tau:+.3f}" in text, r.sigmas
    for r in table.iloc[[0, -1]].itertuples():
        assert f"{r.kendall_tau:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" in text
    for col in ("paper_tau_cifar10", "paper_tau_imagenet16_120"):   # the published anchors
        assert f"{table.loc[2, col]:.4f}" in text


def test_readme_cifar100_leaders_are_the_leaderboards():
    """The CIFAR-100 leaders the README names in prose, and their CIFAR-10 values."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    c100 = pd.read_csv(ROOT / "reports" / "cifar100-cpu" / "leaderboard.csv").set_index("proxy")
    c10 = pd.read_csv(ROOT / "reports" / "cifar10-cpu" / "leaderboard.csv").set_index("proxy")
    assert (f"VKDNW's aggregate ({c100.loc['vkdnw_agg', 'tau']:+.3f}; CIFAR-10 "
            f"{c10.loc['vkdnw_agg', 'tau']:+.3f}), AZ-NAS's aggregate "
            f"({c100.loc['az_nas', 'tau']:+.3f}) and MeCo ({c100.loc['meco', 'tau']:+.3f}) "
            f"lead") in readme
    assert (f"VKDNW_single ranks at {c100.loc['vkdnw_single', 'tau']:+.3f} (CIFAR-10 "
            f"{c10.loc['vkdnw_single', 'tau']:+.3f})") in readme
    top = c100["tau"].sort_values(ascending=False).index[:3].tolist()
    assert top == ["vkdnw_agg", "az_nas", "meco"]


def test_cifar100_vkdnw_numbers_are_the_leaderboards():
    rep = ROOT / "reports" / "cifar100-cpu"
    text = " ".join((rep / "README.md").read_text().split())
    board = pd.read_csv(rep / "leaderboard.csv").set_index("proxy")
    r = board.loc["vkdnw_agg"]
    assert f"τ {r['tau']:+.3f} [{r['tau_ci_low']:+.3f}, {r['tau_ci_high']:+.3f}]" in text
    for name in ("vkdnw_single", "vkdnw"):
        assert f"{board.loc[name, 'tau']:+.3f}" in text, name
    secs = pd.read_csv(rep / "vkdnw.csv")["vkdnw_seconds"]
    assert f"{secs.mean():.1f} s a cell, {secs.sum() / 60:.0f} minutes of one core" in text


def test_cifar100_reproductions_are_the_leaderboards_and_the_literature():
    """The CIFAR-100 report README's comparison with AZ-NAS's and VKDNW's Table 1: our
    values from the leaderboard, theirs from literature.py, and which lie inside our CI."""
    from proxybench.analysis.literature import published
    rep = ROOT / "reports" / "cifar100-cpu"
    text = " ".join((rep / "README.md").read_text().split())
    board = pd.read_csv(rep / "leaderboard.csv").set_index("proxy")
    for name in ("az_nas", "zico", "nwot", "vkdnw_agg"):
        r = board.loc[name]
        assert f"+{r['tau']:.3f} [{r['tau_ci_low']:+.3f}, {r['tau_ci_high']:+.3f}]" in text, name
        for p in published(name, "kendall_tau", "cifar100"):
            assert f"{p.value:.3f}" in text, (name, p.value)
            if name in ("az_nas", "zico"):   # the README says both sources lie inside
                assert r["tau_ci_low"] <= p.value <= r["tau_ci_high"], (name, p.value)
    nwot = board.loc["nwot"]
    assert not nwot["tau_ci_low"] <= 0.579 <= nwot["tau_ci_high"]     # AZ-NAS's NASWOT
    agg = board.loc["vkdnw_agg"]
    assert agg["tau_ci_high"] < 0.753 and agg["rho_ci_high"] < 0.919
    assert f"ρ +{agg['rho']:.3f} [{agg['rho_ci_low']:+.3f}, {agg['rho_ci_high']:+.3f}]" in text
    single = board.loc["vkdnw_single"]
    assert single["tau_ci_low"] <= 0.634 <= single["tau_ci_high"]
    assert single["rho_ci_low"] <= 0.829 <= single["rho_ci_high"]


def test_readme_levers200_numbers_are_its_table():
    """The paper's network at 40 epochs (reports/cifar10-cpu/ablate/levers200.csv, written
    by levers200.sh): the README and the report's README quote each lever's val_loss and
    flatness tau (mean ± sd over seeds) and the new lever's paired differences."""
    rep = ROOT / "reports" / "cifar10-cpu"
    table = pd.read_csv(rep / "ablate" / "levers200.csv")
    assert (table["cells"] == 200).all() and list(table["lever"].unique()) == [
        "lv-uniform", "lv-uniform:fewshot", "lv-paper40"]
    for doc in (ROOT / "README.md", rep / "README.md"):
        text = " ".join(doc.read_text().split())
        for r in table[table["proxy"].isin(["val_loss", "flatness"])].itertuples():
            assert f"{r.tau_mean:+.3f} ± {r.tau_sd:.3f}" in text, (doc, r.lever, r.proxy)
            if r.lever == "lv-paper40":
                assert f"{r.tau_diff_mean:+.3f} [{r.tau_diff_ci_low:+.3f}, " \
                       f"{r.tau_diff_ci_high:+.3f}]" in text, (doc, r.proxy)
        new = table[(table["lever"] == "lv-paper40") & (table["proxy"] == "val_loss")].iloc[0]
        assert f"{new.train_minutes:.0f} training minutes" in text, doc
