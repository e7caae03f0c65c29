"""Tests for `typedgpt/cli.py`: the `typedgpt` command, in process and as installed.

The demo trains before it samples and shows the shape error; the tests shrink it to a few
steps of a one-layer model, and write its checkpoint under a temporary folder.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from typedgpt import cli

TINY_DEMO = [
    "demo",
    "--steps=3",
    "--warmup=1",
    "--batch-size=2",
    "--layers=1",
    "--embed=16",
    "--heads=2",
    "--seq-len=16",
    "--eval-every=3",
    "--checkpoint-every=3",
    "--num-samples=1",
    "--max-new-tokens=4",
    "--no-progress",
]


def test_demo_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "demo"
    assert cli.main([*TINY_DEMO, f"--out={out_dir}"]) == 0
    out = capsys.readouterr().out
    assert "Step 3: loss " in out
    # The caught shape error: the argument, its shape, and the size it should have had.
    assert "TypeCheckError: " in out
    assert 'argument "x" is float32[12]' in out
    assert "= 16 was bound by" in out
    assert out_dir.is_dir()


def test_demo_console_script(tmp_path: Path) -> None:
    """The `typedgpt` script installed next to this interpreter runs the demo."""
    script = shutil.which("typedgpt", path=os.path.dirname(sys.executable))
    assert script is not None, f"no typedgpt script next to {sys.executable}: pip install -e ."
    result = subprocess.run(
        [script, *TINY_DEMO, f"--out={tmp_path / 'demo'}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "TypeCheckError" in result.stdout


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["no-such-command"])
    assert info.value.code == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err
