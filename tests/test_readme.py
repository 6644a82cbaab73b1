"""The README's Python examples run as written, in order, as one script."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parents[1]


@pytest.mark.slow
def test_readme_python_blocks_run(monkeypatch, tmp_path):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    for block in blocks:
        code = block.replace('"dimer.csv"', repr(str(tmp_path / "dimer.csv")))
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    # values the README states in its comments
    assert float(namespace["fd"]) == 6.0
    inside = namespace["grads_inside"].network.reactions[0].kinetics.k
    assert float(inside) != 0.0 and float(namespace["grads"].network.reactions[0].kinetics.k) != 0
