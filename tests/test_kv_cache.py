"""`KVCache`: the empty cache's shapes and dtypes, a pytree that jit accepts, immutability,
and writes through attention that leave the cache passed in untouched."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import DTypeLike

import typedgpt as tg

LAYERS, KV_SEQ, HEADS, HEAD_DIM = 2, 11, 3, 5  # distinct sizes


def _empty(dtype: DTypeLike = jnp.float32) -> tg.KVCache:
    return tg.KVCache.empty(
        num_layers=LAYERS, max_seq_len=KV_SEQ, num_kv_heads=HEADS, head_dim=HEAD_DIM, dtype=dtype
    )


def test_empty_shapes_and_zeros() -> None:
    cache = _empty()
    assert cache.keys.shape == (LAYERS, KV_SEQ, HEADS, HEAD_DIM)
    assert cache.values.shape == (LAYERS, KV_SEQ, HEADS, HEAD_DIM)
    assert cache.keys.dtype == jnp.float32 and cache.values.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(cache.keys), 0.0)
    np.testing.assert_array_equal(np.asarray(cache.values), 0.0)
    assert cache.position.shape == ()
    assert cache.position.dtype == jnp.int32
    assert int(cache.position) == 0


def test_empty_in_bfloat16() -> None:
    cache = _empty(jnp.bfloat16)
    assert cache.keys.dtype == jnp.bfloat16 and cache.values.dtype == jnp.bfloat16
    assert cache.position.dtype == jnp.int32


def test_empty_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        tg.KVCache.empty(LAYERS, KV_SEQ, HEADS, HEAD_DIM)  # type: ignore[call-arg]


def test_is_a_pytree_of_three_arrays_that_jit_accepts() -> None:
    cache = _empty()
    leaves = jax.tree.leaves(cache)
    assert len(leaves) == 3

    @jax.jit
    def advance(cache: tg.KVCache) -> tg.KVCache:
        keys = cache.keys.at[:, cache.position].set(1.0)
        return tg.KVCache(keys=keys, values=cache.values, position=cache.position + 1)

    advanced = advance(cache)
    assert isinstance(advanced, tg.KVCache)
    assert int(advanced.position) == 1
    np.testing.assert_array_equal(np.asarray(advanced.keys[:, 0]), 1.0)
    np.testing.assert_array_equal(np.asarray(advanced.keys[:, 1:]), 0.0)


def test_is_immutable() -> None:
    cache = _empty()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cache.position = jnp.ones((), jnp.int32)


def test_one_layer_slice_decodes_and_the_old_cache_is_unchanged(key: jax.Array) -> None:
    # A model's cache has a `layers` axis; one attention layer takes its own slice.
    attn = tg.CausalSelfAttention(HEADS * HEAD_DIM, HEADS, key=key)
    cache = _empty()
    layer = tg.KVCache(keys=cache.keys[1], values=cache.values[1], position=cache.position)
    x = jax.random.normal(jax.random.key(1), (4, HEADS * HEAD_DIM))
    _, written = attn.decode(x, layer)
    assert written.keys.shape == (KV_SEQ, HEADS, HEAD_DIM)
    assert int(written.position) == 4
    assert not np.array_equal(np.asarray(written.keys[:4]), np.zeros((4, HEADS, HEAD_DIM)))
    np.testing.assert_array_equal(np.asarray(written.keys[4:]), 0.0)
    # Writing returned a new cache; the one passed in still holds zeros at position 0.
    assert int(layer.position) == 0
    np.testing.assert_array_equal(np.asarray(layer.keys), 0.0)
    np.testing.assert_array_equal(np.asarray(layer.values), 0.0)
