"""The files of a Hugging Face GPT-2 folder: where the folder is, and reading its weights.

A Hugging Face GPT-2 folder holds `config.json` (a `GPT2Config`), the weights
(`model.safetensors`, shards listed in `model.safetensors.index.json`, or the older pickled
`pytorch_model.bin`, or its shards listed in `pytorch_model.bin.index.json`) and the
tokenizer (`tokenizer.json`, or `vocab.json` plus `merges.txt`).

- A name such as `gpt2` is looked up in the local Hugging Face cache only; nothing here
  touches the network.
- The weights are read without pickle (safetensors; `pytorch_model.bin` only through
  `torch.load(weights_only=True)`).
- The tokens added to a vocabulary are read from `tokenizer_config.json` and
  `added_tokens.json`, as transformers reads them.
"""

import functools
import json
import os
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tokenizers

from ._checkpoint import UnreadableSafetensors, read_safetensors
from ._state_dict import to_numpy

CONFIG_FILE = "config.json"
GENERATION_CONFIG_FILE = "generation_config.json"
SAFETENSORS_FILE = "model.safetensors"
SAFETENSORS_INDEX_FILE = "model.safetensors.index.json"
PYTORCH_FILE = "pytorch_model.bin"
PYTORCH_INDEX_FILE = "pytorch_model.bin.index.json"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
ADDED_TOKENS_FILE = "added_tokens.json"
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
            fix = (
                f": save the dict under {name!r} itself (torch.save(checkpoint[{name!r}], ...))"
                if isinstance(tensor, Mapping)
                else ""
            )
            raise ValueError(
                f"{path}: {name} is a {type(tensor).__name__}, not a tensor; typedgpt reads "
                f"a flat state dict of tensors{fix}"
            )
        out[name] = to_numpy(tensor)
    return out


def _check_link(path: Path) -> None:
    """Raise if `path` is a link to nothing, as the cache holds after a broken download."""
    if path.is_symlink() and not path.exists():
        raise FileNotFoundError(
            f"{path} is a link to {os.readlink(path)}, which does not exist (an interrupted "
            "download?): download it again"
        )


def _read_shards(
    index: Path, read: Callable[[Path], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Every tensor of the shards that `index` (a `*.index.json` of Hugging Face) lists."""
    folder = index.parent
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        shards = sorted(set(weight_map.values()))
        if not all(isinstance(shard, str) and Path(shard).name == shard for shard in shards):
            raise ValueError("a shard is not the name of a file in the folder")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{index} is not a valid index of weight shards ({error!r}): download it again"
        ) from None
    tensors: dict[str, np.ndarray] = {}
    for shard in shards:
        _check_link(folder / shard)
        if not (folder / shard).is_file():
            raise FileNotFoundError(
                f"{index} lists the shard {shard}, which {folder} lacks: download it"
            )
        tensors |= read(folder / shard)
    return tensors


def read_weights(folder: Path) -> tuple[dict[str, np.ndarray], Path]:
    """Every tensor of a Hugging Face folder's weights, and the file they came from, the
    first found of: `model.safetensors`, the shards of `model.safetensors.index.json`,
    `pytorch_model.bin`, the shards of `pytorch_model.bin.index.json`."""
    files = (
        (SAFETENSORS_FILE, _read_safetensors),
        (SAFETENSORS_INDEX_FILE, functools.partial(_read_shards, read=_read_safetensors)),
        (PYTORCH_FILE, _read_pytorch),
        (PYTORCH_INDEX_FILE, functools.partial(_read_shards, read=_read_pytorch)),
    )
    for name, _ in files:
        _check_link(folder / name)
    for name, read in files:
        if (folder / name).is_file():
            return read(folder / name), folder / name
    present = sorted(p.name for p in folder.iterdir())
    raise FileNotFoundError(
        f"{folder} has no weights: expected {SAFETENSORS_FILE} (or {SAFETENSORS_INDEX_FILE}, "
        f"{PYTORCH_FILE} or {PYTORCH_INDEX_FILE}) next to {CONFIG_FILE}, found "
        f"{present or 'nothing'}: download {SAFETENSORS_FILE} into it"
    )


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


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def tokenizer_class(folder: Path, settings: Mapping[str, Any]) -> Any:
    """The tokenizer class transformers' `AutoTokenizer` picks: `tokenizer_config.json`'s
    (`settings`), else GPT-2's when `config.json`'s `model_type` is `gpt2`."""
    if settings.get("tokenizer_class") is not None or not (folder / CONFIG_FILE).is_file():
        return settings.get("tokenizer_class")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except ValueError:  # from_pretrained of the model names the file
        return None
    return (
        "GPT2Tokenizer" if isinstance(config, dict) and config.get("model_type") == "gpt2" else None
    )


def added_tokens_decoder(tokenizer: tokenizers.Tokenizer) -> dict[str, dict[str, Any]]:
    """The `added_tokens_decoder` of `tokenizer_config.json`, as transformers writes it."""
    flags = ("lstrip", "rstrip", "single_word", "normalized", "special")
    added = sorted(tokenizer.get_added_tokens_decoder().items())
    return {str(i): {"content": t.content} | {f: getattr(t, f) for f in flags} for i, t in added}


def add_listed_tokens(tokenizer: tokenizers.Tokenizer, folder: Path, settings: Any) -> None:
    """Add to `tokenizer` the tokens transformers adds to its vocabulary, at their ids, by
    id: those of `tokenizer_config.json`'s `added_tokens_decoder` (in `settings`, the file's
    JSON), or without it those of `added_tokens.json`, as transformers' GPT-2 tokenizer saved
    them next to `vocab.json` and `merges.txt`. Tokens that `tokenizer` already holds as
    added tokens (as `tokenizer.json` holds them) are left as they are."""
    path = folder / TOKENIZER_CONFIG_FILE
    listed: dict[int, tokenizers.AddedToken] = {}
    try:
        for key, token in (settings.get("added_tokens_decoder") or {}).items():
            flags = ("single_word", "lstrip", "rstrip", "normalized", "special")
            options = {flag: bool(token[flag]) for flag in flags if flag in token}
            if not isinstance(token["content"], str):
                raise TypeError(f"the content of token {key} is not text")
            listed[int(key)] = tokenizers.AddedToken(token["content"], **options)
        path = folder / ADDED_TOKENS_FILE
        legacy = "added_tokens_decoder" not in settings and path.is_file()
        for content, index in (_read_json(path) if legacy else {}).items():
            if isinstance(index, bool) or not isinstance(index, int):
                raise TypeError(f"the id of {content!r} is {index!r}, not an integer")
            listed.setdefault(index, tokenizers.AddedToken(content))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{path} does not map token ids to added tokens ({error!r}): it may be corrupt; "
            "download it again"
        ) from None
    held = {token.content for token in tokenizer.get_added_tokens_decoder().values()}
    for index, token in sorted(listed.items(), key=lambda item: item[0]):
        if token.content in held:
            continue
        (tokenizer.add_special_tokens if token.special else tokenizer.add_tokens)([token])
        if tokenizer.token_to_id(token.content) != index:
            raise ValueError(
                f"{folder}: {TOKENIZER_CONFIG_FILE} or {ADDED_TOKENS_FILE} gives the added "
                f"token {token.content!r} the id {index}, but the vocabulary puts it at "
                f"{tokenizer.token_to_id(token.content)}: the tokenizer's files do not "
                "match; download them again"
            )
