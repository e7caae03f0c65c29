"""`typedgpt sample`: samples of a checkpoint or a Hugging Face GPT-2 model, streamed as their
tokens arrive."""

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from ._cli_options import DEFAULT_NEW_TOKENS
from ._train_cli_resume import about_folder


def _print_samples(checkpoint_dir: Path, args: argparse.Namespace, dtype: str = "float32") -> None:
    import typedgpt as tg

    from ._checkpoint import holds_checkpoint

    model_type = _hf_model_type(checkpoint_dir)
    if model_type is not None and not holds_checkpoint(checkpoint_dir):
        raise ValueError(
            f"--checkpoint {checkpoint_dir} is a Hugging Face folder (its config.json has "
            f"model_type {model_type!r}), not a checkpoint of typedgpt train: pass it as "
            f"--model {checkpoint_dir}"
        )
    try:
        checkpoint = tg.load_checkpoint(checkpoint_dir)
    except (tg.CheckpointError, NotADirectoryError) as error:
        subject = f"--checkpoint {checkpoint_dir}"
        raise type(error)(about_folder(checkpoint_dir, error, subject)) from None
    if checkpoint.tokenizer_json is None:
        raise ValueError(
            f"--checkpoint {checkpoint_dir} has no tokenizer.json: cannot turn text into ids"
        )
    tokenizer = tg.tokenizer_from_json(checkpoint.tokenizer_json)
    prompt = _prompt_ids(tokenizer, args.prompt, checkpoint.model.config.max_seq_len)
    _stream_samples(_cast(checkpoint.model, dtype), tokenizer, prompt, args, start=True)


def _hf_model_type(folder: Path) -> str | None:
    """The `model_type` of `folder`'s `config.json` when it is a Hugging Face config (a
    typedgpt checkpoint's has none), else None."""
    import json

    from ._checkpoint_load import hf_model_type

    try:
        data = json.loads((folder / "config.json").read_bytes())
    except (OSError, ValueError):
        return None
    return hf_model_type(data)


def _cast(model: Any, dtype: str) -> Any:
    """`model` with its floating-point parameters in `dtype`."""
    import jax
    import jax.numpy as jnp

    def cast(leaf: Any) -> Any:
        floating = isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating)
        return leaf.astype(dtype) if floating else leaf

    return jax.tree.map(cast, model)


def _prompt_ids(tokenizer: Any, prompt: str, limit: int) -> list[int]:
    """BOS and the ids of `prompt`, checked to fit a context of `limit` tokens."""
    try:
        ids = [tokenizer.bos_id, *tokenizer.encode(prompt)]
    except ValueError as error:
        raise ValueError(f"--prompt {prompt!r}: {error}") from None
    _check_prompt_length(ids, limit, start=True)
    return ids


def _check_prompt_length(prompt: list[int], limit: int, *, start: bool) -> None:
    """Refuse a prompt longer than the context (`start`: it begins with our start token)."""
    if (n := len(prompt)) > limit:
        size = f"{n - 1} tokens, {n} with the start token," if start else f"{n} tokens"
        raise ValueError(
            f"the prompt is {size} but the model's context is {limit}: shorten the prompt"
        )


def _print_pretrained_samples(path_or_name: str, args: argparse.Namespace) -> None:
    import typedgpt as tg

    from ._checkpoint import holds_checkpoint

    if Path(path_or_name).is_dir() and holds_checkpoint(path_or_name):
        raise ValueError(
            f"--model {path_or_name} is a checkpoint of typedgpt train, not a Hugging Face "
            f"folder: pass it as --checkpoint {path_or_name}"
        )
    model = tg.from_pretrained(path_or_name, dtype=args.dtype)
    tokenizer = tg.HFTokenizer.from_pretrained(path_or_name)
    # GPT-2 continues the prompt's own tokens; <|endoftext|> starts a document from nothing.
    prompt = tokenizer.encode(args.prompt) or [tokenizer.bos_id]
    _stream_samples(model, tokenizer, prompt, args, start=False)


def _max_new_tokens(args: argparse.Namespace) -> int:
    """`--max-new-tokens`, or its default when it was not given."""
    return DEFAULT_NEW_TOKENS if args.max_new_tokens is None else int(args.max_new_tokens)


def _stream_samples(
    model: Any, tokenizer: Any, prompt: list[int], args: argparse.Namespace, *, start: bool
) -> None:
    """Print `--num-samples` continuations of `prompt`, each as its tokens arrive; `start`:
    the command put the start token before the prompt's text."""
    import jax

    import typedgpt as tg

    from ._generate_checks import check_options

    model = _fit_vocabulary(model, tokenizer, args.command)
    vocab = model.config.vocab_size
    key = jax.random.key(args.seed)
    requested = _max_new_tokens(args)
    # Every option is checked before the first sample starts printing.
    check_options(
        requested,
        args.temperature,
        args.top_k,
        args.top_p,
        tokenizer.bos_id,
        key,
        None,
        vocab,
    )
    limit = model.config.max_seq_len
    _check_prompt_length(prompt, limit, start=start)
    # The last new token is never fed back, so `limit - len(prompt) + 1` fit.
    new_tokens = min(requested, limit - len(prompt) + 1)
    if new_tokens < requested and args.max_new_tokens is not None:  # the default caps quietly
        print(
            f"typedgpt {args.command}: note: the model's context is {limit} tokens and the "
            f"prompt takes {len(prompt)}{' with the start token' if start else ''}: each "
            f"sample has at most {new_tokens} new token{'' if new_tokens == 1 else 's'}, "
            f"not {requested}",
            file=sys.stderr,
        )
    with _interruptible():
        for index in range(args.num_samples):
            key, sample_key = jax.random.split(key)
            print(args.prompt, end="", flush=True)
            stream = _TextStream(tokenizer)
            tokens = tg.generate(
                model,
                prompt,
                max_new_tokens=new_tokens,
                temperature=args.temperature,
                top_k=args.top_k,
                top_p=args.top_p,
                eos_id=tokenizer.bos_id,
                key=sample_key,
                on_token=stream,
            )
            stream.finish(tokens)
            if index + 1 < args.num_samples:
                print("---")


def _fit_vocabulary(model: Any, tokenizer: Any, command: str) -> Any:
    """`model`, or, when its vocabulary is padded past the tokenizer's ids (GPT-2's 50257
    ids in 50304 rows, say), the model without the padded rows: their ids could be sampled
    but not decoded. A tokenizer with more ids than the model is refused."""
    import dataclasses

    import typedgpt as tg

    ids, rows = tokenizer.vocab_size, model.config.vocab_size
    if ids > rows:
        raise ValueError(
            f"the tokenizer has {ids} token ids but the model's vocabulary is {rows}: sample "
            "a model with the tokenizer it was trained with"
        )
    if ids == rows:
        return model
    print(
        f"typedgpt {command}: note: the model has {rows} token ids and its tokenizer {ids}: "
        f"sampling only the tokenizer's",
        file=sys.stderr,
    )
    tensors = model.state_dict()
    for name in ("wte.weight", "lm_head.weight"):
        if name in tensors:
            tensors[name] = tensors[name][:ids]
    return tg.GPT.from_state_dict(dataclasses.replace(model.config, vocab_size=ids), tensors)


class _TextStream:
    """Prints the text of a sample's new tokens as they arrive."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.shown = 0  # characters of the decoded text printed so far

    def __call__(self, ids: Any) -> None:
        self.ids.extend(int(i) for i in ids if i >= 0)
        text = self.tokenizer.decode(self.ids)
        # A token can end inside a multi-byte character: wait for the rest of it.
        if not text.endswith("\ufffd"):
            print(text[self.shown :], end="", flush=True)
            self.shown = len(text)

    def finish(self, tokens: list[int]) -> None:
        print(self.tokenizer.decode(tokens)[self.shown :])


def _sample(args: argparse.Namespace) -> int:
    from ._text import check_text

    try:  # before the model loads, which takes a while
        check_text(args.prompt)
    except ValueError as error:
        raise ValueError(f"--prompt {args.prompt!r}: {error}") from None
    if args.model is not None:
        _print_pretrained_samples(args.model, args)
    else:
        _print_samples(Path(args.checkpoint), args, args.dtype)
    return 0


class _Stop:
    """The SIGINT handler of a command: flush stdout, say `interrupted`, exit with 130."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.exit()

    def exit(self) -> None:
        if not _exiting.acquire(blocking=False):
            return  # the other thread (main or watcher) is already exiting
        try:
            sys.stdout.flush()
        except (OSError, ValueError, RuntimeError):  # a closed pipe, or a write under way
            pass
        os.write(sys.stderr.fileno(), f"typedgpt {self.command}: interrupted\n".encode())
        os._exit(130)


_exiting = threading.Lock()  # held by the one thread that exits


def _stop_on_interrupt(command: str) -> None:
    """Make Ctrl-C end the command at once, with status 130 and one line on stderr.

    Once JAX runs, a KeyboardInterrupt cannot be relied on: raised in the callback that
    streams a sample's tokens it reaches the caller as an XlaRuntimeError, raised in JAX's
    garbage-collection callback it is ignored, and an interpreter that exits while a
    computation runs can crash. While `train` runs, its own handler replaces this one: it
    stops training between calls and saves a checkpoint.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a signal handler
    signal.signal(signal.SIGINT, _Stop(command))


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Let `_Stop` act while JAX computes, not only once a whole sample is done.

    CPython runs a signal handler in the main thread between bytecodes, and while a sample
    is generated that thread waits inside JAX. The C-level handler also writes the signal's
    number to the wakeup fd at once, where a thread reads it and exits (POSIX only)."""
    handler = signal.getsignal(signal.SIGINT)
    main = threading.current_thread() is threading.main_thread()
    if not isinstance(handler, _Stop) or not main or os.name != "posix":
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # as set_wakeup_fd requires
    previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def watch() -> None:
        while data := os.read(read_fd, 64):  # empty once write_fd is closed
            if signal.SIGINT in data:
                handler.exit()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        os.close(write_fd)
        watcher.join()
        os.close(read_fd)
