"""Tests for `benchmarks/`: slow, run with `pytest -m slow` (or `make bench`)."""

import json
from pathlib import Path

import pytest

from benchmarks import compile_depth


@pytest.mark.slow
def test_compile_time_barely_grows_with_depth(tmp_path: Path) -> None:
    """The blocks run under `lax.scan`, so 48 layers compile in about the time of 2.

    A Python loop over layers would compile each one: measured when the design chose the
    scan, a 48-layer training step took about 240 s to compile with the loop against 2 s
    with the scan (about 120x). 5x is a structural bound, not a wall-clock target.
    """
    out = tmp_path / "compile_depth.json"
    assert compile_depth.main(["--layers", "2", "48", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) == {"2", "48"}
    for layers in results.values():
        for name in ("forward_compile_s", "train_compile_s"):
            assert layers[name] > 0
    for name in ("forward_compile_s", "train_compile_s"):
        assert results["48"][name] < 5 * results["2"][name], (name, results)
