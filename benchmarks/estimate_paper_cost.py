"""What scoring flatness on all 15,625 NB201 cells at the `paper` preset costs: its FLOPs
(counted from each distinct pruned cell's multiply-adds, the same count as
bench_roofline.py) and the hours they take at a given rate, e.g. the GFLOP/s that
bench_roofline.py measured on this machine.

    python benchmarks/estimate_paper_cost.py --gflops 99.1 --gflops 297.0
"""

from __future__ import annotations

import argparse

from proxybench.nets.nb201 import cell_cost
from proxybench.proxies import get_proxy
from proxybench.run.presets import get_preset
from proxybench.spaces import nb201


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gflops", type=float, action="append", default=[],
                    help="A rate (GFLOP/s) to convert the FLOPs to hours; repeat.")
    args = ap.parse_args()
    p = get_preset("paper")
    sigmas = get_proxy("flatness").defaults["sigmas"]
    forms = {nb201.prune(c) for c in nb201.all_cells()}       # evaluated once each
    macs = sum(cell_cost(f, p.channels, p.layers, 10, 32)[1] for f in forms) * 1e6
    images = p.bn_images + len(sigmas) * p.val_images          # BN recalibration + sigmas
    flop = 2 * macs * images
    print(f"{len(forms)} distinct cells, mean {macs / len(forms) / 1e6:.1f} M multiply-adds "
          f"per image, {images} images per cell ({p.bn_images} BN + {len(sigmas)} sigmas x "
          f"{p.val_images}): {flop / 1e15:.1f} PFLOP")
    for rate in args.gflops:
        print(f"at {rate:g} GFLOP/s: {flop / (rate * 1e9) / 3600:.0f} hours")


if __name__ == "__main__":
    main()
