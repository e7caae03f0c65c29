"""The checks `train` runs on its arguments before anything is allocated: the `init` model
against the model config, the output folder and the row length, and each dataset against
the tokenizer, the vocabulary and the length of a batch row."""

import os
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from ._config import GPTConfig
from ._data import TextDataset
from ._gpt import GPT
from ._tokenizer import Tokenizer
from ._train_config import TrainConfig


def check_types(
    model_config: Any, tokenizer: Any, out_dir: Any, config: Any, flags: dict[str, Any]
) -> None:
    """Refuse arguments of `train` of the wrong kind before any work, which would otherwise
    fail after a first call, its checkpoint written. `flags`: `resume`, `progress` and
    `on_step` by name."""
    expected = [
        ("model_config", model_config, GPTConfig, "a tg.GPTConfig"),
        ("tokenizer", tokenizer, Tokenizer, "a tg.Tokenizer (CharTokenizer, ByteTokenizer, ...)"),
        ("out_dir", out_dir, str | os.PathLike, "a folder path (str or pathlib.Path)"),
        ("config", config, TrainConfig, "a tg.TrainConfig"),
        ("resume", flags["resume"], bool, "True or False"),
        ("progress", flags["progress"], bool, "True or False"),
    ]
    for name, value, kind, words in expected:
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be {words}, got {type(value).__qualname__}")
    on_step = flags["on_step"]
    if on_step is not None and not callable(on_step):
        raise TypeError(
            f"on_step must be None or a function called as on_step(step, loss), got "
            f"{type(on_step).__qualname__}"
        )


def check_init(init: GPT | None, model_config: GPTConfig) -> None:
    """Refuse an `init` model that is not a GPT of `model_config` in a dtype AdamW can train."""
    if init is None:
        return
    if not isinstance(init, GPT):
        raise TypeError(f"init must be a tg.GPT or None, got {type(init).__qualname__}")
    if init.config != model_config:
        raise ValueError(
            "init was made with another config than model_config: pass init.config as model_config"
        )
    dtypes = {leaf.dtype for leaf in jax.tree.leaves(init) if isinstance(leaf, jax.Array)}
    if jnp.dtype(jnp.float16) in dtypes:
        raise ValueError(
            "init has float16 parameters, in which AdamW's moments underflow and training "
            "gives NaN: load it as float32 (or bfloat16), e.g. "
            "tg.from_pretrained(path, dtype=jnp.float32)"
        )


def check_batch_rows(name: str, data: TextDataset, seq_len: int, source: str) -> None:
    """`data` has next-token targets, and a stream is long enough for a row of `seq_len`."""
    if data.mode == "stream" and data.num_tokens < seq_len + 1:
        size = data.num_tokens
        fix = f"set TrainConfig.seq_len to at most {size - 1}, or " if size > 1 else ""
        raise ValueError(
            f"{name} is a stream of {size} tokens but a batch row needs seq_len + 1 = "
            f"{seq_len + 1} (seq_len is {source}): {fix}use more text"
        )
    if data.num_targets == 0:
        raise ValueError(
            f"{name} has no next-token targets: each of its {len(data)} documents is a single "
            "token; a document needs at least two (TextDataset.from_text makes "
            "[BOS] + ids + [BOS])"
        )


def check_dataset(name: str, data: Any, tokenizer: Tokenizer, vocab_size: int) -> None:
    """`data` is a `TextDataset` made by `tokenizer`, with ids the model has embeddings for."""
    if not isinstance(data, TextDataset):
        raise TypeError(
            f"{name} must be a TextDataset (TextDataset.from_text(text, tokenizer)), "
            f"got {type(data).__name__}"
        )
    if data.tokenizer is not tokenizer and data.tokenizer.to_json() != tokenizer.to_json():
        raise ValueError(
            f"{name} was encoded by a different tokenizer than tokenizer= ("
            f"{type(data.tokenizer).__name__} of {data.tokenizer.vocab_size} ids, "
            f"tokenizer= {type(tokenizer).__name__} of {tokenizer.vocab_size} ids): the model "
            "would be saved with a tokenizer that decodes its ids as other text; pass "
            f"tokenizer={name}.tokenizer, or encode the text with this tokenizer "
            "(TextDataset.from_text(text, tokenizer))"
        )
    low = min(int(doc.min()) for doc in data.documents)
    high = max(int(doc.max()) for doc in data.documents)
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(
            f"{name} holds the token id {bad} but the model's ids are 0 to {vocab_size - 1} "
            f"(vocab_size={vocab_size}): encode the text with the tokenizer, or raise "
            "vocab_size"
        )


def check_arguments(
    model_config: GPTConfig,
    train_data: Any,
    val_data: Any,
    tokenizer: Tokenizer,
    out_dir: str | Path,
    config: TrainConfig,
) -> tuple[Path, int]:
    """Refuse what `train` cannot run: an `out_dir` that is a file or inside one, a
    `seq_len` over the model's context, a tokenizer larger than the vocabulary, and data
    that does not fit (`check_dataset`, `check_batch_rows`).

    **Returns:** `out_dir` as a `Path`, and the length of a batch row.
    """
    out_dir = Path(out_dir)
    existing = next(path for path in (out_dir, *out_dir.parents) if path.exists())
    if not existing.is_dir():
        where = "is a file" if existing == out_dir else f"lies inside {existing}, which is a file"
        raise NotADirectoryError(
            f"out_dir {out_dir} {where}, not a folder: name a folder for the checkpoint"
        )
    seq_len = config.seq_len or model_config.max_seq_len
    if seq_len > model_config.max_seq_len:
        raise ValueError(
            f"seq_len={seq_len} is longer than max_seq_len={model_config.max_seq_len}: "
            "lower seq_len or raise max_seq_len"
        )
    if tokenizer.vocab_size > model_config.vocab_size:
        raise ValueError(
            f"the tokenizer has {tokenizer.vocab_size} ids but vocab_size is "
            f"{model_config.vocab_size}: set vocab_size to at least {tokenizer.vocab_size}"
        )
    seq_len_source = "TrainConfig.seq_len" if config.seq_len else "the model's max_seq_len"
    check_dataset("train_data", train_data, tokenizer, model_config.vocab_size)
    check_batch_rows("train_data", train_data, seq_len, seq_len_source)
    if val_data is not None:
        check_dataset("val_data", val_data, tokenizer, model_config.vocab_size)
        check_batch_rows("val_data", val_data, seq_len, seq_len_source)
    return out_dir, seq_len
