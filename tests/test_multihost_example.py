"""The jax.distributed example runs two local processes and reproduces a single-process run."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLE = pathlib.Path(__file__).parents[1] / "examples" / "multihost.py"


@pytest.mark.slow
def test_multihost_example_matches_single_process():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--n", "200", "--coordinator", "localhost:12377"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "identical to a single-process run: True" in out.stdout
