"""`jax.lax`: what its functions do to the dims of arrays.

See `__init__.py`. A name that `jax.lax` shares with `jax.numpy` can mean something else:
`lax.max(x, 0)` is elementwise, `jnp.max(x, 0)` reduces axis 0. Where it means the same, lax
takes its arguments otherwise, so its rules are its own: `lax.transpose(x, (1, 0))` needs the
whole permutation, `lax.reshape` every size (no -1), `lax.argmax(x, 1, jnp.int32)` an axis
counted from 0.
"""

from collections.abc import Sequence
from typing import Any, Literal

from jax.typing import ArrayLike, DTypeLike
from jaxtyping import Array, Shaped

from . import broadcast, rule

MODULES = ("jax.lax", "jax._src.lax")

# Elementwise functions of one array: the result has its dims.

def abs(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def cbrt(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def ceil(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def cos(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def cosh(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def exp(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def exp2(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def expm1(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def floor(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def log(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def log1p(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def logistic(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def neg(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def reciprocal(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def round(x: Shaped[Array, "*shape"], rounding_method: Any = 0) -> Shaped[Array, "*shape"]: ...
def sign(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def sin(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def sinh(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def sqrt(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def square(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def tan(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def tanh(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def rsqrt(x: Shaped[Array, "*shape"], *, accuracy: Any = None) -> Shaped[Array, "*shape"]: ...
def erf(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...
def stop_gradient(x: Shaped[Array, "*shape"]) -> Shaped[Array, "*shape"]: ...

# Elementwise functions of two arrays, broadcast together (`max` and `min` are elementwise
# here, not reductions).

@broadcast
def add(x: ArrayLike, y: ArrayLike) -> Array: ...
@broadcast
def sub(x: ArrayLike, y: ArrayLike) -> Array: ...
@broadcast
def mul(x: ArrayLike, y: ArrayLike, *, out_dtype: DTypeLike | None = None) -> Array: ...
@broadcast
def div(x: ArrayLike, y: ArrayLike) -> Array: ...
@broadcast
def rem(x: ArrayLike, y: ArrayLike) -> Array: ...
@broadcast
def pow(x: ArrayLike, y: ArrayLike) -> Array: ...
@broadcast
def max(x: ArrayLike, y: ArrayLike) -> Array: ...
@broadcast
def min(x: ArrayLike, y: ArrayLike) -> Array: ...

# The result has the dims of `operand`; `update` must have its rank.
@rule("dynamic_update_slice")
def dynamic_update_slice(
    operand: Shaped[Array, "*shape"],
    update: Shaped[Array, "..."],
    start_indices: Any,
    *,
    allow_negative_indices: bool = True,
) -> Shaped[Array, "*shape"]: ...

# Shape-preserving functions with more arguments.

def convert_element_type(
    operand: Shaped[Array, "*shape"], new_dtype: DTypeLike
) -> Shaped[Array, "*shape"]: ...
def integer_pow(x: Shaped[Array, "*shape"], y: int) -> Shaped[Array, "*shape"]: ...
def full_like(
    x: Shaped[Array, "*shape"],
    fill_value: ArrayLike,
    dtype: DTypeLike | None = None,
    shape: Literal[None] = None,
    sharding: Any = None,
) -> Shaped[Array, "*shape"]: ...

# jax.lax counts axes from 0 and never from the end: a negative axis is an error here, where
# jax.numpy's functions take it.

@rule("lax_checks_axes")
def cumsum(
    operand: Shaped[Array, "*shape"], axis: int = 0, reverse: bool = False
) -> Shaped[Array, "*shape"]: ...
@rule("lax_checks_axes")
def cumprod(
    operand: Shaped[Array, "*shape"], axis: int = 0, reverse: bool = False
) -> Shaped[Array, "*shape"]: ...
@rule("lax_checks_axes")
def cummax(
    operand: Shaped[Array, "*shape"], axis: int = 0, reverse: bool = False
) -> Shaped[Array, "*shape"]: ...
@rule("lax_checks_axes")
def cummin(
    operand: Shaped[Array, "*shape"], axis: int = 0, reverse: bool = False
) -> Shaped[Array, "*shape"]: ...
@rule("lax_checks_axes")
def cumlogsumexp(
    operand: Shaped[Array, "*shape"], axis: int = 0, reverse: bool = False
) -> Shaped[Array, "*shape"]: ...
@rule("lax_checks_axes")
def rev(operand: Shaped[Array, "*shape"], dimensions: Sequence[int]) -> Shaped[Array, "*shape"]: ...
@rule("lax_argmax")
def argmax(operand: Shaped[Array, "..."], axis: int, index_dtype: DTypeLike) -> Array: ...
@rule("lax_argmax")
def argmin(operand: Shaped[Array, "..."], axis: int, index_dtype: DTypeLike) -> Array: ...

# Nothing broadcasts: `pred`, `min` and `max` are scalars or have the result's dims.

@rule("scalar_or_same")
def select(
    pred: ArrayLike, on_true: Shaped[Array, "*shape"], on_false: Shaped[Array, "*shape"]
) -> Shaped[Array, "*shape"]: ...
@rule("scalar_or_same")
def clamp(
    min: ArrayLike, x: Shaped[Array, "*shape"], max: ArrayLike
) -> Shaped[Array, "*shape"]: ...

# Rearranging, slicing and contracting: rules of the plugin's own. Shapes, permutations and
# indices are given in full; where they are not literals, the dims they make are unknown.
# `expand_dims` and `squeeze` take negative axes, as jax.numpy's do.

@rule("lax_reshape")
def reshape(
    operand: Shaped[Array, "..."],
    new_sizes: Sequence[int],
    dimensions: Sequence[int] | None = None,
    *,
    out_sharding: Any = None,
) -> Array: ...
@rule("lax_transpose")
def transpose(operand: Shaped[Array, "..."], permutation: Sequence[int]) -> Array: ...
@rule("expand_dims")
def expand_dims(array: Shaped[Array, "..."], dimensions: Sequence[int]) -> Array: ...
@rule("squeeze")
def squeeze(array: Shaped[Array, "..."], dimensions: Sequence[int]) -> Array: ...
@rule("lax_concatenate")
def concatenate(operands: Sequence[ArrayLike], dimension: int) -> Array: ...
@rule("broadcast_in_dim")
def broadcast_in_dim(
    operand: Shaped[Array, "..."],
    shape: Sequence[int],
    broadcast_dimensions: Sequence[int],
    *,
    out_sharding: Any = None,
) -> Array: ...
@rule("dynamic_slice")
def dynamic_slice(
    operand: Shaped[Array, "..."],
    start_indices: Sequence[ArrayLike],
    slice_sizes: Sequence[int],
    *,
    allow_negative_indices: bool = True,
) -> Array: ...
@rule("lax_slice")
def slice(
    operand: Shaped[Array, "..."],
    start_indices: Sequence[int],
    limit_indices: Sequence[int],
    strides: Sequence[int] | None = None,
) -> Array: ...
@rule("dot_general")
def dot_general(
    lhs: Shaped[Array, "..."],
    rhs: Shaped[Array, "..."],
    dimension_numbers: Any,
    precision: Any = None,
    preferred_element_type: DTypeLike | None = None,
    *,
    out_sharding: Any = None,
) -> Array: ...

# The k largest entries along `axis`, and their indices: `axis`'s dim becomes `k`'s.

@rule("top_k")
def top_k(operand: Shaped[Array, "..."], k: int, *, axis: int = -1) -> Any: ...
