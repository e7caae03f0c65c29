"""The `typedgpt` command: `train`, `sample`, `demo`, `check` and `explain`."""

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence

# Each command lives in a module of its own; the names that tests reach through
# `typedgpt.cli` are re-exported here.
from ._cli_demo import DEMO_DIR, _demo
from ._cli_demo import DEMO_MARKER as DEMO_MARKER
from ._cli_demo import _demo_files as _demo_files
from ._cli_demo import _prepare_demo_folder as _prepare_demo_folder
from ._cli_options import COMMAND_OPTIONS as COMMAND_OPTIONS
from ._cli_options import DEFAULT_NEW_TOKENS as DEFAULT_NEW_TOKENS
from ._cli_options import _add_model_options, _add_sample_options, _add_train_options, _Given
from ._cli_options import _resolve_sizes as _resolve_sizes
from ._cli_options import _reworded as _reworded
from ._cli_sample import _sample, _stop_on_interrupt
from ._cli_sample import _TextStream as _TextStream
from ._cli_shapes import EXPLAIN_CONFIGS, _check, _explain
from ._cli_shapes import _editable_checkout as _editable_checkout
from ._cli_train import _train
from ._cli_train import _train_config as _train_config
from ._cli_types import MAX_SEED as MAX_SEED
from ._cli_types import _seed


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
        help="share of the lines (--mode lines) or tokens (stream) held out for validation; "
        "0 holds out none (default %(default)s)",
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
    _add_train_options(demo, steps=800, samples=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `typedgpt` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler = signal.getsignal(signal.SIGINT)
    try:
        if hasattr(args, "size_defaults"):
            _resolve_sizes(args)
        if args.command != "check":  # mypy's own Ctrl-C is fine; `train` sets its own
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
