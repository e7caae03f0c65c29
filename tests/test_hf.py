"""Tests for `typedgpt/_hf.py`, `_hf_files.py` and `_hf_tokenizer.py`: Hugging Face GPT-2
folders in and out, against transformers.

Every model is a tiny random `GPT2LMHeadModel` built here and saved with transformers' own
`save_pretrained` into a temporary folder (no download); the tokenizer is a byte-level BPE
trained here on a generated text.
"""

import json
import os
import random
import re
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import tokenizers
import torch
from transformers import (
    AutoTokenizer,
    GenerationConfig,
    GPT2Config,
    GPT2ForSequenceClassification,
    GPT2LMHeadModel,
    GPT2Model,
    GPT2Tokenizer,
)

import typedgpt as tg
from tests.hf_models import randomize_gpt2
from typedgpt._hf_config import config_to_hf
from typedgpt._train_step import batch_loss

RTOL = 1e-5  # float32 logits, as tests/test_gpt.py
ATOL = 1e-5  # times the largest logit
NEW_TOKENS = 32

# Distinct sizes, so a swapped axis cannot pass. The second is odd throughout: 5 heads of
# 12, an MLP of 100 (not 4 * embed), an untied head, its own epsilon and the
# `gelu_pytorch_tanh` spelling of GELU-tanh.
CONFIGS: dict[str, dict[str, Any]] = {
    "small": {"n_embd": 48, "n_layer": 2, "n_head": 3, "vocab_size": 101, "n_positions": 64},
    "odd-untied": {
        "n_embd": 60,
        "n_layer": 3,
        "n_head": 5,
        "vocab_size": 97,
        "n_positions": 50,
        "n_inner": 100,
        "layer_norm_epsilon": 1e-6,
        "activation_function": "gelu_pytorch_tanh",
        "tie_word_embeddings": False,
    },
}
EXPECTED = {
    "small": tg.GPTConfig.gpt2(
        vocab_size=101, max_seq_len=64, num_layers=2, num_heads=3, embed_dim=48, mlp_dim=192
    ),
    "odd-untied": tg.GPTConfig.gpt2(
        vocab_size=97,
        max_seq_len=50,
        num_layers=3,
        num_heads=5,
        embed_dim=60,
        mlp_dim=100,
        norm_eps=1e-6,
        tie_embeddings=False,
    ),
}


def _hf_gpt2(fields: dict[str, Any], *, seed: int) -> GPT2LMHeadModel:
    """A GPT2LMHeadModel with every parameter random (norms and biases too), and logits
    spread wide enough that greedy decoding has no near-ties."""
    eager: dict[str, Any] = {"attn_implementation": "eager"}  # the plain masked softmax
    config = GPT2Config(
        **fields,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=None,
        eos_token_id=None,
        **eager,
    )
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    model.eval()  # type: ignore[no-untyped-call]
    randomize_gpt2(model)
    return model


def _load_hf(folder: Path) -> GPT2LMHeadModel:
    model = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager")
    model.eval()  # type: ignore[no-untyped-call]
    return model


def _hf_logits(model: GPT2LMHeadModel, tokens: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = model(torch.from_numpy(tokens.astype(np.int64))[None]).logits[0]
    out: np.ndarray = logits.numpy()
    assert out.dtype == np.float32
    return out


def _assert_logits_close(logits: np.ndarray, expected: np.ndarray) -> None:
    scale = float(np.abs(expected).max())
    assert scale > 1.0  # not all near zero, so the comparison means something
    np.testing.assert_allclose(logits, expected, rtol=RTOL, atol=ATOL * scale)


def _tokens(vocab: int, seq: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=seq, dtype=np.int32)


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file of a folder with its bytes and modification time, to prove it unchanged."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def hf_folder(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, GPT2LMHeadModel]:
    """A config's name, the folder transformers saved its random model to, and the model."""
    name: str = request.param
    model = _hf_gpt2(CONFIGS[name], seed=1)
    folder = tmp_path_factory.mktemp(f"hf-{name}")
    model.save_pretrained(folder)
    return name, folder, model


# --------------------------------------------------------------------------------------------
# Loading, running and exporting, against transformers.
# --------------------------------------------------------------------------------------------


def test_logits_match_transformers(hf_folder: tuple[str, Path, GPT2LMHeadModel]) -> None:
    name, folder, hf = hf_folder
    before = _files(folder)
    model = tg.from_pretrained(folder)
    assert model.config == EXPECTED[name]
    assert (model.lm_head is None) == CONFIGS[name].get("tie_word_embeddings", True)
    tokens = _tokens(model.config.vocab_size, 37)
    logits = np.asarray(model(jnp.asarray(tokens)))
    assert logits.dtype == np.float32
    _assert_logits_close(logits, _hf_logits(hf, tokens))
    assert _files(folder) == before  # loading never modifies the folder


def test_greedy_generation_matches_transformers(
    hf_folder: tuple[str, Path, GPT2LMHeadModel], key: jax.Array
) -> None:
    _, folder, hf = hf_folder
    model = tg.from_pretrained(folder)
    prompt = _tokens(model.config.vocab_size, 8, seed=1)
    ours = tg.generate(model, prompt.tolist(), max_new_tokens=NEW_TOKENS, temperature=0, key=key)
    with torch.no_grad():
        out = hf.generate(  # type: ignore[misc]  # transformers' annotation of self
            torch.from_numpy(prompt.astype(np.int64))[None],
            attention_mask=torch.ones((1, prompt.size), dtype=torch.int64),
            do_sample=False,
            max_new_tokens=NEW_TOKENS,
            pad_token_id=0,
        )
    theirs = out[0, prompt.size :].tolist()
    assert len(theirs) == NEW_TOKENS
    assert ours == theirs


def test_export_loads_in_transformers(
    hf_folder: tuple[str, Path, GPT2LMHeadModel], tmp_path: Path
) -> None:
    name, folder, hf = hf_folder
    model = tg.from_pretrained(folder)
    out = tg.save_pretrained(model, tmp_path / "export")
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "gpt2"
    assert config["architectures"] == ["GPT2LMHeadModel"]
    assert config["tie_word_embeddings"] == CONFIGS[name].get("tie_word_embeddings", True)
    reloaded = _load_hf(out)
    tokens = _tokens(model.config.vocab_size, 29, seed=2)
    for name, tensor in hf.state_dict().items():  # the very same weights
        np.testing.assert_array_equal(reloaded.state_dict()[name].numpy(), tensor.numpy())
    # Not bit for bit: "gelu_pytorch_tanh" comes back as "gelu_new", the same function.
    _assert_logits_close(_hf_logits(reloaded, tokens), _hf_logits(hf, tokens))
    again = tg.from_pretrained(out)
    assert again.config == model.config
    for key, array in again.state_dict().items():
        np.testing.assert_array_equal(array, model.state_dict()[key])


def test_export_of_a_typedgpt_model(tmp_path: Path, key: jax.Array) -> None:
    """A model made by typedgpt, not loaded: transformers gives the logits typedgpt does."""
    config = EXPECTED["odd-untied"]
    model = tg.GPT(config.replace(init_std=0.2), key=key)
    reloaded = _load_hf(tg.save_pretrained(model, tmp_path / "export"))
    tokens = _tokens(config.vocab_size, 23, seed=3)
    _assert_logits_close(np.asarray(model(jnp.asarray(tokens))), _hf_logits(reloaded, tokens))


# --------------------------------------------------------------------------------------------
# Checkpoint layouts: prefixes, buffers, heads, pytorch_model.bin.
# --------------------------------------------------------------------------------------------


def _hf_tensors(model: GPT2LMHeadModel) -> dict[str, np.ndarray]:
    return {name: t.detach().numpy().copy() for name, t in model.state_dict().items()}


def _write_folder(
    folder: Path,
    source: Path,
    tensors: dict[str, np.ndarray],
    *,
    config: dict[str, Any] | None = None,
) -> Path:
    folder.mkdir()
    data = json.loads((source / "config.json").read_text()) | (config or {})
    (folder / "config.json").write_text(json.dumps(data))
    safetensors.numpy.save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GPT2LMHeadModel]:
    """The "small" config's folder and model, for the tests of one layout or error."""
    model = _hf_gpt2(CONFIGS["small"], seed=2)
    folder = tmp_path_factory.mktemp("hf-small-layouts")
    model.save_pretrained(folder)
    return folder, model


@pytest.mark.parametrize("prefix", ["", "transformer."])
def test_prefix_and_mask_buffers(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path, prefix: str
) -> None:
    """`GPT2Model` names (no prefix) or `GPT2LMHeadModel`'s, with the attention-mask buffers
    older checkpoints store, load to the same model."""
    folder, hf = small
    positions = hf.config.n_positions
    tensors = {
        prefix + name.removeprefix("transformer."): array
        for name, array in _hf_tensors(hf).items()
        if name.startswith("transformer.")
    }
    for i in range(hf.config.n_layer):
        tensors[f"{prefix}h.{i}.attn.bias"] = np.tril(np.ones((positions, positions), np.uint8))[
            None, None
        ].astype(np.float32)
        tensors[f"{prefix}h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    loaded = tg.from_pretrained(_write_folder(tmp_path / "layout", folder, tensors))
    expected = tg.from_pretrained(folder)
    for name, array in expected.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], array)


def test_tied_head_saved_explicitly(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    """A tied config whose file also holds `lm_head.weight` (a copy of `wte`) loads tied."""
    folder, hf = small
    tensors = _hf_tensors(hf)
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"].copy()
    model = tg.from_pretrained(_write_folder(tmp_path / "tied", folder, tensors))
    assert model.lm_head is None
    tokens = _tokens(model.config.vocab_size, 11)
    _assert_logits_close(np.asarray(model(jnp.asarray(tokens))), _hf_logits(hf, tokens))


def test_tied_head_under_the_heads_name(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path
) -> None:
    """`safetensors.torch.save_model` keeps one name of a tied pair, `lm_head.weight`, and
    no `wte.weight`: transformers loads that folder, and typedgpt used to refuse it."""
    folder, hf = small
    tied = tmp_path / "tied"
    tied.mkdir()
    (tied / "config.json").write_bytes((folder / "config.json").read_bytes())
    safetensors.torch.save_model(hf, str(tied / "model.safetensors"))
    stored = safetensors.numpy.load_file(tied / "model.safetensors")
    assert "lm_head.weight" in stored and "transformer.wte.weight" not in stored
    model = tg.from_pretrained(tied)
    assert model.lm_head is None
    tokens = _tokens(model.config.vocab_size, 11)
    expected = _hf_logits(_load_hf(tied), tokens)
    _assert_logits_close(_hf_logits(hf, tokens), expected)  # transformers reads it so too
    _assert_logits_close(np.asarray(model(jnp.asarray(tokens))), expected)


def test_tied_head_that_differs(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, hf = small
    tensors = _hf_tensors(hf)
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"] + 1
    with pytest.raises(ValueError, match=r"tie_word_embeddings=true, but lm_head\.weight differs"):
        tg.from_pretrained(_write_folder(tmp_path / "tied", folder, tensors))


def test_untied_head_missing(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, hf = small
    tensors = _hf_tensors(hf)
    del tensors["lm_head.weight"]  # the tied head, which state_dict() lists too
    untied = _write_folder(tmp_path / "u", folder, tensors, config={"tie_word_embeddings": False})
    with pytest.raises(ValueError, match=r"state dict has no 'lm_head\.weight'.*\(vocab=101"):
        tg.from_pretrained(untied)


def _bin_folder(path: Path, source: Path, content: object) -> Path:
    """A folder with `source`'s config.json and `content` saved as pytorch_model.bin."""
    path.mkdir()
    (path / "config.json").write_bytes((source / "config.json").read_bytes())
    torch.save(content, path / "pytorch_model.bin")
    return path


def test_pytorch_model_bin(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, hf = small
    bin_folder = _bin_folder(tmp_path / "bin", folder, hf.state_dict())
    model = tg.from_pretrained(bin_folder)
    for name, array in tg.from_pretrained(folder).state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], array)


def test_pytorch_model_bin_without_torch(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, hf = small
    bin_folder = _bin_folder(tmp_path / "bin", folder, hf.state_dict())
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(ImportError, match=r"weights_only=True\), and torch is not installed"):
        tg.from_pretrained(bin_folder)


def test_pytorch_model_bin_of_a_whole_model(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path
) -> None:
    """A pickled module, not a state dict: refused as objects, not called corrupt."""
    folder, hf = small
    bin_folder = _bin_folder(tmp_path / "bin", folder, hf)
    with pytest.raises(ValueError) as info:
        tg.from_pretrained(bin_folder)
    message = str(info.value)
    assert "holds Python objects besides tensors" in message
    assert "save the model's state_dict() with torch.save" in message
    assert "corrupt" not in message and "weights_only=False" not in message


def test_broken_link(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    """A cache snapshot whose blob is missing, as an interrupted download leaves it."""
    folder, _ = small
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    (tmp_path / "model.safetensors").symlink_to("../blobs/missing")
    with pytest.raises(
        FileNotFoundError,
        match=r"model\.safetensors is a link to \.\./blobs/"
        r"missing, which does not exist \(an interrupted download\?\)",
    ):
        tg.from_pretrained(tmp_path)
    (tmp_path / "config.json").unlink()
    (tmp_path / "config.json").symlink_to("../blobs/gone")
    with pytest.raises(FileNotFoundError, match=r"config\.json is a link to \.\./blobs/gone"):
        tg.from_pretrained(tmp_path)


@pytest.mark.parametrize("dtype", [jnp.int32, "bool", "no-such-dtype"])
def test_dtype_argument(small: tuple[Path, GPT2LMHeadModel], dtype: Any) -> None:
    folder, _ = small
    with pytest.raises(ValueError, match=r"dtype=.* is not a floating-point dtype: pass jnp"):
        tg.from_pretrained(folder, dtype=dtype)
    assert tg.from_pretrained(folder, dtype="float16").token_embedding.dtype == jnp.float16


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        (jnp.float8_e4m3fn, r"dtype=float8_e4m3fn is narrower than typedgpt computes in"),
        ("float4_e2m1fn", r"dtype=float4_e2m1fn is narrower than typedgpt computes in"),
        (jnp.float64, r"dtype=float64 needs JAX's 64-bit mode, which is off, so JAX would"),
        (torch.bfloat16, r"dtype=torch\.bfloat16 is a PyTorch dtype, not a JAX one: pass JAX's"),
    ],
)
def test_dtype_argument_refuses_what_typedgpt_cannot_compute_in(
    small: tuple[Path, GPT2LMHeadModel], dtype: Any, message: str
) -> None:
    """float8 and float4 used to load and give logits rounded to a few bits, float64 loaded as
    float32 without a word, and torch.bfloat16 was called not a floating-point dtype."""
    folder, _ = small
    with pytest.raises(ValueError, match=message):
        tg.from_pretrained(folder, dtype=dtype)


def test_sharded_safetensors(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, hf = small
    hf.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    shards = sorted(p.name for p in (tmp_path / "sharded").glob("model-*.safetensors"))
    assert len(shards) > 1 and not (tmp_path / "sharded" / "model.safetensors").exists()
    model = tg.from_pretrained(tmp_path / "sharded")
    for name, array in tg.from_pretrained(folder).state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], array)
    (tmp_path / "sharded" / shards[-1]).unlink()
    with pytest.raises(FileNotFoundError, match=rf"lists the shard {shards[-1]}, which .* lacks"):
        tg.from_pretrained(tmp_path / "sharded")


def test_sharded_pytorch_model_bin(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    """Shards of pytorch_model.bin listed in pytorch_model.bin.index.json, as older
    transformers wrote them; each shard is read through torch.load(weights_only=True)."""
    folder, hf = small
    sharded = tmp_path / "bin-shards"
    sharded.mkdir()
    (sharded / "config.json").write_bytes((folder / "config.json").read_bytes())
    state = hf.state_dict()
    names = list(state)
    weight_map: dict[str, str] = {}
    for part, chunk in enumerate((names[: len(names) // 2], names[len(names) // 2 :]), 1):
        shard = f"pytorch_model-0000{part}-of-00002.bin"
        torch.save({name: state[name] for name in chunk}, sharded / shard)
        weight_map |= dict.fromkeys(chunk, shard)
    index = sharded / "pytorch_model.bin.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    model = tg.from_pretrained(sharded)
    for name, array in tg.from_pretrained(folder).state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], array)
    # A shard named by a path, not a file of the folder, is refused before it is read.
    index.write_text(json.dumps({"weight_map": {names[0]: "../elsewhere.bin"}}))
    with pytest.raises(ValueError, match=r"index\.json is not a valid index of weight shards"):
        tg.from_pretrained(sharded)


def test_pytorch_model_bin_nested(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    """A training checkpoint that holds the state dict under a key: the message says so."""
    folder, hf = small
    bin_folder = _bin_folder(tmp_path / "bin", folder, {"state_dict": hf.state_dict()})
    with pytest.raises(
        ValueError,
        match=r"state_dict is a OrderedDict, not a tensor; typedgpt reads a flat state dict "
        r"of tensors: save the dict under 'state_dict' itself",
    ):
        tg.from_pretrained(bin_folder)


def test_float8_weights(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, hf = small
    f8 = tmp_path / "f8"
    f8.mkdir()
    (f8 / "config.json").write_bytes((folder / "config.json").read_bytes())
    tensors = {name: t.to(torch.float8_e4m3fn) for name, t in hf.state_dict().items()}
    safetensors.torch.save_file(tensors, f8 / "model.safetensors")
    with pytest.raises(
        ValueError,
        match=r"has dtype F8_E4M3, which typedgpt cannot load: convert the weights to "
        r"float32, bfloat16 or float16 first",
    ):
        tg.from_pretrained(f8)


def test_bfloat16_weights(tmp_path: Path) -> None:
    """safetensors' NumPy loader has no bfloat16; typedgpt reads it, and keeps it on request."""
    bf16 = tmp_path / "bf16"
    hf = _hf_gpt2(CONFIGS["small"], seed=3)
    hf.to(torch.bfloat16)  # type: ignore[arg-type]  # transformers' stubs miss this overload
    hf.save_pretrained(bf16)
    model = tg.from_pretrained(bf16, dtype=None)
    assert model.token_embedding.dtype == jnp.bfloat16
    widened = tg.from_pretrained(bf16)
    assert widened.token_embedding.dtype == jnp.float32
    np.testing.assert_array_equal(
        np.asarray(widened.token_embedding), np.asarray(model.token_embedding, np.float32)
    )


# Half the distance between neighbouring numbers near 1, per dtype: the logits of one model
# in bfloat16 or float16 and in float32 differ by a few of these times the largest logit.
EPS = {"bfloat16": 2.0**-8, "float16": 2.0**-11}


def test_float64_folder_needs_x64_to_keep_its_dtype(tmp_path: Path) -> None:
    """`dtype=None` keeps the file's dtype: float64 only where JAX has it, else an error
    with the fix, not float32 in silence; the default float32 loads the same folder."""
    hf = _hf_gpt2(CONFIGS["small"], seed=5)
    hf.double().save_pretrained(tmp_path)
    with pytest.raises(ValueError) as info:
        tg.from_pretrained(tmp_path, dtype=None)
    assert str(info.value).startswith(f"{tmp_path / 'model.safetensors'} holds float64 ")
    assert "pass dtype=jnp.float32 to load them as float32" in str(info.value)
    model = tg.from_pretrained(tmp_path)
    assert {leaf.dtype for leaf in jax.tree.leaves(model)} == {jnp.dtype("float32")}


def test_mixed_dtype_folder_needs_a_dtype(tmp_path: Path) -> None:
    """`dtype=None` on a file that mixes dtypes says so and how to convert, where the error
    used to say the file did not fit config.json; a `dtype` loads it."""
    hf = _hf_gpt2(CONFIGS["small"], seed=5)
    hf.lm_head.to(torch.float16)  # tied: the shared embedding is float16, the rest float32
    hf.save_pretrained(tmp_path)
    with pytest.raises(ValueError) as info:
        tg.from_pretrained(tmp_path, dtype=None)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'model.safetensors'} mixes dtypes (")
    assert "float16" in message and "float32" in message
    assert message.endswith(
        "pass dtype=jnp.float32 (or jnp.bfloat16, jnp.float16) to convert them all"
    )
    model = tg.from_pretrained(tmp_path)
    assert {leaf.dtype for leaf in jax.tree.leaves(model)} == {jnp.dtype("float32")}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_folder_runs_and_exports_in_its_dtype(
    tmp_path: Path, key: jax.Array, dtype: str
) -> None:
    """A folder transformers saved in bfloat16 or float16 loads (`dtype=None`), runs,
    decodes, generates, trains and exports in that dtype, under these tests' strict dtype
    promotion: the norms mixed their low-precision gains with float32, which it refuses."""
    hf = _hf_gpt2(CONFIGS["small"], seed=4)
    hf.to(getattr(torch, dtype))
    hf.save_pretrained(tmp_path / "in")
    model = tg.from_pretrained(tmp_path / "in", dtype=None)
    assert {leaf.dtype for leaf in jax.tree.leaves(model)} == {jnp.dtype(dtype)}
    wide = tg.from_pretrained(tmp_path / "in")  # the same values in float32
    tokens = _tokens(model.config.vocab_size, 37)
    logits = model(jnp.asarray(tokens))
    assert logits.dtype == jnp.dtype(dtype)
    expected = np.asarray(wide(jnp.asarray(tokens)))
    scale = float(np.abs(expected).max())
    assert scale > 1.0
    atol = 8 * EPS[dtype] * scale
    np.testing.assert_allclose(np.asarray(logits, np.float32), expected, rtol=0, atol=atol)
    with torch.no_grad():
        theirs = hf(torch.from_numpy(tokens.astype(np.int64))[None]).logits[0].float().numpy()
    np.testing.assert_allclose(np.asarray(logits, np.float32), theirs, rtol=0, atol=atol)

    # Cached decoding in the model's dtype gives the full forward pass's logits.
    cache = model.init_cache(model.token_embedding.dtype)
    prefix, cache = model.decode(jnp.asarray(tokens[:30]), cache)
    steps = [prefix]
    for token in tokens[30:]:
        step, cache = model.decode(jnp.asarray(token)[None], cache)
        steps.append(step)
    assert cache.keys.dtype == jnp.dtype(dtype)
    decoded = np.asarray(jnp.concatenate(steps), np.float32)
    np.testing.assert_allclose(decoded, np.asarray(logits, np.float32), rtol=0, atol=atol)

    # Greedy generation is the argmax of the same dtype's forward pass at each step: by
    # causality one pass over the prompt and the generated tokens gives every step's logits.
    prompt = _tokens(model.config.vocab_size, 8, seed=1).tolist()
    greedy = tg.generate(model, prompt, max_new_tokens=8, temperature=0, key=key)
    steps_logits = model(jnp.asarray(prompt + greedy[:-1], jnp.int32))[len(prompt) - 1 :]
    assert greedy == np.argmax(np.asarray(steps_logits, np.float32), axis=-1).tolist()

    # The training loss is float32, and its gradients are in the parameters' dtype.
    inputs = jnp.asarray(tokens[:-1])[None]
    targets = jnp.asarray(tokens[1:])[None]
    mask = jnp.ones(inputs.shape, jnp.float32)
    loss, grads = jax.jit(jax.value_and_grad(batch_loss))(model, inputs, targets, mask)
    assert loss.dtype == jnp.float32
    np.testing.assert_allclose(
        float(loss), float(jax.jit(batch_loss)(wide, inputs, targets, mask)), rtol=8 * EPS[dtype]
    )
    assert all(leaf.dtype == jnp.dtype(dtype) for leaf in jax.tree.leaves(grads))

    # Exported, the folder records the dtype, and transformers loads the very same model.
    out = tg.save_pretrained(model, tmp_path / "out")
    assert json.loads((out / "config.json").read_text())["dtype"] == dtype
    reloaded = _load_hf(out)
    assert reloaded.dtype == getattr(torch, dtype)
    for name, tensor in hf.state_dict().items():
        assert torch.equal(reloaded.state_dict()[name], tensor), name


# --------------------------------------------------------------------------------------------
# The local Hugging Face cache: names resolve offline, or say how to download.
# --------------------------------------------------------------------------------------------


def _fake_cache(hub: Path, repo: str, source: Path, revision: str = "0123abcd") -> Path:
    """The hub cache's layout: files in blobs/, linked from snapshots/<rev>/, refs/main."""
    repo_dir = hub / ("models--" + repo.replace("/", "--"))
    snapshot = repo_dir / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo_dir / "blobs").mkdir()
    for file in ("config.json", "model.safetensors"):
        blob = repo_dir / "blobs" / f"blob-{file}"
        blob.write_bytes((source / file).read_bytes())
        (snapshot / file).symlink_to(os.path.relpath(blob, snapshot))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(revision)
    return snapshot


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No network (any connection fails the test), no HF variables, and a fresh cwd."""

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("typedgpt tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield tmp_path


@pytest.mark.parametrize("repo", ["gpt2", "openai-community/gpt2"])
@pytest.mark.parametrize("variable", ["HF_HUB_CACHE", "HF_HOME"])
def test_name_resolves_in_local_cache(
    small: tuple[Path, GPT2LMHeadModel],
    offline: Path,
    monkeypatch: pytest.MonkeyPatch,
    repo: str,
    variable: str,
) -> None:
    folder, _ = small
    home = offline / "hf-home"
    _fake_cache(home / "hub", repo, folder)
    monkeypatch.setenv(variable, str(home / "hub" if variable == "HF_HUB_CACHE" else home))
    model = tg.from_pretrained(repo)
    for name, array in tg.from_pretrained(folder).state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], array)


def test_default_cache_and_revision(
    small: tuple[Path, GPT2LMHeadModel], offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = small
    monkeypatch.setenv("HOME", str(offline))
    snapshot = _fake_cache(offline / ".cache" / "huggingface" / "hub", "gpt2", folder, "feed42")
    assert tg.from_pretrained("gpt2").config == EXPECTED["small"]
    assert tg.from_pretrained("gpt2", revision="feed42").config == EXPECTED["small"]
    with pytest.raises(FileNotFoundError, match=r"has no snapshot v2 of it"):
        tg.from_pretrained("gpt2", revision="v2")
    with pytest.raises(ValueError, match=r"revision '\.\./\.\.' is not a branch"):
        tg.from_pretrained("gpt2", revision="../..")
    with pytest.raises(ValueError, match=r"revision '/etc' is not a branch"):
        tg.from_pretrained("gpt2", revision="/etc")
    # huggingface_hub keeps a revision with slashes, such as a pull request's, as a path
    pull = snapshot.parent.parent / "refs" / "refs" / "pr" / "1"
    pull.parent.mkdir(parents=True)
    pull.write_text("feed42")
    assert tg.from_pretrained("gpt2", revision="refs/pr/1").config == EXPECTED["small"]
    with pytest.raises(FileNotFoundError, match=r"no snapshot feature/x .*--revision feature/x`"):
        tg.from_pretrained("gpt2", revision="feature/x")
    assert snapshot.is_dir()


def test_name_missing_from_cache(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(offline / "empty-hub"))
    with pytest.raises(FileNotFoundError) as info:
        tg.from_pretrained("gpt2")
    message = str(info.value)
    assert f"the Hugging Face cache at {offline / 'empty-hub'} has no gpt2" in message
    assert "hf download gpt2 config.json model.safetensors tokenizer.json" in message
    assert "or pass the path of a folder" in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no folder at .*nowhere/gpt2: check the path"):
        tg.from_pretrained(tmp_path / "nowhere" / "gpt2")


def test_file_instead_of_folder(small: tuple[Path, GPT2LMHeadModel]) -> None:
    folder, _ = small
    with pytest.raises(NotADirectoryError, match="is a file: pass the folder that holds"):
        tg.from_pretrained(folder / "config.json")


def test_missing_config(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, _ = small
    (tmp_path / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(FileNotFoundError, match=r"has no config\.json: it is not a complete"):
        tg.from_pretrained(tmp_path)


def test_missing_weights(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, _ = small
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    with pytest.raises(FileNotFoundError) as info:
        tg.from_pretrained(tmp_path)
    assert "has no weights: expected model.safetensors" in str(info.value)
    assert "found ['config.json']" in str(info.value)


# --------------------------------------------------------------------------------------------
# Checks while loading: shapes, corrupt files, configs typedgpt cannot build.
# --------------------------------------------------------------------------------------------


def test_wrong_shape_names_parameter_dims_and_shape(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path
) -> None:
    """A weight stored as nn.Linear `(out, in)` instead of Conv1D `(in, out)`."""
    folder, hf = small
    tensors = _hf_tensors(hf)
    name = "transformer.h.1.attn.c_attn.weight"
    tensors[name] = np.ascontiguousarray(tensors[name].T)
    bad = _write_folder(tmp_path / "bad", folder, tensors)
    with pytest.raises(ValueError) as info:
        tg.from_pretrained(bad)
    assert str(info.value) == (
        f"{bad / 'model.safetensors'} does not fit config.json: h.1.attn.c_attn.weight: "
        "expected shape (embed=48, 3*embed=144), got (144, 48) (its transpose: GPT-2 stores "
        "linear weights as Conv1D (in, out); transpose nn.Linear (out, in) weights first): "
        "check the config matches the checkpoint"
    )


def test_config_of_another_size(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, hf = small
    bad = _write_folder(tmp_path / "bad", folder, _hf_tensors(hf), config={"n_inner": 100})
    with pytest.raises(
        ValueError,
        match=r"h\.0\.mlp\.c_fc\.weight: expected shape "
        r"\(embed=48, mlp=100\), got \(48, 192\)",
    ):
        tg.from_pretrained(bad)


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_safetensors(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path, cut: float
) -> None:
    folder, _ = small
    data = (folder / "model.safetensors").read_bytes()
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    (tmp_path / "model.safetensors").write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ValueError, match=r"model\.safetensors is not a valid safetensors file"):
        tg.from_pretrained(tmp_path)


def test_corrupt_config(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, _ = small
    (tmp_path / "config.json").write_text('{"model_type": "gpt2", ')
    (tmp_path / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
    with pytest.raises(ValueError, match=r"config\.json is not valid JSON"):
        tg.from_pretrained(tmp_path)


@pytest.mark.parametrize("activation", ["gelu_fast", "gelu_python_tanh", "gelu_accurate"])
def test_other_names_of_gelu_tanh(tmp_path: Path, activation: str) -> None:
    """transformers' other spellings of GELU-tanh load, and give its logits: they used to be
    refused as another activation."""
    hf = _hf_gpt2(CONFIGS["small"] | {"activation_function": activation}, seed=5)
    hf.save_pretrained(tmp_path)
    model = tg.from_pretrained(tmp_path)
    tokens = _tokens(model.config.vocab_size, 37)
    _assert_logits_close(np.asarray(model(jnp.asarray(tokens))), _hf_logits(hf, tokens))


def test_reorder_and_upcast_attn_changes_rounding_only(tmp_path: Path) -> None:
    """`reorder_and_upcast_attn` computes the attention in float32, as float32 models do
    anyway: such a folder loads and gives transformers' logits (its eager attention takes
    the reordered path); it used to be refused as attention typedgpt does not implement.
    Exported, the switch is off, and transformers gives the same logits."""
    hf = _hf_gpt2(CONFIGS["small"] | {"reorder_and_upcast_attn": True}, seed=6)
    hf.save_pretrained(tmp_path / "in")
    model = tg.from_pretrained(tmp_path / "in")
    tokens = _tokens(model.config.vocab_size, 37)
    _assert_logits_close(np.asarray(model(jnp.asarray(tokens))), _hf_logits(hf, tokens))
    out = tg.save_pretrained(model, tmp_path / "out")
    assert json.loads((out / "config.json").read_text())["reorder_and_upcast_attn"] is False
    _assert_logits_close(_hf_logits(_load_hf(out), tokens), _hf_logits(hf, tokens))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_type", "gpt_neo"),
        ("activation_function", "relu"),
        ("scale_attn_weights", False),
        ("scale_attn_by_inverse_layer_idx", True),
        ("add_cross_attention", True),
    ],
)
def test_config_typedgpt_cannot_build(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path, field: str, value: object
) -> None:
    folder, hf = small
    bad = _write_folder(tmp_path / "bad", folder, _hf_tensors(hf), config={field: value})
    with pytest.raises(ValueError) as info:
        tg.from_pretrained(bad)
    assert str(info.value).startswith(f"{bad / 'config.json'}: {field} is {value!r}")


def test_folder_of_another_gpt2_architecture(tmp_path: Path) -> None:
    """A GPT-2 with a classification head: the error names the architecture, not only a
    tensor the config does not have."""
    torch.manual_seed(0)
    config = GPT2Config(**CONFIGS["small"], bos_token_id=None, eos_token_id=None)
    GPT2ForSequenceClassification(config).save_pretrained(tmp_path)
    with pytest.raises(
        ValueError,
        match=r"has parameters this config does not: score\.weight: check the config matches "
        r"the checkpoint \(config\.json names the architecture GPT2ForSequenceClassification, "
        r"whose head typedgpt does not have: it loads GPT2LMHeadModel and GPT2Model folders\)",
    ):
        tg.from_pretrained(tmp_path)
    GPT2Model(config).save_pretrained(tmp_path / "body")  # a language model, tied
    assert tg.from_pretrained(tmp_path / "body").lm_head is None


def test_config_without_model_type(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, hf = small
    bad = _write_folder(tmp_path / "bad", folder, _hf_tensors(hf))
    config = json.loads((bad / "config.json").read_text())
    del config["model_type"]
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ValueError, match=r"config\.json has no model_type: if it describes a GPT-2, add "
    ):
        tg.from_pretrained(bad)


def test_from_pretrained_of_a_training_checkpoint(tmp_path: Path, key: jax.Array) -> None:
    """Its config.json is typedgpt's own: the error says which function reads it."""
    tg.save_checkpoint(tmp_path / "run", tg.GPT(EXPECTED["small"], key=key))
    with pytest.raises(
        ValueError,
        match=r"run is a checkpoint of typedgpt train, not a Hugging Face folder: load it "
        r"with tg\.load_checkpoint\(",
    ):
        tg.from_pretrained(tmp_path / "run")


def test_config_not_divisible(small: tuple[Path, GPT2LMHeadModel], tmp_path: Path) -> None:
    folder, hf = small
    bad = _write_folder(tmp_path / "bad", folder, _hf_tensors(hf), config={"n_head": 5})
    with pytest.raises(ValueError, match=r"cannot build: GPTConfig\.embed_dim=48 is not divisible"):
        tg.from_pretrained(bad)


@pytest.mark.parametrize(
    ("field", "value", "ours"),
    [
        ("n_inner", 192.0, "mlp_dim"),
        ("layer_norm_epsilon", "1e-5", "norm_eps"),
        ("tie_word_embeddings", None, "tie_embeddings"),
        ("n_layer", "2", "num_layers"),
    ],
)
def test_config_value_typedgpt_cannot_build_names_the_field_of_config_json(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path, field: str, value: object, ours: str
) -> None:
    """The error names the field of config.json to fix, not only GPTConfig's name for it."""
    folder, hf = small
    bad = _write_folder(tmp_path / "bad", folder, _hf_tensors(hf), config={field: value})
    with pytest.raises(ValueError) as info:
        tg.from_pretrained(bad)
    message = str(info.value)
    assert message.startswith(f"{bad / 'config.json'} describes a model typedgpt cannot build")
    assert message.endswith(f"got {value!r} (in config.json, {ours} is {field}): fix it there")


# --------------------------------------------------------------------------------------------
# save_pretrained: what it refuses.
# --------------------------------------------------------------------------------------------


def _shapes_only(config: tg.GPTConfig) -> tg.GPT:
    """A model of shapes without values: save_pretrained refuses before it reads an array."""
    model: tg.GPT = eqx.filter_eval_shape(tg.GPT, config, key=jax.random.key(0))
    return model


def test_save_refuses_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    model = _shapes_only(EXPECTED["small"])
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="is not empty: choose a new or empty folder"):
        tg.save_pretrained(model, tmp_path)
    with pytest.raises(
        FileExistsError, match=r"holds no config\.json, so it is not a model folder"
    ):
        tg.save_pretrained(model, tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_save_overwrites_a_model_folder(tmp_path: Path, key: jax.Array) -> None:
    first = tg.GPT(EXPECTED["small"], key=key)
    second = tg.GPT(EXPECTED["small"], key=jax.random.key(7))
    tg.save_pretrained(first, tmp_path / "m")
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        tg.save_pretrained(second, tmp_path / "m")
    tg.save_pretrained(second, tmp_path / "m", overwrite=True)
    loaded = tg.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(
        np.asarray(loaded.token_embedding), np.asarray(second.token_embedding)
    )
    assert not [p for p in (tmp_path / "m").iterdir() if p.name.endswith(".tmp")]


def test_save_refuses_a_training_checkpoint(tmp_path: Path, key: jax.Array) -> None:
    """A checkpoint folder has a config.json too, but overwriting its model files would
    leave its train_state.json naming hashes of files that changed: it could no longer be
    loaded or resumed."""
    model = tg.GPT(EXPECTED["small"], key=key)
    tg.save_checkpoint(tmp_path / "run", model, train_state={"step": 3})
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    with pytest.raises(FileExistsError, match=r"run holds a typedgpt training checkpoint"):
        tg.save_pretrained(model, tmp_path / "run", overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before
    assert tg.load_checkpoint(tmp_path / "run").model.config == model.config


def test_save_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine")
    with pytest.raises(NotADirectoryError, match=r"cannot make .*/afile/sub/m: .*/afile is a file"):
        tg.save_pretrained(_shapes_only(EXPECTED["small"]), tmp_path / "afile" / "sub" / "m")
    assert (tmp_path / "afile").read_text() == "mine"


def test_save_refuses_what_gpt2_cannot_express(tmp_path: Path) -> None:
    model = _shapes_only(tg.GPTConfig.microgpt(vocab_size=27))
    with pytest.raises(ValueError, match=r"GPTConfig\.norm='rmsnorm' has no Hugging Face GPT-2"):
        tg.save_pretrained(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"mlp": "swiglu"},
            "GPTConfig.mlp='swiglu' has no Hugging Face GPT-2 equivalent, which "
            "needs mlp='standard'",
        ),
        ({"position_encoding": "rope"}, "GPTConfig.position_encoding='rope' has no Hugging Face"),
        (
            {"num_kv_heads": 1},
            "GPTConfig.num_kv_heads=1 has no Hugging Face GPT-2 equivalent, "
            "which needs num_kv_heads=3",
        ),
    ],
    ids=["swiglu", "rope", "grouped_query"],
)
def test_save_refuses_the_options_gpt2_does_not_have(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    model = _shapes_only(EXPECTED["small"].replace(**changes))
    with pytest.raises(ValueError, match=re.escape(message)):
        tg.save_pretrained(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()
    # num_kv_heads equal to num_heads is GPT-2's attention, and saves.
    assert config_to_hf(EXPECTED["small"].replace(num_kv_heads=3))["n_head"] == 3


# --------------------------------------------------------------------------------------------
# The tokenizer: tokenizer.json, or vocab.json and merges.txt, against transformers.
# --------------------------------------------------------------------------------------------

SAMPLES = [
    "the cat sat on the mat",
    " Hello, héllo naïve 日本語 world!\n\ttabs  and   spaces",
    "zebra quokka: never seen in training",
    "one<|endoftext|>two",
    "",
]


def _train_tokenizer(
    *, prefix_space: bool = False, lowercase: bool = False
) -> tokenizers.Tokenizer:
    """A byte-level BPE of about 300 ids, trained on a generated text, GPT-2 style."""
    rng = random.Random(0)
    words = ["the", "cat", "sat", "on", "mat", "héllo", "naïve", "日本", "dog", "ran", "world"]
    lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(300)]
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
    if lowercase:
        tokenizer.normalizer = tokenizers.normalizers.Lowercase()
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=prefix_space)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(lines, trainer)
    return tokenizer


@pytest.fixture(scope="module")
def trained() -> tokenizers.Tokenizer:
    return _train_tokenizer()


@pytest.mark.parametrize("layout", ["tokenizer.json", "vocab.json+merges.txt"])
def test_tokenizer_matches_transformers(
    trained: tokenizers.Tokenizer, tmp_path: Path, layout: str
) -> None:
    if layout == "tokenizer.json":
        trained.save(str(tmp_path / "tokenizer.json"))
    else:
        trained.model.save(str(tmp_path))
    before = _files(tmp_path)
    ours = tg.HFTokenizer.from_pretrained(tmp_path)
    theirs = GPT2Tokenizer.from_pretrained(tmp_path)
    assert ours.bos_id == theirs.eos_token_id == trained.token_to_id("<|endoftext|>")
    assert ours.vocab_size == len(theirs) == trained.get_vocab_size()
    for text in SAMPLES:
        ids = ours.encode(text)
        assert ids == theirs(text)["input_ids"], text
        assert ours.decode(ids) == text.replace("<|endoftext|>", "")  # BOS is skipped
    assert len(ours.encode(SAMPLES[0])) < len(SAMPLES[0])  # merges happen
    assert _files(tmp_path) == before


def _word_level() -> tokenizers.Tokenizer:
    words = ["<|endoftext|>", "[UNK]", "the", "cat", "sat", "on", "mat"]
    vocab = {word: i for i, word in enumerate(words)}
    tokenizer = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer.add_special_tokens([tokenizers.AddedToken("<|endoftext|>", special=True)])
    return tokenizer


@pytest.mark.parametrize(
    "make",
    [
        _train_tokenizer,
        lambda: _train_tokenizer(prefix_space=True),
        lambda: _train_tokenizer(lowercase=True),
        _word_level,
    ],
    ids=["byte-level", "prefix-space", "lowercase", "word-level"],
)
def test_tokenizer_saved_with_the_model(
    make: Callable[[], tokenizers.Tokenizer], tmp_path: Path, key: jax.Array
) -> None:
    """transformers reads the saved tokenizer as it is, whatever it is: GPT-2's own class
    would rebuild a byte-level BPE without a prefix space and drop a normalizer."""
    tokenizer = tg.HFTokenizer(make())
    config = EXPECTED["small"].replace(vocab_size=tokenizer.vocab_size)
    folder = tg.save_pretrained(tg.GPT(config, key=key), tmp_path / "m", tokenizer=tokenizer)
    assert tg.HFTokenizer.from_pretrained(folder) == tokenizer
    theirs = AutoTokenizer.from_pretrained(folder)
    assert theirs.eos_token_id == tokenizer.bos_id
    # The model's own unknown token where it has one (it was always the end token).
    assert theirs.unk_token == (make().model.unk_token or "<|endoftext|>")
    for text in [*SAMPLES, "The Cat sat"]:
        assert theirs(text)["input_ids"] == tokenizer.encode(text), text
    hf_config = json.loads((folder / "config.json").read_text())
    assert hf_config["eos_token_id"] == hf_config["bos_token_id"] == tokenizer.bos_id


def test_generate_in_transformers_stops_at_the_saved_end_token(
    tmp_path: Path, key: jax.Array
) -> None:
    """`save_pretrained` writes `generation_config.json`, which transformers' `generate`
    reads before `config.json`: one left in the folder by an overwritten model made it
    stop at that model's end token."""
    tokenizer = tg.HFTokenizer(_train_tokenizer())
    config = EXPECTED["small"].replace(vocab_size=tokenizer.vocab_size)
    folder = tmp_path / "m"
    tg.save_pretrained(tg.GPT(config, key=key), folder)
    stale = tokenizer.bos_id + 1
    (folder / "generation_config.json").write_text(json.dumps({"eos_token_id": stale}))
    tg.save_pretrained(tg.GPT(config, key=key), folder, tokenizer=tokenizer, overwrite=True)
    generation = GenerationConfig.from_pretrained(folder)
    assert generation.eos_token_id == generation.bos_token_id == tokenizer.bos_id
    other = EXPECTED["small"].replace(vocab_size=11)  # no tokenizer, not GPT-2's vocabulary
    folder = tg.save_pretrained(tg.GPT(other, key=key), tmp_path / "plain")
    assert json.loads((folder / "generation_config.json").read_text()) == {
        "_from_model_config": True
    }


GPT2 = "GPT2Tokenizer"


@pytest.mark.parametrize(
    ("layout", "settings", "trained_with", "expected"),
    [
        ("tokenizer.json", {"tokenizer_class": GPT2, "add_prefix_space": True}, False, True),
        ("tokenizer.json", {"tokenizer_class": GPT2}, True, False),  # GPT-2's default
        ("tokenizer.json", {"tokenizer_class": "PreTrainedTokenizerFast"}, True, True),
        ("vocab.json+merges.txt", {"tokenizer_class": GPT2, "add_prefix_space": True}, False, True),
        ("vocab.json+merges.txt", {"tokenizer_class": GPT2}, True, False),
    ],
)
def test_tokenizer_config_add_prefix_space(
    tmp_path: Path, layout: str, settings: dict[str, Any], trained_with: bool, expected: bool
) -> None:
    """`tokenizer_config.json`'s add_prefix_space, or GPT-2's class without it, tokenizes as
    transformers does, whatever the pre-tokenizer of `tokenizer.json` says; with another
    class `tokenizer.json` is taken as it is."""
    trained = _train_tokenizer(prefix_space=trained_with)
    if layout == "tokenizer.json":
        trained.save(str(tmp_path / "tokenizer.json"))
    else:
        trained.model.save(str(tmp_path))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    ours = tg.HFTokenizer.from_pretrained(tmp_path)
    theirs = AutoTokenizer.from_pretrained(tmp_path)
    for text in ["cat sat", *SAMPLES]:
        assert ours.encode(text) == theirs(text)["input_ids"], text
    assert (ours.encode("cat") == ours.encode(" cat")) == expected


def _added_token(content: str, *, special: bool) -> dict[str, Any]:
    """An entry of `added_tokens_decoder`, as transformers writes it."""
    flags = {"lstrip": False, "rstrip": False, "single_word": False}
    return {"content": content, "normalized": not special, "special": special, **flags}


@pytest.mark.parametrize("listed_in", ["tokenizer_config.json", "added_tokens.json"])
def test_vocab_and_merges_with_added_tokens(
    trained: tokenizers.Tokenizer, tmp_path: Path, listed_in: str
) -> None:
    """Tokens added to GPT-2's vocabulary (a pad token, a separator, a word), listed next to
    `vocab.json` and `merges.txt` as transformers' GPT-2 tokenizer saved them, are one id
    each, at their ids, as transformers reads them: they used to be split into bytes, and
    `vocab_size` to miss them (so that `sample` cut their rows off the model)."""
    trained.model.save(str(tmp_path))
    size = trained.get_vocab_size()
    tokens = {"<pad>": size, "[SEP]": size + 1, "zebra": size + 2}
    settings: dict[str, Any] = {"tokenizer_class": GPT2, "eos_token": "<|endoftext|>"}
    if listed_in == "added_tokens.json":
        (tmp_path / "added_tokens.json").write_text(json.dumps(tokens))
    else:
        settings["added_tokens_decoder"] = {
            str(index): _added_token(token, special=token != "zebra")
            for token, index in tokens.items()
        }
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    ours = tg.HFTokenizer.from_pretrained(tmp_path)
    theirs = AutoTokenizer.from_pretrained(tmp_path)
    assert ours.vocab_size == len(theirs) == size + 3
    for text in ["the cat<pad>sat[SEP]zebra dog", "the zebras", *SAMPLES]:
        ids = ours.encode(text)
        assert ids == theirs(text)["input_ids"], text
        assert ours.decode(ids) == text.replace("<|endoftext|>", "")
    assert ours.encode("<pad>[SEP]zebra") == [size, size + 1, size + 2]

    (tmp_path / "added_tokens.json").write_text(json.dumps({"<pad>": size + 1}))
    settings.pop("added_tokens_decoder", None)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    with pytest.raises(
        ValueError,
        match=rf"gives the added token '<pad>' the id {size + 1}, but the vocabulary puts it "
        rf"at {size}: the tokenizer's files do not match",
    ):
        tg.HFTokenizer.from_pretrained(tmp_path)
    (tmp_path / "added_tokens.json").write_text(json.dumps({"<pad>": "300"}))
    with pytest.raises(ValueError, match=r"added_tokens\.json does not map token ids to added"):
        tg.HFTokenizer.from_pretrained(tmp_path)


def test_tokenizer_json_whose_end_of_text_is_not_an_added_token(
    trained: tokenizers.Tokenizer, tmp_path: Path
) -> None:
    """The eos_token of `tokenizer_config.json`, `<|endoftext|>` only in the vocabulary, is
    made special, as transformers does, so it is one id in a text, as with vocab.json and
    merges.txt."""
    vocab, merges = trained.model.save(str(tmp_path))
    bare = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(vocab, merges))
    bare.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bare.decoder = tokenizers.decoders.ByteLevel()
    folder = tmp_path / "bare"
    folder.mkdir()
    bare.save(str(folder / "tokenizer.json"))
    settings = {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|endoftext|>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    assert bare.get_added_tokens_decoder() == {}
    ours = tg.HFTokenizer.from_pretrained(folder)
    theirs = AutoTokenizer.from_pretrained(folder)
    assert ours.encode("a<|endoftext|>b") == theirs("a<|endoftext|>b")["input_ids"]
    assert ours.encode("a<|endoftext|>b")[1] == ours.bos_id
    assert ours.encode("a<|endoftext|>b") == tg.HFTokenizer.from_pretrained(tmp_path).encode(
        "a<|endoftext|>b"
    )


def test_tokenizer_whose_end_of_text_is_not_an_added_token_round_trips(
    trained: tokenizers.Tokenizer, tmp_path: Path, key: jax.Array
) -> None:
    """`HFTokenizer(t)` with `<|endoftext|>` only in `t`'s vocabulary makes it special, as
    transformers and `from_pretrained` do, on a copy of `t`: it used to split it into bytes
    in a text, so that the tokenizer saved with a model encoded otherwise once loaded."""
    vocab, merges = trained.model.save(str(tmp_path))
    bare = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(vocab, merges))
    bare.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bare.decoder = tokenizers.decoders.ByteLevel()
    tokenizer = tg.HFTokenizer(bare)
    assert bare.get_added_tokens_decoder() == {}  # the caller's tokenizer is left as it is
    text = "a<|endoftext|>b"
    assert tokenizer.encode(text)[1] == tokenizer.bos_id and len(tokenizer.encode(text)) == 3
    config = EXPECTED["small"].replace(vocab_size=tokenizer.vocab_size)
    model = tg.GPT(config, key=key)
    folder = tg.save_pretrained(model, tmp_path / "m", tokenizer=tokenizer)
    assert tg.HFTokenizer.from_pretrained(folder) == tokenizer
    assert AutoTokenizer.from_pretrained(folder)(text)["input_ids"] == tokenizer.encode(text)
    assert tg.tokenizer_from_json(tokenizer.to_json()).encode(text) == tokenizer.encode(text)


def test_tokenizer_whose_end_token_is_not_gpt2s(tmp_path: Path) -> None:
    """A tokenizer ending documents with `</s>`: named by `special_tokens_map.json` (as
    transformers reads it, also when `tokenizer_config.json` sets `eos_token` to null), or
    by the `bos_token` argument; with neither, the error names the folder and both fixes."""
    words = ["</s>", "[UNK]", "the", "cat", "sat"]
    word_level = tokenizers.Tokenizer(
        tokenizers.models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]")
    )
    word_level.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    word_level.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(
        ValueError,
        match=rf"the tokenizer of {tmp_path} has no token '<\|endoftext\|>' to open and close "
        r"documents: pass bos_token=<a token of its vocabulary> to HFTokenizer\.from_pretrained,"
        r" or set eos_token in its tokenizer_config\.json",
    ):
        tg.HFTokenizer.from_pretrained(tmp_path)
    assert tg.HFTokenizer.from_pretrained(tmp_path, bos_token="</s>").bos_id == 0
    (tmp_path / "special_tokens_map.json").write_text(json.dumps({"eos_token": "</s>"}))
    settings = {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": None}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    ours = tg.HFTokenizer.from_pretrained(tmp_path)
    theirs = AutoTokenizer.from_pretrained(tmp_path)
    assert ours.bos_token == theirs.eos_token == "</s>"
    assert ours.encode("the cat </s> sat") == theirs("the cat </s> sat")["input_ids"]
    assert tg.HFTokenizer.from_pretrained(tmp_path, bos_token="sat").bos_id == 4
    with pytest.raises(TypeError, match=r"bos_token must be the text of a token.*got int"):
        tg.HFTokenizer.from_pretrained(tmp_path, bos_token=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("settings", [None, {"model_max_length": 64}])
def test_tokenizer_class_from_the_model_type(
    small: tuple[Path, GPT2LMHeadModel], tmp_path: Path, settings: dict[str, Any] | None
) -> None:
    """No `tokenizer_class` (gpt2's own `tokenizer_config.json` is `{"model_max_length":
    1024}`), or no `tokenizer_config.json`: transformers' `AutoTokenizer` takes GPT-2's class
    from `config.json`'s `model_type`, so no prefix space; it used to be kept from
    `tokenizer.json`, so that every text began with another token."""
    folder, _ = small
    (tmp_path / "config.json").write_bytes((folder / "config.json").read_bytes())
    _train_tokenizer(prefix_space=True).save(str(tmp_path / "tokenizer.json"))
    if settings is not None:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    ours = tg.HFTokenizer.from_pretrained(tmp_path)
    theirs = AutoTokenizer.from_pretrained(tmp_path)
    for text in ["cat sat", *SAMPLES]:
        assert ours.encode(text) == theirs(text)["input_ids"], text
    assert ours.encode("cat") != ours.encode(" cat")


def test_special_tokens_map_and_added_tokens_json_as_transformers_reads_them(
    tmp_path: Path,
) -> None:
    """Without `added_tokens_decoder` in `tokenizer_config.json` (a file older than
    transformers 4.34), the `eos_token` of `special_tokens_map.json` overrides its own, as
    transformers reads them; with it, `special_tokens_map.json` and `added_tokens.json` are
    not read. `<|endoftext|>` used to win in the first case, and `<pad>` to be added in the
    second."""
    trained = _train_tokenizer()
    trained.add_special_tokens([tokenizers.AddedToken("</s>", special=True)])
    trained.save(str(tmp_path / "tokenizer.json"))
    size = trained.get_vocab_size()
    (tmp_path / "special_tokens_map.json").write_text(json.dumps({"eos_token": "</s>"}))
    (tmp_path / "added_tokens.json").write_text(json.dumps({"<pad>": size}))
    settings: dict[str, Any] = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": "<|endoftext|>",
    }
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    ours = tg.HFTokenizer.from_pretrained(tmp_path)
    theirs = AutoTokenizer.from_pretrained(tmp_path)
    assert ours.bos_token == theirs.eos_token == "</s>"
    assert ours.vocab_size == len(theirs) == size + 1
    settings["added_tokens_decoder"] = {}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    ours = tg.HFTokenizer.from_pretrained(tmp_path)
    theirs = AutoTokenizer.from_pretrained(tmp_path)
    assert ours.bos_token == theirs.eos_token == "<|endoftext|>"
    assert ours.vocab_size == len(theirs) == size
    for text in ["the cat<pad>sat</s>", *SAMPLES]:
        assert ours.encode(text) == theirs(text)["input_ids"], text


def test_tokenizer_saved_over_older_tokenizer_files(tmp_path: Path, key: jax.Array) -> None:
    """`save_pretrained(..., overwrite=True)` over a folder whose tokenizer was saved the
    older way (`special_tokens_map.json`, `added_tokens.json`) leaves those files, but lists
    its added tokens in `tokenizer_config.json`, so that neither transformers nor typedgpt
    reads them: the saved tokenizer used to come back with the old folder's `</s>` as its
    end token (in transformers) and an extra `<pad>` (in both)."""
    tokenizer = tg.HFTokenizer(_train_tokenizer())
    config = EXPECTED["small"].replace(vocab_size=tokenizer.vocab_size + 2)
    folder = tg.save_pretrained(tg.GPT(config, key=key), tmp_path / "m")
    (folder / "special_tokens_map.json").write_text(json.dumps({"eos_token": "</s>"}))
    (folder / "added_tokens.json").write_text(json.dumps({"<pad>": tokenizer.vocab_size}))
    tg.save_pretrained(tg.from_pretrained(folder), folder, tokenizer=tokenizer, overwrite=True)
    assert (folder / "special_tokens_map.json").is_file()
    assert tg.HFTokenizer.from_pretrained(folder) == tokenizer
    theirs = AutoTokenizer.from_pretrained(folder)
    assert theirs.eos_token_id == tokenizer.bos_id
    assert len(theirs) == tokenizer.vocab_size
    for text in ["the cat<pad>sat", *SAMPLES]:
        assert theirs(text)["input_ids"] == tokenizer.encode(text), text


def test_tokenizer_json_round_trip(trained: tokenizers.Tokenizer, tmp_path: Path) -> None:
    tokenizer = tg.HFTokenizer(trained)
    assert tg.tokenizer_from_json(tokenizer.to_json()) == tokenizer
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = tg.load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded == tokenizer
    assert loaded.encode(SAMPLES[1]) == tokenizer.encode(SAMPLES[1])


def test_tokenizer_errors(trained: tokenizers.Tokenizer, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="has no token '<s>' to open and close documents"):
        tg.HFTokenizer(trained, bos_token="<s>")
    with pytest.raises(FileNotFoundError, match=r"has no tokenizer: expected tokenizer\.json"):
        tg.HFTokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text(trained.to_str()[:100])
    with pytest.raises(ValueError, match=r"tokenizer\.json is not a valid tokenizer file"):
        tg.HFTokenizer.from_pretrained(tmp_path)
    tokenizer = tg.HFTokenizer(trained)
    tokenizer.save(tmp_path / "tokenizer.json")  # typedgpt's own format, as in a checkpoint
    with pytest.raises(
        ValueError,
        match=r"tokenizer\.json is a typedgpt tokenizer \(kind 'hf'\), as a checkpoint holds "
        r"it, not a Hugging Face one: read it with tg\.load_tokenizer\(",
    ):
        tg.HFTokenizer.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match=rf"token id {tokenizer.vocab_size} at position 1 is "):
        tokenizer.decode([0, tokenizer.vocab_size])
    # The checks every tokenizer makes (without them: "TextInputSequence must be str").
    with pytest.raises(TypeError, match=r"got bytes: decode it first"):
        tokenizer.encode(b"the cat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"surrogate code point '\\udcff' at position 2"):
        tokenizer.encode("ab\udcff")


def test_tokenizer_bos_token_that_is_not_text(
    trained: tokenizers.Tokenizer, tmp_path: Path
) -> None:
    """A `bos_token` that is not a `str` is named, as `from_pretrained` names it: it used to
    reach the `tokenizers` library, whose TypeError ("'int' object is not an instance of
    'str'") named no argument, also from JSON, whose errors are `ValueError`s."""
    with pytest.raises(
        TypeError,
        match=r"^bos_token must be the text of a token, such as '<\|endoftext\|>', got 0 "
        r"\(int\): pass the token, not its id$",
    ):
        tg.HFTokenizer(trained, bos_token=0)  # type: ignore[arg-type]
    data = tg.HFTokenizer(trained).to_json() | {"bos_token": 0}
    message = (
        r"an 'hf' tokenizer's 'bos_token' must be the text of a token, such as "
        r"'<\|endoftext\|>', got 0 \(int\): it may be corrupt; write it with tokenizer\.save"
    )
    with pytest.raises(ValueError, match=rf"^{message}"):
        tg.tokenizer_from_json(data)
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data))
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(path))} is not a valid tokenizer file: {message}"
    ):
        tg.load_tokenizer(path)


def test_tokenizer_whose_ids_skip_some() -> None:
    """Ids 0, 1, 2 and 5: `vocab_size` is one more than the largest id, not the count of 4,
    so that `bos_id` is an id of the vocabulary (decoding it, and a dataset of it, used to
    fail); the ids skipped decode to nothing, as the `tokenizers` library decodes them."""
    vocab = {"a": 0, "b": 1, "[UNK]": 2, "<|endoftext|>": 5}
    word_level = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    word_level.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tokenizer = tg.HFTokenizer(word_level)
    assert (tokenizer.vocab_size, tokenizer.bos_id) == (6, 5)
    assert tokenizer.encode("a b x") == [0, 1, 2]
    assert tokenizer.decode([tokenizer.bos_id]) == ""
    assert tokenizer.decode([0, 3, 4, 1]) == "a b"
    with pytest.raises(ValueError, match="token id 6 at position 0 is outside"):
        tokenizer.decode([6])
    dataset = tg.TextDataset.from_text("a b\nb", tokenizer)
    assert [doc.tolist() for doc in dataset.documents] == [[5, 0, 1, 5], [5, 1, 5]]


def test_tokenizer_vocab_size_follows_added_tokens() -> None:
    """`vocab_size` is read from the vocabulary once, and again once tokens are added to the
    wrapped tokenizer."""
    tokenizer = tg.HFTokenizer(_word_level())
    assert tokenizer.vocab_size == 7
    tokenizer.tokenizer.add_tokens(["dog", "ran"])
    assert tokenizer.vocab_size == 9
    assert tokenizer.decode(tokenizer.encode("the dog ran")) == "the dog ran"
