"""The config half of Hugging Face GPT-2: `config_from_hf` reads a `GPT2Config` (the JSON of
`config.json`) as a `GPTConfig`, refusing what typedgpt cannot build, and `config_to_hf`
writes a `GPTConfig` back as the `config.json` of a `GPT2LMHeadModel`, refusing what GPT-2
cannot express."""

import json
from collections.abc import Mapping
from typing import Any

from ._config import GPTConfig
from ._hf_files import CONFIG_FILE

# transformers' names of GELU with the tanh approximation, typedgpt's "gelu_tanh": one
# function, written five ways (gelu_fast rounds sqrt(2/pi) to 10 digits, below float32's;
# gelu_accurate is MEGA's name for it).
_GELU_TANH = ("gelu_new", "gelu_pytorch_tanh", "gelu_python_tanh", "gelu_fast", "gelu_accurate")
# GPT2Config switches that change the maths, with the value typedgpt's GPT-2 implements.
_FIXED = {
    "scale_attn_weights": True,
    "scale_attn_by_inverse_layer_idx": False,
    "add_cross_attention": False,
}
# Switches that change rounding only, written with transformers' default and read as any:
# reorder_and_upcast_attn computes the attention scores in float32, which float32 models
# (typedgpt's default dtype) do anyway, and its softmax in float32, as typedgpt's does.
_ROUNDING = {"reorder_and_upcast_attn": False}

# GPTConfig's fields by their GPT2Config names, for errors that name the field to fix.
_HF_NAMES = {
    "vocab_size": "vocab_size",
    "max_seq_len": "n_positions",
    "num_layers": "n_layer",
    "num_heads": "n_head",
    "embed_dim": "n_embd",
    "mlp_dim": "n_inner",
    "norm_eps": "layer_norm_epsilon",
    "tie_embeddings": "tie_word_embeddings",
    "init_std": "initializer_range",
}


def config_from_hf(data: Any, *, source: str = CONFIG_FILE) -> GPTConfig:
    """The `GPTConfig` of a Hugging Face `GPT2Config` (the JSON of `config.json`).

    Raises `ValueError` naming the field for a config typedgpt cannot build: a `model_type`
    other than `gpt2`, an activation other than GELU-tanh, or one of the switches
    `scale_attn_weights=false`, `scale_attn_by_inverse_layer_idx`, `add_cross_attention`.
    `reorder_and_upcast_attn`, which changes rounding only, is accepted.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a JSON object of GPT2Config fields")
    model_type = data.get("model_type")
    if model_type is None:
        raise ValueError(
            f'{source} has no model_type: if it describes a GPT-2, add "model_type": '
            '"gpt2" to it (typedgpt loads GPT-2 models only)'
        )
    if model_type != "gpt2":
        raise ValueError(
            f"{source}: model_type is {model_type!r}, but typedgpt loads GPT-2 models only "
            "(model_type 'gpt2')"
        )
    activation = data.get("activation_function", "gelu_new")
    if activation not in _GELU_TANH:
        raise ValueError(
            f"{source}: activation_function is {activation!r}, but typedgpt's GPT-2 has GELU "
            f"with the tanh approximation only ({', '.join(map(repr, _GELU_TANH))})"
        )
    for field, supported in _FIXED.items():
        if data.get(field, supported) != supported:
            raise ValueError(
                f"{source}: {field} is {data[field]!r}, which typedgpt's GPT-2 does not "
                f"implement: it loads models with {field}={json.dumps(supported)}"
            )
    try:
        embed = data.get("n_embd", 768)
        inner = data.get("n_inner")
        return GPTConfig.gpt2(
            vocab_size=data.get("vocab_size", 50257),
            max_seq_len=data.get("n_positions", 1024),
            num_layers=data.get("n_layer", 12),
            num_heads=data.get("n_head", 12),
            embed_dim=embed,
            mlp_dim=4 * embed if inner is None and isinstance(embed, int) else inner,
            norm_eps=data.get("layer_norm_epsilon", 1e-5),
            tie_embeddings=data.get("tie_word_embeddings", True),
            init_std=data.get("initializer_range", 0.02),
        )
    except (TypeError, ValueError) as error:
        named = [f"{ours} is {theirs}" for ours, theirs in _HF_NAMES.items() if ours in str(error)]
        where = f" (in {CONFIG_FILE}, {', '.join(named)}): fix it there" if named else ""
        raise ValueError(
            f"{source} describes a model typedgpt cannot build: {error}{where}"
        ) from None


def config_to_hf(config: GPTConfig, *, eos_id: int | None = None) -> dict[str, Any]:
    """The `config.json` of a Hugging Face `GPT2LMHeadModel` with this config.

    Raises `ValueError` naming the field for a config GPT-2 cannot express (microgpt's
    RMSNorm, ReLU, missing biases, a SwiGLU MLP, rotary embeddings, grouped-query
    attention, ...). `eos_id` becomes `bos_token_id` and `eos_token_id`.
    """
    needs = {
        "norm": "layernorm",
        "norm_has_params": True,
        "embed_norm": False,
        "final_norm": True,
        "activation": "gelu_tanh",
        "use_bias": True,
        "mlp": "standard",
        "position_encoding": "learned",
        "num_kv_heads": config.num_heads if config.num_kv_heads is not None else None,
    }
    for field, value in needs.items():
        if getattr(config, field) != value:
            raise ValueError(
                f"GPTConfig.{field}={getattr(config, field)!r} has no Hugging Face GPT-2 "
                f"equivalent, which needs {field}={value!r}: save this model with "
                "tg.save_checkpoint instead"
            )
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": config.vocab_size,
        "n_positions": config.max_seq_len,
        "n_embd": config.embed_dim,
        "n_layer": config.num_layers,
        "n_head": config.num_heads,
        "n_inner": config.mlp_dim,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": config.norm_eps,
        "initializer_range": config.init_std,
        "tie_word_embeddings": config.tie_embeddings,
        **_FIXED,
        **_ROUNDING,
        "bos_token_id": eos_id,
        "eos_token_id": eos_id,
        "use_cache": True,
    }
