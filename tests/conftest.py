"""Strict JAX settings for every test, and a PRNG key fixture."""

from collections.abc import Iterator

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")  # type: ignore[no-untyped-call]
jax.config.update("jax_numpy_dtype_promotion", "strict")  # type: ignore[no-untyped-call]


@pytest.fixture
def key() -> jax.Array:
    """A fresh, fixed PRNG key."""
    return jax.random.key(0)


@pytest.fixture
def checks_off() -> Iterator[None]:
    """Run a test with call-time shape checks switched off, restoring them afterwards."""
    import typedgpt as tg

    previous = tg.set_checks(False)
    try:
        yield
    finally:
        tg.set_checks(previous)
