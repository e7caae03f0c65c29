"""The `typedgpt` command: `train`, `sample`, `demo`, `check` and `explain`."""

import argparse
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

DEMO_DIR = Path("runs/demo")
# Marks a folder as the demo's own output: only such a folder does a new demo clear.
DEMO_MARKER = "typedgpt-demo.txt"
# The largest seed: jax.random.key keeps only an int's low 32 bits (without jax_enable_x64),
# so a larger seed would silently give another seed's key.
MAX_SEED = 2**32 - 1
# New tokens per sample when --max-new-tokens is not given; the model's context caps it quietly.
DEFAULT_NEW_TOKENS = 200
# The model sizes: each field of the parsed arguments and the option that sets it.
SIZE_OPTIONS = {
    "layers": "--layers",
    "embed": "--embed",
    "heads": "--heads",
    "seq_len": "--seq-len",
}

# The options that the run's checkpoint decides on `--resume`: each field of the parsed
# arguments and its option. One given with another value than the run's is refused.
RUN_OPTIONS = {
    "preset": "--preset",
    **SIZE_OPTIONS,
    "mlp": "--mlp",
    "position_encoding": "--position-encoding",
    "kv_heads": "--kv-heads",
    "tokenizer": "--tokenizer",
}
# The tokenizer option's value for each kind of tokenizer that a checkpoint can hold.
TOKENIZER_CHOICES = {"CharTokenizer": "char", "ByteTokenizer": "byte"}

# The Python names that errors of the Python API use, each with the option that sets it on
# the command line: `_reworded` writes `--steps 0` for `TrainConfig.steps` or `steps=0`, so
# an error names what the user typed. The model's names are GPTConfig's; `seq_len` is the
# model's context too, since the command trains on whole contexts.
MODEL_OPTIONS = {
    "num_layers": "--layers",
    "embed_dim": "--embed",
    "num_heads": "--heads",
    "max_seq_len": "--seq-len",
    "seq_len": "--seq-len",
    "num_kv_heads": "--kv-heads",
    "position_encoding": "--position-encoding",
}
TRAIN_OPTIONS = {
    "steps": "--steps",
    "batch_size": "--batch-size",
    "learning_rate": "--lr",
    "warmup_steps": "--warmup",
    "eval_every": "--eval-every",
    "checkpoint_every": "--checkpoint-every",
    "steps_per_call": "--steps-per-call",
    "grad_clip": "--grad-clip",
    "eval_batches": "--eval-batches",
}
SAMPLE_OPTIONS = {
    "max_new_tokens": "--max-new-tokens",
    "temperature": "--temperature",
    "top_k": "--top-k",
    "top_p": "--top-p",
}
COMMAND_OPTIONS: dict[str, dict[str, str]] = {
    "train": {
        **MODEL_OPTIONS,
        **TRAIN_OPTIONS,
        "val_fraction": "--val-fraction",
        "train_data": "the training part of the data",
        "val_data": "the validation part of the data (--val-fraction)",
    },
    "demo": {**MODEL_OPTIONS, **TRAIN_OPTIONS, **SAMPLE_OPTIONS},
    "sample": SAMPLE_OPTIONS,
}
# Fixes that the Python API words in Python, and their words on the command line.
COMMAND_FIXES = {
    "must be None or a positive int": "must be a positive int",
    "pass None to keep every token": "leave the option out to keep every token",
    "train on builtin_corpus()": "leave out --data to train on the built-in corpus",
    "pass resume=True (--resume)": "pass --resume",
    "(ByteTokenizer)": "(train with --tokenizer byte)",
    " (--seq-len is the model's --seq-len)": "",
}


def _reworded(message: str, options: dict[str, str]) -> str:
    """`message`, an error of the Python API, in the words of the command line: each Python
    name of `options` (bare, as `TrainConfig.name` or `GPTConfig.name`, or as `name=value`)
    becomes its option (`--option value`), and each fix of `COMMAND_FIXES` its own words."""
    if options:
        names = "|".join(sorted(map(re.escape, options), key=len, reverse=True))
        # Not inside a longer name or a path (`runs/steps`, `steps.txt`).
        pattern = (
            rf"(?<![\w./\\-])(?:TrainConfig\.|GPTConfig\.)?({names})(?![\w/\\-]|\.\w)"
            r"(?:=('[^']*'|[^\s,:;)]+))?"
        )

        def option(match: re.Match[str]) -> str:
            name, value = match.groups()
            return options[name] if value is None else options[name] + " " + value.strip("'")

        message = re.sub(pattern, option, message)
    for python, command_line in COMMAND_FIXES.items():
        message = message.replace(python, command_line)
    return message


class _Given(argparse.Action):
    """argparse's plain `store`, which also adds the option's field to `args.given`: the
    options typed on the command line, as opposed to their defaults."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = getattr(namespace, "given", frozenset()) | {self.dest}


def _resolve_sizes(args: argparse.Namespace) -> None:
    """Fill in the default sizes of `--preset small`; refuse sizes with `--preset microgpt`,
    which has its own."""
    given = {name: getattr(args, name) for name in SIZE_OPTIONS if getattr(args, name) is not None}
    if args.preset == "microgpt" and given:
        options = " ".join(f"{SIZE_OPTIONS[name]} {value}" for name, value in given.items())
        raise ValueError(
            f"--preset microgpt has its own sizes (1 layer, embed 16, 4 heads, 16 positions), "
            f"so {options} would be ignored: drop {options}, or use --preset small to set "
            "the sizes"
        )
    for name in SIZE_OPTIONS:
        if name not in given:
            setattr(args, name, args.size_defaults[name])


def _check_out(out: Path) -> None:
    """Refuse an `--out` that is a file, or lies inside one, before any work."""
    for path in (out, *out.parents):
        if path.exists():
            if path.is_dir():
                return
            where = "is a file" if path == out else f"lies inside {path}, which is a file"
            raise NotADirectoryError(
                f"--out {out} {where}, not a folder: pass a folder for the checkpoint (a new "
                "one is created), or move the file away"
            )


def _model_config(args: argparse.Namespace, vocab_size: int) -> Any:
    import typedgpt as tg

    options = {
        "mlp": args.mlp,
        "position_encoding": args.position_encoding,
        "num_kv_heads": args.kv_heads,
    }
    if args.preset == "microgpt":
        return tg.GPTConfig.microgpt(vocab_size=vocab_size, **options)
    return tg.GPTConfig.gpt2(
        vocab_size=vocab_size,
        num_layers=args.layers,
        num_heads=args.heads,
        embed_dim=args.embed,
        mlp_dim=4 * args.embed,
        max_seq_len=args.seq_len,
        **options,
    )


def _train_config(args: argparse.Namespace) -> Any:
    import typedgpt as tg

    return tg.TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=min(args.warmup, args.steps),
        eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every,
        steps_per_call=args.steps_per_call,
        grad_clip=args.grad_clip,
        eval_batches=args.eval_batches,
        seed=args.seed,
    )


def _text(args: argparse.Namespace) -> str:
    """The text of `--data`, or the built-in corpus; an error about the file names `--data`."""
    import typedgpt as tg

    if args.data is None:
        return tg.builtin_corpus()
    if not Path(args.data).exists():
        raise FileNotFoundError(
            f"--data {Path(args.data)} does not exist: check the path, or leave out --data to "
            "train on the built-in corpus"
        )
    try:
        return tg.load_text(args.data)
    except (OSError, ValueError) as error:
        message = str(error)
        if message.startswith(str(Path(args.data))):  # the file's problem: name its option
            raise type(error)(f"--data {message}") from None
        raise


def _dataset(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    import typedgpt as tg

    text = _text(args)
    tokenizer: tg.Tokenizer = (
        tg.ByteTokenizer()
        if args.tokenizer == "byte"
        else tg.CharTokenizer.from_text(text, mode=args.mode)
    )
    dataset = tg.TextDataset.from_text(text, tokenizer, mode=args.mode)
    train, val = dataset.split(args.val_fraction, seed=args.seed)
    return tokenizer, train, val


def _train(args: argparse.Namespace) -> int:
    import numpy as np

    import typedgpt as tg

    from ._train import check_memory

    out = Path(args.out)
    _check_out(out)
    if args.resume:
        try:
            checkpoint = tg.load_checkpoint(out)
        except tg.CheckpointError as error:
            problem = _about_folder(out, error, "the folder")
            fix = "" if out.exists() else ", or leave out --resume to start a new run there"
            raise tg.CheckpointError(
                f"--resume found no run in --out {out}: {problem}{fix}"
            ) from None
        if checkpoint.tokenizer_json is None:
            raise ValueError(f"{out} has no tokenizer.json to resume with")
        data = (checkpoint.train_state or {}).get("train_data")
        recorded = data.get("mode") if isinstance(data, dict) else None
        # Data of the other mode would fail to encode, or to match the run's, less clearly.
        if recorded in ("lines", "stream") and recorded != args.mode:
            raise ValueError(
                f"--mode {args.mode}, but the run in {out} was trained with --mode {recorded}: "
                f"resume with --mode {recorded}"
            )
        tokenizer: tg.Tokenizer = tg.tokenizer_from_json(checkpoint.tokenizer_json)
        _check_run_options(args, checkpoint.model.config, tokenizer, out)
        text = _text(args)
        dataset = tg.TextDataset.from_text(text, tokenizer, mode=args.mode)
        train, val = dataset.split(args.val_fraction, seed=args.seed)
        config = checkpoint.model.config
    else:
        tokenizer, train, val = _dataset(args)
        config = _model_config(args, tokenizer.vocab_size)
    train_config = _train_config(args)
    check_memory(config, train_config)  # before the notes on the data: `train` checks too
    source = "the built-in corpus" if args.data is None else args.data
    print(f"Training on {source}: {train.num_tokens:,} tokens, vocab {tokenizer.vocab_size}.")
    if args.resume:  # the run's settings are fixed
        fix = "a new run can use --mode stream or a longer context"
    elif args.preset == "microgpt":  # its context is fixed
        fix = "use --mode stream, or --preset small with a --seq-len above the longest line"
    else:
        fix = "use --mode stream, or raise --seq-len"
    _note_cut(train, config.max_seq_len, fix)
    result = tg.train(
        config,
        train,
        val,
        tokenizer=tokenizer,
        out_dir=out,
        config=train_config,
        resume=args.resume,
        progress=not args.no_progress,
    )
    if result.interrupted:
        print(
            f"Interrupted: saved a checkpoint at step {result.step} in {out}; "
            "continue with --resume."
        )
        return 130
    last = f", validation loss {result.val_losses[-1][1]:.3f}" if result.val_losses else ""
    counts = np.bincount(np.concatenate(train.documents), minlength=tokenizer.vocab_size)
    probs = counts[counts > 0] / counts.sum()
    print(f"Unigram entropy of the training tokens: {-np.sum(probs * np.log(probs)):.3f} nats.")
    print(
        f"Step {result.step}: loss {result.losses[-1]:.3f}{last}, "
        f"{result.tokens_per_second:,.0f} tokens/s. Checkpoint and loss.png in {out}."
    )
    return 0


def _about_folder(folder: Path, error: Exception, subject: str) -> str:
    """The message of `error`, an error of `load_checkpoint` about `folder`, with `subject`
    (`--checkpoint runs/x`, say) naming the folder, once: `checkpoint folder runs/x does not
    exist` becomes `SUBJECT does not exist`, `runs/x/config.json is corrupt` becomes
    `SUBJECT: its config.json is corrupt`."""
    message = str(error)
    for start in (f"checkpoint folder {folder} ", f"checkpoint {folder} ", f"{folder} "):
        if message.startswith(start):
            return f"{subject} {message.removeprefix(start)}"
    inside = f"{folder}{os.sep}"
    if message.startswith(inside):
        message = "its " + message.removeprefix(inside)
    return f"{subject}: {message}"


def _preset_of(config: Any) -> str | None:
    """The `--preset` that builds `config` with some sizes and options, or None."""
    import typedgpt as tg

    options = {
        "vocab_size": config.vocab_size,
        "mlp": config.mlp,
        "position_encoding": config.position_encoding,
        "num_kv_heads": config.num_kv_heads,
    }
    try:
        if config == tg.GPTConfig.microgpt(**options):
            return "microgpt"
    except ValueError:  # options that microgpt's sizes do not allow
        pass
    small = tg.GPTConfig.gpt2(
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        embed_dim=config.embed_dim,
        mlp_dim=4 * config.embed_dim,
        max_seq_len=config.max_seq_len,
        **options,
    )
    return "small" if config == small else None


def _check_run_options(args: argparse.Namespace, config: Any, tokenizer: Any, out: Path) -> None:
    """On `--resume`, refuse a model or tokenizer option that was typed with another value
    than the run's: the checkpoint decides them, and would silently override it."""
    run = {
        "preset": _preset_of(config),
        "layers": config.num_layers,
        "embed": config.embed_dim,
        "heads": config.num_heads,
        "seq_len": config.max_seq_len,
        "mlp": config.mlp,
        "position_encoding": config.position_encoding,
        "kv_heads": config.kv_heads,  # --kv-heads equal to --heads is the default, too
        "tokenizer": TOKENIZER_CHOICES.get(type(tokenizer).__name__),
    }
    differ = []
    for name, option in RUN_OPTIONS.items():
        given = getattr(args, name)
        if name not in getattr(args, "given", ()) or given == run[name]:
            continue
        if run[name] is not None:
            recorded = f"{option} {run[name]}"
        elif name == "preset":
            recorded = "a model of no preset"
        else:
            recorded = f"a {type(tokenizer).__name__}"
        differ.append(f"{option} {given} (the run has {recorded})")
    if differ:
        options = "these options" if len(differ) > 1 else "the option"
        raise ValueError(
            f"--resume continues the run in {out} with the model and tokenizer it was trained "
            f"with, but {'; '.join(differ)}: leave out {options} or give the run's values, or "
            "train a new run in another --out"
        )


def _note_cut(train: Any, seq_len: int, fix: str) -> None:
    """Say on stderr how much of the data `--mode lines` never trains on, and `fix`."""
    cut = train.cut_fraction(seq_len)
    if cut > 0:
        longest = max(doc.size for doc in train.documents)
        print(
            f"typedgpt train: note: --mode lines trains on the first {seq_len + 1} tokens of "
            f"each line (the context, {seq_len}, plus one), so {cut:.1%} of the training "
            f"tokens are never trained on: {fix} (lines run up to {longest:,} tokens, BOS "
            "included)",
            file=sys.stderr,
        )


def _print_samples(checkpoint_dir: Path, args: argparse.Namespace, dtype: str = "float32") -> None:
    import typedgpt as tg

    try:
        checkpoint = tg.load_checkpoint(checkpoint_dir)
    except (tg.CheckpointError, NotADirectoryError) as error:
        subject = f"--checkpoint {checkpoint_dir}"
        raise type(error)(_about_folder(checkpoint_dir, error, subject)) from None
    if checkpoint.tokenizer_json is None:
        raise ValueError(
            f"--checkpoint {checkpoint_dir} has no tokenizer.json: cannot turn text into ids"
        )
    tokenizer = tg.tokenizer_from_json(checkpoint.tokenizer_json)
    prompt = _prompt_ids(tokenizer, args.prompt, checkpoint.model.config.max_seq_len)
    _stream_samples(_cast(checkpoint.model, dtype), tokenizer, prompt, args)


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
    _check_prompt_length(ids, limit)
    return ids


def _check_prompt_length(prompt: list[int], limit: int) -> None:
    if len(prompt) > limit:
        raise ValueError(
            f"the prompt is {len(prompt)} tokens but the model's context is {limit}: "
            "shorten the prompt"
        )


def _print_pretrained_samples(path_or_name: str, args: argparse.Namespace) -> None:
    import typedgpt as tg

    from ._checkpoint import holds_checkpoint

    try:
        model = tg.from_pretrained(path_or_name, dtype=args.dtype)
    except ValueError as error:
        if Path(path_or_name).is_dir() and holds_checkpoint(path_or_name):
            raise ValueError(
                f"{error}; {path_or_name} is a checkpoint of typedgpt train: pass it as "
                f"--checkpoint {path_or_name}"
            ) from None
        raise
    tokenizer = tg.HFTokenizer.from_pretrained(path_or_name)
    # GPT-2 continues the prompt's own tokens; <|endoftext|> starts a document from nothing.
    prompt = tokenizer.encode(args.prompt) or [tokenizer.bos_id]
    _stream_samples(model, tokenizer, prompt, args)


def _max_new_tokens(args: argparse.Namespace) -> int:
    """`--max-new-tokens`, or its default when it was not given."""
    return DEFAULT_NEW_TOKENS if args.max_new_tokens is None else int(args.max_new_tokens)


def _stream_samples(
    model: Any, tokenizer: Any, prompt: list[int], args: argparse.Namespace
) -> None:
    """Print `--num-samples` continuations of `prompt`, each as its tokens arrive."""
    import jax

    import typedgpt as tg

    from ._generate import _check_options

    key = jax.random.key(args.seed)
    requested = _max_new_tokens(args)
    # Every option is checked before the first sample starts printing.
    _check_options(
        requested,
        args.temperature,
        args.top_k,
        args.top_p,
        tokenizer.bos_id,
        key,
        None,
        model.config.vocab_size,
    )
    limit = model.config.max_seq_len
    _check_prompt_length(prompt, limit)
    # The last new token is never fed back, so `limit - len(prompt) + 1` fit.
    new_tokens = min(requested, limit - len(prompt) + 1)
    if new_tokens < requested and args.max_new_tokens is not None:  # the default caps quietly
        print(
            f"typedgpt {args.command}: note: the model's context is {limit} tokens and the "
            f"prompt takes {len(prompt)}: each sample has at most {new_tokens} new tokens, "
            f"not {requested}",
            file=sys.stderr,
        )
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
    if args.model is not None:
        _print_pretrained_samples(args.model, args)
    else:
        _print_samples(Path(args.checkpoint), args, args.dtype)
    return 0


def _show_shape_error() -> None:
    import jax
    import jax.numpy as jnp
    from jaxtyping import TypeCheckError

    import typedgpt as tg

    config = tg.GPTConfig.microgpt(vocab_size=27)
    model = tg.GPT(config, key=jax.random.key(0))
    block = jax.tree.map(lambda x: x[0], model.blocks)  # layer 0 of the stacked blocks
    wrong = jnp.ones((5, 12))  # 5 positions of width 12, but the model's embed is 16
    print(f">>> block(jnp.ones({wrong.shape}))   # the blocks expect embed = {config.embed_dim}")
    try:
        block(wrong)
    except TypeCheckError as error:
        print(f"TypeCheckError: {error}")
    else:
        raise RuntimeError("no TypeCheckError was raised: this is a bug in typedgpt")


def _demo_files() -> set[str]:
    """The names of every file a demo writes into its folder."""
    from ._checkpoint import CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, TOKENIZER_FILE
    from ._train import METRICS_FILE, PLOT_FILE

    checkpoint = {CONFIG_FILE, MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, TOKENIZER_FILE}
    return {*checkpoint, METRICS_FILE, PLOT_FILE, DEMO_MARKER}


def _prepare_demo_folder(out: Path) -> None:
    """Make `out` an empty folder marked as the demo's, clearing an earlier demo's files.

    A folder that is not empty is cleared only if it holds the demo's marker and nothing
    but files a demo writes; any other folder is refused, and nothing in it is touched.
    """
    from ._checkpoint import COMMITTED_DIR, STAGING_DIR

    _check_out(out)
    if out.exists():
        entries = sorted(out.iterdir())
        names = {entry.name for entry in entries}
        demo_files = _demo_files()

        def is_demo_file(entry: Path) -> bool:
            # A checkpoint file is written to `.NAME.*.tmp` first, then renamed; a whole
            # checkpoint is staged in a folder of its own (left behind by a killed save).
            if entry.is_dir():
                return entry.name in (STAGING_DIR, COMMITTED_DIR)
            left_over = entry.name.startswith(".") and entry.name.endswith(".tmp")
            return entry.is_file() and (entry.name in demo_files or left_over)

        if entries and not (DEMO_MARKER in names and all(map(is_demo_file, entries))):
            others = [entry.name for entry in entries if not is_demo_file(entry)]
            holds = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            reason = (
                f"holds files the demo did not write ({holds})"
                if others
                else f"holds a run that the demo did not write (no {DEMO_MARKER})"
            )
            raise FileExistsError(
                f"--out {out} is not empty and {reason}: the demo deletes nothing it did not "
                "write, so pass --out a new or empty folder"
            )
        for entry in entries:
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / DEMO_MARKER).write_text(
        "This folder is the output of `typedgpt demo`: running the demo again with this\n"
        "--out deletes the files here that a demo writes. Delete this file to keep them.\n",
        encoding="utf-8",
    )


def _demo(args: argparse.Namespace) -> int:
    import jax

    import typedgpt as tg

    from ._generate import _check_options
    from ._train import check_memory

    args.data, args.mode, args.tokenizer = None, "stream", "char"
    args.val_fraction, args.resume = 0.05, False
    out = Path(args.out)
    _check_out(out)
    # The model, the prompt, the sampling options and the training settings are checked
    # before the folder is cleared and training starts, not minutes later.
    tokenizer = tg.CharTokenizer.from_text(tg.builtin_corpus(), mode=args.mode)
    config = _model_config(args, tokenizer.vocab_size)
    _prompt_ids(tokenizer, args.prompt, config.max_seq_len)
    options = (_max_new_tokens(args), args.temperature, args.top_k, args.top_p)
    _check_options(*options, None, jax.random.key(args.seed), None, tokenizer.vocab_size)
    check_memory(config, _train_config(args))
    _prepare_demo_folder(out)
    started = time.perf_counter()
    code = _train(args)
    if code != 0:
        return code
    _stop_on_interrupt("demo")
    print(
        f"Trained in {time.perf_counter() - started:.0f} s. Samples at temperature "
        f"{args.temperature}:"
    )
    _print_samples(out, args)
    print("\nEvery layer is typed. A shape error, caught at the call that made it:")
    _show_shape_error()
    return 0


def _editable_checkout() -> Path | None:
    """The folder holding the `typedgpt` package when it is not in a site-packages folder: an
    editable install of a checkout, which setuptools serves through an import hook that mypy
    cannot follow (mypy then reports typedgpt as missing, outside the checkout)."""
    import importlib.util

    spec = importlib.util.find_spec("typedgpt")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).resolve().parent
    if {"site-packages", "dist-packages"} & set(package.parts):
        return None
    return package.parent


def _check(args: argparse.Namespace) -> int:
    import tempfile

    missing = [path for path in args.paths if not Path(path).exists()]
    if missing:
        raise ValueError(f"{missing[0]} does not exist: pass Python files or folders to check")
    # mypy would read any file it is given as Python, and report its text as syntax errors.
    others = [
        path for path in args.paths if Path(path).is_file() and Path(path).suffix not in PY_SUFFIXES
    ]
    if others:
        raise ValueError(
            f"{others[0]} is not a Python file (.py or .pyi): pass Python files or folders to check"
        )
    try:
        from mypy import api
    except ImportError as error:
        raise ImportError("typedgpt check needs mypy: pip install 'mypy==2.4.*'") from error
    # With dims in the types, `h = h @ w` must retype `h`: mypy's allow_redefinition does.
    settings = ["[mypy]", "plugins = typedgpt.mypy_plugin", "allow_redefinition = True"]
    checkout = _editable_checkout()
    if checkout is not None:
        # typedgpt is read from the checkout, as an installed package would be: its own
        # errors are not the user's.
        settings += [f"mypy_path = {checkout}", "[mypy-typedgpt.*]", "follow_imports = silent"]
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "mypy.ini"
        config.write_text("\n".join(settings) + "\n", encoding="utf-8")
        options = ["--config-file", str(config), *(["--strict"] if args.strict else [])]
        stdout, stderr, status = api.run([*options, *args.paths])
    print(stdout, end="")
    print(stderr, end="", file=sys.stderr)
    # mypy exits 2 both for a syntax error in a file and for a usage error of its own; only
    # the syntax error is reported on stdout, and it is an error in the code checked.
    return 1 if status == 2 and stdout else status


# The files `typedgpt check` checks: Python source and stub files.
PY_SUFFIXES = (".py", ".pyi")

# `typedgpt explain --config NAME`: each name and the GPTConfig preset it builds (microgpt
# with its 27 characters: a to z and BOS).
EXPLAIN_CONFIGS = {
    "microgpt": "microgpt",
    "gpt2": "gpt2",
    "gpt2-medium": "gpt2_medium",
    "gpt2-large": "gpt2_large",
    "gpt2-xl": "gpt2_xl",
}


def _explain(args: argparse.Namespace) -> int:
    import jax
    import jax.numpy as jnp

    import typedgpt as tg

    from ._train import abstract_model, count_parameters

    preset = getattr(tg.GPTConfig, EXPLAIN_CONFIGS[args.config])
    config = preset(vocab_size=27) if args.config == "microgpt" else preset()
    seq = config.max_seq_len if args.seq is None else args.seq
    if not 1 <= seq <= config.max_seq_len:
        raise ValueError(
            f"--seq {seq} is outside 1 to max_seq_len={config.max_seq_len} of {args.config}: "
            "choose a length in that range"
        )
    # Abstract weights: shapes and dtypes only, so even gpt2-xl takes no memory or time.
    model = abstract_model(config)
    tokens = jax.ShapeDtypeStruct((seq,), jnp.int32)  # type: ignore[no-untyped-call]
    parameters = count_parameters(model)
    print(
        f"{args.config}: {config.num_layers} layer{'' if config.num_layers == 1 else 's'}, "
        f"embed {config.embed_dim}, "
        f"{config.num_heads} heads, vocab {config.vocab_size}; {parameters:,} parameters "
        f"(shapes only, never allocated); {seq} tokens"
    )
    print(tg.explain(model, tokens))
    return 0


def _add_model_options(command: argparse.ArgumentParser, *, layers: int = 4) -> None:
    parser = command.add_argument_group("model")
    parser.add_argument(
        "--preset",
        action=_Given,
        choices=["small", "microgpt"],
        default="small",
        help="model: 'small' (GPT-2 style, sizes below) or 'microgpt' (1 layer, embed 16, "
        "4 heads, 16 positions) (default %(default)s)",
    )
    # None, filled in by _resolve_sizes, so that sizes given with --preset microgpt show.
    sizes = {"layers": layers, "embed": 128, "heads": 4, "seq_len": 64}
    parser.set_defaults(size_defaults=sizes, given=frozenset())
    parser.add_argument("--layers", action=_Given, type=int, help=f"blocks (default {layers})")
    parser.add_argument("--embed", action=_Given, type=int, help="embed_dim (default 128)")
    parser.add_argument("--heads", action=_Given, type=int, help="attention heads (default 4)")
    parser.add_argument("--seq-len", action=_Given, type=int, help="context length (default 64)")
    parser.add_argument(
        "--mlp",
        action=_Given,
        choices=["standard", "swiglu"],
        default="standard",
        help="feed-forward network (default %(default)s)",
    )
    parser.add_argument(
        "--position-encoding",
        action=_Given,
        choices=["learned", "rope"],
        default="learned",
        help="learned position embeddings or rotary (rope) (default %(default)s)",
    )
    parser.add_argument(
        "--kv-heads",
        action=_Given,
        type=int,
        default=None,
        help="key/value heads for grouped-query attention (default: as many as --heads)",
    )


def _add_train_options(command: argparse.ArgumentParser, *, steps: int) -> None:
    parser = command.add_argument_group("training")
    parser.add_argument("--steps", type=int, default=steps, help=f"total steps (default {steps})")
    parser.add_argument(
        "--batch-size", type=int, default=32, help="sequences per step (default %(default)s)"
    )
    parser.add_argument(
        "--lr", type=float, default=3e-3, help="peak learning rate (default %(default)s)"
    )
    parser.add_argument("--warmup", type=int, default=50, help="warmup steps (default %(default)s)")
    parser.add_argument(
        "--grad-clip",
        type=_positive_float,
        default=1.0,
        help="clip gradients to this global norm (default %(default)s)",
    )
    parser.add_argument(
        "--eval-every", type=int, default=100, help="steps between val losses (default %(default)s)"
    )
    parser.add_argument(
        "--eval-batches",
        type=_positive_int,
        default=8,
        help="validation batches per val loss; may change on --resume (default %(default)s)",
    )

    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=250,
        help="steps between saves (default %(default)s)",
    )
    parser.add_argument(
        "--seed", type=_seed, default=0, help="seed for init, data and sampling (default 0)"
    )
    parser.add_argument(
        "--steps-per-call", type=int, default=10, help="steps per compiled call (default 10)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _positive_int(text: str) -> int:
    """An argparse type: an int of at least 1 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    """An argparse type: a finite number above 0 (argparse names the option in its error)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {value}")
    return value


def _seed(text: str) -> int:
    """An argparse type: a seed from 0 to `MAX_SEED` (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be from 0 to {MAX_SEED} (2**32 - 1), got {value}: a PRNG key holds 32 bits"
        )
    return value


def _add_sample_options(command: argparse.ArgumentParser, *, prompt: str) -> Any:
    """Add the sampling options to `command`, in a group of their own, which is returned."""
    parser = command.add_argument_group("sampling")
    parser.add_argument("--prompt", default=prompt, help="text to continue (default %(default)r)")
    parser.add_argument(
        "--num-samples",
        type=_positive_int,
        default=3,
        help="how many samples (default %(default)s)",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        default=None,
        help=f"tokens per sample (default {DEFAULT_NEW_TOKENS}, or what the context leaves)",
    )
    parser.add_argument(
        "--temperature", type=float, default=0.8, help="0 for greedy (default %(default)s)"
    )
    parser.add_argument("--top-k", type=int, default=None, help="keep the k likeliest tokens")
    parser.add_argument("--top-p", type=float, default=None, help="nucleus sampling mass")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `typedgpt` command."""
    from importlib.metadata import version

    parser = argparse.ArgumentParser(prog="typedgpt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('typedgpt')}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    class Commands:
        """`add_parser` that gives each command's `-h` its one-line help as a description."""

        def add_parser(self, name: str, *, help: str) -> argparse.ArgumentParser:
            description = f"{help[0].upper()}{help[1:]}."
            return subparsers.add_parser(name, help=help, description=description)

    commands = Commands()

    train = commands.add_parser("train", help="train a GPT on a text file")
    data = train.add_argument_group("data")
    data.add_argument("--data", help="a UTF-8 text file (default: the built-in corpus)")
    data.add_argument(
        "--mode",
        choices=["lines", "stream"],
        default="lines",
        help="one document per line, or one continuous stream (default %(default)s)",
    )
    data.add_argument(
        "--tokenizer",
        action=_Given,
        choices=["char", "byte"],
        default="char",
        help="the characters of the data, or its UTF-8 bytes (default %(default)s)",
    )
    data.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of the lines (--mode lines) or tokens (stream) held out for validation "
        "(default %(default)s)",
    )
    _add_model_options(train)
    _add_train_options(train, steps=1000)
    output = train.add_argument_group("output")
    output.add_argument(
        "--out", default="runs/train", help="checkpoint folder (default %(default)s)"
    )
    output.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.set_defaults(run=_train)

    sample = commands.add_parser(
        "sample", help="sample text from a checkpoint or a Hugging Face GPT-2 model"
    )
    model = sample.add_argument_group("model")
    source = model.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a checkpoint folder that typedgpt train wrote")
    source.add_argument(
        "--model",
        help="a Hugging Face GPT-2 folder, or a name such as gpt2 in the local Hugging Face "
        "cache (never downloaded)",
    )
    model.add_argument(
        "--dtype",
        choices=["float32", "bfloat16", "float16"],
        default="float32",
        help="the parameters' dtype while sampling: bfloat16 halves the memory (default "
        "%(default)s)",
    )
    sampling = _add_sample_options(sample, prompt="")
    sampling.add_argument("--seed", type=_seed, default=0, help="seed for sampling (default 0)")
    sample.set_defaults(run=_sample)

    demo = commands.add_parser(
        "demo", help="train on the built-in corpus, sample, show a shape error"
    )
    _add_model_options(demo, layers=2)
    _add_train_options(demo, steps=800)
    _add_sample_options(demo, prompt="The ")
    demo.add_argument_group("output").add_argument(
        "--out", default=str(DEMO_DIR), help="checkpoint folder (default %(default)s)"
    )
    demo.set_defaults(run=_demo)

    check = commands.add_parser(
        "check", help="check array shapes statically: mypy with typedgpt's shape plugin"
    )
    check.add_argument("paths", nargs="+", help="Python files or folders to check")
    check.add_argument("--strict", action="store_true", help="also run mypy's --strict checks")
    check.set_defaults(run=_check)

    explain = commands.add_parser(
        "explain",
        help="show every layer call of a model as a tree of shapes, computing nothing",
    )
    explain.add_argument(
        "--config",
        required=True,
        choices=list(EXPLAIN_CONFIGS),
        help="a GPTConfig preset: " + ", ".join(EXPLAIN_CONFIGS),
    )
    explain.add_argument(
        "--seq", type=int, default=None, help="tokens in the sequence (default max_seq_len)"
    )
    explain.set_defaults(run=_explain)
    return parser


def _stop_on_interrupt(command: str) -> None:
    """Make Ctrl-C end the command at once, with status 130 and one line on stderr.

    Once JAX runs, a KeyboardInterrupt cannot be relied on: raised in the callback that
    streams a sample's tokens it reaches the caller as an XlaRuntimeError, raised in JAX's
    garbage-collection callback it is ignored, and an interpreter that exits while a
    computation runs can crash. Training keeps it: `train` catches it to save a checkpoint.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a signal handler

    def stop(signum: int, frame: FrameType | None) -> None:
        try:
            sys.stdout.flush()
        except (OSError, ValueError, RuntimeError):  # a closed pipe, or a write under way
            pass
        os.write(sys.stderr.fileno(), f"typedgpt {command}: interrupted\n".encode())
        os._exit(130)

    signal.signal(signal.SIGINT, stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `typedgpt` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler = signal.getsignal(signal.SIGINT)
    try:
        if hasattr(args, "size_defaults"):
            _resolve_sizes(args)
        if args.command in ("sample", "explain"):
            _stop_on_interrupt(args.command)
        code: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader closed the pipe (`typedgpt explain | head`): stop quietly, as Unix
        # tools do, with stdout pointed at nothing so the exit's own flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (ValueError, TypeError, OSError, RuntimeError, ImportError) as error:
        message = _reworded(str(error), COMMAND_OPTIONS.get(args.command, {}))
        print(f"typedgpt {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"typedgpt {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if handler is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, handler)  # as it was, for a caller of main
    return code


if __name__ == "__main__":
    sys.exit(main())
