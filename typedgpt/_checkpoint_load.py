"""`load_checkpoint`: reading a checkpoint folder back, verifying hashes, the config and
every tensor's shape.

Each file is checked against the SHA-256 that `train_state.json` records, when it records
one. A save that crashed after its commit left a complete `.checkpoint.new`: its files are
read in preference to the folder's own, and the folder is not written to (the next save
finishes moving them). Any problem is a `CheckpointError` that names the file.
"""

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._checkpoint import (
    CHECKPOINT_FILES,
    COMMITTED_DIR,
    CONFIG_FILE,
    MODEL_FILE,
    OPTIMIZER_FILE,
    STATE_FILE,
    TOKENIZER_FILE,
    CheckpointError,
    config_from_dict,
    read_safetensors,
)
from ._config import GPTConfig
from ._gpt import GPT


@dataclass(frozen=True)
class Checkpoint:
    """What `load_checkpoint` read: the model and, when present, the rest."""

    model: GPT
    tokenizer_json: dict[str, Any] | None
    optimizer_arrays: list[np.ndarray] | None
    train_state: dict[str, Any] | None


def _read(folder: Path, name: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if name in (CONFIG_FILE, MODEL_FILE):
            fix = "use a complete checkpoint folder (one with config.json and model.safetensors)"
        else:  # a file train_state.json records
            fix = f"restore {name} from a copy of the folder, or use an earlier checkpoint"
        raise CheckpointError(
            f"checkpoint {folder} has no {name}: it is incomplete; {fix}"
        ) from None
    except OSError as error:  # a folder where the file should be, no permission, ...
        raise CheckpointError(f"cannot read {path}: {error.strerror or error}") from None


def _json(data: bytes, path: Path) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise CheckpointError(f"{path} is corrupt: {error}") from None


# A save that commits while the folder is read can make the read see files of two
# checkpoints; the read is then made again, at most this many times in all.
_ATTEMPTS = 5


def _snapshot(folder: Path) -> list[object]:
    """What a save that commits changes in `folder`: the files it renames into place (an
    inode, a time or a size), and `train_state.json`, which records the hashes of a
    checkpoint's files, in the folder and in `.checkpoint.new`."""
    out: list[object] = []
    for base in (folder, folder / COMMITTED_DIR):
        for name in CHECKPOINT_FILES:
            try:
                stat = (base / name).stat()
                out.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
                if name == STATE_FILE:
                    out.append((base / name).read_bytes())
            except OSError:
                out.append(None)
    return out


def hf_model_type(config: Any) -> str | None:
    """The `model_type` of a Hugging Face `config.json`'s contents (a typedgpt checkpoint's
    config has none), else None."""
    model_type = config.get("model_type") if isinstance(config, dict) else None
    return model_type if isinstance(model_type, str) else None


def load_checkpoint(folder: str | Path, *, expect_config: GPTConfig | None = None) -> Checkpoint:
    """Read a checkpoint folder, verifying hashes, the config and every tensor's shape.

    `expect_config`, when given, must equal the folder's config (resuming a run with another
    architecture is an error naming the fields that differ). A save that crashed after its
    commit is read from its `.checkpoint.new`; the folder is not written to.

    **Returns:** a record with `model` (the `GPT`), `tokenizer_json` (the dict to pass to
    `tokenizer_from_json`, or `None`), `optimizer_arrays` (a list of NumPy arrays, or
    `None`) and `train_state` (the dict of `train_state.json`, or `None`).

    **Raises:** `CheckpointError` when the folder is missing or a file, a file is missing,
    corrupt or does not match its recorded hash, the folder is a Hugging Face model's (load
    it with `tg.from_pretrained`), the config differs from `expect_config`, or a tensor does
    not fit the config; `TypeError` when `expect_config` is not a
    `GPTConfig`.

    A leading `~` in `folder` is expanded to the home folder. A checkpoint that another
    process saves while it is read (a training run's, say) is read again once that save
    has committed, so the result is one checkpoint, the old or the new, never a mix.
    """
    if expect_config is not None and not isinstance(expect_config, GPTConfig):
        raise TypeError(
            f"expect_config must be a tg.GPTConfig or None, got {type(expect_config).__qualname__}"
        )
    folder = Path(folder).expanduser()
    for attempt in range(1, _ATTEMPTS + 1):
        before = _snapshot(folder)
        try:
            checkpoint = _load(folder, expect_config)
        except CheckpointError as error:
            if _snapshot(folder) == before:
                raise
            if attempt == _ATTEMPTS:
                raise CheckpointError(
                    f"{error} (another process saved into {folder} while it was read, "
                    f"{_ATTEMPTS} times: load it again once those saves pause)"
                ) from None
        else:
            if attempt == _ATTEMPTS or _snapshot(folder) == before:
                return checkpoint
        time.sleep(0.01 * attempt)  # a save moves its files within moments of its commit
    raise AssertionError("unreachable")


def _load(folder: Path, expect_config: GPTConfig | None) -> Checkpoint:
    """`load_checkpoint`'s one attempt."""
    if folder.is_file():
        hint = f" ({folder.parent})" if folder.name in (CONFIG_FILE, MODEL_FILE, STATE_FILE) else ""
        raise CheckpointError(
            f"{folder} is a file, not a checkpoint folder: pass the folder that holds "
            f"config.json and model.safetensors{hint}"
        )
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder {folder} does not exist: check the path")
    committed = folder / COMMITTED_DIR
    overlay = (committed / STATE_FILE).exists()

    def path(name: str) -> Path:
        """Where the latest checkpoint's `name` is: its committed copy while one is left."""
        return committed / name if overlay and (committed / name).exists() else folder / name

    state: dict[str, Any] | None = None
    hashes: dict[str, str] | None = None
    state_path = path(STATE_FILE)
    if overlay or state_path.exists():  # a committed one moved meanwhile: an error, read again
        state = _json(_read(folder, STATE_FILE, state_path), state_path)
        if not isinstance(state, dict):
            raise CheckpointError(f"{state_path} is corrupt: expected a JSON object")
        if "files" in state:
            hashes = state["files"]
            if not isinstance(hashes, dict) or not all(
                isinstance(value, str) for value in hashes.values()
            ):
                raise CheckpointError(
                    f"{state_path} is corrupt: its 'files' field must map file names to "
                    "SHA-256 hashes"
                )

    def read_verified(name: str) -> bytes:
        data = _read(folder, name, path(name))
        if hashes is not None and name in hashes:
            if hashlib.sha256(data).hexdigest() != hashes[name]:
                raise CheckpointError(
                    f"{path(name)} does not match the hash recorded in {STATE_FILE}: the file "
                    "is truncated or corrupt; restore it or use an earlier checkpoint"
                )
        return data

    def has(name: str) -> bool:
        """Whether the checkpoint holds an optional file: its hash is recorded, if any are."""
        return name in hashes if hashes is not None else path(name).exists()

    config_data = _json(read_verified(CONFIG_FILE), path(CONFIG_FILE))
    model_type = hf_model_type(config_data)
    if model_type is not None:
        raise CheckpointError(
            f"{folder} is a Hugging Face folder (its config.json has model_type "
            f"{model_type!r}), not a typedgpt checkpoint: load it with "
            f"tg.from_pretrained({str(folder)!r})"
        )
    config = config_from_dict(config_data, source=str(path(CONFIG_FILE)))
    if expect_config is not None and config != expect_config:
        differ = [
            f"{f.name}: checkpoint {getattr(config, f.name)!r}, "
            f"requested {getattr(expect_config, f.name)!r}"
            for f in dataclasses.fields(GPTConfig)
            if getattr(config, f.name) != getattr(expect_config, f.name)
        ]
        raise CheckpointError(
            f"checkpoint {folder} was made with another config ({'; '.join(differ)}): "
            "resume with the same model settings, or start a new run in another folder"
        )
    try:
        tensors = read_safetensors(read_verified(MODEL_FILE))
    except CheckpointError:
        raise
    except Exception as error:
        raise CheckpointError(f"{path(MODEL_FILE)} is corrupt: {error}") from None
    try:
        model = GPT.from_state_dict(config, tensors)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{path(MODEL_FILE)} does not fit its config: {error}") from None
    tokenizer_json = None
    if has(TOKENIZER_FILE):
        tokenizer_json = _json(read_verified(TOKENIZER_FILE), path(TOKENIZER_FILE))
    optimizer_arrays = None
    if has(OPTIMIZER_FILE):
        try:
            arrays = read_safetensors(read_verified(OPTIMIZER_FILE))
        except CheckpointError:
            raise
        except Exception as error:
            raise CheckpointError(f"{path(OPTIMIZER_FILE)} is corrupt: {error}") from None
        optimizer_arrays = [arrays[name] for name in sorted(arrays)]
    return Checkpoint(model, tokenizer_json, optimizer_arrays, state)
