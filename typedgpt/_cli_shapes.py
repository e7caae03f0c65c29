"""The commands about shapes: `typedgpt check` (mypy with the shape plugin) and `typedgpt
explain` (every layer call of a model, computing nothing)."""

import argparse
import sys
from pathlib import Path


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

    from ._memory import abstract_model, count_parameters

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
        f"(shapes only, never allocated); {seq} token{'' if seq == 1 else 's'}"
    )
    print(tg.explain(model, tokens))
    return 0
