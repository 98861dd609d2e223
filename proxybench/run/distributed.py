"""torch.distributed under torchrun: one process group per command, and which rank we are.
Nothing home-made beyond this: DDP trains, and each rank scores its shard of cells."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path


def rank_world() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) when run plainly."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


@contextlib.contextmanager
def process_group(device: str = "cpu") -> Iterator[None]:
    """Initialise torch.distributed when launched by torchrun (WORLD_SIZE > 1): gloo on CPU,
    nccl with one GPU per rank; a plain run does nothing."""
    if rank_world()[1] <= 1:
        yield
        return
    import torch
    import torch.distributed as dist
    gpu = device != "cpu" and torch.cuda.is_available()
    if gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if gpu else "gloo")
    try:
        yield
    finally:
        dist.barrier()
        dist.destroy_process_group()


def set_threads(threads: int | None) -> None:
    """torch's intra-op threads; None leaves them as they are (the CLI's default,
    :func:`default_threads`, is set at its start through OMP_NUM_THREADS)."""
    if threads:
        import torch
        torch.set_num_threads(threads)


def default_threads(cores: int | None = None, idle: float | None = None) -> int:
    """Torch threads for a command given no --threads: the usable cores that are idle now,
    at least one. ``idle`` is the number of idle cores (default :func:`idle_cores`, measured
    over a tenth of a second). Why: OpenMP threads wait for each other at every operation,
    so a command with more threads than free cores runs several times slower than with one
    (``benchmarks/bench_threads.py``), while one thread on an idle machine costs well under
    2x. A load average would lag: it still counts the command that just finished."""
    cores = usable_cores() if cores is None else cores
    idle = idle_cores() if idle is None else idle
    return max(1, min(cores, int(idle + 0.5)))


def idle_cores(seconds: float = 0.1, stat: Path = Path("/proc/stat")) -> float:
    """Idle CPU cores of the machine over ``seconds`` (its /proc/stat, all its cores; a
    container sees its host's); without /proc/stat, the cores less the 1-minute load
    average."""
    def sample() -> tuple[int, int, int]:
        """(idle + iowait jiffies, all but guest, cores) from one read of /proc/stat."""
        lines = stat.read_text().splitlines()
        fields = [int(x) for x in lines[0].split()[1:]]
        cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
        return sum(fields[3:5]), sum(fields[:8]), cores
    try:
        idle0, total0, ncpu = sample()
        time.sleep(seconds)
        idle1, total1, _ = sample()
        return ncpu * (idle1 - idle0) / max(1, total1 - total0)
    except (OSError, ValueError, IndexError):
        with contextlib.suppress(OSError, AttributeError):
            return (os.cpu_count() or 1) - os.getloadavg()[0]
        return float(os.cpu_count() or 1)


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPU cores this process may use: its CPU affinity, capped by the container's CPU quota,
    which affinity does not show (a 2-CPU container on a 64-core host must not fork 64
    scoring workers)."""
    cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
             else os.cpu_count() or 1)
    quota = cgroup_cpu_quota(cgroup)
    return max(1, min(cores, quota) if quota else cores)


def cgroup_cpu_quota(cgroup: Path) -> int | None:
    """CPUs a cgroup's quota allows, rounded up (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``);
    None without a quota."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else math.ceil(int(quota) / int(period))
    with contextlib.suppress(OSError, ValueError):
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
        return math.ceil(quota / period) if quota > 0 and period > 0 else None
    return None
