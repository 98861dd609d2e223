"""Torch threads per command: one thread, every core, and the CLI's default, one run.

    python benchmarks/bench_threads.py --data-dir DIR [--repeats 2] [--only train,genotype,demo]

Times three commands a new user runs first, each a fresh ``proxybench`` process timed from
start to exit:

- ``train``: ``train --preset cpu --epochs 1 --train-images 5000`` (CIFAR-10 from DIR);
- ``genotype``: ``genotype DARTS_V2`` (builds and counts two DARTS networks);
- ``demo``: ``demo`` (a tiny supernet on synthetic images, 200 cells scored, correlated);

three ways: ``--threads 1``, ``--threads N`` (N = the usable cores) and no option (the
CLI's default, ``default_threads``: the cores idle at its start). OMP_NUM_THREADS is removed
from the commands' environment so the default is the CLI's own. Each way runs ``--repeats``
times, the order rotating each round; the fastest round is reported, with the 1-minute load
average and the idle cores at its start and the thread count the default would choose then.
Run it once on an idle machine and once beside other work (e.g. two one-thread jobs on two
cores) to see the default follow the load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from proxybench.run.distributed import default_threads, idle_cores, usable_cores  # noqa: E402


def commands(data_dir: str, tmp: Path) -> dict[str, list[str]]:
    """Each call's output folders are new (the demo reuses a finished run)."""
    tmp = Path(tempfile.mkdtemp(dir=tmp))
    return {
        "train": ["train", "--dataset", "cifar10", "--data-dir", data_dir, "--preset", "cpu",
                  "--epochs", "1", "--train-images", "5000", "--force", "-q",
                  "--out", str(tmp / "train")],
        "genotype": ["genotype", "DARTS_V2"],
        "demo": ["demo", "--out", str(tmp / "demo")],
    }


def timed(args: list[str], threads: int | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    cmd = [sys.executable, "-m", "proxybench", *args]
    if threads:
        cmd += ["--threads", str(threads)]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--only", default="train,genotype,demo")
    a = ap.parse_args()
    cores = usable_cores()
    ways: list[tuple[str, int | None]] = [("1 thread", 1), (f"{cores} threads", cores),
                                          ("default", None)]
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.only.split(","):
            best: dict[str, tuple[float, float, int]] = {}
            for r in range(a.repeats):
                for way, threads in ways[r % 3:] + ways[:r % 3]:
                    load = os.getloadavg()[0]
                    idle = idle_cores(0.5)
                    chose = threads or default_threads(idle=idle)
                    wall = timed(commands(a.data_dir, Path(tmp))[name], threads)
                    print(f"{name:9s} {way:10s} round {r}: {wall:6.1f} s (load {load:.2f}, "
                          f"{idle:.1f} cores idle, {chose} thread(s))", flush=True)
                    if way not in best or wall < best[way][0]:
                        best[way] = (wall, load, chose)
            base = best["1 thread"][0]
            cells = " | ".join(f"{w:.1f} s (load {ld:.1f}, {t} thr, {base / w:.2f}x)"
                               for w, ld, t in (best[way] for way, _ in ways))
            print(f"| {name} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
