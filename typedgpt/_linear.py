"""`Linear`: an affine map of one vector, `y = W x + b`."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._typed import TypedModule


class Linear(TypedModule):
    """An affine map `y = W x + b` of one vector; batch it with `jax.vmap`.

    **Arguments:**

    - `in_features`, `out_features`: the sizes of `x` and `y`.
    - `use_bias`: whether to add a bias `b` (initialised to zero).
    - `init_std`: the standard deviation of the normal draw for `W`.
    - `key`: a `jax.random.key`.

    **Fields:** `weight` with shape `(out, in)` and `bias` with shape `(out,)` or `None`.
    """

    weight: Float[Array, "out in"]
    bias: Float[Array, " out"] | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        use_bias: bool = True,
        init_std: float = 0.02,
        key: PRNGKeyArray,
    ) -> None:
        self.weight = init_std * jax.random.normal(key, (out_features, in_features))
        self.bias = jnp.zeros((out_features,)) if use_bias else None

    def __call__(self, x: Float[Array, " in"]) -> Float[Array, " out"]:
        """**Arguments:** `x`, a vector of size `in`. **Returns:** a vector of size `out`."""
        y = self.weight @ x
        if self.bias is not None:
            y = y + self.bias
        return y
