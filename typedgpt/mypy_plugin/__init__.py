"""Static shape checking for jaxtyping annotations: a mypy plugin.

Enable it in the mypy configuration (`pyproject.toml`), with no other setting:

```toml
[tool.mypy]
plugins = ["typedgpt.mypy_plugin"]
```

mypy then reads the dimension strings of jaxtyping annotations (`Float[Array, "seq embed"]`)
and reports shape mismatches at calls, returns, assignments and array operations, in terms
of the dims. What jax's functions do to dims is read from the shape stubs that ship inside
the package (`typedgpt.mypy_plugin.stubs`, from `stubs/` in the repository). See the "Static
shape checking" page of the documentation for what is checked, and how the plugin orders
with other plugins.
"""

import hashlib
import re
import warnings
from pathlib import Path

from mypy.plugin import Plugin

from . import _stubs
from ._plugin import ShapePlugin as ShapePlugin

SUPPORTED_MYPY = ">=2.4,<2.5"
"""The mypy versions the plugin supports: it uses some of mypy's internals, and is tested
with the mypy that the `dev` extra pins."""
_OLDEST, _TOO_NEW = (2, 4), (2, 5)


class UnsupportedMypyError(RuntimeError):
    """The plugin was loaded by a mypy older than it supports."""


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    digest.update(_stubs.digest().encode())
    return digest.hexdigest()[:16]


__version__ = f"0.1.0+{_source_digest()}"
"""mypy keys its cache on this: a change to any module of the plugin, or to a shape stub,
invalidates the cache (mypy itself hashes only this file)."""


def check_mypy_version(version: str) -> None:
    """Raise for a mypy older than `SUPPORTED_MYPY`, warn for a newer one (untested)."""
    match = re.match(r"(\d+)\.(\d+)", version)
    release = (int(match[1]), int(match[2])) if match else None
    if release is None or release < _OLDEST:
        raise UnsupportedMypyError(
            f"typedgpt.mypy_plugin supports mypy {SUPPORTED_MYPY}, not mypy {version}: "
            f"install a supported mypy (pip install 'mypy{SUPPORTED_MYPY}')"
        )
    if release >= _TOO_NEW:
        warnings.warn(
            f"typedgpt.mypy_plugin supports mypy {SUPPORTED_MYPY}, not mypy {version}, which "
            f"is untested: shape checks may be wrong (pip install 'mypy{SUPPORTED_MYPY}')",
            stacklevel=2,
        )


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point: the plugin class for this mypy `version`."""
    check_mypy_version(version)
    return ShapePlugin
