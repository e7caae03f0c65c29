"""The shared check of the bad-input tables in the layer tests."""

from collections.abc import Callable

import pytest
from jaxtyping import TypeCheckError


def assert_shape_error(call: Callable[[], object], fragments: list[str]) -> str:
    """`call()` raises a `TypeCheckError` whose message holds every fragment and no
    internal type names; returns the message."""
    with pytest.raises(TypeCheckError) as excinfo:
        call()
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert "jaxlib" not in message
    return message
