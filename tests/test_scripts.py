"""The scripts under reports/ run for hours; an option a command does not have would stop
them after the hours before it. Every proxybench command in them names a command and only
options that command takes."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from proxybench.cli import main

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "reports").glob("*/*.sh"))


def commands(script: Path) -> list[list[str]]:
    """The proxybench command lines of a shell script: continuation lines joined, comments
    the script's option variables (``T="--threads 1"``) put in, split at pipes and
    separators."""
    text = re.sub(r"\\\n", " ", script.read_text())
    for name, value in re.findall(r'^([A-Z_]+)="(-[^"]*)"$', text, flags=re.M):
        text = re.sub(rf"\$\{{?{name}\b\}}?", value, text)   # T="--threads 1" and the like
    found = []
    for line in text.splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("#"):
            continue
        for part in re.split(r"\|\||&&|[;|()]", line):
            words = part.replace('"', " ").replace("'", " ").split()
            if "proxybench" not in words:
                continue
            words = words[words.index("proxybench") + 1:]
            if words and not words[0].startswith("$"):
                found.append(words)
    return found


def test_the_scripts_have_proxybench_commands():
    assert SCRIPTS and all(commands(s) for s in SCRIPTS), SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_option_in_the_scripts_is_one_its_command_takes(script):
    for words in commands(script):
        name = words[0]
        assert name in main.commands, f"{script.name}: no command {name!r}: {shlex.join(words)}"
        cmd = main.commands[name]
        takes = {o for p in cmd.params if isinstance(p, click.Option)
                 for o in p.opts + p.secondary_opts}
        for w in words[1:]:
            if w.startswith("--"):
                opt = w.split("=")[0]
                assert opt in takes, f"{script.name}: {name} has no {opt}: {shlex.join(words)}"


def test_a_misspelled_option_is_caught(tmp_path):
    bad = tmp_path / "x.sh"
    bad.write_text("proxybench ablate sigma --run r \\\n  --wrokers 1 --out o\n")
    assert commands(bad) == [["ablate", "sigma", "--run", "r", "--wrokers", "1", "--out", "o"]]
    with pytest.raises(AssertionError, match="ablate has no --wrokers"):
        test_every_option_in_the_scripts_is_one_its_command_takes(bad)
