"""Crash safety and scale-out of the scoring engine, with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd

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


def test_sigkill_then_resume_gives_the_uninterrupted_table(tiny_run, tmp_path):
    whole = _score(tiny_run, tmp_path / "whole.csv")
    out = tmp_path / "killed.csv"
    proc = subprocess.Popen([sys.executable, *SCORE, "--run", str(tiny_run), "--out", str(out)],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait for a few rows, then kill without warning
        if out.exists() and out.read_text().count("\n") > 8:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = out.read_text().count("\n") - 1
    assert 0 < partial < 40, "the kill should land mid-run"
    resumed = _score(tiny_run, out, "--resume")
    assert len(resumed) == 40
    _same(resumed, whole)


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
    import json

    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "done" and meta["world_size"] == 2
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2] and metrics["train_loss"].notna().all()
    assert (out / "final.pt").is_file() and (out / "epoch-0.pt").is_file()
