"""Shape stubs: what jax functions and `jax.Array` methods do to the dims of arrays.

typedgpt's mypy plugin reads the `.pyi` files of this folder, with `ast`, once per mypy run;
they are never imported, and mypy does not take them for jax's own stubs. The folder is the
package `typedgpt.mypy_plugin.stubs` once installed, and the plugin finds it with
`importlib.resources`.

How a stub reads:

- A parameter annotated with a jaxtyping type (`Shaped[Array, "*shape"]`) binds its dims at
  each call, as a call of a user's function does; the return annotation is the result. The
  names are the function's own, bound afresh at each call. Dtypes are not read.
- A dim named like an `int` parameter (`num_classes`) is that argument, when it is an int
  literal, dim `i` of `x` when it is `x.shape[i]`, and of unknown size otherwise.
- A parameter annotated `Literal[...]` limits the stub, signature or decorated rule, to
  calls where the argument has one of those values, or is left out (its default): with
  another value the result is shape-unknown.
- Parameters are found by name, else by position, as Python binds them; a default is used
  where an argument is left out.
- Where a signature cannot say the rule, a decorator names the plugin's own: `@broadcast`,
  `@reduction`, `@checks_axis`, `@operator("+")` and `@rule("einsum")`, below.

A jax function is matched by its module and name. Each file names the modules of its
functions, `MODULES = ("jax.lax", "jax._src.lax")`, public and private, as mypy reports a
function where it is defined (`jax.numpy.tanh`, but `jax._src.lax.lax.rsqrt`); a module
covers the modules below it. A name is defined once in a module, and the same name in two
modules can have two rules: `jax.lax.max` is elementwise, `jax.numpy.max` a reduction.
`jax.vmap`, `eqx.filter_vmap` and `jax.lax.scan` transform functions rather than arrays: the
plugin models them in code.
"""

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def broadcast(fn: F) -> F:
    """Every argument broadcasts with the others (NumPy's rules), a Python number as a scalar;
    the result has the broadcast dims."""
    return fn


def reduction(fn: F) -> F:
    """Reduces the first array over `axis` (all of its axes when None), keeping size-1 axes
    with `keepdims=True`. A non-literal `axis` or `keepdims` gives a shape-unknown result."""
    return fn


def checks_axis(fn: F) -> F:
    """The signature, and a literal `axis` must be an axis of the first array."""
    return fn


def operator(symbol: str) -> Callable[[F], F]:
    """A binary operator of `jax.Array` (`__add__`, and `__radd__` reflected): broadcasts like
    `@broadcast`, and messages show `symbol`."""
    return lambda fn: fn


def rule(name: str) -> Callable[[F], F]:
    """A rule of the plugin's own (`typedgpt/mypy_plugin/_rules.py`, by this name) that reads
    the arguments of the signature: `einsum`, `reshape`, `transpose`, `matmul`, ..."""
    return lambda fn: fn
