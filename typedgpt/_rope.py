"""`Rotary`: rotary position embeddings (RoPE), which rotate queries and keys by position."""

import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from ._text import is_real
from ._typed import TypedModule


class Rotary(TypedModule):
    """Rotary position embeddings (Su et al., RoFormer): rotate pairs of features by angles
    proportional to the position.

    Feature `i` of the first half of a head is paired with feature `i + head_dim / 2` (the
    layout of GPT-NeoX and Hugging Face LLaMA), and the pair is rotated by the angle
    `p * theta_i` at position `p`, with `theta_i = base^(-2 i / head_dim)`:

    `y_i = x_i cos(p theta_i) - x_(i + d/2) sin(p theta_i)`,
    `y_(i + d/2) = x_(i + d/2) cos(p theta_i) + x_i sin(p theta_i)`.

    A rotation preserves lengths, and the dot product of a query rotated at position `m` with
    a key rotated at position `n` depends on `m - n` only: attention sees relative positions.
    The layer has no parameters and works for any even `head_dim`; computed in float32 at
    least and cast back to the input's dtype.

    **Arguments:** `base`, the wavelength scale (10000 in RoFormer and LLaMA); one that is
    not a positive finite number (a NumPy number is one) raises `ValueError`.
    """

    base: float = eqx.field(static=True)

    def __init__(self, base: float = 10000.0) -> None:
        if not (is_real(base) and 0 < base < math.inf):
            raise ValueError(f"Rotary base must be a positive finite number, got {base!r}")
        self.base = float(base)

    def __call__(
        self, x: Float[Array, "seq heads head_dim"], positions: Int[Array, " seq"]
    ) -> Float[Array, "seq heads head_dim"]:
        """**Arguments:** `x`, queries or keys of one sequence; `positions`, the position of
        each row (`cache.position + arange(seq)` when decoding with a cache).

        **Returns:** `x` rotated, the same shape and dtype. An odd `head_dim` raises
        `ValueError`.
        """
        head_dim = x.shape[-1]
        if head_dim % 2 != 0:
            raise ValueError(
                f"Rotary rotates pairs of features, so head_dim must be even, got "
                f"head_dim={head_dim}: choose an even head_dim"
            )
        half = head_dim // 2
        wide = x.astype(jnp.float64 if x.dtype == jnp.float64 else jnp.float32)
        exponents = jnp.arange(half, dtype=wide.dtype) * (2.0 / head_dim)
        inverse_frequencies = jnp.asarray(self.base, wide.dtype) ** -exponents
        angles = positions.astype(wide.dtype)[:, None] * inverse_frequencies[None, :]
        cos, sin = jnp.cos(angles)[:, None, :], jnp.sin(angles)[:, None, :]
        first, second = wide[..., :half], wide[..., half:]
        rotated = jnp.concatenate([first * cos - second * sin, second * cos + first * sin], -1)
        return rotated.astype(x.dtype)
