"""The options of the `typedgpt` command: their tables, their argparse types and groups, and
the rewording of the Python API's errors into their terms."""

import argparse
import re
from collections.abc import Sequence
from typing import Any

from ._cli_types import _grad_clip, _non_negative_float, _positive_int, _seed

# New tokens per sample when --max-new-tokens is not given; the model's context caps it quietly.
DEFAULT_NEW_TOKENS = 200
# The model sizes: each field of the parsed arguments and the option that sets it.
SIZE_OPTIONS = {
    "layers": "--layers",
    "embed": "--embed",
    "heads": "--heads",
    "seq_len": "--seq-len",
}

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
    "weight_decay": "--weight-decay",
    "eval_batches": "--eval-batches",
    "seed": "--seed",
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
    "build the tokenizer with mode='stream'": "train with --mode stream",
    "set --grad-clip (it is None)": "set --grad-clip (it is none, no clipping)",
}
# Sizes that no option sets, by name: in words on the command line.
COMMAND_WORDS = {
    r"\bvocab_size=(\d+)": r"the vocabulary size (\1)",
    r"\bhead_dim = ": "the head width ",
}


def _reworded(message: str, options: dict[str, str]) -> str:
    """`message`, an error of the Python API, in the words of the command line: each Python
    name of `options` (bare, as `TrainConfig.name` or `GPTConfig.name`, or as `name=value`)
    becomes its option (`--option value`), each fix of `COMMAND_FIXES` its own words, and
    each size of `COMMAND_WORDS` its name in words."""
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
    for pattern, words in COMMAND_WORDS.items():
        message = re.sub(pattern, words, message)
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


def _add_train_options(
    command: argparse.ArgumentParser, *, steps: int, samples: bool = False
) -> None:
    parser = command.add_argument_group("training")
    parser.add_argument("--steps", type=int, default=steps, help=f"total steps (default {steps})")
    parser.add_argument(
        "--batch-size", type=int, default=32, help="sequences per step (default %(default)s)"
    )
    parser.add_argument(
        "--lr", type=float, default=3e-3, help="peak learning rate (default %(default)s)"
    )
    parser.add_argument(
        "--warmup",
        action=_Given,
        type=int,
        default=50,
        help="warmup steps, at most --steps (default %(default)s, capped at --steps)",
    )
    parser.add_argument(
        "--grad-clip",
        type=_grad_clip,
        default=1.0,
        help="clip gradients to this global norm, or none (default %(default)s)",
    )
    parser.add_argument(
        "--weight-decay",
        type=_non_negative_float,
        default=0.0,
        help="AdamW's decoupled weight decay, on every parameter (default %(default)s)",
    )
    parser.add_argument(
        "--eval-every",
        action=_Given,
        type=int,
        default=100,
        help="steps between val losses (default %(default)s)",
    )
    parser.add_argument(
        "--eval-batches",
        action=_Given,
        type=_positive_int,
        default=8,
        help="validation batches per val loss (default %(default)s)",
    )

    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=250,
        help="steps between saves (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help=f"seed for init{', data and sampling' if samples else ' and data'} (default 0)",
    )
    parser.add_argument(
        "--steps-per-call", type=int, default=10, help="steps per compiled call (default 10)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


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
    parser.add_argument(
        "--top-k", type=int, default=None, help="keep the k likeliest tokens (default: all)"
    )
    parser.add_argument(
        "--top-p", type=float, default=None, help="nucleus sampling mass (default: 1, all)"
    )
    return parser
