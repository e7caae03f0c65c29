# mypy: allow-redefinition
"""Correct code that reassigns a name to arrays of other dims, as NumPy code does. With
`allow_redefinition` (which docs/static-checking.md asks for: here it is set for this file
only, so that the rest of the corpus runs with mypy's default), each assignment gives the
variable the dims of its value."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def mlp(
    x: Float[Array, "seq embed"], up: Float[Array, "embed mlp"], down: Float[Array, "mlp embed"]
) -> Float[Array, "seq embed"]:
    h = x @ up
    h = jax.nn.gelu(h)
    h = h @ down
    return h


def heads_first(h: Float[Array, "seq heads head_dim"]) -> Float[Array, "heads seq head_dim"]:
    h = jnp.transpose(h, (1, 0, 2))  # a parameter, reassigned
    return h


def row_sums(x: Float[Array, "seq embed"], squash: bool) -> Float[Array, " seq"]:
    y = x
    y = jnp.sum(y, axis=-1)
    if squash:
        y = jnp.tanh(y)
    return y


# Moving axes: `swapaxes` and `moveaxis` with literal axes, and `@` where the first operand
# has a variadic dim before the contracted one.
def split_heads(x: Float[Array, "seq heads head_dim"]) -> Float[Array, "heads seq head_dim"]:
    return jnp.swapaxes(x, 0, 1)


def keys_last(k: Float[Array, "heads kv_seq head_dim"]) -> Float[Array, "heads head_dim kv_seq"]:
    return k.swapaxes(-1, -2)


def heads_to_front(x: Float[Array, "seq heads head_dim"]) -> Float[Array, "heads head_dim seq"]:
    return jnp.moveaxis(x, (1, 2), (0, 1))


def project(x: Float[Array, "*batch in"], w: Float[Array, "out in"]) -> Float[Array, "*batch out"]:
    return x @ w.T


def score(x: Float[Array, "*batch embed"], v: Float[Array, " embed"]) -> Float[Array, "*batch"]:
    return x @ v
