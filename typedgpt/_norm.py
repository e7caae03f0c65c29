"""Normalisations of one vector: `RMSNorm` (microgpt, LLaMA) and `LayerNorm` (GPT-2)."""

from typing import Any, Generic

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float
from typing_extensions import TypeVar

from ._config import check_flag, check_number, check_size
from ._typed import TypedModule

# The normalised dim as a type parameter, for static checking (see `Linear`): mypy with
# typedgpt.mypy_plugin reads `RMSNorm[Literal["embed"]]` as a norm of embed vectors.
Embed = TypeVar("Embed", default=Any)


def _widen(x: Float[Array, " embed"]) -> Float[Array, " embed"]:
    return x.astype(jnp.float64 if x.dtype == jnp.float64 else jnp.float32)


class RMSNorm(TypedModule, Generic[Embed]):
    """`y = x / sqrt(mean(x^2) + eps)`, times a learned gain `g` when there is one.

    microgpt's rmsnorm has no gain (`use_weight=False`). Computed in float32 at least and
    cast back to the input's dtype.

    **Arguments:** `embed_dim`, the size of `x`; `eps`, added to the mean square (a finite
    number >= 0; with 0 a zero `x` gives NaN); `use_weight`, whether there is a learned gain
    `g` (initialised to ones; `weight` is `None` without). Others raise `ValueError`.
    Without a gain nothing holds `embed_dim`, so `x` of any size is normalised: its size is
    checked against the layers around it, as in a `Block`.
    """

    weight: Float[Array, " embed"] | None
    eps: float = eqx.field(static=True)

    def __init__(self, embed_dim: int, *, eps: float = 1e-5, use_weight: bool = True) -> None:
        embed_dim = check_size(embed_dim, "embed_dim", "RMSNorm")
        self.eps = check_number(eps, "eps", "RMSNorm")
        use_weight = check_flag(use_weight, "use_weight", "RMSNorm")
        self.weight = jnp.ones((embed_dim,)) if use_weight else None

    def __call__(self, x: Float[Array, " embed"]) -> Float[Array, " embed"]:
        """**Arguments:** `x`, a vector of size `embed`. **Returns:** the same shape."""
        wide = _widen(x)
        y = wide * jax.lax.rsqrt(jnp.mean(wide * wide) + self.eps)
        if self.weight is not None:
            y = y * self.weight.astype(y.dtype)
        return y.astype(x.dtype)


class LayerNorm(TypedModule, Generic[Embed]):
    """`y = (x - mean(x)) / sqrt(var(x) + eps) * g + b`, GPT-2's normalisation.

    Computed in float32 at least and cast back to the input's dtype.

    **Arguments:** `embed_dim`, the size of `x`; `eps`, added to the variance (a finite
    number >= 0; others raise `ValueError`); `use_weight`
    and `use_bias`, whether there is a learned gain `g` (initialised to ones) and shift `b`
    (zeros); without one, `weight` or `bias` is `None` and that term is left out. Without
    both, nothing holds `embed_dim`, and `x` of any size is normalised.
    """

    weight: Float[Array, " embed"] | None
    bias: Float[Array, " embed"] | None
    eps: float = eqx.field(static=True)

    def __init__(
        self, embed_dim: int, *, eps: float = 1e-5, use_weight: bool = True, use_bias: bool = True
    ) -> None:
        embed_dim = check_size(embed_dim, "embed_dim", "LayerNorm")
        self.eps = check_number(eps, "eps", "LayerNorm")
        use_weight = check_flag(use_weight, "use_weight", "LayerNorm")
        use_bias = check_flag(use_bias, "use_bias", "LayerNorm")
        self.weight = jnp.ones((embed_dim,)) if use_weight else None
        self.bias = jnp.zeros((embed_dim,)) if use_bias else None

    def __call__(self, x: Float[Array, " embed"]) -> Float[Array, " embed"]:
        """**Arguments:** `x`, a vector of size `embed`. **Returns:** the same shape."""
        wide = _widen(x)
        centred = wide - jnp.mean(wide)
        y = centred * jax.lax.rsqrt(jnp.mean(centred * centred) + self.eps)
        if self.weight is not None:
            y = y * self.weight.astype(y.dtype)
        if self.bias is not None:
            y = y + self.bias.astype(y.dtype)
        return y.astype(x.dtype)
