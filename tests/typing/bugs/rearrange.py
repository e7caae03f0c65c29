# mypy: allow-redefinition
"""Seeded bugs: a name reassigned, axes swapped or moved, arrays stacked or indexed, `@` under
a variadic dim."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def mlp_returns_hidden(
    x: Float[Array, "seq embed"], up: Float[Array, "embed mlp"], down: Float[Array, "mlp embed"]
) -> Float[Array, "seq mlp"]:
    h = x @ up
    h = jax.nn.gelu(h)
    h = h @ down
    return h  # E: [return-value] (got "Array[Literal['seq'], Literal['embed']]", expected "Array[Literal['seq'], Literal['mlp']]")


def swap_wrong_axes(x: Float[Array, "seq heads head_dim"]) -> Float[Array, "heads seq head_dim"]:
    return jnp.swapaxes(x, 1, 2)  # E: [return-value] (got "Array[Literal['seq'], Literal['head_dim'], Literal['heads']]"


def swap_missing_axis(x: Float[Array, "seq heads head_dim"]) -> None:
    jnp.swapaxes(x, 0, 3)  # E: [shape] swapaxes: axis 3 is out of range for (seq, heads, head_dim), which has 3 dims


def move_wrong_way(x: Float[Array, "seq heads head_dim"]) -> Float[Array, "heads seq head_dim"]:
    return jnp.moveaxis(x, 0, -1)  # E: [return-value] (got "Array[Literal['heads'], Literal['head_dim'], Literal['seq']]"


def project_untransposed(x: Float[Array, "*batch in"], w: Float[Array, "out in"]) -> None:
    y = x @ w  # E: [shape] "@" contracts in (the last dim of (*batch, in)) with out (the second-to-last dim of (out, in))
    del y


def stacked_keys_and_queries(q: Float[Array, "seq head_dim"], k: Float[Array, "kv_seq head_dim"]) -> None:
    both = jnp.stack([q, k])  # E: [shape] stack needs arrays of one shape, got (seq, head_dim), (kv_seq, head_dim): stack arrays of equal dims, or join them along an axis with jnp.concatenate
    del both


def indexed_a_scalar(loss: Float[Array, ""]) -> None:
    first = loss[0]  # E: [shape] "loss[...]": index with 1 entry for (), which has 0 dims
    del first
