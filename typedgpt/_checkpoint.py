"""Checkpoints: a folder of `config.json`, `model.safetensors` and, when training, more.

A checkpoint folder holds:

- `config.json`: the `GPTConfig`;
- `model.safetensors`: `GPT.state_dict()` (GPT-2 names and layouts);
- `tokenizer.json`: the tokenizer, when there is one;
- `optimizer.safetensors`: the optimizer state's arrays, when training;
- `train_state.json`: the step, PRNG key, data position and metrics of a training run, plus
  the SHA-256 of every other file, written last so a checkpoint is complete only once it is.

Every file is written atomically (a temporary file in the same folder, flushed, fsynced,
then renamed over the old one), so a crash leaves either the old file or the new one. Never
pickle: safetensors and JSON only.
"""

import dataclasses
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.numpy

from ._config import GPTConfig
from ._gpt import GPT

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TOKENIZER_FILE = "tokenizer.json"
STATE_FILE = "train_state.json"


class CheckpointError(ValueError):
    """A checkpoint folder that is missing, incomplete, corrupt or made for another config."""


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
    dir_fd = os.open(path.parent, os.O_RDONLY)
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
    """Write a checkpoint folder; `train_state.json` goes last, with every file's hash."""
    folder = Path(folder)
    files: dict[str, bytes] = {
        CONFIG_FILE: _json_bytes(config_to_dict(model.config)),
        MODEL_FILE: safetensors.numpy.save(model.state_dict()),
    }
    if tokenizer_json is not None:
        files[TOKENIZER_FILE] = _json_bytes(tokenizer_json)
    if optimizer_arrays is not None:
        arrays = {f"{i:05d}": np.asarray(a, order="C") for i, a in enumerate(optimizer_arrays)}
        files[OPTIMIZER_FILE] = safetensors.numpy.save(arrays)
    for name, data in files.items():
        atomic_write(folder / name, data)
    state = dict(train_state or {})
    state["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    atomic_write(folder / STATE_FILE, _json_bytes(state))


def _read(folder: Path, name: str) -> bytes:
    try:
        return (folder / name).read_bytes()
    except FileNotFoundError:
        raise CheckpointError(
            f"checkpoint {folder} has no {name}: it is incomplete; use a complete checkpoint "
            "folder (one with config.json and model.safetensors)"
        ) from None


def load_checkpoint(folder: str | Path, *, expect_config: GPTConfig | None = None) -> Checkpoint:
    """Read a checkpoint folder, verifying hashes, the config and every tensor's shape.

    `expect_config`, when given, must equal the folder's config (resuming a run with another
    architecture is an error naming the fields that differ).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder {folder} does not exist: check the path")
    state: dict[str, Any] | None = None
    if (folder / STATE_FILE).exists():
        try:
            state = json.loads(_read(folder, STATE_FILE))
        except json.JSONDecodeError as error:
            raise CheckpointError(f"{folder / STATE_FILE} is corrupt: {error}") from None
        if not isinstance(state, dict):
            raise CheckpointError(f"{folder / STATE_FILE} is corrupt: expected a JSON object")
    hashes: dict[str, str] = (state or {}).get("files", {})

    def read_verified(name: str) -> bytes:
        data = _read(folder, name)
        if name in hashes and hashlib.sha256(data).hexdigest() != hashes[name]:
            raise CheckpointError(
                f"{folder / name} does not match the hash recorded in {STATE_FILE}: the file "
                "is truncated or corrupt; restore it or use an earlier checkpoint"
            )
        return data

    try:
        config_data = json.loads(read_verified(CONFIG_FILE))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{folder / CONFIG_FILE} is corrupt: {error}") from None
    config = config_from_dict(config_data, source=str(folder / CONFIG_FILE))
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
        tensors = safetensors.numpy.load(read_verified(MODEL_FILE))
    except CheckpointError:
        raise
    except Exception as error:
        raise CheckpointError(f"{folder / MODEL_FILE} is corrupt: {error}") from None
    try:
        model = GPT.from_state_dict(config, tensors)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{folder / MODEL_FILE} does not fit its config: {error}") from None
    tokenizer_json = None
    if (folder / TOKENIZER_FILE).exists():
        try:
            tokenizer_json = json.loads(read_verified(TOKENIZER_FILE))
        except json.JSONDecodeError as error:
            raise CheckpointError(f"{folder / TOKENIZER_FILE} is corrupt: {error}") from None
    optimizer_arrays = None
    if (folder / OPTIMIZER_FILE).exists():
        try:
            arrays = safetensors.numpy.load(read_verified(OPTIMIZER_FILE))
        except CheckpointError:
            raise
        except Exception as error:
            raise CheckpointError(f"{folder / OPTIMIZER_FILE} is corrupt: {error}") from None
        optimizer_arrays = [arrays[name] for name in sorted(arrays)]
    return Checkpoint(model, tokenizer_json, optimizer_arrays, state)
