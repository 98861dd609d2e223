"""Running the CLI in tests, and checking that an error is one clean line."""

from __future__ import annotations

from click.testing import CliRunner

from proxybench.cli import main


def run(*args, ok=True):
    result = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def one_line_error(result, *needles):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    err = [ln for ln in result.output.splitlines() if ln.startswith("Error")]
    assert len(err) == 1, result.output
    for n in needles:
        assert n in err[0], err[0]
