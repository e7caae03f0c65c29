"""Tests for `typedgpt/_shape_error.py`: the messages for an axis bound by a variadic dim, and
the fix a message gives for a value with one axis too many, by what that value is."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

import typedgpt as tg
from tests.shape_errors import assert_shape_error

# Distinct sizes, so a swapped axis cannot pass: layers 2, seq 3, embed 5, batch (2, 3).


class Pair(tg.TypedModule):
    """Two arrays over the same leading axes, the second with nothing after them."""

    def __call__(
        self, x: Float[Array, "*batch embed"], y: Float[Array, "*batch"]
    ) -> Float[Array, ""]:
        return x.sum() + y.sum()


def test_a_variadic_axis_alone_names_its_conflict() -> None:
    # `y`'s annotation is the variadic dim alone: the axes it disagrees on are still named.
    error = assert_shape_error(
        lambda: Pair()(jnp.ones((2, 3, 5)), jnp.ones((2, 7))),
        [
            'Pair.__call__:\n  axes "*batch" are (2, 3) from argument "x" (float32[2, 3, 5]) '
            'but (2, 7) in argument "y" (float32[2, 7])\n'
            '  argument "y": expected (*batch,) = (2, 3), got float32[2, 7]'
        ],
    )
    assert "(2, 3,)" not in error


class Twice(tg.TypedModule):
    """Returns one axis more than it promises: the method's own mistake."""

    def __call__(self, x: Float[Array, " seq"]) -> Float[Array, " seq"]:
        return jnp.stack([x, x])  # type: ignore[return-value]


def test_a_return_value_with_an_axis_too_many_gets_no_vmap_fix() -> None:
    # Mapping the call over a batch would not help: the method returns the wrong rank.
    message = assert_shape_error(
        lambda: Twice()(jnp.ones(3)),
        ["the return value: expected (seq,) = (3,), got float32[2, 3] (2 axes, not 1)"],
    )
    assert "vmap" not in message


def test_an_argument_with_an_axis_too_many_is_a_batch() -> None:
    assert_shape_error(
        lambda: tg.RMSNorm(5)(jnp.ones((3, 5))),  # type: ignore[shape]
        [
            'argument "x": expected (embed,) = (5,), got float32[3, 5] (2 axes, not 1): '
            "for a batch, map the call over its first axis with jax.vmap"
        ],
    )


def test_a_field_with_an_axis_too_many_is_a_stack_of_layers() -> None:
    # GPT.blocks holds its layers stacked; called as one block, a norm's weight has an axis
    # more. Mapping the call over the input would not help.
    config = tg.GPTConfig(
        vocab_size=11, max_seq_len=13, num_layers=2, num_heads=1, embed_dim=5, mlp_dim=7
    )
    stacked = tg.GPT(config, key=jax.random.key(0)).blocks
    message = assert_shape_error(
        lambda: stacked(jnp.ones((3, 5))),
        [
            'LayerNorm.__call__ at Block.norm1:\n  field "weight": expected (embed,), got '
            "float32[2, 5] (2 axes, not 1): if the module is a stack of layers (as GPT.blocks "
            "is), call one layer (GPT.unstacked_blocks() gives them) or map the call over the "
            "stack with eqx.filter_vmap"
        ],
    )
    assert "jax.vmap" not in message
