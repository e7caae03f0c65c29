"""`GPTConfig`: invariants checked at construction, presets, frozen and keyword-only."""

import dataclasses
from typing import Any

import numpy as np
import pytest

import typedgpt as tg

VALID: dict[str, Any] = {
    "vocab_size": 7,
    "max_seq_len": 11,
    "num_layers": 2,
    "num_heads": 3,
    "embed_dim": 15,
    "mlp_dim": 13,
}


def make(**changes: Any) -> tg.GPTConfig:
    return tg.GPTConfig(**{**VALID, **changes})


def test_valid_config_and_defaults() -> None:
    config = make()
    assert (config.vocab_size, config.max_seq_len, config.num_layers) == (7, 11, 2)
    assert (config.num_heads, config.embed_dim, config.mlp_dim) == (3, 15, 13)
    assert config.norm == "layernorm"
    assert config.norm_eps == 1e-5
    assert config.norm_has_params is True
    assert config.embed_norm is False
    assert config.final_norm is True
    assert config.activation == "gelu_tanh"
    assert config.use_bias is True
    assert config.tie_embeddings is True
    assert config.init_std == 0.02
    assert config.mlp == "standard"
    assert config.position_encoding == "learned"
    assert config.rope_base == 10000.0
    assert config.num_kv_heads is None


def test_head_dim() -> None:
    assert make().head_dim == 5
    assert make(num_heads=5).head_dim == 3
    assert make(num_heads=1).head_dim == 15


SIZES = ["vocab_size", "max_seq_len", "num_layers", "num_heads", "embed_dim", "mlp_dim"]


@pytest.mark.parametrize("field", SIZES)
@pytest.mark.parametrize("value", [0, -3, 2.0, True, "8", None])
def test_sizes_must_be_positive_ints(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"GPTConfig\.{field} must be a positive int, got"):
        make(**{field: value})


def test_kv_heads() -> None:
    assert make().kv_heads == 3  # None: one key/value head per query head
    assert make(num_kv_heads=1).kv_heads == 1
    assert make(num_heads=5, embed_dim=20, num_kv_heads=5).kv_heads == 5


@pytest.mark.parametrize("value", [2, 4])
def test_num_kv_heads_must_divide_num_heads(value: int) -> None:
    with pytest.raises(ValueError) as excinfo:
        make(num_kv_heads=value)
    message = str(excinfo.value)
    assert f"GPTConfig.num_kv_heads={value} does not divide num_heads=3" in message
    assert "choose a divisor of num_heads" in message


@pytest.mark.parametrize("value", [0, -1, 1.0, True, "1"])
def test_num_kv_heads_must_be_none_or_a_positive_int(value: Any) -> None:
    with pytest.raises(ValueError, match=r"GPTConfig\.num_kv_heads must be None or a positive int"):
        make(num_kv_heads=value)


@pytest.mark.parametrize(("field", "value"), [("mlp", "geglu"), ("position_encoding", "alibi")])
def test_choices_are_checked(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=rf"GPTConfig\.{field} must be one of .*got '{value}'"):
        make(**{field: value})


def test_rope_needs_an_even_head_dim() -> None:
    with pytest.raises(ValueError) as excinfo:
        make(position_encoding="rope")  # 15 // 3 = 5
    assert "GPTConfig.position_encoding='rope' rotates pairs of features" in str(excinfo.value)
    assert "got 15 // 3 = 5" in str(excinfo.value)
    assert make(position_encoding="rope", embed_dim=12).head_dim == 4


@pytest.mark.parametrize("value", [0.0, -1.0, True])
def test_rope_base_must_be_positive(value: Any) -> None:
    with pytest.raises(ValueError, match=r"GPTConfig\.rope_base must be a positive finite number"):
        make(rope_base=value)


def test_embed_dim_must_divide_by_num_heads() -> None:
    with pytest.raises(ValueError) as excinfo:
        make(embed_dim=16, num_heads=3)
    message = str(excinfo.value)
    assert "GPTConfig.embed_dim=16 is not divisible by num_heads=3" in message
    assert "choose embed_dim as a multiple of num_heads" in message


@pytest.mark.parametrize("value", ["batchnorm", "LayerNorm", "", None])
def test_unknown_norm(value: Any) -> None:
    with pytest.raises(
        ValueError, match=r"GPTConfig\.norm must be one of \('rmsnorm', 'layernorm'\)"
    ):
        make(norm=value)


@pytest.mark.parametrize("value", ["gelu", "swiglu", "RELU", None])
def test_unknown_activation(value: Any) -> None:
    with pytest.raises(
        ValueError, match=r"GPTConfig\.activation must be one of \('relu', 'gelu_tanh'\)"
    ):
        make(activation=value)


FLAGS = ["norm_has_params", "embed_norm", "final_norm", "use_bias", "tie_embeddings"]


@pytest.mark.parametrize("field", FLAGS)
@pytest.mark.parametrize("value", [0, 1, "yes", None])
def test_flags_must_be_bool(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=rf"GPTConfig\.{field} must be True or False, got"):
        make(**{field: value})


@pytest.mark.parametrize("field", ["norm_eps", "init_std", "rope_base"])
@pytest.mark.parametrize("value", [0.0, -1e-5, float("nan"), float("inf"), True, "1e-5", None])
def test_eps_init_std_and_rope_base_must_be_positive_finite_numbers(field: str, value: Any) -> None:
    """An infinite init_std gave NaN logits, an infinite norm_eps zero logits."""
    with pytest.raises(ValueError, match=rf"GPTConfig\.{field} must be a positive finite number"):
        make(**{field: value})


@pytest.mark.parametrize("field", ["norm_eps", "init_std"])
def test_positive_int_is_a_positive_number(field: str) -> None:
    assert getattr(make(**{field: 1}), field) == 1


def test_numpy_numbers_are_taken_as_python_numbers() -> None:
    # A vocabulary size computed with NumPy (`ids.max() + 1`) is a np.int64.
    config = make(vocab_size=np.int64(27), norm_eps=np.float32(0.5), num_kv_heads=np.int32(1))
    assert (config.vocab_size, config.norm_eps, config.num_kv_heads) == (27, 0.5, 1)
    assert all(type(value) in (int, float) for value in dataclasses.astuple(config)[:6])
    assert config == make(vocab_size=27, norm_eps=0.5, num_kv_heads=1)
    microgpt = tg.GPTConfig.microgpt(np.int64(27))  # type: ignore[arg-type]
    assert microgpt.vocab_size == 27
    with pytest.raises(ValueError, match=r"num_layers must be a positive int, got 0$"):
        make(num_layers=np.int64(0))


def test_message_shows_the_value() -> None:
    with pytest.raises(ValueError, match=r"GPTConfig\.num_layers must be a positive int, got 0$"):
        make(num_layers=0)


def test_frozen() -> None:
    config = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.num_layers = 4  # type: ignore[misc]


def test_keyword_only() -> None:
    with pytest.raises(TypeError):
        tg.GPTConfig(7, 11, 2, 3, 15, 13)  # type: ignore[call-arg]


def test_hashable_and_equal_by_value() -> None:
    # jit treats the config as static, so it must hash and compare by value.
    assert make() == make()
    assert hash(make()) == hash(make())
    assert make() != make(num_layers=3)


def test_replace_changes_and_rechecks() -> None:
    config = make()
    deeper = config.replace(num_layers=5)
    assert deeper.num_layers == 5 and config.num_layers == 2
    assert deeper.embed_dim == config.embed_dim
    with pytest.raises(ValueError, match=r"GPTConfig\.num_heads must be a positive int"):
        config.replace(num_heads=0)
    with pytest.raises(ValueError, match=r"embed_dim=15 is not divisible by num_heads=4"):
        config.replace(num_heads=4)
    with pytest.raises(TypeError):
        config.replace(num_blocks=3)


def test_microgpt_preset() -> None:
    config = tg.GPTConfig.microgpt(27)
    assert config.vocab_size == 27
    assert config.max_seq_len == 16
    assert config.num_layers == 1
    assert config.num_heads == 4
    assert config.embed_dim == 16
    assert config.head_dim == 4
    assert config.mlp_dim == 64
    assert config.norm == "rmsnorm"
    assert config.norm_has_params is False
    assert config.embed_norm is True
    assert config.final_norm is False
    assert config.activation == "relu"
    assert config.use_bias is False
    assert config.tie_embeddings is False
    assert config.init_std == 0.08


def test_microgpt_preset_takes_changes() -> None:
    config = tg.GPTConfig.microgpt(27, num_layers=2, embed_dim=32)
    assert (config.num_layers, config.embed_dim, config.head_dim) == (2, 32, 8)
    assert config.norm == "rmsnorm"
    with pytest.raises(ValueError, match="vocab_size"):
        tg.GPTConfig.microgpt(0)


# (layers, heads, embed, mlp) for each GPT-2 size.
GPT2_SIZES = {
    "gpt2": (tg.GPTConfig.gpt2, 12, 12, 768, 3072),
    "gpt2_medium": (tg.GPTConfig.gpt2_medium, 24, 16, 1024, 4096),
    "gpt2_large": (tg.GPTConfig.gpt2_large, 36, 20, 1280, 5120),
    "gpt2_xl": (tg.GPTConfig.gpt2_xl, 48, 25, 1600, 6400),
}


@pytest.mark.parametrize("name", list(GPT2_SIZES))
def test_gpt2_presets(name: str) -> None:
    preset, layers, heads, embed, mlp = GPT2_SIZES[name]
    config = preset()
    assert (config.num_layers, config.num_heads, config.embed_dim, config.mlp_dim) == (
        layers,
        heads,
        embed,
        mlp,
    )
    assert config.head_dim == 64
    assert config.vocab_size == 50257
    assert config.max_seq_len == 1024
    assert config.norm == "layernorm" and config.norm_has_params is True
    assert config.norm_eps == 1e-5
    assert config.activation == "gelu_tanh"
    assert config.use_bias is True
    assert config.tie_embeddings is True
    assert config.final_norm is True and config.embed_norm is False
    assert config.init_std == 0.02


def test_gpt2_presets_take_changes() -> None:
    config = tg.GPTConfig.gpt2_medium(max_seq_len=128, vocab_size=100)
    assert (config.max_seq_len, config.vocab_size, config.num_layers) == (128, 100, 24)
    with pytest.raises(ValueError, match="not divisible by num_heads=7"):
        tg.GPTConfig.gpt2(num_heads=7)


def test_numpy_bool_is_a_bool() -> None:
    """NumPy ints were taken as ints but NumPy bools refused ("got np.True_")."""
    config = tg.GPTConfig.microgpt(vocab_size=27, use_bias=np.True_)
    assert config.use_bias is True
    with pytest.raises(ValueError, match=r"GPTConfig.vocab_size must be a positive int, got True"):
        tg.GPTConfig.microgpt(vocab_size=np.True_)  # type: ignore[arg-type]


def test_replace_names_the_unknown_field() -> None:
    """Before the fix: dataclasses' "__init__() got an unexpected keyword argument"."""
    config = make()
    with pytest.raises(TypeError, match=r"no field 'num_layer': did you mean 'num_layers'\?"):
        config.replace(num_layer=3)
    with pytest.raises(TypeError, match=r"'head_dim': it is computed from embed_dim // num_heads"):
        config.replace(head_dim=8)
    with pytest.raises(TypeError, match="GPTConfig has no field 'preset'"):
        tg.GPTConfig.microgpt(vocab_size=27, preset=1)
