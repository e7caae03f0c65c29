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


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        (jnp.int8, r"dtype=int8 is not a floating-point dtype: pass the model's dtype"),
        (jnp.float8_e4m3fn, r"dtype=float8_e4m3fn is narrower than typedgpt computes in"),
        (jnp.float64, r"dtype=float64 needs JAX's 64-bit mode, which is off"),
        ("bf16", r"dtype='bf16' is not a floating-point dtype: pass the model's dtype"),
    ],
)
def test_empty_refuses_a_dtype_attention_cannot_hold(dtype: DTypeLike, message: str) -> None:
    """Refused where the cache is made, naming the argument: an int8 cache used to fail only
    at the first decode, in a private method's check; a float8 one gave wrong logits, and a
    float64 one was float32 (without JAX's 64-bit mode)."""
    with pytest.raises(ValueError, match=message):
        _empty(dtype)
    model = tg.GPT(
        tg.GPTConfig.microgpt(vocab_size=7, max_seq_len=5, num_layers=1, num_heads=1, embed_dim=4),
        key=jax.random.key(0),
    )
    with pytest.raises(ValueError, match=message):
        model.init_cache(dtype)


def test_empty_refuses_a_dtype_of_none() -> None:
    """NumPy reads None as float64: the error used to speak of JAX's 64-bit mode, and with
    that mode on the cache was float64 without a word. `init_cache(None)` means the model's
    dtype; `KVCache.empty` has no model to take it from."""
    with pytest.raises(ValueError, match=r"^dtype=None is not a dtype: pass the model's dtype"):
        _empty(None)  # type: ignore[arg-type]


def test_init_cache_takes_the_model_dtype_by_default() -> None:
    """A bfloat16 model's cache is bfloat16 unless asked otherwise, as its keys are."""
    model = tg.GPT(
        tg.GPTConfig.microgpt(vocab_size=7, max_seq_len=5, num_layers=1, num_heads=1, embed_dim=4),
        key=jax.random.key(0),
    )
    narrow = jax.tree.map(lambda leaf: leaf.astype(jnp.bfloat16), model)
    assert model.init_cache().keys.dtype == jnp.float32
    assert narrow.init_cache().keys.dtype == jnp.bfloat16
    assert narrow.init_cache(jnp.float32).values.dtype == jnp.float32


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


# --------------------------------------------------------------------------------------------
# A bad cache passed to GPT.decode: each is refused with the rule, the value and the fix.
# --------------------------------------------------------------------------------------------


def _model(num_layers: int = 1) -> tg.GPT:
    config = tg.GPTConfig.microgpt(vocab_size=7, max_seq_len=KV_SEQ)
    return tg.GPT(config.replace(num_layers=num_layers), key=jax.random.key(0))


def test_a_python_int_position_becomes_an_int32_scalar() -> None:
    # The attention layer's checks expect an array: a plain 0 was refused by a private
    # method's check ("CausalSelfAttention._write: argument "position": expected an array").
    attention = tg.CausalSelfAttention(embed_dim=16, num_heads=4, key=jax.random.key(0))
    zeros = jnp.zeros((8, 4, 4))
    cache = tg.KVCache(keys=zeros, values=zeros, position=3)  # type: ignore[arg-type]
    assert (cache.position.shape, cache.position.dtype, int(cache.position)) == ((), jnp.int32, 3)
    _, written = attention.decode(jnp.ones((1, 16)), cache)
    assert int(written.position) == 4
    numpy_int = tg.KVCache(keys=zeros, values=zeros, position=np.int64(3))  # type: ignore[arg-type]
    assert (numpy_int.position.shape, numpy_int.position.dtype) == ((), jnp.int32)
    with pytest.raises(TypeError, match="the KVCache's position must be an integer, got bool"):
        tg.KVCache(keys=zeros, values=zeros, position=True)  # type: ignore[arg-type]


def test_float_position_is_refused_where_the_cache_is_made() -> None:
    cache = _empty()
    with pytest.raises(TypeError, match="the KVCache's position must be an integer, got float32"):
        tg.KVCache(keys=cache.keys, values=cache.values, position=jnp.array(2.0))


def test_negative_position_eager() -> None:
    model = _model()
    cache = model.init_cache()
    bad = tg.KVCache(keys=cache.keys, values=cache.values, position=jnp.int32(-3))
    with pytest.raises(ValueError, match="the cache's position must be >= 0, got -3"):
        model.decode(jnp.array([1, 2, 3]), bad)


def test_negative_position_jit() -> None:
    model = _model()
    cache = model.init_cache()
    bad = tg.KVCache(keys=cache.keys, values=cache.values, position=jnp.int32(-3))
    step = jax.jit(lambda t, c: model.decode(t, c))
    with pytest.raises(Exception, match="the cache's position must be >= 0"):
        np.asarray(step(jnp.array([1, 2, 3]), bad)[0])


@pytest.mark.parametrize(("cache_layers", "model_layers"), [(2, 1), (1, 2)])
def test_cache_of_another_depth(cache_layers: int, model_layers: int) -> None:
    model = _model(model_layers)
    cache = _model(cache_layers).init_cache()
    message = (
        f"the KV cache has {cache_layers} layers but the model has {model_layers}: "
        "make it with this model's init_cache()"
    )
    with pytest.raises(ValueError, match=message):
        model.decode(jnp.array([1, 2]), cache)
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda t, c: model.decode(t, c))(jnp.array([1, 2]), cache)


def test_one_layer_slice_is_not_a_model_cache() -> None:
    cache = _model().init_cache()
    layer = tg.KVCache(keys=cache.keys[0], values=cache.values[0], position=cache.position)
    with pytest.raises(ValueError, match=r"keys of shape \(11, 4, 4\)(.|\n)*init_cache\(\)"):
        _model().decode(jnp.array([1, 2]), layer)


def test_a_vector_position_is_not_a_model_cache() -> None:
    """A position per layer (or per sequence) is refused before the model reads it, eager
    and under jit, with the value and the fix."""
    model = _model(2)
    cache = model.init_cache()
    position = jnp.zeros(2, jnp.int32)
    bad = tg.KVCache(keys=cache.keys, values=cache.values, position=position)  # type: ignore[shape]
    message = (
        r"the KV cache's position has shape \(2,\), but it is one scalar, the positions every "
        r"layer holds: pass the cache that init_cache\(\) or the last decode returned"
    )
    with pytest.raises(ValueError, match=message):
        model.decode(jnp.array([1, 2]), bad)
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda t, c: model.decode(t, c))(jnp.array([1, 2]), bad)


def test_sizes_may_be_numpy_ints() -> None:
    """A NumPy integer is an int, for `init_cache(size=)` as for `generate` and
    `KVCache.empty`: `init_cache` used to refuse `np.int64(3)`."""
    model = tg.GPT(
        tg.GPTConfig.microgpt(vocab_size=7, max_seq_len=5, num_layers=1, num_heads=1, embed_dim=4),
        key=jax.random.key(0),
    )
    assert model.init_cache(size=np.int64(3)).keys.shape == (1, 3, 1, 4)  # type: ignore[arg-type]
    empty = tg.KVCache.empty(
        num_layers=np.int64(LAYERS),  # type: ignore[arg-type]
        max_seq_len=np.int32(KV_SEQ),  # type: ignore[arg-type]
        num_kv_heads=HEADS,
        head_dim=HEAD_DIM,
    )
    assert empty.keys.shape == (LAYERS, KV_SEQ, HEADS, HEAD_DIM)


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("max_seq_len", -1),
        ("max_seq_len", 0),
        ("max_seq_len", 2.0),
        ("num_layers", True),
        ("num_kv_heads", 0),
        ("head_dim", -5),
    ],
)
def test_empty_refuses_a_size_that_is_not_a_positive_int(name: str, size: object) -> None:
    """Named where the cache is made: -1 slots used to fail in JAX's broadcast_in_dim, and 0
    slots made a cache that no position fits."""
    sizes: dict[str, object] = {
        "num_layers": LAYERS,
        "max_seq_len": KV_SEQ,
        "num_kv_heads": HEADS,
        "head_dim": HEAD_DIM,
        name: size,
    }
    with pytest.raises(
        ValueError,
        match=rf"^{name} must be a positive int, got {size!r}: pass a size of at least 1, or "
        r"make the cache with GPT\.init_cache\(\)",
    ):
        tg.KVCache.empty(**sizes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "position",
    [jnp.uint32(3), jnp.array(3, jnp.int16), np.array(3), np.uint64(3), np.array(3, np.int32)],
    ids=["uint32", "int16", "numpy-int64-0d", "numpy-uint64", "numpy-int32-0d"],
)
def test_a_position_of_another_integer_dtype_decodes(position: object) -> None:
    """An integer position of any dtype is made int32 where the cache is made: uint32 used
    to fail in attention with JAX's TypePromotionError (strict promotion) or a ShapeError
    asking to cast, and int16 in `dynamic_update_slice`; an int32 NumPy array was kept as a
    NumPy array."""
    model = _model()
    tokens = jnp.array([1, 2, 3, 4, 5])
    _, prefix = model.decode(tokens[:3], model.init_cache())
    cache = tg.KVCache(keys=prefix.keys, values=prefix.values, position=position)  # type: ignore[arg-type]
    assert isinstance(cache.position, jax.Array)
    assert (cache.position.shape, cache.position.dtype) == ((), jnp.int32)
    logits, written = model.decode(tokens[3:], cache)
    np.testing.assert_allclose(logits, model(tokens)[3:], atol=1e-5, rtol=1e-5)
    assert int(written.position) == 5


@pytest.mark.parametrize(
    ("position", "shown"),
    [(2**40, 2**40), (np.int64(2**32 + 3), 2**32 + 3), (np.uint32(2**32 - 1), 2**32 - 1)],
)
def test_a_position_int32_cannot_hold_is_refused(position: object, shown: int) -> None:
    """NumPy used to wrap np.int64(2**32 + 3) around to position 3 without a word, and
    np.uint32(2**32 - 1) to -1; a Python int past int32 raised a bare OverflowError."""
    cache = _empty()
    with pytest.raises(
        ValueError, match=rf"^the KVCache's position must fit in int32, got {shown}: pass"
    ):
        tg.KVCache(keys=cache.keys, values=cache.values, position=position)  # type: ignore[arg-type]
