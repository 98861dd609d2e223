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
