"""`jax.Array`: what its methods, operators and properties do to the dims. See `__init__.py`.

The methods of `jax.Array` are matched by name, with `self` as the array they are called on.
"""

from collections.abc import Sequence
from typing import Any, TypeAlias

from jax.typing import ArrayLike, DTypeLike
from jaxtyping import Array as _Array
from jaxtyping import Shaped

from . import checks_axis, operator, reduction, rule

Axis: TypeAlias = int | Sequence[int] | None

class Array:
    # Arithmetic, comparison and bitwise operators: NumPy broadcasting. The reflected form
    # (`__radd__`) has the other operand on the left.
    @operator("+")
    def __add__(self, other: ArrayLike) -> _Array: ...
    @operator("+")
    def __radd__(self, other: ArrayLike) -> _Array: ...
    @operator("-")
    def __sub__(self, other: ArrayLike) -> _Array: ...
    @operator("-")
    def __rsub__(self, other: ArrayLike) -> _Array: ...
    @operator("*")
    def __mul__(self, other: ArrayLike) -> _Array: ...
    @operator("*")
    def __rmul__(self, other: ArrayLike) -> _Array: ...
    @operator("/")
    def __truediv__(self, other: ArrayLike) -> _Array: ...
    @operator("/")
    def __rtruediv__(self, other: ArrayLike) -> _Array: ...
    @operator("//")
    def __floordiv__(self, other: ArrayLike) -> _Array: ...
    @operator("//")
    def __rfloordiv__(self, other: ArrayLike) -> _Array: ...
    @operator("%")
    def __mod__(self, other: ArrayLike) -> _Array: ...
    @operator("%")
    def __rmod__(self, other: ArrayLike) -> _Array: ...
    @operator("**")
    def __pow__(self, other: ArrayLike) -> _Array: ...
    @operator("**")
    def __rpow__(self, other: ArrayLike) -> _Array: ...
    @operator("&")
    def __and__(self, other: ArrayLike) -> _Array: ...
    @operator("&")
    def __rand__(self, other: ArrayLike) -> _Array: ...
    @operator("|")
    def __or__(self, other: ArrayLike) -> _Array: ...
    @operator("|")
    def __ror__(self, other: ArrayLike) -> _Array: ...
    @operator("^")
    def __xor__(self, other: ArrayLike) -> _Array: ...
    @operator("^")
    def __rxor__(self, other: ArrayLike) -> _Array: ...
    @operator("<")
    def __lt__(self, other: ArrayLike) -> _Array: ...
    @operator("<=")
    def __le__(self, other: ArrayLike) -> _Array: ...
    @operator(">")
    def __gt__(self, other: ArrayLike) -> _Array: ...
    @operator(">=")
    def __ge__(self, other: ArrayLike) -> _Array: ...
    @operator("==")
    def __eq__(self, other: ArrayLike) -> _Array: ...
    @operator("!=")
    def __ne__(self, other: ArrayLike) -> _Array: ...

    # Matrix product: `x @ y` contracts the last dim of `x` with the second-to-last of `y`.
    @rule("matmul")
    def __matmul__(self, other: ArrayLike) -> _Array: ...
    @rule("matmul")
    def __rmatmul__(self, other: ArrayLike) -> _Array: ...

    # Elementwise: the dims of `self`.
    def __neg__(self: Shaped[_Array, "*shape"]) -> Shaped[_Array, "*shape"]: ...
    def __pos__(self: Shaped[_Array, "*shape"]) -> Shaped[_Array, "*shape"]: ...
    def __abs__(self: Shaped[_Array, "*shape"]) -> Shaped[_Array, "*shape"]: ...
    def __invert__(self: Shaped[_Array, "*shape"]) -> Shaped[_Array, "*shape"]: ...
    def astype(
        self: Shaped[_Array, "*shape"],
        dtype: DTypeLike | None = None,
        copy: bool = False,
        device: Any = None,
    ) -> Shaped[_Array, "*shape"]: ...
    def conj(self: Shaped[_Array, "*shape"]) -> Shaped[_Array, "*shape"]: ...
    def round(
        self: Shaped[_Array, "*shape"], decimals: int = 0, out: None = None
    ) -> Shaped[_Array, "*shape"]: ...
    def clip(
        self: Shaped[_Array, "*shape"], min: ArrayLike | None = None, max: ArrayLike | None = None
    ) -> Shaped[_Array, "*shape"]: ...
    def copy(self: Shaped[_Array, "*shape"]) -> Shaped[_Array, "*shape"]: ...
    def block_until_ready(self: Shaped[_Array, "*shape"]) -> Shaped[_Array, "*shape"]: ...
    # Flattened: one dim, of unknown size.
    def ravel(self: Shaped[_Array, "..."], order: str = "C") -> Shaped[_Array, " _"]: ...
    def flatten(self: Shaped[_Array, "..."], order: str = "C") -> Shaped[_Array, " _"]: ...

    # Reductions over `axis`.
    @reduction
    def sum(
        self,
        axis: Axis = None,
        dtype: DTypeLike | None = None,
        out: None = None,
        keepdims: bool = False,
        initial: ArrayLike | None = None,
        where: ArrayLike | None = None,
        promote_integers: bool = True,
    ) -> _Array: ...
    @reduction
    def prod(
        self,
        axis: Axis = None,
        dtype: DTypeLike | None = None,
        out: None = None,
        keepdims: bool = False,
        initial: ArrayLike | None = None,
        where: ArrayLike | None = None,
        promote_integers: bool = True,
    ) -> _Array: ...
    @reduction
    def mean(
        self,
        axis: Axis = None,
        dtype: DTypeLike | None = None,
        out: None = None,
        keepdims: bool = False,
        *,
        where: ArrayLike | None = None,
    ) -> _Array: ...
    @reduction
    def var(
        self,
        axis: Axis = None,
        dtype: DTypeLike | None = None,
        out: None = None,
        ddof: int = 0,
        keepdims: bool = False,
        *,
        where: ArrayLike | None = None,
        correction: int | float | None = None,
    ) -> _Array: ...
    @reduction
    def std(
        self,
        axis: Axis = None,
        dtype: DTypeLike | None = None,
        out: None = None,
        ddof: int = 0,
        keepdims: bool = False,
        *,
        where: ArrayLike | None = None,
        correction: int | float | None = None,
    ) -> _Array: ...
    @reduction
    def max(
        self,
        axis: Axis = None,
        out: None = None,
        keepdims: bool = False,
        initial: ArrayLike | None = None,
        where: ArrayLike | None = None,
    ) -> _Array: ...
    @reduction
    def min(
        self,
        axis: Axis = None,
        out: None = None,
        keepdims: bool = False,
        initial: ArrayLike | None = None,
        where: ArrayLike | None = None,
    ) -> _Array: ...
    @reduction
    def argmax(
        self, axis: int | None = None, out: None = None, keepdims: bool | None = None
    ) -> _Array: ...
    @reduction
    def argmin(
        self, axis: int | None = None, out: None = None, keepdims: bool | None = None
    ) -> _Array: ...
    @reduction
    def all(
        self, axis: Axis = None, out: None = None, keepdims: bool = False, *, where: Any = None
    ) -> _Array: ...
    @reduction
    def any(
        self, axis: Axis = None, out: None = None, keepdims: bool = False, *, where: Any = None
    ) -> _Array: ...

    # Rearranging: rules of the plugin's own. `x.reshape(2, -1)` and `x.reshape((2, -1))`
    # alike; `x.transpose()` reverses the dims, as `x.T` does.
    @rule("reshape")
    def reshape(self, *shape: int, order: str = "C", out_sharding: Any = None) -> _Array: ...
    @rule("transpose")
    def transpose(self, *axes: int) -> _Array: ...
    @rule("swapaxes")
    def swapaxes(self, axis1: int, axis2: int) -> _Array: ...
    @rule("dot")
    def dot(self, b: Shaped[_Array, "..."], **options: Any) -> _Array: ...
    @rule("squeeze")
    def squeeze(self, axis: Axis = None) -> _Array: ...
    @rule("take")
    def take(
        self,
        indices: Any,
        axis: int | None = None,
        out: None = None,
        mode: str | None = None,
        **options: Any,
    ) -> _Array: ...
    @checks_axis
    def sort(
        self: Shaped[_Array, "*shape"],
        axis: int | None = -1,
        *,
        kind: None = None,
        order: None = None,
        stable: bool = True,
        descending: bool = False,
    ) -> Shaped[_Array, "*shape"]: ...
    @checks_axis
    def argsort(
        self: Shaped[_Array, "*shape"],
        axis: int | None = -1,
        *,
        kind: None = None,
        order: None = None,
        stable: bool = True,
        descending: bool = False,
    ) -> Shaped[_Array, "*shape"]: ...
    @rule("index")
    def __getitem__(self, key: Any, /) -> _Array: ...
    @property
    @rule("transpose")
    def T(self) -> _Array: ...
    @property
    @rule("swap_last")
    def mT(self) -> _Array: ...
