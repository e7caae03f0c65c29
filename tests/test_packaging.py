"""The wheel: it holds the mypy plugin and its shape stubs, and the installed plugin finds them.

The wheel is built offline, as `pip wheel . --no-deps --no-build-isolation` builds it, from a
copy of the sources (so that the build leaves nothing in the repository), then installed
into a folder of its own and imported from there.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "stubs"
PLUGIN = ROOT / "typedgpt" / "mypy_plugin"


def _pip(*args: str, cwd: Path) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    subprocess.run(
        [sys.executable, "-m", "pip", *args, "--no-deps", "--no-index", "--quiet"],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("typedgpt", "stubs"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", str(source), "--no-build-isolation", "-w", str(out), cwd=source)
    (built,) = out.glob("typedgpt-*.whl")
    return built


def test_the_wheel_holds_the_plugin_and_its_stubs(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    stubs = {f"typedgpt/mypy_plugin/stubs/{p.name}" for p in STUBS.glob("*.py*")}
    plugin = {f"typedgpt/mypy_plugin/{p.name}" for p in PLUGIN.glob("*.py")}
    assert len(stubs) >= 5 and "typedgpt/mypy_plugin/stubs/jax_numpy.pyi" in stubs
    assert stubs <= names, sorted(stubs - names)
    assert plugin <= names, sorted(plugin - names)
    assert "typedgpt/py.typed" in names


def test_the_installed_plugin_reads_the_installed_stubs(wheel: Path, tmp_path: Path) -> None:
    """Installed from the wheel, the plugin loads its stubs from the installation, with no
    setting: nothing from the repository is on the path."""
    site = tmp_path / "site"
    _pip("install", str(wheel), "--target", str(site), cwd=tmp_path)
    probe = (
        "import json, mypy.version\n"
        "from mypy.options import Options\n"
        "import typedgpt.mypy_plugin as p\n"
        "plugin = p.plugin(mypy.version.__version__)(Options())\n"
        "stubs = p._stubs.load()\n"
        "print(json.dumps({'plugin': p.__file__, 'stubs': stubs.location,\n"
        "    'functions': sorted(stubs.functions), 'methods': sorted(stubs.methods)}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert Path(found["plugin"]).is_relative_to(site)
    assert Path(found["stubs"]) == site / "typedgpt" / "mypy_plugin" / "stubs"
    assert {
        "jax.numpy.tanh",
        "jax.nn.softmax",
        "jax.numpy.sum",
        "jax.numpy.einsum",
        "jax.nn.one_hot",
        "jax.lax.dynamic_update_slice",
    } <= set(found["functions"])
    assert {"__add__", "__matmul__", "__getitem__", "reshape", "T"} <= set(found["methods"])


def test_the_package_loads_jax_only_when_a_name_is_used() -> None:
    """`typedgpt --help` and mypy's plugin start without JAX's second of importing."""
    code = (
        "import sys, typedgpt, typedgpt.cli, typedgpt.mypy_plugin\n"
        "assert 'jax' not in sys.modules, 'jax imported'\n"
        "typedgpt.GPT\n"
        "assert 'jax' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_every_public_name_is_typed_and_importable() -> None:
    """The names mypy reads (the `if TYPE_CHECKING:` imports) are the ones imported on use,
    from the same modules."""
    import ast

    import typedgpt

    tree = ast.parse((ROOT / "typedgpt" / "__init__.py").read_text(encoding="utf-8"))
    block = next(
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    typed = {
        alias.name: f".{node.module}"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert typed == typedgpt._EXPORTS
    for name in typedgpt._EXPORTS:
        assert getattr(typedgpt, name).__name__ == name
    assert set(typedgpt.__all__) == {*typedgpt._EXPORTS, "__version__"}
    assert set(typedgpt.__all__) <= set(dir(typedgpt))
    with pytest.raises(AttributeError, match="module 'typedgpt' has no attribute 'GTP'"):
        typedgpt.GTP  # type: ignore[attr-defined]  # noqa: B018
