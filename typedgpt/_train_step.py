"""The training step: the masked next-token loss of a batch, and one AdamW update of the
model's leaves with it, which `train` runs in a `jax.jit`-compiled `lax.scan`."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int

from ._gpt import GPT
from ._loss import head_cross_entropy


def batch_loss(
    model: GPT,
    inputs: Int[Array, "batch seq"],
    targets: Int[Array, "batch seq"],
    mask: Float[Array, "batch seq"],
) -> Float[Array, ""]:
    """Mean cross-entropy of the next token over the positions where `mask` is 1.

    The head and the loss run together, in chunks of positions (`head_cross_entropy`): the
    `batch seq vocab` logits are never made whole, nor their gradient.
    """
    hidden = jax.vmap(model.hidden)(inputs)
    weights = mask / jnp.maximum(jnp.sum(mask), 1.0)
    return head_cross_entropy(hidden, model.head_weight, targets, weights)


def make_train_step(
    treedef: Any, optimizer: optax.GradientTransformation
) -> Callable[[tuple[list[Array], Any], tuple[Array, Array, Array]], Any]:
    """One training step on the model's leaves, the function `train` runs (not jitted).

    `step((leaves, opt_state), (inputs, targets, mask))` returns `((leaves, opt_state),
    loss)`: the loss is `batch_loss` before the update, or NaN when any updated parameter is
    not finite.
    """

    def loss_of(leaves: list[Array], inputs: Array, targets: Array, mask: Array) -> Array:
        return batch_loss(jax.tree.unflatten(treedef, leaves), inputs, targets, mask)

    def step(
        state: tuple[list[Array], Any], batch: tuple[Array, Array, Array]
    ) -> tuple[tuple[list[Array], Any], Array]:
        leaves, opt_state = state
        loss, grads = jax.value_and_grad(loss_of)(leaves, *batch)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes Python floats and int32
            updates, opt_state = optimizer.update(grads, opt_state, leaves)
        leaves = optax.apply_updates(leaves, updates)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))
        return (leaves, opt_state), jnp.where(finite, loss, jnp.nan)

    return step
