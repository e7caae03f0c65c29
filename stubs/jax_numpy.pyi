"""`jax.numpy` (`jnp`): what its functions do to the dims of arrays. See `__init__.py`."""

from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

from jax.typing import ArrayLike, DTypeLike
from jaxtyping import Array, Shaped

from . import broadcast, checks_axis, reduction, rule

MODULES = ("jax.numpy", "jax._src.numpy")

Axis: TypeAlias = int | Sequence[int] | None

# Elementwise functions of one array: the result has its dims.

def exp(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def exp2(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def log(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def log2(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def log10(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def log1p(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def expm1(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def tanh(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def sinh(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def cosh(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def sin(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def cos(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def tan(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def arctan(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def sqrt(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def cbrt(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def square(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def abs(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def absolute(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def negative(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def positive(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def sign(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def floor(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def ceil(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def rint(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def reciprocal(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def isfinite(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def isnan(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def isinf(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def logical_not(x: Shaped[Array, "*shape"], /) -> Shaped[Array, "*shape"]: ...
def round(
    a: Shaped[Array, "*shape"], decimals: int = 0, out: None = None
) -> Shaped[Array, "*shape"]: ...
def clip(
    arr: Shaped[Array, "*shape"], /, min: ArrayLike | None = None, max: ArrayLike | None = None
) -> Shaped[Array, "*shape"]: ...
def nan_to_num(
    x: Shaped[Array, "*shape"],
    copy: bool = True,
    nan: ArrayLike = 0.0,
    posinf: ArrayLike | None = None,
    neginf: ArrayLike | None = None,
) -> Shaped[Array, "*shape"]: ...
def astype(
    x: Shaped[Array, "*shape"],
    dtype: DTypeLike | None,
    /,
    *,
    copy: bool = False,
    device: Any = None,
) -> Shaped[Array, "*shape"]: ...
def tril(m: Shaped[Array, "*shape"], k: int = 0) -> Shaped[Array, "*shape"]: ...
def triu(m: Shaped[Array, "*shape"], k: int = 0) -> Shaped[Array, "*shape"]: ...

# New arrays like another one: its dims, unless `shape` is given.

def zeros_like(
    a: Shaped[Array, "*shape"],
    dtype: DTypeLike | None = None,
    shape: Literal[None] = None,
    *,
    device: Any = None,
    out_sharding: Any = None,
) -> Shaped[Array, "*shape"]: ...
def ones_like(
    a: Shaped[Array, "*shape"],
    dtype: DTypeLike | None = None,
    shape: Literal[None] = None,
    *,
    device: Any = None,
    out_sharding: Any = None,
) -> Shaped[Array, "*shape"]: ...
def full_like(
    a: Shaped[Array, "*shape"],
    fill_value: ArrayLike,
    dtype: DTypeLike | None = None,
    shape: Literal[None] = None,
    *,
    device: Any = None,
    out_sharding: Any = None,
) -> Shaped[Array, "*shape"]: ...
def empty_like(
    prototype: Shaped[Array, "*shape"],
    dtype: DTypeLike | None = None,
    shape: Literal[None] = None,
    *,
    device: Any = None,
) -> Shaped[Array, "*shape"]: ...

# New arrays of a shape given as sizes: `x.shape[i]` is dim `i` of `x`, `x.shape` (also
# `*x.shape` in a tuple) the dims of `x`, and any other int, a literal too, a dim of unknown
# size (so that `jnp.zeros((4, 8))` may be returned as `seq embed`).

@rule("new_array")
def zeros(shape: Any, dtype: DTypeLike | None = None, **options: Any) -> Array: ...
@rule("new_array")
def ones(shape: Any, dtype: DTypeLike | None = None, **options: Any) -> Array: ...
@rule("new_array")
def empty(shape: Any, dtype: DTypeLike | None = None, **options: Any) -> Array: ...
@rule("new_array")
def full(
    shape: Any, fill_value: ArrayLike, dtype: DTypeLike | None = None, **options: Any
) -> Array: ...
@rule("arange")
def arange(
    start: Any, stop: Any = None, step: Any = None, dtype: DTypeLike | None = None, **options: Any
) -> Array: ...
@rule("eye")
def eye(
    N: Any, M: Any = None, k: int = 0, dtype: DTypeLike | None = None, **options: Any
) -> Array: ...
@rule("broadcast_to")
def broadcast_to(array: Shaped[Array, "..."], shape: Any) -> Array: ...
@rule("pad")
def pad(
    array: Shaped[Array, "..."], pad_width: Any, mode: Any = "constant", **options: Any
) -> Array: ...
@rule("repeat")
def repeat(
    a: Shaped[Array, "..."], repeats: ArrayLike, axis: int | None = None, **options: Any
) -> Array: ...
@rule("tile")
def tile(A: Shaped[Array, "..."], reps: int | Sequence[int]) -> Array: ...
@rule("split")
def split(ary: Shaped[Array, "..."], indices_or_sections: Any, axis: int = 0) -> list[Array]: ...

# Gathers: the result has the index array's dims, at `axis`.

@rule("take")
def take(
    a: Shaped[Array, "..."],
    indices: Any,
    axis: int | None = None,
    out: None = None,
    mode: str | None = None,
    **options: Any,
) -> Array: ...
@rule("take_along_axis")
def take_along_axis(
    arr: Shaped[Array, "..."],
    indices: Shaped[Array, "..."],
    axis: int | None,
    mode: Any = None,
    **options: Any,
) -> Array: ...

# Sorting, flipping and rolling keep the dims. (`sort` and `argsort` with `axis=None`
# flatten the array first: the result is of unknown dims.)

@checks_axis
def sort(
    a: Shaped[Array, "*shape"],
    axis: int | None = -1,
    *,
    kind: None = None,
    order: None = None,
    stable: bool = True,
    descending: bool = False,
) -> Shaped[Array, "*shape"]: ...
@checks_axis
def argsort(
    a: Shaped[Array, "*shape"],
    axis: int | None = -1,
    *,
    kind: None = None,
    order: None = None,
    stable: bool = True,
    descending: bool = False,
) -> Shaped[Array, "*shape"]: ...
def flip(m: Shaped[Array, "*shape"], axis: Axis = None) -> Shaped[Array, "*shape"]: ...
def roll(
    a: Shaped[Array, "*shape"], shift: ArrayLike | Sequence[int], axis: Axis = None
) -> Shaped[Array, "*shape"]: ...

# Cumulative sums and products along `axis`. (Without `axis`, jnp flattens the array first:
# the result is of unknown dims.)

@checks_axis
def cumsum(
    a: Shaped[Array, "*shape"],
    axis: int | None = None,
    dtype: DTypeLike | None = None,
    out: None = None,
) -> Shaped[Array, "*shape"]: ...
@checks_axis
def cumprod(
    a: Shaped[Array, "*shape"],
    axis: int | None = None,
    dtype: DTypeLike | None = None,
    out: None = None,
) -> Shaped[Array, "*shape"]: ...

# Elementwise functions of several arrays, broadcast together.

@broadcast
def add(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def subtract(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def multiply(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def divide(x1: ArrayLike, x2: ArrayLike, /) -> Array: ...
@broadcast
def true_divide(x1: ArrayLike, x2: ArrayLike, /) -> Array: ...
@broadcast
def floor_divide(x1: ArrayLike, x2: ArrayLike, /) -> Array: ...
@broadcast
def maximum(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def minimum(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def power(x1: ArrayLike, x2: ArrayLike, /) -> Array: ...
@broadcast
def equal(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def not_equal(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def less(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def greater(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def less_equal(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def greater_equal(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def logical_and(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def logical_or(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def logical_xor(x: ArrayLike, y: ArrayLike, /) -> Array: ...
@broadcast
def where(
    condition: ArrayLike,
    x: ArrayLike | None = None,
    y: ArrayLike | None = None,
    /,
    *,
    size: int | None = None,
    fill_value: ArrayLike | None = None,
) -> Array: ...

# Conversions: an array given keeps its dims (a list or a number gives unknown dims).

def asarray(
    a: Shaped[Array, "*shape"],
    dtype: DTypeLike | None = None,
    order: str | None = None,
    *,
    copy: bool | None = None,
    **options: Any,
) -> Shaped[Array, "*shape"]: ...
def array(
    object: Shaped[Array, "*shape"],
    dtype: DTypeLike | None = None,
    copy: bool = True,
    order: str | None = None,
    ndmin: Literal[0] = 0,
    **options: Any,
) -> Shaped[Array, "*shape"]: ...

# Reductions over `axis`.

@reduction
def sum(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    dtype: DTypeLike | None = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
    promote_integers: bool = True,
) -> Shaped[Array, "..."]: ...
@reduction
def prod(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    dtype: DTypeLike | None = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
    promote_integers: bool = True,
) -> Shaped[Array, "..."]: ...
@reduction
def mean(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    dtype: DTypeLike | None = None,
    out: None = None,
    keepdims: bool = False,
    *,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def var(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    dtype: DTypeLike | None = None,
    out: None = None,
    ddof: int = 0,
    keepdims: bool = False,
    *,
    where: ArrayLike | None = None,
    mean: ArrayLike | None = None,
    correction: int | float | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def std(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    dtype: DTypeLike | None = None,
    out: None = None,
    ddof: int = 0,
    keepdims: bool = False,
    *,
    where: ArrayLike | None = None,
    mean: ArrayLike | None = None,
    correction: int | float | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def max(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def min(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def amax(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def amin(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def nansum(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    dtype: DTypeLike | None = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def nanmean(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    dtype: DTypeLike | None = None,
    out: None = None,
    keepdims: bool = False,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def nanmax(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def nanmin(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    initial: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def argmax(
    a: Shaped[Array, "..."], axis: int | None = None, out: None = None, keepdims: bool | None = None
) -> Shaped[Array, "..."]: ...
@reduction
def argmin(
    a: Shaped[Array, "..."], axis: int | None = None, out: None = None, keepdims: bool | None = None
) -> Shaped[Array, "..."]: ...
@reduction
def all(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    *,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def any(
    a: Shaped[Array, "..."],
    axis: Axis = None,
    out: None = None,
    keepdims: bool = False,
    *,
    where: ArrayLike | None = None,
) -> Shaped[Array, "..."]: ...
@reduction
def median(
    a: Shaped[Array, "..."],
    axis: int | tuple[int, ...] | None = None,
    out: None = None,
    overwrite_input: bool = False,
    keepdims: bool = False,
) -> Shaped[Array, "..."]: ...

# Rearranging and combining arrays: rules of the plugin's own.

@rule("einsum")
def einsum(subscripts: str, /, *operands: ArrayLike, **options: Any) -> Array: ...
@rule("matmul")
def matmul(a: Shaped[Array, "..."], b: Shaped[Array, "..."], **options: Any) -> Array: ...
@rule("dot")
def dot(a: Shaped[Array, "..."], b: Shaped[Array, "..."], **options: Any) -> Array: ...
@rule("outer")
def outer(a: Shaped[Array, "..."], b: Shaped[Array, "..."], out: None = None) -> Array: ...
def ravel(a: Shaped[Array, "..."], order: str = "C") -> Shaped[Array, " _"]: ...
@rule("reshape")
def reshape(
    a: Shaped[Array, "..."], shape: int | Sequence[int], order: str = "C", **options: Any
) -> Array: ...
@rule("transpose")
def transpose(a: Shaped[Array, "..."], axes: Sequence[int] | None = None) -> Array: ...
@rule("swapaxes")
def swapaxes(a: Shaped[Array, "..."], axis1: int, axis2: int) -> Array: ...
@rule("moveaxis")
def moveaxis(
    a: Shaped[Array, "..."], source: int | Sequence[int], destination: int | Sequence[int]
) -> Array: ...
@rule("expand_dims")
def expand_dims(a: Shaped[Array, "..."], axis: int | Sequence[int]) -> Array: ...
@rule("concatenate")
def concatenate(arrays: Sequence[ArrayLike], axis: int | None = 0, dtype: Any = None) -> Array: ...
@rule("stack")
def stack(
    arrays: Sequence[ArrayLike], axis: int = 0, out: None = None, dtype: Any = None
) -> Array: ...

# `squeeze` drops axes of size 1 (a named dim may be), as `lax.squeeze` does; without `axis`,
# every axis of size 1, and the result is of unknown dims.

@rule("squeeze")
def squeeze(a: Shaped[Array, "..."], axis: int | Sequence[int] | None = None) -> Array: ...
