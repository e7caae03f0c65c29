"""`typedgpt train`: a new run, or `--resume` of one, from the command line's options."""

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from ._train_cli_resume import check_same_data, encode_for_run, read_run


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
        # The default is capped at a short run's steps; a value typed is taken as it is.
        warmup_steps=args.warmup
        if "warmup" in getattr(args, "given", ())
        else min(args.warmup, args.steps),
        eval_every=args.eval_every,
        checkpoint_every=args.checkpoint_every,
        steps_per_call=args.steps_per_call,
        grad_clip=args.grad_clip,
        weight_decay=args.weight_decay,
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
    from ._resume import saved_shapes

    out = Path(args.out)
    _check_out(out)
    if args.resume:
        tokenizer, train, val, config = _resumed(args, out)
    else:
        tokenizer, train, val = _dataset(args)
        config = _model_config(args, tokenizer.vocab_size)
    _check_val_rows(train, val, config.max_seq_len, args)
    _check_train_rows(train, config.max_seq_len, args)
    _check_eval_options(val, args)
    train_config = _train_config(args)
    # Before the notes on the data (`train` checks too), in the dtype a resumed run has.
    check_memory(config, train_config, init=saved_shapes(out, config) if args.resume else None)
    source = "the built-in corpus" if args.data is None else args.data
    # Flushed: a piped stdout would hold it back until the run ends, after the notes and
    # progress bar on stderr.
    print(
        f"Training on {source}: {train.num_tokens:,} tokens, vocab {tokenizer.vocab_size}.",
        flush=True,
    )
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
    # The loss's baseline: the entropy of what it predicts, every id but a document's first
    # (a lines-mode document's opening BOS is never a target).
    targets = np.concatenate([doc[1:] for doc in train.documents])
    counts = np.bincount(targets, minlength=tokenizer.vocab_size)
    probs = counts[counts > 0] / counts.sum()
    print(f"Unigram entropy of the training tokens: {-np.sum(probs * np.log(probs)):.3f} nats.")
    print(
        f"Step {result.step}: loss {result.losses[-1]:.3f}{last}, "
        f"{result.tokens_per_second:,.0f} tokens/s. Checkpoint and loss.png in {out}."
    )
    return 0


def _resumed(args: argparse.Namespace, out: Path) -> tuple[Any, Any, Any, Any]:
    """The tokenizer, data and model config of the run in `out` that `--resume` continues."""
    tokenizer, config, state = read_run(args, out)
    dataset = encode_for_run(_text(args), tokenizer, args, out)
    train, val = _split(dataset, args)
    check_same_data(train, state, args, out)
    return tokenizer, train, val, config


def _check_val_rows(train: Any, val: Any, seq_len: int, args: argparse.Namespace) -> None:
    """Refuse a validation stream shorter than a batch row, naming the `--val-fraction` that
    makes one (`tg.train` would name only the context, which a resumed run cannot change)."""
    if val is None or val.mode != "stream" or val.num_tokens > seq_len:
        return
    row, total = seq_len + 1, train.num_tokens + val.num_tokens
    fixes = ["pass --val-fraction 0 to train without validation", "use more text"]
    if not args.resume:  # the run fixes its context, and microgpt its sizes
        small = args.preset == "microgpt"
        fixes.insert(0, "use --preset small with a lower --seq-len" if small else "lower --seq-len")
    fraction = math.ceil(row / total * 1000) / 1000  # keeps `row` tokens: round() of more
    if fraction < 1 and total - round(fraction * total) >= row:  # and leaves a training row
        fixes.insert(0, f"raise --val-fraction to {fraction}")
    raise ValueError(
        f"--val-fraction {args.val_fraction} keeps the last {val.num_tokens} tokens of the "
        f"stream for validation, but a batch row needs --seq-len + 1 = {row}: "
        f"{', '.join(fixes[:-1])}, or {fixes[-1]}"
    )


def _check_train_rows(train: Any, seq_len: int, args: argparse.Namespace) -> None:
    """Refuse a training stream shorter than a batch row with fixes the command takes
    (`tg.train` would say to set --seq-len, which --preset microgpt refuses)."""
    if train.mode != "stream" or train.num_tokens > seq_len:
        return
    size = train.num_tokens
    fixes = ["use more text"]
    if args.val_fraction > 0:
        fixes.insert(0, "lower --val-fraction")
    if size > 1 and not args.resume:  # a resumed run keeps its context
        small = args.preset == "microgpt"
        fix = "use --preset small with --seq-len" if small else "set --seq-len to"
        fixes.insert(0, f"{fix} at most {size - 1}")
    raise ValueError(
        f"the training part of the data is a stream of {size} tokens but a batch row needs "
        f"--seq-len + 1 = {seq_len + 1}: {', '.join(fixes[:-1])}{', or ' if fixes[1:] else ''}"
        f"{fixes[-1]}"
    )


def _check_eval_options(val: Any, args: argparse.Namespace) -> None:
    """Refuse `--eval-every` or `--eval-batches` when there is no validation data to use
    them on (`--val-fraction 0`), rather than ignore them."""
    given = [
        f"{option} {getattr(args, name)}"
        for name, option in (("eval_every", "--eval-every"), ("eval_batches", "--eval-batches"))
        if name in getattr(args, "given", ())
    ]
    if val is None and given:
        raise ValueError(
            f"{' and '.join(given)} set how the validation loss is measured, but "
            "--val-fraction 0 keeps no validation data: pass a --val-fraction above 0, or "
            f"leave out {' and '.join(option.split()[0] for option in given)}"
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
