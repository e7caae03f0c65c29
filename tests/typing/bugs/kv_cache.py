"""Seeded bugs: the KV cache."""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

import typedgpt as tg


def write(
    cache: Float[Array, "kv_seq heads head_dim"],
    new: Float[Array, "seq heads head_dim"],
    position: Int[Array, ""],
) -> Float[Array, "kv_seq heads head_dim"]:
    start = (position, jnp.int32(0), jnp.int32(0))
    return jax.lax.dynamic_update_slice(cache, new, start)


def write_merged_heads(
    cache: Float[Array, "kv_seq heads head_dim"], new: Float[Array, "seq embed"], position: Int[Array, ""]
) -> None:
    out = jax.lax.dynamic_update_slice(cache, new, (position, jnp.int32(0), jnp.int32(0)))  # G: [shape] the update (seq, embed) must have the rank of the operand (kv_seq, heads, head_dim)
    del out


def write_returns_the_update(
    cache: Float[Array, "kv_seq heads head_dim"], new: Float[Array, "seq heads head_dim"], position: Int[Array, ""]
) -> Float[Array, "kv_seq heads head_dim"]:
    write(cache, new, position)
    return new  # E: [return-value] got "Array[Literal['seq'], Literal['heads'], Literal['head_dim']]"


def cache_of_another_layout(
    cache: Float[Array, "heads kv_seq head_dim"], new: Float[Array, "seq heads head_dim"], position: Int[Array, ""]
) -> None:
    write(cache, new, position)  # E: [shape] write: argument "new" has dims (seq, heads, head_dim) where (seq, kv_seq, head_dim) is expected ("heads" is kv_seq, from argument "cache")


def write_at_transposed(cache: Float[Array, "kv_seq heads head_dim"], k: Float[Array, "heads head_dim"], pos: int) -> None:
    out = cache.at[pos].set(k.T)  # E: [shape] "cache.at[...].set" broadcasts (head_dim, heads) and (heads, head_dim): dim -1 is heads in one, head_dim in the other
    del out


def write_at_every_position(cache: Float[Array, "kv_seq heads head_dim"], new: Float[Array, "seq heads head_dim"], pos: int) -> None:
    out = cache.at[pos].set(new)  # E: [shape] "cache.at[...].set": values of dims (seq, heads, head_dim) have more dims than (heads, head_dim)
    del out


def layer_slice(keys: Float[Array, "layers kv_seq heads head_dim"]) -> Float[Array, "kv_seq heads head_dim"]:
    return keys[0]


def layer_slice_twice(keys: Float[Array, "layers kv_seq heads head_dim"]) -> Float[Array, "kv_seq heads head_dim"]:
    return keys[0, 0]  # E: [return-value] got "Array[Literal['heads'], Literal['head_dim']]"


def too_many_indices(keys: Float[Array, "kv_seq heads head_dim"]) -> None:
    k = keys[0, 0, 0, 0]  # E: [shape] "keys[...]": index with 4 entries for (kv_seq, heads, head_dim), which has 3 dims
    del k


def append_along_heads(
    keys: Float[Array, "kv_seq heads head_dim"], new: Float[Array, "seq heads head_dim"]
) -> None:
    grown = jnp.concatenate([keys, new], axis=1)  # E: [shape] concatenate along axis 1: dim 0 is kv_seq in one array and seq in another
    del grown


def grow_fixed(a: Float[Array, "8 heads head_dim"], b: Float[Array, "4 heads head_dim"]) -> Float[Array, "16 heads head_dim"]:
    return jnp.concatenate([a, b], axis=0)  # E: [return-value] got "Array[Literal[12], Literal['heads'], Literal['head_dim']]"


def attend_cache(
    q: Float[Array, "seq heads head_dim"], cache: Float[Array, "kv_seq heads head_dim"]
) -> Float[Array, "heads seq kv_seq"]:
    return jnp.einsum("shd,Shd->hsS", q, cache)


def attend_cache_transposed(q: Float[Array, "seq heads head_dim"], cache: Float[Array, "heads kv_seq head_dim"]) -> None:
    attend_cache(q, cache)  # E: [shape] attend_cache: argument "cache" has dims (heads, kv_seq, head_dim) where (kv_seq, heads, head_dim) is expected


def decode_with_cache(attn: tg.CausalSelfAttention, x: Float[Array, " embed"], cache: tg.KVCache) -> None:
    attn.decode(x, cache)  # E: [shape] CausalSelfAttention.decode: argument "x" has dims (embed,) where (seq, embed) is expected
