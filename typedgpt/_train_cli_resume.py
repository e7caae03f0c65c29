"""`typedgpt train --resume`: what the run in `--out` fixes (its model, tokenizer, data mode
and training data), read from its checkpoint, and the refusal, in the command line's words,
of options and data that would not continue it."""

import argparse
import os
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


def read_run(args: argparse.Namespace, out: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The tokenizer, model config and `train_state.json` of the run in `out` that
    `--resume` continues, once its mode and model options are checked against `args`.

    The checkpoint is read here for its settings and dropped on return: `tg.train` reads it
    again, and its parameters and optimizer state must not stay alive beside the run's.
    """
    import typedgpt as tg

    try:
        checkpoint = tg.load_checkpoint(out)
    except tg.CheckpointError as error:
        problem = about_folder(out, error, "the folder")
        fix = "" if out.exists() else ", or leave out --resume to start a new run there"
        raise tg.CheckpointError(f"--resume found no run in --out {out}: {problem}{fix}") from None
    if checkpoint.tokenizer_json is None:
        raise ValueError(f"{out} has no tokenizer.json to resume with")
    state = checkpoint.train_state or {}
    data = state.get("train_data")
    recorded = data.get("mode") if isinstance(data, dict) else None
    # Data of the other mode would fail to encode, or to match the run's, less clearly.
    if recorded in ("lines", "stream") and recorded != args.mode:
        raise ValueError(
            f"--mode {args.mode}, but the run in {out} was trained with --mode {recorded}: "
            f"resume with --mode {recorded}"
        )
    tokenizer: tg.Tokenizer = tg.tokenizer_from_json(checkpoint.tokenizer_json)
    _check_run_options(args, checkpoint.model.config, tokenizer, out)
    return tokenizer, checkpoint.model.config, state


def data_source(args: argparse.Namespace) -> str:
    """The data that `args` trains on, in words."""
    return "the built-in corpus (no --data given)" if args.data is None else f"--data {args.data}"


def encode_for_run(text: str, tokenizer: Any, args: argparse.Namespace, out: Path) -> Any:
    """`text` as a `TextDataset` of the run's `tokenizer`. A character it lacks means other
    data than the run's (its characters were the run's data's): the fix is that data, never
    another tokenizer, which the run fixes."""
    import typedgpt as tg

    from ._tokenizer import _FIX_UNSEEN

    try:
        return tg.TextDataset.from_text(text, tokenizer, mode=args.mode)
    except ValueError as error:
        message = str(error)
        if "is not one of the tokenizer's" not in message:
            raise
        problem = message.split(f": {_FIX_UNSEEN}")[0]
    raise ValueError(
        f"{data_source(args)} does not fit the run in {out}: {problem}; the run's tokenizer "
        "holds the characters of the data it was trained on: resume with that data (its "
        "--data), or train a new run in another --out"
    ) from None


def check_same_data(train: Any, state: dict[str, Any], args: argparse.Namespace, out: Path) -> None:
    """Refuse training data other than the run's, before any work: a `--data`, or a
    `--val-fraction`, that is not the run's (a `--seed` that is not is named by `tg.train`,
    with the data)."""
    from ._resume import fingerprint

    recorded = state.get("train_data")
    given = fingerprint(train)
    settings = state.get("train_config")
    seed = settings.get("seed") if isinstance(settings, dict) else None
    if not isinstance(recorded, dict) or recorded == given or seed not in (None, args.seed):
        return
    raise ValueError(
        f"{data_source(args)} with --val-fraction {args.val_fraction} gives other training "
        f"data ({_described(given)}) than the run in {out} was trained on "
        f"({_described(recorded)}): resume with the run's --data and --val-fraction, or train "
        "a new run in another --out"
    )


def _described(data: dict[str, Any]) -> str:
    """The sizes of a fingerprint of training data, in words."""
    if data.get("mode") == "stream":
        return f"a stream of {data.get('tokens')} tokens"
    return f"{data.get('documents')} lines, {data.get('tokens')} tokens with BOS"


def about_folder(folder: Path, error: Exception, subject: str) -> str:
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
