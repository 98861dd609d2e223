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
GENAS = "Lee et al. (GeNAS), Table 5"
GENAS_PROTOCOL = ("all cells, Kendall tau, NB201 test accuracy, C=16, N=5 supernet "
                  "trained 250 epochs on a GPU")

# proxy -> published values on NB201 CIFAR-10
CIFAR10: dict[str, tuple[Published, ...]] = {
    "grad_norm": (Published(0.594, "spearman_rho", ABDELFATTAH, ABDELFATTAH_PROTOCOL),
                  Published(0.58, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL)),
    "snip": (Published(0.596, "spearman_rho", ABDELFATTAH, ABDELFATTAH_PROTOCOL),
             Published(0.58, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL)),
    "grasp": (Published(0.514, "spearman_rho", ABDELFATTAH, ABDELFATTAH_PROTOCOL),
              Published(0.51, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL)),
    "fisher": (Published(0.36, "spearman_rho", ABDELFATTAH, ABDELFATTAH_PROTOCOL),
               Published(0.50, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL)),
    "synflow": (Published(0.737, "spearman_rho", ABDELFATTAH, ABDELFATTAH_PROTOCOL),
                Published(0.73, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL)),
    "jacov": (Published(0.731, "spearman_rho", ABDELFATTAH, ABDELFATTAH_PROTOCOL),
              Published(0.75, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL)),
    "nwot": (Published(0.77, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL),
             Published(0.574, "kendall_tau", NASWOT, NASWOT_PROTOCOL)),
    "epe_nas": (Published(0.70, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL),),
    "l2_norm": (Published(0.68, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL),),
    "plain": (Published(-0.26, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL),),
    "zen": (Published(0.35, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL),),
    # the reference code's BN term (running_var), which NAS-Bench-Suite-Zero ran
    "zen[bn_var=running]": (Published(0.35, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL),),
    "params": (Published(0.72, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL),),
    "flops": (Published(0.69, "spearman_rho", SUITE_ZERO, SUITE_ZERO_PROTOCOL),),
    "flatness": (Published(0.6047, "kendall_tau", GENAS, GENAS_PROTOCOL),),
}


def published(proxy: str, statistic: str, dataset: str = "cifar10") -> list[Published]:
    """The published values of ``proxy`` for ``statistic`` (only CIFAR-10 is recorded)."""
    if dataset != "cifar10":
        return []
    return [p for p in CIFAR10.get(proxy, ()) if p.statistic == statistic]
