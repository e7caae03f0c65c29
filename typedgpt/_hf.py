"""Hugging Face GPT-2: load a model folder (or a name in the local cache), save one back.

A Hugging Face GPT-2 folder holds `config.json` (a `GPT2Config`), the weights
(`model.safetensors`, shards listed in `model.safetensors.index.json`, or the older pickled
`pytorch_model.bin`) and the tokenizer (`tokenizer.json`, or `vocab.json` plus `merges.txt`).

- `from_pretrained` maps the config onto `GPTConfig.gpt2`, refusing what typedgpt cannot
  build, reads the weights without pickle (safetensors; `pytorch_model.bin` only through
  `torch.load(weights_only=True)`), drops the `transformer.` prefix, the attention-mask
  buffers and a tied `lm_head.weight`, then builds the model with `GPT.from_state_dict`,
  which checks every tensor's shape against the model's own.
- A name such as `gpt2` is looked up in the local Hugging Face cache only; nothing here
  touches the network.
- `save_pretrained` writes a folder that transformers' `GPT2LMHeadModel.from_pretrained`
  loads, every file atomically.
- `HFTokenizer` puts a `tokenizers` tokenizer behind typedgpt's `Tokenizer` interface, with
  GPT-2's `<|endoftext|>` as the id that opens and closes documents.
"""

import json
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Self, SupportsIndex, final

import jax.numpy as jnp
import numpy as np
import safetensors
import safetensors.numpy
import tokenizers
from jaxtyping import DTypeLike

from ._checkpoint import UnreadableSafetensors, atomic_write, read_safetensors
from ._config import GPTConfig
from ._dtype import compute_dtype
from ._gpt import GPT
from ._state_dict import to_numpy
from ._text import check_text
from ._tokenizer import Tokenizer

CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
PYTORCH_FILE = "pytorch_model.bin"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
VOCAB_FILE, MERGES_FILE = "vocab.json", "merges.txt"
END_OF_TEXT = "<|endoftext|>"
# tokenizer_config.json's names of transformers' GPT-2 tokenizer, which builds its own
# byte-level pre-tokenizer with add_prefix_space false unless the file says otherwise.
_GPT2_TOKENIZERS = ("GPT2Tokenizer", "GPT2TokenizerFast")

# GPT-2's activations that are GELU with the tanh approximation, typedgpt's "gelu_tanh".
_GELU_TANH = ("gelu_new", "gelu_pytorch_tanh")
# GPT2Config switches that change the maths, with the value typedgpt's GPT-2 implements.
_FIXED = {
    "scale_attn_weights": True,
    "scale_attn_by_inverse_layer_idx": False,
    "reorder_and_upcast_attn": False,
    "add_cross_attention": False,
}
# The attention-mask buffers older GPT-2 checkpoints store next to the parameters.
_BUFFER = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def _download_hint(name: str, revision: str) -> str:
    option = "" if revision == "main" else f" --revision {revision}"
    return (
        f"download it with `hf download {name} {CONFIG_FILE} {SAFETENSORS_FILE} "
        f"{TOKENIZER_FILE}{option}` (older huggingface_hub: `huggingface-cli download` with the "
        "same arguments), or pass the path of a folder that holds config.json and "
        "model.safetensors"
    )


def hub_cache() -> Path:
    """The local Hugging Face hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
    `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def resolve_pretrained(path_or_name: str | os.PathLike[str], *, revision: str = "main") -> Path:
    """The folder `path_or_name` names: a folder as given, or a Hugging Face model id
    (`gpt2`, `openai-community/gpt2`) looked up in the local cache (`hub_cache()`), at the
    revision `refs/<revision>` records (or a snapshot named `revision`). Never downloads.
    """
    path = Path(path_or_name).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise NotADirectoryError(
            f"{path} is a file: pass the folder that holds config.json and the weights"
        )
    name = os.fspath(path_or_name)
    if not _REPO_ID.fullmatch(name):
        raise FileNotFoundError(
            f"no folder at {path}: check the path, or pass a Hugging Face model name such "
            "as gpt2 that is in the local cache"
        )
    parts = revision.split("/")
    if not all(re.fullmatch(r"[\w.-]+", part) and set(part) != {"."} for part in parts):
        raise ValueError(
            f"revision {revision!r} is not a branch, tag or commit name: pass one such as "
            "'main', 'v1.0', 'refs/pr/1' or a commit hash"
        )
    cache = hub_cache()
    repo = cache / ("models--" + name.replace("/", "--"))
    ref = repo / "refs" / revision
    commit = ref.read_text(encoding="utf-8").strip() if ref.is_file() else revision
    snapshot = repo / "snapshots" / commit
    if snapshot.is_dir():
        return snapshot
    where = (
        f"has no snapshot {commit} of it"
        if repo.is_dir()
        else f"has no {name} (looked for {repo.name})"
    )
    raise FileNotFoundError(
        f"{name!r} is not a folder, and the Hugging Face cache at {cache} {where}: "
        f"{_download_hint(name, revision)}"
    )


def config_from_hf(data: Any, *, source: str = CONFIG_FILE) -> GPTConfig:
    """The `GPTConfig` of a Hugging Face `GPT2Config` (the JSON of `config.json`).

    Raises `ValueError` naming the field for a config typedgpt cannot build: a `model_type`
    other than `gpt2`, an activation other than GELU-tanh, or one of the switches
    `scale_attn_weights=false`, `scale_attn_by_inverse_layer_idx`,
    `reorder_and_upcast_attn`, `add_cross_attention`.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: expected a JSON object of GPT2Config fields")
    model_type = data.get("model_type")
    if model_type != "gpt2":
        raise ValueError(
            f"{source}: model_type is {model_type!r}, but typedgpt loads GPT-2 models only "
            "(model_type 'gpt2')"
        )
    activation = data.get("activation_function", "gelu_new")
    if activation not in _GELU_TANH:
        raise ValueError(
            f"{source}: activation_function is {activation!r}, but typedgpt's GPT-2 has GELU "
            f"with the tanh approximation only ({' or '.join(map(repr, _GELU_TANH))})"
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
        raise ValueError(f"{source} describes a model typedgpt cannot build: {error}") from None


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
        "bos_token_id": eos_id,
        "eos_token_id": eos_id,
        "use_cache": True,
    }


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    try:
        return read_safetensors(path.read_bytes())
    except UnreadableSafetensors as error:
        raise ValueError(
            f"{path} is not a valid safetensors file ({error}): it may be truncated or "
            "corrupt; download it again"
        ) from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _read_pytorch(path: Path) -> dict[str, np.ndarray]:
    """The arrays of `pytorch_model.bin`, a pickle: only `torch.load(weights_only=True)`
    reads it, which refuses anything but tensors and plain containers."""
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{path} is a PyTorch pickle, which typedgpt reads only through "
            "torch.load(weights_only=True), and torch is not installed: pip install torch, "
            "or use a folder with model.safetensors"
        ) from None
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "weights only" not in str(error).lower():
            raise ValueError(
                f"{path} could not be read by torch.load(weights_only=True) ({error}): it "
                "may be truncated or corrupt; download it again"
            ) from None
        raise ValueError(
            f"{path} holds Python objects besides tensors (a whole pickled model, say, not "
            "its state_dict()), and typedgpt does not unpickle objects: save the model's "
            "state_dict() with torch.save, or its weights as model.safetensors"
        ) from None
    except Exception as error:
        raise ValueError(
            f"{path} could not be read by torch.load(weights_only=True) ({error}): it may be "
            "truncated or corrupt; download it again"
        ) from None
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path} holds a {type(loaded).__name__}, not a state dict of tensors")
    out: dict[str, np.ndarray] = {}
    for name, tensor in loaded.items():
        if not isinstance(tensor, torch.Tensor):
            raise ValueError(f"{path}: {name} is a {type(tensor).__name__}, not a tensor")
        out[name] = to_numpy(tensor)
    return out


def _check_link(path: Path) -> None:
    """Raise if `path` is a link to nothing, as the cache holds after a broken download."""
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(
            f"{path} is a link to {os.readlink(path)}, which does not exist (an interrupted "
            "download?): download it again"
        )


def read_weights(folder: Path) -> tuple[dict[str, np.ndarray], Path]:
    """Every tensor of a Hugging Face folder's weights, and the file they came from:
    `model.safetensors`, else the shards of `model.safetensors.index.json`, else
    `pytorch_model.bin`."""
    for name in (SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE, PYTORCH_FILE):
        _check_link(folder / name)
    single = folder / SAFETENSORS_FILE
    if single.is_file():
        return _read_safetensors(single), single
    index = folder / SAFETENSORS_INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            shards = sorted(set(weight_map.values()))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(
                f"{index} is not a valid index of safetensors shards ({error!r}): download it again"
            ) from None
        tensors: dict[str, np.ndarray] = {}
        for shard in shards:
            _check_link(folder / shard)
            if not (folder / shard).is_file():
                raise FileNotFoundError(
                    f"{index} lists the shard {shard}, which {folder} lacks: download it"
                )
            tensors |= _read_safetensors(folder / shard)
        return tensors, index
    if (folder / PYTORCH_FILE).is_file():
        return _read_pytorch(folder / PYTORCH_FILE), folder / PYTORCH_FILE
    present = sorted(p.name for p in folder.iterdir())
    raise FileNotFoundError(
        f"{folder} has no weights: expected {SAFETENSORS_FILE} (or {SAFETENSORS_INDEX_FILE} "
        f"or {PYTORCH_FILE}) next to {CONFIG_FILE}, found {present or 'nothing'}: download "
        f"{SAFETENSORS_FILE} into it"
    )


def gpt2_names(
    tensors: Mapping[str, np.ndarray], config: GPTConfig, *, source: str
) -> dict[str, np.ndarray]:
    """The tensors under typedgpt's state-dict names: without the `transformer.` prefix
    (`GPT2LMHeadModel`'s), without the attention-mask buffers, and without `lm_head.weight`
    when the head is tied to `wte.weight` (which it must then equal)."""
    out: dict[str, np.ndarray] = {}
    for name, array in tensors.items():
        short = name.removeprefix("transformer.")
        if _BUFFER.fullmatch(short):
            continue
        if short in out:
            raise ValueError(f"{source} holds {short} twice, with and without 'transformer.'")
        out[short] = array
    head = out.get("lm_head.weight")
    if config.tie_embeddings and head is not None:
        embedding = out.get("wte.weight")
        if embedding is not None and not np.array_equal(head, embedding):
            raise ValueError(
                f"{source}: config.json has tie_word_embeddings=true, but lm_head.weight differs "
                "from wte.weight: set tie_word_embeddings to false for an untied head"
            )
        del out["lm_head.weight"]
    return out


def _read_json(path: Path) -> Any:
    _check_link(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path.parent} has no {path.name}: it is not a complete Hugging Face model folder"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON ({error}): it may be corrupt") from None


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
      or float16; `None` keeps the file's.
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
    config = config_from_hf(_read_json(folder / CONFIG_FILE), source=str(folder / CONFIG_FILE))
    tensors, source = read_weights(folder)
    tensors = gpt2_names(tensors, config, source=str(source))
    if dtype is not None:
        tensors = {
            name: array.astype(dtype) if jnp.issubdtype(array.dtype, jnp.floating) else array
            for name, array in tensors.items()
        }
    try:
        return GPT.from_state_dict(config, tensors)
    except (KeyError, ValueError, TypeError) as error:
        message = error.args[0] if error.args else str(error)
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
    `lm_head.weight` when the head is untied), and, with a tokenizer, `tokenizer.json` and
    `tokenizer_config.json`. transformers' `GPT2LMHeadModel.from_pretrained(path)` and
    `AutoTokenizer.from_pretrained(path)` load the folder. Every file is written atomically.

    `bos_token_id` and `eos_token_id` are the tokenizer's `bos_id`; without a tokenizer,
    GPT-2's `<|endoftext|>` (50256) when `vocab_size` is GPT-2's 50257, else unset.

    **Arguments:**

    - `model`: a `GPT` with a GPT-2 architecture (LayerNorm with gain and bias, GELU-tanh
      in a standard MLP, biases, learned positions, multi-head attention, a final norm and
      no embedding norm); others raise `ValueError` naming the field.
    - `path`: the folder, created if needed. A folder that is not empty is refused unless
      `overwrite=True` and it already holds a `config.json` (a model folder); then the files
      above are replaced and any others are left as they are.
    - `tokenizer`: an `HFTokenizer` to save alongside, or `None`; one with more ids than
      the model's `vocab_size` raises `ValueError`.
    - `overwrite`: replace the model files of an existing model folder.

    **Returns:** the folder, as a `Path`.

    **Raises:** `TypeError` when `model` is not a `GPT` or `tokenizer` not an
    `HFTokenizer`; `NotADirectoryError` when `path` is a file; `FileExistsError` for a
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
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{folder} is not empty: choose a new or empty folder, or pass overwrite=True "
                "to replace the model files of a model folder"
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
    files = {
        SAFETENSORS_FILE: safetensors.numpy.save(tensors, metadata={"format": "pt"}),
        CONFIG_FILE: _json_bytes(hf_config),
    }
    if tokenizer is not None:
        files |= tokenizer.files(model_max_length=config.max_seq_len)
    for name, data in files.items():
        atomic_write(folder / name, data)
    return folder


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


@final
class HFTokenizer(Tokenizer):
    """A Hugging Face `tokenizers` tokenizer, such as GPT-2's byte-level BPE, behind
    typedgpt's `Tokenizer` interface.

    GPT-2 has no BOS of microgpt's kind: `<|endoftext|>` separates documents, so it is
    `bos_id` here (the id that opens and closes documents, and where sampling stops), and
    `decode` skips it. `encode` adds no special tokens.

    **Arguments:**

    - `tokenizer`: a `tokenizers.Tokenizer`.
    - `bos_token`: the token that separates documents, `<|endoftext|>` by default; it must
      be in the vocabulary, else `ValueError`.

    A `tokenizer` that is not a `tokenizers.Tokenizer` raises `TypeError`.
    """

    def __init__(self, tokenizer: tokenizers.Tokenizer, *, bos_token: str = END_OF_TEXT) -> None:
        if not isinstance(tokenizer, tokenizers.Tokenizer):
            raise TypeError(
                f"HFTokenizer wraps a tokenizers.Tokenizer, got {type(tokenizer).__qualname__}"
            )
        bos_id = tokenizer.token_to_id(bos_token)
        if bos_id is None:
            raise ValueError(
                f"the tokenizer has no token {bos_token!r} to open and close documents: pass "
                "bos_token=<a token of its vocabulary>"
            )
        self._tokenizer = tokenizer
        self._bos_token = bos_token
        self._bos_id: int = bos_id

    @classmethod
    def from_pretrained(
        cls, path_or_name: str | os.PathLike[str], *, revision: str = "main"
    ) -> Self:
        """The tokenizer of a Hugging Face folder (or a name in the local cache, as
        `from_pretrained`): `tokenizer.json`, else GPT-2's `vocab.json` and `merges.txt`,
        with the settings of `tokenizer_config.json` that transformers applies to it.

        - With `vocab.json` and `merges.txt` it is built as transformers builds GPT-2's: a
          byte-level BPE.
        - `add_prefix_space` from `tokenizer_config.json` is applied to the byte-level
          pre-tokenizer; when it is absent and the class is GPT-2's (`GPT2Tokenizer`),
          it is false, as transformers' GPT-2 tokenizer makes it.
        - The `eos_token` (`<|endoftext|>` by default) is a special token, so that it is
          one id wherever it is in a text, and the `bos_token`.

        `revision` is as for `from_pretrained`. Raises `FileNotFoundError` when the folder,
        or a tokenizer in it, is missing, and `ValueError` for corrupt or unusable files.
        """
        folder = resolve_pretrained(path_or_name, revision=revision)
        settings = folder / TOKENIZER_CONFIG_FILE
        data = _read_json(settings) if settings.is_file() else {}
        if not isinstance(data, dict):
            raise ValueError(f"{settings} is not a JSON object: it may be corrupt")
        bos_token = data.get("eos_token", END_OF_TEXT)
        if isinstance(bos_token, dict):  # an AddedToken, as older transformers saved them
            bos_token = bos_token.get("content")
        if not isinstance(bos_token, str):
            raise ValueError(f"{settings}: eos_token is {bos_token!r}, not a token's text")
        prefix_space = data.get("add_prefix_space")
        if prefix_space is None and data.get("tokenizer_class") in _GPT2_TOKENIZERS:
            prefix_space = False
        if prefix_space is not None and not isinstance(prefix_space, bool):
            raise ValueError(f"{settings}: add_prefix_space is {prefix_space!r}, not true or false")
        if (folder / TOKENIZER_FILE).is_file():
            try:
                tokenizer = tokenizers.Tokenizer.from_file(str(folder / TOKENIZER_FILE))
            except Exception as error:
                raise ValueError(
                    f"{folder / TOKENIZER_FILE} is not a valid tokenizer file ({error}): it "
                    "may be truncated or corrupt; download it again"
                ) from None
        else:
            vocab, merges = folder / VOCAB_FILE, folder / MERGES_FILE
            if not (vocab.is_file() and merges.is_file()):
                raise FileNotFoundError(
                    f"{folder} has no tokenizer: expected {TOKENIZER_FILE}, or {VOCAB_FILE} "
                    f"and {MERGES_FILE}; download them into it"
                )
            try:
                bpe = tokenizers.models.BPE.from_file(str(vocab), str(merges))
            except Exception as error:
                raise ValueError(
                    f"{vocab} and {merges} are not a valid BPE vocabulary ({error}): they may "
                    "be truncated or corrupt; download them again"
                ) from None
            tokenizer = tokenizers.Tokenizer(bpe)
            tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel()
            tokenizer.decoder = tokenizers.decoders.ByteLevel()
            prefix_space = bool(prefix_space)
        byte_level = tokenizer.pre_tokenizer
        if prefix_space is not None and isinstance(byte_level, tokenizers.pre_tokenizers.ByteLevel):
            byte_level.add_prefix_space = prefix_space
        added = {token.content for token in tokenizer.get_added_tokens_decoder().values()}
        if bos_token not in added and tokenizer.token_to_id(bos_token) is not None:
            tokenizer.add_special_tokens([tokenizers.AddedToken(bos_token, special=True)])
        return cls(tokenizer, bos_token=bos_token)

    @property
    def tokenizer(self) -> tokenizers.Tokenizer:
        """The wrapped `tokenizers.Tokenizer`."""
        return self._tokenizer

    @property
    def bos_token(self) -> str:
        """The text of the token that opens and closes documents (`<|endoftext|>`)."""
        return self._bos_token

    @property
    def bos_id(self) -> int:
        """The id of `bos_token`, which opens and closes documents."""
        return self._bos_id

    @property
    def vocab_size(self) -> int:
        """How many ids there are, added tokens (such as `<|endoftext|>`) included."""
        return self._tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        """The ids of `text`, without special tokens added (GPT-2 adds none).

        Raises `TypeError` for what is not a `str`, and `ValueError` for text holding a
        surrogate code point (which has no UTF-8 encoding), naming its position.
        """
        check_text(text)
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Iterable[SupportsIndex]) -> str:
        """The text of `ids`, BOS ids skipped. Raises as `Tokenizer.decode` says."""
        bos = self._bos_id
        kept = [i for i in self._check_ids(ids) if i != bos]
        return self._tokenizer.decode(kept, skip_special_tokens=False)

    def to_json(self) -> dict[str, Any]:
        """`{"kind": "hf", "bos_token": ..., "tokenizer": ...}`, the last the
        `tokenizers` library's own JSON."""
        return {
            "kind": "hf",
            "bos_token": self._bos_token,
            "tokenizer": json.loads(self._tokenizer.to_str()),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """The tokenizer `to_json()` described; `ValueError` when a field is missing or
        invalid."""
        try:
            tokenizer = tokenizers.Tokenizer.from_str(json.dumps(data["tokenizer"]))
            bos_token = data["bos_token"]
        except Exception as error:
            raise ValueError(
                f"an 'hf' tokenizer needs fields 'tokenizer' and 'bos_token' ({error!r})"
            ) from None
        return cls(tokenizer, bos_token=bos_token)

    def files(self, *, model_max_length: int) -> dict[str, bytes]:
        """`tokenizer.json` and `tokenizer_config.json`, as transformers reads them: the
        class is `PreTrainedTokenizerFast`, which takes `tokenizer.json` as it is (GPT-2's
        own class would rebuild it as a byte-level BPE and drop any other setting).
        `model_max_length` is the longest input transformers should allow (the model's
        `max_seq_len`). **Returns:** the bytes of each file, by file name."""
        settings = {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": self._bos_token,
            "eos_token": self._bos_token,
            "unk_token": self._bos_token,
            "model_max_length": model_max_length,
        }
        return {
            TOKENIZER_FILE: self._tokenizer.to_str(pretty=True).encode(),
            TOKENIZER_CONFIG_FILE: _json_bytes(settings),
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HFTokenizer):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self._bos_token, self._tokenizer.to_str()))

    def __repr__(self) -> str:
        return f"HFTokenizer(vocab_size={self.vocab_size}, bos_token={self._bos_token!r})"
