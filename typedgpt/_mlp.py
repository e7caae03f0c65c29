"""`MLP`: the position-wise feed-forward network of a transformer block."""

import math
from typing import Any, Generic

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray
from typing_extensions import TypeVar

from ._config import Activation
from ._linear import Linear
from ._typed import TypedModule

# The dims `embed` and `mlp` (the hidden width) as type parameters, for static checking (see
# `Linear`): mypy with typedgpt.mypy_plugin reads `MLP[Literal["embed"], Literal["mlp"]]` as
# an MLP whose projections map embed to mlp and back.
Embed = TypeVar("Embed", default=Any)
Mlp = TypeVar("Mlp", default=Any)


class MLP(TypedModule, Generic[Embed, Mlp]):
    """`y = W_down act(W_up x + b_up) + b_down` at each position.

    `act` is ReLU (microgpt) or GELU with GPT-2's tanh approximation,
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.

    **Arguments:** `embed_dim`; `mlp_dim`, the hidden width; `activation`; `use_bias`;
    `init_std`; `key`.
    """

    up_proj: Linear[Embed, Mlp]
    down_proj: Linear[Mlp, Embed]
    activation: Activation = eqx.field(static=True)

    def __init__(
        self,
        embed_dim: int,
        mlp_dim: int,
        *,
        activation: Activation = "gelu_tanh",
        use_bias: bool = True,
        init_std: float = 0.02,
        key: PRNGKeyArray,
    ) -> None:
        if activation not in ("relu", "gelu_tanh"):
            raise ValueError(f'activation must be "relu" or "gelu_tanh", got {activation!r}')
        up_key, down_key = jax.random.split(key)
        self.up_proj = Linear(embed_dim, mlp_dim, use_bias=use_bias, init_std=init_std, key=up_key)
        self.down_proj = Linear(
            mlp_dim, embed_dim, use_bias=use_bias, init_std=init_std, key=down_key
        )
        self.activation = activation

    def __call__(self, x: Float[Array, "seq embed"]) -> Float[Array, "seq embed"]:
        """**Arguments:** `x`, one sequence. **Returns:** the same shape."""
        hidden: Float[Array, "seq mlp"] = jax.vmap(self.up_proj)(x)
        if self.activation == "relu":
            hidden = jax.nn.relu(hidden)
        else:
            hidden = gelu_tanh(hidden)
        return jax.vmap(self.down_proj)(hidden)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@jax.custom_jvp
def gelu_tanh(x: Float[Array, "..."]) -> Float[Array, "..."]:
    """GPT-2's GELU, `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))` (`jax.nn.gelu` with
    `approximate=True`), with its derivative written out.

    Autodiff of the formula keeps several of its intermediate arrays for the backward pass;
    inside the scan over layers each is a `layers batch seq mlp` array. The derivative

    `0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)`, `t` the tanh above,

    made in the forward pass, is the only one kept.
    """
    return jax.nn.gelu(x, approximate=True)


@gelu_tanh.defjvp
def _gelu_tanh_jvp(
    primals: tuple[Float[Array, "..."]], tangents: tuple[Float[Array, "..."]]
) -> tuple[Float[Array, "..."], Float[Array, "..."]]:
    (x,), (dx,) = primals, tangents
    # The tanh is made once for the value and the slope; `x * cdf` is `jax.nn.gelu`'s own
    # last step, so the value is the same to the bit.
    tanh = jnp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3))
    cdf = 0.5 * (1.0 + tanh)
    slope = cdf + 0.5 * x * (1.0 - tanh * tanh) * _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
    return x * cdf, slope * dx
