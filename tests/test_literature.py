"""The published values: each with its statistic, source and protocol, per dataset."""

from __future__ import annotations

from proxybench.analysis.literature import BY_DATASET, published


def test_published_values_per_dataset():
    c10 = [p.value for p in published("synflow", "spearman_rho", "cifar10")]
    c100 = [p.value for p in published("synflow", "spearman_rho", "cifar100")]
    assert c10[:2] == [0.737, 0.73] and c100 == [0.763, 0.76]
    assert published("synflow", "kendall_tau", "cifar100") == []
    assert published("synflow", "spearman_rho", "imagenet16-120") == []
    # fisher's published CIFAR-100 values disagree between sources (0.385 vs 0.54), as on
    # CIFAR-10: the protocol says why they may
    fisher = published("fisher", "spearman_rho", "cifar100")
    assert {p.value for p in fisher} == {0.385, 0.54}
    assert "|Spearman rho|" in fisher[0].protocol and "batch 32" in fisher[1].protocol


def test_every_entry_names_its_statistic_source_and_protocol():
    for dataset, table in BY_DATASET.items():
        for proxy, values in table.items():
            for p in values:
                assert p.statistic in ("spearman_rho", "kendall_tau"), (dataset, proxy)
                assert p.source and p.protocol and -1 <= p.value <= 1, (dataset, proxy)


def test_absolute_values_are_compared_with_our_absolute_value():
    import pandas as pd

    from proxybench.report.build import _absolute, _reproduction
    assert _absolute(-0.4, -0.5, -0.3) == (0.4, 0.3, 0.5)
    assert _absolute(0.1, -0.05, 0.2) == (0.1, 0.0, 0.2)
    board = pd.DataFrame([{"proxy": "synflow", "rho": -0.75, "rho_ci_low": -0.78,
                           "rho_ci_high": -0.72, "tau": -0.55, "tau_ci_low": -0.58,
                           "tau_ci_high": -0.52}])
    rows = {(r["source"][:12], r["statistic"]): r for r in _reproduction(board, "cifar100")}
    abd = rows[("Abdelfattah ", "|rho|")]      # |rho| 0.763 published: inside |ours|' CI
    assert abd["ours [95% CI]"].startswith("+0.7500") and abd["inside our CI"] == "yes"
    suite = rows[("Krishnakumar", "rho")]       # signed 0.76: not inside ours, -0.75
    assert suite["inside our CI"] == "no" and suite["difference"] == "-1.510"


def test_cifar100_training_free_values_name_both_reproductions():
    """AZ-NAS's and VKDNW's tables each reproduce the training-free proxies on CIFAR-100;
    they disagree on AZ-NAS itself, so both stay, each with its own source."""
    az = published("az_nas", "kendall_tau", "cifar100")
    assert [p.value for p in az] == [0.723, 0.696]
    assert "AZ-NAS" in az[0].source and "VKDNW" in az[1].source
    assert all("15,625" in p.protocol and "x-test" in p.protocol for p in az)
    assert [p.value for p in published("vkdnw_agg", "spearman_rho", "cifar100")] == [0.919]
    assert {p.value for p in published("nwot", "spearman_rho", "cifar100")} == {0.80, 0.769,
                                                                                 0.799}
    assert published("meco", "kendall_tau", "cifar100") == []   # looked for, not found
