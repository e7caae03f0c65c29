"""`KVCache`: the keys and values of past positions, preallocated at a fixed size.

The Futhark port of microgpt's design: instead of lists that grow by a token per step, the
cache holds `kv_seq` slots for every layer from the start, new keys and values are written
at `position` with `dynamic_update_slice`, and attention masks the slots not yet written.
Shapes never change while decoding, so nothing recompiles per token. Modules are immutable:
writing returns a new cache.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, DTypeLike, Float, Int

from ._dtype import compute_dtype
from ._text import is_int
from ._typed import TypedModule

_INT32 = np.iinfo(np.int32)


def _int32_position(position: Any) -> Any:
    """An int, a NumPy array, or an array of another integer dtype, as an int32 JAX array,
    the type every cache holds (an int32 NumPy array was kept as it was): attention adds the
    position to int32 indices and writes at it with `dynamic_update_slice`, which take no other
    integer dtype (uint32 or int16 would fail there, with JAX's own errors). A concrete
    value that int32 cannot hold is refused here: NumPy would wrap it around."""
    if is_int(position):
        _check_int32(int(position), int(position))
        return jnp.asarray(int(position), jnp.int32)
    dtype = getattr(position, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.integer):
        return position  # not an integer: refused by __check_init__, which names it
    if isinstance(position, jax.Array) and dtype == jnp.int32:
        return position
    if not isinstance(position, jax.core.Tracer):
        values = np.asarray(position)
        if values.size:
            shown = values.item() if values.ndim == 0 else values.tolist()
            _check_int32(int(values.min()), shown)
            _check_int32(int(values.max()), shown)
    return jnp.asarray(position).astype(jnp.int32)


def _check_int32(value: int, shown: object) -> None:
    if not _INT32.min <= value <= _INT32.max:
        raise ValueError(
            f"the KVCache's position must fit in int32, got {shown}: pass the number of "
            "positions the cache holds, at most its slots, or start from GPT.init_cache()"
        )


class KVCache(TypedModule):
    """Keys and values for `kv_seq` positions, and the next position to write.

    **Fields:**

    - `keys`, `values`: `(layers, kv_seq, kv_heads, head_dim)` in the model's cache; a
      single attention layer sees its own slice, without the `layers` axis (hence
      `*layers`). With grouped-query attention there are fewer key/value heads than query
      heads, and the cache holds only those.
    - `position`: a scalar int32, how many positions hold keys and values.

    Build one with `GPT.init_cache` (or `KVCache.empty`). An int `position` (a NumPy integer
    too) is made an int32 scalar, and a NumPy array or an array of another integer dtype
    (uint32, int64) an int32 JAX array; one that is not an integer raises `TypeError`, and
    one that int32 cannot hold `ValueError`.
    """

    keys: Float[Array, "*layers kv_seq kv_heads head_dim"]
    values: Float[Array, "*layers kv_seq kv_heads head_dim"]
    # An int becomes the int32 scalar that the attention layers' checks expect.
    position: Int[Array, ""] = eqx.field(converter=_int32_position)

    def __check_init__(self) -> None:
        # Checked here, where the cache is made: a float position would fail only later, in
        # the position lookup of a decoding step, with a message that names no cache.
        position = self.position
        dtype = getattr(position, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.integer):
            kind = dtype if dtype is not None else type(position).__qualname__
            raise TypeError(
                f"the KVCache's position must be an integer, got {kind}: pass "
                "jnp.int32(n), or start from GPT.init_cache()"
            )

    @classmethod
    def empty(
        cls,
        *,
        num_layers: int,
        max_seq_len: int,
        num_kv_heads: int,
        head_dim: int,
        dtype: DTypeLike = jnp.float32,
    ) -> "KVCache":
        """An all-zero cache at position 0, with keys and values of shape
        `(num_layers, max_seq_len, num_kv_heads, head_dim)`: `max_seq_len` is the number of
        slots (`kv_seq`). `GPT.init_cache` fills these in from a model's config.

        Each size must be a positive int (a NumPy integer is one), and `dtype` float32,
        bfloat16 or float16 (float64 with JAX's 64-bit mode); anything else raises
        `ValueError`.
        """
        sizes = {
            "num_layers": num_layers,
            "max_seq_len": max_seq_len,
            "num_kv_heads": num_kv_heads,
            "head_dim": head_dim,
        }
        for name, size in sizes.items():
            if not is_int(size) or size < 1:
                raise ValueError(
                    f"{name} must be a positive int, got {size!r}: pass a size of at least 1, or "
                    "make the cache with GPT.init_cache(), which takes them from the model"
                )
        if dtype is None:  # NumPy would read it as float64
            raise ValueError(
                "dtype=None is not a dtype: pass the model's dtype, such as jnp.float32 (the "
                "default) or jnp.bfloat16, or make the cache with GPT.init_cache(), which "
                "takes it from the model"
            )
        dtype = compute_dtype(
            dtype,
            argument="dtype",
            fix="pass the model's dtype, such as jnp.float32 (the default) or jnp.bfloat16",
        )
        shape = tuple(int(size) for size in sizes.values())
        return cls(
            keys=jnp.zeros(shape, dtype),
            values=jnp.zeros(shape, dtype),
            position=jnp.zeros((), jnp.int32),
        )
