"""`Softmax`: normalised exponentials along one axis, computed in float32 at least."""

import functools
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._text import is_int
from ._typed import TypedModule


def _axis(axis: Any) -> int:
    """`axis` as an int (a NumPy integer is one), else a `ValueError`: a float would fail
    inside JAX, and a bool would be taken as axis 0 or 1."""
    if not is_int(axis):
        raise ValueError(f"Softmax: axis must be an int, got {axis!r}: pass -1 for the last axis")
    return int(axis)


class Softmax(TypedModule):
    """`softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x)` along `axis`.

    Computed in float32 (or wider, for float64 input) and cast back to the input's dtype,
    so bfloat16 logits do not lose the normalisation.

    **Arguments:** `axis`, the axis to normalise over (default the last), an int (anything
    else raises `ValueError`).
    """

    axis: int = eqx.field(static=True, default=-1, converter=_axis)

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """**Arguments:** `x`, any shape with `axis`. **Returns:** the same shape and dtype,
        summing to 1 on `axis`. An `x` without that axis raises `ValueError`."""
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(
                f"Softmax(axis={self.axis}) needs an array with that axis, got {x.ndim} axes "
                f"(shape {tuple(x.shape)}): pass an array with at least "
                f"{self.axis + 1 if self.axis >= 0 else -self.axis} axes or change axis"
            )
        if x.dtype in (jnp.float32, jnp.float64):
            return softmax(x, self.axis)  # no casts, so the backward pass keeps one array
        return softmax(x.astype(jnp.float32), self.axis).astype(x.dtype)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def softmax(x: Float[Array, "..."], axis: int) -> Float[Array, "..."]:
    """`jax.nn.softmax(x, axis=axis)`, whose derivative keeps only the output `y`.

    Autodiff of `jax.nn.softmax` (JAX's default, `jax_softmax_custom_jvp` off) keeps the
    exponentials, their sum and more for the backward pass: in attention each is a
    `heads seq seq` array per layer. The tangent is written out instead,
    `dy = y (dx - sum(y dx))`, which needs `y` alone.
    """
    return jax.nn.softmax(x, axis=axis)


@softmax.defjvp
def _softmax_jvp(
    axis: int, primals: tuple[Float[Array, "..."]], tangents: tuple[Float[Array, "..."]]
) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    (x,), (dx,) = primals, tangents
    y = softmax(x, axis)
    return y, y * (dx - jnp.sum(y * dx, axis=axis, keepdims=True))
