"""torch.distributed under torchrun: one process group per command, and which rank we are.
Nothing home-made beyond this: DDP trains, and each rank scores its shard of cells."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


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
