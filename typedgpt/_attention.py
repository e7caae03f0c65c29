"""`CausalSelfAttention`: multi-head attention where each position sees only its past, with
grouped-query attention and rotary position embeddings as options."""

import math
from typing import Any, Generic

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray
from typing_extensions import TypeVar

from ._config import check_flag, check_key, check_number, check_size
from ._kv_cache import KVCache
from ._linear import Linear
from ._rope import Rotary
from ._softmax import Softmax
from ._text import is_int
from ._typed import TypedModule

# The residual width `embed` as a type parameter, as for `Linear`: mypy with
# typedgpt.mypy_plugin reads `CausalSelfAttention[Literal["embed"]]` as an attention over
# embed vectors. The fused projection's width is left unnamed.
Embed = TypeVar("Embed", default=Any)

_Queries = Float[Array, "seq heads head_dim"]
_Keys = Float[Array, "seq kv_heads head_dim"]
_CachedKeys = Float[Array, "kv_seq kv_heads head_dim"]


class CausalSelfAttention(TypedModule, Generic[Embed]):
    """Multi-head causal self-attention, with an optional fixed-size `KVCache`.

    For each query head `h`, with `q_h` the head's slice of the fused projection `W_qkv x`
    and `k, v` the slices of its key/value head `h // (heads / kv_heads)`:

    `out_h = softmax(q_h k^T / sqrt(head_dim) + mask) v`, with `mask` the lowest finite
    value of the scores' dtype where key > query (0 elsewhere),

    then the heads are concatenated and projected by `W_out`. The fused projection emits
    `(heads + 2 kv_heads) head_dim` features laid out as all queries, then all keys, then
    all values. With `kv_heads == heads` (the default) this is GPT-2's multi-head attention;
    with fewer key/value heads it is grouped-query attention (Ainslie et al.), each group of
    `heads / kv_heads` query heads sharing one key/value head, and with `kv_heads == 1`
    multi-query attention (Shazeer). The KV cache holds `kv_heads` heads, so it shrinks by
    the same factor. With `rotary`, queries and keys are rotated by their positions before
    the scores (and keys are cached rotated).

    Letter legend of the einsums: `s` query positions (`seq`), `S` key positions (`kv_seq`),
    `k` key/value heads (`kv_heads`), `g` query heads per key/value head, `r` the rows of
    one key/value head's queries (`g` times `s`), `d` head_dim.

    **Arguments:** `embed_dim`; `num_heads` (must divide `embed_dim`); `num_kv_heads`, the
    key/value heads (must divide `num_heads`; `None` means `num_heads`); `rotary`, a
    `Rotary` embedding for queries and keys, or `None`; `use_bias`; `init_std`; `key`.
    Sizes that break these rules or are not positive ints, an odd `head_dim` with `rotary`,
    or a `use_bias` or `init_std` that `Linear` refuses raise `ValueError`; a `rotary` that
    is not a `Rotary`, `TypeError`.
    """

    qkv_proj: Linear[Embed, Any]
    out_proj: Linear[Any, Embed]
    softmax: Softmax
    rotary: Rotary | None
    num_heads: int = eqx.field(static=True)
    num_kv_heads: int = eqx.field(static=True)

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        num_kv_heads: int | None = None,
        rotary: Rotary | None = None,
        use_bias: bool = True,
        init_std: float = 0.02,
        key: PRNGKeyArray,
    ) -> None:
        owner = "CausalSelfAttention"
        embed_dim = check_size(embed_dim, "embed_dim", owner)
        num_heads = check_size(num_heads, "num_heads", owner)
        use_bias = check_flag(use_bias, "use_bias", owner)
        init_std = check_number(init_std, "init_std", owner)
        check_key(key, owner)
        if num_kv_heads is not None and not is_int(num_kv_heads):
            raise ValueError(
                f"{owner}: num_kv_heads must be None or a positive int, got {num_kv_heads!r}"
            )
        if rotary is not None and not isinstance(rotary, Rotary):
            raise TypeError(
                f"{owner}: rotary must be a tg.Rotary or None, got {type(rotary).__qualname__} "
                f"{rotary!r}: pass rotary=tg.Rotary() (tg.Rotary(base) for another base), or None"
            )
        if embed_dim % num_heads != 0:
            raise ValueError(
                f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}: "
                "choose embed_dim as a multiple of num_heads"
            )
        kv_heads = num_heads if num_kv_heads is None else int(num_kv_heads)
        if kv_heads < 1 or num_heads % kv_heads != 0:
            raise ValueError(
                f"num_kv_heads={kv_heads} does not divide num_heads={num_heads}: each key/value "
                "head serves an equal group of query heads; choose a divisor of num_heads"
            )
        head_dim = embed_dim // num_heads
        if rotary is not None and head_dim % 2 != 0:
            raise ValueError(
                f"rotary embeddings rotate pairs of features, so head_dim = embed_dim // "
                f"num_heads must be even, got {embed_dim} // {num_heads} = {head_dim}: "
                "choose an even head_dim"
            )
        qkv_key, out_key = jax.random.split(key)
        self.qkv_proj = Linear(
            embed_dim,
            (num_heads + 2 * kv_heads) * head_dim,
            use_bias=use_bias,
            init_std=init_std,
            key=qkv_key,
        )
        self.out_proj = Linear(
            embed_dim, embed_dim, use_bias=use_bias, init_std=init_std, key=out_key
        )
        self.softmax = Softmax(axis=-1)
        self.rotary = rotary
        self.num_heads = num_heads
        self.num_kv_heads = kv_heads

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        """**Arguments:** `x`, one sequence. **Returns:** the same shape."""
        seq = x.shape[0]
        query, key, value = self._project(x, jnp.arange(seq))
        mask = jnp.tril(jnp.ones((seq, seq), dtype=bool))
        return self._attend(query, key, value, mask)

    def decode(
        self, x: Float[Array, "seq embed"], cache: KVCache
    ) -> tuple[Float[Array, "seq embed"], KVCache]:
        """Attend from `x`, at positions `cache.position ...`, to the cache and to itself.

        **Arguments:** `x`, the next `seq` positions; `cache`, this layer's cache, with
        keys and values of shape `(kv_seq, kv_heads, head_dim)` (no `layers` axis).
        **Returns:** the output, and the cache with `x`'s keys and values written at
        `cache.position` and its position advanced by `seq`.

        A model's cache (with its `layers` axis), a position that is not one scalar, or more
        positions than `kv_seq` raise `ValueError`. So does a negative `cache.position`, or
        one that leaves too few free slots for `x`, when it is known; under `jit` those raise
        `equinox.EquinoxRuntimeError` (under a plain `jax.jit`, JAX's runtime error with the
        same message).
        """
        if cache.keys.ndim == 4:
            raise ValueError(
                f"the KV cache has keys of shape {tuple(cache.keys.shape)}, with a layers axis "
                "first, but one attention layer's cache is (kv_seq, kv_heads, head_dim): pass "
                "this layer's slice, KVCache(keys=cache.keys[i], values=cache.values[i], "
                "position=cache.position), or decode the whole model with GPT.decode"
            )
        if cache.position.ndim != 0:
            raise ValueError(
                f"the KV cache's position has shape {tuple(cache.position.shape)}, but it is "
                "one scalar, the positions the cache holds: pass jnp.int32(n), or the cache "
                "the last decode returned (for a batch of caches, map decode with jax.vmap)"
            )
        seq, capacity = x.shape[0], cache.keys.shape[-3]
        if seq > capacity:
            raise ValueError(
                f"x has {seq} positions but the KV cache has {capacity} slots: decode at most "
                f"{capacity} positions, or start a larger cache"
            )
        if not isinstance(cache.position, jax.core.Tracer):  # eager: a plain error, its values
            start = int(cache.position)
            if start < 0 or start + seq > capacity:
                raise ValueError(
                    f"the cache's position must be >= 0, got {start}: start from an empty "
                    "cache (position 0), or pass the cache that the last decode returned"
                    if start < 0
                    else f"the KV cache holds {start} positions; {seq} more would pass its "
                    f"{capacity} slots: start a new cache or shorten the sequence"
                )
        # Under jit these are the only checks: a negative position would wrap around in a
        # learned position lookup, and `dynamic_update_slice` would clamp the write to slot 0.
        position = eqx.error_if(
            cache.position,
            cache.position < 0,
            "the cache's position must be >= 0: start from init_cache(), or pass the cache "
            "that the last decode returned",
        )
        position = eqx.error_if(
            position,
            position + seq > capacity,
            f"the KV cache is full: writing {seq} more positions would pass its "
            f"{capacity} slots; start a new cache or shorten the sequence",
        )
        query_positions = position + jnp.arange(seq)
        query, key, value = self._project(x, query_positions)
        keys, values = self._write(cache.keys, cache.values, key, value, position)
        key_positions = jnp.arange(keys.shape[0])
        mask = key_positions[None, :] <= query_positions[:, None]
        out = self._attend(query, keys, values, mask)
        return out, KVCache(keys=keys, values=values, position=position + seq)

    def _project(
        self, x: Float[Array, "seq embed"], positions: Int[Array, " seq"]
    ) -> tuple[_Queries, _Keys, _Keys]:
        """Queries, keys and values of `x`, rotated by `positions` when there is `rotary`."""
        heads = self.num_heads
        qkv = jax.vmap(self.qkv_proj)(x)
        query, key, value = self._split(qkv, heads, self.num_kv_heads, x.shape[1] // heads)
        if self.rotary is not None:
            query, key = self.rotary(query, positions), self.rotary(key, positions)
        return query, key, value

    @staticmethod
    def _split(
        qkv: Float[Array, "seq head_dim*(heads+2*kv_heads)"],
        heads: int,
        kv_heads: int,
        head_dim: int,
    ) -> tuple[_Queries, _Keys, _Keys]:
        """The fused projection's output as its `heads` query heads, then `kv_heads` key and
        `kv_heads` value heads, each `head_dim` wide. Its annotation checks `qkv_proj`'s
        width (a module swapped in with `eqx.tree_at` may have another) before any reshape."""
        seq = qkv.shape[0]
        query = qkv[:, : heads * head_dim].reshape(seq, heads, head_dim)
        kv = qkv[:, heads * head_dim :].reshape(seq, 2, kv_heads, head_dim)
        return query, kv[:, 0], kv[:, 1]

    def _write(
        self,
        keys: _CachedKeys,
        values: _CachedKeys,
        new_keys: _Keys,
        new_values: _Keys,
        position: Int[Array, ""],
    ) -> tuple[_CachedKeys, _CachedKeys]:
        start = (position, jnp.int32(0), jnp.int32(0))
        keys = jax.lax.dynamic_update_slice(keys, new_keys.astype(keys.dtype), start)
        values = jax.lax.dynamic_update_slice(values, new_values.astype(values.dtype), start)
        return keys, values

    def _attend(
        self,
        query: _Queries,
        key: _CachedKeys,
        value: _CachedKeys,
        mask: Bool[Array, "seq kv_seq"],
    ) -> Float[Array, "seq embed"]:
        seq, heads, head_dim = query.shape
        kv_heads = key.shape[1]
        key, value = key.astype(query.dtype), value.astype(query.dtype)
        # Query head h = k * group + g reads key/value head k: the heads of a group are
        # adjacent, so the split is a reshape, and no key or value is repeated. Key/value
        # heads go first, and each one's query rows `r` = (g, s) are one matrix, so both
        # products are plain matrix products batched over heads: with positions first, XLA
        # on the CPU transposes the scores and their gradients (measured at 8 x 256 tokens,
        # 12 heads of 64: forward about 35% faster, forward and backward about 28%).
        group = heads // kv_heads
        grouped = query.reshape(seq, kv_heads, group, head_dim).transpose(1, 2, 0, 3)
        rows = grouped.reshape(kv_heads, group * seq, head_dim)  # r: (g, s) pairs
        scores = jnp.einsum("krd,kSd->krS", rows, key.transpose(1, 0, 2)) / math.sqrt(head_dim)
        # The mask is added, not selected: `where` would keep the mask and a zero tangent
        # for the masked side, two more `heads seq seq` arrays, for the backward pass. The
        # scores stay in the rows layout (row g * seq + s is query s of the group's head g)
        # so the weights are kept once, not once per layout.
        lowest = jnp.finfo(scores.dtype).min  # type: ignore[no-untyped-call]
        bias = jnp.where(jnp.tile(mask, (group, 1)), jnp.zeros((), scores.dtype), lowest)
        weights = self.softmax(scores + bias[None])
        out = jnp.einsum("krS,kSd->krd", weights, value.transpose(1, 0, 2))
        by_position = out.reshape(kv_heads, group, seq, head_dim).transpose(2, 0, 1, 3)
        return jax.vmap(self.out_proj)(by_position.reshape(seq, heads * head_dim))
