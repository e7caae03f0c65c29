"""Streaming: the host side of `generate`'s `on_token`.

One compiled program serves every callback: `generate` registers the caller's `on_token` under
an id that travels into the program as an int32, and each step's `jax.debug.callback` looks
it up by that id, so passing a new callable does not compile again. The first exception
`on_token` raises is kept, no later token is reported, and `generate` re-raises it once the
loop ends: any `BaseException`, as `KeyboardInterrupt` and `SystemExit` are, since one that
escaped the callback would reach the caller as JAX's `CpuCallback error`, not as itself.
"""

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from jaxtyping import Array, Int

OnToken = Callable[[Int[np.ndarray, " batch"]], object]


@dataclass
class Stream:
    """A caller's `on_token`, and the first exception it raised."""

    on_token: OnToken
    error: BaseException | None = None


streams: dict[int, Stream] = {}
stream_ids = itertools.count()


def call_on_token(stream_id: Array, tokens: Array) -> None:
    """The host side of `on_token`: one compiled program serves every callback, looked up
    by id, so passing a new callable does not compile again."""
    stream = streams.get(int(stream_id))
    if stream is None or stream.error is not None:
        return
    try:
        stream.on_token(np.array(tokens, np.int32))
    except BaseException as error:  # Ctrl-C in on_token must reach the caller as itself
        stream.error = error
