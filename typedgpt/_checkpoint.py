"""Checkpoints: a folder of `config.json`, `model.safetensors` and, when training, more.

A checkpoint folder holds:

- `config.json`: the `GPTConfig`;
- `model.safetensors`: `GPT.state_dict()` (GPT-2 names and layouts);
- `tokenizer.json`: the tokenizer, when there is one;
- `optimizer.safetensors`: the optimizer state's arrays, when training;
- `train_state.json`: the step, PRNG key, data position and metrics of a training run, plus
  the SHA-256 of every other file, written last so a checkpoint is complete only once it is.

The checkpoint as a whole is written atomically, so a crash at any moment leaves the previous
checkpoint or the new one, never a mix. `save_checkpoint` writes every file into a staging
folder `.checkpoint.tmp` inside the checkpoint folder (each file flushed and fsynced), then
renames it to `.checkpoint.new`: that rename is the commit. It then moves the files into the
folder one by one, `train_state.json` last, and removes `.checkpoint.new`. A crash before the
commit leaves the old checkpoint untouched (the next save discards the staging folder); a
crash after it leaves a complete `.checkpoint.new`, which `load_checkpoint` reads in
preference to the folder's own files and the next save finishes moving. Never pickle:
safetensors and JSON only.
"""

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import safetensors
import safetensors.numpy

from ._config import GPTConfig
from ._gpt import GPT

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TOKENIZER_FILE = "tokenizer.json"
STATE_FILE = "train_state.json"
STAGING_DIR = ".checkpoint.tmp"
COMMITTED_DIR = ".checkpoint.new"
_OPTIONAL_FILES = (TOKENIZER_FILE, OPTIMIZER_FILE)

# safetensors' own parser (it has no annotations): bytes to [(name, {dtype, shape, data})].
_deserialize: Callable[[bytes], list[tuple[str, dict[str, Any]]]] = safetensors.deserialize
_SAFETENSORS_DTYPES: dict[str, Any] = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": jnp.bfloat16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


class UnreadableSafetensors(ValueError):
    """Bytes that are not a safetensors file: truncated or corrupt."""


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of a safetensors file's bytes, bfloat16 included, which NumPy has no
    dtype of its own for (`safetensors.numpy` cannot read it). Raises
    `UnreadableSafetensors`, or `ValueError` for a dtype typedgpt cannot load."""
    try:
        entries = _deserialize(data)
    except Exception as error:
        raise UnreadableSafetensors(str(error)) from None
    out: dict[str, np.ndarray] = {}
    for name, entry in entries:
        dtype = _SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"{name} has dtype {entry['dtype']}, which typedgpt cannot load")
        array = np.frombuffer(entry["data"], dtype=np.dtype(dtype).newbyteorder("<"))
        out[name] = array.reshape(entry["shape"])
    return out


class CheckpointError(ValueError):
    """A checkpoint folder that is missing, incomplete, corrupt or made for another config.

    A subclass of `ValueError`; `load_checkpoint` and `train(resume=True)` raise it.
    """


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    """Make the renames in a folder durable."""
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def config_to_dict(config: GPTConfig) -> dict[str, Any]:
    """The config as plain JSON data."""
    return dataclasses.asdict(config)


def config_from_dict(data: Any, *, source: str = "config") -> GPTConfig:
    """A `GPTConfig` from JSON data, with errors that name the source."""
    if not isinstance(data, dict):
        raise CheckpointError(f"{source}: expected a JSON object of GPTConfig fields")
    known = {f.name for f in dataclasses.fields(GPTConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CheckpointError(f"{source}: unknown GPTConfig fields {unknown}")
    try:
        return GPTConfig(**data)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: {error}") from error


@dataclass(frozen=True)
class Checkpoint:
    """What `load_checkpoint` read: the model and, when present, the rest."""

    model: GPT
    tokenizer_json: dict[str, Any] | None
    optimizer_arrays: list[np.ndarray] | None
    train_state: dict[str, Any] | None


def save_checkpoint(
    folder: str | Path,
    model: GPT,
    *,
    tokenizer_json: dict[str, Any] | None = None,
    optimizer_arrays: list[np.ndarray] | None = None,
    train_state: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint folder atomically: a crash leaves the old checkpoint or the new one.

    **Arguments:**

    - `folder`: the checkpoint folder, created if needed; an earlier checkpoint in it is
      replaced.
    - `model`: the `GPT`, written as `config.json` and `model.safetensors`.
    - `tokenizer_json`: `tokenizer.to_json()`, written as `tokenizer.json`.
    - `optimizer_arrays`: arrays of an optimizer state, written as `optimizer.safetensors`
      in order.
    - `train_state`: JSON-ready data written to `train_state.json` (with a `"files"` entry
      added).

    `train_state.json` records every other file's SHA-256. Files of an earlier checkpoint
    that this one lacks (`tokenizer.json`, `optimizer.safetensors`) are removed. Raises
    `NotADirectoryError` when `folder` is a file, and `TypeError` when `tokenizer_json` is
    not a dict.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"{folder} is a file, not a folder: name a folder for the checkpoint"
        )
    if tokenizer_json is not None and not isinstance(tokenizer_json, dict):
        raise TypeError(
            "tokenizer_json must be the dict that tokenizer.to_json() returns, got "
            f"{type(tokenizer_json).__name__}: pass tokenizer_json=tokenizer.to_json()"
        )
    files: dict[str, bytes] = {
        CONFIG_FILE: _json_bytes(config_to_dict(model.config)),
        MODEL_FILE: safetensors.numpy.save(model.state_dict()),
    }
    if tokenizer_json is not None:
        files[TOKENIZER_FILE] = _json_bytes(tokenizer_json)
    if optimizer_arrays is not None:
        arrays = {f"{i:05d}": np.asarray(a, order="C") for i, a in enumerate(optimizer_arrays)}
        files[OPTIMIZER_FILE] = safetensors.numpy.save(arrays)
    state = dict(train_state or {})
    state["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    files[STATE_FILE] = _json_bytes(state)
    folder.mkdir(parents=True, exist_ok=True)
    _finish_commit(folder)  # a save that died after its commit: its checkpoint is the latest
    staging = folder / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)  # a save that died before its commit
    try:
        staging.mkdir()
        for name, data in files.items():
            atomic_write(staging / name, data)
        os.rename(staging, folder / COMMITTED_DIR)  # the commit
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(folder)
    _finish_commit(folder)


def _finish_commit(folder: Path) -> None:
    """Move a committed checkpoint's files from `.checkpoint.new` into `folder`.

    `train_state.json` moves last, after stale optional files are removed, so until it has
    moved `.checkpoint.new` still holds it and `load_checkpoint` reads the new checkpoint.
    """
    committed = folder / COMMITTED_DIR
    if not committed.is_dir():
        return
    if (committed / STATE_FILE).exists():
        names = _recorded_files(committed / STATE_FILE)
        for name in (CONFIG_FILE, MODEL_FILE, *_OPTIONAL_FILES):
            if (committed / name).exists():
                os.replace(committed / name, folder / name)
            elif name in _OPTIONAL_FILES and names is not None and name not in names:
                (folder / name).unlink(missing_ok=True)
        _fsync_dir(folder)
        os.replace(committed / STATE_FILE, folder / STATE_FILE)
        _fsync_dir(folder)
    shutil.rmtree(committed)
    _fsync_dir(folder)


def _recorded_files(state_path: Path) -> set[str] | None:
    """The names whose hashes a committed `train_state.json` records; None if unreadable."""
    try:
        files = json.loads(state_path.read_bytes()).get("files")
    except (ValueError, AttributeError):
        return None
    return set(files) if isinstance(files, dict) else None


def holds_checkpoint(folder: str | Path) -> bool:
    """Whether `folder` holds a training checkpoint (a `train_state.json`, committed or moved)."""
    folder = Path(folder)
    return (folder / STATE_FILE).exists() or (folder / COMMITTED_DIR / STATE_FILE).exists()


def _read(folder: Path, name: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(
            f"checkpoint {folder} has no {name}: it is incomplete; use a complete checkpoint "
            "folder (one with config.json and model.safetensors)"
        ) from None


def load_checkpoint(folder: str | Path, *, expect_config: GPTConfig | None = None) -> Checkpoint:
    """Read a checkpoint folder, verifying hashes, the config and every tensor's shape.

    `expect_config`, when given, must equal the folder's config (resuming a run with another
    architecture is an error naming the fields that differ). A save that crashed after its
    commit is read from its `.checkpoint.new`; the folder is not written to.

    **Returns:** a record with `model` (the `GPT`), `tokenizer_json` (the dict to pass to
    `tokenizer_from_json`, or `None`), `optimizer_arrays` (a list of NumPy arrays, or
    `None`) and `train_state` (the dict of `train_state.json`, or `None`).

    **Raises:** `CheckpointError` when the folder is missing or a file, a file is missing,
    corrupt or does not match its recorded hash, the config differs from `expect_config`,
    or a tensor does not fit the config.
    """
    folder = Path(folder)
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
    if state_path.exists():
        try:
            state = json.loads(_read(folder, STATE_FILE, state_path))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{state_path} is corrupt: {error}") from None
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

    try:
        config_data = json.loads(read_verified(CONFIG_FILE))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path(CONFIG_FILE)} is corrupt: {error}") from None
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
        try:
            tokenizer_json = json.loads(read_verified(TOKENIZER_FILE))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{path(TOKENIZER_FILE)} is corrupt: {error}") from None
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
