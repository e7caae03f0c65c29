"""Seeded bugs: the cross-entropy loss."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int


def cross_entropy(logits: Float[Array, "seq vocab"], targets: Int[Array, " seq"]) -> Float[Array, ""]:
    logp = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.sum(logp * jax.nn.one_hot(targets, logits.shape[-1]), axis=-1)
    return -jnp.mean(picked)


def targets_of_batch(logits: Float[Array, "seq vocab"], targets: Int[Array, "batch seq"]) -> None:
    cross_entropy(logits, targets)  # E: [shape] cross_entropy: argument "targets" has dims (batch, seq) where (seq,) is expected


def loss_per_position(logits: Float[Array, "seq vocab"], targets: Int[Array, " seq"]) -> Float[Array, ""]:
    logp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.sum(logp, axis=-1)  # G: [return-value] got "Array[Literal['seq']]", expected "Array[()]"


def one_hot_of_wrong_size(logits: Float[Array, "seq 27"], targets: Int[Array, " seq"]) -> None:
    y = logits * jax.nn.one_hot(targets, 26)  # E: [shape] "*" broadcasts (seq, 27) and (seq, 26): dim -1 is 27 in one, 26 in the other
    del y


def mean_over_vocab(logits: Float[Array, "seq vocab"]) -> Float[Array, " vocab"]:
    return jnp.mean(logits, axis=-1)  # E: [return-value] got "Array[Literal['seq']]", expected "Array[Literal['vocab']]"


def logits_swapped(logits: Float[Array, "vocab seq"], targets: Int[Array, " seq"]) -> None:
    cross_entropy(logits, targets)  # E: [shape] cross_entropy: argument "targets" has dims (seq,) where (vocab,) is expected ("seq" is vocab, from argument "logits")


def reduce_missing_axis(logits: Float[Array, "seq vocab"]) -> None:
    m = jnp.max(logits, axis=2)  # E: [shape] max: axis 2 is out of range for (seq, vocab), which has 2 dims
    del m



# jnp.linalg.norm is a jit-wrapped object to mypy (its module has no .pyi): a call is checked
# through its stub all the same.
def rows_normalized_over_positions(x: Float[Array, "seq embed"]) -> None:
    lengths = jnp.linalg.norm(x, axis=0)
    y = x / lengths[:, None]  # E: [shape] "/" broadcasts (seq, embed) and (embed, _): dim -2 is seq in one, embed in the other
    del y
