"""`typedgpt train`: a new run, or `--resume` of one, from the command line's options."""

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ._cli_options import SIZE_OPTIONS

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
    return (tokenizer, *_split(dataset, args))


def _split(dataset: Any, args: argparse.Namespace) -> tuple[Any, Any]:
    """The training and validation parts of `dataset`; `--val-fraction 0` keeps no
    validation part."""
    if args.val_fraction == 0:
        return dataset, None
    try:
        train, val = dataset.split(args.val_fraction, seed=args.seed)
    except ValueError as error:
        if "leaves no" not in str(error):
            raise
        raise ValueError(f"{error}, or --val-fraction 0 to train without validation") from None
    return train, val


def _train(args: argparse.Namespace) -> int:
    import numpy as np

    import typedgpt as tg

    from ._memory import check_memory

    out = Path(args.out)
    _check_out(out)
    if args.resume:
        tokenizer, train, val, config = _resumed(args, out)
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


def _resumed(args: argparse.Namespace, out: Path) -> tuple[Any, Any, Any, Any]:
    """The tokenizer, data and model config of the run in `out` that `--resume` continues.

    The checkpoint is read here for its settings and dropped on return: `tg.train` reads it
    again, and its parameters and optimizer state must not stay alive beside the run's.
    """
    import typedgpt as tg

    try:
        checkpoint = tg.load_checkpoint(out)
    except tg.CheckpointError as error:
        problem = _about_folder(out, error, "the folder")
        fix = "" if out.exists() else ", or leave out --resume to start a new run there"
        raise tg.CheckpointError(f"--resume found no run in --out {out}: {problem}{fix}") from None
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
    return (tokenizer, *_split(dataset, args), checkpoint.model.config)


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
