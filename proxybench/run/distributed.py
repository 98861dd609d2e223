"""torch.distributed under torchrun: one process group per command, and which rank we are.
Nothing home-made beyond this: DDP trains, and each rank scores its shard of cells."""

from __future__ import annotations

import contextlib
import math
import os
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
    """torch's intra-op threads (None: torch's default, every core)."""
    if threads:
        import torch
        torch.set_num_threads(threads)


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
