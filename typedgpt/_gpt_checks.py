"""The checks `GPT` runs on what it is called with, before anything compiles: the token ids,
their number and the cache's position, where they are known, and a cache's depth and size
against the model's config, which are static, so checked under `jax.jit` too."""

from typing import Any

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array

from ._config import GPTConfig
from ._kv_cache import KVCache


def check_tokens(
    config: GPTConfig, tokens: Array, start: Array | int, capacity: int | None = None
) -> None:
    """Reject bad ids and lengths with their values, where they are known (not traced)."""
    check_length(config, tokens)
    seq, limit = tokens.shape[0], config.max_seq_len
    if isinstance(tokens, jax.core.Tracer) or isinstance(start, jax.core.Tracer):
        return
    if int(start) < 0:
        raise ValueError(
            f"the cache's position must be >= 0, got {int(start)}: start from init_cache(), "
            "or pass the cache that the last decode returned"
        )
    if capacity is not None and capacity < limit and int(start) + seq > capacity:
        raise ValueError(
            f"the KV cache holds {int(start)} positions; {seq} more would pass its "
            f"{capacity} slots: start a larger cache (init_cache(size=...)) or shorten "
            "the sequence"
        )
    if int(start) + seq > limit:
        raise ValueError(
            f"the KV cache holds {int(start)} positions; {seq} more would pass "
            f"max_seq_len={limit}: start a new cache or shorten the sequence"
        )
    ids = np.asarray(tokens)
    bad = np.flatnonzero((ids < 0) | (ids >= config.vocab_size))
    if bad.size:
        raise ValueError(
            f"token id {int(ids[bad[0]])} at position {int(bad[0])} is outside the "
            f"vocabulary [0, {config.vocab_size}): encode with a tokenizer whose "
            f"vocabulary has at most vocab_size={config.vocab_size} ids"
        )


def check_length(config: GPTConfig, tokens: Array) -> None:
    """Reject empty or too long `tokens`: their length is static, so under `jax.jit` too (a
    learned position lookup past `max_seq_len` would clamp to its last row, silently)."""
    seq, limit = tokens.shape[0], config.max_seq_len
    if seq == 0:
        raise ValueError("tokens is empty: pass at least one token id")
    if seq > limit:
        raise ValueError(
            f"tokens has {seq} positions but max_seq_len is {limit}: "
            "shorten the sequence or raise max_seq_len"
        )


def check_stacked(config: GPTConfig, blocks: Any) -> None:
    """Reject stacked blocks with an array that lacks `num_layers` on its first axis (one
    replaced with `eqx.tree_at`), naming it: `lax.scan` would name no parameter. Shapes are
    static, so this runs while tracing, under jit too."""
    layers = config.num_layers
    for path, leaf in jax.tree_util.tree_flatten_with_path(blocks)[0]:
        if eqx.is_array(leaf) and (leaf.ndim == 0 or leaf.shape[0] != layers):
            stacked = (layers, *leaf.shape[1:])
            raise ValueError(
                f"GPT.blocks{jax.tree_util.keystr(path)} has shape {tuple(leaf.shape)}, but "
                f"every array in GPT.blocks is stacked with num_layers={layers} on its first "
                f"axis, one slice per layer: give it shape {stacked}"
            )


def check_cache_layers(config: GPTConfig, cache: KVCache) -> None:
    """Reject a cache made for a model of another depth; shapes are static, so under jit too."""
    layers = config.num_layers
    if cache.position.ndim != 0:
        raise ValueError(
            f"the KV cache's position has shape {tuple(cache.position.shape)}, but it is one "
            "scalar, the positions every layer holds: pass the cache that init_cache() or the "
            "last decode returned (for a batch of caches, map decode with jax.vmap)"
        )
    if cache.keys.ndim != 4 or cache.values.ndim != 4:
        raise ValueError(
            f"the KV cache has keys of shape {cache.keys.shape} and values of shape "
            f"{cache.values.shape}, but the model's cache is (layers, kv_seq, kv_heads, "
            "head_dim), with one slice per layer: make it with this model's init_cache()"
        )
    for found in (cache.keys.shape[0], cache.values.shape[0]):
        if found != layers:
            raise ValueError(
                f"the KV cache has {found} layers but the model has {layers}: "
                "make it with this model's init_cache()"
            )
    # Past max_seq_len a learned position lookup clamps to the last row: under jit, where
    # positions are not known, only the cache's size keeps decoding within max_seq_len.
    slots = cache.keys.shape[1]
    if slots > config.max_seq_len:
        raise ValueError(
            f"the KV cache has {slots} slots but max_seq_len is {config.max_seq_len}: make it "
            "with this model's init_cache(), which holds at most max_seq_len positions"
        )
