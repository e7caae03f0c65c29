"""`CausalSelfAttention`: multi-head attention where each position sees only its past."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from ._kv_cache import KVCache
from ._linear import Linear
from ._softmax import Softmax
from ._typed import TypedModule

_Heads = Float[Array, "seq heads head_dim"]
_CachedHeads = Float[Array, "kv_seq heads head_dim"]


class CausalSelfAttention(TypedModule):
    """Multi-head causal self-attention, with an optional fixed-size `KVCache`.

    For each head `h`, with `q, k, v` the head's slices of the fused projection `W_qkv x`:

    `out_h = softmax(q k^T / sqrt(head_dim) + mask) v`, mask `-inf` where key > query,

    then the heads are concatenated and projected by `W_out`.

    Letter legend of the einsums: `s` query positions (`seq`), `S` key positions (`kv_seq`),
    `h` heads, `d` head_dim.

    **Arguments:** `embed_dim`; `num_heads` (must divide `embed_dim`); `use_bias`;
    `init_std`; `key`.
    """

    qkv_proj: Linear
    out_proj: Linear
    softmax: Softmax
    num_heads: int = eqx.field(static=True)

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        use_bias: bool = True,
        init_std: float = 0.02,
        key: PRNGKeyArray,
    ) -> None:
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}: "
                "choose embed_dim as a multiple of num_heads"
            )
        qkv_key, out_key = jax.random.split(key)
        self.qkv_proj = Linear(
            embed_dim, 3 * embed_dim, use_bias=use_bias, init_std=init_std, key=qkv_key
        )
        self.out_proj = Linear(
            embed_dim, embed_dim, use_bias=use_bias, init_std=init_std, key=out_key
        )
        self.softmax = Softmax(axis=-1)
        self.num_heads = num_heads

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        """**Arguments:** `x`, one sequence. **Returns:** the same shape."""
        query, key, value = self._project(x)
        seq = x.shape[0]
        mask = jnp.tril(jnp.ones((seq, seq), dtype=bool))
        return self._attend(query, key, value, mask)

    def decode(
        self, x: Float[Array, "seq embed"], cache: KVCache
    ) -> tuple[Float[Array, "seq embed"], KVCache]:
        """Attend from `x`, at positions `cache.position ...`, to the cache and to itself.

        **Arguments:** `x`, the next `seq` positions; `cache`, this layer's cache
        (`kv_seq heads head_dim`). **Returns:** the output and the cache with `x`'s keys and
        values written.
        """
        seq, capacity = x.shape[0], cache.keys.shape[-3]
        position = eqx.error_if(
            cache.position,
            cache.position + seq > capacity,
            f"the KV cache is full: writing {seq} more positions would pass its "
            f"{capacity} slots; start a new cache or shorten the sequence",
        )
        query, key, value = self._project(x)
        keys, values = self._write(cache.keys, cache.values, key, value, position)
        query_positions = position + jnp.arange(seq)
        key_positions = jnp.arange(keys.shape[0])
        mask = key_positions[None, :] <= query_positions[:, None]
        out = self._attend(query, keys, values, mask)
        return out, KVCache(keys=keys, values=values, position=position + seq)

    def _project(self, x: Float[Array, "seq embed"]) -> tuple[_Heads, _Heads, _Heads]:
        seq, embed = x.shape
        qkv = jax.vmap(self.qkv_proj)(x)
        heads = qkv.reshape(seq, 3, self.num_heads, embed // self.num_heads)
        return heads[:, 0], heads[:, 1], heads[:, 2]

    def _write(
        self,
        keys: _CachedHeads,
        values: _CachedHeads,
        new_keys: _Heads,
        new_values: _Heads,
        position: Int[Array, ""],
    ) -> tuple[_CachedHeads, _CachedHeads]:
        start = (position, jnp.int32(0), jnp.int32(0))
        keys = jax.lax.dynamic_update_slice(keys, new_keys.astype(keys.dtype), start)
        values = jax.lax.dynamic_update_slice(values, new_values.astype(values.dtype), start)
        return keys, values

    def _attend(
        self,
        query: _Heads,
        key: _CachedHeads,
        value: _CachedHeads,
        mask: Bool[Array, "seq kv_seq"],
    ) -> Float[Array, "seq embed"]:
        seq, _, head_dim = query.shape
        key, value = key.astype(query.dtype), value.astype(query.dtype)
        if seq == 1:
            # One query (a decoding step): products and sums over the cache as it is laid
            # out, where a batched matmul would first transpose the whole cache.
            scores = jnp.sum(query[0][None, :, :] * key, axis=-1).T[:, None, :]
        else:
            scores = jnp.einsum("shd,Shd->hsS", query, key)
        scores = scores / math.sqrt(head_dim)
        lowest = jnp.finfo(scores.dtype).min  # type: ignore[no-untyped-call]
        scores = jnp.where(mask[None, :, :], scores, lowest)
        weights = self.softmax(scores)
        if seq == 1:
            heads = jnp.sum(weights[:, 0, :].T[:, :, None] * value, axis=0)[None]
        else:
            heads = jnp.einsum("hsS,Shd->shd", weights, value)
        return jax.vmap(self.out_proj)(heads.reshape(seq, -1))
