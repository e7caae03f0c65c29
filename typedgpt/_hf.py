"""Hugging Face GPT-2: load a model folder (or a name in the local cache), save one back.

- `from_pretrained` maps the config onto `GPTConfig.gpt2`, refusing what typedgpt cannot
  build, reads the weights without pickle (safetensors; `pytorch_model.bin` only through
  `torch.load(weights_only=True)`), drops the `transformer.` prefix, the attention-mask
  buffers and a tied `lm_head.weight`, then builds the model with `GPT.from_state_dict`,
  which checks every tensor's shape against the model's own.
- `save_pretrained` writes a folder that transformers' `GPT2LMHeadModel.from_pretrained`
  loads, every file atomically.

Mapping the config both ways is `_hf_config`; finding the folder and reading its files is
`_hf_files`; the tokenizer is `_hf_tokenizer.HFTokenizer`.
"""

import os
import re
from collections.abc import Mapping
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import safetensors.numpy
from jaxtyping import DTypeLike

from ._checkpoint import atomic_write, holds_checkpoint
from ._config import GPTConfig
from ._dtype import compute_dtype
from ._gpt import GPT
from ._hf_config import config_from_hf, config_to_hf
from ._hf_files import (
    CONFIG_FILE,
    GENERATION_CONFIG_FILE,
    SAFETENSORS_FILE,
    _json_bytes,
    _read_json,
    read_weights,
    resolve_pretrained,
)
from ._hf_tokenizer import HFTokenizer

# The architectures whose weights are a GPT-2 language model and nothing else.
_LANGUAGE_MODELS = ("GPT2LMHeadModel", "GPT2Model")
# The attention-mask buffers older GPT-2 checkpoints store next to the parameters.
_BUFFER = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")


def gpt2_names(
    tensors: Mapping[str, np.ndarray], config: GPTConfig, *, source: str
) -> dict[str, np.ndarray]:
    """The tensors under typedgpt's state-dict names: without the `transformer.` prefix
    (`GPT2LMHeadModel`'s), without the attention-mask buffers, and without `lm_head.weight`
    when the head is tied to `wte.weight` (which it must then equal, or stand in for: of a
    tied pair, `safetensors.torch.save_model` keeps the head's name alone)."""
    out: dict[str, np.ndarray] = {}
    for name, array in tensors.items():
        short = name.removeprefix("transformer.")
        if _BUFFER.fullmatch(short):
            continue
        if short in out:
            raise ValueError(f"{source} holds {short} twice, with and without 'transformer.'")
        out[short] = array
    head = out.pop("lm_head.weight", None) if config.tie_embeddings else None
    if head is not None and not np.array_equal(head, out.setdefault("wte.weight", head)):
        raise ValueError(
            f"{source}: config.json has tie_word_embeddings=true, but lm_head.weight differs "
            "from wte.weight: set tie_word_embeddings to false for an untied head"
        )
    return out


def from_pretrained(
    path_or_name: str | os.PathLike[str],
    *,
    dtype: DTypeLike | None = jnp.float32,
    revision: str = "main",
) -> GPT:
    """Load a Hugging Face GPT-2 model: a folder, or a name in the local Hugging Face cache.

    The folder needs `config.json` and the weights: `model.safetensors` (or its shards), or
    `pytorch_model.bin`, which is a pickle and is read only through
    `torch.load(weights_only=True)` when torch is installed. Names with or without the
    `transformer.` prefix load alike; the attention-mask buffers are ignored; the head is
    tied or untied as `tie_word_embeddings` says. Every tensor is checked against the shape
    of the parameter it fills, and a mismatch names the parameter, its dims by name and
    size, and the shape found. Nothing in the folder is modified, and nothing is downloaded.

    **Arguments:**

    - `path_or_name`: a folder, or a model id such as `"gpt2"` already in the local cache
      (`$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
      `~/.cache/huggingface/hub`).
    - `dtype`: the dtype of every floating-point parameter: float32 (the default), bfloat16
      or float16; `None` keeps the file's (float64 only with JAX's `jax_enable_x64`).
    - `revision`: for a cached name, the branch, tag or pull request (`refs/pr/1`) that
      `refs/<revision>` records, or a commit.

    **Returns:** the `GPT`.

    **Raises:** `FileNotFoundError` when there is no such folder, the name is not in the
    cache, or the folder lacks `config.json` or weights; `NotADirectoryError` for a file;
    `ValueError` for a bad `dtype` or `revision`, a config typedgpt cannot build (not
    `gpt2`, another activation, unsupported attention switches), corrupt files, or tensors
    that do not fit the config; `ImportError` for `pytorch_model.bin` without torch.
    """
    if dtype is not None:
        dtype = compute_dtype(
            dtype,
            argument="dtype",
            fix="pass jnp.float32 (the default), jnp.bfloat16 or jnp.float16, or None to keep "
            "the file's dtypes",
        )
    folder = resolve_pretrained(path_or_name, revision=revision)
    if holds_checkpoint(folder):
        raise ValueError(
            f"{folder} is a checkpoint of typedgpt train, not a Hugging Face folder: load it "
            f"with tg.load_checkpoint({str(folder)!r})"
        )
    hf_config = _read_json(folder / CONFIG_FILE)
    config = config_from_hf(hf_config, source=str(folder / CONFIG_FILE))
    tensors, source = read_weights(folder)
    tensors = gpt2_names(tensors, config, source=str(source))
    wide = sorted(name for name, array in tensors.items() if array.dtype == np.float64)
    if dtype is None and wide and not jax.config.jax_enable_x64:  # type: ignore[attr-defined]
        raise ValueError(
            f"{source} holds float64 parameters ({wide[0]} among them), which JAX keeps only "
            "with jax_enable_x64 (else it would make them float32): pass dtype=jnp.float32 to "
            "load them as float32, or set jax.config.update('jax_enable_x64', True) first"
        )
    kinds = {
        array.dtype: name
        for name, array in sorted(tensors.items())
        if jnp.issubdtype(array.dtype, jnp.floating)
    }
    if dtype is None and len(kinds) > 1:
        (first, a), (second, b) = list(kinds.items())[:2]
        raise ValueError(
            f"{source} mixes dtypes ({a} is {first}, {b} is {second}), and a model computes "
            "in one: pass dtype=jnp.float32 (or jnp.bfloat16, jnp.float16) to convert them all"
        )
    if dtype is not None:
        tensors = {
            name: array.astype(dtype) if jnp.issubdtype(array.dtype, jnp.floating) else array
            for name, array in tensors.items()
        }
    try:
        return GPT.from_state_dict(config, tensors)
    except (KeyError, ValueError, TypeError) as error:
        message = error.args[0] if error.args else str(error)
        names = hf_config.get("architectures")
        names = names if isinstance(names, list) else []
        other = [name for name in names if name not in _LANGUAGE_MODELS]
        if other:  # GPT2ForSequenceClassification, whose score.weight is no GPT-2 name
            message += (
                f" ({CONFIG_FILE} names the architecture {other[0]}, whose head typedgpt does "
                f"not have: it loads {' and '.join(_LANGUAGE_MODELS)} folders)"
            )
        raise ValueError(f"{source} does not fit {CONFIG_FILE}: {message}") from None


def save_pretrained(
    model: GPT,
    path: str | os.PathLike[str],
    *,
    tokenizer: "HFTokenizer | None" = None,
    overwrite: bool = False,
) -> Path:
    """Write `model` (and `tokenizer`) as a Hugging Face GPT-2 folder.

    Writes `config.json` (`model_type` `gpt2`, `architectures` `["GPT2LMHeadModel"]`) and
    `model.safetensors` under `GPT2LMHeadModel`'s names (`transformer.*`, plus
    `lm_head.weight` when the head is untied), `generation_config.json` (the end token for
    transformers' `generate`, as its own `save_pretrained` writes it), and, with a
    tokenizer, `tokenizer.json` and `tokenizer_config.json`. transformers'
    `GPT2LMHeadModel.from_pretrained(path)` and `AutoTokenizer.from_pretrained(path)` load
    the folder. Every file is written atomically.

    `bos_token_id` and `eos_token_id` are the tokenizer's `bos_id`; without a tokenizer,
    GPT-2's `<|endoftext|>` (50256) when `vocab_size` is GPT-2's 50257, else unset.

    **Arguments:**

    - `model`: a `GPT` with a GPT-2 architecture (LayerNorm with gain and bias, GELU-tanh
      in a standard MLP, biases, learned positions, multi-head attention, a final norm and
      no embedding norm); others raise `ValueError` naming the field.
    - `path`: the folder, created if needed. A folder that is not empty is refused unless
      `overwrite=True` and it already holds a `config.json` (a model folder) and no typedgpt
      training checkpoint; then the files above are replaced and any others are left as
      they are.
    - `tokenizer`: an `HFTokenizer` to save alongside, or `None`; one with more ids than
      the model's `vocab_size` raises `ValueError`.
    - `overwrite`: replace the model files of an existing model folder.

    **Returns:** the folder, as a `Path`.

    **Raises:** `TypeError` when `model` is not a `GPT` or `tokenizer` not an
    `HFTokenizer`; `NotADirectoryError` when `path` or a parent is a file; `FileExistsError` for a
    folder refused as above; `ValueError` as above.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"save_pretrained expects a GPT, got {type(model).__qualname__}")
    if tokenizer is not None and not isinstance(tokenizer, HFTokenizer):
        raise TypeError(
            f"save_pretrained saves an HFTokenizer, got {type(tokenizer).__qualname__}: "
            "a Hugging Face folder cannot hold typedgpt's own tokenizers"
        )
    folder = Path(path).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file: pass a folder to save the model into")
    nearest = next((parent for parent in folder.parents if parent.exists()), None)
    if nearest is not None and not nearest.is_dir():
        raise NotADirectoryError(
            f"cannot make {folder}: {nearest} is a file; pass a folder whose parents are folders"
        )
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{folder} is not empty: choose a new or empty folder, or pass overwrite=True "
                "to replace the model files of a model folder"
            )
        if holds_checkpoint(folder):
            raise FileExistsError(
                f"{folder} holds a typedgpt training checkpoint, which save_pretrained would "
                "leave half replaced (its optimizer state and tokenizer behind): save the "
                "Hugging Face folder somewhere else"
            )
        if not (folder / CONFIG_FILE).is_file():
            raise FileExistsError(
                f"{folder} is not empty and holds no {CONFIG_FILE}, so it is not a model "
                "folder: save_pretrained overwrites model folders only; choose another folder"
            )
    config = model.config
    if tokenizer is not None:
        eos_id: int | None = tokenizer.bos_id
    else:
        eos_id = 50256 if config.vocab_size == 50257 else None
    hf_config = config_to_hf(config, eos_id=eos_id)
    hf_config["dtype"] = jnp.dtype(model.token_embedding.dtype).name
    if tokenizer is not None and tokenizer.vocab_size > config.vocab_size:
        raise ValueError(
            f"the tokenizer has {tokenizer.vocab_size} ids but the model's vocab_size is "
            f"{config.vocab_size}: save the tokenizer the model was made for"
        )
    tensors = {
        name if name == "lm_head.weight" else f"transformer.{name}": array
        for name, array in model.state_dict().items()
    }
    # transformers' `generate` reads its end token here before config.json: one left by an
    # overwritten model would stop generation at that model's end token.
    generation = {"_from_model_config": True, "bos_token_id": eos_id, "eos_token_id": eos_id}
    files = {
        SAFETENSORS_FILE: safetensors.numpy.save(tensors, metadata={"format": "pt"}),
        CONFIG_FILE: _json_bytes(hf_config),
        GENERATION_CONFIG_FILE: _json_bytes({k: v for k, v in generation.items() if v is not None}),
    }
    if tokenizer is not None:
        files |= tokenizer.files(model_max_length=config.max_seq_len)
    for name, data in files.items():
        atomic_write(folder / name, data)
    return folder
