"""Static shape checking for jaxtyping annotations: a mypy plugin.

Enable it in the mypy configuration (`pyproject.toml`), with no other setting:

```toml
[tool.mypy]
plugins = ["typedgpt.mypy_plugin"]
```

mypy then reads the dimension strings of jaxtyping annotations (`Float[Array, "seq embed"]`)
and reports shape mismatches at calls, returns, assignments and array operations, in terms
of the dims. See the "Static shape checking" page of the documentation for what is checked.
List it last when other plugins are configured: its catch-all hooks wrap mypy's default
plugin, and would hide the hooks of a plugin listed after it.
"""

import hashlib
import warnings
from pathlib import Path

from mypy.plugin import Plugin

from ._plugin import ShapePlugin as ShapePlugin

SUPPORTED_MYPY = ("2.4",)
"""The mypy release series the plugin is tested with (it uses some mypy internals)."""


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


__version__ = f"0.1.0+{_source_digest()}"
"""mypy keys its cache on this: a change to any module of the plugin invalidates the cache
(mypy itself hashes only this file)."""


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point: the plugin class for this mypy `version`."""
    if not version.startswith(tuple(f"{v}." for v in SUPPORTED_MYPY)):
        warnings.warn(
            f"typedgpt.mypy_plugin is tested with mypy {', '.join(SUPPORTED_MYPY)}.x, not "
            f"{version}: shape checks may be wrong; install mypy=={SUPPORTED_MYPY[-1]}.*",
            stacklevel=2,
        )
    return ShapePlugin
