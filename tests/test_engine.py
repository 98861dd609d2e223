"""Crash safety and scale-out of the scoring engine, with real processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SCORE = ["-m", "proxybench", "score", "--proxy", "val_loss;flatness;params", "--cells", "40"]


def _score(run, out, *extra):
    subprocess.run([sys.executable, *SCORE, "--run", str(run), "--out", str(out), *extra],
                   check=True, env=ENV, capture_output=True, timeout=300)
    return pd.read_csv(out)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = [c for c in a.columns if not c.endswith("_seconds")]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True),
                                  b[cols].reset_index(drop=True))


def _children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc)."""
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.add(int(stat.parent.name))
    return kids


@pytest.mark.parametrize("workers", ["1", pytest.param("2", marks=pytest.mark.slow)])
def test_sigkill_then_resume_gives_the_uninterrupted_table(tiny_run, tmp_path, workers):
    whole = _score(tiny_run, tmp_path / "whole.csv", "--workers", "1", "--threads", "1")
    out = tmp_path / "killed.csv"
    err = open(tmp_path / "stderr.txt", "wb")  # noqa: SIM115 - the child writes it
    proc = subprocess.Popen([sys.executable, *SCORE, "--run", str(tiny_run), "--out", str(out),
                             "--workers", workers],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.time() + 120
    kids: set[int] = set()
    while time.time() < deadline:  # wait for a few rows, then kill without warning
        kids |= _children(proc.pid) if sys.platform.startswith("linux") else set()
        if out.exists() and out.read_text().count("\n") > 8:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = out.read_text().count("\n") - 1
    assert 0 < partial < 40, "the kill should land mid-run"
    if workers == "2" and sys.platform.startswith("linux"):
        assert kids, "two workers should have been forked"
        time.sleep(1)           # the workers die with their parent, none is left scoring
        assert not [k for k in kids if Path(f"/proc/{k}").exists()
                    and "Z" not in Path(f"/proc/{k}/stat").read_text().rsplit(")", 1)[1][:3]]
        # killed at once with the parent, not by a broken pipe when their group is done
        assert "Traceback" not in (tmp_path / "stderr.txt").read_text()
    err.close()
    resumed = _score(tiny_run, out, "--resume", "--workers", workers)
    assert len(resumed) == 40
    _same(resumed, whole)


def test_worker_processes_give_the_one_thread_table(tiny_run, tmp_path):
    """The default (one one-thread process per core) must be the one-thread table bit for bit,
    also when a resumed table holds part of a pruned form's group."""
    import proxybench as pb
    from proxybench.spaces import nb201

    ids = nb201.sample_cells(40, seed=0)
    one = _score(tiny_run, tmp_path / "one.csv", "--workers", "1", "--threads", "1")
    part = tmp_path / "part.csv"
    pb.score(tiny_run, ["val_loss", "flatness", "params"], cells=ids[::3], out=part, workers=1)
    got = pb.score(tiny_run, ["val_loss", "flatness", "params"], cells=ids, out=part,
                   workers=2)
    _same(got, one)
    assert json.loads(part.with_suffix(".json").read_text())["workers"] == 2


def test_torchrun_two_ranks_equal_one_process(tiny_run, tmp_path):
    single = _score(tiny_run, tmp_path / "single.csv")
    out = tmp_path / "dist.csv"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
                    "--master-port", "29517", *SCORE, "--run-dir", str(tiny_run), "--out",
                    str(out)], check=True, env=ENV, capture_output=True, timeout=300)
    merged = pd.read_csv(out)
    _same(merged, single)
    parts = [pd.read_csv(f"{out}.rank{r}-of-2.csv") for r in range(2)]
    assert all(len(p) > 0 for p in parts)
    assert not set(parts[0].arch_index) & set(parts[1].arch_index)


def test_torchrun_ddp_training_on_cpu(tmp_path):
    out = tmp_path / "ddp"
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
                          "--master-port", "29518", "-m", "proxybench", "train", "--preset",
                          "tiny", "--epochs", "2", "--train-images", "512", "--device", "cpu",
                          "--out", str(out)], env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "done" and meta["world_size"] == 2
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2] and metrics["train_loss"].notna().all()
    assert (out / "final.pt").is_file() and (out / "epoch-0.pt").is_file()


def test_a_worker_killed_mid_run_ends_it_with_one_clear_error_and_rows_kept(tmp_path):
    """A dead worker (e.g. killed for memory) must not leave the run waiting forever for its
    group: the run stops with a ScoreError, what was written stays, and --resume finishes."""
    from proxybench.engine.score import ScoreError, score_cells
    from proxybench.proxies import PROXIES, ScoreContext, parse_specs, register
    from proxybench.run.presets import get_preset
    from proxybench.spaces import nb201

    parent = os.getpid()
    victim = nb201.cell_at(7)

    @register("probe_killer", higher_is_better=True, needs=(), by_pruned=False,
              description="test only")
    def killer(ctx, cell):
        if os.getpid() != parent and cell == victim:
            os.kill(os.getpid(), signal.SIGKILL)
        return float(nb201.arch_index(cell))

    try:
        ctx = ScoreContext(seed=0, preset=get_preset("tiny"), num_classes=10)
        out = tmp_path / "k.csv"
        with pytest.raises(ScoreError, match="worker process died.*--resume"):
            score_cells(parse_specs("probe_killer"), ctx, list(range(12)), out,
                        progress=False, workers=2)
        assert 0 < len(pd.read_csv(out)) < 12
        table = score_cells(parse_specs("probe_killer"), ctx, list(range(12)), out,
                            resume=True, progress=False, workers=1)
        assert list(table["probe_killer"]) == [float(i) for i in range(12)]
        with pytest.raises(ScoreError, match="workers must be at least 1"):
            score_cells(parse_specs("probe_killer"), ctx, [0], tmp_path / "w.csv", workers=0)
    finally:
        PROXIES.pop("probe_killer", None)


def test_usable_cores_respects_a_containers_cpu_quota(tmp_path):
    from proxybench.run.distributed import cgroup_cpu_quota, usable_cores

    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(v2) == 2
    assert usable_cores(v2) == min(2, usable_cores(tmp_path / "none"))
    (v2 / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(v2) is None
    v1 = tmp_path / "v1" / "cpu"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("300000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(v1.parent) == 3
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(v1.parent) is None
    assert cgroup_cpu_quota(tmp_path / "none") is None
    assert usable_cores(tmp_path / "none") >= 1


def test_default_threads_are_the_idle_cores(tmp_path):
    """Without --threads a command takes the cores idle now (never fewer than one, never
    more than it may use), measured from /proc/stat's counters."""
    from proxybench.run.distributed import default_threads, idle_cores

    assert default_threads(2, 1.9) == 2            # idle 2-core machine: both cores
    assert default_threads(2, 1.1) == 1            # one busy job beside it
    assert default_threads(2, 0.0) == 1            # overloaded: one, not zero
    assert default_threads(8, 5.2) == 5
    assert default_threads(2, 40.0) == 2           # 2-CPU quota on a mostly idle host
    stat = tmp_path / "stat"
    lines = ["cpu  {} 0 {} {} 0 0 0 0 0 0", "cpu0 0 0 0 0 0 0 0 0 0 0",
             "cpu1 0 0 0 0 0 0 0 0 0 0", "intr 1"]
    stat.write_text("\n".join(lines).format(100, 100, 100, 0) + "\n")

    import threading
    def advance():                  # 400 jiffies pass: 100 user, 100 system, 200 idle
        stat.write_text("\n".join(lines).format(200, 200, 300, 0) + "\n")
    timer = threading.Timer(0.05, advance)
    timer.start()
    assert abs(idle_cores(0.3, stat) - 1.0) < 1e-9   # half of 2 cores idle
    timer.join()
    import os  # no /proc/stat: the cores less the load average
    expected = (os.cpu_count() or 1) - os.getloadavg()[0]
    assert abs(idle_cores(0.01, tmp_path / "none") - expected) < 0.2


def test_the_cli_sets_its_default_threads_only_when_the_user_did_not(monkeypatch):
    import os

    from click.testing import CliRunner

    from proxybench.cli import main
    from proxybench.run.distributed import default_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert CliRunner().invoke(main, ["proxies"]).exit_code == 0
    assert os.environ["OMP_NUM_THREADS"] == str(default_threads())
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert CliRunner().invoke(main, ["proxies"]).exit_code == 0
    assert os.environ["OMP_NUM_THREADS"] == "7"
