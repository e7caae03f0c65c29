"""`Softmax`: normalised exponentials along one axis, computed in float32 at least."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._typed import TypedModule


class Softmax(TypedModule):
    """`softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x)` along `axis`.

    Computed in float32 (or wider, for float64 input) and cast back to the input's dtype,
    so bfloat16 logits do not lose the normalisation.

    **Arguments:** `axis`, the axis to normalise over (default the last).
    """

    axis: int = eqx.field(static=True, default=-1)

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """**Arguments:** `x`, any shape with `axis`. **Returns:** the same shape, summing to 1
        on `axis`."""
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(
                f"Softmax(axis={self.axis}) needs an array with that axis, got {x.ndim} axes "
                f"(shape {tuple(x.shape)}): pass an array with at least "
                f"{self.axis + 1 if self.axis >= 0 else -self.axis} axes or change axis"
            )
        wide = x.astype(jnp.float64 if x.dtype == jnp.float64 else jnp.float32)
        return jax.nn.softmax(wide, axis=self.axis).astype(x.dtype)
