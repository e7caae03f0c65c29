"""The one place where typedgpt's parameter names meet GPT-2's checkpoint names.

Names are Hugging Face `GPT2Model`'s without the `transformer.` prefix. GPT-2 stores its
linear layers as `Conv1D`, whose weight is `(in, out)`; typedgpt's `Linear.weight` is
`(out, in)`, so every linear weight is transposed here and nowhere else. `lm_head.weight` is
`(vocab, embed)`, as in `nn.Linear`, and exists only when the head is untied. Parameters a
config does not have (gain-free norms, biases) are absent.

Configs beyond GPT-2 keep its names, so that `tg.save_checkpoint` stores them too (Hugging
Face export refuses them: `_hf_config.config_to_hf`): with rotary embeddings there is no
`wpe.weight`; with grouped-query attention `c_attn` is `(embed, (heads + 2 kv_heads)
head_dim)`, still queries, keys, values; a SwiGLU MLP adds the gate `h.{i}.mlp.c_gate`
(`embed` to `mlp`) to `c_fc` (the up projection) and `c_proj` (down).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._config import GPTConfig
from ._swiglu import SwiGLU

if TYPE_CHECKING:
    from ._gpt import GPT


@dataclass(frozen=True)
class _Entry:
    name: str  # GPT-2 name; "{i}" stands for the layer index
    where: Callable[["GPT"], Any]  # the array in typedgpt's (stacked) model
    dims: tuple[str, ...]  # GPT-2 layout, in the dimension vocabulary
    transpose: bool  # Conv1D layout (in, out) against Linear's (out, in)

    @property
    def per_layer(self) -> bool:
        return "{i}" in self.name


def _entries(config: GPTConfig) -> list[_Entry]:
    """Every parameter a model with this config has, in checkpoint order."""
    entries = [_Entry("wte.weight", lambda m: m.token_embedding, ("vocab", "embed"), False)]
    if config.position_encoding == "learned":
        entries.append(
            _Entry("wpe.weight", lambda m: m.position_embedding, ("positions", "embed"), False)
        )
    norm_params = config.norm_has_params
    norm_bias = norm_params and config.norm == "layernorm"

    def norm(name: str, where: Callable[["GPT"], Any]) -> list[_Entry]:
        out = []
        if norm_params:
            out.append(_Entry(f"{name}.weight", lambda m: where(m).weight, ("embed",), False))
        if norm_bias:
            out.append(_Entry(f"{name}.bias", lambda m: where(m).bias, ("embed",), False))
        return out

    def linear(name: str, where: Callable[["GPT"], Any], dims: tuple[str, str]) -> list[_Entry]:
        out = [_Entry(f"{name}.weight", lambda m: where(m).weight, dims, True)]
        if config.use_bias:
            out.append(_Entry(f"{name}.bias", lambda m: where(m).bias, dims[1:], False))
        return out

    if config.embed_norm:
        entries += norm("ln_embed", lambda m: m.embed_norm)
    entries += norm("h.{i}.ln_1", lambda m: m.blocks.norm1)
    qkv = _qkv_dim(config)
    entries += linear("h.{i}.attn.c_attn", lambda m: m.blocks.attn.qkv_proj, ("embed", qkv))
    entries += linear("h.{i}.attn.c_proj", lambda m: m.blocks.attn.out_proj, ("embed", "embed"))
    entries += norm("h.{i}.ln_2", lambda m: m.blocks.norm2)
    entries += linear("h.{i}.mlp.c_fc", lambda m: m.blocks.mlp.up_proj, ("embed", "mlp"))
    if config.mlp == "swiglu":
        entries += linear("h.{i}.mlp.c_gate", lambda m: _swiglu(m).gate_proj, ("embed", "mlp"))
    entries += linear("h.{i}.mlp.c_proj", lambda m: m.blocks.mlp.down_proj, ("mlp", "embed"))
    if config.final_norm:
        entries += norm("ln_f", lambda m: m.final_norm)
    if not config.tie_embeddings:
        entries.append(_Entry("lm_head.weight", lambda m: m.lm_head, ("vocab", "embed"), False))
    return entries


def _swiglu(model: "GPT") -> SwiGLU:
    return cast(SwiGLU, model.blocks.mlp)


def _qkv_dim(config: GPTConfig) -> str:
    """The name of the fused projection's output dim: `3*embed` in GPT-2's attention."""
    if config.kv_heads == config.num_heads:
        return "3*embed"
    return "(heads+2*kv_heads)*head_dim"


def _sizes(config: GPTConfig) -> dict[str, int]:
    return {
        "vocab": config.vocab_size,
        "positions": config.max_seq_len,
        "embed": config.embed_dim,
        _qkv_dim(config): (config.num_heads + 2 * config.kv_heads) * config.head_dim,
        "mlp": config.mlp_dim,
    }


def to_numpy(value: Any) -> np.ndarray:
    """`value` as a NumPy array; a PyTorch tensor (bfloat16 included, which NumPy has no
    dtype of its own for) is detached and copied to the CPU first."""
    if type(value).__module__.startswith("torch"):
        import torch

        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            if tensor.dtype == torch.bfloat16:
                return cast(np.ndarray, tensor.view(torch.int16).numpy().view(jnp.bfloat16))
            return tensor.numpy()
    return np.asarray(value)


def state_dict(model: "GPT") -> dict[str, np.ndarray]:
    """The model's parameters as NumPy arrays under GPT-2's names and layouts.

    The arrays are read-only, as the model's own are: most share its memory, and writing
    into one could not change the model anyway. Copy one (`np.array(a)`) to modify it.
    """
    out: dict[str, np.ndarray] = {}
    for entry in _entries(model.config):
        array = np.asarray(entry.where(model))
        layers = array if entry.per_layer else [array]
        for i, layer in enumerate(layers):
            value = np.ascontiguousarray(layer.T if entry.transpose else layer)
            value.flags.writeable = False  # a transposed one is a copy: read-only all the same
            out[entry.name.format(i=i)] = value
    return out


def from_state_dict(config: GPTConfig, tensors: Mapping[str, Any]) -> "GPT":
    """Build a `GPT` from GPT-2-named arrays, checking every name and shape first.

    Each array must have the shape of the parameter it fills in the model this config builds
    (read from the model itself, in GPT-2's layout); a mismatch names the parameter, its dims
    in the dimension vocabulary with their sizes, and the shape found. All must have one
    floating-point dtype, the model's: a mix raises `TypeError` naming two that differ
    (PyTorch's `load_state_dict` casts into the module's existing dtype; here the arrays
    choose it, so a mix has no answer that is not a guess).
    """
    from ._gpt import GPT

    if not isinstance(config, GPTConfig):
        raise TypeError(f"from_state_dict expects a GPTConfig, got {type(config).__qualname__}")
    if not isinstance(tensors, Mapping):
        raise TypeError(
            f"tensors must be a mapping of names to arrays, got {type(tensors).__qualname__}: "
            "pass model.state_dict() or a dict like it"
        )
    for name in tensors:
        if not isinstance(name, str):
            raise TypeError(
                f"state dict names must be strings, got {name!r} ({type(name).__qualname__})"
            )
    # GPT2LMHeadModel's state_dict() also holds the tied head, a copy of wte.weight.
    tied_copy = config.tie_embeddings and "lm_head.weight" in tensors
    prefixed = sorted(name for name in tensors if name.startswith("transformer."))
    if prefixed:
        raise KeyError(
            f"state dict names {prefixed[0]!r} with GPT2LMHeadModel's 'transformer.' prefix, "
            "which typedgpt's names do not have: strip it from every name, or load the "
            "Hugging Face folder with tg.from_pretrained"
            + (
                " (with a tied head, drop 'lm_head.weight' too: a copy of 'wte.weight')"
                if tied_copy
                else ""
            )
        )
    sizes = _sizes(config)
    skeleton = eqx.filter_eval_shape(GPT, config, key=jax.random.key(0))
    expected_names: set[str] = set()
    first_dtype: tuple[str, np.dtype] | None = None  # every array must have its dtype
    wheres, values = [], []
    for entry in _entries(config):
        expected = _module_shape(entry, skeleton)
        if expected != tuple(sizes[d] for d in entry.dims):  # the table and the module agree
            raise RuntimeError(
                f"typedgpt bug: {entry.name} is {_describe_dims(entry.dims, sizes)} in the "
                f"checkpoint table but {expected} in the model"
            )
        layers = []
        for i in range(config.num_layers if entry.per_layer else 1):
            name = entry.name.format(i=i)
            expected_names.add(name)
            if name not in tensors:
                raise KeyError(
                    f"state dict has no {name!r}, which a model with this config needs "
                    f"{_describe_dims(entry.dims, sizes)}: check the config matches the "
                    "checkpoint"
                )
            try:
                array = to_numpy(tensors[name])
            except Exception as error:
                raise TypeError(
                    f"{name}: a {type(tensors[name]).__qualname__} that cannot be read as an "
                    f"array ({error}): pass NumPy arrays"
                ) from None
            if array.dtype.kind in "OUS":  # None, a str: an object or str array of shape ()
                raise TypeError(
                    f"{name}: expected a floating-point array, got a "
                    f"{type(tensors[name]).__qualname__} ({array.dtype}): pass NumPy arrays"
                )
            if array.shape != expected:
                transposed = len(expected) == 2 and array.shape == expected[::-1]
                hint = (
                    " (its transpose: GPT-2 stores linear weights as Conv1D (in, out); "
                    "transpose nn.Linear (out, in) weights first)"
                    if transposed and entry.transpose
                    else ""
                )
                raise ValueError(
                    f"{name}: expected shape {_describe_dims(entry.dims, sizes)}, got "
                    f"{tuple(array.shape)}{hint}: check the config matches the checkpoint"
                )
            if not jnp.issubdtype(array.dtype, jnp.floating):
                raise TypeError(f"{name}: expected a floating-point array, got {array.dtype}")
            if array.dtype.itemsize < 2:  # float8, float4: see _dtype
                raise TypeError(
                    f"{name}: {array.dtype} is narrower than typedgpt computes in (float32, "
                    "bfloat16, float16): convert the arrays to one of those first"
                )
            if first_dtype is None:
                first_dtype = (name, array.dtype)
            elif array.dtype != first_dtype[1]:
                raise TypeError(
                    f"{name} is {array.dtype} but {first_dtype[0]} is {first_dtype[1]}: a model "
                    "computes in one dtype, so its state dict must hold one: convert every "
                    "array to the one you want first, such as "
                    "{k: np.asarray(v, np.float32) for k, v in tensors.items()}"
                )
            layers.append(array.T if entry.transpose else array)
        wheres.append(entry.where)
        values.append(jnp.asarray(np.stack(layers) if entry.per_layer else layers[0]))
    unexpected = sorted(set(tensors) - expected_names)
    if unexpected == ["lm_head.weight"] and tied_copy:
        raise KeyError(
            "state dict has parameters this config does not: lm_head.weight: the config ties "
            "the head to the token embedding (tie_embeddings=True): drop 'lm_head.weight' if it "
            "is a copy of 'wte.weight' (GPT2LMHeadModel saves one), or set tie_embeddings=False"
        )
    if unexpected:
        raise KeyError(
            f"state dict has parameters this config does not: {', '.join(unexpected[:5])}"
            f"{' ...' if len(unexpected) > 5 else ''}: check the config matches the checkpoint"
        )
    model: GPT = eqx.tree_at(lambda m: [where(m) for where in wheres], skeleton, values)
    return model


def _module_shape(entry: _Entry, skeleton: "GPT") -> tuple[int, ...]:
    """The shape one checkpoint tensor must have: the model's own array, one layer of it
    for a per-layer name, in GPT-2's layout."""
    shape = tuple(entry.where(skeleton).shape)
    if entry.per_layer:
        shape = shape[1:]
    return shape[::-1] if entry.transpose else shape


def _describe_dims(dims: tuple[str, ...], sizes: dict[str, int]) -> str:
    return "(" + ", ".join(f"{d}={sizes[d]}" for d in dims) + ")"
