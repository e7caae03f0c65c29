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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import safetensors
import safetensors.numpy

from ._config import GPTConfig
from ._gpt import GPT
from ._text import write_atomic

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TOKENIZER_FILE = "tokenizer.json"
STATE_FILE = "train_state.json"
STAGING_DIR = ".checkpoint.tmp"
COMMITTED_DIR = ".checkpoint.new"
_OPTIONAL_FILES = (TOKENIZER_FILE, OPTIMIZER_FILE)
# Every file of a checkpoint, `train_state.json` (written last) at the end.
CHECKPOINT_FILES = (CONFIG_FILE, MODEL_FILE, *_OPTIONAL_FILES, STATE_FILE)

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
    "U64": np.uint64,
    "U32": np.uint32,
    "U16": np.uint16,
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
            raise ValueError(
                f"{name} has dtype {entry['dtype']}, which typedgpt cannot load: convert the "
                "weights to float32, bfloat16 or float16 first (in PyTorch: "
                "model.to(torch.float32), then save them again)"
            )
        array = np.frombuffer(entry["data"], dtype=np.dtype(dtype).newbyteorder("<"))
        out[name] = array.reshape(entry["shape"])
    return out


class CheckpointError(ValueError):
    """A checkpoint folder that is missing, incomplete, corrupt or made for another config.

    A subclass of `ValueError`; `load_checkpoint` and `train(resume=True)` raise it.
    """


def atomic_write(path: Path, data: bytes) -> None:
    """`write_atomic`, making `path`'s folder first if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


def _fsync_dir(path: Path) -> None:
    """Make the renames in a folder durable."""
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def _json_file(name: str, argument: str, data: dict[str, Any]) -> bytes:
    """`_json_bytes(data)`, or a `TypeError` naming `argument` for data that JSON cannot
    hold as it is (a NumPy number, bytes, a key that is not a str)."""
    bad_keys = [key for key in data if not isinstance(key, str)]
    if bad_keys:
        raise TypeError(
            f"{argument} has keys that are not str, such as {bad_keys[0]!r}: {name} keys "
            "must be str (JSON would turn them into strings); use str keys"
        )
    try:
        return _json_bytes(data)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{argument} cannot be written as JSON to {name}: {error}; pass plain Python "
            "data (int(x), float(x), x.tolist() for NumPy values)"
        ) from None


def _optimizer_tensors(optimizer_arrays: Any) -> dict[str, np.ndarray]:
    """`optimizer_arrays` named `00000`, `00001`, ..., or a `TypeError` naming the first
    array that a checkpoint cannot hold."""
    if not isinstance(optimizer_arrays, list | tuple):
        raise TypeError(
            "optimizer_arrays must be a list of arrays, got a "
            f"{type(optimizer_arrays).__qualname__}: pass a list, such as "
            "jax.tree_util.tree_leaves(opt_state)"
        )
    loadable = {np.dtype(dtype) for dtype in _SAFETENSORS_DTYPES.values()}
    out = {}
    for i, item in enumerate(optimizer_arrays):
        try:
            array = np.asarray(item, order="C")
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"optimizer_arrays[{i}] is not an array ({type(item).__qualname__}): {error}"
            ) from None
        if array.dtype.newbyteorder("=") not in loadable:
            raise TypeError(
                f"optimizer_arrays[{i}] has dtype {array.dtype}, which a checkpoint cannot "
                "hold: pass float, int, uint or bool arrays"
            )
        out[f"{i:05d}"] = array
    return out


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
    that this one lacks (`tokenizer.json`, `optimizer.safetensors`) are removed. A leading
    `~` in `folder` is expanded to the home folder. Nothing is written when an argument is
    refused: `NotADirectoryError` when `folder` or a parent of it is a file; `TypeError`
    when `model` is not a `GPT`, `tokenizer_json` or `train_state` not a dict of JSON data
    (str keys; lists, numbers, strings, bools, None), or `optimizer_arrays` not a list of
    arrays of a dtype a checkpoint holds (floats, ints, uints, bool; bfloat16 included).
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"{folder} is a file, not a folder: name a folder for the checkpoint"
        )
    nearest = next((parent for parent in folder.parents if parent.exists()), None)
    if nearest is not None and not nearest.is_dir():
        raise NotADirectoryError(
            f"cannot make the checkpoint folder {folder}: {nearest} is a file; name a folder "
            "whose parents are folders"
        )
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a tg.GPT, got {type(model).__qualname__}")
    if tokenizer_json is not None and not isinstance(tokenizer_json, dict):
        raise TypeError(
            "tokenizer_json must be the dict that tokenizer.to_json() returns, got "
            f"{type(tokenizer_json).__name__}: pass tokenizer_json=tokenizer.to_json()"
        )
    if train_state is not None and not isinstance(train_state, dict):
        raise TypeError(
            f"train_state must be a dict of JSON data, got {type(train_state).__qualname__}"
        )
    files: dict[str, bytes] = {
        CONFIG_FILE: _json_bytes(config_to_dict(model.config)),
        MODEL_FILE: safetensors.numpy.save(model.state_dict()),
    }
    if tokenizer_json is not None:
        files[TOKENIZER_FILE] = _json_file(TOKENIZER_FILE, "tokenizer_json", tokenizer_json)
    if optimizer_arrays is not None:
        files[OPTIMIZER_FILE] = safetensors.numpy.save(_optimizer_tensors(optimizer_arrays))
    state = dict(train_state or {})
    state["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    files[STATE_FILE] = _json_file(STATE_FILE, "train_state", state)
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
        for name in CHECKPOINT_FILES[:-1]:
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
