"""`typedgpt demo`: train on the built-in corpus, sample, and show a shape error."""

import argparse
import shutil
import time
from pathlib import Path

from ._cli_sample import _max_new_tokens, _print_samples, _prompt_ids
from ._cli_train import _check_out, _model_config, _train, _train_config

DEMO_DIR = Path("runs/demo")
# Marks a folder as the demo's own output: only such a folder does a new demo clear.
DEMO_MARKER = "typedgpt-demo.txt"


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
    from ._checkpoint import CHECKPOINT_FILES
    from ._metrics import METRICS_FILE, PLOT_FILE

    return {*CHECKPOINT_FILES, METRICS_FILE, PLOT_FILE, DEMO_MARKER}


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

    from ._generate_checks import check_options
    from ._memory import check_memory

    args.data, args.mode, args.tokenizer = None, "stream", "char"
    args.val_fraction, args.resume = 0.05, False
    out = Path(args.out)
    _check_out(out)
    # The model, the prompt, the sampling options and the training settings are checked
    # before the folder is cleared and training starts, not minutes later.
    tokenizer = tg.CharTokenizer.from_text(tg.builtin_corpus(), mode=args.mode)
    config = _model_config(args, tokenizer.vocab_size)
    try:
        _prompt_ids(tokenizer, args.prompt, config.max_seq_len)
    except ValueError as error:  # the demo has no --tokenizer to choose the byte-level one
        fix = "the training text, or the byte-level tokenizer (ByteTokenizer)"
        raise ValueError(
            str(error).replace(fix, "the built-in corpus the demo trains on")
        ) from None
    options = (_max_new_tokens(args), args.temperature, args.top_k, args.top_p)
    check_options(*options, None, jax.random.key(args.seed), None, tokenizer.vocab_size)
    check_memory(config, _train_config(args))
    _prepare_demo_folder(out)
    started = time.perf_counter()
    code = _train(args)
    if code != 0:
        return code
    print(
        f"Trained in {time.perf_counter() - started:.0f} s. Samples at temperature "
        f"{args.temperature}:"
    )
    _print_samples(out, args)
    print("\nEvery layer is typed. A shape error, caught at the call that made it:")
    _show_shape_error()
    return 0
