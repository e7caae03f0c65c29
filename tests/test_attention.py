"""`CausalSelfAttention`: hand-computed values, a loop reference, causality, the cached
`decode` path against the full call, and the errors for bad inputs and bad caches."""

import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import TypeCheckError

import typedgpt as tg

# Distinct sizes, so that a swapped axis cannot pass: seq 7, heads 3, head_dim 5, embed 15,
# and a cache of 11 positions.
SEQ, HEADS, HEAD_DIM = 7, 3, 5
EMBED = HEADS * HEAD_DIM
KV_SEQ = 11


def attention_reference(
    x: np.ndarray,
    qkv_weight: np.ndarray,
    qkv_bias: np.ndarray | None,
    out_weight: np.ndarray,
    out_bias: np.ndarray | None,
    num_heads: int,
) -> np.ndarray:
    """Causal multi-head attention with explicit loops over heads, queries and keys.

    The fused projection's output is `[q | k | v]`, each `embed` wide and split into heads
    of `head_dim` consecutive entries. Everything stays in float32.
    """
    seq, embed = x.shape
    head_dim = embed // num_heads
    qkv = np.zeros((seq, 3 * embed), np.float32)
    for s in range(seq):
        for o in range(3 * embed):
            total = np.float32(0.0) if qkv_bias is None else qkv_bias[o]
            for i in range(embed):
                total += qkv_weight[o, i] * x[s, i]
            qkv[s, o] = total
    scale = np.float32(1.0) / np.sqrt(np.float32(head_dim))
    heads = np.zeros((seq, embed), np.float32)
    for h in range(num_heads):
        lo = h * head_dim
        q = qkv[:, lo : lo + head_dim]
        k = qkv[:, embed + lo : embed + lo + head_dim]
        v = qkv[:, 2 * embed + lo : 2 * embed + lo + head_dim]
        for i in range(seq):
            scores = np.zeros(i + 1, np.float32)  # causal: keys 0..i only
            for j in range(i + 1):
                dot = np.float32(0.0)
                for d in range(head_dim):
                    dot += q[i, d] * k[j, d]
                scores[j] = dot * scale
            largest = scores.max()
            weights = np.zeros(i + 1, np.float32)
            for j in range(i + 1):
                weights[j] = np.exp(scores[j] - largest)
            weights /= weights.sum()
            for d in range(head_dim):
                total = np.float32(0.0)
                for j in range(i + 1):
                    total += weights[j] * v[j, d]
                heads[i, lo + d] = total
    out = np.zeros((seq, embed), np.float32)
    for s in range(seq):
        for o in range(embed):
            total = np.float32(0.0) if out_bias is None else out_bias[o]
            for i in range(embed):
                total += out_weight[o, i] * heads[s, i]
            out[s, o] = total
    return out


def reference_for(attn: tg.CausalSelfAttention, x: jax.Array) -> np.ndarray:
    def array(a: jax.Array | None) -> np.ndarray | None:
        return None if a is None else np.asarray(a)

    return attention_reference(
        np.asarray(x),
        np.asarray(attn.qkv_proj.weight),
        array(attn.qkv_proj.bias),
        np.asarray(attn.out_proj.weight),
        array(attn.out_proj.bias),
        attn.num_heads,
    )


def random_attention(key: jax.Array, *, use_bias: bool = True) -> tg.CausalSelfAttention:
    """Weights large enough that attention is far from uniform, and random biases."""
    attn_key, qkv_key, out_key = jax.random.split(key, 3)
    attn = tg.CausalSelfAttention(EMBED, HEADS, use_bias=use_bias, init_std=0.4, key=attn_key)
    if use_bias:
        qkv_bias = 0.5 * jax.random.normal(qkv_key, (3 * EMBED,))
        attn = eqx.tree_at(lambda m: m.qkv_proj.bias, attn, qkv_bias)
        out_bias = 0.5 * jax.random.normal(out_key, (EMBED,))
        attn = eqx.tree_at(lambda m: m.out_proj.bias, attn, out_bias)
    return attn


def with_weights(
    attn: tg.CausalSelfAttention,
    qkv_weight: list[list[float]],
    qkv_bias: list[float],
) -> tg.CausalSelfAttention:
    """Set the fused projection; the output projection becomes the identity."""
    embed = len(qkv_weight[0])
    attn = eqx.tree_at(lambda m: m.qkv_proj.weight, attn, jnp.array(qkv_weight))
    attn = eqx.tree_at(lambda m: m.qkv_proj.bias, attn, jnp.array(qkv_bias))
    attn = eqx.tree_at(lambda m: m.out_proj.weight, attn, jnp.eye(embed))
    updated: tg.CausalSelfAttention = eqx.tree_at(lambda m: m.out_proj.bias, attn, jnp.zeros(embed))
    return updated


def empty_cache(
    kv_seq: int = KV_SEQ, heads: int = HEADS, head_dim: int = HEAD_DIM, fill: float = 0.0
) -> tg.KVCache:
    """One layer's cache (no `layers` axis); `fill` stands for slots that hold stale values."""
    shape = (kv_seq, heads, head_dim)
    return tg.KVCache(
        keys=jnp.full(shape, fill, jnp.float32),
        values=jnp.full(shape, -fill, jnp.float32),
        position=jnp.zeros((), jnp.int32),
    )


# Hand-computed values


def test_zero_queries_average_the_past(key: jax.Array) -> None:
    # q = 0 makes every score 0, so each position averages the values it may see; v = x and
    # the output projection is the identity, so the output is the running mean of x.
    identity = [[1.0, 0.0], [0.0, 1.0]]
    attn = with_weights(
        tg.CausalSelfAttention(2, 1, key=key), [[0.0, 0.0]] * 2 + identity + identity, [0.0] * 6
    )
    y = attn(jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    np.testing.assert_allclose(np.asarray(y), [[1, 2], [2, 3], [3, 4]], rtol=1e-6)


def test_scores_from_logs(key: jax.Array) -> None:
    # q = [sqrt 2, 0] (bias only) and k = x, so q.k / sqrt(head_dim=2) = x[:, 0] = [0, ln 2,
    # ln 3]: position 1 weighs keys [1, 2] / 3 and position 2 weighs [1, 2, 3] / 6.
    # v = [x[:, 1], 0] = [1, 2, 3]: outputs 1, (1 + 4) / 3 and (1 + 4 + 9) / 6.
    qkv_weight = [[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    qkv_bias = [math.sqrt(2.0), 0.0, 0.0, 0.0, 0.0, 0.0]
    attn = with_weights(tg.CausalSelfAttention(2, 1, key=key), qkv_weight, qkv_bias)
    x = jnp.array([[0.0, 1.0], [math.log(2.0), 2.0], [math.log(3.0), 3.0]])
    expected = [[1.0, 0.0], [5 / 3, 0.0], [7 / 3, 0.0]]
    np.testing.assert_allclose(np.asarray(attn(x)), expected, rtol=1e-6, atol=1e-7)


def test_two_heads_are_split_and_concatenated_in_order(key: jax.Array) -> None:
    # head_dim 1. Head 0: q = 0, so it averages v = x[:, 1] = [1, 2, 3] -> [1, 3/2, 2].
    # Head 1: q = 1 (bias), k = x[:, 0] = [0, ln 2, ln 3], v = [1, 2, 3] -> [1, 5/3, 7/3].
    qkv_weight = [
        [0.0, 0.0],  # q, head 0
        [0.0, 0.0],  # q, head 1
        [0.0, 0.0],  # k, head 0
        [1.0, 0.0],  # k, head 1
        [0.0, 1.0],  # v, head 0
        [0.0, 1.0],  # v, head 1
    ]
    qkv_bias = [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    attn = with_weights(tg.CausalSelfAttention(2, 2, key=key), qkv_weight, qkv_bias)
    x = jnp.array([[0.0, 1.0], [math.log(2.0), 2.0], [math.log(3.0), 3.0]])
    expected = [[1.0, 1.0], [1.5, 5 / 3], [2.0, 7 / 3]]
    np.testing.assert_allclose(np.asarray(attn(x)), expected, rtol=1e-6)


# Against the loop reference


@pytest.mark.parametrize("use_bias", [True, False], ids=["bias", "no_bias"])
def test_matches_loop_reference(key: jax.Array, use_bias: bool) -> None:
    attn = random_attention(key, use_bias=use_bias)
    x = jax.random.normal(jax.random.key(1), (SEQ, EMBED))
    y = attn(x)
    assert y.shape == (SEQ, EMBED) and y.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(y), reference_for(attn, x), rtol=1e-5, atol=1e-6)


def test_shapes(key: jax.Array) -> None:
    attn = tg.CausalSelfAttention(EMBED, HEADS, key=key)
    assert attn.qkv_proj.weight.shape == (3 * EMBED, EMBED)
    assert attn.out_proj.weight.shape == (EMBED, EMBED)
    assert attn.num_heads == HEADS
    assert attn(jnp.ones((SEQ, EMBED))).shape == (SEQ, EMBED)


def test_causal_the_future_does_not_change_the_past(key: jax.Array) -> None:
    attn = random_attention(key)
    x = jax.random.normal(jax.random.key(1), (SEQ, EMBED))
    changed = x.at[4].set(5.0)
    y, y_changed = attn(x), attn(changed)
    np.testing.assert_array_equal(np.asarray(y[:4]), np.asarray(y_changed[:4]))
    assert not np.allclose(np.asarray(y[4:]), np.asarray(y_changed[4:]), atol=1e-3)


def test_embed_not_divisible_by_heads(key: jax.Array) -> None:
    with pytest.raises(ValueError, match=r"embed_dim=14 is not divisible by num_heads=3"):
        tg.CausalSelfAttention(14, 3, key=key)


# The cached path


def test_decode_prefill_then_one_token_at_a_time_equals_call(key: jax.Array) -> None:
    attn = random_attention(key)
    x = jax.random.normal(jax.random.key(1), (SEQ, EMBED))
    full = np.asarray(attn(x))
    prefill = 3
    # Slots not yet written hold stale values: the mask must hide them.
    out, cache = attn.decode(x[:prefill], empty_cache(fill=7.0))
    assert out.shape == (prefill, EMBED)
    assert int(cache.position) == prefill
    np.testing.assert_allclose(np.asarray(out), full[:prefill], rtol=1e-5, atol=1e-6)
    for t in range(prefill, SEQ):
        out, cache = attn.decode(x[t : t + 1], cache)
        assert out.shape == (1, EMBED)
        assert int(cache.position) == t + 1
        np.testing.assert_allclose(np.asarray(out[0]), full[t], rtol=1e-5, atol=1e-6)


def test_decode_whole_sequence_equals_call(key: jax.Array) -> None:
    attn = random_attention(key)
    x = jax.random.normal(jax.random.key(1), (SEQ, EMBED))
    out, cache = attn.decode(x, empty_cache(fill=-3.0))
    np.testing.assert_allclose(np.asarray(out), np.asarray(attn(x)), rtol=1e-5, atol=1e-6)
    assert int(cache.position) == SEQ


def test_decode_writes_keys_and_values_and_leaves_the_rest(key: jax.Array) -> None:
    attn = random_attention(key)
    x = jax.random.normal(jax.random.key(1), (SEQ, EMBED))
    start = empty_cache(fill=7.0)
    _, cache = attn.decode(x, start)
    qkv = np.asarray(jax.vmap(attn.qkv_proj)(x)).reshape(SEQ, 3, HEADS, HEAD_DIM)
    assert cache.keys.shape == (KV_SEQ, HEADS, HEAD_DIM)
    np.testing.assert_array_equal(np.asarray(cache.keys[:SEQ]), qkv[:, 1])
    np.testing.assert_array_equal(np.asarray(cache.values[:SEQ]), qkv[:, 2])
    np.testing.assert_array_equal(np.asarray(cache.keys[SEQ:]), 7.0)
    np.testing.assert_array_equal(np.asarray(cache.values[SEQ:]), -7.0)
    # The cache passed in is not touched: a new one is returned.
    assert int(start.position) == 0
    np.testing.assert_array_equal(np.asarray(start.keys), 7.0)


def test_jitted_decode_matches_and_compiles_once(key: jax.Array) -> None:
    attn = random_attention(key)
    x = jax.random.normal(jax.random.key(1), (SEQ, EMBED))
    full = np.asarray(attn(x))
    traces = 0

    @jax.jit
    def step(x: jax.Array, cache: tg.KVCache) -> tuple[jax.Array, tg.KVCache]:
        nonlocal traces
        traces += 1
        return attn.decode(x, cache)

    cache = empty_cache()
    for t in range(SEQ):
        out, cache = step(x[t : t + 1], cache)
        np.testing.assert_allclose(np.asarray(out[0]), full[t], rtol=1e-5, atol=1e-6)
    assert traces == 1  # the cache's shapes never change, so one trace serves every token


# Errors


def _attn() -> tg.CausalSelfAttention:
    return tg.CausalSelfAttention(EMBED, HEADS, key=jax.random.key(0))


def _decode_with(cache: object) -> object:
    return _attn().decode(jnp.ones((1, EMBED)), cache)  # type: ignore[arg-type]


BAD_CALLS: list[tuple[str, Callable[[], object], list[str]]] = [
    (
        "wrong embed",
        lambda: _attn()(jnp.ones((SEQ, EMBED + 2))),
        [
            'Linear.__call__: argument "x" is float32[17]',
            "dimension in is 17",
            'Axis "in" = 15 was bound by field "weight" (float32[45, 15])',
            "Call path: CausalSelfAttention > CausalSelfAttention._project > Linear.",
        ],
    ),
    (
        "one position, not a sequence",
        lambda: _attn()(jnp.ones(EMBED)),
        ['CausalSelfAttention.__call__: argument "x" is float32[15]', "1 dimensions, not the 2"],
    ),
    (
        "decode, wrong embed",
        lambda: _attn().decode(jnp.ones((1, EMBED - 1)), empty_cache()),
        [
            'Linear.__call__: argument "x" is float32[14]',
            "dimension in is 14",
            "Call path: CausalSelfAttention.decode > CausalSelfAttention._project > Linear.",
        ],
    ),
    (
        "decode, cache with the wrong number of heads",
        lambda: _decode_with(empty_cache(heads=2)),
        [
            'CausalSelfAttention._write: argument "new_keys" is float32[1, 3, 5]',
            "dimension heads is 3",
            'Axis "heads" = 2 was bound by argument "keys" (float32[11, 2, 5])',
            "Call path: CausalSelfAttention.decode > CausalSelfAttention._write.",
        ],
    ),
    (
        "decode, cache with the wrong head_dim",
        lambda: _decode_with(empty_cache(head_dim=7)),
        [
            'argument "new_keys" is float32[1, 3, 5]',
            "dimension head_dim is 5",
            'Axis "head_dim" = 7 was bound by argument "keys" (float32[11, 3, 7])',
        ],
    ),
    (
        "decode, cache with heads and head_dim swapped",
        lambda: _decode_with(empty_cache(heads=HEAD_DIM, head_dim=HEADS)),
        [
            'argument "new_keys" is float32[1, 3, 5]',
            "dimension heads is 3",
            'Axis "heads" = 5 was bound by argument "keys" (float32[11, 5, 3])',
        ],
    ),
    (
        "decode, a whole model's cache for one layer",
        lambda: _decode_with(
            tg.KVCache.empty(num_layers=1, max_seq_len=KV_SEQ, num_heads=HEADS, head_dim=HEAD_DIM)
        ),
        ['argument "keys" is float32[1, 11, 3, 5]', "4 dimensions, not the 3"],
    ),
    (
        "decode, not a KVCache",
        lambda: _decode_with((jnp.zeros((KV_SEQ, HEADS, HEAD_DIM)),) * 2),
        [
            'CausalSelfAttention.decode: argument "cache" is (float32[11, 3, 5], float32[11, 3',
            "expected KVCache",
        ],
    ),
]


@pytest.mark.parametrize(
    ("call", "fragments"), [(c, f) for _, c, f in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS]
)
def test_bad_inputs_name_the_argument_and_axis(
    call: Callable[[], object], fragments: list[str]
) -> None:
    with pytest.raises(TypeCheckError) as excinfo:
        call()
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "jaxlib" not in message
