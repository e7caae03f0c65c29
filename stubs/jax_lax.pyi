"""`jax.lax` (and `jax.scipy.special.erf`): what its functions do to the dims of arrays.

See `__init__.py`. The elementwise functions that `jax.lax` shares with `jax.numpy`
(`exp`, `tanh`, `add`, ...) are matched by name, so `jax_numpy.pyi` describes them.
"""

from typing import Any

from jaxtyping import Array, Shaped

from . import rule

def rsqrt(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def erf(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def stop_gradient(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...

# The result has the dims of `operand`; `update` must have its rank.
@rule("dynamic_update_slice")
def dynamic_update_slice(
    operand: Shaped[Array, "*shape"],
    update: Shaped[Array, "..."],
    start_indices: Any,
    *,
    allow_negative_indices: bool = True,
) -> Shaped[Array, "*shape"]: ...
