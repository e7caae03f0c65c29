"""The argparse types of the `typedgpt` command's options: each turns the text typed into
its value, or raises `argparse.ArgumentTypeError`, whose message argparse prints after the
option's name."""

import argparse

# The largest seed: jax.random.key keeps only an int's low 32 bits (without jax_enable_x64),
# so a larger seed would silently give another seed's key.
MAX_SEED = 2**32 - 1


def _positive_int(text: str) -> int:
    """An argparse type: an int of at least 1 (argparse names the option in its error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _finite(text: str, *, zero: bool) -> float:
    """A finite number above 0, or of at least 0 where `zero` (argparse names the option)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (0 <= value if zero else 0 < value) or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be a finite number {'>=' if zero else '>'} 0, got {value}"
        )
    return value


def _grad_clip(text: str) -> float | None:
    """An argparse type: a finite number above 0, or `none` for no clipping."""
    if text.strip().lower() == "none":
        return None
    try:
        return _finite(text, zero=False)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error}, or none for no clipping") from None


def _non_negative_float(text: str) -> float:
    """An argparse type: a finite number of at least 0."""
    return _finite(text, zero=True)


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
