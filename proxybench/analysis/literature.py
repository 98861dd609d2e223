"""Published NB201 numbers that our measurements are compared with, and how each was measured.

A published value is only comparable under the same protocol, so each entry carries the
statistic (Spearman rho or Kendall tau), the ground truth, the cell set, the batch and the
network, as stated by its source. Values are on NB201 CIFAR-10 unless the key says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Published:
    value: float
    statistic: str          # "spearman_rho" or "kendall_tau"
    source: str
    protocol: str


ABDELFATTAH = ("Abdelfattah et al. 2021 (ICLR), Table 1 as in the authors' "
               "zero-cost-nas notebook")
ABDELFATTAH_PROTOCOL = ("all 15,625 cells, |Spearman rho|, NB201 200-epoch accuracy "
                        "(cifar10-valid entry), batch 64, NB201 network C=16, N=5")
SUITE_ZERO = "Krishnakumar et al. 2022 (NAS-Bench-Suite-Zero), Fig. 2"
SUITE_ZERO_PROTOCOL = ("1,000 random cells, Spearman rho against validation accuracy, "
                       "batch 64, NASLib's NB201 network")
NASWOT = "Mellor et al. 2021 (ICML), Fig. 3"
NASWOT_PROTOCOL = ("about 1,000 random cells (accuracy <= 15% dropped), Kendall tau "
                   "against validation accuracy, batch 128")
ZICO = "Li et al. 2023 (ZiCo, ICLR), Table 1"
ZICO_PROTOCOL = ("NATS-Bench-TSS (= NB201) test accuracy, Kendall tau and Spearman rho; "
                 "cell set and the other proxies' batch not stated")
GENAS = "Lee et al. (GeNAS), Table 5"
GENAS_PROTOCOL = ("all cells, Kendall tau, NB201 test accuracy, C=16, N=5 supernet "
                  "trained 250 epochs on a GPU")

# proxy -> published values on NB201 CIFAR-10
def _abd(rho: float) -> Published:
    return Published(rho, "spearman_rho", ABDELFATTAH, ABDELFATTAH_PROTOCOL)


def _suite(rho: float) -> Published:
    return Published(rho, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL)


def _zico(tau: float, rho: float) -> tuple[Published, Published]:
    return (Published(rho, "spearman_rho", ZICO, ZICO_PROTOCOL),
            Published(tau, "kendall_tau", ZICO, ZICO_PROTOCOL))


CIFAR10: dict[str, tuple[Published, ...]] = {
    "grad_norm": (_abd(0.594), _suite(0.58), *_zico(0.46, 0.63)),
    "snip": (_abd(0.596), _suite(0.58), *_zico(0.46, 0.63)),
    "grasp": (_abd(0.514), _suite(0.51), *_zico(0.37, 0.54)),
    "fisher": (_abd(0.36), _suite(0.50), *_zico(0.40, 0.55)),
    "synflow": (_abd(0.737), _suite(0.73), *_zico(0.54, 0.73)),
    "jacov": (_abd(0.731), _suite(0.75)),
    "nwot": (_suite(0.77), Published(0.574, "kendall_tau", NASWOT, NASWOT_PROTOCOL)),
    "epe_nas": (_suite(0.70),),
    "l2_norm": (_suite(0.68),),
    "plain": (_suite(-0.26),),
    "zen": (_suite(0.35), *_zico(0.29, 0.38)),
    # the reference code's BN term (running_var), as the published numbers were computed
    "zen[bn_var=running]": (_suite(0.35), *_zico(0.29, 0.38)),
    "params": (_suite(0.72), *_zico(0.57, 0.75)),
    "flops": (_suite(0.69), *_zico(0.54, 0.73)),
    "flatness": (Published(0.6047, "kendall_tau", GENAS, GENAS_PROTOCOL),),
}


def published(proxy: str, statistic: str, dataset: str = "cifar10") -> list[Published]:
    """The published values of ``proxy`` for ``statistic`` (only CIFAR-10 is recorded)."""
    if dataset != "cifar10":
        return []
    return [p for p in CIFAR10.get(proxy, ()) if p.statistic == statistic]
