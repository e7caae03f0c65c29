"""`jax.random`: the dims of the arrays its samplers make. See `__init__.py`."""

from typing import Any, Literal

from jax.typing import ArrayLike, DTypeLike
from jaxtyping import Array, Shaped

from . import reduction, rule

MODULES = ("jax.random", "jax._src.random")

# Samplers of a given shape: `shape` stands for dims as in `jnp.zeros` (`x.shape`, and
# `x.shape[i]` in a tuple); left out, it is `()` (a scalar), or for `bernoulli` and
# `truncated_normal` the broadcast of their parameters, which is left unknown.

@rule("new_array")
def normal(key: Any, shape: Any = (), dtype: DTypeLike | None = None, **options: Any) -> Array: ...
@rule("new_array")
def uniform(
    key: Any,
    shape: Any = (),
    dtype: DTypeLike | None = None,
    minval: ArrayLike = 0.0,
    maxval: ArrayLike = 1.0,
) -> Array: ...
@rule("new_array")
def gumbel(key: Any, shape: Any = (), dtype: DTypeLike | None = None, **options: Any) -> Array: ...
@rule("new_array")
def randint(
    key: Any, shape: Any, minval: ArrayLike, maxval: ArrayLike, dtype: DTypeLike | None = None
) -> Array: ...
@rule("new_array")
def bernoulli(key: Any, p: ArrayLike = 0.5, shape: Any = None, **options: Any) -> Array: ...
@rule("new_array")
def truncated_normal(
    key: Any,
    lower: ArrayLike,
    upper: ArrayLike,
    shape: Any = None,
    dtype: DTypeLike | None = None,
    **options: Any,
) -> Array: ...

# A sample from each distribution of `logits` along `axis`: that axis is dropped. (With
# `shape`, the result has those dims instead, left unknown.)

@reduction
def categorical(
    key: Any,
    logits: Shaped[Array, "..."],
    axis: int = -1,
    shape: Literal[None] = None,
    replace: Literal[False] = False,
    mode: Any = None,
    keepdims: Literal[False] = False,
) -> Array: ...
