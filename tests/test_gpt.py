"""Tests for `typedgpt/_gpt.py`: `GPT` against two independent references, its properties
(causality, cached decoding, batching, jit), and the error for each bad input.

The references are microgpt's forward pass transcribed loop by loop into NumPy (below), and
Hugging Face transformers' `GPT2LMHeadModel` with random weights, built from a local config.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jaxtyping import Array, Int, TypeCheckError
from transformers import GPT2Config, GPT2LMHeadModel

import typedgpt as tg
from tests.hf_models import randomize_gpt2

# Equivalence with a reference, and between two code paths of the model.
RTOL = 1e-5
ATOL = 1e-5

# --------------------------------------------------------------------------------------------
# microgpt's forward pass, transcribed from Karpathy's Python: scalars are np.float32, vectors
# are lists, matrices are (out, in) and `linear` takes one dot product per row. The KV cache
# is microgpt's: a list per layer that grows by one key and one value per token.
# --------------------------------------------------------------------------------------------

F32 = np.float32
Vector = list[np.float32]
Matrix = np.ndarray  # float32, (out, in), iterated row by row


def _linear(x: Vector, w: Matrix) -> Vector:
    return [F32(sum((wi * xi for wi, xi in zip(wo, x, strict=True)), F32(0))) for wo in w]


def _softmax(logits: Vector) -> Vector:
    max_val = max(logits)
    exps = [F32(np.exp(val - max_val)) for val in logits]
    total = F32(sum(exps, F32(0)))
    return [F32(e / total) for e in exps]


def _rmsnorm(x: Vector) -> Vector:
    ms = F32(sum((xi * xi for xi in x), F32(0)) / F32(len(x)))
    scale = F32((ms + F32(1e-5)) ** F32(-0.5))
    return [F32(xi * scale) for xi in x]


def _microgpt(
    token_id: int,
    pos_id: int,
    keys: list[list[Vector]],
    values: list[list[Vector]],
    state_dict: dict[str, Matrix],
    n_layer: int,
    n_head: int,
) -> Vector:
    """microgpt's `gpt(token_id, pos_id, keys, values)`, appending to `keys` and `values`."""
    tok_emb = list(state_dict["wte"][token_id])
    pos_emb = list(state_dict["wpe"][pos_id])
    x = [F32(t + p) for t, p in zip(tok_emb, pos_emb, strict=True)]
    x = _rmsnorm(x)
    head_dim = len(x) // n_head
    for li in range(n_layer):
        # 1) multi-head attention block
        x_residual = x
        x = _rmsnorm(x)
        q = _linear(x, state_dict[f"layer{li}.attn_wq"])
        k = _linear(x, state_dict[f"layer{li}.attn_wk"])
        v = _linear(x, state_dict[f"layer{li}.attn_wv"])
        keys[li].append(k)
        values[li].append(v)
        x_attn: Vector = []
        for h in range(n_head):
            hs = h * head_dim
            q_h = q[hs : hs + head_dim]
            k_h = [ki[hs : hs + head_dim] for ki in keys[li]]
            v_h = [vi[hs : hs + head_dim] for vi in values[li]]
            attn_logits = [
                F32(sum((q_h[j] * k_h[t][j] for j in range(head_dim)), F32(0)) / F32(head_dim**0.5))
                for t in range(len(k_h))
            ]
            attn_weights = _softmax(attn_logits)
            head_out = [
                F32(sum((attn_weights[t] * v_h[t][j] for t in range(len(v_h))), F32(0)))
                for j in range(head_dim)
            ]
            x_attn.extend(head_out)
        x = _linear(x_attn, state_dict[f"layer{li}.attn_wo"])
        x = [F32(a + b) for a, b in zip(x, x_residual, strict=True)]
        # 2) MLP block
        x_residual = x
        x = _rmsnorm(x)
        x = _linear(x, state_dict[f"layer{li}.mlp_fc1"])
        x = [F32(max(xi, F32(0))) for xi in x]
        x = _linear(x, state_dict[f"layer{li}.mlp_fc2"])
        x = [F32(a + b) for a, b in zip(x, x_residual, strict=True)]
    return _linear(x, state_dict["lm_head"])


def _microgpt_weights(model: tg.GPT) -> dict[str, Matrix]:
    """Our weights under microgpt's names, every matrix `(out, in)` as microgpt stores it.

    `state_dict()` is in Conv1D layout `(in, out)`, with q, k and v fused along `out`."""
    sd = model.state_dict()
    embed = model.config.embed_dim
    weights = {"wte": sd["wte.weight"], "wpe": sd["wpe.weight"], "lm_head": sd["lm_head.weight"]}
    for i in range(model.config.num_layers):
        qkv = sd[f"h.{i}.attn.c_attn.weight"]
        weights[f"layer{i}.attn_wq"] = qkv[:, :embed].T
        weights[f"layer{i}.attn_wk"] = qkv[:, embed : 2 * embed].T
        weights[f"layer{i}.attn_wv"] = qkv[:, 2 * embed :].T
        weights[f"layer{i}.attn_wo"] = sd[f"h.{i}.attn.c_proj.weight"].T
        weights[f"layer{i}.mlp_fc1"] = sd[f"h.{i}.mlp.c_fc.weight"].T
        weights[f"layer{i}.mlp_fc2"] = sd[f"h.{i}.mlp.c_proj.weight"].T
    assert all(w.dtype == np.float32 for w in weights.values())
    return weights


def _microgpt_logits(model: tg.GPT, tokens: list[int]) -> np.ndarray:
    """Feed `tokens` one at a time through the transcription, as microgpt does."""
    weights = _microgpt_weights(model)
    n_layer, n_head = model.config.num_layers, model.config.num_heads
    keys: list[list[Vector]] = [[] for _ in range(n_layer)]
    values: list[list[Vector]] = [[] for _ in range(n_layer)]
    rows = [
        _microgpt(token_id, pos_id, keys, values, weights, n_layer, n_head)
        for pos_id, token_id in enumerate(tokens)
    ]
    assert [len(k) for k in keys] == [len(tokens)] * n_layer
    out = np.array(rows)
    assert out.dtype == np.float32
    return out


@pytest.mark.parametrize("num_layers", [1, 2])
def test_microgpt_matches_loop_transcription(num_layers: int, key: jax.Array) -> None:
    config = tg.GPTConfig.microgpt(vocab_size=27, num_layers=num_layers)
    model = tg.GPT(config, key=key)
    tokens = [0, 5, 26, 3, 3, 17, 9, 12, 1, 0]
    expected = _microgpt_logits(model, tokens)
    logits = model(jnp.asarray(tokens, dtype=jnp.int32))
    assert logits.shape == (10, 27) and logits.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(logits), expected, rtol=RTOL, atol=ATOL)


# --------------------------------------------------------------------------------------------
# GPT-2 against Hugging Face transformers, random weights, configs built here (no download).
# --------------------------------------------------------------------------------------------


def _hf_gpt2(
    *, vocab: int, positions: int, layers: int, heads: int, embed: int, seed: int
) -> GPT2LMHeadModel:
    """A GPT2LMHeadModel with every parameter random: norms and biases too, not just init."""
    # The plain attention (masked softmax), a kwarg of PreTrainedConfig that GPT2Config's
    # own signature does not list.
    eager: dict[str, Any] = {"attn_implementation": "eager"}
    config = GPT2Config(
        vocab_size=vocab,
        n_positions=positions,
        n_embd=embed,
        n_layer=layers,
        n_head=heads,
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        tie_word_embeddings=True,
        **eager,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    model.eval()  # type: ignore[no-untyped-call]
    assert model.config._attn_implementation == "eager"
    randomize_gpt2(model)
    return model


def _hf_state_dict(model: GPT2LMHeadModel) -> dict[str, np.ndarray]:
    """`transformer.*` as NumPy, without the prefix, the attention-mask buffers and the
    (tied) lm_head."""
    out: dict[str, np.ndarray] = {}
    for name, tensor in model.state_dict().items():
        if not name.startswith("transformer."):
            continue
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        out[name.removeprefix("transformer.")] = tensor.detach().numpy().copy()
    return out


def _hf_logits(model: GPT2LMHeadModel, tokens: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = model(torch.from_numpy(tokens.astype(np.int64))[None]).logits[0]
    out: np.ndarray = logits.numpy()
    assert out.dtype == np.float32
    return out


@pytest.mark.parametrize(
    ("vocab", "positions", "layers", "heads", "embed", "seq"),
    [(101, 32, 2, 3, 48, 32), (97, 24, 3, 4, 64, 19)],
)
def test_gpt2_matches_hugging_face(
    vocab: int, positions: int, layers: int, heads: int, embed: int, seq: int
) -> None:
    hf = _hf_gpt2(vocab=vocab, positions=positions, layers=layers, heads=heads, embed=embed, seed=1)
    config = tg.GPTConfig.gpt2(
        vocab_size=vocab,
        max_seq_len=positions,
        num_layers=layers,
        num_heads=heads,
        embed_dim=embed,
        mlp_dim=4 * embed,
    )
    model = tg.GPT.from_state_dict(config, _hf_state_dict(hf))
    tokens = np.random.default_rng(0).integers(0, vocab, size=seq, dtype=np.int32)
    expected = _hf_logits(hf, tokens)
    logits = np.asarray(model(jnp.asarray(tokens)))
    assert logits.shape == (seq, vocab) and logits.dtype == np.float32
    scale = float(np.abs(expected).max())
    assert scale > 1.0  # the logits are not all near zero, so the comparison means something
    np.testing.assert_allclose(logits, expected, rtol=RTOL, atol=ATOL * scale)


# --------------------------------------------------------------------------------------------
# Properties, for both presets. The gpt2 model has random norms and biases, not ones and zeros.
# --------------------------------------------------------------------------------------------


_GPT2_SMALL = tg.GPTConfig.gpt2(
    vocab_size=101, max_seq_len=32, num_layers=2, num_heads=3, embed_dim=48, mlp_dim=192
)


def _microgpt_model() -> tg.GPT:
    return tg.GPT(tg.GPTConfig.microgpt(vocab_size=27), key=jax.random.key(1))


def _gpt2_model() -> tg.GPT:
    sd = tg.GPT(_GPT2_SMALL, key=jax.random.key(2)).state_dict()
    rng = np.random.default_rng(3)
    noisy = {n: (a + 0.1 * rng.standard_normal(a.shape)).astype(np.float32) for n, a in sd.items()}
    return tg.GPT.from_state_dict(_GPT2_SMALL, noisy)


_MODELS = {"microgpt": _microgpt_model, "gpt2": _gpt2_model}
SEQ = 12  # one length for most property tests, so each model compiles for it once


@pytest.fixture(scope="module", params=sorted(_MODELS))
def model(request: pytest.FixtureRequest) -> tg.GPT:
    name: str = request.param
    return _MODELS[name]()


def _tokens(model: tg.GPT, seq: int, seed: int = 0) -> Int[Array, " seq"]:
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.integers(0, model.config.vocab_size, size=seq, dtype=np.int32))


def test_causality(model: tg.GPT) -> None:
    seq = SEQ
    tokens = _tokens(model, seq)
    base = np.asarray(model(tokens))
    for t in range(seq):
        changed = tokens.at[t].set((tokens[t] + 1) % model.config.vocab_size)
        logits = np.asarray(model(changed))
        # Exactly: a masked attention weight is exactly 0, and no row reads another's values.
        np.testing.assert_array_equal(logits[:t], base[:t])
        assert np.abs(logits[t] - base[t]).max() > 1e-3  # the change is seen where it is made


@pytest.mark.parametrize("prefill", [1, 4])
def test_cached_decoding_equals_full_forward(model: tg.GPT, prefill: int) -> None:
    seq = SEQ
    tokens = _tokens(model, seq, seed=1)
    full = np.asarray(model(tokens))
    cache = model.init_cache()
    config = model.config
    cache_shape = (config.num_layers, config.max_seq_len, config.num_heads, config.head_dim)
    assert cache.keys.shape == cache_shape and cache.values.shape == cache_shape
    assert int(cache.position) == 0

    logits, cache = model.decode(tokens[:prefill], cache)
    np.testing.assert_allclose(np.asarray(logits), full[:prefill], rtol=RTOL, atol=ATOL)
    assert int(cache.position) == prefill
    for t in range(prefill, seq):
        logits, cache = model.decode(tokens[t : t + 1], cache)
        assert logits.shape == (1, config.vocab_size)
        np.testing.assert_allclose(np.asarray(logits[0]), full[t], rtol=RTOL, atol=ATOL)
        assert int(cache.position) == t + 1
        assert cache.keys.shape == cache_shape and cache.values.shape == cache_shape


def test_unstacked_layers_decode_as_the_stack(model: tg.GPT) -> None:
    tokens = _tokens(model, 6, seed=2)
    full = np.asarray(model(tokens))
    blocks = model.unstacked_blocks()
    assert len(blocks) == model.config.num_layers
    for i, block in enumerate(blocks):
        np.testing.assert_array_equal(
            np.asarray(block.mlp.up_proj.weight), np.asarray(model.blocks.mlp.up_proj.weight[i])
        )
    stacked = model.init_cache()
    caches = [
        tg.KVCache(keys=stacked.keys[i], values=stacked.values[i], position=stacked.position)
        for i in range(len(blocks))
    ]
    logits, caches = model.forward_cached_layers(blocks, tokens[:2], caches)
    np.testing.assert_allclose(np.asarray(logits), full[:2], rtol=RTOL, atol=ATOL)
    for t in range(2, 6):  # one token at a time: the single-query attention
        logits, caches = model.forward_cached_layers(blocks, tokens[t : t + 1], caches)
        np.testing.assert_allclose(np.asarray(logits[0]), full[t], rtol=RTOL, atol=ATOL)
    assert [int(cache.position) for cache in caches] == [6] * len(blocks)
    layers = len(blocks)
    with pytest.raises(ValueError, match=f"{layers} blocks but {2 * layers} caches: give one"):
        model.forward_cached_layers(blocks, tokens[:1], caches + caches)


def test_vmap_equals_per_sequence(model: tg.GPT) -> None:
    batch = jnp.stack([_tokens(model, SEQ, seed=s) for s in range(3)])
    batched = np.asarray(jax.vmap(model)(batch))
    assert batched.shape == (3, SEQ, model.config.vocab_size)
    for i in range(3):
        np.testing.assert_allclose(batched[i], np.asarray(model(batch[i])), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seq", [1, 2, 3, 8, 15])
def test_microgpt_lengths(seq: int) -> None:
    """Every length up to max_seq_len works: the ends, and a few between (each compiles)."""
    model = _microgpt_model()
    tokens = _tokens(model, model.config.max_seq_len)
    full = np.asarray(model(tokens))
    logits = np.asarray(model(tokens[:seq]))
    assert logits.shape == (seq, model.config.vocab_size)
    np.testing.assert_allclose(logits, full[:seq], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("seq", [1, 20])
def test_gpt2_lengths(seq: int) -> None:
    model = _gpt2_model()
    tokens = _tokens(model, 32)
    full = np.asarray(model(tokens))
    logits = np.asarray(model(tokens[:seq]))
    assert logits.shape == (seq, 101)
    np.testing.assert_allclose(logits, full[:seq], rtol=RTOL, atol=ATOL)


def test_jit_equals_eager(model: tg.GPT) -> None:
    tokens = _tokens(model, SEQ)
    jitted = jax.jit(lambda t: model(t))(tokens)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(model(tokens)), rtol=RTOL, atol=ATOL)


def test_blocks_are_stacked_and_scanned() -> None:
    config = _GPT2_SMALL.replace(num_layers=3)
    model = eqx.filter_eval_shape(tg.GPT, config, key=jax.random.key(0))  # shapes only
    leaves = jax.tree.leaves(model.blocks)
    assert len(leaves) == 12  # 2 norms x (weight, bias) + 4 linears x (weight, bias)
    for leaf in leaves:
        assert leaf.shape[0] == 3
    assert model.blocks.attn.qkv_proj.weight.shape == (3, 144, 48)
    assert model.blocks.mlp.down_proj.weight.shape == (3, 48, 192)
    tokens = jnp.zeros((5,), dtype=jnp.int32)
    jaxpr = str(jax.make_jaxpr(lambda m, t: m.forward(t))(model, tokens))
    # One scan over the three layers, not three unrolled blocks.
    assert jaxpr.count("scan[") == 1 and "length=3" in jaxpr


def test_backward_pass_keeps_no_copies_of_the_stacked_weights() -> None:
    """The scan's backward pass needs each layer's weights; it must read them from the
    stacked parameters, not keep a transposed copy of every layer's (`x @ weight.T` made
    the transpose a separate array, which the scan stored per layer)."""
    config = _GPT2_SMALL.replace(num_layers=3)
    model = tg.GPT(config, key=jax.random.key(0))
    params, static = eqx.partition(model, eqx.is_array)
    tokens = jnp.arange(7) % config.vocab_size  # 7 positions: no weight has a dim of 7
    _, linear = jax.linearize(lambda p: eqx.combine(p, static)(tokens), params)
    # Stacked: each weight is (layers, out, in), where its annotation gives one layer's dims.
    weights: list[np.ndarray[Any, Any]] = [
        np.asarray(layer.weight)
        for layer in (
            model.blocks.attn.qkv_proj,
            model.blocks.attn.out_proj,
            model.blocks.mlp.up_proj,
            model.blocks.mlp.down_proj,
        )
    ]
    matrix_shapes = {w.shape for w in weights} | {(3, w.shape[2], w.shape[1]) for w in weights}
    kept = [c for c in jax.make_jaxpr(linear)(params).consts if jnp.shape(c) in matrix_shapes]
    assert len(kept) == len(weights)
    for array in kept:
        assert any(w.shape == array.shape and np.array_equal(w, array) for w in weights)


# --------------------------------------------------------------------------------------------
# Bad inputs: eager calls and jitted calls each raise with the rule and the value.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", [-1, 27, 1000])
def test_token_outside_vocabulary_eager(bad_id: int) -> None:
    model = _microgpt_model()
    tokens = jnp.asarray([1, 2, 3, bad_id, 4], dtype=jnp.int32)
    with pytest.raises(
        ValueError, match=rf"token id {bad_id} at position 3 is outside the vocabulary \[0, 27\)"
    ):
        model(tokens)


@pytest.mark.parametrize("bad_id", [-1, 27])
def test_token_outside_vocabulary_jit(bad_id: int) -> None:
    model = _microgpt_model()
    tokens = jnp.asarray([1, 2, 3, bad_id, 4], dtype=jnp.int32)
    with pytest.raises(Exception, match="outside the vocabulary") as info:
        np.asarray(jax.jit(lambda t: model(t))(tokens))
    assert "vocab_size=27" in str(info.value)


@pytest.mark.parametrize(
    ("length", "message"),
    [(17, "tokens has 17 positions but max_seq_len is 16"), (0, "tokens is empty")],
)
def test_too_long_or_empty_by_every_entry(length: int, message: str) -> None:
    """`__call__`, and the methods it compiles (`forward`, `hidden`, and `tg.explain`, which
    runs them), eagerly and under jit: `forward` returned 17 rows, the position lookup
    clamped, and empty tokens divided by zero."""
    model = _microgpt_model()
    tokens = jnp.zeros((length,), dtype=jnp.int32)
    for call in (model, model.forward, model.hidden, lambda t: tg.explain(model, t)):
        with pytest.raises(ValueError, match=message):
            call(tokens)
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda t: model(t))(tokens)
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda t: model.forward(t))(tokens)


@pytest.mark.parametrize(
    ("shape", "dtype", "reason"),
    [
        (
            (4,),
            "float32",
            r"expected an Int array, got float32\[4\]: cast it with "
            r"\.astype\(jnp\.int32\)(\n|$)",
        ),
        (
            (2, 4),
            "int32",
            r"got int32\[2, 4\] \(2 axes, not 1\): for a batch, map the call "
            r"over its first axis with jax\.vmap(\n|$)",
        ),
    ],
)
def test_tokens_of_wrong_type(shape: tuple[int, ...], dtype: str, reason: str) -> None:
    model = _microgpt_model()
    tokens = jnp.ones(shape, dtype=dtype)
    with pytest.raises(TypeCheckError, match=rf'argument "tokens"(.|\n)*{reason}'):
        model(tokens)
    with pytest.raises(TypeCheckError, match=rf'argument "tokens"(.|\n)*{reason}'):
        jax.jit(lambda t: model(t))(tokens)


def test_cache_overflow_eager() -> None:
    model = _microgpt_model()
    _, cache = model.decode(_tokens(model, 10), model.init_cache())
    with pytest.raises(ValueError, match=r"holds 10 positions; 7 more would pass max_seq_len=16"):
        model.decode(_tokens(model, 7), cache)
    logits, cache = model.decode(_tokens(model, 6), cache)  # exactly full is allowed
    assert logits.shape == (6, 27) and int(cache.position) == 16
    with pytest.raises(ValueError, match="max_seq_len=16"):
        model.decode(_tokens(model, 1), cache)


def test_an_abstract_model_makes_an_abstract_cache() -> None:
    """A model of shapes (`tg.explain`'s) allocates no cache: GPT-2 XL's is 600 MB."""
    config = tg.GPTConfig.gpt2_xl()
    model = eqx.filter_eval_shape(tg.GPT, config, key=jax.random.key(0))
    cache = model.init_cache(jnp.bfloat16, size=256)
    shape = (config.num_layers, 256, config.kv_heads, config.head_dim)
    assert cache.keys == jax.ShapeDtypeStruct(shape, jnp.bfloat16)  # type: ignore[no-untyped-call]
    assert cache.position == jax.ShapeDtypeStruct((), jnp.int32)  # type: ignore[no-untyped-call]
    with pytest.raises(ValueError, match="size must be an int from 1 to max_seq_len=1024"):
        model.init_cache(size=0)


def test_smaller_cache_decodes_as_the_full_one() -> None:
    model = _microgpt_model()
    tokens = _tokens(model, 9)
    small = model.init_cache(size=9)
    assert small.keys.shape == (1, 9, 4, 4)
    full, _ = model.decode(tokens, model.init_cache())
    logits, cache = model.decode(tokens[:5], small)
    last, cache = model.decode(tokens[5:], cache)
    np.testing.assert_allclose(
        np.concatenate([logits, last]), np.asarray(full), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(ValueError, match=r"holds 9 positions; 1 more would pass its 9 slots"):
        model.decode(tokens[:1], cache)


@pytest.mark.parametrize("size", [0, 17, 2.0, True])
def test_cache_size_out_of_range(size: Any) -> None:
    with pytest.raises(
        ValueError, match=rf"size must be an int from 1 to max_seq_len=16, got {size!r}"
    ):
        _microgpt_model().init_cache(size=size)


def test_cache_larger_than_max_seq_len_eager_and_jit() -> None:
    """A cache with more slots than positions would let jit decode past max_seq_len, where a
    learned position lookup clamps to the last row and the logits are silently wrong."""
    model = _microgpt_model()
    big = tg.KVCache.empty(num_layers=1, max_seq_len=17, num_kv_heads=4, head_dim=4)
    message = r"the KV cache has 17 slots but max_seq_len is 16: make it with this model's"
    with pytest.raises(ValueError, match=message):
        model.decode(_tokens(model, 1), big)
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda t, c: model.decode(t, c))(_tokens(model, 1), big)
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda t, c: model.forward_cached(t, c))(_tokens(model, 1), big)


def test_cache_overflow_jit() -> None:
    model = _microgpt_model()
    _, cache = model.decode(_tokens(model, 10), model.init_cache())
    step = jax.jit(lambda t, c: model.decode(t, c))
    with pytest.raises(Exception, match="the KV cache is full"):
        np.asarray(step(_tokens(model, 7), cache)[0])


def test_a_stacked_weight_of_another_depth_is_named() -> None:
    """One stacked array replaced by one of 3 layers in a 2-layer model: `lax.scan` would
    report only its leading axis sizes; the error names the parameter and the rule."""
    model = tg.GPT(_GPT2_SMALL, key=jax.random.key(0))
    bad = eqx.tree_at(lambda m: m.blocks.mlp.up_proj.bias, model, jnp.zeros((3, 192)))
    message = (
        r"GPT.blocks.mlp.up_proj.bias has shape \(3, 192\), but every array in GPT.blocks is "
        r"stacked with num_layers=2 on its first axis, one slice per layer: give it shape "
        r"\(2, 192\)"
    )
    tokens = jnp.array([1, 2, 3])
    calls = {
        "call": lambda: bad(tokens),
        "forward": lambda: bad.forward(tokens),
        "decode": lambda: bad.decode(tokens, bad.init_cache()),
        "unstacked_blocks": bad.unstacked_blocks,
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=message):
            call()
            pytest.fail(name)


# --------------------------------------------------------------------------------------------
# Checks run at trace time only: the compiled program is the same with them on or off.
# --------------------------------------------------------------------------------------------


@pytest.fixture
def restore_checks() -> Iterator[None]:
    previous = tg.checks_enabled()
    try:
        yield
    finally:
        tg.set_checks(previous)


@pytest.mark.usefixtures("restore_checks")
def test_lowered_program_same_with_checks_on_and_off(model: tg.GPT) -> None:
    tokens = _tokens(model, SEQ)
    # `model(t)` runs an inner jit whose trace is cached per model structure: a twin with an
    # equal program but another (init-only) init_std is traced afresh, not served the cache.
    twin = tg.GPT.from_state_dict(
        model.config.replace(init_std=2 * model.config.init_std), model.state_dict()
    )
    texts = {}
    for checks, subject in ((True, model), (False, twin)):
        tg.set_checks(checks)
        call = jax.jit(lambda t, m=subject: m(t)).lower(tokens).as_text()
        forward = jax.jit(lambda t, m=subject: m.forward(t)).lower(tokens).as_text()
        texts[checks] = (call, forward)
    assert "stablehlo.dot_general" in texts[True][0]
    assert texts[True] == texts[False]


# --------------------------------------------------------------------------------------------
# Architecture options: a SwiGLU MLP, rotary position embeddings, grouped-query attention
# (and multi-query), and all three together. Each: cached decoding equals the full forward
# (with rotary, this checks the position offset of the cache), a few gradient steps lower
# the loss, and the model round-trips through its state dict. Tiny sizes: head_dim 4.
# --------------------------------------------------------------------------------------------

_BASE = tg.GPTConfig(
    vocab_size=23, max_seq_len=16, num_layers=2, num_heads=4, embed_dim=16, mlp_dim=24
)
_VARIANTS = {
    "swiglu": _BASE.replace(mlp="swiglu"),
    "rope": _BASE.replace(position_encoding="rope"),
    "multi_query": _BASE.replace(num_kv_heads=1, norm="rmsnorm", use_bias=False),
    "all": _BASE.replace(mlp="swiglu", position_encoding="rope", num_kv_heads=2),
}


@pytest.fixture(scope="module", params=sorted(_VARIANTS))
def variant(request: pytest.FixtureRequest) -> tg.GPT:
    name: str = request.param
    return tg.GPT(_VARIANTS[name], key=jax.random.key(4))


def test_variant_structure() -> None:
    models = {
        name: eqx.filter_eval_shape(tg.GPT, config, key=jax.random.key(0))  # shapes only
        for name, config in _VARIANTS.items()
    }
    assert isinstance(models["swiglu"].blocks.mlp, tg.SwiGLU)
    assert models["rope"].position_embedding is None
    assert models["rope"].blocks.attn.rotary == tg.Rotary(10000.0)
    assert isinstance(models["multi_query"].blocks.mlp, tg.MLP)
    assert models["multi_query"].position_embedding is not None
    assert models["multi_query"].blocks.attn.rotary is None
    # (4 query + 2 x 2 key/value heads) x head_dim 4, for each of the 2 layers.
    assert models["all"].blocks.attn.qkv_proj.weight.shape == (2, 32, 16)
    assert models["multi_query"].blocks.attn.qkv_proj.weight.shape == (2, 24, 16)


def test_variant_cached_decoding_equals_full_forward(variant: tg.GPT) -> None:
    config = variant.config
    tokens = _tokens(variant, SEQ, seed=5)
    full = np.asarray(variant(tokens))
    cache = variant.init_cache()
    assert cache.keys.shape == (config.num_layers, config.max_seq_len, config.kv_heads, 4)
    logits, cache = variant.decode(tokens[:4], cache)
    np.testing.assert_allclose(np.asarray(logits), full[:4], rtol=RTOL, atol=ATOL)
    for t in range(4, SEQ):
        logits, cache = variant.decode(tokens[t : t + 1], cache)
        np.testing.assert_allclose(np.asarray(logits[0]), full[t], rtol=RTOL, atol=ATOL)


def test_variant_causality(variant: tg.GPT) -> None:
    tokens = _tokens(variant, SEQ, seed=6)  # SEQ: the forward pass compiled above serves
    base = np.asarray(variant(tokens))
    changed = np.asarray(variant(tokens.at[5].set((tokens[5] + 1) % 23)))
    np.testing.assert_array_equal(changed[:5], base[:5])
    assert np.abs(changed[5] - base[5]).max() > 1e-4


def test_variant_gradient_steps_lower_the_loss(variant: tg.GPT) -> None:
    import optax

    from typedgpt._train_step import make_train_step

    rng = np.random.default_rng(7)
    data = jnp.asarray(rng.integers(0, 23, size=(4, SEQ + 1), dtype=np.int32))
    batch = (data[:, :-1], data[:, 1:], jnp.ones((4, SEQ), jnp.float32))
    leaves, treedef = jax.tree.flatten(variant)
    optimizer = optax.adam(3e-2)
    step = make_train_step(treedef, optimizer)

    @jax.jit
    def run(leaves: list[jax.Array]) -> jax.Array:
        batches = jax.tree.map(lambda a: jnp.stack([a] * 12), batch)
        losses: jax.Array = jax.lax.scan(step, (leaves, optimizer.init(leaves)), batches)[1]
        return losses

    losses = np.asarray(run(leaves))
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0]  # memorising one batch: the loss falls fast


def test_variant_state_dict_round_trip(variant: tg.GPT) -> None:
    sd = variant.state_dict()
    config = variant.config
    assert ("wpe.weight" in sd) == (config.position_encoding == "learned")
    assert ("h.0.mlp.c_gate.weight" in sd) == (config.mlp == "swiglu")
    qkv = (config.num_heads + 2 * config.kv_heads) * config.head_dim
    assert sd["h.1.attn.c_attn.weight"].shape == (config.embed_dim, qkv)
    rebuilt = tg.GPT.from_state_dict(config, sd)
    for name, array in rebuilt.state_dict().items():
        np.testing.assert_array_equal(array, sd[name])


def test_all_options_generate_greedily_as_a_naive_loop() -> None:
    model = tg.GPT(_VARIANTS["all"], key=jax.random.key(8))
    prompt = [3, 1, 4, 1, 5]
    out = tg.generate(model, prompt, max_new_tokens=6, temperature=0.0, key=jax.random.key(0))
    tokens = list(prompt)
    for _ in range(6):
        logits = model(jnp.asarray(tokens, jnp.int32))
        tokens.append(int(jnp.argmax(logits[-1])))
    assert out == tokens[len(prompt) :]


@pytest.mark.parametrize("name", sorted(_VARIANTS))
def test_variant_property_against_annotations(name: str) -> None:
    from typedgpt.testing import check_layer

    def make(dims: Mapping[str, int], key: jax.Array) -> tg.GPT:
        return tg.GPT(_VARIANTS[name].replace(max_seq_len=dims["positions"]), key=key)

    check_layer(make, dims={"positions": lambda d: d["seq"] + 2}, max_examples=5)
