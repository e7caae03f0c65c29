"""`jax.numpy.linalg`: what its functions do to the dims of arrays. See `__init__.py`."""

from collections.abc import Sequence
from typing import TypeAlias

from jaxtyping import Array, Shaped

from . import reduction

MODULES = ("jax.numpy.linalg", "jax._src.numpy.linalg")

Axis: TypeAlias = int | Sequence[int] | None

# A vector norm over one axis, a matrix norm over two, the whole array's over None: a
# reduction whatever `ord` is.

@reduction
def norm(
    x: Shaped[Array, "..."],
    ord: int | str | None = None,
    axis: Axis = None,
    keepdims: bool = False,
) -> Shaped[Array, "..."]: ...
