"""Tests for `typedgpt/_state_dict.py`: GPT-2's names and Conv1D layouts, the round trip,
and the error for each bad checkpoint."""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

import typedgpt as tg

# Distinct sizes, so a swapped axis cannot pass: embed 48, mlp 4*48 = 192, 3*embed = 144.
VOCAB, POSITIONS, LAYERS, HEADS, EMBED, MLP = 101, 32, 2, 3, 48, 192
GPT2_SMALL = tg.GPTConfig.gpt2(
    vocab_size=VOCAB,
    max_seq_len=POSITIONS,
    num_layers=LAYERS,
    num_heads=HEADS,
    embed_dim=EMBED,
    mlp_dim=MLP,
)
MICROGPT = tg.GPTConfig.microgpt(vocab_size=27)


def _gpt2_shapes() -> dict[str, tuple[int, ...]]:
    """Every name and Conv1D shape of GPT2Model at GPT2_SMALL's sizes, written out by hand."""
    shapes: dict[str, tuple[int, ...]] = {
        "wte.weight": (VOCAB, EMBED),
        "wpe.weight": (POSITIONS, EMBED),
    }
    for i in range(LAYERS):
        shapes |= {
            f"h.{i}.ln_1.weight": (EMBED,),
            f"h.{i}.ln_1.bias": (EMBED,),
            f"h.{i}.attn.c_attn.weight": (EMBED, 3 * EMBED),
            f"h.{i}.attn.c_attn.bias": (3 * EMBED,),
            f"h.{i}.attn.c_proj.weight": (EMBED, EMBED),
            f"h.{i}.attn.c_proj.bias": (EMBED,),
            f"h.{i}.ln_2.weight": (EMBED,),
            f"h.{i}.ln_2.bias": (EMBED,),
            f"h.{i}.mlp.c_fc.weight": (EMBED, MLP),
            f"h.{i}.mlp.c_fc.bias": (MLP,),
            f"h.{i}.mlp.c_proj.weight": (MLP, EMBED),
            f"h.{i}.mlp.c_proj.bias": (EMBED,),
        }
    shapes |= {"ln_f.weight": (EMBED,), "ln_f.bias": (EMBED,)}
    return shapes


def test_microgpt_names_and_shapes(key: jax.Array) -> None:
    sd = tg.GPT(MICROGPT, key=key).state_dict()
    assert {name: a.shape for name, a in sd.items()} == {
        "wte.weight": (27, 16),
        "wpe.weight": (16, 16),
        "h.0.attn.c_attn.weight": (16, 48),
        "h.0.attn.c_proj.weight": (16, 16),
        "h.0.mlp.c_fc.weight": (16, 64),
        "h.0.mlp.c_proj.weight": (64, 16),
        "lm_head.weight": (27, 16),
    }
    for array in sd.values():
        assert isinstance(array, np.ndarray) and array.dtype == np.float32


def test_gpt2_names_and_shapes(key: jax.Array) -> None:
    sd = tg.GPT(GPT2_SMALL, key=key).state_dict()
    assert {name: a.shape for name, a in sd.items()} == _gpt2_shapes()
    assert "lm_head.weight" not in sd  # tied to wte
    for array in sd.values():
        assert isinstance(array, np.ndarray) and array.dtype == np.float32


def test_layout_is_conv1d(key: jax.Array) -> None:
    """`h.{i}.*.weight` is `(in, out)`: the transpose of `Linear.weight`, layer i of the stack,
    with q, k and v side by side along `out`."""
    model = tg.GPT(GPT2_SMALL, key=key)
    sd = model.state_dict()
    for i in range(LAYERS):
        qkv = np.asarray(model.blocks.attn.qkv_proj.weight[i])  # (3*embed, embed)
        np.testing.assert_array_equal(sd[f"h.{i}.attn.c_attn.weight"], qkv.T)
        query = qkv[:EMBED]
        np.testing.assert_array_equal(sd[f"h.{i}.attn.c_attn.weight"][:, :EMBED], query.T)
        up = np.asarray(model.blocks.mlp.up_proj.weight[i])
        np.testing.assert_array_equal(sd[f"h.{i}.mlp.c_fc.weight"], up.T)
        down = np.asarray(model.blocks.mlp.down_proj.weight[i])
        np.testing.assert_array_equal(sd[f"h.{i}.mlp.c_proj.weight"], down.T)
    np.testing.assert_array_equal(sd["wte.weight"], np.asarray(model.token_embedding))


def test_arrays_are_read_only(key: jax.Array) -> None:
    """Writing into one could not change the model: every array refuses it, copies included."""
    sd = tg.GPT(GPT2_SMALL, key=key).state_dict()
    assert not any(array.flags.writeable for array in sd.values())
    with pytest.raises(ValueError, match="read-only"):
        sd["h.0.attn.c_attn.weight"][0, 0] = 1.0  # a transposed copy of the model's weight
    assert np.array(sd["h.0.attn.c_attn.weight"]).flags.writeable  # a copy is writable


def test_names_match_hugging_face_gpt2model(key: jax.Array) -> None:
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=POSITIONS,
        n_embd=EMBED,
        n_layer=LAYERS,
        n_head=HEADS,
        bos_token_id=0,
        eos_token_id=0,
    )
    hf = {
        name: tuple(tensor.shape)
        for name, tensor in GPT2Model(config).state_dict().items()
        if not name.endswith((".attn.bias", ".attn.masked_bias"))  # mask buffers, if any
    }
    ours = {name: a.shape for name, a in tg.GPT(GPT2_SMALL, key=key).state_dict().items()}
    assert ours == hf


@pytest.mark.parametrize("config", [MICROGPT, GPT2_SMALL], ids=["microgpt", "gpt2"])
def test_round_trip(config: tg.GPTConfig, key: jax.Array) -> None:
    model = tg.GPT(config, key=key)
    sd = model.state_dict()
    loaded = tg.GPT.from_state_dict(config, sd)
    for name, array in loaded.state_dict().items():
        np.testing.assert_array_equal(array, sd[name])
    tokens = jnp.asarray([3, 1, 4, 1, 5, 9, 2, 6], dtype=jnp.int32)
    np.testing.assert_array_equal(np.asarray(loaded(tokens)), np.asarray(model(tokens)))


def test_options_names_and_shapes(key: jax.Array) -> None:
    """Rotary: no wpe. Grouped-query, 3 heads sharing 1: c_attn is (3 + 2 * 1) * 16 = 80
    wide. SwiGLU: the gate c_gate beside c_fc (up) and c_proj (down)."""
    config = GPT2_SMALL.replace(
        num_layers=1, mlp="swiglu", position_encoding="rope", num_kv_heads=1, use_bias=False
    )
    sd = tg.GPT(config, key=key).state_dict()
    assert {name: a.shape for name, a in sd.items()} == {
        "wte.weight": (VOCAB, EMBED),
        "h.0.ln_1.weight": (EMBED,),
        "h.0.ln_1.bias": (EMBED,),
        "h.0.attn.c_attn.weight": (EMBED, 80),
        "h.0.attn.c_proj.weight": (EMBED, EMBED),
        "h.0.ln_2.weight": (EMBED,),
        "h.0.ln_2.bias": (EMBED,),
        "h.0.mlp.c_fc.weight": (EMBED, MLP),
        "h.0.mlp.c_gate.weight": (EMBED, MLP),
        "h.0.mlp.c_proj.weight": (MLP, EMBED),
        "ln_f.weight": (EMBED,),
        "ln_f.bias": (EMBED,),
    }
    sd["h.0.attn.c_attn.weight"] = np.zeros((EMBED, 3 * EMBED), np.float32)
    with pytest.raises(ValueError, match=r"expected shape \(embed=48, \(heads\+2\*kv_heads\)"):
        tg.GPT.from_state_dict(config, sd)


@pytest.fixture
def gpt2_sd(key: jax.Array) -> dict[str, Any]:
    sd: dict[str, Any] = tg.GPT(GPT2_SMALL, key=key).state_dict()
    return sd


@pytest.mark.parametrize(
    ("name", "shape", "expected"),
    [
        ("h.1.attn.c_attn.weight", (3 * EMBED, EMBED), "(embed=48, 3*embed=144)"),  # transposed
        ("h.0.mlp.c_fc.weight", (EMBED, 4 * EMBED + 1), "(embed=48, mlp=192)"),
        ("wte.weight", (VOCAB - 1, EMBED), "(vocab=101, embed=48)"),
        ("wpe.weight", (POSITIONS, EMBED, 1), "(positions=32, embed=48)"),
        ("ln_f.bias", (EMBED + 1,), "(embed=48)"),
    ],
)
def test_wrong_shape(
    gpt2_sd: dict[str, Any], name: str, shape: tuple[int, ...], expected: str
) -> None:
    gpt2_sd[name] = np.zeros(shape, dtype=np.float32)
    with pytest.raises(ValueError) as info:
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)
    message = str(info.value)
    assert message.startswith(f"{name}: ")
    assert f"expected shape {expected}" in message
    assert f"got {shape}" in message


def test_missing_key(gpt2_sd: dict[str, Any]) -> None:
    del gpt2_sd["h.1.mlp.c_fc.weight"]
    with pytest.raises(KeyError, match=r"state dict has no 'h\.1\.mlp\.c_fc\.weight'") as info:
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)
    assert "embed=48, mlp=192" in str(info.value)


def test_missing_key_message_names_dims_once(gpt2_sd: dict[str, Any]) -> None:
    del gpt2_sd["h.1.ln_2.bias"]
    with pytest.raises(KeyError) as info:
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)
    assert "which a model with this config needs (embed=48): " in str(info.value)


def test_missing_layer(gpt2_sd: dict[str, Any]) -> None:
    """A checkpoint with fewer layers than the config lacks the extra layer's names."""
    with pytest.raises(KeyError, match=r"'h\.2\.ln_1\.weight'"):
        tg.GPT.from_state_dict(GPT2_SMALL.replace(num_layers=LAYERS + 1), gpt2_sd)


@pytest.mark.parametrize(
    "extra", ["lm_head.weight", "h.2.ln_1.weight", "h.0.attn.c_attn.weight_typo"]
)
def test_unexpected_key(gpt2_sd: dict[str, Any], extra: str) -> None:
    gpt2_sd[extra] = np.zeros((VOCAB, EMBED), dtype=np.float32)
    with pytest.raises(KeyError, match=rf"parameters this config does not: {extra}"):
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)


def test_microgpt_rejects_gpt2_norm_params(key: jax.Array) -> None:
    sd: dict[str, Any] = tg.GPT(MICROGPT, key=key).state_dict()
    sd["h.0.ln_1.weight"] = np.ones((16,), dtype=np.float32)
    with pytest.raises(KeyError, match=r"h\.0\.ln_1\.weight"):
        tg.GPT.from_state_dict(MICROGPT, sd)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
def test_non_float_tensor(gpt2_sd: dict[str, Any], dtype: type[np.generic]) -> None:
    gpt2_sd["h.0.attn.c_proj.bias"] = np.zeros((EMBED,), dtype=dtype)
    with pytest.raises(TypeError, match=r"h\.0\.attn\.c_proj\.bias: expected a floating-point"):
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)


@pytest.mark.parametrize("dtype", [jnp.float8_e4m3fn, jnp.float8_e5m2])
def test_float8_tensor_refused(gpt2_sd: dict[str, Any], dtype: Any) -> None:
    """float8 passes a floating-point test but would round every product to a few bits."""
    gpt2_sd["wte.weight"] = gpt2_sd["wte.weight"].astype(dtype)
    with pytest.raises(TypeError) as info:
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)
    assert str(info.value) == (
        f"wte.weight: {jnp.dtype(dtype).name} is narrower than typedgpt computes in (float32, "
        "bfloat16, float16): convert the arrays to one of those first"
    )


def test_transposed_linear_weight_gets_a_hint(gpt2_sd: dict[str, Any]) -> None:
    """A weight in nn.Linear's (out, in) instead of Conv1D's (in, out) is named as such."""
    gpt2_sd["h.0.mlp.c_proj.weight"] = np.ascontiguousarray(gpt2_sd["h.0.mlp.c_proj.weight"].T)
    with pytest.raises(ValueError) as info:
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)
    assert str(info.value) == (
        "h.0.mlp.c_proj.weight: expected shape (mlp=192, embed=48), got (48, 192) (its "
        "transpose: GPT-2 stores linear weights as Conv1D (in, out); transpose nn.Linear "
        "(out, in) weights first): check the config matches the checkpoint"
    )


def test_transposed_embedding_gets_no_linear_hint(gpt2_sd: dict[str, Any]) -> None:
    gpt2_sd["wpe.weight"] = np.ascontiguousarray(gpt2_sd["wpe.weight"].T)
    with pytest.raises(ValueError) as info:
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)
    assert "got (48, 32): check the config" in str(info.value)


def test_bfloat16_tensors_load_as_bfloat16(gpt2_sd: dict[str, Any]) -> None:
    """bfloat16 (from ml_dtypes, not a NumPy floating type) is a floating-point dtype too."""
    narrow = {name: array.astype(jnp.bfloat16) for name, array in gpt2_sd.items()}
    model = tg.GPT.from_state_dict(GPT2_SMALL, narrow)
    assert model.token_embedding.dtype == jnp.bfloat16
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, narrow[name])


def test_torch_tensors_load_bfloat16_included(gpt2_sd: dict[str, Any]) -> None:
    """PyTorch tensors load as they are; bfloat16 ones too, which NumPy cannot convert."""
    for dtype in (torch.float32, torch.bfloat16):
        tensors = {name: torch.tensor(a, dtype=dtype) for name, a in gpt2_sd.items()}
        model = tg.GPT.from_state_dict(GPT2_SMALL, tensors)
        assert model.token_embedding.dtype == jnp.dtype(str(dtype).removeprefix("torch."))
        for name, array in model.state_dict().items():
            np.testing.assert_array_equal(array.astype(np.float32), tensors[name].float().numpy())


def test_transformers_names_get_a_hint(key: jax.Array) -> None:
    """GPT2LMHeadModel's own state_dict() has the `transformer.` prefix."""
    config = GPT2Config(
        vocab_size=VOCAB, n_positions=POSITIONS, n_embd=EMBED, n_layer=LAYERS, n_head=HEADS
    )
    hf_sd = GPT2LMHeadModel(config).state_dict()
    with pytest.raises(KeyError) as info:
        tg.GPT.from_state_dict(GPT2_SMALL, hf_sd)
    message = str(info.value)
    assert "with GPT2LMHeadModel's 'transformer.' prefix" in message
    assert "strip it from every name, or load the Hugging Face folder with tg.from_pretrained" in (
        message
    )
    stripped = {
        name.removeprefix("transformer."): tensor
        for name, tensor in hf_sd.items()
        if name != "lm_head.weight"
    }
    loaded = tg.GPT.from_state_dict(GPT2_SMALL, stripped)
    np.testing.assert_array_equal(np.asarray(loaded.token_embedding), stripped["wte.weight"])


def test_tied_head_copy_gets_a_hint(gpt2_sd: dict[str, Any]) -> None:
    """GPT2LMHeadModel's state_dict() holds `lm_head.weight`, a copy of the tied `wte.weight`:
    with the prefix stripped, the config does match the checkpoint, and the message says so."""
    gpt2_sd["lm_head.weight"] = gpt2_sd["wte.weight"]
    with pytest.raises(KeyError) as info:
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)
    message = str(info.value)
    assert "parameters this config does not: lm_head.weight" in message
    assert "the config ties the head to the token embedding (tie_embeddings=True)" in message
    assert "drop 'lm_head.weight'" in message
    assert "check the config matches" not in message
    prefixed = {f"transformer.{name}": a for name, a in gpt2_sd.items() if name != "lm_head.weight"}
    with pytest.raises(KeyError, match=r"drop 'lm_head\.weight' too"):
        tg.GPT.from_state_dict(GPT2_SMALL, prefixed | {"lm_head.weight": gpt2_sd["wte.weight"]})


@pytest.mark.parametrize(
    ("config", "tensors", "error", "message"),
    [
        ({"vocab_size": VOCAB}, {}, TypeError, "from_state_dict expects a GPTConfig, got dict"),
        (GPT2_SMALL, [("wte.weight", 0)], TypeError, "tensors must be a mapping of names to"),
        (
            GPT2_SMALL,
            {3: np.zeros(3)},
            TypeError,
            "state dict names must be strings, got 3 \\(int\\)",
        ),
    ],
)
def test_bad_arguments(config: Any, tensors: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        tg.GPT.from_state_dict(config, tensors)


def test_unreadable_tensor_is_named(gpt2_sd: dict[str, Any]) -> None:
    gpt2_sd["h.1.ln_1.bias"] = [[0.0] * EMBED, [0.0]]  # ragged
    with pytest.raises(TypeError, match=r"h\.1\.ln_1\.bias: a list that cannot be read as an"):
        tg.GPT.from_state_dict(GPT2_SMALL, gpt2_sd)


def test_mixed_dtypes_are_refused() -> None:
    """Before the fix a float16 `wte` with float32 elsewhere built a model of two dtypes,
    and a float16 layer among float32 ones was promoted to float32 by the stacking."""
    tensors = {
        name: np.array(value)
        for name, value in tg.GPT(MICROGPT, key=jax.random.key(0)).state_dict().items()
    }
    mixed = {**tensors, "wte.weight": tensors["wte.weight"].astype(np.float16)}
    with pytest.raises(TypeError, match=r"wpe.weight is float32 but wte.weight is float16"):
        tg.GPT.from_state_dict(MICROGPT, mixed)
    name = "h.0.attn.c_attn.weight"
    with pytest.raises(TypeError, match=f"{name} is float16 but wte.weight is float32"):
        tg.GPT.from_state_dict(MICROGPT, {**tensors, name: tensors[name].astype(np.float16)})
    half = tg.GPT.from_state_dict(MICROGPT, {k: v.astype(np.float16) for k, v in tensors.items()})
    assert {leaf.dtype for leaf in jax.tree.leaves(half)} == {jnp.dtype("float16")}


@pytest.mark.parametrize("value", [None, "abc"])
def test_value_that_is_not_an_array(value: object) -> None:
    """Before the fix: "expected shape (vocab=27, embed=16), got ()"."""
    tensors = dict(tg.GPT(MICROGPT, key=jax.random.key(0)).state_dict())
    with pytest.raises(TypeError, match=r"wte.weight: expected a floating-point array, got a"):
        tg.GPT.from_state_dict(MICROGPT, {**tensors, "wte.weight": value})
