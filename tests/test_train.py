"""Supernet training: it learns, it saves what later steps need, and it resumes exactly."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from proxybench.run import train as T
from proxybench.run.files import CheckpointError, load_checkpoint, save_checkpoint
from proxybench.run.presets import PresetError, get_preset


def _cfg(epochs=2, save_every=1):
    preset = get_preset("tiny", epochs=epochs, train_images=512, bn_images=32, val_images=64,
                        path_sample=2)
    return T.TrainConfig("nb201", "cifar10", None, "tiny", preset, 0, save_every, None)


def test_run_directory_contents(tiny_run):
    for name in ("epoch-0.pt", "epoch-1.pt", "epoch-2.pt", "final.pt", "checkpoint.pt",
                 "metrics.csv", "run.json"):
        assert (tiny_run / name).is_file(), name
    metrics = pd.read_csv(tiny_run / "metrics.csv")
    assert list(metrics["epoch"]) == [1, 2]
    assert metrics["lr"].iloc[0] > metrics["lr"].iloc[1]  # cosine schedule decays
    run = json.loads((tiny_run / "run.json").read_text())
    assert run["status"] == "done" and run["environment"]["torch"] == torch.__version__
    assert run["summary"]["paths_evaluated"] == 2
    init = load_checkpoint(tiny_run / "epoch-0.pt")["state_dict"]
    final = load_checkpoint(tiny_run / "final.pt")["state_dict"]
    assert not torch.equal(init["classifier.weight"], final["classifier.weight"])


def test_training_reduces_the_loss(tmp_path):
    cfg = _cfg(epochs=4, save_every=0)
    T.train_supernet(cfg, tmp_path / "r", progress=False)
    metrics = pd.read_csv(tmp_path / "r" / "metrics.csv")
    assert metrics["train_loss"].iloc[-1] < metrics["train_loss"].iloc[0]


def test_resume_after_a_kill_gives_the_same_weights(tmp_path, monkeypatch):
    cfg = _cfg(epochs=2, save_every=0)
    T.train_supernet(cfg, tmp_path / "whole", progress=False)

    calls = {"n": 0}
    real_save = T.save_checkpoint

    def dying_save(path, obj):
        real_save(path, obj)
        if path.name == "checkpoint.pt":
            calls["n"] += 1
            raise KeyboardInterrupt  # killed right after epoch 1 was saved

    monkeypatch.setattr(T, "save_checkpoint", dying_save)
    with pytest.raises(KeyboardInterrupt):
        T.train_supernet(cfg, tmp_path / "killed", progress=False)
    monkeypatch.setattr(T, "save_checkpoint", real_save)
    with pytest.raises(T.TrainError, match="--resume"):
        T.train_supernet(cfg, tmp_path / "killed", resume=False, progress=False)
    T.train_supernet(cfg, tmp_path / "killed", resume=True, progress=False)
    a = load_checkpoint(tmp_path / "whole" / "final.pt")["state_dict"]
    b = load_checkpoint(tmp_path / "killed" / "final.pt")["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # resuming with other settings is refused
    with pytest.raises(T.TrainError, match="epochs=2, not epochs=3"):
        T.train_supernet(_cfg(epochs=3, save_every=0), tmp_path / "killed", resume=True,
                         progress=False)


def test_mismatched_and_corrupt_checkpoints(tmp_path, tiny_run):
    ckpt = load_checkpoint(tiny_run / "final.pt")
    ckpt["preset"] = {**ckpt["preset"], "channels": 8}
    save_checkpoint(tmp_path / "wrong.pt", {k: v for k, v in ckpt.items() if k != "format"})
    with pytest.raises(CheckpointError, match="does not match"):
        T.supernet_from_checkpoint(tmp_path / "wrong.pt")
    data = (tiny_run / "final.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        T.supernet_from_checkpoint(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="not found"):
        T.supernet_from_checkpoint(tmp_path / "missing.pt")


def test_preset_validation():
    with pytest.raises(PresetError, match="unknown preset"):
        get_preset("gpu")
    with pytest.raises(PresetError, match="epochs"):
        get_preset("cpu", epochs=0)
    with pytest.raises(PresetError, match="lr_min"):
        get_preset("cpu", lr=0.001, lr_min=0.01)
    assert get_preset("cpu", epochs=None).epochs == get_preset("cpu").epochs


def test_runs_record_the_cpu_instruction_set(tiny_run):
    """The same seed trains other supernets on another vector instruction set (AVX2 vs
    AVX-512), so a run records the one it was trained on."""
    import json

    import torch

    from tests.cli_helpers import run
    env = json.loads((tiny_run / "run.json").read_text())["environment"]
    assert env["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert f"CPU instruction set {env['cpu_capability']}" in run("describe", tiny_run).output


def test_describe_names_the_commit_or_says_none_was_recorded(tiny_run, tmp_path):
    """A run trained outside a git checkout records no commit; describe says so instead of
    printing None."""
    import json
    import shutil

    from tests.cli_helpers import run
    env = json.loads((tiny_run / "run.json").read_text())["environment"]
    out = run("describe", tiny_run).output
    if env.get("git_commit"):
        assert f"code {env['git_commit'][:12]}," in out
    moved = tmp_path / "r"
    shutil.copytree(tiny_run, moved)
    record = json.loads((moved / "run.json").read_text())
    record["environment"]["git_commit"] = None
    (moved / "run.json").write_text(json.dumps(record))
    out = run("describe", moved).output
    assert "None" not in out and "(no git commit recorded)" in out
