"""Files a run leaves behind: atomic writes, checkpoints, and run metadata.

Checkpoints are plain dicts of tensors and primitives, saved atomically (temp file +
rename) and loaded with ``weights_only=True``; each names its space and network config so a
mismatched or corrupt file is reported instead of half-loaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ProxybenchError

CHECKPOINT_FORMAT = "proxybench-supernet/1"


class CheckpointError(ProxybenchError):
    """Missing, corrupt or mismatched checkpoint; the message names the file and the fix."""


class LockedError(ProxybenchError):
    """Another process is writing the same file."""


def lock_path(target: str | Path) -> Path:
    target = Path(target)
    return target.with_name(target.name + ".lock")


@contextlib.contextmanager
def exclusive(target: str | Path) -> Iterator[None]:
    """Hold ``<target>.lock`` while writing ``target``, so that a second writer is refused
    instead of appending the same rows twice. It is a ``flock``: the kernel drops it when
    the holder dies, so a killed run never leaves a stuck lock; the file itself holds the
    holder's pid for the message and is removed on release."""
    path = lock_path(target)
    if path.is_dir():
        raise LockedError(f"{path}, where the lock of {target} goes, is a folder; remove it "
                          f"(or choose another --out)")
    while True:
        fh = open(path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip()
            fh.close()
            who = f"process {holder}" if holder else "another process"
            raise LockedError(f"{target} is being written by {who}; wait for it to finish, "
                              f"or choose another --out") from None
        # the previous holder may have removed the file between our open and flock: then
        # we hold a lock on a file nobody else will see, so take the new one instead
        try:
            same = os.path.samestat(os.fstat(fh.fileno()), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        fh.close()
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # still under the lock: no one can have taken it
        fh.close()


def lock_holder(target: str | Path) -> str | None:
    """Who holds ``<target>.lock`` now ('process N'), None when nobody does; takes nothing
    (a lock left by a killed process is no one's)."""
    path = lock_path(target)
    if not path.is_file():
        return None
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip()
            return f"process {holder}" if holder else "another process"
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def _umask_mode() -> int:
    """The mode a plain ``open()`` would give a new file (0666 less the umask): mkstemp makes
    its files 0600, which would leave tables, checkpoints and reports unreadable to others."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temp file in ``path``'s folder (so the rename is atomic), with the umask's mode."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, _umask_mode())
    return fd, tmp


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
                       .encode())


def save_checkpoint(path: str | Path, obj: dict) -> None:
    """torch.save to a temp file, then rename."""
    import torch
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _temp_beside(path)
    os.close(fd)
    try:
        torch.save({"format": CHECKPOINT_FORMAT, **obj}, tmp)
        os.replace(tmp, path)
    except RuntimeError as exc:
        # torch reports a full disk or a failed write as a RuntimeError of its writer
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(f"cannot write the checkpoint {path}: {exc} (a full disk or "
                              f"an unwritable folder); free space, then rerun with "
                              f"--resume") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, space: str = "nb201") -> dict:
    import torch
    """Load a proxybench checkpoint safely and check it belongs to ``space``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; train one with "
                              f"`proxybench train --out RUN` or pass the right --run")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"checkpoint {path} is corrupt or not a torch file "
                              f"({type(exc).__name__}); retrain or restore it") from exc
    if not isinstance(obj, dict) or obj.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a proxybench supernet checkpoint")
    if obj.get("space") != space:
        raise CheckpointError(f"checkpoint {path} is for space {obj.get('space')!r}, "
                              f"not {space!r}; pass --space {obj.get('space')} or another run")
    return obj


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def average_state_dicts(states: list[dict]) -> dict:
    """The element-wise mean of several state dicts of one network (checkpoint averaging):
    floating tensors are averaged in float64 and cast back; integer buffers (BN's batch
    counters) are the last state's. The inputs are not changed."""
    if not states:
        raise ValueError("average_state_dicts needs at least one state dict")
    last = states[-1]
    out = {}
    for name, tensor in last.items():
        if tensor.is_floating_point():
            total = sum(s[name].double() for s in states)
            out[name] = (total / len(states)).to(tensor.dtype)
        else:
            out[name] = tensor.clone()
    return out


def weights_sha256(state_dict: dict) -> str:
    """A hash of a network's weights by value (names, dtypes, shapes, numbers), not of its
    file: the same weights saved twice can differ in bytes (memory layout), and a score
    table must match the weights it was computed from, not a file."""
    import torch
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def git_commit() -> str | None:
    """The commit of the proxybench source tree, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def code_version() -> dict:
    """The code that computed a result: recorded with it, so results can be traced."""
    from .. import __version__
    return {"proxybench": __version__, "git_commit": git_commit()}


def environment() -> dict:
    """Versions and machine facts recorded in every run.json. ``cpu_capability`` (torch's
    vector instruction set: AVX2, AVX512, ...) is part of what a run reproduces on: the same
    seed trains bit-identical supernets on one instruction set, and different ones (as far
    apart as two seeds) on another."""
    import numpy
    import torch

    from .. import __version__
    return {"proxybench": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu_threads": torch.get_num_threads(), "git_commit": git_commit()}
