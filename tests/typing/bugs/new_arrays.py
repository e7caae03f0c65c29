"""Seeded bugs: sizes written as arguments, `x.shape[i]` and `x.shape`, that name the wrong dims."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray


def bias_of_the_other_dim(x: Float[Array, "seq embed"]) -> None:
    y = x + jnp.zeros(x.shape[0])  # G: [shape] "+" broadcasts (seq, embed) and (seq,): dim -1 is embed in one, seq in the other
    del y


def positions_of_embed(x: Float[Array, "seq embed"], table: Float[Array, "positions embed"]) -> None:
    y = x + table[jnp.arange(x.shape[1])]  # E: [shape] "+" broadcasts (seq, embed) and (embed, embed): dim -2 is seq in one, embed in the other
    del y


def one_hot_of_seq(logits: Float[Array, "seq vocab"], targets: Int[Array, " seq"]) -> None:
    y = logits * jax.nn.one_hot(targets, logits.shape[0])  # E: [shape] "*" broadcasts (seq, vocab) and (seq, seq): dim -1 is vocab in one, seq in the other
    del y


def numpy_zeros_transposed(x: Float[np.ndarray, "rows cols"]) -> None:
    y = x + np.zeros((x.shape[1], x.shape[0]))  # E: [shape] "+" broadcasts (rows, cols) and (cols, rows)
    del y


def merge_heads_wrong_axis(q: Float[Array, "seq heads head_dim"], x: Float[Array, "seq embed"]) -> None:
    merged = q.reshape(q.shape[1], -1)
    y = x + merged  # E: [shape] "+" broadcasts (seq, embed) and (heads, _): dim -2 is seq in one, heads in the other
    del y


def dropout_of_transposed_mask(x: Float[Array, "seq embed"], key: PRNGKeyArray) -> None:
    keep = jax.random.bernoulli(key, 0.9, (x.shape[1], x.shape[0]))
    y = jnp.where(keep, x, 0.0)  # E: [shape] "where" broadcasts (embed, seq) and (seq, embed) and (): dim -1 is seq in one, embed in the other
    del y


def sampled_over_the_batch(logits: Float[Array, "batch vocab"], key: PRNGKeyArray) -> Int[Array, " batch"]:
    return jax.random.categorical(key, logits, axis=0)  # E: [return-value] got "Array[Literal['vocab']]", expected "Array[Literal['batch']]"


def bias_of_the_wrong_width(x: Float[Array, "seq embed"], bias: Float[Array, " mlp"]) -> None:
    y = jnp.broadcast_to(bias, x.shape)  # E: [shape] "broadcast_to" broadcasts (mlp,) and (seq, embed): dim -1 is mlp in one, embed in the other
    del y


def lookup_of_the_wrong_axis(table: Float[Array, "vocab embed"], tokens: Int[Array, " seq"], x: Float[Array, "seq embed"]) -> None:
    y = x + jnp.take(table, tokens, axis=1)  # E: [shape] "+" broadcasts (seq, embed) and (vocab, seq): dim -1 is embed in one, seq in the other
    del y


def picked_without_the_new_axis(logp: Float[Array, "seq vocab"], targets: Int[Array, " seq"]) -> None:
    picked = jnp.take_along_axis(logp, targets, axis=-1)  # G: [shape] take_along_axis: argument "indices" has dims (seq,) where "arr" has (seq, vocab): both must have the same number of dims
    del picked


def squeezed_a_named_axis(x: Float[Array, "seq 4 embed"]) -> None:
    y = jnp.squeeze(x, axis=1)  # E: [shape] squeeze: axis 1 of (seq, 4, embed) has size 4: only a dim of size 1 is squeezed
    del y


def padded_the_kept_axis(x: Float[Array, "seq embed"], w: Float[Array, "embed mlp"]) -> None:
    y = jnp.pad(x, ((0, 0), (0, 0))).T @ w  # E: [shape] "@" contracts seq (the last dim of (embed, seq)) with embed
    del y


def pad_width_of_another_rank(x: Float[Array, "seq embed"]) -> None:
    y = jnp.pad(x, ((0, 0), (0, 0), (1, 1)))  # E: [shape] pad: (seq, embed) has 2 dims but pad_width has 3 pairs
    del y


def dot_of_untransposed_weight(x: Float[Array, "seq embed"], w: Float[Array, "mlp embed"]) -> None:
    y = jnp.dot(x, w)  # E: [shape] dot contracts embed (the last dim of (seq, embed)) with mlp (the second-to-last dim of (mlp, embed))
    del y


def rotary_angles_swapped(positions: Float[Array, " seq"], inv_freq: Float[Array, " half"], x: Float[Array, "seq half"]) -> None:
    y = x * jnp.outer(inv_freq, positions)  # E: [shape] "*" broadcasts (seq, half) and (half, seq): dim -1 is half in one, seq in the other
    del y


def heads_repeated_along_positions(keys: Float[Array, "kv_seq kv_heads head_dim"], q: Float[Array, "seq heads head_dim"]) -> None:
    scores = jnp.einsum("shd,Shd->hsS", q, jnp.repeat(keys, 2, axis=0))  # E: [shape] einsum "shd,Shd->hsS": h is heads in operand 1 but kv_heads in operand 2
    del scores


def split_along_positions(qkv: Float[Array, "seq three_embed"], w: Float[Array, "embed mlp"]) -> None:
    q, _, _ = jnp.split(qkv, 3, axis=0)
    y = q @ w  # E: [shape] "@" contracts three_embed (the last dim of (_, three_embed)) with embed
    del y


def split_unevenly(x: Float[Array, "seq 10"]) -> None:
    parts = jnp.split(x, 4, axis=1)  # E: [shape] split: axis 1 of (seq, 10) has size 10, which 4 sections do not divide
    del parts


def mask_of_the_query_length(q: Float[Array, "seq head_dim"], k: Float[Array, "kv_seq head_dim"]) -> None:
    T, _ = q.shape
    scores = q @ k.T
    mask = jnp.tril(jnp.ones((T, T)))
    y = scores * mask  # E: [shape] "*" broadcasts (seq, kv_seq) and (seq, seq): dim -1 is kv_seq in one, seq in the other
    del y


def heads_merged_from_the_wrong_sizes(x: Float[Array, "batch seq embed"], w: Float[Array, "embed embed"]) -> None:
    B, T, C = x.shape
    q = x.reshape(B, T, 4, -1)
    merged = q.reshape(B, C, T)
    y = merged @ w  # E: [shape] "@" contracts seq (the last dim of (batch, embed, seq)) with embed
    del y


# `x.shape` of a jax array of known rank is a tuple of that many ints: mypy itself checks it.
def unpacked_into_too_many_names(x: Float[Array, "seq embed"]) -> None:
    B, T, C = x.shape  # E: [misc] Need more than 2 values to unpack (3 expected)
    del B, T, C


def shape_index_out_of_range(x: Float[Array, "seq embed"]) -> None:
    n = x.shape[2]  # E: [misc] Tuple index out of range
    del n


def flattened_then_summed_over_rows(x: Float[Array, "seq embed"]) -> None:
    flat = x.ravel()
    total = jnp.sum(flat, axis=1)  # E: [shape] sum: axis 1 is out of range for (_,), which has 1 dim
    del total


def top_k_of_a_missing_axis(logits: Float[Array, "seq vocab"]) -> None:
    found = jax.lax.top_k(logits, 3, axis=2)  # E: [shape] top_k: axis 2 is out of range for (seq, vocab), which has 2 dims
    del found

