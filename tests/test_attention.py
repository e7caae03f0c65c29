"""`CausalSelfAttention`: hand-computed values, a loop reference, causality, the cached
`decode` path against the full call, and the errors for bad inputs and bad caches."""

import math
from collections.abc import Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import strategies as st
from jaxtyping import TypeCheckError

import typedgpt as tg
from tests.shape_errors import assert_shape_error
from typedgpt.testing import DimSpec, check_layer

from .test_rope import rope_reference

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
    num_kv_heads: int | None = None,
    rotary_base: float | None = None,
) -> np.ndarray:
    """Causal attention with explicit loops over heads, queries and keys.

    The fused projection's output is `[q | k | v]`: `num_heads` query heads, then
    `num_kv_heads` key heads and as many value heads (all of them by default), each of
    `head_dim` consecutive entries. Query head `h` reads key/value head
    `h // (num_heads // num_kv_heads)`. With `rotary_base`, queries and keys are rotated by
    their positions (`rope_reference`). Everything stays in float32.
    """
    seq, embed = x.shape
    head_dim = embed // num_heads
    kv_heads = num_heads if num_kv_heads is None else num_kv_heads
    group = num_heads // kv_heads
    width = (num_heads + 2 * kv_heads) * head_dim
    qkv = np.zeros((seq, width), np.float32)
    for s in range(seq):
        for o in range(width):
            total = np.float32(0.0) if qkv_bias is None else qkv_bias[o]
            for i in range(embed):
                total += qkv_weight[o, i] * x[s, i]
            qkv[s, o] = total
    queries = qkv[:, :embed].reshape(seq, num_heads, head_dim)
    keys = qkv[:, embed : embed + kv_heads * head_dim].reshape(seq, kv_heads, head_dim)
    values = qkv[:, embed + kv_heads * head_dim :].reshape(seq, kv_heads, head_dim)
    if rotary_base is not None:
        positions = np.arange(seq)
        queries = rope_reference(queries, positions, rotary_base)
        keys = rope_reference(keys, positions, rotary_base)
    scale = np.float32(1.0) / np.sqrt(np.float32(head_dim))
    heads = np.zeros((seq, embed), np.float32)
    for h in range(num_heads):
        lo = h * head_dim
        q, k, v = queries[:, h], keys[:, h // group], values[:, h // group]
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
        attn.num_kv_heads,
        None if attn.rotary is None else attn.rotary.base,
    )


def random_attention(
    key: jax.Array,
    *,
    use_bias: bool = True,
    embed: int = EMBED,
    heads: int = HEADS,
    num_kv_heads: int | None = None,
    rotary: tg.Rotary | None = None,
) -> tg.CausalSelfAttention:
    """Weights large enough that attention is far from uniform, and random biases."""
    attn_key, qkv_key, out_key = jax.random.split(key, 3)
    attn = tg.CausalSelfAttention(
        embed,
        heads,
        num_kv_heads=num_kv_heads,
        rotary=rotary,
        use_bias=use_bias,
        init_std=0.4,
        key=attn_key,
    )
    if use_bias:
        qkv_bias = 0.5 * jax.random.normal(qkv_key, (attn.qkv_proj.weight.shape[0],))
        attn = eqx.tree_at(lambda m: m.qkv_proj.bias, attn, qkv_bias)
        out_bias = 0.5 * jax.random.normal(out_key, (embed,))
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


@pytest.mark.parametrize("num_heads", [0, -2])
def test_num_heads_must_be_positive(key: jax.Array, num_heads: int) -> None:
    with pytest.raises(ValueError, match=rf"num_heads must be a positive int, got {num_heads}"):
        tg.CausalSelfAttention(16, num_heads, key=key)


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


# Grouped-query attention and rotary embeddings: 6 query heads of head_dim 4 (even, for
# rotary), embed 24, and 1, 2, 3 or 6 key/value heads.

G_HEADS, G_HEAD_DIM = 6, 4
G_EMBED = G_HEADS * G_HEAD_DIM
KV_HEADS = [1, 2, 3, 6]


def _grouped(
    key: jax.Array, num_kv_heads: int | None, rotary: tg.Rotary | None = None
) -> tg.CausalSelfAttention:
    return random_attention(
        key, embed=G_EMBED, heads=G_HEADS, num_kv_heads=num_kv_heads, rotary=rotary
    )


def test_grouped_projection_and_cache_sizes(key: jax.Array) -> None:
    attn = tg.CausalSelfAttention(G_EMBED, G_HEADS, num_kv_heads=2, key=key)
    # 6 query heads, then 2 key heads and 2 value heads, each of head_dim 4.
    assert attn.qkv_proj.weight.shape == ((6 + 2 * 2) * G_HEAD_DIM, G_EMBED)
    assert attn.num_kv_heads == 2
    cache = empty_cache(heads=2, head_dim=G_HEAD_DIM)
    out, cache = attn.decode(jnp.ones((SEQ, G_EMBED)), cache)
    assert out.shape == (SEQ, G_EMBED)
    assert cache.keys.shape == (KV_SEQ, 2, G_HEAD_DIM)


def test_kv_heads_equal_to_heads_is_multi_head_attention(key: jax.Array) -> None:
    default = tg.CausalSelfAttention(EMBED, HEADS, key=key)
    explicit = tg.CausalSelfAttention(EMBED, HEADS, num_kv_heads=HEADS, key=key)
    assert default.num_kv_heads == HEADS
    assert default.qkv_proj.weight.shape == (3 * EMBED, EMBED)  # GPT-2's layout
    x = jax.random.normal(jax.random.key(1), (SEQ, EMBED))
    np.testing.assert_array_equal(np.asarray(explicit(x)), np.asarray(default(x)))


@pytest.mark.parametrize("kv_heads", KV_HEADS)
def test_grouped_matches_loop_reference(key: jax.Array, kv_heads: int) -> None:
    attn = _grouped(key, kv_heads)
    x = jax.random.normal(jax.random.key(1), (SEQ, G_EMBED))
    np.testing.assert_allclose(np.asarray(attn(x)), reference_for(attn, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kv_heads", [1, 2])
def test_grouped_equals_multi_head_with_shared_keys_and_values(
    key: jax.Array, kv_heads: int
) -> None:
    # Multi-head attention whose key and value heads repeat, each for its group of query
    # heads, computes grouped-query attention. The two projections have different widths,
    # and float32 matrix products of different widths may round differently (by about 1e-6
    # here): equal up to float32 rounding, as in `test_grouped_matches_loop_reference`.
    grouped = _grouped(key, kv_heads)
    group = G_HEADS // kv_heads
    weight = np.asarray(grouped.qkv_proj.weight).reshape(-1, G_HEAD_DIM, G_EMBED)
    bias = np.asarray(grouped.qkv_proj.bias).reshape(-1, G_HEAD_DIM)
    heads = np.r_[
        np.arange(G_HEADS),
        G_HEADS + np.repeat(np.arange(kv_heads), group),
        G_HEADS + kv_heads + np.repeat(np.arange(kv_heads), group),
    ]
    full = tg.CausalSelfAttention(G_EMBED, G_HEADS, key=key)
    full = eqx.tree_at(
        lambda m: (m.qkv_proj.weight, m.qkv_proj.bias, m.out_proj),
        full,
        (
            jnp.asarray(weight[heads].reshape(-1, G_EMBED)),
            jnp.asarray(bias[heads].reshape(-1)),
            grouped.out_proj,
        ),
    )
    x = jax.random.normal(jax.random.key(1), (SEQ, G_EMBED))
    np.testing.assert_allclose(np.asarray(grouped(x)), np.asarray(full(x)), rtol=1e-5, atol=1e-5)


def plain_attention(attn: tg.CausalSelfAttention, x: jax.Array) -> jax.Array:
    """The same attention in plain `jax.numpy`, keys and values repeated per query head, the
    mask selected with `where`, `jax.nn.softmax`: JAX's own derivatives, for the gradients."""
    seq, embed = x.shape
    heads, kv_heads = attn.num_heads, attn.num_kv_heads
    head_dim = embed // heads
    qkv = x @ attn.qkv_proj.weight.T
    if attn.qkv_proj.bias is not None:
        qkv = qkv + attn.qkv_proj.bias[None, :]
    query = qkv[:, : heads * head_dim].reshape(seq, heads, head_dim)
    kv = qkv[:, heads * head_dim :].reshape(seq, 2, kv_heads, head_dim)
    key, value = kv[:, 0], kv[:, 1]
    if attn.rotary is not None:
        positions = jnp.arange(seq)
        query, key = attn.rotary(query, positions), attn.rotary(key, positions)
    key = jnp.repeat(key, heads // kv_heads, axis=1)
    value = jnp.repeat(value, heads // kv_heads, axis=1)
    scores = jnp.einsum("qhd,khd->hqk", query, key) / math.sqrt(head_dim)
    scores = jnp.where(jnp.tril(jnp.ones((seq, seq), bool)), scores, -jnp.inf)
    out = jnp.einsum("hqk,khd->qhd", jax.nn.softmax(scores, axis=-1), value)
    y = out.reshape(seq, embed) @ attn.out_proj.weight.T
    return y if attn.out_proj.bias is None else y + attn.out_proj.bias[None, :]


@pytest.mark.parametrize(
    ("kv_heads", "rotary"),
    [(G_HEADS, None), (2, None), (1, None), (3, tg.Rotary(100.0))],
    ids=["multi-head", "grouped", "multi-query", "grouped-rotary"],
)
def test_gradients_equal_plain_attention(
    key: jax.Array, kv_heads: int, rotary: tg.Rotary | None
) -> None:
    # The mask is added and the softmax's derivative written out (`typedgpt._softmax`), so
    # the backward pass keeps fewer arrays: the gradients must not change.
    attn = _grouped(key, kv_heads, rotary)
    x = jax.random.normal(jax.random.key(1), (SEQ, G_EMBED))
    weights = jax.random.normal(jax.random.key(2), (SEQ, G_EMBED))

    def loss(function: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
        return lambda attn, x: jnp.sum(function(attn, x) * weights)

    ours = eqx.filter_grad(loss(lambda attn, x: attn(x)))(attn, x)
    plain = eqx.filter_grad(loss(plain_attention))(attn, x)
    ours_x = jax.grad(loss(lambda attn, x: attn(x)), argnums=1)(attn, x)
    plain_x = jax.grad(loss(plain_attention), argnums=1)(attn, x)
    pairs = zip([ours_x, *jax.tree.leaves(ours)], [plain_x, *jax.tree.leaves(plain)], strict=True)
    for mine, theirs in pairs:
        # Float32 sums of terms up to the gradient's largest entry.
        scale = float(np.max(np.abs(theirs)))
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("kv_heads", [G_HEADS, 2])
def test_backward_pass_keeps_the_attention_weights_once(key: jax.Array, kv_heads: int) -> None:
    # Of the `heads seq seq` arrays, the backward pass needs only the softmax's output; the
    # plain formulation keeps five (mask, zero tangent, exponentials, sums and weights).
    attn = _grouped(key, kv_heads)
    x = jax.random.normal(jax.random.key(1), (SEQ, G_EMBED))

    def kept(function: Callable[[jax.Array], jax.Array]) -> int:
        _, linear = jax.linearize(function, x)
        consts = jax.make_jaxpr(linear)(x).consts
        return sum(np.size(c) == G_HEADS * SEQ * SEQ for c in consts)

    assert kept(attn) == 1
    assert kept(lambda x: plain_attention(attn, x)) > 1  # the count can tell them apart


def test_rotary_matches_loop_reference(key: jax.Array) -> None:
    attn = _grouped(key, 2, tg.Rotary(100.0))
    x = jax.random.normal(jax.random.key(1), (SEQ, G_EMBED))
    expected = reference_for(attn, x)
    np.testing.assert_allclose(np.asarray(attn(x)), expected, rtol=1e-5, atol=1e-5)
    # The rotation matters: without it the output differs.
    plain = eqx.tree_at(lambda m: m.rotary, attn, None, is_leaf=lambda n: n is None)
    assert not np.allclose(np.asarray(plain(x)), expected, atol=1e-3)


@pytest.mark.parametrize(
    ("kv_heads", "rotary"),
    [(1, False), (2, False), (3, True), (6, True)],
    ids=["multi_query", "grouped", "grouped_rotary", "multi_head_rotary"],
)
def test_grouped_decode_prefill_then_one_at_a_time_equals_call(
    key: jax.Array, kv_heads: int, rotary: bool
) -> None:
    # One token at a time runs the single-query branch; rotary needs the cache's position.
    attn = _grouped(key, kv_heads, tg.Rotary() if rotary else None)
    x = jax.random.normal(jax.random.key(1), (SEQ, G_EMBED))
    full = np.asarray(attn(x))
    decode = jax.jit(lambda x, c: attn.decode(x, c))  # compiles twice: prefill, step
    out, cache = decode(x[:3], empty_cache(heads=kv_heads, head_dim=G_HEAD_DIM, fill=7.0))
    np.testing.assert_allclose(np.asarray(out), full[:3], rtol=1e-5, atol=1e-5)
    for t in range(3, SEQ):
        out, cache = decode(x[t : t + 1], cache)
        np.testing.assert_allclose(np.asarray(out[0]), full[t], rtol=1e-5, atol=1e-5)
    assert cache.keys.shape == (KV_SEQ, kv_heads, G_HEAD_DIM)


def test_kv_heads_must_divide_heads(key: jax.Array) -> None:
    with pytest.raises(ValueError, match=r"num_kv_heads=4 does not divide num_heads=6"):
        tg.CausalSelfAttention(G_EMBED, G_HEADS, num_kv_heads=4, key=key)
    with pytest.raises(ValueError, match=r"num_kv_heads=0 does not divide"):
        tg.CausalSelfAttention(G_EMBED, G_HEADS, num_kv_heads=0, key=key)


def test_rotary_needs_an_even_head_dim(key: jax.Array) -> None:
    with pytest.raises(ValueError, match=r"head_dim = embed_dim // num_heads must be even, got 15"):
        tg.CausalSelfAttention(EMBED, HEADS, rotary=tg.Rotary(), key=key)


def test_decode_more_positions_than_the_cache_holds(key: jax.Array) -> None:
    with pytest.raises(ValueError, match="x has 12 positions but the KV cache has 11 slots"):
        random_attention(key).decode(jnp.ones((12, EMBED)), empty_cache())


def test_grouped_projection_of_the_wrong_width_names_the_rule(key: jax.Array) -> None:
    """With 6 query heads and 2 key/value heads of 2, the fused projection is (6 + 2 * 2) * 2
    wide, not 3 * embed."""
    layer = tg.CausalSelfAttention(12, 6, num_kv_heads=2, key=key)
    wide = eqx.tree_at(lambda m: m.qkv_proj, layer, tg.Linear(12, 36, key=key))
    with pytest.raises(TypeCheckError, match=r"should be 20 but is 36 in argument \"qkv\""):
        wide(jnp.ones((SEQ, 12)))


def test_projection_of_the_wrong_width_inside_a_gpt_names_the_layer(key: jax.Array) -> None:
    """`_split` is a static method: its error sits at the attention layer that called it."""
    model = tg.GPT(tg.GPTConfig.microgpt(vocab_size=27, num_layers=2), key=key)
    narrow = eqx.filter_vmap(lambda k: tg.Linear(16, 24, key=k))(jax.random.split(key, 2))
    bad = eqx.tree_at(lambda m: m.blocks.attn.qkv_proj, model, narrow)
    with pytest.raises(TypeCheckError) as excinfo:
        bad(jnp.arange(5))
    assert str(excinfo.value).startswith("CausalSelfAttention._split at GPT.blocks[*].attn:\n")


def test_decode_a_model_cache_names_the_layer_slice() -> None:
    """The model's stacked cache, given to one layer: the fix is its slice, or GPT.decode."""
    stacked = tg.KVCache.empty(num_layers=2, max_seq_len=KV_SEQ, num_kv_heads=HEADS, head_dim=5)
    with pytest.raises(ValueError) as excinfo:
        _decode_with(stacked)
    assert str(excinfo.value) == (
        "the KV cache has keys of shape (2, 11, 3, 5), with a layers axis first, but one "
        "attention layer's cache is (kv_seq, kv_heads, head_dim): pass this layer's slice, "
        "KVCache(keys=cache.keys[i], values=cache.values[i], position=cache.position), or "
        "decode the whole model with GPT.decode"
    )


def test_decode_a_vector_position() -> None:
    cache = empty_cache()
    position = jnp.zeros(2, jnp.int32)
    cache = tg.KVCache(keys=cache.keys, values=cache.values, position=position)  # type: ignore[shape]
    with pytest.raises(ValueError, match=r"the KV cache's position has shape \(2,\), but it is"):
        _decode_with(cache)


def test_decode_a_batch_of_caches_under_vmap(key: jax.Array) -> None:
    """A cache made with a batch axis on every array, its position too, decodes mapped: the
    position is checked where decode reads it, one scalar per sequence, not where it is made."""
    layer = random_attention(key)
    cache = empty_cache()
    batched = tg.KVCache(
        keys=jnp.stack([cache.keys] * 2),
        values=jnp.stack([cache.values] * 2),
        position=jnp.zeros(2, jnp.int32),  # type: ignore[shape]
    )
    out, written = jax.vmap(layer.decode)(jnp.ones((2, 1, EMBED)), batched)
    assert out.shape == (2, 1, EMBED)
    assert written.position.tolist() == [1, 1]


# Against its own annotations: heads = kv_heads * group, embed = heads * head_dim, an even
# head_dim for rotary, and a cache with room for the sequence.

_SIZES: dict[str, DimSpec] = {
    "kv_heads": st.integers(1, 3),
    "group": st.integers(1, 3),
    "heads": lambda d: d["kv_heads"] * d["group"],
    "head_dim": st.integers(1, 3).map(lambda n: 2 * n),
    "embed": lambda d: d["heads"] * d["head_dim"],
    "kv_seq": lambda d: d["seq"] + 1,
}


def _make(rotary: bool) -> Callable[[Mapping[str, int], jax.Array], tg.CausalSelfAttention]:
    def make(dims: Mapping[str, int], key: jax.Array) -> tg.CausalSelfAttention:
        return tg.CausalSelfAttention(
            dims["embed"],
            dims["heads"],
            num_kv_heads=dims["kv_heads"],
            rotary=tg.Rotary() if rotary else None,
            key=key,
        )

    return make


def _cache(dims: Mapping[str, int], key: jax.Array) -> tg.KVCache:
    shape = (dims["kv_seq"], dims["kv_heads"], dims["head_dim"])
    return tg.KVCache(keys=jnp.zeros(shape), values=jnp.zeros(shape), position=jnp.int32(0))


@pytest.mark.parametrize("rotary", [False, True], ids=["plain", "rotary"])
def test_property_against_annotations(rotary: bool) -> None:
    check_layer(_make(rotary), dims=_SIZES, max_examples=8)
    check_layer(
        _make(rotary), method="decode", dims=_SIZES, inputs={"cache": _cache}, max_examples=8
    )


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
            "Linear.__call__ at CausalSelfAttention.qkv_proj:\n",
            'axis "in" is 15 from field "weight" (float32[45, 15]) but 17 in argument "x"',
        ],
    ),
    (
        "one position, not a sequence",
        lambda: _attn()(jnp.ones(EMBED)),  # type: ignore[shape]
        ['argument "x": expected (seq, embed), got float32[15] (1 axis, not 2)'],
    ),
    (
        "decode, wrong embed",
        lambda: _attn().decode(jnp.ones((1, EMBED - 1)), empty_cache()),
        [
            "Linear.__call__ at CausalSelfAttention.qkv_proj:\n",
            'axis "in" is 15 from field "weight" (float32[45, 15]) but 14 in argument "x"',
        ],
    ),
    (
        "decode, cache with the wrong number of heads",
        lambda: _decode_with(empty_cache(heads=2)),
        [
            "CausalSelfAttention._write:\n",
            'axis "kv_heads" is 2 from argument "keys" (float32[11, 2, 5]) '
            'but 3 in argument "new_keys" (float32[1, 3, 5])',
        ],
    ),
    (
        "decode, cache with the wrong head_dim",
        lambda: _decode_with(empty_cache(head_dim=7)),
        [
            'axis "head_dim" is 7 from argument "keys" (float32[11, 3, 7]) '
            'but 5 in argument "new_keys" (float32[1, 3, 5])',
        ],
    ),
    (
        "decode, cache with heads and head_dim swapped",
        lambda: _decode_with(empty_cache(heads=HEAD_DIM, head_dim=HEADS)),
        [
            'axis "kv_heads" is 5 from argument "keys" (float32[11, 5, 3]) '
            'but 3 in argument "new_keys" (float32[1, 3, 5])',
        ],
    ),
    (
        "a fused projection of the wrong width",
        lambda: eqx.tree_at(
            lambda m: m.qkv_proj, _attn(), tg.Linear(EMBED, 2 * EMBED, key=jax.random.key(1))
        )(jnp.ones((SEQ, EMBED))),
        [
            "CausalSelfAttention._split:\n",
            'axis "head_dim*(heads+2*kv_heads)" should be 45 but is 30 in argument "qkv" '
            "(float32[7, 30])",
        ],
    ),
    (
        "decode, a fused projection of the wrong width",
        lambda: eqx.tree_at(
            lambda m: m.qkv_proj, _attn(), tg.Linear(EMBED, 2 * EMBED, key=jax.random.key(1))
        ).decode(jnp.ones((1, EMBED)), empty_cache()),
        ['axis "head_dim*(heads+2*kv_heads)" should be 45 but is 30 in argument "qkv"'],
    ),
    (
        "decode, not a KVCache",
        lambda: _decode_with((jnp.zeros((KV_SEQ, HEADS, HEAD_DIM)),) * 2),
        [
            "CausalSelfAttention.decode:\n",
            'argument "cache": expected KVCache, got (float32[11, 3, 5], float32[11, 3, 5])',
        ],
    ),
]


@pytest.mark.parametrize(
    ("call", "fragments"), [(c, f) for _, c, f in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS]
)
def test_bad_inputs_name_the_argument_and_axis(
    call: Callable[[], object], fragments: list[str]
) -> None:
    assert_shape_error(call, fragments)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((16, 4.0), {}, "CausalSelfAttention: num_heads must be a positive int, got 4.0"),
        ((16, True), {}, "CausalSelfAttention: num_heads must be a positive int, got True"),
        ((0, 4), {}, "CausalSelfAttention: embed_dim must be a positive int, got 0"),
        ((-16, 4), {}, "CausalSelfAttention: embed_dim must be a positive int, got -16"),
        ((16, 4), {"num_kv_heads": 2.0}, "num_kv_heads must be None or a positive int, got 2.0"),
        ((16, 4), {"init_std": -1}, "init_std must be a finite number >= 0, got -1"),
    ],
)
def test_bad_sizes_are_named(
    key: jax.Array, args: tuple[object, object], kwargs: dict[str, object], message: str
) -> None:
    """Before the fix these failed inside JAX (float shapes, MLIR) or built a layer."""
    with pytest.raises(ValueError, match=message):
        tg.CausalSelfAttention(*args, **kwargs, key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize("rotary", [10000.0, True])
def test_rotary_that_is_not_a_rotary(key: jax.Array, rotary: object) -> None:
    """Before the fix the layer was built, and its first call failed: 'float' not callable."""
    with pytest.raises(TypeError, match=r"rotary must be a tg.Rotary or None, got"):
        tg.CausalSelfAttention(16, 4, rotary=rotary, key=key)  # type: ignore[arg-type]


def test_empty_sequence(key: jax.Array) -> None:
    """Before the fix: ZeroDivisionError from the reshape of zero positions."""
    attn = tg.CausalSelfAttention(16, 4, num_kv_heads=2, key=key)
    assert attn(jnp.ones((0, 16))).shape == (0, 16)
    cache = tg.KVCache(
        keys=jnp.zeros((8, 2, 4)), values=jnp.zeros((8, 2, 4)), position=jnp.int32(3)
    )
    out, cache = attn.decode(jnp.ones((0, 16)), cache)
    assert out.shape == (0, 16)
    assert int(cache.position) == 3


@pytest.mark.parametrize(
    ("position", "message"),
    [
        (-1, "the cache's position must be >= 0, got -1"),
        (7, "the KV cache holds 7 positions; 2 more would pass its 8 slots"),
    ],
)
def test_decode_bad_position_eager(key: jax.Array, position: int, message: str) -> None:
    """Before the fix an EquinoxRuntimeError without the position; now a ValueError with it."""
    attn = tg.CausalSelfAttention(16, 4, num_kv_heads=2, key=key)
    cache = tg.KVCache(
        keys=jnp.zeros((8, 2, 4)), values=jnp.zeros((8, 2, 4)), position=jnp.int32(position)
    )
    with pytest.raises(ValueError, match=message):
        attn.decode(jnp.ones((2, 16)), cache)
