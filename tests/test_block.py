"""`Block`: the pre-norm residual equations, a reference built from the layer references,
cached decoding against the full call, and errors that show the call path."""

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import strategies as st

import typedgpt as tg
from tests.shape_errors import assert_shape_error
from typedgpt.testing import check_layer

from .test_attention import attention_reference
from .test_mlp import gelu_tanh, mlp_reference, relu
from .test_norm import layernorm_reference, rmsnorm_reference
from .test_swiglu import swiglu_reference

SEQ, HEADS, HEAD_DIM, MLP_DIM = 7, 3, 5, 11
EMBED = HEADS * HEAD_DIM  # 15

GPT2_LIKE = tg.GPTConfig(
    vocab_size=2,
    max_seq_len=13,
    num_layers=1,
    num_heads=HEADS,
    embed_dim=EMBED,
    mlp_dim=MLP_DIM,
)
MICROGPT_LIKE = tg.GPTConfig.microgpt(
    2, max_seq_len=13, num_heads=HEADS, embed_dim=EMBED, mlp_dim=MLP_DIM
)
CONFIGS = {
    "gpt2": GPT2_LIKE,
    "microgpt": MICROGPT_LIKE,
    "rmsnorm_with_gain": GPT2_LIKE.replace(norm="rmsnorm"),
    "layernorm_without_params_relu": GPT2_LIKE.replace(norm_has_params=False, activation="relu"),
}


def random_block(config: tg.GPTConfig, key: jax.Array) -> tg.Block:
    """A block whose every parameter (gains and biases too) is drawn at random."""
    block = tg.Block(config, key=key)
    leaves, treedef = jax.tree.flatten(block)
    keys = jax.random.split(jax.random.key(1), len(leaves))
    new = [0.4 * jax.random.normal(k, leaf.shape) for k, leaf in zip(keys, leaves, strict=True)]
    randomised: tg.Block = jax.tree.unflatten(treedef, new)
    return randomised


def _array(a: jax.Array | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a)


def norm_reference(norm: tg.RMSNorm | tg.LayerNorm, x: np.ndarray) -> np.ndarray:
    rows: list[np.ndarray]
    if isinstance(norm, tg.RMSNorm):
        rows = [rmsnorm_reference(row, _array(norm.weight), norm.eps) for row in x]
    else:
        rows = [
            layernorm_reference(row, _array(norm.weight), _array(norm.bias), norm.eps) for row in x
        ]
    return np.stack(rows)


def block_reference(block: tg.Block, x: np.ndarray) -> np.ndarray:
    """`x + attn(norm1(x))`, then `+ mlp(norm2(x))`, from the loop references."""
    attn, mlp = block.attn, block.mlp
    x = x + attention_reference(
        norm_reference(block.norm1, x),
        np.asarray(attn.qkv_proj.weight),
        _array(attn.qkv_proj.bias),
        np.asarray(attn.out_proj.weight),
        _array(attn.out_proj.bias),
        attn.num_heads,
        attn.num_kv_heads,
        None if attn.rotary is None else attn.rotary.base,
    )
    if isinstance(mlp, tg.SwiGLU):
        swiglu: np.ndarray = x + swiglu_reference(mlp, norm_reference(block.norm2, x))
        return swiglu
    activation = relu if mlp.activation == "relu" else gelu_tanh
    y: np.ndarray = x + mlp_reference(
        norm_reference(block.norm2, x),
        np.asarray(mlp.up_proj.weight),
        _array(mlp.up_proj.bias),
        np.asarray(mlp.down_proj.weight),
        _array(mlp.down_proj.bias),
        activation,
    )
    return y


def test_parts_follow_the_config(key: jax.Array) -> None:
    gpt2 = tg.Block(GPT2_LIKE, key=key)
    assert isinstance(gpt2.norm1, tg.LayerNorm) and isinstance(gpt2.norm2, tg.LayerNorm)
    assert isinstance(gpt2.mlp, tg.MLP)
    assert gpt2.attn.num_kv_heads == HEADS and gpt2.attn.rotary is None
    assert gpt2.norm1.weight is not None and gpt2.norm1.bias is not None
    assert gpt2.mlp.activation == "gelu_tanh"
    assert gpt2.attn.qkv_proj.bias is not None
    assert gpt2.mlp.up_proj.weight.shape == (MLP_DIM, EMBED)
    micro = tg.Block(MICROGPT_LIKE, key=key)
    assert isinstance(micro.norm1, tg.RMSNorm) and micro.norm1.weight is None
    assert isinstance(micro.mlp, tg.MLP)
    assert micro.mlp.activation == "relu"
    assert micro.attn.qkv_proj.bias is None and micro.mlp.down_proj.bias is None
    assert micro.attn.num_heads == HEADS


def test_reads_like_its_equations(key: jax.Array) -> None:
    block = random_block(GPT2_LIKE, key)
    x = jax.random.normal(jax.random.key(2), (SEQ, EMBED))
    h = x + block.attn(jax.vmap(block.norm1)(x))
    expected = h + block.mlp(jax.vmap(block.norm2)(h))
    np.testing.assert_allclose(np.asarray(block(x)), np.asarray(expected), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("config", list(CONFIGS.values()), ids=list(CONFIGS))
def test_matches_loop_reference(key: jax.Array, config: tg.GPTConfig) -> None:
    block = random_block(config, key)
    x = jax.random.normal(jax.random.key(2), (SEQ, EMBED))
    y = block(x)
    assert y.shape == (SEQ, EMBED) and y.dtype == jnp.float32
    expected = block_reference(block, np.asarray(x))
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config", [GPT2_LIKE, MICROGPT_LIKE], ids=["gpt2", "microgpt"])
def test_decode_prefill_then_one_token_at_a_time_equals_call(
    key: jax.Array, config: tg.GPTConfig
) -> None:
    block = random_block(config, key)
    x = jax.random.normal(jax.random.key(2), (SEQ, EMBED))
    full = np.asarray(block(x))
    cache = tg.KVCache(
        keys=jnp.zeros((13, HEADS, HEAD_DIM)),
        values=jnp.zeros((13, HEADS, HEAD_DIM)),
        position=jnp.zeros((), jnp.int32),
    )
    step = jax.jit(lambda x, cache: block.decode(x, cache))  # eager: see test_attention.py
    out, cache = step(x[:2], cache)
    np.testing.assert_allclose(np.asarray(out), full[:2], rtol=1e-5, atol=1e-5)
    for t in range(2, SEQ):
        out, cache = step(x[t : t + 1], cache)
        assert int(cache.position) == t + 1
        np.testing.assert_allclose(np.asarray(out[0]), full[t], rtol=1e-5, atol=1e-5)


def test_causal(key: jax.Array) -> None:
    block = random_block(GPT2_LIKE, key)
    x = jax.random.normal(jax.random.key(2), (SEQ, EMBED))
    y, y_changed = block(x), block(x.at[5].set(3.0))
    np.testing.assert_array_equal(np.asarray(y[:5]), np.asarray(y_changed[:5]))


# A LLaMA-like block: RMSNorm, SwiGLU, rotary embeddings, 4 query heads sharing 2 key/value
# heads of head_dim 2 (even, for rotary).

LLAMA_LIKE = tg.GPTConfig(
    vocab_size=2,
    max_seq_len=13,
    num_layers=1,
    num_heads=4,
    num_kv_heads=2,
    embed_dim=8,
    mlp_dim=MLP_DIM,
    norm="rmsnorm",
    mlp="swiglu",
    position_encoding="rope",
    use_bias=False,
)


def test_options_choose_the_parts(key: jax.Array) -> None:
    block = tg.Block(LLAMA_LIKE, key=key)
    assert isinstance(block.mlp, tg.SwiGLU)
    assert block.mlp.gate_proj.weight.shape == (MLP_DIM, 8)
    assert block.attn.rotary == tg.Rotary(10000.0)
    assert block.attn.num_kv_heads == 2
    assert block.attn.qkv_proj.weight.shape == ((4 + 2 * 2) * 2, 8)


def test_options_match_loop_reference(key: jax.Array) -> None:
    block = random_block(LLAMA_LIKE, key)
    x = jax.random.normal(jax.random.key(2), (SEQ, 8))
    expected = block_reference(block, np.asarray(x))
    np.testing.assert_allclose(np.asarray(block(x)), expected, rtol=1e-5, atol=1e-5)


def test_options_decode_equals_call(key: jax.Array) -> None:
    block = random_block(LLAMA_LIKE, key)
    x = jax.random.normal(jax.random.key(2), (SEQ, 8))
    full = np.asarray(block(x))
    zeros = jnp.zeros((13, 2, 2))
    cache = tg.KVCache(keys=zeros, values=zeros, position=jnp.int32(0))
    decode = jax.jit(lambda x, c: block.decode(x, c))
    out, cache = decode(x[:3], cache)
    np.testing.assert_allclose(np.asarray(out), full[:3], rtol=1e-5, atol=1e-5)
    for t in range(3, SEQ):  # the single-query path, at positions 3, 4, ...
        out, cache = decode(x[t : t + 1], cache)
        np.testing.assert_allclose(np.asarray(out), full[t : t + 1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "config",
    [GPT2_LIKE, LLAMA_LIKE, LLAMA_LIKE.replace(num_kv_heads=1, mlp="standard")],
    ids=["gpt2", "llama", "multi_query"],
)
def test_property_against_annotations(config: tg.GPTConfig) -> None:
    def make(dims: Mapping[str, int], key: jax.Array) -> tg.Block:
        return tg.Block(config.replace(embed_dim=dims["embed"], mlp_dim=dims["mlp"]), key=key)

    # embed a multiple of 24: 3 or 4 heads of an even head_dim, as every config needs
    check_layer(make, dims={"embed": st.integers(1, 2).map(lambda n: 24 * n)}, max_examples=5)


# Errors


def _block(config: tg.GPTConfig = GPT2_LIKE) -> tg.Block:
    return tg.Block(config, key=jax.random.key(0))


def _wrong_heads_cache() -> tg.KVCache:
    return tg.KVCache(
        keys=jnp.zeros((13, HEAD_DIM, HEADS)),  # heads and head_dim swapped
        values=jnp.zeros((13, HEAD_DIM, HEADS)),
        position=jnp.zeros((), jnp.int32),
    )


BAD_CALLS: list[tuple[str, Callable[[], object], list[str]]] = [
    (
        "wrong embed",
        lambda: _block()(jnp.ones((SEQ, EMBED - 2))),
        [
            "LayerNorm.__call__ at Block.norm1:\n",
            'axis "embed" is 15 from field "weight" (float32[15]) but 13 in argument "x"',
            'argument "x": expected (embed,) = (15,), got float32[13]',
        ],
    ),
    (
        "wrong embed, gain-free norms",
        lambda: _block(MICROGPT_LIKE)(jnp.ones((SEQ, EMBED - 2))),
        [
            "Linear.__call__ at Block.attn.qkv_proj:\n",
            'axis "in" is 15 from field "weight" (float32[45, 15]) but 13 in argument "x"',
        ],
    ),
    (
        "one position, not a sequence",
        lambda: _block()(jnp.ones(EMBED)),  # type: ignore[shape]
        ['Block.__call__:\n  argument "x": expected (seq, embed), got float32[15] (1 axis, not 2)'],
    ),
    (
        "broken attention output weight",
        lambda: eqx.tree_at(lambda b: b.attn.out_proj.weight, _block(), jnp.ones((EMBED, 16)))(
            jnp.ones((SEQ, EMBED))
        ),
        [
            "Linear.__call__ at Block.attn.out_proj:\n",
            'axis "in" is 16 from field "weight" (float32[15, 16]) but 15 in argument "x"',
        ],
    ),
    (
        "broken MLP down weight",
        lambda: eqx.tree_at(lambda b: b.mlp.down_proj.weight, _block(), jnp.ones((EMBED, 3)))(
            jnp.ones((SEQ, EMBED))
        ),
        [
            "Linear.__call__ at Block.mlp.down_proj:\n",
            'axis "in" is 3 from field "weight" (float32[15, 3]) but 11 in argument "x"',
        ],
    ),
    (
        "decode, cache with heads and head_dim swapped",
        lambda: _block().decode(jnp.ones((1, EMBED)), _wrong_heads_cache()),
        [
            "CausalSelfAttention._write at Block.attn:\n",
            'axis "kv_heads" is 5 from argument "keys" (float32[13, 5, 3]) '
            'but 3 in argument "new_keys" (float32[1, 3, 5])',
        ],
    ),
]


@pytest.mark.parametrize(
    ("call", "fragments"), [(c, f) for _, c, f in BAD_CALLS], ids=[n for n, _, _ in BAD_CALLS]
)
def test_bad_inputs_name_the_argument_axis_and_call_path(
    call: Callable[[], object], fragments: list[str]
) -> None:
    assert_shape_error(call, fragments)


def test_config_that_is_not_a_config(key: jax.Array) -> None:
    """Before the fix: AttributeError: 'dict' object has no attribute 'norm'."""
    with pytest.raises(TypeError, match=r"Block takes a tg.GPTConfig, got dict"):
        tg.Block({"embed_dim": 16}, key=key)  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [tg.GPT, tg.Block])
def test_a_key_that_is_not_an_array_is_named(make: Any) -> None:
    """JAX's error was "invalid PRNG key data: expected key_data to have ndim, shape, and
    dtype attributes. Got 0"; a config that is not one gets the fix too."""
    config = tg.GPTConfig.microgpt(vocab_size=5)
    name = make.__name__
    with pytest.raises(TypeError) as info:
        make(config, key=0)
    assert str(info.value) == (
        f"{name}: key must be a JAX PRNG key, got int 0: pass jax.random.key(seed)"
    )
    with pytest.raises(TypeError, match=rf"^{name} takes a tg.GPTConfig, got dict: build one"):
        make({"vocab_size": 5}, key=jax.random.key(0))
