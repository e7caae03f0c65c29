"""Correct code: sizes written as arguments. `x.shape[i]` is dim `i` of `x` and `x.shape` the
dims of `x`, and so is a local name set once to one of them; any other int, a literal too, is a
dim of unknown size."""

from typing import Literal, assert_type

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray


class Embedding:
    table: Float[Array, "vocab embed"]


def cross_entropy(
    logits: Float[Array, "seq vocab"], targets: Int[Array, " seq"]
) -> Float[Array, "seq vocab"]:
    return jax.nn.log_softmax(logits, axis=-1) * jax.nn.one_hot(targets, logits.shape[-1])


def made(x: Float[Array, "seq embed"], n: int, embedding: Embedding) -> None:
    assert_type(jnp.zeros(x.shape), Float[Array, "seq embed"])
    assert_type(jnp.ones((x.shape[0], 4)), Float[Array, "seq _"])
    assert_type(jnp.full((n, x.shape[-1]), 0.5), Float[Array, "_ embed"])
    assert_type(jnp.empty((*x.shape, 2)), Float[Array, "seq embed _"])
    assert_type(jnp.zeros(embedding.table.shape), Float[Array, "vocab embed"])
    assert_type(jnp.zeros(n), Float[Array, " _"])
    assert_type(jnp.arange(x.shape[0]), Int[Array, " seq"])
    assert_type(jnp.eye(x.shape[1]), Float[Array, "embed embed"])
    assert_type(jnp.arange(0, x.shape[0]), Int[Array, " seq"])
    assert_type(jnp.arange(0, n), Int[Array, " _"])
    assert_type(jnp.arange(1, n), Array)
    assert_type(jnp.arange(0, n, 2), Array)


def causal_mask(x: Float[Array, "seq embed"]) -> Float[Array, "seq seq"]:
    positions = jnp.arange(x.shape[0])
    return jnp.where(positions[:, None] >= positions[None, :], 0.0, -jnp.inf)


# A literal size is a dim of unknown size, so an array made of literal sizes may be returned,
# assigned or passed as dims by name (a fixed size would be a different type from a name).
def initial(embed: int) -> tuple[Float[Array, "embed mlp"], Float[Array, " mlp"]]:
    weight: Float[Array, "embed mlp"] = jnp.zeros((4, 16))
    return weight, jnp.arange(16.0)


def columns(x: Float[np.ndarray, "rows cols"]) -> Int[np.ndarray, " cols"]:
    return np.arange(x.shape[1])


def made_by_numpy(x: Float[np.ndarray, "rows cols"]) -> Float[np.ndarray, "rows cols"]:
    return x + np.zeros(x.shape) + np.ones((x.shape[0], 1)) + np.full(x.shape, 2.0)


# Around a variadic dim, only the places before it and the places after it are known.
def batched(x: Float[Array, "*batch seq embed"]) -> None:
    assert_type(jnp.zeros(x.shape[-1]), Float[Array, " embed"])
    assert_type(jnp.zeros((x.shape[-2], x.shape[-1])), Float[Array, "seq embed"])
    assert_type(jnp.zeros(x.shape[0]), Float[Array, " _"])
    assert_type(jnp.zeros(x.shape[-3]), Float[Array, " _"])
    assert_type(jnp.zeros(x.shape), Float[Array, "*batch seq embed"])


# A reshape's size given as `x.shape[i]` keeps the dim's name.
def split_heads(x: Float[Array, "seq embed"], heads: int) -> None:
    assert_type(x.reshape(x.shape[0], heads, -1), Float[Array, "seq _ _"])
    assert_type(jnp.reshape(x, (x.shape[0], heads, -1)), Float[Array, "seq _ _"])
    assert_type(jax.lax.reshape(x, (x.shape[0], x.shape[1])), Float[Array, "seq embed"])


# jax.random's samplers: `shape` as for `jnp.zeros`, `()` when left out.
def sampled(
    x: Float[Array, "seq embed"], logits: Float[Array, "batch vocab"], key: PRNGKeyArray
) -> None:
    assert_type(jax.random.normal(key, x.shape), Float[Array, "seq embed"])
    assert_type(jax.random.uniform(key, (x.shape[0], 3)), Float[Array, "seq _"])
    assert_type(jax.random.normal(key), Float[Array, ""])
    assert_type(jax.random.bernoulli(key, 0.1, x.shape), Bool[Array, "seq embed"])
    assert_type(jax.random.categorical(key, logits), Int[Array, " batch"])
    assert_type(jax.random.categorical(key, logits, axis=0), Int[Array, " vocab"])
    assert_type(jax.random.categorical(key, logits, shape=(2, 3)), Array)
    assert_type(jax.nn.logsumexp(logits, axis=-1), Float[Array, " batch"])


# broadcast_to, the gathers, and the functions that keep the dims.
def gathered(
    x: Float[Array, "seq embed"],
    bias: Float[Array, " embed"],
    table: Float[Array, "vocab embed"],
    tokens: Int[Array, " seq"],
    logp: Float[Array, "seq vocab"],
    y: Float[Array, "seq 1 embed"],
) -> None:
    assert_type(jnp.broadcast_to(bias, x.shape), Float[Array, "seq embed"])
    assert_type(jnp.take(table, tokens, axis=0), Float[Array, "seq embed"])
    assert_type(table.take(tokens, axis=0), Float[Array, "seq embed"])
    assert_type(jnp.take(table, tokens), Array)
    assert_type(jnp.take_along_axis(logp, tokens[:, None], axis=-1), Float[Array, "seq _"])
    assert_type(jnp.sort(x, axis=0), Float[Array, "seq embed"])
    assert_type(x.argsort(), Float[Array, "seq embed"])
    assert_type(jnp.sort(x, axis=None), Array)
    assert_type(jnp.flip(x, axis=0), Float[Array, "seq embed"])
    assert_type(jnp.roll(x, 1, axis=0), Float[Array, "seq embed"])
    assert_type(jnp.squeeze(y, axis=1), Float[Array, "seq embed"])
    assert_type(y.squeeze(1), Float[Array, "seq embed"])
    assert_type(jnp.squeeze(y), Array)


# NumPy's `sort` method sorts in place and returns None, unlike jax's.
def sorted_rows(x: Float[np.ndarray, "rows cols"]) -> Float[np.ndarray, "rows cols"]:
    assert_type(x.sort(axis=0), None)
    return np.sort(x, axis=0) + np.take(x, np.arange(x.shape[0]), axis=0)


# An axis padded by (0, 0) keeps its dim; a fixed size grows by the padding.
def padded(x: Float[Array, "seq embed"], y: Float[Array, "seq 4"]) -> None:
    assert_type(jnp.pad(x, ((0, 0), (1, 1))), Float[Array, "seq _"])
    assert_type(jnp.pad(x, ((2, 0), (0, 0))), Float[Array, "_ embed"])
    assert_type(jnp.pad(x, 0), Float[Array, "seq embed"])
    assert_type(jnp.pad(y, [(0, 0), (1, 3)]), Float[Array, "seq 8"])


# `dot` contracts as `@` does for vectors and matrices, and beyond them by its own rule;
# `outer` of two vectors has their dims.
def products(
    x: Float[Array, "batch seq embed"],
    w: Float[Array, "embed mlp"],
    positions: Float[Array, " seq"],
    inv_freq: Float[Array, " half"],
) -> None:
    assert_type(jnp.dot(x, w), Float[Array, "batch seq mlp"])
    assert_type(w.dot(w.T), Float[Array, "embed embed"])
    assert_type(jnp.outer(positions, inv_freq), Float[Array, "seq half"])
    assert_type(jnp.outer(x, w), Float[Array, "_ _"])


# `repeat` grows its axis and `tile` each axis tiled more than once; the others keep their dims.
def repeated(
    keys: Float[Array, "kv_seq kv_heads head_dim"], y: Float[Array, "seq 4"], group: int
) -> None:
    assert_type(jnp.repeat(keys, group, axis=1), Float[Array, "kv_seq _ head_dim"])
    assert_type(jnp.repeat(y, 3, axis=-1), Float[Array, "seq 12"])
    assert_type(jnp.repeat(y, 3), Array)
    assert_type(jnp.tile(y, (2, 1, 3)), Float[Array, "2 seq 12"])
    assert_type(jnp.tile(y, (group, 1)), Array)


# `split` gives a list of arrays with the dims of `x` but at `axis`.
def split_qkv(qkv: Float[Array, "seq three_embed"], y: Float[Array, "seq 12"]) -> None:
    q, k, v = jnp.split(qkv, 3, axis=-1)
    assert_type(q + k + v, Float[Array, "seq _"])
    assert_type(jnp.split(y, 3, axis=1), list[Float[Array, "seq 4"]])
    assert_type(jnp.split(y, [2, 5], axis=1), list[Float[Array, "seq _"]])


# nanoGPT's way: sizes unpacked from a shape once, then used as dims.
def heads_of_unpacked_sizes(x: Float[Array, "batch seq embed"], n_head: int) -> None:
    B, T, C = x.shape
    q = x.reshape(B, T, n_head, C // n_head)
    assert_type(q, Float[Array, "batch seq _ _"])
    assert_type(jnp.tril(jnp.ones((T, T))), Float[Array, "seq seq"])
    assert_type(jnp.arange(T), Int[Array, " seq"])
    assert_type(q.reshape(B, T, C), Float[Array, "batch seq embed"])


# A name set more than once, or set by a `:=` anywhere in its function, is of unknown size.
def sizes_set_twice(x: Float[Array, "seq embed"], y: Float[Array, "rows cols"], n: int) -> None:
    T, C = x.shape
    T, C = y.shape
    assert_type(jnp.zeros((T, C)), Float[Array, "_ _"])
    width = x.shape[-1]
    for _ in range(n):
        width += 1
    assert_type(jnp.zeros(width), Float[Array, " _"])


def sizes_and_a_walrus(x: Float[Array, "seq embed"]) -> None:
    T, C = x.shape
    if (n := T) > 2:
        assert_type(jnp.zeros((T, C, n)), Float[Array, "_ _ _"])


def sizes_after_a_variadic_dim(x: Float[Array, "*batch seq embed"]) -> None:
    T, C = x.shape
    assert_type(jnp.zeros((T, C)), Float[Array, "seq embed"])
    A, T2, C2 = x.shape
    assert_type(jnp.zeros((A, T2, C2)), Float[Array, "_ seq embed"])


# `x.at[key]` updates: the result has the dims of `x`; `.get()` is `x[key]`.
def cache_written_at(
    cache: Float[Array, "kv_seq heads head_dim"], k: Float[Array, "heads head_dim"], pos: int
) -> None:
    assert_type(cache.at[pos].set(k), Float[Array, "kv_seq heads head_dim"])
    assert_type(cache.at[pos].add(1.0), Float[Array, "kv_seq heads head_dim"])
    assert_type(cache.at[pos, :, 0].set(k[:, 0]), Float[Array, "kv_seq heads head_dim"])
    assert_type(cache.at[:, 0].get(), Float[Array, "kv_seq head_dim"])
    assert_type(cache.at[pos].apply(jnp.exp), Float[Array, "kv_seq heads head_dim"])
    ref = cache.at[pos]
    assert_type(ref.set(k), Array)  # not written as one call: jax's own result


# `x.shape` is a tuple of the array's rank (a fixed size is its literal); with a variadic dim,
# of any length.
def shapes_as_tuples(x: Float[Array, "seq 4"], y: Float[Array, "*batch seq embed"]) -> None:
    assert_type(x.shape, tuple[int, Literal[4]])
    assert_type(y.shape, tuple[int, ...])
    *batch, T, C = y.shape
    B, T2, C2 = y.shape
    assert_type(jnp.zeros((T, C)), Float[Array, "seq embed"])
    del batch, B, T2, C2


def flattened(x: Float[Array, "seq embed"], y: Float[np.ndarray, "rows cols"]) -> None:
    assert_type(x.ravel(), Float[Array, " _"])
    assert_type(jnp.ravel(x), Float[Array, " _"])
    assert_type(x.flatten() * 2.0, Float[Array, " _"])
    assert_type(jnp.asarray(np.ravel(y)), Float[Array, " _"])


# jax.lax.top_k: values and indices with `k`'s dim at `axis` (a literal `k` is of unknown size).
def top_k_filtered(logits: Float[Array, "seq vocab"], k: int) -> Float[Array, "seq vocab"]:
    values, indices = jax.lax.top_k(logits, 5)
    assert_type(values, Float[Array, "seq _"])
    assert_type(jax.lax.top_k(logits, logits.shape[0], axis=0)[1], Float[Array, "seq vocab"])
    del indices
    return jnp.where(logits >= values[:, -1:], logits, -jnp.inf)
